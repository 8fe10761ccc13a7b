"""Screening for very wide component sets: keep the components whose ablation matters, then fit
interactions among those only.

At n = 10⁴–10⁵ a proxy fitted on every column spends its time and memory on components that
never move the output. :class:`Screened` draws one design, evaluates it once, scores every
component by how much ablating it moves the output (a two-sample t statistic per column,
computed from the bit-packed masks a row block at a time), keeps the ``keep`` best, and fits on
the kept columns of the same masks: least squares on their main effects, then the pairs among the
``pair_pool`` best whose product explains the residual (t above ``pair_t``), refit together, terms
with ``|t| < min_t`` dropped. Memory: the packed masks (n·m/8 bytes), one unpacked row block, the
kept columns and the kept terms.

Never below the baseline: a ridge fit of every main effect (:mod:`.wide_ridge`, dual form, its
penalty by exact leave-one-out error) and the screened fit plus that ridge on its residual compete
with the screened fit on the same 5 folds of the training masks, and the lowest cross-validated
error wins (the simpler fit on a tie). Where many components each move the output a little (MLP
neurons of a few layers) screening the few hundred best loses the rest and a ridge wins; where a
few dominate it keeps the screened fit and its pairs; where both happen, the sum.
``settings["candidates"]`` holds the three scores, ``settings["chosen"]`` the winner. Memory of
the ridge: the ``m × m`` Gram matrix and the sparse ablation indicators (a local design) or the
dense signs (the uniform design, fitted up to ``wide_ridge.MAX_DENSE_CELLS`` mask cells).

Under a local design (``design="ablate"``: 1–5 components ablated at a time, or
``design="bernoulli"`` with ``keep`` near 1) a component's ablation score measures every term
that contains it, pure interactions included, so screening loses nothing a local fit could find.
Under the uniform design a Fourier pair without main effects has no marginal signal and is only
found when its members pass the screen on their own.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from .. import indices
from .._validate import as_int, as_seed, as_threads
from ..coefficients import Coefficients
from ..masks import PackedMasks, bernoulli, distinct, pack, random_subsets
from ..progress import stage
from .result import Explanation, check_keep, r_squared
from ._parallel import blas_threads

__all__ = ["Screened", "ablation_scores", "screen"]

Design = Literal["uniform", "bernoulli", "ablate"]
_ROWS = 64  # rows unpacked at a time: 64 x 10^5 as float64 = 51 MB
#: The names of the candidates that compete with the screened fit (``settings["chosen"]``).
RIDGE = "ridge on every main effect"
SCREENED_PLUS_RIDGE = "screened + ridge on its residual"
#: Folds of the cross-validation that picks among the screened fit and the ridges.
CV_FOLDS = 5
#: Cross-validated R² by which the screened fit plus a ridge must beat the simpler fits.
TIE_R2 = 0.005

_REASONS = {
    "uniform": "uniform design (each component kept with p = 1/2): the global view; on a real model "
               "at this width it leaves inputs far from any the model was trained on",
    "bernoulli": "local design (each component kept with p = {p}): near the all-kept input, so a wide "
                 "model stays in distribution and every term containing an ablated component shows",
    "ablate": "local design ({lo}-{hi} components ablated per mask): near the all-kept input, so a wide "
              "model stays in distribution and each component's ablation effect is measured directly",
}


def ablation_scores(masks: PackedMasks, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per component: the t statistic of "output when ablated" against "output when kept", and
    how many masks ablated it. Components ablated in no mask (or in every mask) score 0."""
    y = np.asarray(y, dtype=np.float64)
    m, n = masks.shape
    if len(y) != m:
        msg = f"{len(y)} outputs for {m} masks"
        raise ValueError(msg)
    centred = y - y.mean()
    ablated_sum = np.zeros(n)
    ablated_count = np.zeros(n)
    for s in range(0, m, _ROWS):
        z = ~masks[s : s + _ROWS].to_bool()  # 1 = ablated
        ablated_sum += centred[s : s + _ROWS] @ z
        ablated_count += z.sum(0)
    kept_count = m - ablated_count
    ok = (ablated_count > 0) & (kept_count > 0)
    scores = np.zeros(n)
    a, k = ablated_count[ok], kept_count[ok]
    # mean(ablated) − mean(kept) from the sums of centred outputs (they add up to 0 over all rows)
    diff = ablated_sum[ok] / a + ablated_sum[ok] / k
    sd = float(np.sqrt(centred @ centred / max(m - 1, 1))) or 1.0
    scores[ok] = diff / (sd * np.sqrt(1.0 / a + 1.0 / k))
    return scores, ablated_count.astype(np.int64)


def screen(masks: PackedMasks, y: np.ndarray, keep: int) -> np.ndarray:
    """The ids of the ``keep`` components with the largest ``|ablation score|``, best first (ties
    by id); only components some mask ablated."""
    scores, counts = ablation_scores(masks, y)
    order = np.lexsort((np.arange(len(scores)), -np.abs(scores)))
    return order[: min(keep, int((counts > 0).sum()))]


def _columns(masks: PackedMasks, cols: np.ndarray) -> PackedMasks:
    """The masks restricted to ``cols``, bit-packed again."""
    parts = [pack(np.ascontiguousarray(masks[s : s + _ROWS].to_bool()[:, cols]))
             for s in range(0, len(masks), _ROWS)]
    return PackedMasks.concat(parts)


class Screened:
    """Explainer for 10⁴–10⁵ components: screen by ablation effect, then a sparse polynomial.

    Args:
        budget: model calls for the fit (the all-kept mask included).
        holdout: fresh masks from the same design for the held-out R² (``faithfulness``).
        screen_size: components kept by the screen (default ``min(n, max(32, budget // 8))``).
        design: ``"ablate"`` (the default unless ``keep`` is given: ``num_ablated`` components
            ablated per mask), ``"bernoulli"`` (each kept with probability ``keep``, default
            0.999) or ``"uniform"`` (kept with probability 1/2).
        keep: the keep probability of the Bernoulli design (as for every method of ``explain``).
        pair_pool: pairs are searched among this many best-screened components (default 128).
        pair_t, min_t: t thresholds for adding a pair and for keeping a term.
    """

    method = "screened"

    def __init__(self, budget: int = 2000, *, seed: int | None = 0, n_threads: int | None = None,
                 progress: bool | None = None, holdout: int = 0, screen_size: int | None = None,
                 design: Design | None = None, num_ablated: int | tuple[int, int] = (1, 5),
                 keep: float | None = None, pair_pool: int = 128, pair_t: float = 5.0,
                 min_t: float = 3.0) -> None:
        self.budget = as_int(budget, "budget", minimum=8)
        self.seed = as_seed(seed)
        self.n_threads = n_threads
        as_threads(n_threads)
        self.progress = progress
        self.holdout = as_int(holdout, "holdout", minimum=0)
        self.screen_size = None if screen_size is None else as_int(screen_size, "screen_size", minimum=1)
        if design is None:
            design = "bernoulli" if keep is not None else "ablate"
        if design not in _REASONS:
            msg = f"design must be 'ablate', 'bernoulli' or 'uniform', got {design!r}"
            raise ValueError(msg)
        self.design = design
        self.num_ablated = num_ablated
        if keep is not None and design != "bernoulli":
            msg = f"keep={keep!r} applies to design='bernoulli' only (got design={design!r})"
            raise ValueError(msg)
        self.keep_p = 0.5 if design == "uniform" else 0.999 if keep is None else check_keep(keep)
        self.pair_pool = as_int(pair_pool, "pair_pool", minimum=0)
        self.pair_t, self.min_t = float(pair_t), float(min_t)

    def _draw(self, m: int, n: int, seed: int) -> PackedMasks:
        def draw(count: int, s: int) -> PackedMasks:
            if self.design == "ablate":
                return random_subsets(count, n, num_ablated=self.num_ablated, seed=s,
                                      n_threads=self.n_threads)
            return bernoulli(count, n, self.keep_p, seed=s, n_threads=self.n_threads)

        return distinct(draw, m, n, seed=seed, n_threads=self.n_threads)  # no call spent twice

    def design_name(self) -> str:
        """The design in the shared result vocabulary (``"ablate(1-5)"``, ``"bernoulli(keep=0.99)"``)."""
        if self.design == "ablate":
            lo, hi = self.num_ablated if isinstance(self.num_ablated, tuple) else (self.num_ablated,) * 2
            return f"ablate({lo}-{hi})"
        return "uniform" if self.design == "uniform" else f"bernoulli(keep={self.keep_p:g})"

    def _reason(self) -> str:
        lo, hi = self.num_ablated if isinstance(self.num_ablated, tuple) else (self.num_ablated,) * 2
        return _REASONS[self.design].format(p=f"{self.keep_p:g}", lo=lo, hi=hi)

    def fit(self, fn: Any, n: int | None = None, *, store: Any = "default", key: str | None = None,
            progress: bool | None = None) -> Explanation:
        """Explain ``fn`` (a value function or an Evaluator) over its ``n`` components."""
        from ..evaluation.evaluator import as_evaluator

        t0 = time.perf_counter()
        ev = as_evaluator(fn, n, store=store, key=key, progress=self.progress if progress is None else progress)
        n, calls0 = ev.n, ev.calls
        seeds = np.random.SeedSequence(self.seed).generate_state(3, dtype=np.uint32)
        train = PackedMasks.concat([pack(np.ones((1, n), bool)), self._draw(self.budget - 1, n, int(seeds[0]))])
        t = time.perf_counter()
        y = np.asarray(ev(train), dtype=np.float64)
        t_model = time.perf_counter() - t
        if y.ndim != 1:
            msg = f"method='screened' explains one scalar output per mask; the value function returned shape {y.shape}"
            raise ValueError(msg)
        t = time.perf_counter()
        keep = self.screen_size if self.screen_size is not None else min(n, max(32, self.budget // 8))
        # Fit features: Walsh signs 1 - 2x under the uniform design (orthogonal there), ablation
        # indicators 1 - x under a local one (the expansion around the all-kept input).
        beta = -2.0 if self.design == "uniform" else -1.0
        show = self.progress if progress is None else progress
        with (stage(f"screened fit ({min(keep, n)} kept components)", show),
              blas_threads(1)):  # small dense solves: more BLAS threads only contend
            mobius, kept, fit_settings = self._screened_fit(train, y, keep, n, beta)
        t_screen = time.perf_counter() - t
        t = time.perf_counter()
        # Never below the baseline: ridge on every main effect, alone and on the screened fit's
        # residual, competes on the same folds (many small effects, e.g. a real model's
        # neurons, are lost by keeping the few best screened).
        with stage(f"ridge on all {n:,} main effects (cross-validated against the screened fit)",
                   show):
            mobius, choice = self._against_ridge(train, y, keep, n, beta, mobius, int(seeds[1]))
        fit_settings = {**fit_settings, **choice}
        coefs = indices.to_fourier(mobius)
        t_fit = time.perf_counter() - t
        r2 = None
        if self.holdout:
            t = time.perf_counter()
            test = self._draw(self.holdout, n, int(seeds[2]))
            r2 = r_squared(np.asarray(ev(test), dtype=np.float64), indices.evaluate(coefs, test))
            t_model += time.perf_counter() - t
        total = time.perf_counter() - t0
        settings = {
            "budget": self.budget, "seed": self.seed, "holdout": self.holdout,
            "design": self.design_name(), "design_reason": self._reason(),
            "fit_masks": self.budget, "holdout_masks": self.holdout,
            "method": self.method, "keep": keep, "kept": len(kept), **fit_settings,
        }
        return Explanation(
            coefficients=coefs, n=n, calls=ev.calls - calls0, baseline=float(y[0]), faithfulness=r2,
            settings=settings, diagnostics={"kept_components": kept.tolist()},
            timings={"model": t_model, "algorithm": total - t_model, "screened_fit": t_screen, "candidates": t_fit,
                     "total": total},
        )

    def _screened_fit(self, masks: PackedMasks, y: np.ndarray, keep: int, n: int, beta: float
                      ) -> tuple[Coefficients, np.ndarray, dict[str, Any]]:
        """Screen, then fit the kept components' mains and pairs: the Möbius expansion, the kept
        ids and the fit's settings."""
        order = screen(masks, y, keep)  # best first
        kept = np.sort(order)
        pool = order[: self.pair_pool]  # pairs are searched among the best screened
        mobius, info = _fit_kept(_columns(masks, kept).to_bool(), y, kept, n, beta,
                                 pool=np.searchsorted(kept, pool), pair_t=self.pair_t, min_t=self.min_t)
        return mobius, kept, info

    def _against_ridge(self, masks: PackedMasks, y: np.ndarray, keep: int, n: int, beta: float,
                       screened: Coefficients, seed: int) -> tuple[Coefficients, dict[str, Any]]:
        """The screened fit, ridge on every main effect, or the screened fit plus ridge on every
        main effect of its residual: whichever has the lowest K-fold error on the training
        masks (the simpler one wins ties), and the three scores."""
        from . import wide_ridge

        m = len(y)
        folds = min(CV_FOLDS, m)
        fold_of = np.empty(m, np.int64)
        fold_of[np.random.default_rng(seed).permutation(m)] = np.arange(m) % folds
        var = float(np.var(y)) or 1.0
        err_screen = np.zeros(m)
        fold_fits = []  # per fold: its rows, the screened fit's residual there, its predictions
        with blas_threads(1):
            for f in range(folds):
                tr, va = np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)
                fit, _, _ = self._screened_fit(masks[tr], y[tr], keep, n, beta)
                fourier = indices.to_fourier(fit)
                pred_va = indices.evaluate(fourier, masks[va])
                err_screen[va] = (y[va] - pred_va) ** 2
                fold_fits.append((tr, va, y[tr] - indices.evaluate(fourier, masks[tr]), pred_va))
        scores: list[dict[str, Any]] = [{"candidate": "screened", "cv_r2": 1.0 - float(err_screen.mean()) / var}]
        try:
            k, u = wide_ridge.gram(masks, beta)
        except ValueError as err:
            scores.append({"candidate": RIDGE, "not_fitted": str(err)})
            return screened, {"candidates": scores, "chosen": "screened"}
        eig = wide_ridge.spectrum(k)  # one decomposition for both ridge fits
        ridge, info = wide_ridge.ridge_main_effects(masks, y, beta, k=k, u=u, eig=eig)
        err_ridge = wide_ridge.fold_errors(k, y, fold_of, folds, info["alpha"])
        # Strong terms and many small ones (a real model's neurons): the screened fit takes the
        # first, ridge on its residual the rest; each fold's residual is its own fold fit's.
        resid = y - indices.evaluate(indices.to_fourier(screened), masks)
        rest, rest_info = wide_ridge.ridge_main_effects(masks, resid, beta, k=k, u=u, eig=eig)
        err_both = np.zeros(m)
        for tr, va, resid_tr, pred_va in fold_fits:
            if len(tr) >= 2:
                ridge_va = wide_ridge.predict_fold(k, tr, va, resid_tr, rest_info["alpha"])
                err_both[va] = (y[va] - pred_va - ridge_va) ** 2
        scores += [{"candidate": RIDGE, "cv_r2": 1.0 - float(err_ridge.mean()) / var, "alpha": info["alpha"]},
                   {"candidate": SCREENED_PLUS_RIDGE, "cv_r2": 1.0 - float(err_both.mean()) / var,
                    "alpha": rest_info["alpha"]}]
        fits: list[tuple[Coefficients, float, dict[str, Any]]] = [
                (screened, float(err_screen.mean()), {"chosen": "screened"}),
                (ridge, float(err_ridge.mean()), {"chosen": RIDGE, "main_terms": n, "pair_terms": 0}),
                (_add(screened, rest), float(err_both.mean()), {"chosen": SCREENED_PLUS_RIDGE, "main_terms": n})]
        best = fits[0] if fits[0][1] <= fits[1][1] else fits[1]
        # the sum has the most terms: it must earn them by TIE_R2 of cross-validated R² (on a
        # sparse function the residual is noise, and a ridge of noise is only rounding)
        if fits[2][1] < best[1] - TIE_R2 * var:
            best = fits[2]
        return best[0], {"candidates": scores, **best[2]}


def _add(a: Coefficients, b: Coefficients) -> Coefficients:
    """The sum of two Möbius expansions over the same components."""
    terms = a.to_dict()
    for support, value in b.to_dict().items():
        terms[support] = terms.get(support, 0.0) + value
    return Coefficients.from_dict(terms, n=a.n, basis="mobius")


def _ols(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares with a tiny ridge: coefficients, their t statistics and the residual."""
    gram = a.T @ a
    ridge = 1e-8 * float(np.trace(gram)) / max(len(gram), 1)
    inv = np.linalg.inv(gram + (ridge or 1e-12) * np.eye(len(gram)))
    coef = inv @ (a.T @ y)
    resid = y - a @ coef
    dof = max(len(y) - a.shape[1], 1)
    se = np.sqrt(np.maximum(np.diag(inv), 0.0) * float(resid @ resid) / dof)
    return coef, np.abs(coef) / np.maximum(se, 1e-300), resid


def _fit_kept(x: np.ndarray, y: np.ndarray, kept: np.ndarray, n: int, beta: float, *, pool: np.ndarray,
              pair_t: float, min_t: float) -> tuple[Coefficients, dict[str, Any]]:
    """Mains of the kept columns, then pairs among the ``pool`` columns (the best screened) that
    explain the residual, on features u = 1 + beta·x; the result as a Möbius expansion over all ``n``."""
    m, k = x.shape
    if k == 0:
        return Coefficients(n, np.array([0, 0]), np.zeros(0, np.int32), np.array([float(y.mean())]), "mobius"), {}
    u = 1.0 + beta * x.astype(np.float64)
    design = np.hstack([np.ones((m, 1)), u])
    coef, t, resid = _ols(design, y)
    pool_cols = np.asarray(pool, dtype=np.int64)
    pairs: list[tuple[int, int]] = []
    if len(pool_cols) >= 2:
        a_idx, b_idx = np.triu_indices(len(pool_cols), 1)
        ca, cb = pool_cols[a_idx], pool_cols[b_idx]
        r = resid - resid.mean()
        sd = float(np.sqrt(r @ r / max(m - 1, 1))) or 1.0
        score = np.zeros(len(ca))
        for s0 in range(0, len(ca), 2048):  # pair columns a block at a time: O(m · 2048) memory
            prods = u[:, ca[s0 : s0 + 2048]] * u[:, cb[s0 : s0 + 2048]]
            prods -= prods.mean(0)
            norms = np.sqrt(np.einsum("ij,ij->j", prods, prods))
            # a pair seen ablated together in fewer than 3 masks cannot be told from the others
            both = ((~x[:, ca[s0 : s0 + 2048]]) & (~x[:, cb[s0 : s0 + 2048]])).sum(0)
            ok = (norms > 0) & (both >= 3)
            score[s0 : s0 + 2048] = np.where(ok, (r @ prods) / np.maximum(norms, 1e-300) / sd, 0.0)
        best = np.argsort(-np.abs(score))[: max(0, m // 4 - k)]
        pairs = [(int(ca[i]), int(cb[i])) for i in best if abs(score[i]) >= pair_t]
    mains = list(range(k))
    for _ in range(5):  # fit, drop weak terms, until none is dropped; coef always matches mains/pairs
        cols = [np.ones(m)] + [u[:, j] for j in mains] + [u[:, i] * u[:, j] for i, j in pairs]
        coef, t, _ = _ols(np.column_stack(cols), y)
        keep_m = [j for j, tt in zip(mains, t[1 : 1 + len(mains)]) if tt >= min_t]
        keep_p = [p for p, tt in zip(pairs, t[1 + len(mains) :]) if tt >= min_t]
        if len(keep_m) == len(mains) and len(keep_p) == len(pairs):
            break
        mains, pairs = keep_m, keep_p
    else:
        cols = [np.ones(m)] + [u[:, j] for j in mains] + [u[:, i] * u[:, j] for i, j in pairs]
        coef, t, _ = _ols(np.column_stack(cols), y)
    c0 = float(coef[0])
    a = dict(zip(mains, coef[1 : 1 + len(mains)]))
    b = dict(zip(pairs, coef[1 + len(mains) :]))
    # u_i = 1 + beta x_i; u_i u_j = 1 + beta (x_i + x_j) + beta^2 x_i x_j
    terms: dict[tuple[int, ...], float] = {(): c0 + sum(a.values()) + sum(b.values())}
    for j, v in a.items():
        terms[(int(kept[j]),)] = terms.get((int(kept[j]),), 0.0) + beta * v
    for (i, j), v in b.items():
        for s in (i, j):
            terms[(int(kept[s]),)] = terms.get((int(kept[s]),), 0.0) + beta * v
        terms[tuple(sorted((int(kept[i]), int(kept[j]))))] = beta * beta * v
    return Coefficients.from_dict(terms, n=n, basis="mobius"), {"main_terms": len(a), "pair_terms": len(b)}
