"""The exact explanation: every one of the ``2ⁿ`` masks evaluated once, transformed exactly.

When a budget covers all ``2ⁿ`` masks, no estimator can do better than evaluating them all: the
Fourier transform of the truth table *is* the function, and every index computed from it is
the exact index. :func:`fastspex.explain` switches to this path by itself in that case.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import dense, indices
from .._validate import as_int, as_threads
from ..coefficients import Coefficients
from ..evaluation.evaluator import Evaluator, ValueFunction, as_evaluator
from ..masks import exhaustive
from .result import Explanation, r_squared

__all__ = ["MAX_EXACT_N", "Exact", "ExactResult", "covers_all_masks", "dense_coefficients"]

#: Largest n explained exactly: 2²⁰ ≈ 10⁶ model calls, and a coefficient set of that many terms.
MAX_EXACT_N = 20


def covers_all_masks(n: int, budget: int) -> bool:
    """Whether ``budget`` model calls pay for all ``2ⁿ`` masks (and n is small enough)."""
    return n <= MAX_EXACT_N and (1 << n) <= budget


def dense_coefficients(table: np.ndarray, n: int, *, n_threads: int | None = None) -> Coefficients:
    """All ``2ⁿ`` Fourier coefficients of a truth table (entry ``r`` keeps bit ``j`` of ``r``)."""
    values = dense.fourier_from_table(table, n_threads=n_threads)
    subsets = np.arange(1 << n, dtype=np.int64)
    bits = ((subsets[:, None] >> np.arange(n)) & 1).astype(bool)
    indptr = np.zeros((1 << n) + 1, np.int64)
    np.cumsum(bits.sum(axis=1), out=indptr[1:])
    members = np.nonzero(bits)[1].astype(np.int32)  # row-major: sorted within each subset
    return Coefficients(n, indptr, members, values, "fourier")


#: The result of :meth:`Exact.fit` (every explainer returns an :class:`Explanation`).
ExactResult = Explanation


class Exact:
    """Evaluate all ``2ⁿ`` masks and return the exact expansion.

    Faithfulness is measured on all ``2ⁿ`` masks (``uses_holdout`` is False: no fresh mask
    exists).

    Args:
        budget: model calls allowed; must be at least ``2ⁿ`` (``None``: exactly ``2ⁿ``).
        seed: unused (nothing is random); accepted so every explainer has the same shape.
        n_threads: threads for the transforms (``None``: all cores).
        progress: show a progress bar for the model calls.
        holdout: unused (faithfulness is measured on all ``2ⁿ`` masks); accepted so every
            explainer has the same shape.
    """

    uses_holdout = False
    replaced_by_exact = False

    @staticmethod
    def default_budget(n: int) -> int:
        """All ``2ⁿ`` masks."""
        return 1 << n

    def __init__(self, budget: int | None = None, *, seed: int | None = 0,
                 n_threads: int | None = None, progress: bool | None = None,
                 holdout: int = 0) -> None:
        self.budget = None if budget is None else as_int(budget, "budget", minimum=1)
        self.seed = seed
        self.n_threads = n_threads
        as_threads(n_threads)
        self.progress = progress

    def fit(self, fn: ValueFunction | Evaluator, n: int | None = None, *, store: Any = "default",
            key: str | None = None, progress: bool | None = None) -> Explanation:
        """Explain ``fn`` exactly over its ``n`` components."""
        t0 = time.perf_counter()
        ev = as_evaluator(fn, n, store=store, key=key,
                          progress=self.progress if progress is None else progress)
        n = ev.n
        if n > MAX_EXACT_N:
            msg = f"the exact explanation needs n <= {MAX_EXACT_N} (2^n model calls); got n = {n}"
            raise ValueError(msg)
        if self.budget is not None and self.budget < (1 << n):
            msg = (f"the exact explanation of n = {n} components needs a budget of {1 << n:,} "
                   f"model calls (2^{n}); got {self.budget:,}")
            raise ValueError(msg)
        calls0 = ev.calls
        all_masks = exhaustive(n)
        table = np.asarray(ev(all_masks), dtype=np.float64)
        if table.ndim != 1:
            msg = (f"the exact explanation needs one scalar output per mask; the value function "
                   f"returned shape {table.shape} (select one output column)")
            raise ValueError(msg)
        t_model = time.perf_counter() - t0
        t = time.perf_counter()
        coefs = dense_coefficients(table, n, n_threads=self.n_threads)
        # Faithfulness is measured, not assumed: the expansion against every evaluated mask.
        r2 = r_squared(table, indices.evaluate(coefs, all_masks, n_threads=self.n_threads))
        return Explanation(
            coefficients=coefs, n=n, calls=ev.calls - calls0, faithfulness=r2, baseline=float(table[-1]),
            timings={"model": t_model, "algorithm": time.perf_counter() - t,
                     "total": time.perf_counter() - t0},
            settings={"exact": True, "budget": self.budget, "masks": 1 << n, "fit_masks": 1 << n,
                      "holdout_masks": 0,
                      "faithfulness_on": f"all 2^{n} masks"},
        )
