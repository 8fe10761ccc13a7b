"""The odd half of a Shapley surrogate, fitted on its own: what the Shapley values depend on.

Write ``f = f_odd + f_even`` with ``f_odd(S) = (f(S) − f(Sᶜ))/2``: the odd-order Fourier terms
and the even ones. The Shapley value of every component depends on the odd terms alone (an even
function's marginal contributions cancel between ``S`` and its complement, whose Shapley weights
are equal), and so do the singletons of SII (which are the Shapley values); the SII, FSII and
FBII pairs depend on the even terms alone, k-SII and FSII singletons on both (checked in
``docs/estimation-notes.md``). On a paired design (every mask evaluated with its complement) ``f_odd`` is
*observed* at every pair, so the even half, which can carry most of the variance of ``f``, drops
out of the Shapley values' estimate instead of acting as noise in it (the idea behind OddSHAP,
Fumagalli et al. 2026; the fit below is ours):

1. a tree proxy is trained on ``f_odd`` alone (both masks of each pair, antisymmetric labels)
   and its odd terms of order ≥ 3 are read off exactly (:func:`trees.booster_fourier`), largest
   first;
2. ``f_odd`` is regressed, Shapley-kernel weighted, on the main effects plus the top ``K`` of
   those terms, with one penalty on the main effects and a larger one on the rest; ``K`` and
   both penalties are chosen by exact leave-one-out error over the *pairs* (one row per pair: a
   mask and its complement carry the same equation, so leaving one row out while its twin stays
   would score nothing);
3. the result replaces the odd terms of the surrogate (the even terms, hence every pair index,
   are untouched); :func:`shapley_refit.correct` then restores ``g(∅) = f(∅)``, ``g(N) = f(N)``.

Measured against the surrogate's own odd terms on exactly enumerable MiniLM games and a planted
noisy function (``docs/estimation-notes.md``): SV MSE 0.67–0.93x at 128 masks, 0.81x in the
median over budgets 128–2,048. It runs only when the design is paired (``antithetic``) and has
more pairs than main effects; otherwise the refit's odd terms stay. The search over ``K`` stops
at :data:`MAX_WORK` (about a second of SVDs on one core: ``K`` up to 256 at n ≤ 20 and 2,048
masks, 2 at n = 270 and 4,000 masks; where not even ``K = 2`` fits in it, the refit's odd terms
stay).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..coefficients import Coefficients
from . import trees

__all__ = ["MAX_UNKNOWNS", "MAX_WORK", "fit", "pair_rows"]

#: Most unknowns (main effects + higher odd terms) of the odd regression.
MAX_UNKNOWNS = 2000
#: Bound on the SVD work of the search over K (sum of rows x unknowns² over the fits tried, about
#: a second on one core): K up to 256 at n = 14 and 2,048 masks, up to 2 at n = 270 and 4,000
#: masks; where not even K = 2 fits in it, the refit's odd terms are kept.
MAX_WORK = 1e9
#: The odd tree proxy: fixed, modest settings (measured: 300–1,000 rounds, 8–16 leaves and
#: learning rates 0.02–0.05 land within seed noise of each other on every game tried).
ROUNDS, LEAVES, LEARNING_RATE = 300, 8, 0.05
#: Penalty on the main effects relative to the kernel mass of the pairs, and the ratio of the
#: penalty on the higher odd terms to it.
_MAIN_ALPHAS = np.logspace(-6, -1, 6)
_RATIOS = (1.0, 10.0, 100.0, 1000.0)


def pair_rows(x: np.ndarray, constraint: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """For each pair of complementary masks (the constraint masks left out), the row of each:
    ``(first, second)`` with ``first < second``; ``None`` unless every other mask has its
    complement in ``x``."""
    packed = np.packbits(x, axis=1)
    flipped = np.packbits(~x, axis=1)
    row_of = {r.tobytes(): i for i, r in enumerate(packed)}
    partner = np.array([row_of.get(r.tobytes(), -1) for r in flipped])
    free = ~np.asarray(constraint, dtype=bool)
    if (partner[free] < 0).any():
        return None
    idx = np.arange(len(x))
    first = np.flatnonzero(free & (idx < partner))
    return first, partner[first]


def _odd_terms(expansion: Coefficients) -> list[tuple[int, ...]]:
    """The odd-order (≥ 3) sets of a Fourier expansion, largest |coefficient| first."""
    orders = expansion.orders()
    values = np.abs(expansion.values)
    pick = np.flatnonzero((orders >= 3) & (orders % 2 == 1))
    pick = pick[np.argsort(-values[pick], kind="stable")]
    ip, ix = expansion.indptr, expansion.indices
    return [tuple(int(i) for i in ix[ip[j]:ip[j + 1]]) for j in pick]


def _loo(a: np.ndarray, b: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge of ``b`` on ``a`` (no intercept: odd functions have none), every penalty at once
    from one SVD: the leave-one-out squared error per penalty, and the coefficients per penalty."""
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    s2 = sv * sv
    uty = u.T @ b
    errs = np.full(len(alphas), np.inf)
    coefs = np.zeros((len(alphas), a.shape[1]))
    for k, alpha in enumerate(alphas):
        shrink = s2 / (s2 + alpha)
        hat = (u * u) @ shrink
        if float(hat.max(initial=0.0)) > 1.0 - 1e-8:
            continue
        resid = (b - u @ (shrink * uty)) / (1.0 - hat)
        errs[k] = float(resid @ resid)
        coefs[k] = vt.T @ (sv / (s2 + alpha) * uty)
    return errs, coefs


def fit(x: np.ndarray, z: np.ndarray, weights: np.ndarray, constraint: np.ndarray, *,
        params: dict[str, Any], surrogate: Coefficients | None = None,
        n_threads: int | None = None
        ) -> tuple[dict[tuple[int, ...], float] | None, dict[str, Any]]:
    """The odd Fourier terms of ``z`` on the paired design ``x`` (module docstring).

    ``weights`` are the Shapley-kernel weights of the masks, ``constraint`` flags the empty and
    all-kept masks, ``params`` the LightGBM settings the tree proxy starts from. ``surrogate``
    (the proxy's refit of ``z``) offers its own higher odd terms as a second candidate basis,
    scored by the same leave-one-out error (a proxy of the whole function can find odd terms
    that a proxy of the odd half misses, and the other way round). Returns the odd
    expansion (main effects and the chosen higher odd terms; ``None`` when the design is not
    paired or has no more pairs than main effects) and what was chosen.
    """
    import lightgbm as lgb

    from .proxyspex import fourier_features  # proxyspex imports this module at its top

    x = np.asarray(x, dtype=bool)
    z = np.asarray(z, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    m, n = x.shape
    pairs = pair_rows(x, constraint)
    if pairs is None:
        return None, {"skipped": "the design is not paired"}
    first, second = pairs
    rows = len(first)
    if n + 2 > rows or n > MAX_UNKNOWNS:
        return None, {"skipped": f"{n} main effects from {rows} pairs"}
    d = (z[first] - z[second]) / 2.0  # f_odd at the first mask of each pair (−d at the second)
    pair_w = w[first] + w[second]  # the kernel is symmetric: each pair carries both masks' weight
    sw = np.sqrt(pair_w)
    if n <= 20 and rows + 1 >= 1 << (n - 1):
        # every coalition evaluated: the unpenalised kernel fit of the main effects *is* the
        # Shapley value (no sampling error to regularise, nothing for more terms to add)
        s = 1.0 - 2.0 * x[first]
        coef = np.linalg.lstsq(s * sw[:, None], d * sw, rcond=None)[0]
        return ({(i,): float(v) for i, v in enumerate(coef)},
                {"pairs": int(rows), "higher_terms": 0, "complete_design": True})
    booster_x = np.concatenate([x[first], x[second]]).view(np.uint8)
    tree_params = trees.histogram_layout(
        {**params, "num_leaves": LEAVES, "learning_rate": LEARNING_RATE, "max_depth": -1}, n)
    booster = lgb.train(tree_params, lgb.Dataset(booster_x, np.concatenate([d, -d]),
                                                 params={"max_bin": 2, "verbosity": -1}),
                        num_boost_round=ROUNDS)
    bases = {"odd proxy": _odd_terms(trees.booster_fourier(trees.tree_arrays(booster, n=n),
                                                          n_threads=n_threads))}
    if surrogate is not None:
        bases["surrogate"] = _odd_terms(surrogate)
    # every basis's columns once, main effects first, up to the most terms any fit may take
    # (each fit costs rows x unknowns² of the work bound)
    cap = min(MAX_UNKNOWNS, rows - 2, int(math.sqrt(MAX_WORK / rows)))
    columns = {basis: fourier_features(Coefficients.from_dict(
                   dict.fromkeys([(i,) for i in range(n)] + higher[:max(0, cap - n)], 1.0), n),
                   x[first]) * sw[:, None]
               for basis, higher in bases.items()}
    total = float(pair_w.sum())
    b = d * sw
    best: tuple[float, str, int, float, float, np.ndarray] | None = None
    work, tried_higher = 0.0, False
    for k in [0] + [2 ** j for j in range(1, 12)]:
        if n + k >= rows - 1 or n + k > MAX_UNKNOWNS or work > MAX_WORK:
            break
        for basis, higher in bases.items():
            if (k == 0 and basis != "odd proxy") or k > len(higher):
                continue  # K = 0 is the same fit for every basis
            ratios = _RATIOS if k else _RATIOS[:1]
            work += len(ratios) * rows * (n + k) ** 2
            if work > MAX_WORK:
                break
            tried_higher = tried_higher or k > 0
            a = columns[basis][:, :n + k]
            for ratio in ratios:
                # a penalty `ratio` times larger on the higher terms: the same ridge on columns
                # scaled by 1/sqrt(ratio), its coefficients scaled back
                scale = np.r_[np.ones(n), np.full(k, 1.0 / math.sqrt(ratio))]
                errs, coefs = _loo(a * scale, b, _MAIN_ALPHAS * total)
                j = int(np.argmin(errs))
                if np.isfinite(errs[j]) and (best is None or errs[j] < best[0]):
                    best = (float(errs[j]), basis, k, float(_MAIN_ALPHAS[j]), ratio, coefs[j] * scale)
    if best is None:
        return None, {"skipped": "every penalty fitted a pair exactly"}
    if not tried_higher and work > MAX_WORK:
        # the bound left only the main effects: the refit's own odd terms stay
        return None, {"skipped": f"no higher odd term within the search bound at n = {n}, "
                                 f"{rows} pairs"}
    err, basis, k, alpha, ratio, coef = best
    sets = [(i,) for i in range(n)] + bases[basis][:k]
    info = {"pairs": int(rows), "basis": basis, "higher_terms": int(k),
            "candidates": {name: len(terms) for name, terms in bases.items()},
            "main_alpha": alpha, "higher_penalty_ratio": ratio,
            "loo_mse": err / total, "odd_variance": float(np.average(d * d, weights=pair_w))}
    return {t: float(v) for t, v in zip(sets, coef) if v != 0.0}, info
