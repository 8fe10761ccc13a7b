"""Shapley-index estimation on top of a proxy: the kernel-weighted order-wise residual correction.

A proxy ``g`` (ProxySPEX's refit Fourier expansion) read exactly gives every index of ``g``
with no sampling error, but its bias, ``f − g``, passes into every index. On the masks of the
Shapley-kernel design (:mod:`fastspex.explainers.shapley_design`) the residual
``r = f − g`` is known, so its order-≤2 part is estimated by the indices' own estimator —
weighted least squares with the Shapley kernel, the empty and all-kept masks interpolated —
and added to the proxy (ProxySHAP's residual idea; here the correction is itself a Fourier
expansion, so one corrected surrogate serves every index):

1. order 1: the main effects of ``r`` by kernel-weighted ridge (the KernelSHAP problem of
   ``r``);
2. order 2: every pair of the residual of step 1, by kernel-weighted ridge on the pair
   features (``r``'s Faith-Shapley pair problem). On a paired design (every mask with its
   complement, kernel symmetric under complement) odd and even functions are orthogonal, so
   main effects (odd) and pairs (even) are two decoupled systems, each fitting its half of
   ``r`` (``(r(S) − r(Sᶜ))/2`` and ``(r(S) + r(Sᶜ))/2``), the other half's misfit kept out;
3. each ridge penalty is chosen by exact weighted leave-one-out error on the non-constraint
   masks, a near-infinite penalty (no correction) among the candidates, so the correction is
   only kept where it predicts held-out masks better than the proxy alone; an order with as
   many unknowns as masks (or more pairs than :data:`MAX_PAIRS`) is not corrected, never fitted
   under-determined, and the diagnostics (``skipped``) say so; when the design holds every
   coalition the fit is unpenalised (there is no sampling error to regularise);
4. the result interpolates ``f(∅)`` and ``f(N)`` exactly: the even constant and the odd main
   effects are shifted so both hold to rounding, hence the Shapley values add up exactly to
   ``f(N) − f(∅)`` (efficiency) and the pairs are untouched.

Consistency: as the design enumerates every coalition, step 1 gives the exact Shapley values of
``r`` (KernelSHAP is exact on the full design) and step 2 its exact Faith-Shapley pairs, so the
corrected surrogate's SV and FSII are exact whatever the proxy.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .. import indices
from ..coefficients import Coefficients

__all__ = ["MAX_ORDER", "MAX_TERMS", "correct"]

#: Most unknowns of one system (its features are dense masks x unknowns).
MAX_TERMS = 2000
#: Highest order corrected (1 and 2 always, when the masks allow; 3 and 4 are experiments).
MAX_ORDER = 2

#: Ridge penalties tried, relative to the kernel mass of the scored masks; the last is "no
#: correction" in all but name.
_ALPHAS = np.concatenate([[0.0], np.logspace(-6, 2, 17), [1e8]])


def _features(s: np.ndarray, orders: list[int]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """The Fourier features ``Π_{i∈T} s_i`` of every set ``T`` of the given orders, and the sets."""
    n = s.shape[1]
    sets = [t for k in orders for t in itertools.combinations(range(n), k)]
    cols = np.ones((s.shape[0], len(sets)))
    for j, t in enumerate(sets):
        for i in t:
            cols[:, j] *= s[:, i]
    return cols, sets


def _ridge_loo(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, scored: np.ndarray, alphas: np.ndarray,
) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Weighted ridge of ``b`` on ``a`` with an unpenalised intercept; the penalty by exact LOO.

    Returns the coefficients, the intercept, the chosen penalty and the LOO error per penalty
    (weighted mean over the ``scored`` rows; ``inf`` where a scored row is fitted exactly).
    """
    sw = np.sqrt(w)
    v = sw / np.linalg.norm(sw)
    aw = a * sw[:, None]
    bw = b * sw
    aw -= np.outer(v, v @ aw)
    bw = bw - v * (v @ bw)
    u, sv, vt = np.linalg.svd(aw, full_matrices=False)
    s2 = sv * sv
    uty = u.T @ bw
    norm = max(float(w[scored].sum()), 1e-300)
    errs = np.full(len(alphas), np.inf)
    keep = s2 > 1e-10 * max(float(s2.max(initial=0.0)), 1e-300)
    for k, alpha in enumerate(alphas):
        shrink = s2 / (s2 + alpha) if alpha > 0 else keep.astype(float)
        hat = (u * u) @ shrink + v * v
        if alpha == 0 and float(hat[scored].max(initial=0.0)) > 1.0 - 1e-6:
            continue  # a scored mask fitted exactly: no leave-one-out estimate
        resid = (bw - u @ (shrink * uty)) / np.maximum(1.0 - hat, 1e-9)
        errs[k] = float(np.sum(resid[scored] ** 2)) / norm
    best = int(np.argmin(errs)) if np.isfinite(errs).any() else len(alphas) - 1
    alpha = float(alphas[best])
    inv = np.where(keep, sv / (s2 + alpha), 0.0) if alpha > 0 else np.where(keep, 1.0 / np.where(keep, sv, 1.0), 0.0)
    coef = vt.T @ (inv * uty)
    intercept = float(v @ ((b - a @ coef) * sw)) / float(v @ sw)
    return coef, intercept, alpha, errs


def correct(
    coefs: Coefficients, x: np.ndarray, y: np.ndarray, weights: np.ndarray,
    constraint: np.ndarray, *, pairs: bool = True, proxy_loo_r2: float | None = None,
    max_order: int | None = None, odd: dict[tuple[int, ...], float] | None = None,
) -> tuple[Coefficients, dict[str, Any]]:
    """The Fourier surrogate ``coefs`` plus its kernel-weighted order-≤2 residual correction.

    ``x`` are the design's masks (``(m, n)`` bool), ``y`` the outputs on them (the scale
    ``coefs`` is on), ``weights`` the Shapley-kernel weights and ``constraint`` the flags of
    the empty and all-kept masks (:func:`fastspex.explainers.shapley_design.kernel_weights`).
    ``pairs=False`` corrects the main effects only. Returns the corrected coefficients and
    diagnostics (penalties, leave-one-out errors, unknowns vs masks).

    ``proxy_loo_r2`` is the proxy's own leave-one-out R² on these masks (kernel-weighted, the
    constraint masks not scored); when an additive kernel fit of ``y`` alone (KernelSHAP)
    predicts left-out masks better, the proxy is dropped and the correction starts from zero —
    so a proxy whose basis lost main effects (tiny budgets) never costs accuracy.

    ``odd``, when given, is the odd half fitted on its own (:func:`fastspex.explainers.odd_refit.fit`):
    it replaces every odd-order term of the result (the odd system is not fitted), the even
    terms and the end interpolation stay as they are.
    """
    x = np.asarray(x, dtype=bool)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    constraint = np.asarray(constraint, dtype=bool)
    m, n = x.shape
    scored = ~constraint
    r = y - indices.evaluate(coefs, x)
    s = 1.0 - 2.0 * x
    scale = float(w[scored].sum()) or 1.0
    rows = int(scored.sum())
    max_order = MAX_ORDER if max_order is None else max_order
    complete = n <= 20 and m >= 1 << n and len(np.unique(np.packbits(x, axis=1), axis=0)) == 1 << n
    info: dict[str, Any] = {"masks": int(m), "scored_masks": rows, "complete_design": complete,
                            "skipped": []}
    # Every coalition evaluated: the kernel WLS *is* the index (no sampling error), unpenalised.
    alphas = _ALPHAS[:1] if complete else _ALPHAS * scale
    if proxy_loo_r2 is not None and n + 1 < rows:
        ybar = float(np.average(y[scored], weights=w[scored]))
        var = float(np.average((y[scored] - ybar) ** 2, weights=w[scored]))
        errs0 = _ridge_loo(s, y, w, scored, alphas)[3]
        info["additive_loo_r2"] = 1.0 - float(np.min(errs0)) / var if var > 0 else None
        if var > 0 and float(np.min(errs0)) < (1.0 - proxy_loo_r2) * var:
            coefs = Coefficients.from_dict({(): 0.0}, n, "fourier")
            r = y.copy()
            info["proxy_dropped"] = True
    extra: dict[tuple[int, ...], float] = {}
    c_total = 0.0
    # 1. the odd system (main effects [+ triples]), 2. the even system (pairs [+ quadruples]):
    # decoupled on a paired design; each takes its orders while they have fewer unknowns than
    # masks (and at most MAX_TERMS columns).
    for label, orders in (("main", (1, 3)), ("pair", (2, 4))):
        take: list[int] = []
        count = 1
        for k in orders:
            if k > n or (k > 2 and k > max_order):
                break
            c = math.comb(n, k)
            if count + c >= rows or count + c > MAX_TERMS:
                break
            take.append(k)
            count += c
        if not take or (label == "pair" and not pairs) or (label == "main" and odd is not None):
            if not take:
                info["skipped"].append(f"{label}s: {math.comb(n, orders[0]) + 1} unknowns "
                                       f"from {rows} masks")
            continue
        feats, sets = _features(s, take)
        coef, c0, alpha, errs = _ridge_loo(feats, r, w, scored, alphas)
        r = r - c0 - feats @ coef
        c_total += c0
        extra.update({tuple(int(i) for i in t): float(v) for t, v in zip(sets, coef) if v != 0.0})
        info.update({f"{label}_orders": take, f"{label}_unknowns": count,
                     f"{label}_alpha": alpha / scale, f"{label}_loo_gain": _gain(errs)})
    # 3. merge: constant and the corrections added to the proxy's Fourier terms
    extra[()] = extra.get((), 0.0) + c_total
    merged = _add(coefs, extra)
    if odd is not None:
        even = {t: v for t, v in merged.to_dict().items() if len(t) % 2 == 0}
        merged = Coefficients.from_dict({**even, **odd}, n, "fourier")
        info["odd_half"] = "fitted on its own (odd_refit)"
    # 4. interpolate f(∅) and f(N) exactly
    merged, shift = _interpolate_ends(merged, x, y)
    info["end_shift"] = shift
    return merged, info


def _gain(errs: np.ndarray) -> float | None:
    """LOO error of the chosen penalty relative to no correction (< 1: the correction helps)."""
    none = errs[-1]
    best = float(np.min(errs))
    return float(best / none) if np.isfinite(none) and none > 0 else None


def _add(coefs: Coefficients, extra: dict[tuple[int, ...], float]) -> Coefficients:
    terms = coefs.to_dict()
    for key, value in extra.items():
        terms[key] = terms.get(key, 0.0) + value
    return Coefficients.from_dict(terms, coefs.n, "fourier")


def _interpolate_ends(coefs: Coefficients, x: np.ndarray, y: np.ndarray
                      ) -> tuple[Coefficients, dict[str, float]]:
    """Shift the constant (even) and the main effects (odd) so the expansion equals ``y`` on the
    empty and all-kept masks of ``x`` (a no-op where either is missing)."""
    n = x.shape[1]
    sizes = x.sum(axis=1)
    full, empty = np.flatnonzero(sizes == n), np.flatnonzero(sizes == 0)
    if not len(full) or not len(empty):
        return coefs, {"odd": 0.0, "even": 0.0}
    ends = np.stack([x[full[0]], x[empty[0]]])
    got = indices.evaluate(coefs, ends)
    want = np.array([y[full[0]], y[empty[0]]])
    # g(N) = Σ_even F − Σ_odd F and g(∅) = Σ_even F + Σ_odd F: the constant moves the even
    # sum, an equal shift of the n main effects the odd sum.
    d_even = float((want[0] + want[1]) - (got[0] + got[1])) / 2.0
    d_odd = float((want[1] - want[0]) - (got[1] - got[0])) / 2.0
    # the odd shift is shared by the main effects the expansion has (all n if it has none), so
    # no term is added that the proxy's basis left out
    sizes_c = coefs.orders()
    present = coefs.indices[coefs.indptr[:-1][sizes_c == 1]]
    share = present if len(present) else np.arange(n)
    extra: dict[tuple[int, ...], float] = {(): d_even}
    extra.update({(int(i),): d_odd / len(share) for i in share})
    return _add(coefs, extra), {"odd": d_odd, "even": d_even}
