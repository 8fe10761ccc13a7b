"""Shapley-interaction pairs of a proxy's residual, estimated from the masks already paid for.

A surrogate ``g`` fitted under the Shapley kernel is the best order-2 fit of FSII's objective,
but the SII of a pair, ``Σ_{T ⊇ ij} M(T)/(|T| − 1)``, weights every higher-order term the
surrogate truncated; that bias passes into SII and k-SII pairs. The residual ``r = f − g`` is
known on the design's masks, and the SII of a pair is linear in the values of a game:

    SII_r(ij) = Σ_T c(T) r(T),  c(T) = (−1)^{2−w} / ((n − 1)·C(n − 2, l)),

with ``w = |T ∩ ij|`` and ``l = |T \\ ij|`` (the discrete-derivative definition). Within each
coalition size the design's masks are a uniform sample (the Shapley-kernel, uniform and Bernoulli
designs all draw sets uniformly given their size), so the size-stratified sum

    Σ_k (C(n, k)/m_k) Σ_{t ∈ sample, |t| = k} c(t) r(t)

is an unbiased estimate of ``SII_r`` (ProxySHAP's residual idea with a stratified Monte-Carlo
estimator); a size enumerated in full is summed exactly, so on a complete design the estimate is
the exact SII of ``r``. A size with no mask contributes nothing (it is reported). All pairs at
once cost three ``n × n`` weighted Gram products, ``O(m·n²)``.

Shapley–Taylor of order 2 is corrected the same way: its pairs are the same discrete-derivative
sum with the weights ``c(T) = (−1)^{2−w}·(2/n) / C(n − 1, l)``, and its singletons are Möbius
coefficients, ``r({i}) − r(∅)``, read exactly from the design's empty and one-component masks
(the Shapley-kernel design holds them all; without them the singletons are left as they are).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["MAX_PAIRS", "corrected_index", "family", "residual_pairs", "sii_pairs_of_residual",
           "stii_singletons_of_residual", "why_not"]

#: Most pairs corrected: the correction gives every pair a value (an ``n × n`` estimate), so
#: above this the index is left as the surrogate gives it and the result says why.
MAX_PAIRS = 50_000


def _log_comb(a: int, b: int) -> float:
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


def sii_pairs_of_residual(x: np.ndarray, r: np.ndarray, index: str = "sii"
                          ) -> tuple[np.ndarray, dict[str, Any]]:
    """The estimated SII (``index="stii"``: Shapley–Taylor) of every pair of the game ``r``
    sampled on masks ``x``.

    ``x``: ``(m, n)`` bool masks (True = kept), ``r``: ``(m,)`` values on them. Returns the
    symmetric ``(n, n)`` matrix of pair estimates (zero diagonal) and diagnostics (sizes seen,
    sizes enumerated in full, sizes missing).
    """
    x = np.asarray(x, dtype=bool)
    r = np.asarray(r, dtype=np.float64)
    m, n = x.shape
    if n < 2:
        return np.zeros((n, n)), {"sizes_missing": [], "sizes_complete": []}
    sizes = x.sum(axis=1)
    # Logarithms throughout: C(n, k)/m_k and 1/C(n − 2, l) overflow a float from n ≈ 1,030,
    # their product does not.
    log_weight = np.full(m, -np.inf)  # a duplicate in a complete size counts once
    complete, missing = [], []
    packed = np.packbits(x, axis=1)
    for k in range(n + 1):
        rows = np.flatnonzero(sizes == k)
        if len(rows) == 0:
            missing.append(k)
            continue
        _, first = np.unique(packed[rows], axis=0, return_index=True)
        if len(first) == math.comb(n, k):  # every set of this size: the exact sum
            log_weight[rows[first]] = 0.0
            complete.append(k)
        else:
            log_weight[rows] = _log_comb(n, k) - math.log(len(rows))
    # log of the weight of a context of size l: SII 1 / ((n − 1)·C(n − 2, l)),
    # STII (2/n) / C(n − 1, l)
    if index == "stii":
        log_per_size = np.array([math.log(2.0 / n) - _log_comb(n - 1, l) for l in range(n - 1)])
    else:
        log_per_size = np.array([-math.log(n - 1) - _log_comb(n - 2, l) for l in range(n - 1)])
    out = np.zeros((n, n))
    xf = x.astype(np.float64)
    off = 1.0 - xf
    for w in (0, 1, 2):
        l = sizes - w
        ok = (l >= 0) & (l <= n - 2)
        log_c = np.full(m, -np.inf)
        log_c[ok] = log_per_size[l[ok]]
        beta = (-1.0) ** (2 - w) * r * np.exp(log_weight + log_c)
        if w == 2:
            out += xf.T @ (xf * beta[:, None])
        elif w == 1:
            cross = xf.T @ (off * beta[:, None])
            out += cross + cross.T
        else:
            out += off.T @ (off * beta[:, None])
    np.fill_diagonal(out, 0.0)
    return out, {"sizes_complete": complete, "sizes_missing": missing}


def stii_singletons_of_residual(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, bool]:
    """``r({i}) − r(∅)`` for every component (Shapley–Taylor's singletons of order 2) and
    whether the masks held the empty set and every single component (else zeros, ``False``)."""
    x = np.asarray(x, dtype=bool)
    r = np.asarray(r, dtype=np.float64)
    n = x.shape[1]
    sizes = x.sum(axis=1)
    empty = np.flatnonzero(sizes == 0)
    ones = np.flatnonzero(sizes == 1)
    if not len(empty):
        return np.zeros(n), False
    single = np.full(n, np.nan)
    single[np.argmax(x[ones], axis=1)] = r[ones]
    if np.isnan(single).any():
        return np.zeros(n), False
    return single - r[empty[0]], True


def family(index: str) -> str:
    """The residual estimate an index uses (``"sii"`` or ``"stii"``): SII's pairs serve SII
    and k-SII, so one estimate per family serves every index of a fit."""
    return "stii" if index == "stii" else "sii"


def why_not(values: Any) -> str | None:
    """Why the residual correction does not apply to ``values`` (an ``InteractionIndex``), or
    ``None`` when it does."""
    if values.index not in ("sii", "ksii", "stii") or values.n < 2:
        return f"index {values.index!r} has no SII or STII pairs"
    if values.index in ("ksii", "stii") and values.order != 2:
        return f"{'k-SII' if values.index == 'ksii' else 'STII'} of an order other than 2"
    if values.index == "sii" and values.order is not None and values.order < 2:
        return "SII of order 1 (Shapley values) has no pairs"
    pairs = values.n * (values.n - 1) // 2
    if pairs > MAX_PAIRS:
        return f"{pairs:,} pairs (more than {MAX_PAIRS:,})"
    return None


def residual_pairs(coefs: Any, x: np.ndarray, y: np.ndarray, index: str = "sii"
                   ) -> tuple[np.ndarray, dict[str, Any]]:
    """The estimated pair SII (``index="stii"``: STII) of the residual ``y − coefs(x)`` on masks
    ``x`` (one estimate serves SII and k-SII of the same fit); for STII the diagnostics also
    carry the residual's singletons (``"singletons"``, exact, or ``None`` without the masks)."""
    from .. import indices

    x = np.asarray(x, dtype=bool)
    r = np.asarray(y, dtype=np.float64).ravel() - indices.evaluate(coefs, x)
    delta, info = sii_pairs_of_residual(x, r, family(index))
    info = {"masks": int(len(r)), **info}
    if family(index) == "stii":
        single, ok = stii_singletons_of_residual(x, r)
        info["singletons"] = single if ok else None
    return delta, info


def corrected_index(values: Any, delta: np.ndarray, info: dict[str, Any]
                    ) -> tuple[Any, dict[str, Any]]:
    """SII, k-SII or STII ``values`` (an ``InteractionIndex`` that :func:`why_not` accepts) with
    the residual's pairs ``delta`` (from :func:`residual_pairs` for the same index family)
    added: to every pair; for k-SII of order 2 also to the singletons as ``−½ Σ_j ΔSII(ij)``
    (k-SII's Bernoulli aggregation); for STII its residual singletons, where the masks gave
    them."""
    from ..coefficients import Coefficients

    terms = values.to_dict()
    n = values.n
    iu, ju = np.triu_indices(n, 1)
    for i, j, d in zip(iu.tolist(), ju.tolist(), delta[iu, ju].tolist()):
        if d != 0.0:
            terms[(i, j)] = terms.get((i, j), 0.0) + d
    if values.index == "ksii":
        for i, s in enumerate(delta.sum(axis=1).tolist()):
            terms[(i,)] = terms.get((i,), 0.0) - 0.5 * s
    info = dict(info)
    single = info.pop("singletons", None)
    if values.index == "stii":
        info["singletons_corrected"] = single is not None
        for i, s in enumerate([] if single is None else np.asarray(single).tolist()):
            terms[(i,)] = terms.get((i,), 0.0) + s
    csr = Coefficients.from_dict({t: terms[t] for t in sorted(terms, key=lambda t: (len(t), t))}, n)
    out = type(values)(n, csr.indptr, csr.indices.astype(values.indices.dtype, copy=False),
                       csr.values, values.index, values.order)
    return out, {"applied": True, **info,
                 "largest_pair_correction": float(np.abs(delta).max(initial=0.0))}
