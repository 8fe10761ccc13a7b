"""``method="auto"``: the explainer chosen by n, budget, index and cross-validated error.

Rules first, then evidence that costs no extra model call:

* the budget covers all ``2ⁿ`` masks: the exact expansion;
* a Shapley index (sv, sii, ksii, fsii, stii) with no design given: ProxySPEX on the Shapley-kernel
  design (its refit is kernel-weighted);
* :data:`WIDE_N` components or more (MLP neurons, dictionary features): the screened explainer
  on the user's design (uniform by default), which at n = 1,000–10⁵ fits better than ProxySPEX's
  trees in a tenth of the time and memory (``benchmarks/bench_huge.py``);
* more components than ProxySPEX can hold in memory at this budget: SPEX (coded masks; it adapts
  its degree bound to the budget and says so);
* otherwise ProxySPEX (uniform or the Bernoulli design) and, where the pairs are few enough to
  scan, the sparse polynomial fitted **on the same masks and outputs** (no new model call),
  each scored by its cross-validated R² on them; the higher score wins.

``settings["auto"]`` lists every candidate with its score (or why it was not tried), the one
chosen and why.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import explainers, indices
from .._validate import as_int, as_seed
from ..errors import MemoryLimitError, check_memory
from ..evaluation.evaluator import as_evaluator
from ..progress import stage
from .exact import covers_all_masks
from .proxyspex import ProxySPEX
from .result import Explanation, measure_faithfulness
from .sparse_polynomial import SparsePolynomial

__all__ = ["LASSO_ELIGIBLE", "LASSO_MAX_PAIRS", "WIDE_N", "Auto"]

#: The sparse polynomial scans every pair of components; above this many pairs it is not a
#: candidate (its scan would cost more than the tree proxy's whole fit).
LASSO_MAX_PAIRS = 10_000
#: From this many components auto screens instead of fitting trees on every component. Planted
#: functions of 40 terms, 2,000 uniform masks: at n = 1,000 screened holds out R² 0.944 in 12 s
#: against ProxySPEX's 0.475 in 82 s, at 3,000 0.844 against 0.450; at 300 ProxySPEX is exact
#: and screened 0.973. On real heads (n = 72, 270) the two are within 0.02 of each other.
WIDE_N = 1000
#: Whether the sparse polynomial may win on its CV score. Off: its CV screens the pairs on all
#: masks, so the score is optimistic — on MiniLM's 72 heads it scored above ProxySPEX and held
#: out 0.83 against ProxySPEX's 0.96 (benchmarks/bench_components.py). Its score is still shown.
LASSO_ELIGIBLE = False


class Auto:
    """Explainer that picks the method (see the module docstring) and records why.

    Args:
        budget: model calls for the fit (the all-kept mask included).
        seed: seed of every random choice.
        n_threads: threads for the fits.
        progress: progress bar for the model calls.
        holdout: fresh masks of the training design for the reported R² (0: none).
        index: the index asked for (``fastspex.explain`` passes it); it chooses the design.
        design, keep: as for :class:`~fastspex.explainers.proxyspex.ProxySPEX`
            ("bernoulli" with ``keep``, "uniform", "shapley", "ablate").
    """

    @staticmethod
    def default_budget(n: int) -> int:
        """ProxySPEX's default: 32 masks per component, 500 to 5,000."""
        return ProxySPEX.default_budget(n)

    def __init__(self, budget: int = 1000, *, seed: int | None = 0, n_threads: int | None = 2,
                 progress: bool | None = None, holdout: int = 0, index: str | None = None,
                 design: str | None = None, keep: float | None = None) -> None:
        self.budget = as_int(budget, "budget", minimum=2)
        self.seed = as_seed(seed)
        self.n_threads = n_threads
        self.progress = progress
        self.holdout = as_int(holdout, "holdout", minimum=0)
        self.index = index
        self.design = design
        self.keep = keep
        # the design and keep are checked here, by the explainer that would sample them
        self._proxy(holdout=0)

    def _proxy(self, holdout: int) -> Any:
        """ProxySPEX as registered (a registered replacement is used, given what it takes)."""
        return _build("proxyspex", self.budget, seed=self.seed, holdout=holdout,
                      n_threads=self.n_threads, progress=self.progress, design=self.design,
                      keep=self.keep, index=self.index)

    def fit(self, fn: Any, n: int | None = None, *, store: Any = "default", key: str | None = None,
            progress: bool | None = None) -> Explanation:
        """Choose, fit and return the explanation of ``fn`` over its ``n`` components."""
        t0 = time.perf_counter()
        ev = as_evaluator(fn, n, store=store, key=key,
                          progress=self.progress if progress is None else progress)
        n = ev.n
        skipped: list[dict[str, Any]] = []
        if covers_all_masks(n, self.budget):
            res = _build("exact", self.budget, seed=self.seed, n_threads=self.n_threads).fit(ev)
            return _chosen(res, "exact", f"the budget covers all 2^{n} masks", [], skipped)
        proxy = self._proxy(self.holdout)
        if getattr(proxy, "design", None) == "shapley":
            res = proxy.fit(ev)
            return _chosen(res, "proxyspex", f"index {self.index!r} is a Shapley index: ProxySPEX on "
                           "the Shapley-kernel design, kernel-weighted refit", [], skipped)
        if n >= WIDE_N and self.design in (None, "uniform", "bernoulli", "ablate"):
            design = self.design or ("bernoulli" if self.keep is not None else "uniform")
            res = _build("screened", self.budget, seed=self.seed, holdout=self.holdout,
                         n_threads=self.n_threads, progress=self.progress, design=design,
                         keep=self.keep).fit(ev)
            return _chosen(res, "screened", f"n = {n:,} components (at least {WIDE_N:,}): screening "
                           "the components, then fitting the kept ones, fits better than trees on "
                           "every component and in a tenth of the time", [], skipped)
        try:
            estimate = getattr(proxy, "memory_estimate", None)
            check_memory(estimate(n) if callable(estimate) else 0, "", "")
        except MemoryLimitError:
            if self.design is None and self.keep is None:
                res = _build("spex", self.budget, seed=self.seed, holdout=self.holdout,
                             n_threads=self.n_threads).fit(ev)
                return _chosen(res, "spex", f"ProxySPEX would not fit in memory at n = {n} with "
                               f"{self.budget:,} masks: SPEX's coded design instead", [], skipped)
            raise
        # ProxySPEX without its hold-out first: the hold-out is spent once, on the winner.
        res = self._proxy(0).fit(ev)
        paid = res.calls  # before the hold-out below adds to the winner's count
        scores = [{"method": "proxyspex", "cv_r2": res.settings.get("cv_r2"),
                   "score": "cross-validated R² of the chosen expansion on the training masks"}]
        winner, name = res, "proxyspex"
        training = res.diagnostics.get("training")
        pairs = n * (n - 1) // 2
        if training is None:
            skipped.append({"method": "lasso", "why": "the training masks were not kept"})
        elif pairs > LASSO_MAX_PAIRS or explainers.get("lasso") is not SparsePolynomial:
            skipped.append({"method": "lasso", "why": f"{pairs:,} pairs to scan (more than "
                                                      f"{LASSO_MAX_PAIRS:,})"})
        else:
            with stage(f"auto: scoring the sparse polynomial on the same {paid:,} masks",
                       bool(self.progress if progress is None else progress)):
                lasso, lasso_r2 = _lasso_on(training.masks, training.outputs, self.seed,
                                            self.n_threads, res.baseline, n)
            scores.append({"method": "lasso", "cv_r2": lasso_r2, "eligible": LASSO_ELIGIBLE,
                           "score": "cross-validated R² of the relaxed lasso on the same masks "
                                    "(its pairs are screened on all masks: optimistic)"})
            best = res.settings.get("cv_r2")
            if LASSO_ELIGIBLE and lasso_r2 is not None and (best is None or lasso_r2 > best):
                winner, name = lasso, "lasso"
                for k in ("design", "design_reason", "fit_masks"):
                    if k in res.settings:
                        winner.settings[k] = res.settings[k]
        keep = float(getattr(proxy, "holdout_keep", 0.5))
        before = ev.calls
        r2, _ = measure_faithfulness(ev, lambda m: indices.evaluate(winner.coefficients, m), n,
                                     self.holdout, self.seed, what=f"auto ({name})", keep=keep)
        winner.faithfulness = r2
        winner.settings["holdout_calls"] = ev.calls - before
        winner.calls = res.calls + (ev.calls - before)
        winner.timings["total"] = time.perf_counter() - t0
        best_score = max((s["cv_r2"] for s in scores
                          if s["cv_r2"] is not None and s.get("eligible", True)), default=None)
        reason = (f"highest cross-validated R² ({best_score:.3f}) on the {paid:,} masks paid for"
                  if best_score is not None else "the only candidate scored")
        return _chosen(winner, name, reason, scores, skipped)


def _build(name: str, budget: int, **given: Any) -> Any:
    """The explainer registered as ``name``, given the arguments its constructor names."""
    import inspect

    factory = explainers.get(name)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    wide = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kept = {k: v for k, v in given.items()
            if k in params or (wide and v is not None) or k in ("seed", "n_threads", "progress", "holdout")}
    return factory(budget, **kept)


def _lasso_on(x: Any, y: np.ndarray, seed: int, n_threads: int | None, baseline: float,
              n: int) -> tuple[Explanation, float | None]:
    """The sparse polynomial on masks already evaluated, and its cross-validated R²."""
    from .sparse_polynomial import fit_sparse_polynomial

    t = time.perf_counter()
    fit = fit_sparse_polynomial(x, y, seed=seed, n_threads=n_threads)
    cv = fit.cv_mean
    var = float(np.var(y))
    r2 = None if cv is None or var <= 0 else 1.0 - float(cv[fit.alpha_index]) / var
    surrogate = indices.to_fourier(fit.coefficients)
    res = Explanation(coefficients=surrogate, n=n, calls=0, baseline=baseline,
                      settings={"cv_r2": r2, "design": "as ProxySPEX's (the same masks)",
                                **{k: v for k, v in fit.settings.items()
                                   if isinstance(v, (str, int, float, bool)) or v is None}},
                      timings={"fit": time.perf_counter() - t}, diagnostics={"proxy": fit})
    return res, r2


def _chosen(res: Explanation, name: str, reason: str, scores: list[dict[str, Any]],
            skipped: list[dict[str, Any]]) -> Explanation:
    res.settings = {**res.settings, "method": name,
                    "auto": {"chosen": name, "reason": reason, "candidates": scores,
                             "not_tried": skipped}}
    return res
