"""ProxySPEX: explain a model by the exact Fourier expansion of a tree-ensemble proxy.

Butler, Kang et al. (2025), "ProxySPEX: Inference-Efficient Interpretability via Sparse Feature
Interactions in LLMs"; docs/background.md, "ProxySPEX". Steps:

1. sample ``budget`` masks (uniform by default, in complementary pairs; any
   :mod:`fastspex.masks` design, or "1–5 ablated components" at a time), evaluate them through
   :class:`fastspex.value.Evaluator` (store, resume, progress bar);
2. fit LightGBM proxies on (masks -> outputs) by k-fold cross-validation with early stopping,
   one ``lightgbm.cv`` run per grid point (tree depth x learning rate; the best round replaces a
   grid over the number of trees), keeping each point's k fold models, averaged — no refit on
   all data;
3. extract each averaged ensemble's exact Fourier coefficients in C++ (:mod:`fastspex.lgbm`);
4. keep the top-K by magnitude and refit them by ridge regression, choosing K and the ridge
   penalty together by exact leave-one-out error; the grid point whose refit has the lowest
   leave-one-out error gives the explanation;
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
from . import trees
from .result import Explanation, measure_faithfulness

__all__ = [
    "DEFAULT_GRID",
    "ProxySPEX",
    "ProxySPEXResult",
    "ablation_pair_scores",
    "fourier_features",
    "run",
]

Design = Literal["uniform", "ablate"] | Callable[..., MaskLike]

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
            unless ``antithetic=False``), "ablate" (the local design:
            the all-kept mask plus masks ablating ``num_ablated`` components), or a callable
            ``design(m, n, seed=...)`` returning masks (e.g. ``fastspex.masks.bernoulli``).
        num_ablated: range of ablated components for ``design="ablate"``.
        antithetic: draw uniform masks in complementary pairs (x, 1 - x): each mask is still
            uniform, and the pairs decorrelate odd- and even-order Fourier terms.
        folds: cross-validation folds (>= 2); default 5 below 1,000 masks, else 3.
        grid: LightGBM parameter dicts to choose from (default :data:`DEFAULT_GRID`).
        lgbm_params: LightGBM parameters applied to every grid point (override the defaults).
        max_rounds: most boosting rounds per fit; early stopping usually ends far earlier.
        early_stopping: rounds without a CV improvement before stopping.
        max_k: most coefficients kept by the refit (default: ``budget // 2``, at most 512).
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
        design: Design = "uniform",
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
        if not (callable(design) or design in ("uniform", "ablate")):
            msg = f"design must be 'uniform', 'ablate' or a callable, got {design!r}"
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
        m = self.budget - 1  # the all-kept mask is always evaluated (the baseline)
        full = masks.pack(np.ones((1, n), dtype=bool))
        if m == 0:
            return full
        if self.design == "uniform" and self.antithetic:
            half = masks.bernoulli((m + 1) // 2, n, 0.5, seed=seed)
            drawn = masks.PackedMasks.concat([half, half.complement()])[:m]
        elif self.design == "uniform":
            drawn = masks.bernoulli(m, n, 0.5, seed=seed)
        elif self.design == "ablate":
            drawn = masks.random_subsets(m, n, num_ablated=self.num_ablated, seed=seed)
        else:
            drawn = masks.as_packed(self.design(m, n, seed=seed), n)
        return masks.PackedMasks.concat([full, drawn])

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
        train = self._sample(n, int(seeds[0]))
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
                coefs, refit_info = _refit(raw, x, z, self.refit, folds=self.folds)
            timings["refit"] += time.perf_counter() - t
            refit_r2 = refit_info.get("refit_cv_r2")
            score = -chosen["cv_r2"] if refit_r2 is None else -refit_r2
            chosen = {**chosen, "refit_cv_r2": refit_r2, "extracted_terms": len(raw),
                      "trees": ensemble.num_trees}
            if best is None or score < best[0]:
                best = (score, chosen, coefs, refit_info)
        assert best is not None
        _, chosen, coefs, refit_info = best
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


def _loo_ridge(phi: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out MSE of ridge (intercept unpenalised) for each alpha; also the SVD pieces."""
    xm = phi.mean(axis=0)
    ym = y.mean()
    u, s, _ = np.linalg.svd(phi - xm, full_matrices=False)
    uty = u.T @ (y - ym)
    s2 = s * s
    m = len(y)
    errs = np.empty(len(alphas))
    for a, alpha in enumerate(alphas):
        shrink = s2 / (s2 + alpha) if alpha > 0 else (s2 > 1e-10 * s2.max()).astype(float)
        fitted = u @ (shrink * uty) + ym
        h = (u * u) @ shrink + 1.0 / m
        resid = (y - fitted) / np.maximum(1.0 - h, 1e-6)
        errs[a] = float(np.mean(resid * resid))
    return errs, s2


def _prefix_loo(phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Leave-one-out MSE of OLS (with intercept) on every prefix ``phi[:, :K]``, K = 1..Kmax.

    One QR of the centred features: the fit and hat diagonal of prefix K are cumulative sums
    over the first K orthonormal columns. Columns that are (numerically) combinations of earlier
    ones add nothing.
    """
    m = len(y)
    q, r = np.linalg.qr(phi - phi.mean(axis=0))
    diag = np.abs(np.diag(r))
    keep = diag > 1e-9 * max(float(diag.max(initial=0.0)), 1e-300)
    q = q * keep
    yc = y - y.mean()
    fitted = np.cumsum(q * (q.T @ yc), axis=1)
    hat = np.cumsum(q * q, axis=1) + 1.0 / m
    resid = (yc[:, None] - fitted) / np.maximum(1.0 - hat, 1e-9)
    err = np.mean(resid * resid, axis=0)
    err[hat.max(axis=0) > 1.0 - 1e-6] = np.inf  # a mask fitted exactly: no LOO estimate
    return err


def _refit(
    raw: Coefficients, x: np.ndarray, y: np.ndarray, how: str, *, folds: int
) -> tuple[Coefficients, dict[str, Any]]:
    """Keep the top-K coefficients by |F| and refit them on the training masks.

    K minimises the exact leave-one-out error of least squares over all prefixes of the
    magnitude order (one QR); for ``"ridge"`` the penalty of the chosen K is then picked by
    leave-one-out error as well (one SVD).
    """
    del folds
    sizes = raw.orders()
    nonempty = np.flatnonzero(sizes > 0)
    if how == "none" or len(nonempty) == 0:
        return raw, {"k": len(nonempty), "alpha": None, "refit_cv_r2": None}
    order = nonempty[np.lexsort((nonempty, -np.abs(raw.values[nonempty])))]
    m = len(y)
    order = order[: max(1, m - 2)]  # more columns than masks cannot be checked by LOO
    phi_all = fourier_features(_subset(raw, order), x)
    var = float(np.var(y))
    loo = _prefix_loo(phi_all, y)
    if not np.isfinite(loo).any():
        return raw, {"k": len(nonempty), "alpha": None, "refit_cv_r2": None}
    k = int(np.argmin(loo)) + 1
    err = float(loo[k - 1])
    phi = phi_all[:, :k]
    alpha = 0.0
    if how == "ridge":
        alphas = np.concatenate([[0.0], np.logspace(-4, 2, 13) * m])
        errs, _ = _loo_ridge(phi, y, alphas)
        a = int(np.argmin(errs))
        alpha, err = float(alphas[a]), float(errs[a])
    xm = phi.mean(axis=0)
    ym = y.mean()
    phic = phi - xm
    if alpha > 0:
        w = np.linalg.solve(phic.T @ phic + alpha * np.eye(k), phic.T @ (y - ym))
    else:
        w = np.linalg.lstsq(phic, y - ym, rcond=None)[0]
    intercept = ym - float(xm @ w)
    top = order[:k]
    canon = np.argsort(top)  # back to canonical (size, lexicographic) order
    sub = _subset(raw, top[canon])
    coefs = Coefficients(
        raw.n, np.concatenate([[0], sub.indptr]), sub.indices,
        np.concatenate([[intercept], w[canon]]), "fourier",
    )
    info = {"k": int(k), "alpha": alpha, "refit_cv_r2": 1.0 - err / var if var > 0 else None}
    return coefs, info


def _subset(coefs: Coefficients, rows: np.ndarray) -> Coefficients:
    starts = coefs.indptr[rows]
    lens = coefs.indptr[rows + 1] - starts
    indptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lens, out=indptr[1:])
    idx = np.repeat(starts - indptr[:-1], lens) + np.arange(indptr[-1])
    return Coefficients(coefs.n, indptr, coefs.indices[idx], coefs.values[rows], coefs.basis)
