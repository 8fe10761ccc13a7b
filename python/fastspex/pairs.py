"""All-pairs interaction scoring with a streaming top-k: never stores the n(n-1)/2 scores.

:func:`top_pairs` scores every pair ``i < j`` under a fitted proxy and returns the best ``k``:

- a **factorization machine** (embeddings ``V`` of shape ``(n, r)``, or any object with a ``V``
  attribute): ``f(x) = w₀ + Σ wᵢxᵢ + Σ_{i<j} ⟨vᵢ, vⱼ⟩ xᵢxⱼ`` with ``x ∈ {0,1}ⁿ``. It is purely
  pairwise, so its Möbius pair coefficient is ``⟨vᵢ, vⱼ⟩`` and so are its Banzhaf, Shapley
  (SII), Faith-Banzhaf, Faith-Shapley and Shapley-Taylor pair indices (any order ≥ 2) and the
  ablation interaction ``Δ_ij = f(1) - f(1-eᵢ) - f(1-eⱼ) + f(1-eᵢ-eⱼ)``; its Fourier pair
  coefficient is ``⟨vᵢ, vⱼ⟩ / 4``. The main effects never enter a pair index. Scored in tiles
  of the upper triangle on every core (GIL released); memory O(n·r + k). On AVX2 CPUs the tiles
  are single precision and every pair whose float score plus its proven rounding bound
  ``(r + 3)·2⁻²⁴·1.01·‖vᵢ‖‖vⱼ‖`` could reach the running k-th score is re-scored in double, so
  the returned scores are double dot products and the top-k is the double scan's (embeddings
  with entries outside [1e-15, 1e15] use double tiles throughout).
- a **sparse Fourier/Möbius set** (:class:`~fastspex.coefficients.Coefficients`, e.g. a sparse
  polynomial proxy or a tree ensemble's expansion): the pair index is
  ``Σ_{T ⊇ {i,j}} w(|T|) c(T)`` (see :mod:`fastspex.indices`), nonzero only for pairs inside some
  support; every other pair scores exactly 0 and still competes. Memory O(touched pairs + k).

Ranking (``by``): ``"largest"`` score, ``"smallest"`` score, or largest ``"magnitude"`` |score|.
Ties (including the many exact zeros of a sparse set) are broken by ``i``, then ``j``, ascending,
so the result is a deterministic function of the scores, independent of thread count. With
``by="largest"`` and fewer than ``k`` positive pairs, the rest of the top-k are zero pairs (the
lexicographically first ones), then negative pairs.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np

from . import _core
from ._validate import as_int, as_threads
from .coefficients import Coefficients
from .indices import DEFAULT_MAX_TERMS
from .names import INDICES, NEEDS_ORDER, IndexName

__all__ = ["PairScores", "RankBy", "ablation_pair_scores", "top_pairs"]

RankBy = Literal["largest", "smallest", "magnitude"]
_INDICES = INDICES
_NEEDS_ORDER = NEEDS_ORDER


class PairScores(NamedTuple):
    """The top pairs, best first: ``i[t] < j[t]`` and their index value ``score[t]``."""

    i: np.ndarray  # int32
    j: np.ndarray  # int32
    score: np.ndarray  # float64

    def to_dict(self) -> dict[tuple[int, int], float]:
        """``{(i, j): score}`` in rank order."""
        return {(int(a), int(b)): float(s) for a, b, s in zip(self.i, self.j, self.score)}


def _embeddings(model: object) -> np.ndarray | None:
    if isinstance(model, np.ndarray):
        return model
    V = getattr(model, "V", None)
    return V if isinstance(V, np.ndarray) else None


def top_pairs(
    model: np.ndarray | Coefficients | object,
    k: int = 100,
    *,
    index: IndexName = "mobius",
    order: int = 2,
    by: RankBy = "magnitude",
    n_threads: int | None = None,
    max_terms: int = DEFAULT_MAX_TERMS,
) -> PairScores:
    """The ``k`` best pairs ``i < j`` of ``model`` under the pair index ``index``.

    Args:
        model: factorization-machine embeddings ``V`` (``(n, r)`` float array, or an object with
            a ``V`` attribute), or a sparse :class:`Coefficients` set.
        k: number of pairs to return (at most ``n(n-1)/2``).
        index: "mobius", "fourier", "bii", "sii", "fbii", "fsii", "stii", "ksii" or "ablation".
        order: the order of fbii/fsii/stii/ksii (>= 2; ignored by the other indices).
        by: "largest", "smallest" or "magnitude".
        n_threads: threads to use (default: all cores).
        max_terms: most pair terms a sparse set may expand into before refusing.
    """
    if index not in _INDICES:
        msg = f"index must be one of {', '.join(_INDICES)}; got {index!r}"
        raise ValueError(msg)
    if by not in ("largest", "smallest", "magnitude"):
        msg = f"by must be 'largest', 'smallest' or 'magnitude'; got {by!r}"
        raise ValueError(msg)
    k = as_int(k, "k", minimum=1)
    threads = as_threads(n_threads)
    if index in _NEEDS_ORDER:
        order = as_int(order, "order", minimum=2)
    elif not isinstance(order, numbers.Integral):
        msg = f"order must be an integer, got {type(order).__name__}"
        raise TypeError(msg)

    if isinstance(model, Coefficients):
        n = model.n
        _check_k(k, n)
        if not np.all(np.isfinite(model.values)):
            msg = "coefficient values must be finite (found NaN or inf)"
            raise ValueError(msg)
        i, j, s = _core.sparse_top_pairs(
            model.indptr, model.indices, model.values, n, model.basis, index,
            order if index in _NEEDS_ORDER else -1, k, by, threads,
            as_int(max_terms, "max_terms", minimum=1),
        )
        return PairScores(i, j, s)

    V = _embeddings(model)
    if V is None:
        msg = (
            "model must be factorization-machine embeddings V (an (n, r) array or an object with "
            f"a V attribute) or fastspex Coefficients; got {type(model).__name__}"
        )
        raise TypeError(msg)
    if V.ndim != 2:
        msg = f"embeddings V must be 2-D (n, r), got shape {V.shape}"
        raise ValueError(msg)
    if not np.issubdtype(V.dtype, np.number) or np.issubdtype(V.dtype, np.complexfloating):
        msg = f"embeddings V must be real numbers, got dtype {V.dtype}"
        raise TypeError(msg)
    n, r = V.shape
    if r == 0:
        msg = "embeddings V have rank r = 0: a factorization machine needs r >= 1"
        raise ValueError(msg)
    _check_k(k, n)
    V = np.ascontiguousarray(V, dtype=np.float64)
    if not np.all(np.isfinite(V)):
        msg = "embeddings V must be finite (found NaN or inf)"
        raise ValueError(msg)
    scale = 0.25 if index == "fourier" else 1.0
    i, j, s = _core.fm_top_pairs(V, scale, k, by, threads)
    return PairScores(i, j, s)


def _check_k(k: int, n: int) -> None:
    if n < 2:
        msg = f"pair scoring needs at least 2 components, got n = {n}"
        raise ValueError(msg)
    pairs = n * (n - 1) // 2
    if k > pairs:
        msg = f"k = {k} exceeds the {pairs} pairs of n = {n} components"
        raise ValueError(msg)


def ablation_pair_scores(
    predict: Callable[[np.ndarray], np.ndarray], n: int, i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """``Δᵢⱼ = f(1) − f(1−eᵢ) − f(1−eⱼ) + f(1−eᵢ−eⱼ)`` for each pair, from any predictor.

    All four terms matter: without ``+ f(1)`` (a common shortcut) a linear proxy gives every
    pair the same non-zero score; with them it scores every pair 0, as it should (see
    docs/background.md, "Expansions and indices").
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if i.shape != j.shape or i.ndim != 1:
        msg = "i and j must be 1-D arrays of the same length"
        raise ValueError(msg)
    if len(i) and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n or np.any(i == j)):
        msg = f"pairs must be distinct components in [0, {n})"
        raise ValueError(msg)
    rows = np.arange(len(i))
    full = np.ones((1, n), dtype=bool)
    drop_i = np.ones((len(i), n), dtype=bool)
    drop_i[rows, i] = False
    drop_j = np.ones((len(i), n), dtype=bool)
    drop_j[rows, j] = False
    drop_ij = drop_i & drop_j
    f1 = np.asarray(predict(full), dtype=np.float64)[0]
    return (
        f1 - np.asarray(predict(drop_i), np.float64) - np.asarray(predict(drop_j), np.float64)
        + np.asarray(predict(drop_ij), np.float64)
    )
