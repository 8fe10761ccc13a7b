"""ProxySPEX: explain a model by the exact Fourier expansion of a tree-ensemble proxy.

Butler, Kang et al. (2025), "ProxySPEX: Inference-Efficient Interpretability via Sparse Feature
Interactions in LLMs"; docs/background.md, "ProxySPEX". Steps:

1. sample ``budget`` masks (uniform by default, in complementary pairs; the Shapley-kernel
   design of :mod:`fastspex.explainers.shapley_design` for the Shapley indices; any
   :mod:`fastspex.masks` design, or "1–5 ablated components" at a time), evaluate them through
   :class:`fastspex.value.Evaluator` (store, resume, progress bar);
2. fit LightGBM proxies on (masks -> outputs) by k-fold cross-validation with early stopping,
   one ``lightgbm.cv`` run per grid point (tree depth x learning rate; the best round replaces a
   grid over the number of trees), keeping each point's k fold models, averaged — no refit on
   all data;
3. extract each averaged ensemble's exact Fourier coefficients in C++ (:mod:`fastspex.lgbm`);
4. refit every main effect plus the top-K interactions by magnitude by ridge regression,
   choosing K (0 included) and the ridge penalty by exact leave-one-out error, so the
   explanation never fits worse (leave-one-out) than a ridge fit of the main effects alone;
   under the Shapley design the refit is weighted least squares with the Shapley kernel
   (sampling-corrected), the empty and all-kept masks interpolated; the grid point whose refit
   has the lowest leave-one-out error gives the explanation;
5. optionally report held-out R² on fresh uniform masks (``holdout``; extra model calls).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from .. import indices, masks
from .._validate import as_int, as_seed
from ..coefficients import Coefficients
from ..errors import check_memory
from ..evaluation.evaluator import Evaluator, ValueFunction, as_evaluator
from ..masks import MaskLike, PackedMasks
from ..pairs import ablation_pair_scores
from . import shapley_design, shapley_refit, trees
from .shapley_design import SHAPLEY_INDICES
from .result import Explanation, measure_faithfulness

__all__ = [
    "DEFAULT_GRID",
    "ProxySPEX",
    "ProxySPEXResult",
    "ablation_pair_scores",
    "fourier_features",
    "run",
]

Design = Literal["uniform", "shapley", "ablate"] | Callable[..., MaskLike]

#: The default hyper-parameter grid: tree depth x learning rate (the number of trees comes from
#: early stopping). Users pass their own list of LightGBM parameter dicts as ``grid``.
#: A fast learning rate is enough: the booster only has to propose the support; the refit
#: (step 4) sets the values, and it recovers what a slow, long boosting run would.
#: Depth 2 is the most sample-efficient at small budgets; the expansion of every grid point is
#: refit and the best refit (leave-one-out) wins, so deeper settings still win when the
#: function has higher-order terms.
DEFAULT_GRID: tuple[dict[str, Any], ...] = (
    {"max_depth": 2, "learning_rate": 0.3},
    {"max_depth": 3, "learning_rate": 0.3},
    {"max_depth": 5, "learning_rate": 0.3},
)


#: The result of :meth:`ProxySPEX.fit` (every explainer returns an :class:`Explanation`).
ProxySPEXResult = Explanation


def fourier_features(coefs: Coefficients, x: np.ndarray) -> np.ndarray:
    """The ``(m, K)`` matrix of ``(-1)^{Σ_{i∈S_k} x_i}`` for the supports of ``coefs``."""
    x = x.view(np.uint8) if x.dtype == np.bool_ else np.asarray(x, dtype=np.uint8)  # a view, not a copy
    sizes = coefs.orders()
    out = np.ones((x.shape[0], len(coefs)), dtype=np.float64)
    nonempty = np.flatnonzero(sizes > 0)
    if len(nonempty):
        cols = x[:, coefs.indices]
        # XOR over each support's columns; segments of empty supports are skipped.
        parity = np.bitwise_xor.reduceat(cols, coefs.indptr[:-1][nonempty], axis=1)
        out[:, nonempty] = 1.0 - 2.0 * parity
    return out


class ProxySPEX:
    """ProxySPEX explainer (see the module docstring).

    Cost grows with ``budget x n`` through LightGBM: at 2,000 masks a fit takes about 45 s and
    0.5 GB at n = 10^4, 12 min and 3.7 GB at n = 10^5 (2 cores). For very wide component sets
    with a sparse, low-degree target, :class:`fastspex.SPEX` is far cheaper.

    Args:
        budget: model calls for the training masks (the all-kept mask is one of them).
        seed: seed of every random choice (masks, folds, LightGBM); ``None`` draws one.
        design: "uniform" (each component kept with p = 1/2; drawn in complementary pairs
            unless ``antithetic=False``), "shapley" (the Shapley-kernel design of
            :mod:`fastspex.explainers.shapley_design`: the empty and all-kept masks, border
            sizes enumerated, the rest drawn with sizes ∝ the Shapley kernel, in complementary
            pairs; the refit is then kernel-weighted), "ablate" (the local design:
            the all-kept mask plus masks ablating ``num_ablated`` components), or a callable
            ``design(m, n, seed=...)`` returning masks (e.g. ``fastspex.masks.bernoulli``).
            ``None`` (the default): "shapley" when ``index`` is a Shapley index (sv, sii, ksii,
            fsii), else "uniform".
        index: the interaction index the explanation is for (``fastspex.explain`` passes
            its ``index``); it only chooses the default ``design``.
        num_ablated: range of ablated components for ``design="ablate"``.
        antithetic: draw uniform masks in complementary pairs (x, 1 - x): each mask is still
            uniform, and the pairs decorrelate odd- and even-order Fourier terms.
        folds: cross-validation folds (>= 2); default 5 below 1,000 masks, else 3.
        grid: LightGBM parameter dicts to choose from (default :data:`DEFAULT_GRID`).
        lgbm_params: LightGBM parameters applied to every grid point (override the defaults).
        max_rounds: most boosting rounds per fit; early stopping usually ends far earlier.
        early_stopping: rounds without a CV improvement before stopping.
        max_k: most interactions kept by the refit, on top of the main effects (default:
            ``budget // 2``, at most 512).
        refit: "ridge" (choose K and the penalty by leave-one-out error), "ols", or "none"
            (keep the booster's exact expansion, truncated to ``max_k``).
        holdout: fresh uniform masks on which to report R² (extra model calls; 0 = none).
        n_threads: threads for LightGBM and the core (default 2).
        progress: show a progress bar for the model calls (``None``: when on a terminal).
    """

    def __init__(
        self,
        budget: int = 1000,
        *,
        seed: int | None = 0,
        design: Design | None = None,
        index: str | None = None,
        num_ablated: int | tuple[int, int] = (1, 5),
        antithetic: bool = True,
        folds: int | None = None,
        grid: Sequence[dict[str, Any]] | None = None,
        lgbm_params: dict[str, Any] | None = None,
        max_rounds: int = 2000,
        early_stopping: int = 15,
        max_k: int | None = None,
        refit: Literal["ridge", "ols", "none"] = "ridge",
        holdout: int = 0,
        n_threads: int | None = 2,
        progress: bool | None = None,
    ) -> None:
        self.budget = as_int(budget, "budget", minimum=1)
        self.seed = as_seed(seed)
        if index is not None and not isinstance(index, str):
            msg = f"index must be an index name such as 'sii', got {index!r}"
            raise TypeError(msg)
        self.index = index
        if design is None:
            design = "shapley" if index in SHAPLEY_INDICES else "uniform"
        if not (callable(design) or design in ("uniform", "shapley", "ablate")):
            msg = f"design must be 'uniform', 'shapley', 'ablate' or a callable, got {design!r}"
            raise ValueError(msg)
        self.design = design
        self.num_ablated = num_ablated
        self.antithetic = bool(antithetic)
        default_folds = 5 if self.budget < 1000 else 3
        self.folds = as_int(default_folds if folds is None else folds, "folds", minimum=2)
        self.grid = [dict(g) for g in (DEFAULT_GRID if grid is None else grid)]
        if not self.grid or not all(isinstance(g, dict) for g in self.grid):
            msg = "grid must be a non-empty sequence of LightGBM parameter dicts"
            raise ValueError(msg)
        self.lgbm_params = dict(lgbm_params or {})
        self.max_rounds = as_int(max_rounds, "max_rounds", minimum=1)
        self.early_stopping = as_int(early_stopping, "early_stopping", minimum=1)
        self.max_k = None if max_k is None else as_int(max_k, "max_k", minimum=1)
        if refit not in ("ridge", "ols", "none"):
            msg = f"refit must be 'ridge', 'ols' or 'none', got {refit!r}"
            raise ValueError(msg)
        self.refit = refit
        self.holdout = as_int(holdout, "holdout", minimum=0)
        self.n_threads = None if n_threads is None else as_int(n_threads, "n_threads", minimum=1)
        self.progress = progress
        if self.budget < 2 * self.folds:
            msg = (
                f"budget = {self.budget} is too small for {self.folds}-fold cross-validation: "
                f"need at least {2 * self.folds} masks (2 per fold)"
            )
            raise ValueError(msg)

    # -- sampling ------------------------------------------------------------------------------
    def _sample(self, n: int, seed: int) -> PackedMasks:
        """The training masks (row 0 keeps everything)."""
        return self._design(n, seed)[0]

    def _design(self, n: int, seed: int) -> tuple[PackedMasks, shapley_design.ShapleyDesign | None]:
        """The training masks (row 0 keeps everything) and, for the Shapley design, its weights."""
        m = self.budget - 1  # the all-kept mask is always evaluated (the baseline)
        full = masks.pack(np.ones((1, n), dtype=bool))
        if self.design == "shapley":
            plan = shapley_design.sample(self.budget, n, seed=seed, paired=self.antithetic)
            return plan.masks, plan
        if m == 0:
            return full, None
        if self.design == "uniform" and self.antithetic:
            half = masks.bernoulli((m + 1) // 2, n, 0.5, seed=seed)
            drawn = masks.PackedMasks.concat([half, half.complement()])[:m]
        elif self.design == "uniform":
            drawn = masks.bernoulli(m, n, 0.5, seed=seed)
        elif self.design == "ablate":
            drawn = masks.random_subsets(m, n, num_ablated=self.num_ablated, seed=seed)
        else:
            drawn = masks.as_packed(self.design(m, n, seed=seed), n)
        return masks.PackedMasks.concat([full, drawn]), None

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        fn: ValueFunction | Evaluator,
        n: int | None = None,
        *,
        store: Any = "default",
        key: str | None = None,
        progress: bool | None = None,
    ) -> Explanation:
        """Explain ``fn`` (a value function or an :class:`Evaluator`) over ``n`` components."""
        t_start = time.perf_counter()
        ev = as_evaluator(fn, n, store=store, key=key,
                          progress=self.progress if progress is None else progress)
        n = ev.n
        check_memory(
            self.memory_estimate(n), f"ProxySPEX on n = {n} components with {self.budget} masks",
            "use fewer components (group them), a smaller budget, or method='spex'",
        )
        seeds = np.random.SeedSequence(self.seed).generate_state(4, dtype=np.uint32)
        calls0 = ev.calls
        timings: dict[str, float] = {}
        model_time = 0.0

        t = time.perf_counter()
        train, plan = self._design(n, int(seeds[0]))
        weights = None if plan is None else (
            plan.weights if plan.refit_weights is None else plan.refit_weights)
        constraint = None if plan is None else plan.constraint
        timings["sampling"] = time.perf_counter() - t
        t = time.perf_counter()
        y = _scalar_outputs(ev(train))
        model_time += time.perf_counter() - t
        x = train.to_bool()
        _check_outputs(y)
        # Every proxy and refit works on z = (y - offset) / scale; the coefficients are mapped
        # back at the end. LightGBM keeps labels as float32 and does not centre them, so
        # 1e8 + g lost g entirely (an ulp of 1e8 in float32 is 8), and 1e-8·g fell under its
        # split thresholds.
        offset, scale = _centre_scale(y)
        z = (y - offset) / scale

        t = time.perf_counter()
        candidates, cv_table = _cross_validate(
            x, z, grid=self.grid, base=self._base_params(int(seeds[1]), len(y)),
            folds=self.folds, max_rounds=self.max_rounds, early_stopping=self.early_stopping,
            seed=int(seeds[1]), workers=self.n_threads or 2, user_params=self.lgbm_params,
        )
        timings["proxy"] = time.perf_counter() - t

        # Every grid point's averaged fold ensemble is extracted and refit; the explanation is
        # the one whose refit expansion has the lowest leave-one-out error (the proxy's own CV
        # error can prefer shallow trees whose expansion misses the higher-order terms). Without
        # a refit, the proxy's CV error decides.
        max_k = self.max_k if self.max_k is not None else max(1, min(512, len(y) // 2))
        timings["extract"] = timings["refit"] = 0.0
        best: tuple[float, dict[str, Any], Coefficients, dict[str, Any]] | None = None
        for chosen, boosters in candidates:
            t = time.perf_counter()
            ensemble = trees.concat([trees.tree_arrays(b, n=n) for b in boosters])
            raw = trees.booster_fourier(
                ensemble.scaled(1.0 / len(boosters)), top_k=max_k, n_threads=self.n_threads
            )
            timings["extract"] += time.perf_counter() - t
            t = time.perf_counter()
            with _blas_threads(1):  # small dense problems: extra BLAS threads only spin
                coefs, refit_info = _refit(raw, x, z, self.refit, folds=self.folds,
                                           weights=weights, constraint=constraint, max_k=max_k)
            timings["refit"] += time.perf_counter() - t
            refit_r2 = refit_info.get("refit_cv_r2")
            score = -chosen["cv_r2"] if refit_r2 is None else -refit_r2
            chosen = {**chosen, "refit_cv_r2": refit_r2, "extracted_terms": len(raw),
                      "trees": ensemble.num_trees}
            if best is None or score < best[0]:
                best = (score, chosen, coefs, refit_info)
        assert best is not None
        _, chosen, coefs, refit_info = best
        if plan is not None and self.refit != "none":  # Shapley design: the index's own correction
            t = time.perf_counter()
            with _blas_threads(1):
                coefs, correction = shapley_refit.correct(
                    coefs, x, z, plan.weights, plan.constraint,
                    proxy_loo_r2=refit_info.get("refit_cv_r2"))
            timings["refit"] += time.perf_counter() - t
            refit_info = {**refit_info, "shapley_correction": correction}
        coefs = _unscale(coefs, offset, scale)

        t = time.perf_counter()
        before = ev.calls
        r2, _ = measure_faithfulness(ev, lambda m: indices.evaluate(coefs, m), n, self.holdout,
                                     self.seed, what="ProxySPEX")
        holdout_calls = ev.calls - before
        model_time += time.perf_counter() - t

        total = time.perf_counter() - t_start
        timings["model"] = model_time
        timings["algorithm"] = total - model_time
        settings = {
            "budget": self.budget,
            "seed": self.seed,
            "design": self.design if isinstance(self.design, str) else getattr(
                self.design, "__name__", "callable"),
            "num_ablated": list(self.num_ablated) if isinstance(self.num_ablated, tuple)
            else self.num_ablated,
            "antithetic": self.antithetic,
            "index": self.index,
            "design_plan": None if plan is None else plan.summary(),
            "folds": self.folds,
            "grid": cv_table,
            "chosen": chosen,
            "max_rounds": self.max_rounds,
            "early_stopping": self.early_stopping,
            "trees": chosen["trees"],
            "extracted_terms": chosen["extracted_terms"],
            "max_k": max_k,
            "refit": self.refit,
            **refit_info,
            "holdout": self.holdout,
            "holdout_calls": holdout_calls,
            "n_threads": self.n_threads,
        }
        return Explanation(
            coefficients=coefs,
            n=n,
            calls=ev.calls - calls0,
            faithfulness=r2,
            baseline=float(y[0]),
            timings=timings,
            settings=settings,
        )

    def memory_estimate(self, n: int) -> int:
        """A conservative estimate of the bytes :meth:`fit` allocates for ``n`` components.

        Per training mask and component (``m·n`` cells): the packed masks (1/8 byte), the
        boolean matrix (1) and the fourier features are small; per grid point running at once,
        its uint8 copy (1), LightGBM's binned Dataset (1, ``max_bin=2`` bins fit a byte) and
        the ``folds`` fold subsets ``lightgbm.cv`` builds (1 each, train and valid together).
        Per component: each fold booster keeps a histogram pool of ``num_leaves`` histograms
        of 3 bins (two plus LightGBM's spare) x 16 bytes (gradient and hessian, float64).
        The sum is multiplied by 2.5 as a margin for LightGBM's own buffers: at 2,000 masks
        this gives 4.2 GB for n = 10^5, where a fit was measured at a 3.66 GB peak.
        """
        m = self.budget
        cells = m * n
        leaves = 1
        for point in self.grid:
            params = {**self.lgbm_params, **point}
            depth = int(params.get("max_depth", -1))
            default = max(2, min(2**depth, 131072)) if depth > 0 else 31
            leaves = max(leaves, int(params.get("num_leaves", default)))
        at_once = 1 if cells >= _SEQUENTIAL_GRID_CELLS else min(self.n_threads or 2, len(self.grid))
        per_point = cells * (2 + self.folds) + n * self.folds * leaves * 3 * 16
        base = cells // 8 + cells + m * max(1, min(512, m // 2)) * 8 * 2
        return int(2.5 * (base + at_once * per_point))

    def _base_params(self, seed: int, m: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "regression",
            "verbosity": -1,
            "num_threads": 1,
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            # small budgets need small leaves to reach interactions; 20 (LightGBM's default)
            # is right from a few thousand masks on.
            "min_data_in_leaf": int(np.clip(m // 100, 3, 20)),
            "min_sum_hessian_in_leaf": 0.0,
            "feature_pre_filter": False,
            "max_bin": 2,
        }
        params.update(self.lgbm_params)
        return params


def run(fn: ValueFunction | Evaluator, n: int | None = None, budget: int = 1000, *,
        store: Any = "default", key: str | None = None, progress: bool | None = None,
        **options: Any) -> Explanation:
    """Functional form: ``ProxySPEX(budget, **options).fit(fn, n, store=, key=, progress=)``."""
    return ProxySPEX(budget, **options).fit(fn, n, store=store, key=key, progress=progress)


# -- helpers -------------------------------------------------------------------------------------
def _blas_threads(limit: int) -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=limit, user_api="blas")


def _scalar_outputs(out: np.ndarray) -> np.ndarray:
    if out.ndim != 1:
        msg = (
            f"ProxySPEX explains one scalar output; the value function returned shape {out.shape}"
            " (select one output column in the value function)"
        )
        raise ValueError(msg)
    return out


def _check_outputs(y: np.ndarray) -> None:
    if not np.all(np.isfinite(y)):  # pragma: no cover - the Evaluator rejects these first
        msg = "the value function returned NaN or inf"
        raise ValueError(msg)
    # Constant up to float64 rounding of the outputs themselves (relative, so a function of
    # scale 1e-14 is not mistaken for a constant, nor 1e12 + rounding for a function).
    if np.ptp(y) <= 8 * np.finfo(np.float64).eps * float(np.abs(y).max()):
        msg = (
            f"the value function returned the same output ({y[0]:.6g}) on all {len(y)} masks: "
            "there is nothing to explain (check that ablation changes the model's input)"
        )
        raise ValueError(msg)


def _centre_scale(y: np.ndarray) -> tuple[float, float]:
    """The offset (mean) and scale (standard deviation, 1 if zero) that standardise ``y``."""
    offset = float(np.mean(y))
    scale = float(np.std(y - offset))
    return offset, (scale if scale > 0 and np.isfinite(scale) else 1.0)


def _unscale(coefs: Coefficients, offset: float, scale: float) -> Coefficients:
    """Coefficients of ``offset + scale * h`` from those of ``h`` (Fourier or Möbius: the
    empty set is the constant in both)."""
    values = coefs.values * scale
    empty = np.flatnonzero(coefs.orders() == 0)
    if len(empty):
        values[empty[0]] += offset
        return Coefficients(coefs.n, coefs.indptr, coefs.indices, values, coefs.basis)
    return Coefficients(
        coefs.n, np.concatenate([[0], coefs.indptr]), coefs.indices,
        np.concatenate([[offset], values]), coefs.basis,
    )


#: masks x components from which grid points are cross-validated one at a time (memory).
_SEQUENTIAL_GRID_CELLS = 20_000_000


def _cross_validate(
    x: np.ndarray, y: np.ndarray, *, grid: list[dict[str, Any]], base: dict[str, Any],
    folds: int, max_rounds: int, early_stopping: int, seed: int, workers: int,
    user_params: dict[str, Any] | None = None,
) -> tuple[list[tuple[dict[str, Any], list[str]]], list[dict[str, Any]]]:
    """k-fold CV with early stopping per grid point.

    Returns, for each grid point, its settings (with the best round and CV R²) and the fold
    boosters' model text up to that round, best CV error first; and the CV table."""
    import lightgbm as lgb

    xb = x.view(np.uint8) if x.dtype == np.bool_ else x.astype(np.uint8)  # a view: no copy of the masks
    dataset_params = {"max_bin": base.get("max_bin", 255), "verbosity": -1,
                      "feature_pre_filter": False}
    var = float(np.var(y))

    def one(point: dict[str, Any]) -> tuple[float, int, Any]:
        params = {**base, **point}
        depth = int(params.get("max_depth", -1))
        if "num_leaves" not in point and depth > 0:
            params["num_leaves"] = max(2, min(2**depth, 131072))
        # one Dataset per grid point: lightgbm.cv on a Dataset constructed beforehand builds
        # its folds in a way that trains about ten times slower
        data = lgb.Dataset(xb, label=y, params=dataset_params, free_raw_data=False)
        out = lgb.cv(
            params, data, num_boost_round=max_rounds, nfold=folds, stratified=False,
            shuffle=True, seed=seed, return_cvbooster=True,
            callbacks=[lgb.early_stopping(early_stopping, verbose=False)],
        )
        curve = np.asarray(out["valid l2-mean"])
        rounds = int(np.argmin(curve)) + 1
        # Only the best round's trees, as model text: the fold boosters (which hold their
        # binned fold data) are released before the next grid point starts.
        cvbooster: Any = out["cvbooster"]  # a CVBooster: return_cvbooster=True
        models = [b.model_to_string(num_iteration=rounds) for b in cvbooster.boosters]
        return float(curve[rounds - 1]), rounds, models

    # Grid points run side by side in threads (LightGBM releases the GIL), each LightGBM on one
    # thread: OpenMP teams spin-wait at every barrier, which is ruinous on a busy machine.
    # LightGBM's CV holds about 18 KB per feature at 2,000 masks (bins, histograms, fold
    # subsets), so wide designs (n = 10^5: ~1.8 GB per grid point) run the points one after
    # another instead, each LightGBM on all the workers' threads.
    if x.size >= _SEQUENTIAL_GRID_CELLS and workers > 1 and "num_threads" not in (user_params or {}):
        base = {**base, "num_threads": workers}
        results = [one(point) for point in grid]
    elif workers > 1 and len(grid) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(workers, len(grid))) as pool:
            results = list(pool.map(one, grid))
    else:
        results = [one(point) for point in grid]
    table: list[dict[str, Any]] = []
    candidates: list[tuple[float, dict[str, Any], list[str]]] = []
    for point, (mse, rounds, models) in zip(grid, results):
        row = {**point, "rounds": rounds, "cv_r2": 1.0 - mse / var if var > 0 else float("nan")}
        table.append(row)
        candidates.append((mse, row, models))
    candidates.sort(key=lambda c: c[0])
    return [(dict(row), models) for _, row, models in candidates], table


def _weighted_problem(
    phi: np.ndarray, y: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The weighted least-squares problem with its (unpenalised) intercept projected out.

    Rows are scaled by ``sqrt(w)``; ``v`` is the unit intercept direction (``sqrt(w)``
    normalised). Returns the projected features and target, ``v`` and ``sqrt(w)``; with unit
    weights this is plain centring.
    """
    sw = np.ones(len(y)) if weights is None else np.sqrt(weights)
    v = sw / np.linalg.norm(sw)
    a = phi * sw[:, None]
    b = y * sw
    a -= np.outer(v, v @ a)
    b = b - v * (v @ b)
    return a, b, v, sw


def _loo_ridge(
    phi: np.ndarray, y: np.ndarray, alphas: np.ndarray, weights: np.ndarray | None = None,
    scored: np.ndarray | None = None, rows_out: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out error of (weighted) ridge, intercept unpenalised, for each alpha.

    The error is the weighted mean of ``w_i (y_i - ŷ_{-i})²`` over the ``scored`` rows (all by
    default; the constraint rows of a design are not scored: they are fitted exactly by
    construction). Also returns the squared singular values.
    """
    a, b, v, _ = _weighted_problem(phi, y, weights)
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    uty = u.T @ b
    s2 = s * s
    rows = np.ones(len(y), bool) if scored is None else scored
    norm = float(rows.sum()) if weights is None else float(weights[rows].sum())
    errs = np.empty(len(alphas))
    for k, alpha in enumerate(alphas):
        shrink = s2 / (s2 + alpha) if alpha > 0 else (s2 > 1e-10 * s2.max()).astype(float)
        fitted = u @ (shrink * uty)
        h = (u * u) @ shrink + v * v
        resid = (b - fitted) / np.maximum(1.0 - h, 1e-6)
        errs[k] = float(np.sum(resid[rows] ** 2)) / max(norm, 1e-300)
        if rows_out is not None:
            rows_out.append(resid[rows] ** 2)
    return errs, s2


def _prefix_loo(
    phi: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
    scored: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out error of (weighted) OLS with intercept on every prefix ``phi[:, :K]``.

    One QR of the projected features: the fit and hat diagonal of prefix K are cumulative sums
    over the first K orthonormal columns. Columns that are (numerically) combinations of earlier
    ones add nothing. The error is weighted and taken over the ``scored`` rows, as in
    :func:`_loo_ridge`; a prefix that fits a scored mask exactly has no estimate (inf).
    """
    a, b, v, _ = _weighted_problem(phi, y, weights)
    q, r = np.linalg.qr(a)
    diag = np.abs(np.diag(r))
    keep = diag > 1e-9 * max(float(diag.max(initial=0.0)), 1e-300)
    q = q * keep
    fitted = np.cumsum(q * (q.T @ b), axis=1)
    hat = np.cumsum(q * q, axis=1) + (v * v)[:, None]
    resid = (b[:, None] - fitted) / np.maximum(1.0 - hat, 1e-9)
    rows = np.ones(len(y), bool) if scored is None else scored
    norm = float(rows.sum()) if weights is None else float(weights[rows].sum())
    err = np.sum(resid[rows] ** 2, axis=0) / max(norm, 1e-300)
    err[hat[rows].max(axis=0) > 1.0 - 1e-6] = np.inf  # a mask fitted exactly: no LOO estimate
    return err, resid[rows] ** 2


def _basis(raw: Coefficients, m: int, max_k: int | None = None) -> tuple[Coefficients, np.ndarray, int, dict[str, Any]]:
    """The refit's candidate basis: main effects first (always kept), then the proxy's
    interactions by decreasing |F|.

    Returns the basis (canonical order: all n singletons, then the proxy's supports of size
    >= 2), the column order (main effects, then interactions by magnitude), the number of
    leading columns that are always kept, and what was cut. At most ``m - 3`` columns are used
    (leave-one-out needs more masks than columns); when the ``n`` main effects take more than
    half of that, only the proxy's non-zero main effects are kept (largest first) and the
    number dropped is recorded.
    """
    n = raw.n
    sizes = raw.orders()
    singles = np.flatnonzero(sizes == 1)
    proxy_main = np.zeros(n)
    proxy_main[raw.indices[raw.indptr[singles]]] = raw.values[singles]
    inter = np.flatnonzero(sizes >= 2)
    inter = inter[np.lexsort((inter, -np.abs(raw.values[inter])))]
    cap = max(1, m - 3)
    info: dict[str, Any] = {"refit_masks": int(m), "mains_dropped": 0, "interactions_dropped": 0}
    if n <= cap // 2 or n <= cap and len(inter) == 0:
        mains = np.arange(n)
    else:  # too many components for all main effects: the proxy's, largest first
        found = np.flatnonzero(proxy_main != 0)
        found = found[np.lexsort((found, -np.abs(proxy_main[found])))]
        mains = found[: max(1, cap // 2)] if len(found) else np.argsort(-np.abs(proxy_main))[:1]
        info["mains_dropped"] = int(n - len(mains))
    room = cap - len(mains)
    if max_k is not None:
        room = min(room, max_k)
    if len(inter) > room:
        info["interactions_dropped"] = int(len(inter) - room)
        inter = inter[:room]
    # canonical basis: the singletons in component order, then the proxy's larger supports
    big = np.flatnonzero(sizes >= 2)
    sub = _subset(raw, big)
    indptr = np.concatenate([np.arange(n + 1, dtype=np.int64), n + sub.indptr[1:]])
    basis = Coefficients(n, indptr, np.concatenate([np.arange(n, dtype=np.int32), sub.indices]),
                         np.concatenate([proxy_main, sub.values]), "fourier")
    position = np.full(len(raw), -1, np.int64)
    position[big] = n + np.arange(len(big))
    columns = np.concatenate([np.sort(mains), position[inter]]).astype(np.int64)
    info["refit_columns"] = int(len(columns))
    info["mains_in_basis"] = int(len(mains))
    return basis, columns, len(mains), info


def _refit(
    raw: Coefficients, x: np.ndarray, y: np.ndarray, how: str, *, folds: int,
    weights: np.ndarray | None = None, constraint: np.ndarray | None = None,
    max_k: int | None = None,
) -> tuple[Coefficients, dict[str, Any]]:
    """Refit the main effects and the proxy's strongest interactions on the training masks.

    The basis is every main effect (always) plus the top-K interactions by |F| (see
    :func:`_basis`). K minimises the exact leave-one-out error of least squares over all
    prefixes of the magnitude order (one QR), K = 0 (main effects only) included; for
    ``"ridge"`` the penalty is then picked by leave-one-out error, for that K and for the main
    effects alone, and the better of the two is kept: the refit is never worse, by its
    leave-one-out error, than a ridge fit of the main effects alone.

    ``weights`` make every step weighted least squares (the Shapley kernel for the Shapley
    design); ``constraint`` rows (the empty and all-kept masks there) carry huge weights, are
    interpolated and are not scored.
    """
    del folds
    sizes = raw.orders()
    nonempty = np.flatnonzero(sizes > 0)
    if how == "none":
        return raw, {"k": len(nonempty), "alpha": None, "refit_cv_r2": None}
    m = len(y)
    scored = None if constraint is None else ~constraint
    basis, columns, fixed, info = _basis(raw, m, max_k)
    phi_all = fourier_features(_subset(basis, columns), x)
    rows = np.ones(m, bool) if scored is None else scored
    w_rows = np.ones(m) if weights is None else weights
    ybar = float(np.average(y[rows], weights=w_rows[rows]))
    var = float(np.average((y[rows] - ybar) ** 2, weights=w_rows[rows]))
    loo, per_row = _prefix_loo(phi_all, y, weights, scored)
    loo, per_row = loo[fixed - 1:], per_row[:, fixed - 1:]  # prefixes keeping every main effect
    if not np.isfinite(loo).any():
        return raw, {"k": len(nonempty), "alpha": None, "refit_cv_r2": None, **info,
                     "refit_note": "no prefix could be checked by leave-one-out: proxy kept as is"}
    # The proxy chose its terms on these same masks, so the leave-one-out error of the refit is
    # optimistic about them: an interaction prefix is taken only where it beats the smaller ones
    # by more than one standard error (the smallest K within one SE of the best).
    k_best = int(np.argmin(loo))
    norm = float(rows.sum()) if weights is None else float(w_rows[rows].sum())
    k_inter = k_best
    for kk in range(k_best):
        if not np.isfinite(loo[kk]):
            continue
        diff = per_row[:, kk] - per_row[:, k_best]
        if diff.sum() / norm <= np.sqrt(len(diff)) * float(np.std(diff)) / norm:
            k_inter = kk
            break
    alphas = np.concatenate([[0.0], np.logspace(-4, 2, 13) * (m if weights is None else
                                                               float(w_rows[rows].sum()))])
    if how != "ridge":
        alphas = alphas[:1]
    # Ridge for that K and for the main effects alone; the interactions stay only if they beat
    # the additive ridge by more than one standard error of the paired difference.
    fits: dict[int, tuple[float, float, np.ndarray]] = {}
    for kk in sorted({k_inter, 0}):
        per_alpha: list[np.ndarray] = []
        errs, _ = _loo_ridge(phi_all[:, : fixed + kk], y, alphas, weights, scored, per_alpha)
        a = int(np.argmin(errs))
        if np.isfinite(errs[a]):
            fits[kk] = (float(errs[a]), float(alphas[a]), per_alpha[a])
    best: tuple[float, int, float] | None = None
    if 0 in fits:
        best = (fits[0][0], 0, fits[0][1])
    if k_inter in fits and k_inter > 0:
        err_k, alpha_k, rows_k = fits[k_inter]
        if best is None:
            best = (err_k, k_inter, alpha_k)
        else:
            diff = rows_k - fits[0][2]
            if diff.sum() / norm < -np.sqrt(len(diff)) * float(np.std(diff)) / norm:
                best = (err_k, k_inter, alpha_k)
    if best is None:
        return raw, {"k": len(nonempty), "alpha": None, "refit_cv_r2": None, **info,
                     "refit_note": "no ridge penalty could be checked by leave-one-out"}
    err, k_inter, alpha = best
    k = fixed + k_inter
    phi = phi_all[:, :k]
    a_mat, b_vec, v, sw = _weighted_problem(phi, y, weights)
    if alpha > 0:
        w = np.linalg.solve(a_mat.T @ a_mat + alpha * np.eye(k), a_mat.T @ b_vec)
    else:
        w = np.linalg.lstsq(a_mat, b_vec, rcond=None)[0]
    # intercept: the weighted mean of the residual (v ∝ sqrt(w))
    intercept = float(v @ ((y - phi @ w) * sw)) / float(v @ sw)
    chosen = columns[:k]
    canon = np.argsort(chosen)  # back to canonical (size, lexicographic) order
    sub = _subset(basis, chosen[canon])
    coefs = Coefficients(
        raw.n, np.concatenate([[0], sub.indptr]), sub.indices,
        np.concatenate([[intercept], w[canon]]), "fourier",
    )
    info.update({"k": int(k), "interactions": int(k_inter), "alpha": alpha,
                 "refit_cv_r2": 1.0 - err / var if var > 0 else None,
                 "weighted": weights is not None})
    return coefs, info


def _subset(coefs: Coefficients, rows: np.ndarray) -> Coefficients:
    starts = coefs.indptr[rows]
    lens = coefs.indptr[rows + 1] - starts
    indptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lens, out=indptr[1:])
    idx = np.repeat(starts - indptr[:-1], lens) + np.arange(indptr[-1])
    return Coefficients(coefs.n, indptr, coefs.indices[idx], coefs.values[rows], coefs.basis)
