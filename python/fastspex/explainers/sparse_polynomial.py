"""Sparse Möbius polynomial proxy on ablation masks (``x ∈ {0,1}ⁿ``, 1 = kept).

:func:`fit_sparse_polynomial` fits ``f(x) ≈ a₀ + Σ aᵢxᵢ + Σ a_ij xᵢx_j`` by elastic-net
coordinate descent over *every* main effect and pair product, without materialising the
``n(n-1)/2`` pair columns (a streaming all-pairs gradient scan keeps a bounded pool of the
pairs most correlated with the residual, and Cauchy–Schwarz bounds certify the KKT conditions
for all others), along a warm-started penalty path; k-fold cross-validation picks the penalty
and an (almost) unpenalised least-squares refit removes the shrinkage on the chosen support.
The result's :class:`~fastspex.coefficients.Coefficients` are in the Möbius basis. Takes packed
masks or ``(m, n)`` bool/0-1 arrays, is deterministic for a seed, and runs in the C++ core with
the GIL released.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .. import _core, errors
from .._validate import as_int, as_seed, as_threads
from ..coefficients import Coefficients
from ..indices import evaluate
from ..masks import MaskLike, PackedMasks, as_packed
from ..pairs import PairScores, RankBy, top_pairs
from ._proxy_inputs import (
    ProxyExplainer,
    _all_terms,
    _coefficients,
    _masks_and_targets,
    _standardize,
    _terms_from_supports,
    _threads,
)

__all__ = [
    "SparsePolynomial",
    "SparsePolynomialPath",
    "SparsePolynomialResult",
    "fit_sparse_polynomial",
    "sparse_polynomial_memory",
    "sparse_polynomial_path",
]

Screening = Literal["scan", "explicit"]
Selection = Literal["min", "1se"]
MAX_EXPLICIT_PAIRS = 2_000_000
POLY_WAY_OUT = ('use fewer components (group them), max_order=1 or a smaller pool=, '
                'or method="spex", whose memory grows with the number of masks only')
# The path's defaults, set in C++ (regression.hpp).
_PATH_DEFAULTS = _core.PathOptions()


def sparse_polynomial_memory(
    n: int, m: int, *, max_order: int = 2, n_terms: int | None = None, pool: int | None = None,
    cv: int | None = 5, max_features: int | None = None, n_threads: int | None = None,
) -> int:
    """Peak bytes :func:`fit_sparse_polynomial` allocates for ``m`` masks of ``n`` components.

    The figures follow the core's allocations: the transposed bit columns and their popcounts
    (``n·(8⌈m/64⌉ + 8)``); for the all-pairs scan the ``m×n`` float copy of the design, per
    thread a 64-row float tile of the pair gradients (``64·n`` floats) and a candidate list of up
    to ``min(2·pool, 64·n)`` 16-byte entries, the merged list (``2·pool`` more), and the pool
    itself (a term and two doubles per candidate, plus the scan's output); for a fixed candidate
    list (``n_terms``, and every cross-validation fold) 41 bytes per candidate and the
    candidate × working-set covariances; the working-set Gram (two copies while it grows). The path and the folds run one
    after the other, so the peak is the larger of the two.
    """
    n, m = as_int(n, "n", minimum=1), as_int(m, "m", minimum=1)
    threads = _threads(n_threads)
    words_m = (m + 63) // 64
    bitcols = n * (8 * words_m + 8)
    mf = min(m // 2, 2000) if max_features is None else int(max_features)
    k = mf + 1  # working-set size at the last penalty solved
    cap = 64
    while cap < k:
        cap *= 2
    gram = 16 * cap * cap  # the Gram at its doubled capacity, while the old one is copied
    scan = n_terms is None and max_order >= 2 and n >= 2
    all_pairs = n * (n - 1) // 2

    def fixed(p: int) -> int:
        return 41 * p + 8 * p * k

    if scan:
        keep = min(max(4096, 32 * n) if pool is None else int(pool), all_pairs)
        local = min(2 * keep, 64 * n)
        blocks = (n + 63) // 64
        t = min(threads, blocks)
        path = (bitcols + 4 * m * n + t * (4 * 64 * n + 4 * 64 * m + 16 * local)
                + 16 * (2 * keep + local) + 24 * (n + keep) + 8 * keep + gram + k * 8 * words_m)
    else:
        p = n if n_terms is None else int(n_terms)
        path = bitcols + fixed(p) + gram
    fold_cost = 0
    if cv is not None:
        folds = int(cv)
        cand = n + min(all_pairs, 2 * k) if scan else (n if n_terms is None else int(n_terms))
        per_fold = 2 * bitcols + fixed(cand) + gram + 8 * m
        fold_cost = min(threads, folds) * per_fold + 8 * cand + 4 * m
    # x1.25: vector growth and allocator overhead (measured peaks were 1.2x the raw sum at
    # n = 2e4, m = 20 and n = 5e3, m = 400)
    return int(1.25 * (max(path, fold_cost) + 8 * m))


@dataclass(frozen=True)
class SparsePolynomialPath:
    """The elastic-net path: ``coef(k)`` are the coefficients at ``alphas[k]``.

    ``terms_a``/``terms_b`` list every term that entered the working set (``b = -1`` for a main
    effect); coefficients at penalty ``k`` are ``(coef_terms, coef_values)[indptr[k]:indptr[k+1]]``
    (indices into the term list). ``objectives`` are the elastic-net objective values,
    ``scans`` the number of all-pairs gradient scans and ``exact_checks`` the candidate
    gradients recomputed exactly while certifying the KKT conditions.
    """

    n: int
    alphas: np.ndarray
    alpha_max: float
    terms_a: np.ndarray
    terms_b: np.ndarray
    indptr: np.ndarray
    coef_terms: np.ndarray
    coef_values: np.ndarray
    intercepts: np.ndarray
    objectives: np.ndarray
    sweeps: np.ndarray
    scans: int
    exact_checks: int

    def __len__(self) -> int:
        return len(self.alphas)

    def coefficients(self, k: int) -> Coefficients:
        """The (penalised) Möbius coefficients at ``alphas[k]``, intercept included."""
        k = as_int(k, "k")
        if not -len(self) <= k < len(self):
            msg = f"k = {k} is out of range for a path of {len(self)} penalties"
            raise IndexError(msg)
        k %= len(self)
        lo, hi = int(self.indptr[k]), int(self.indptr[k + 1])
        t = self.coef_terms[lo:hi]
        return _coefficients(self.n, float(self.intercepts[k]), self.terms_a[t], self.terms_b[t],
                             self.coef_values[lo:hi])

    def dense(self, supports: list[tuple[int, ...]]) -> np.ndarray:
        """``(len(alphas), len(supports))`` coefficient matrix for the given supports."""
        col = {s: c for c, s in enumerate(supports)}
        out = np.zeros((len(self), len(supports)))
        for k in range(len(self)):
            for t, v in zip(self.coef_terms[self.indptr[k]:self.indptr[k + 1]],
                            self.coef_values[self.indptr[k]:self.indptr[k + 1]]):
                a, b = int(self.terms_a[t]), int(self.terms_b[t])
                s = (a,) if b < 0 else (a, b)
                if s in col:
                    out[k, col[s]] = v
        return out


def _path_options(l1_ratio: float, tol: float, max_sweeps: int) -> tuple[float, float, int]:
    l1_ratio = float(l1_ratio)
    if not 0.0 < l1_ratio <= 1.0:
        msg = f"l1_ratio must lie in (0, 1], got {l1_ratio}"
        raise ValueError(msg)
    tol = float(tol)
    if not tol > 0:
        msg = f"tol must be positive, got {tol}"
        raise ValueError(msg)
    return l1_ratio, tol, as_int(max_sweeps, "max_sweeps", minimum=1)


def _alpha_array(alphas: object) -> np.ndarray:
    if alphas is None:
        return np.empty(0, np.float64)
    arr = np.ascontiguousarray(np.asarray(alphas, dtype=np.float64).ravel())
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        msg = "alphas must be a non-empty sequence of finite values >= 0"
        raise ValueError(msg)
    return np.ascontiguousarray(np.sort(arr)[::-1])


def sparse_polynomial_path(
    masks: MaskLike,
    y: object,
    *,
    max_order: int = 2,
    terms: Iterable[Iterable[int]] | None = None,
    l1_ratio: float = _PATH_DEFAULTS.l1_ratio,
    alphas: object = None,
    n_alphas: int = 100,
    eps: float | None = None,
    max_features: int | None = None,
    pool: int | None = None,
    tol: float = _PATH_DEFAULTS.tol,
    max_sweeps: int = _PATH_DEFAULTS.max_sweeps,
    screening: Screening = "scan",
    n_threads: int | None = None,
) -> SparsePolynomialPath:
    """The elastic-net path of ``y`` on main effects and pair products of the masks.

    Minimises ``(1/2m)‖y − a₀ − Xβ‖² + α(ρ‖β‖₁ + (1−ρ)/2‖β‖²)`` (scikit-learn's ElasticNet
    objective, ``ρ = l1_ratio``, unstandardised 0/1 columns) at each penalty, warm-started.

    Args:
        masks: packed masks or an ``(m, n)`` bool/0-1 array.
        y: ``(m,)`` targets.
        max_order: 1 (main effects only) or 2 (plus all pairs).
        terms: restrict the candidates to these supports (size 1 or 2) instead of all of them.
        l1_ratio: ``ρ`` in (0, 1]; 1 is the lasso.
        alphas: penalties (sorted descending); default ``n_alphas`` values from the smallest
            penalty with all-zero coefficients down to ``eps`` times it, geometrically.
        eps: default 1e-3 when there are fewer candidates than masks, else 1e-2 (glmnet's rule).
        max_features: stop the path once more terms are active (default ``min(m // 2, 2000)``).
        pool: pairs kept with their gradient between all-pairs scans (default ``max(4096, 32n)``).
        tol: a solve stops when no coordinate step reduces the loss by more than ``tol·‖y−ȳ‖²``.
        screening: "scan" streams the all-pairs gradient in GEMM tiles (never storing the pair
            columns); "explicit" lists every pair as a candidate (small n only).
        n_threads: threads (default: all cores).
    """
    packed, targets = _masks_and_targets(masks, y, "sparse_polynomial_path")
    return _path(packed, targets, "sparse_polynomial_path", max_order=max_order, terms=terms,
                 l1_ratio=l1_ratio, alphas=alphas, n_alphas=n_alphas, eps=eps,
                 max_features=max_features, pool=pool, tol=tol, max_sweeps=max_sweeps,
                 screening=screening, n_threads=n_threads, cv=None)


def _path(
    packed: PackedMasks, targets: np.ndarray, what: str, *, max_order: int,
    terms: Iterable[Iterable[int]] | None, l1_ratio: float, alphas: object, n_alphas: int,
    eps: float | None, max_features: int | None, pool: int | None, tol: float, max_sweeps: int,
    screening: Screening, n_threads: int | None, cv: int | None,
) -> SparsePolynomialPath:
    n, m = packed.n, len(packed)
    max_order = as_int(max_order, "max_order", minimum=1)
    if max_order > 2:
        msg = f"max_order must be 1 or 2 (pairs), got {max_order}"
        raise ValueError(msg)
    l1_ratio, tol, max_sweeps = _path_options(l1_ratio, tol, max_sweeps)
    if screening not in ("scan", "explicit"):
        msg = f"screening must be 'scan' or 'explicit', got {screening!r}"
        raise ValueError(msg)
    if max_features is None:
        max_features = min(m // 2, 2000)
    max_features = as_int(max_features, "max_features", minimum=0)
    pool = 0 if pool is None else as_int(pool, "pool", minimum=1)
    scan = False
    if terms is not None:
        ta, tb = _terms_from_supports(terms, n)
    elif max_order == 1 or n < 2:
        ta, tb = _all_terms(n, 1)
    elif screening == "explicit":
        if n * (n - 1) // 2 > MAX_EXPLICIT_PAIRS:
            msg = f"screening='explicit' lists n(n-1)/2 = {n * (n - 1) // 2} pairs; use 'scan'"
            raise ValueError(msg)
        ta, tb = _all_terms(n, 2)
    else:
        ta, tb = np.empty(0, np.int32), np.empty(0, np.int32)
        scan = True
    errors.check_memory(
        sparse_polynomial_memory(n, m, max_order=max_order if scan else 1,
                                 n_terms=None if scan else len(ta), pool=pool or None, cv=cv,
                                 max_features=max_features, n_threads=n_threads),
        what, POLY_WAY_OUT)
    candidates = (n + n * (n - 1) // 2) if scan else len(ta)
    if eps is None:
        eps = 1e-3 if candidates < m else 1e-2
    eps = float(eps)
    if not 0.0 < eps < 1.0:
        msg = f"eps must lie in (0, 1), got {eps}"
        raise ValueError(msg)
    # The lasso is equivariant under y -> (y - c)/s with alpha -> alpha/s; the elastic net's
    # ridge term is not, so it is only centred.
    z, centre, spread = _standardize(targets, what, scale=l1_ratio == 1.0)
    d = _core.poly_path(
        packed.words, n, z, ta, tb, scan, np.ascontiguousarray(_alpha_array(alphas) / spread),
        as_int(n_alphas, "n_alphas", minimum=1), eps, l1_ratio, tol, max_sweeps, max_features,
        pool, as_threads(n_threads),
    )
    # Back to the units of y: coefficients and penalties scale with the spread, the objective
    # with its square, and the centre goes on the intercept.
    return SparsePolynomialPath(
        n=n, alphas=d["alphas"] * spread, alpha_max=float(d["alpha_max"]) * spread,
        terms_a=d["terms_a"], terms_b=d["terms_b"], indptr=d["indptr"],
        coef_terms=d["coef_terms"], coef_values=d["coef_values"] * spread,
        intercepts=centre + spread * d["intercepts"], objectives=d["objectives"] * spread**2,
        sweeps=d["sweeps"], scans=int(d["scans"]), exact_checks=int(d["exact_checks"]),
    )


@dataclass(frozen=True)
class SparsePolynomialResult:
    """A fitted sparse polynomial proxy.

    ``coefficients`` (Möbius basis, intercept as the empty set) are the refit on the support
    chosen by cross-validation (or the penalised ones with ``refit=False``); ``alpha`` the chosen
    penalty, ``path`` the full-data path, ``cv_mse`` the ``(folds, len(path.alphas))`` held-out
    errors (None without CV).
    """

    coefficients: Coefficients
    n: int
    alpha: float
    alpha_index: int
    path: SparsePolynomialPath
    cv_mse: np.ndarray | None
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def predict(self, masks: MaskLike, *, n_threads: int | None = None) -> np.ndarray:
        """The proxy's value on each mask."""
        return evaluate(self.coefficients, as_packed(masks, self.n), n_threads=n_threads)

    def top_pairs(self, k: int = 10, *, index: str = "mobius", by: RankBy = "magnitude") -> PairScores:
        """The ``k`` best pairs under a pair index of the fitted polynomial."""
        return top_pairs(self.coefficients, k, index=index, by=by)  # type: ignore[arg-type]  # index is checked by top_pairs

    @property
    def cv_mean(self) -> np.ndarray | None:
        """Mean held-out MSE per penalty."""
        return None if self.cv_mse is None else self.cv_mse.mean(axis=0)


def fit_sparse_polynomial(
    masks: MaskLike,
    y: object,
    *,
    max_order: int = 2,
    l1_ratio: float = _PATH_DEFAULTS.l1_ratio,
    alphas: object = None,
    n_alphas: int = 100,
    eps: float | None = None,
    cv: int | None = 5,
    selection: Selection = "1se",
    refit: bool = True,
    refit_ridge: float = 1e-8,
    prune_t: float | None = 4.0,
    seed: int | None = 0,
    screening: Screening = "scan",
    terms: Iterable[Iterable[int]] | None = None,
    max_features: int | None = None,
    pool: int | None = None,
    tol: float = _PATH_DEFAULTS.tol,
    max_sweeps: int = _PATH_DEFAULTS.max_sweeps,
    n_threads: int | None = None,
) -> SparsePolynomialResult:
    """Fit a sparse Möbius polynomial proxy ``a₀ + Σ aᵢxᵢ + Σ a_ij xᵢx_j`` to ``(masks, y)``.

    The path over all candidates is solved on the full data (see :func:`sparse_polynomial_path`
    for the penalty grid and options). With ``cv`` folds (seeded split), each fold's path is
    solved on every main effect plus the pairs that entered the full-data path — the pairs of
    the full scan are screened once, on all data — and the penalty with the lowest mean held-out
    error (``selection="min"``) or the largest penalty within one standard error of it
    (``"1se"``, sparser) is chosen. ``cv=None`` takes the last penalty of the path. The support
    at that penalty is then refit by least squares with a tiny ridge (``refit_ridge`` times the
    mean Gram diagonal) unless ``refit=False``; cross-validation then scores that refit on each
    penalty's support (the relaxed lasso). With ``prune_t``, terms whose refit t-statistic
    ``|aⱼ| / se(aⱼ)`` is below it are dropped and the rest refit, until none is: the lasso in
    the Möbius basis keeps small compensating terms (products are correlated with their
    factors), which this removes.
    """
    t0 = time.perf_counter()
    packed, targets = _masks_and_targets(masks, y, "fit_sparse_polynomial")
    if selection not in ("min", "1se"):
        msg = f"selection must be 'min' or '1se', got {selection!r}"
        raise ValueError(msg)
    if prune_t is not None:
        prune_t = float(prune_t)
        if not prune_t >= 0:
            msg = f"prune_t must be >= 0 or None, got {prune_t}"
            raise ValueError(msg)
    refit_ridge = float(refit_ridge)
    if not refit_ridge >= 0:
        msg = f"refit_ridge must be >= 0, got {refit_ridge}"
        raise ValueError(msg)
    m = len(packed)
    if cv is not None:
        cv = as_int(cv, "cv", minimum=2)
        if cv > m:
            msg = f"cv = {cv} folds needs at least {cv} masks, got {m}"
            raise ValueError(msg)
    threads = as_threads(n_threads)
    path = _path(
        packed, targets, "fit_sparse_polynomial", max_order=max_order, terms=terms,
        l1_ratio=l1_ratio, alphas=alphas, n_alphas=n_alphas, eps=eps, max_features=max_features,
        pool=pool, tol=tol, max_sweeps=max_sweeps, screening=screening, n_threads=n_threads, cv=cv,
    )
    # The same standardisation as the path's: cross-validation and the refit see outputs of
    # order one; their results go back to the units of y below.
    z, centre, spread = _standardize(targets, "fit_sparse_polynomial", scale=float(l1_ratio) == 1.0)
    t_path = time.perf_counter()
    n = packed.n
    cv_mse = None
    k = len(path) - 1
    if cv is not None:
        rng = np.random.default_rng(as_seed(seed))
        fold_of = np.empty(m, np.int32)
        fold_of[rng.permutation(m)] = np.arange(m) % cv
        if terms is not None:
            ca, cb = _terms_from_supports(terms, n)
        else:
            pairs = path.terms_b >= 0
            ca = np.concatenate([np.arange(n, dtype=np.int32), path.terms_a[pairs]])
            cb = np.concatenate([np.full(n, -1, np.int32), path.terms_b[pairs]])
        l1, tol_, sweeps = _path_options(l1_ratio, tol, max_sweeps)
        mf = min(m // 2, 2000) if max_features is None else as_int(max_features, "max_features", minimum=0)
        cv_mse = _core.poly_cv_mse(
            packed.words, n, z, np.ascontiguousarray(ca), np.ascontiguousarray(cb),
            np.ascontiguousarray(path.alphas / spread), fold_of, cv, refit_ridge if refit else -1.0,
            l1, tol_, sweeps, mf, threads,
        ) * spread**2
        k = _select(cv_mse, selection)
    t_cv = time.perf_counter()
    lo, hi = int(path.indptr[k]), int(path.indptr[k + 1])
    t = path.coef_terms[lo:hi]
    ta, tb = np.ascontiguousarray(path.terms_a[t]), np.ascontiguousarray(path.terms_b[t])
    if refit and len(t):
        b0, values, ta, tb = _refit(packed, z, ta, tb, refit_ridge, prune_t, threads)
        b0, values = centre + spread * b0, values * spread
    else:
        b0, values = float(path.intercepts[k]), path.coef_values[lo:hi]
    coefs = _coefficients(n, float(b0), ta, tb, np.asarray(values, np.float64))
    t_end = time.perf_counter()
    settings = {
        "max_order": int(max_order), "l1_ratio": float(l1_ratio), "n_alphas": len(path.alphas),
        "cv": cv, "selection": selection, "refit": bool(refit), "refit_ridge": refit_ridge,
        "prune_t": prune_t,
        "seed": seed, "screening": screening if terms is None else "terms", "tol": float(tol),
        "y_centre": centre, "y_spread": spread,
    }
    timings = {"path": t_path - t0, "cv": t_cv - t_path, "refit": t_end - t_cv, "algorithm": t_end - t0}
    return SparsePolynomialResult(coefs, n, float(path.alphas[k]), int(k), path, cv_mse, settings, timings)


def _refit(
    packed: PackedMasks, y: np.ndarray, ta: np.ndarray, tb: np.ndarray, ridge: float,
    prune_t: float | None, threads: int,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    m = len(packed)
    while True:
        b0, values, rss, inv_diag = _core.poly_refit(packed.words, packed.n, y, ta, tb, ridge, threads)
        dof = m - len(ta) - 1
        if prune_t is None or len(ta) == 0 or len(inv_diag) == 0 or dof < 1:
            return float(b0), values, ta, tb
        se = np.sqrt(max(rss / dof, 0.0) * np.maximum(inv_diag, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            tstat = np.where(se > 0, np.abs(values) / se, np.inf)
        keep = tstat >= prune_t
        if np.all(keep):
            return float(b0), values, ta, tb
        ta, tb = np.ascontiguousarray(ta[keep]), np.ascontiguousarray(tb[keep])


def _select(cv_mse: np.ndarray, selection: Selection) -> int:
    complete = np.all(np.isfinite(cv_mse), axis=0)
    if not np.any(complete):
        msg = "cross-validation produced no complete column of errors"
        raise RuntimeError(msg)
    usable = np.flatnonzero(complete)
    mean = cv_mse[:, usable].mean(axis=0)
    best = int(np.argmin(mean))
    if selection == "min":
        return int(usable[best])
    se = cv_mse[:, usable[best]].std(ddof=1) / np.sqrt(cv_mse.shape[0])
    within = np.flatnonzero(mean <= mean[best] + se)
    return int(usable[within[0]])  # largest penalty (alphas are descending)


class SparsePolynomial(ProxyExplainer):
    """Explainer: a sparse Möbius polynomial (mains and pairs, lasso path, CV, refit) fitted to
    ``budget − 1`` uniform masks and the all-kept mask. ``options`` go to
    :func:`fit_sparse_polynomial` (e.g. ``max_order``, ``l1_ratio``, ``cv``)."""

    method = "lasso"

    def _fit_function(self) -> Any:
        return fit_sparse_polynomial

    def _expansion(self, fit: Any) -> tuple[Coefficients, dict[str, Any]]:
        return fit.coefficients, {}
