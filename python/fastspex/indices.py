"""Exact interaction indices of a sparse set function, from its Fourier or Möbius coefficients.

Every function takes a :class:`~fastspex.coefficients.Coefficients` (Fourier or Möbius basis)
and visits only subsets of its supports, never the ``2ⁿ`` masks. Conventions (``x ∈ {0,1}ⁿ``,
1 = kept):

- Möbius ``a(S)``: ``f(x) = Σ_S a(S) Π_{i∈S} x_i``; Fourier ``F(S)``: ``f(x) = Σ_S F(S) (-1)^{Σ_{i∈S} x_i}``,
  linked by ``a(S) = (-2)^{|S|} Σ_{T⊇S} F(T)``.
- Banzhaf interaction ``I_B(S) = Σ_{T⊇S} a(T) / 2^{|T|-|S|} = (-2)^{|S|} F(S)``.
- Shapley interaction ``I_SII(S) = Σ_{T⊇S} a(T) / (|T|-|S|+1)``; Shapley value ``φ_i = I_SII({i})``.
- Shapley-Taylor of order k (Sundararajan et al. 2020): ``a(S)`` for ``|S| < k``;
  ``Σ_{T⊇S} a(T) / C(|T|, k)`` for ``|S| = k``.
- Faith-Banzhaf / Faith-Shapley of order k (Tsai, Yeh & Ravikumar 2023): the Möbius coefficients
  of the best degree-≤k approximation of f under the Banzhaf (uniform) / Shapley-kernel weights.
- k-SII of order k (shapiq's aggregated Shapley interactions, Bord et al. 2023):
  ``Σ_{U⊇S, |U|≤k} B_{|U|-|S|} I_SII(U)`` for ``1 ≤ |S| ≤ k`` (Bernoulli numbers, ``B_1 = -1/2``),
  and ``f(0)`` at the empty set (shapiq's convention); efficient: the non-empty sets sum to
  ``f(1) - f(0)``. For k = 1 it is the Shapley value.
- Ablation interaction at the full input ``Δ_S = Σ_{U⊆S} (-1)^{|U|} f(1 - 1_U) = Σ_{T⊇S} a(T)``:
  the |S|-th discrete derivative when ablating S from the full input. For ``f = x_i x_j`` (both
  needed) ``Δ_ij = +1``; a redundant pair (``f = x_i + x_j - x_i x_j``) has ``Δ_ij = -1``.

Results: the changes of basis return :class:`Coefficients`; the indices return an
:class:`InteractionIndex` (the same CSR layout plus the index name and order). Supports in a
result are sorted by size, then lexicographically; exact zeros are dropped (``tol`` drops more).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from . import _core
from ._validate import as_int, as_threads
from .coefficients import Coefficients
from .masks import MaskLike, as_packed
from .names import INDICES, NEEDS_ORDER, SHAPIQ_NAMES, IndexName

__all__ = [
    "DEFAULT_MAX_TERMS",
    "IndexName",
    "InteractionIndex",
    "ablation",
    "banzhaf",
    "compute_index",
    "evaluate",
    "fbii",
    "fsii",
    "ksii",
    "shapley_values",
    "sii",
    "stii",
    "to_fourier",
    "to_mobius",
]

_INDICES = INDICES
_NEEDS_ORDER = NEEDS_ORDER
_SHAPLEY_FAMILY = ("sii", "ksii", "stii", "fsii")
# Indices whose value at the empty set is f(0) = v(∅) (when they have an order >= 1).
_EMPTY_IS_F0 = ("mobius", "ksii", "stii", "fsii")

#: Most (subset, value) terms a conversion may emit before it refuses (a support of size t has
#: 2^t subsets: converting one Fourier term of degree 24 to Möbius alone emits 16.7 million).
DEFAULT_MAX_TERMS = 1 << 26


@dataclass(frozen=True, eq=False)
class InteractionIndex:
    """Values of one interaction index on ``K`` sets of components (CSR, like Coefficients).

    ``index`` names the index (``"bii"``, ``"sii"``, ``"fbii"``, ``"fsii"``, ``"stii"``,
    ``"ksii"``, ``"ablation"``), ``order`` is its order k (or the largest set size kept, ``None`` = all).
    Sets absent from the arrays have value 0.
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    index: str
    order: int | None = None

    def __len__(self) -> int:
        return len(self.values)

    def support(self, k: int) -> tuple[int, ...]:
        """The component ids of set ``k``."""
        return tuple(int(i) for i in self.indices[self.indptr[k] : self.indptr[k + 1]])

    def orders(self) -> np.ndarray:
        """Size of each set."""
        return np.diff(self.indptr)

    def to_dict(self) -> dict[tuple[int, ...], float]:
        """``{set: value}``; fine for small K, use the arrays for large ones."""
        return {self.support(k): float(self.values[k]) for k in range(len(self))}

    def to_shapiq(self, *, empty_value: float | None = None):  # noqa: ANN201 - optional dep
        """The same values as a ``shapiq.InteractionValues``, in shapiq's conventions.

        ``empty_value`` is ``v(∅) = f(all ablated)``, which shapiq stores as ``baseline_value``;
        SII and (incomplete) BII values do not determine it, so pass it for those. See
        :func:`to_shapiq_values` for the conventions.
        """
        data = self.to_dict()
        if empty_value is None:
            if self.index == "bii" and self.order is None:
                empty_value = complete_bii_f0(data)
            elif self.index == "sii":
                msg = (
                    "SII values do not determine v(∅) = f(all ablated), which shapiq stores as "
                    "baseline_value; pass to_shapiq(empty_value=...)"
                )
                raise ValueError(msg)
        return to_shapiq_values(data, self.n, self.index, self.order, empty_value=empty_value,
                                estimated=False)

    def __getitem__(self, subset: tuple[int, ...] | list[int]) -> float:
        """The value on one set of components (0 if absent)."""
        key = tuple(sorted(int(i) for i in subset))
        orders = self.orders()
        for k in np.flatnonzero(orders == len(key)):
            if self.support(int(k)) == key:
                return float(self.values[k])
        return 0.0


def complete_bii_f0(data: dict[tuple[int, ...], float]) -> float:
    """``f(0) = a(∅) = Σ_T (-1/2)^{|T|} I_B(T)`` from a complete Banzhaf interaction index."""
    return float(sum(v * (-0.5) ** len(s) for s, v in data.items()))


def to_shapiq_values(
    data: dict[tuple[int, ...], float], n: int, index: str, order: int | None, *,
    empty_value: float | None, estimated: bool, budget: int | None = None,
):  # noqa: ANN201 - shapiq is an optional dependency
    """``{set: value}`` of a fastspex index as a ``shapiq.InteractionValues``.

    Follows what shapiq's ``ExactComputer`` returns: ``max_order`` = the order (``n`` for an
    index of all orders), ``min_order`` 0, order-1 Shapley-family indices named ``"SV"`` and
    Banzhaf-family ones ``"BV"``; the empty set holds ``v(∅) = f(all ablated)`` for SV, k-SII,
    STII, FSII and Möbius and the index's own value for SII, BII, BV and FBII; ``baseline_value``
    is ``v(∅)``, except for FBII, where shapiq stores the FBII empty-set value there.
    ``empty_value`` is ``v(∅)``; it is needed (and only used) for SII and BII.
    """
    if index not in SHAPIQ_NAMES:
        msg = f"shapiq has no counterpart of the {index!r} index"
        raise ValueError(msg)
    try:
        from shapiq import InteractionValues
    except ImportError as err:
        msg = "to_shapiq needs shapiq: pip install shapiq (or fastspex[bench])"
        raise ImportError(msg) from err
    if order is not None and order < 1 and index != "mobius":
        msg = f"an {index} result of order {order} has no shapiq counterpart (order >= 1)"
        raise ValueError(msg)
    max_order = n if order is None else int(order)
    values = {tuple(sorted(int(i) for i in s)): float(v) for s, v in data.items()}
    own_empty = values.get((), 0.0)
    name = SHAPIQ_NAMES[index]
    if max_order == 1 and index in _SHAPLEY_FAMILY:
        name = "SV"
    elif max_order == 1 and index in ("bii", "fbii"):
        name = "BV"
    if index in _EMPTY_IS_F0 or index == "fbii":
        baseline = own_empty
    else:  # sii, bii: shapiq keeps the index's own empty value, v(∅) as baseline_value
        if empty_value is None:
            msg = f"exporting {index} to shapiq needs v(∅) = f(all ablated) (its baseline_value)"
            raise ValueError(msg)
        baseline = float(empty_value)
    if name == "SV":
        values[()] = baseline
    else:
        values[()] = own_empty
    keys = sorted(values, key=lambda s: (len(s), s))
    return InteractionValues(
        np.array([values[s] for s in keys], dtype=float),
        index=name, max_order=max_order, n_players=int(n), min_order=0,
        interaction_lookup={s: k for k, s in enumerate(keys)}, estimated=bool(estimated),
        estimation_budget=budget, baseline_value=float(baseline),
    )


def _check_coefs(coefs: object) -> Coefficients:
    if not isinstance(coefs, Coefficients):
        msg = f"expected fastspex.coefficients.Coefficients, got {type(coefs).__name__}"
        raise TypeError(msg)
    if not np.all(np.isfinite(coefs.values)):
        msg = "coefficient values must be finite (found NaN or inf)"
        raise ValueError(msg)
    return coefs


def _order(order: int | None, name: str, *, required: bool) -> int:
    if order is None:
        if required:
            msg = f"{name} needs an order k >= 1"
            raise ValueError(msg)
        return -1
    return as_int(order, name, minimum=1 if required else 0)


def _transform(coefs: Coefficients, index: str, order: int, max_terms: int, tol: float):
    max_terms = as_int(max_terms, "max_terms", minimum=1)
    tol = float(tol)
    if not np.isfinite(tol):
        msg = "tol must be finite"
        raise ValueError(msg)
    return _core.index_transform(
        coefs.indptr, coefs.indices, coefs.values, coefs.n, coefs.basis, index, order,
        max_terms, tol,
    )


def to_mobius(
    coefs: Coefficients, *, max_order: int | None = None, max_terms: int = DEFAULT_MAX_TERMS,
    tol: float = 0.0,
) -> Coefficients:
    """The Möbius coefficients (of sets up to ``max_order`` components, all if ``None``)."""
    coefs = _check_coefs(coefs)
    indptr, indices, values = _transform(
        coefs, "mobius", _order(max_order, "max_order", required=False), max_terms, tol
    )
    return Coefficients(coefs.n, indptr, indices, values, "mobius")


def to_fourier(
    coefs: Coefficients, *, max_order: int | None = None, max_terms: int = DEFAULT_MAX_TERMS,
    tol: float = 0.0,
) -> Coefficients:
    """The Fourier coefficients (of sets up to ``max_order`` components, all if ``None``)."""
    coefs = _check_coefs(coefs)
    indptr, indices, values = _transform(
        coefs, "fourier", _order(max_order, "max_order", required=False), max_terms, tol
    )
    return Coefficients(coefs.n, indptr, indices, values, "fourier")


def _index(
    coefs: Coefficients, index: str, order: int | None, *, required: bool, max_terms: int,
    tol: float,
) -> InteractionIndex:
    coefs = _check_coefs(coefs)
    k = _order(order, "order", required=required)
    indptr, indices, values = _transform(coefs, index, k, max_terms, tol)
    return InteractionIndex(coefs.n, indptr, indices, values, index, None if k < 0 else k)


def banzhaf(
    coefs: Coefficients, max_order: int | None = None, *, max_terms: int = DEFAULT_MAX_TERMS,
    tol: float = 0.0,
) -> InteractionIndex:
    """Banzhaf interaction index of every set up to ``max_order`` components."""
    return _index(coefs, "bii", max_order, required=False, max_terms=max_terms, tol=tol)


def sii(
    coefs: Coefficients, max_order: int | None = None, *, max_terms: int = DEFAULT_MAX_TERMS,
    tol: float = 0.0,
) -> InteractionIndex:
    """Shapley interaction index of every set up to ``max_order`` components."""
    return _index(coefs, "sii", max_order, required=False, max_terms=max_terms, tol=tol)


def fbii(
    coefs: Coefficients, order: int, *, max_terms: int = DEFAULT_MAX_TERMS, tol: float = 0.0
) -> InteractionIndex:
    """Faith-Banzhaf interaction index of order ``order``."""
    return _index(coefs, "fbii", order, required=True, max_terms=max_terms, tol=tol)


def fsii(
    coefs: Coefficients, order: int, *, max_terms: int = DEFAULT_MAX_TERMS, tol: float = 0.0
) -> InteractionIndex:
    """Faith-Shapley interaction index of order ``order``."""
    return _index(coefs, "fsii", order, required=True, max_terms=max_terms, tol=tol)


def stii(
    coefs: Coefficients, order: int, *, max_terms: int = DEFAULT_MAX_TERMS, tol: float = 0.0
) -> InteractionIndex:
    """Shapley-Taylor interaction index of order ``order``."""
    return _index(coefs, "stii", order, required=True, max_terms=max_terms, tol=tol)


def ksii(
    coefs: Coefficients, order: int, *, max_terms: int = DEFAULT_MAX_TERMS, tol: float = 0.0
) -> InteractionIndex:
    """k-SII (shapiq's aggregated Shapley interactions) of order ``order``; ``f(0)`` at ∅."""
    return _index(coefs, "ksii", order, required=True, max_terms=max_terms, tol=tol)


def ablation(
    coefs: Coefficients, max_order: int | None = None, *, max_terms: int = DEFAULT_MAX_TERMS,
    tol: float = 0.0,
) -> InteractionIndex:
    """Ablation interaction ``Δ_S`` at the full input for every set up to ``max_order``."""
    return _index(coefs, "ablation", max_order, required=False, max_terms=max_terms, tol=tol)


def shapley_values(coefs: Coefficients, *, max_terms: int = DEFAULT_MAX_TERMS) -> np.ndarray:
    """Shapley value of every component, a dense ``(n,)`` array."""
    coefs = _check_coefs(coefs)
    # SII restricted to sizes <= 1, then keep the singletons.
    indptr, indices, values = _transform(coefs, "sii", 1, max_terms, 0.0)
    out = np.zeros(coefs.n)
    singles = np.diff(indptr) == 1
    out[indices[indptr[:-1][singles]]] = values[singles]
    return out


def compute_index(
    coefs: Coefficients, index: IndexName, order: int | None = None, *,
    max_terms: int = DEFAULT_MAX_TERMS, tol: float = 0.0,
) -> Union[Coefficients, InteractionIndex]:
    """Dispatch by name: ``Coefficients`` for "fourier"/"mobius", else an ``InteractionIndex``.

    ``order`` is the index order for fbii/fsii/stii/ksii (required) and the largest set size kept
    for the others (``None`` = all).
    """
    if index not in _INDICES:
        msg = f"index must be one of {', '.join(_INDICES)}; got {index!r}"
        raise ValueError(msg)
    if index == "fourier":
        return to_fourier(coefs, max_order=order, max_terms=max_terms, tol=tol)
    if index == "mobius":
        return to_mobius(coefs, max_order=order, max_terms=max_terms, tol=tol)
    return _index(
        coefs, index, order, required=index in _NEEDS_ORDER, max_terms=max_terms, tol=tol
    )


def evaluate(
    coefs: Coefficients, masks: MaskLike, *, n_threads: int | None = None
) -> np.ndarray:
    """The expansion's value on each mask (packed or an ``(m, n)`` bool array)."""
    coefs = _check_coefs(coefs)
    packed = as_packed(masks, coefs.n)
    return _core.evaluate_set(
        coefs.indptr, coefs.indices, coefs.values, coefs.n, coefs.basis, packed.words,
        as_threads(n_threads),
    )
