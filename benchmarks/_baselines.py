"""Same-mask baselines the benchmarks set next to an explanation: the masks the explainer paid
for (:class:`Recording`), a main-effects ridge on them and R²."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class Recording:
    """A value function that keeps every mask and output it is asked for (and the seconds spent
    in the wrapped one); other attributes (n, labels, metadata, batch_size) are the wrapped one's."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.masks: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fn, name)

    def __call__(self, m: Any) -> np.ndarray:
        t = time.perf_counter()
        out = np.asarray(self.fn(m), dtype=np.float64)
        self.seconds += time.perf_counter() - t
        self.masks.append(np.asarray(m, dtype=bool))
        self.outputs.append(out)
        return out


def ridge_main_effects(x_train: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Predictions of a ridge regression on the ablation indicators (main effects only); the
    penalty by leave-one-out error over a grid (dual form, m x m: n may exceed m)."""
    z = (~x_train).astype(np.float64)
    mu = z.mean(0)
    zc = z - mu
    yc = y - y.mean()
    gram = zc @ zc.T
    evals, evecs = np.linalg.eigh(gram)
    proj = evecs.T @ yc
    best = None
    for lam in np.logspace(-3, 4, 15) * max(float(np.trace(gram)) / len(gram), 1e-12):
        h_diag = np.einsum("ij,j,ij->i", evecs, evals / (evals + lam), evecs)
        fitted = evecs @ (evals / (evals + lam) * proj)
        loo = float(np.mean(((yc - fitted) / np.maximum(1 - h_diag, 1e-9)) ** 2))
        if best is None or loo < best[0]:
            best = (loo, lam)
    assert best is not None
    alpha = evecs @ (proj / (evals + best[1]))
    w = zc.T @ alpha
    return y.mean() + ((~x_test).astype(np.float64) - mu) @ w


def r2(truth: np.ndarray, pred: np.ndarray) -> float:
    c = truth - truth.mean()
    return 1.0 - float(((truth - pred) ** 2).sum()) / float(c @ c)
