"""Subprocess body for the store tests: evaluates a design, logging every model call.

Usage: python _store_worker.py STORE LOG SEED M N BATCH SLEEP [KEY]
Each evaluated mask is appended to LOG (as its integer row id) before the batch returns.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from fastspex import masks as M
from fastspex.store import EvalStore
from fastspex.value import Evaluator


def main() -> None:
    store_path, log_path, seed, m, n, batch, sleep = sys.argv[1:8]
    key = sys.argv[8] if len(sys.argv) > 8 else "kill-test"
    n_i = int(n)
    weights = np.arange(1, n_i + 1, dtype=float)

    def fn(masks: np.ndarray) -> np.ndarray:
        time.sleep(float(sleep))
        with open(log_path, "a") as log:
            for row in masks:
                log.write("".join("1" if b else "0" for b in row) + "\n")
            log.flush()
            os.fsync(log.fileno())
        return masks @ weights

    design = M.bernoulli(int(m), n_i, seed=int(seed))
    ev = Evaluator(fn, n_i, batch_size=int(batch), store=EvalStore(store_path), key=key, progress=False)
    ev(design)
    print("done", ev.calls, flush=True)


if __name__ == "__main__":
    main()
