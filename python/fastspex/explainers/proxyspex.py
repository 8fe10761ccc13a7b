"""ProxySPEX: explain a model by the exact Fourier expansion of a tree-ensemble proxy.

Butler, Kang et al. (2025), "ProxySPEX: Inference-Efficient Interpretability via Sparse Feature
Interactions in LLMs"; docs/background.md, "ProxySPEX". Steps:

1. sample ``budget`` distinct masks (uniform by default, in complementary pairs; the Shapley-kernel
   design of :mod:`fastspex.explainers.shapley_design` for the Shapley indices; any
   :mod:`fastspex.masks` design, or "1–5 ablated components" at a time), evaluate them through
   :class:`fastspex.value.Evaluator` (store, resume, progress bar);
2. fit LightGBM proxies on (masks -> outputs) by k-fold cross-validation with early stopping,
   one ``lightgbm.cv`` run per grid point (tree depth x learning rate; the best round replaces a
   grid over the number of trees), keeping each point's k fold models, averaged — no refit on
   all data;
3. extract each averaged ensemble's exact Fourier coefficients in C++ (:mod:`fastspex.lgbm`);
4. refit every main effect plus the top-K interactions by magnitude by ridge regression,
   choosing K (0 included) and the ridge penalty by exact leave-one-out error; under the
   Shapley design the refit is weighted least squares with the Shapley kernel
   (sampling-corrected), the empty and all-kept masks interpolated; the grid point whose refit
   has the lowest leave-one-out error gives the explanation;
5. never below the baselines (uniform, Bernoulli and user designs): that refit is scored by
   honest fold CV (each fold booster's terms refit on the other folds, predicting the fold it
   never saw) and competes with a ridge fit of the main effects alone, the whole tree proxy
   (retrained on every mask) and the main effects plus trees on their residual
   (:mod:`fastspex.explainers.residual_trees`); the highest cross-validated R² is returned
   (``settings["candidates"]`` lists them). When the default grid's CV R² says the target is
   noisy, a slower, subsampled grid (:data:`NOISY_GRID`) is cross-validated as well;
   under the (paired) Shapley design instead, the odd half of the expansion — every Shapley
   value — is fitted on its own from ``(f(S) − f(Sᶜ))/2`` (:mod:`fastspex.explainers.odd_refit`)
   and the rest gets the kernel-weighted residual correction
   (:mod:`fastspex.explainers.shapley_refit`);
6. optionally report held-out R² on fresh masks of the same design (``holdout``; extra model
   calls).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .. import indices, masks
from .._prefetch import import_in_background
from .._validate import as_int, as_seed
from ..coefficients import Coefficients
from ..errors import check_memory
from ..evaluation.evaluator import Evaluator, ValueFunction, as_evaluator
from ..masks import MaskLike, PackedMasks
from ..pairs import ablation_pair_scores
from ..progress import stage
from . import odd_refit, residual_trees, shapley_design, shapley_refit, trees
from ._parallel import TaskPool, blas_threads
from .result import Explanation, check_design_keep, design_label, measure_faithfulness
from .shapley_design import SHAPLEY_INDICES

__all__ = [
    "DEFAULT_GRID",
    "NOISY_CV_R2",
    "NOISY_GRID",
    "TIE_R2",
    "ProxySPEX",
    "ProxySPEXResult",
    "ablation_pair_scores",
    "fourier_features",
    "run",
]

Design = Literal["uniform", "bernoulli", "shapley", "ablate"] | Callable[..., MaskLike]

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

#: Slower settings tried as well when the default grid's best CV R² is below
#: :data:`NOISY_CV_R2` (a noisy or wide target, e.g. a language model's heads): a smaller
#: learning rate with more patience, and column/row subsampling, fit noise far less than the
#: fast default (measured on SmolLM2's heads in benchmarks/bench_components.py).
NOISY_GRID: tuple[dict[str, Any], ...] = (
    {"max_depth": 2, "learning_rate": 0.1},
    {"max_depth": 3, "learning_rate": 0.05, "feature_fraction": 0.5, "bagging_fraction": 0.8,
     "bagging_freq": 1},
)
NOISY_CV_R2 = 0.8
#: Cross-validated R² by which a denser candidate must beat a simpler one to be chosen.
TIE_R2 = 0.005
#: Early-stopping patience (rounds) of the slow grid.
NOISY_PATIENCE = 40

#: Settings that describe the refit's basis (:func:`_basis`); they stay with the refit's row of
#: ``settings["candidates"]`` when another candidate is returned.
_REFIT_BASIS_KEYS = ("refit_masks", "refit_columns", "mains_dropped", "interactions_dropped")

#: The result of :meth:`ProxySPEX.fit` (every explainer returns an :class:`Explanation`).
ProxySPEXResult = Explanation


@dataclass
class TrainingMasks:
    """The masks a fit was trained on and their outputs (``method="auto"`` scores other
    candidates on them without a new model call)."""

    masks: PackedMasks
    outputs: np.ndarray


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
        design: every design but a callable draws its masks without replacement (a repeat
            is no new information, and in two CV folds it leaks): "uniform" (each component
            kept with p = 1/2; drawn in complementary pairs unless ``antithetic=False``),
            "bernoulli" (each component kept independently with probability ``keep``, e.g.
            0.9 for attention heads, where most ablations of half the heads leave nothing to
            explain; held-out masks then follow the same design),
            "shapley" (the Shapley-kernel design of
            :mod:`fastspex.explainers.shapley_design`: the empty and all-kept masks, border
            sizes enumerated, the rest drawn with sizes ∝ the Shapley kernel, in complementary
            pairs; the refit is then kernel-weighted), "ablate" (the local design:
            the all-kept mask plus masks ablating ``num_ablated`` components), or a callable
            ``design(m, n, seed=...)`` returning masks (e.g. ``fastspex.masks.bernoulli``).
            ``None`` (the default): "bernoulli" when ``keep`` is given, else "shapley" when
            ``index`` is a Shapley index (sv, sii, ksii, fsii), else "uniform".
        keep: keep probability of the "bernoulli" design, strictly between 0 and 1.
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
        holdout: fresh masks on which to report R² (extra model calls; 0 = none); uniform, or
            of the Bernoulli design when that one was used.
        n_threads: threads for LightGBM and the core (default 2).
        progress: show a progress bar for the model calls (``None``: when on a terminal).
    """

    @staticmethod
    def default_budget(n: int) -> int:
        """32 masks per component, 500 to 5,000 (500 for a 15-word sentence)."""
        return int(np.clip(32 * n, 500, 5000))

    def __init__(
        self,
        budget: int = 1000,
        *,
        seed: int | None = 0,
        design: Design | None = None,
        keep: float | None = None,
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
        self.design_given = design is not None
        if design is None:
            design = "bernoulli" if keep is not None else (
                "shapley" if index in SHAPLEY_INDICES else "uniform")
        if not (callable(design) or design in ("uniform", "bernoulli", "shapley", "ablate")):
            msg = (f"design must be 'uniform', 'bernoulli', 'shapley', 'ablate' or a callable, "
                   f"got {design!r}")
            raise ValueError(msg)
        self.keep = check_design_keep(design, keep)
        self.design = design
        self.num_ablated = num_ablated
        self.antithetic = bool(antithetic)
        default_folds = 5 if self.budget < 1000 else 3
        self.folds = as_int(default_folds if folds is None else folds, "folds", minimum=2)
        self.grid_given = grid is not None
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
        if self.design == "uniform":  # without replacement: every call buys a new mask
            drawn = masks.distinct_uniform(m, n, paired=self.antithetic, seed=seed)
        elif self.design == "bernoulli":
            keep = self.keep
            assert keep is not None  # checked in __init__
            drawn = masks.distinct(lambda c, s: masks.bernoulli(c, n, keep, seed=s), m, n,
                                   seed=seed)
        elif self.design == "ablate":
            drawn = masks.distinct(lambda c, s: masks.random_subsets(
                c, n, num_ablated=self.num_ablated, seed=s), m, n, seed=seed)
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

        import_in_background("lightgbm")  # while the model runs (fastspex._prefetch)
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

        # One pool of worker threads for the whole fit (results do not depend on their number:
        # every LightGBM and BLAS call runs on one thread), and small dense problems: extra
        # BLAS threads only spin.
        with TaskPool(self.n_threads or 2) as pool, blas_threads(1):
            show = self.progress if progress is None else progress
            with stage(f"tree proxy ({len(y):,} masks, cross-validated)", show):
                t = time.perf_counter()
                fold_of = _lgb_folds(len(y), self.folds, int(seeds[1]))
                baselines = weights is None and self.refit != "none"
                base = self._base_params(int(seeds[1]), len(y))
                cv_args: dict[str, Any] = {
                    "folds": self.folds, "max_rounds": self.max_rounds, "seed": int(seeds[1]),
                    "workers": self.n_threads or 2, "user_params": self.lgbm_params,
                    "fold_of": fold_of, "pool": pool}
                default = _start_cross_validation(x, z, grid=self.grid, base=base,
                                                  early_stopping=self.early_stopping, **cv_args)
                # The slow grid is for noisy targets, which the default grid's CV R² tells; it
                # starts at once, behind the default grid (on a core the grid leaves idle), and
                # is called off when the target proves not noisy. A wide design's grid uses every
                # core: nothing runs beside it there.
                narrow = x.size < _SEQUENTIAL_GRID_CELLS
                may_be_noisy = not self.grid_given and plan is None
                cancel_slow = threading.Event()
                slow_args = {"grid": [dict(g) for g in NOISY_GRID], "base": base,
                             "early_stopping": max(self.early_stopping, NOISY_PATIENCE), **cv_args}
                slow = (_start_cross_validation(x, z, priority=1, cancel=cancel_slow, **slow_args)
                        if may_be_noisy and narrow else None)
                residual_args: dict[str, Any] = {"folds": self.folds, "seed": int(seeds[2]),
                                                 "base": base, "fold_of": fold_of, "pool": pool}
                residual_fits = None
                if baselines and narrow:
                    # independent of the proxy: its boosters fill the cores' gaps from here on
                    residual_fits = residual_trees.start_residual_trees(x, z, priority=2, **residual_args)
                candidates, cv_table = default()
                noisy = may_be_noisy and max(row["cv_r2"] for row in cv_table) < NOISY_CV_R2
                if not noisy:
                    cancel_slow.set()
                else:
                    if slow is None:
                        slow = _start_cross_validation(x, z, **slow_args)
                    slow_candidates, slow_table = slow()
                    cv_table += [{**row, "slow_grid": True} for row in slow_table]
                    candidates = sorted(candidates + slow_candidates, key=lambda c: -float(c[0]["cv_r2"]))
            timings["proxy"] = time.perf_counter() - t

            # Every grid point's averaged fold ensemble is extracted and refit; the explanation is
            # the one whose refit expansion has the lowest leave-one-out error (the proxy's own CV
            # error can prefer shallow trees whose expansion misses the higher-order terms). Without
            # a refit, the proxy's CV error decides. On a noisy target only the best grid point is
            # refit: there the truncated refit of a dense expansion loses to the whole proxy by far
            # (SmolLM2's heads: cross-validated R² 0.11 vs 0.29 at 1,000 masks), so the other points'
            # refits (a fifth of the fit's time there) never win.
            max_k = self.max_k if self.max_k is not None else max(1, min(512, len(y) // 2))
            if noisy:
                candidates = candidates[:1]
            full_proxy = None
            if baselines:
                # the proxy retrained on every mask, for the rounds CV chose (scaled to the larger
                # sample): the fold models each saw only (k-1)/k of the masks
                best_raw = candidates[0][0]
                full_proxy = pool.submit(_train_full, x, z, best_raw,
                                         base,
                                         rounds=int(np.ceil(best_raw["rounds"] * self.folds / (self.folds - 1))))
            timings["extract"] = timings["refit"] = 0.0
            t = time.perf_counter()
            expansions = []
            for _, boosters in candidates:
                ensemble = trees.concat([trees.tree_arrays(b, n=n) for b in boosters])
                raw = trees.booster_fourier(
                    ensemble.scaled(1.0 / len(boosters)), top_k=max_k, n_threads=self.n_threads
                )
                expansions.append((raw, ensemble.num_trees))
            timings["extract"] += time.perf_counter() - t
            t = time.perf_counter()
            fold_r2 = None
            if baselines and len(candidates) == 1:  # the refit to score is known: start its folds now
                fold_r2 = _refit_fold_r2(candidates[0][1], fold_of, x, z, self.refit, max_k, n, self.folds, pool)
            refits = pool.map(lambda e: _refit(e[0], x, z, self.refit, folds=self.folds,
                                               weights=weights, constraint=constraint, max_k=max_k),
                              expansions)
            timings["refit"] += time.perf_counter() - t
            best: tuple[float, dict[str, Any], Coefficients, dict[str, Any], list[str]] | None = None
            for (chosen, boosters), (raw, num_trees), (coefs, refit_info) in zip(candidates, expansions, refits):
                refit_r2 = refit_info.get("refit_cv_r2")
                score = -chosen["cv_r2"] if refit_r2 is None else -refit_r2
                chosen = {**chosen, "refit_cv_r2": refit_r2, "extracted_terms": len(raw),
                          "trees": num_trees}
                if best is None or score < best[0]:
                    best = (score, chosen, coefs, refit_info, boosters)
            assert best is not None
            _, chosen, coefs, refit_info, best_boosters = best
            cv_r2 = -best[0]
            table: list[dict[str, Any]] = [{"candidate": "refit of the proxy's top terms", "loo_r2": cv_r2}]
            if baselines:
                # The refit's leave-one-out error is optimistic (its terms come from trees that saw
                # every mask): it is scored instead by refitting each fold booster's terms on the
                # other folds and predicting the fold the booster never saw.
                t = time.perf_counter()
                if fold_r2 is None:
                    fold_r2 = _refit_fold_r2(best_boosters, fold_of, x, z, self.refit, max_k, n,
                                             self.folds, pool)
                cv_r2 = fold_r2()
                table[0]["cv_r2"] = cv_r2
                timings["refit"] += time.perf_counter() - t
                # Never below the baselines: the main effects alone, the proxy itself and the main
                # effects with trees on their residual compete with the refit on cross-validated R²
                # over the same masks (the Shapley design's weighted refit is left as it is).
                t = time.perf_counter()
                assert full_proxy is not None
                full = full_proxy.result()
                whole = trees.booster_fourier(trees.tree_arrays(full, n=n), n_threads=self.n_threads)
                others: list[tuple[str, float, Coefficients, dict[str, Any]]] = [
                    ("the tree proxy itself", float(best_raw["cv_r2"]), whole,
                     {"k": len(whole) - 1, "alpha": None, "refit": "none (the whole proxy)"})]
                timings["extract"] += time.perf_counter() - t
                t = time.perf_counter()
                if residual_fits is None:
                    residual_fits = residual_trees.start_residual_trees(x, z, **residual_args)
                fits = residual_fits()
                timings["residual"] = time.perf_counter() - t  # the wait for them
                # simplest first: the main effects, the refit, ridge + residual trees, the whole proxy
                ranked: list[tuple[str, float, Coefficients | None, dict[str, Any]]] = [
                    (fits[0].info["candidate"], fits[0].cv_r2, fits[0].coefficients, fits[0].info),
                    ("refit", cv_r2, None, {}),
                    *[(f.info["candidate"], f.cv_r2, f.coefficients, f.info) for f in fits[1:]],
                    *others,
                ]
                for label, score, _, info in ranked:
                    if label != "refit":
                        table.append({"candidate": label, "cv_r2": score,
                                      **{k: v for k, v in info.items() if k != "candidate"}})
                top = max(score for _, score, _, _ in ranked if np.isfinite(score))
                # the simplest candidate within TIE_R2 of the best cross-validated R²: a denser one
                # must earn its terms (and the main effects alone, first in line, are never beaten
                # by less than that)
                label, score, cand, info = next(r for r in ranked if np.isfinite(r[1]) and r[1] >= top - TIE_R2)
                if cand is not None:
                    cv_r2, coefs = score, cand
                    sizes = cand.orders()
                    # what the refit's basis held describes the refit, not this candidate: it moves
                    # to the refit's row of the candidates table
                    table[0].update({key: refit_info.pop(key) for key in _REFIT_BASIS_KEYS
                                     if key in refit_info})
                    refit_info = {**refit_info, "k": len(cand) - 1, "alpha": info.get("alpha"),
                                  "refit_cv_r2": score, "refit": label,
                                  "interactions": int(np.count_nonzero(sizes >= 2)),
                                  "mains_in_basis": int(np.count_nonzero(sizes == 1))}
            if plan is not None and self.refit != "none":  # Shapley design: the index's own correction
                t = time.perf_counter()
                # the odd half (every Shapley value) from its own proxy and fit
                odd, odd_info = odd_refit.fit(x, z, plan.weights, plan.constraint,
                                              params=base,
                                              surrogate=coefs, n_threads=self.n_threads)
                coefs, correction = shapley_refit.correct(
                    coefs, x, z, plan.weights, plan.constraint,
                    proxy_loo_r2=refit_info.get("refit_cv_r2"), odd=odd)
                timings["refit"] += time.perf_counter() - t
                refit_info = {**refit_info, "shapley_correction": correction, "odd_half": odd_info}
        coefs = _unscale(coefs, offset, scale)

        t = time.perf_counter()
        before = ev.calls
        r2, _ = measure_faithfulness(ev, lambda m: indices.evaluate(coefs, m), n, self.holdout,
                                     self.seed, what="ProxySPEX", keep=self.holdout_keep)
        holdout_calls = ev.calls - before
        model_time += time.perf_counter() - t

        total = time.perf_counter() - t_start
        timings["model"] = model_time
        timings["algorithm"] = total - model_time
        settings = {
            "budget": self.budget,
            "seed": self.seed,
            "fit_masks": len(y),
            "cv_r2": cv_r2,
            "candidates": table,
            "design": design_label(self.design, self.keep or 0.5) if isinstance(self.design, str)
            else getattr(self.design, "__name__", "callable"),
            "design_reason": self.design_reason(),
            "keep": self.keep,
            "num_ablated": list(self.num_ablated) if isinstance(self.num_ablated, tuple)
            else self.num_ablated,
            "antithetic": self.antithetic,
            "index": self.index,
            "design_plan": None if plan is None else plan.summary(),
            "folds": self.folds,
            "grid": cv_table,
            "chosen": chosen,
            "refit_grid_points": len(candidates),
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
            diagnostics={"training": TrainingMasks(train, y)},
        )

    @property
    def holdout_keep(self) -> float:
        """The keep probability of the held-out masks: the Bernoulli design's, else ½."""
        return self.keep if self.design == "bernoulli" and self.keep is not None else 0.5

    def design_reason(self) -> str:
        """One sentence: why the masks were drawn the way they were."""
        if self.design_given:
            return "the design the caller asked for"
        if self.design == "bernoulli":
            return f"keep={self.keep:g} was given: each component kept with that probability"
        if self.design == "shapley":
            return (f"index {self.index!r} weights coalitions by the Shapley kernel, which puts its "
                    "weight on the small and large ones")
        return ("uniform masks weight every coalition equally, as the Banzhaf and Fourier "
                "indices do" + ("" if self.index is None else f" (index {self.index!r})"))

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


class _Cancelled(Exception):
    """A speculative cross-validation was called off."""


def _start_cross_validation(
    x: np.ndarray, y: np.ndarray, *, grid: list[dict[str, Any]], base: dict[str, Any],
    folds: int, max_rounds: int, early_stopping: int, seed: int, workers: int, pool: TaskPool,
    user_params: dict[str, Any] | None = None, fold_of: np.ndarray | None = None,
    priority: int = 0, cancel: threading.Event | None = None,
) -> Callable[[], tuple[list[tuple[dict[str, Any], list[str]]], list[dict[str, Any]]]]:
    """k-fold CV with early stopping per grid point (``fold_of[i]``: the fold of mask ``i``;
    fold booster ``k`` never saw fold ``k``), one call per grid point on ``pool`` at
    ``priority``; setting ``cancel`` stops the calls (their results are then never asked for).

    Returns the call that waits for them and gives, for each grid point, its settings (with the
    best round and CV R²) and the fold boosters' model text up to that round, best CV error
    first; and the CV table."""
    import lightgbm as lgb

    xb = x.view(np.uint8) if x.dtype == np.bool_ else x.astype(np.uint8)  # a view: no copy of the masks
    dataset_params = {"max_bin": base.get("max_bin", 255), "verbosity": -1,
                      "feature_pre_filter": False}
    var = float(np.var(y))

    def stop_if_cancelled(env: Any) -> None:
        if cancel is not None and cancel.is_set():
            raise _Cancelled

    def one(point: dict[str, Any]) -> tuple[float, int, Any]:
        stop_if_cancelled(None)
        params = trees.histogram_layout({**base, **point}, x.shape[1])
        depth = int(params.get("max_depth", -1))
        if "num_leaves" not in point and depth > 0:
            params["num_leaves"] = max(2, min(2**depth, 131072))
        # one Dataset per grid point: lightgbm.cv on a Dataset constructed beforehand builds
        # its folds in a way that trains about ten times slower
        data = lgb.Dataset(xb, label=y, params=dataset_params, free_raw_data=False)
        split = None if fold_of is None else [
            (np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(folds)]
        out = lgb.cv(
            params, data, num_boost_round=max_rounds, nfold=folds, stratified=False,
            shuffle=True, seed=seed, return_cvbooster=True, folds=split,
            callbacks=[lgb.early_stopping(early_stopping, verbose=False), stop_if_cancelled],
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
        done = [one(point) for point in grid]
        futures = None
    else:
        futures = [pool.submit(one, point, priority=priority) for point in grid]

    def finish() -> tuple[list[tuple[dict[str, Any], list[str]]], list[dict[str, Any]]]:
        results = done if futures is None else [f.result() for f in futures]
        table: list[dict[str, Any]] = []
        candidates: list[tuple[float, dict[str, Any], list[str]]] = []
        for point, (mse, rounds, models) in zip(grid, results):
            row = {**point, "rounds": rounds, "cv_r2": 1.0 - mse / var if var > 0 else float("nan")}
            table.append(row)
            candidates.append((mse, row, models))
        candidates.sort(key=lambda c: c[0])
        return [(dict(row), models) for _, row, models in candidates], table

    return finish


def _lgb_folds(m: int, folds: int, seed: int) -> np.ndarray:
    """The fold of each mask as ``lightgbm.cv(nfold=folds, shuffle=True, seed=seed)`` would
    split them (given explicitly, so which booster never saw which masks is known)."""
    fold_of = np.empty(m, np.int64)
    for k, rows in enumerate(np.array_split(np.random.RandomState(seed).permutation(m), folds)):
        fold_of[rows] = k
    return fold_of


def _train_full(x: np.ndarray, z: np.ndarray, row: dict[str, Any], base: dict[str, Any],
                rounds: int) -> str:
    """The model text of one booster with a grid point's settings trained on all masks."""
    import lightgbm as lgb

    point = {k: v for k, v in row.items() if k not in ("rounds", "cv_r2", "slow_grid")}
    params = trees.histogram_layout({**base, **point}, x.shape[1])
    depth = int(params.get("max_depth", -1))
    if "num_leaves" not in point and depth > 0:
        params["num_leaves"] = max(2, min(2**depth, 131072))
    xb = x.view(np.uint8) if x.dtype == np.bool_ else x.astype(np.uint8)
    data = lgb.Dataset(xb, label=z, params={"max_bin": base.get("max_bin", 255), "verbosity": -1,
                                            "feature_pre_filter": False})
    return lgb.train(params, data, num_boost_round=max(1, rounds)).model_to_string()


def _refit_fold_r2(
    boosters: list[str], fold_of: np.ndarray, x: np.ndarray, z: np.ndarray, how: str,
    max_k: int, n: int, folds: int, pool: TaskPool,
) -> Callable[[], float]:
    """Cross-validated R² of the refit: fold booster ``k``'s terms refit on the other folds,
    predicting fold ``k`` (which that booster never saw). The fold refits start on ``pool``;
    returns the call that waits for them and gives the R²."""

    def fold_sse(k: int) -> float:
        tr, va = fold_of != k, fold_of == k
        raw = trees.booster_fourier(trees.tree_arrays(boosters[k], n=n), top_k=max_k, n_threads=1)
        coefs, _ = _refit(raw, x[tr], z[tr], how, folds=folds, max_k=max_k)
        resid = z[va] - indices.evaluate(coefs, x[va])
        return float(resid @ resid)

    futures = [pool.submit(fold_sse, k) for k in range(len(boosters))]

    def finish() -> float:
        sse = sum(f.result() for f in futures)
        var = float(np.var(z))
        return 1.0 - sse / len(z) / var if var > 0 else float("nan")

    return finish


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
    qr: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out error of (weighted) ridge, intercept unpenalised, for each alpha.

    The error is the weighted mean of ``w_i (y_i - ŷ_{-i})²`` over the ``scored`` rows (all by
    default; the constraint rows of a design are not scored: they are fitted exactly by
    construction). Also returns the squared singular values. ``qr``: the QR factors of the
    projected features of a wider basis whose first columns are ``phi`` (from
    :func:`_prefix_loo`); the singular vectors then come from the small triangle instead of an
    SVD of the tall matrix (a = QR, so a[:, :p] = Q[:, :p] R[:p, :p]).
    """
    a, b, v, _ = _weighted_problem(phi, y, weights)
    if qr is None:
        u, s, _ = np.linalg.svd(a, full_matrices=False)
    else:
        p = phi.shape[1]
        ur, s, _ = np.linalg.svd(qr[1][:p, :p])
        u = qr[0][:, :p] @ ur
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
    scored: np.ndarray | None = None, qr_out: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out error of (weighted) OLS with intercept on every prefix ``phi[:, :K]``.

    One QR of the projected features: the fit and hat diagonal of prefix K are cumulative sums
    over the first K orthonormal columns. Columns that are (numerically) combinations of earlier
    ones add nothing. The error is weighted and taken over the ``scored`` rows, as in
    :func:`_loo_ridge`; a prefix that fits a scored mask exactly has no estimate (inf).
    ``qr_out``, when given, receives the QR factors (Q, R) for :func:`_loo_ridge`.
    """
    a, b, v, _ = _weighted_problem(phi, y, weights)
    q, r = np.linalg.qr(a)
    if qr_out is not None:
        qr_out.extend((q, r))
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
    factors: list[np.ndarray] = []
    loo, per_row = _prefix_loo(phi_all, y, weights, scored, factors)
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
        errs, _ = _loo_ridge(phi_all[:, : fixed + kk], y, alphas, weights, scored, per_alpha,
                             qr=(factors[0], factors[1]))
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
