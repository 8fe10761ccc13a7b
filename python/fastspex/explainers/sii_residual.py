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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["corrected_index", "sii_pairs_of_residual"]


def sii_pairs_of_residual(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The estimated SII of every pair of the game ``r`` sampled on masks ``x``.

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
    weight = np.zeros(m)
    complete, missing = [], []
    packed = np.packbits(x, axis=1)
    for k in range(n + 1):
        rows = np.flatnonzero(sizes == k)
        if len(rows) == 0:
            missing.append(k)
            continue
        _, first = np.unique(packed[rows], axis=0, return_index=True)
        total = math.comb(n, k)
        if len(first) == total:  # every set of this size: the exact sum, duplicates dropped
            weight[rows[first]] = 1.0
            complete.append(k)
        else:
            weight[rows] = total / len(rows)
    out = np.zeros((n, n))
    xf = x.astype(np.float64)
    off = 1.0 - xf
    for w in (0, 1, 2):
        l = sizes - w
        ok = (l >= 0) & (l <= n - 2)
        c = np.zeros(m)
        c[ok] = (-1.0) ** (2 - w) / ((n - 1) * np.array([math.comb(n - 2, int(v)) for v in l[ok]], dtype=np.float64))
        beta = weight * r * c
        if w == 2:
            out += xf.T @ (xf * beta[:, None])
        elif w == 1:
            cross = xf.T @ (off * beta[:, None])
            out += cross + cross.T
        else:
            out += off.T @ (off * beta[:, None])
    np.fill_diagonal(out, 0.0)
    return out, {"sizes_complete": complete, "sizes_missing": missing}


def corrected_index(values: Any, coefs: Any, x: np.ndarray, y: np.ndarray
                    ) -> tuple[Any, dict[str, Any]]:
    """SII or k-SII ``values`` (an ``InteractionIndex`` read from the surrogate ``coefs``) with
    the residual's estimated pair SII added: to every pair, and for k-SII of order 2 also to the
    singletons as ``−½ Σ_j ΔSII(ij)`` (k-SII's Bernoulli aggregation). Other indices and orders
    come back unchanged (the diagnostics say why)."""
    from .. import indices

    if values.index not in ("sii", "ksii") or values.n < 2:
        return values, {"applied": False, "why": f"index {values.index!r} has no SII pairs"}
    if values.index == "ksii" and values.order != 2:
        return values, {"applied": False, "why": "k-SII of an order other than 2"}
    if values.index == "sii" and values.order is not None and values.order < 2:
        return values, {"applied": False, "why": "SII of order 1 (Shapley values) has no pairs"}
    x = np.asarray(x, dtype=bool)
    r = np.asarray(y, dtype=np.float64).ravel() - indices.evaluate(coefs, x)
    delta, info = sii_pairs_of_residual(x, r)
    terms = values.to_dict()
    n = values.n
    iu, ju = np.triu_indices(n, 1)
    for i, j, d in zip(iu.tolist(), ju.tolist(), delta[iu, ju].tolist()):
        if d != 0.0:
            terms[(i, j)] = terms.get((i, j), 0.0) + d
    if values.index == "ksii":
        for i, s in enumerate(delta.sum(axis=1).tolist()):
            terms[(i,)] = terms.get((i,), 0.0) - 0.5 * s
    sets = sorted(terms, key=lambda t: (len(t), t))
    sizes = np.array([len(t) for t in sets], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = np.array([i for t in sets for i in t], dtype=values.indices.dtype)
    out = type(values)(n, indptr, flat, np.array([terms[t] for t in sets], dtype=np.float64),
                       values.index, values.order)
    return out, {"applied": True, "masks": int(len(r)),
                 "largest_pair_correction": float(np.abs(delta).max(initial=0.0)), **info}
