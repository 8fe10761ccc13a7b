"""End-to-end check of the GPU path on a CUDA machine; skips cleanly (exit 0) without one.

On CUDA it loads a causal LM (default the built-in SmolLM2) in ``--dtype`` (default bfloat16),
explains a chat prompt's answer with the automatic batch size (from the token count and free
memory), checks a few masked outputs against the same model in float32 on the CPU, forces one
out-of-memory back-off (a batch too big is halved, finished batches kept), and prints masks/s.

Run: ``python benchmarks/gpu_smoke.py [--model NAME_OR_FOLDER] [--dtype bfloat16]
[--device-map auto] [--budget 500]``; writes ``benchmarks/results/gpu_smoke.json`` on CUDA.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import add_out_argument, out_path, print_table, write_json

SYSTEM = "You are a concise assistant. Answer in one sentence."
USER = ("A researcher removes two attention heads together and the prediction changes far more "
        "than when either is removed alone. What does this suggest?")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16", "float32"))
    parser.add_argument("--device-map", default=None)
    parser.add_argument("--budget", type=int, default=500)
    add_out_argument(parser, "gpu_smoke")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("gpu_smoke: skipped (PyTorch is not installed)")
        return 0
    if not torch.cuda.is_available():
        print("gpu_smoke: skipped (no CUDA device on this machine)")
        return 0

    from fastspex import explain
    from fastspex.ablate import FeatureAblation, load_model

    placing = {"device_map": args.device_map} if args.device_map else {"device": "cuda"}
    lm = load_model(args.model, dtype=args.dtype, **placing)
    fa = FeatureAblation(USER, lm, system=SYSTEM, max_new_tokens=32)
    print(f"answer: {fa.target!r}; automatic batch size {fa.batch_size} "
          f"({torch.cuda.mem_get_info()[0] / 2**30:.1f} GiB free)")
    masks = np.random.default_rng(0).random((8, fa.n)) < 0.5
    got = fa(masks)

    cpu = load_model(args.model, dtype="float32", device="cpu")
    ref = FeatureAblation(USER, cpu, system=SYSTEM, target=fa.target)(masks)
    err = float(np.max(np.abs(got - ref)))
    tol = 0.05 * float(np.max(np.abs(ref))) + 0.5 if args.dtype != "float32" else 1e-2
    print(f"max |{args.dtype} on CUDA - float32 on CPU| = {err:.4f} (allowed {tol:.3f})")

    real = fa.scorer
    ran: list[int] = []

    class TooBig:  # the first batch above 4 rows runs out of memory once
        failed = False

        def __getattr__(self, name: str):
            return getattr(real, name)

        def __call__(self, lm_, rows, which):
            if len(rows) > 4 and not TooBig.failed:
                TooBig.failed = True
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
            ran.append(len(rows))
            return real(lm_, rows, which)

    fa.scorer, size_before = TooBig(), fa.batch_size
    backed = fa(masks)
    fa.scorer = real
    backoff_ok = TooBig.failed and np.allclose(backed, got, atol=1e-3) and sum(ran) == len(masks)
    print(f"out-of-memory back-off: batch {size_before} -> {fa.batch_size}, "
          f"{'values kept' if backoff_ok else 'FAILED'}")

    t0 = time.perf_counter()
    res = explain(fa, budget=args.budget, store=None, progress=True)
    seconds = time.perf_counter() - t0
    rows = [{"model": args.model, "dtype": args.dtype, "n": fa.n, "batch": fa.batch_size,
             "calls": res.calls, "seconds": seconds, "masks_per_s": res.calls / seconds,
             "r2": res.faithfulness, "max_err_vs_cpu": err}]
    print_table(rows, list(rows[0]))
    for t in res.top(5):
        print(f"  {t.value:+.4f}  {' × '.join(t.names)}")
    path = write_json("gpu_smoke", {"device": torch.cuda.get_device_name(), "answer": fa.target,
                                    "backoff_ok": bool(backoff_ok), "rows": rows},
                      out_path("gpu_smoke", args))
    print(f"wrote {path}")
    return 0 if err <= tol and backoff_ok else 1


if __name__ == "__main__":
    sys.exit(main())
