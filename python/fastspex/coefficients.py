"""Sparse coefficient sets: the common result of every explainer and proxy.

A set holds ``K`` interactions over ``n`` components in CSR form: interaction ``k`` has support
``indices[indptr[k]:indptr[k+1]]`` (sorted, distinct component ids) and coefficient
``values[k]``. ``basis`` says which expansion the values belong to:

- ``"fourier"``: ``f(x) = Σ_S F(S) · (-1)^{Σ_{i∈S} x_i}``
- ``"mobius"``:  ``f(x) = Σ_S a(S) · Π_{i∈S} x_i``

with ``x ∈ {0,1}ⁿ``, ``1 = kept``. Other indices (Banzhaf, Shapley, FSII, …) are computed from
these by :mod:`fastspex.indices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

__all__ = ["Basis", "Coefficients"]

Basis = Literal["fourier", "mobius"]


@dataclass(frozen=True, eq=False)
class Coefficients:
    """``K`` sparse interaction coefficients over ``n`` components (CSR supports)."""

    n: int
    indptr: np.ndarray  # int64, (K+1,)
    indices: np.ndarray  # int32, (nnz,), sorted within each support
    values: np.ndarray  # float64, (K,)
    basis: Basis = "fourier"

    def __post_init__(self) -> None:
        if self.basis not in ("fourier", "mobius"):
            msg = f"basis must be 'fourier' or 'mobius', got {self.basis!r}"
            raise ValueError(msg)
        if int(self.n) < 1:
            msg = f"n must be >= 1, got {self.n}"
            raise ValueError(msg)
        indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        indices = np.ascontiguousarray(self.indices, dtype=np.int32)
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if indptr.ndim != 1 or values.ndim != 1 or indices.ndim != 1:
            msg = "indptr, indices and values must be 1-D"
            raise ValueError(msg)
        if len(indptr) != len(values) + 1 or indptr[0] != 0 or indptr[-1] != len(indices):
            msg = "indptr must have K+1 entries from 0 to len(indices)"
            raise ValueError(msg)
        if np.any(np.diff(indptr) < 0):
            msg = "indptr must be non-decreasing"
            raise ValueError(msg)
        if len(indices) and (indices.min() < 0 or indices.max() >= int(self.n)):
            msg = f"component indices must lie in [0, {int(self.n)})"
            raise ValueError(msg)
        object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "indptr", indptr)
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def from_dict(cls, coefs: Mapping[Any, float], n: int, basis: Basis = "fourier") -> Coefficients:
        """Build from ``{support: value}`` (supports as any iterable of component ids)."""
        supports = [tuple(sorted(set(int(i) for i in s))) for s in coefs]
        sizes = [len(s) for s in supports]
        indptr = np.zeros(len(supports) + 1, np.int64)
        np.cumsum(sizes, out=indptr[1:])
        indices = np.fromiter((i for s in supports for i in s), np.int32, count=int(indptr[-1]))
        values = np.fromiter((float(v) for v in coefs.values()), np.float64, count=len(supports))
        return cls(n, indptr, indices, values, basis)

    def support(self, k: int) -> tuple[int, ...]:
        """The component ids of interaction ``k``."""
        return tuple(int(i) for i in self.indices[self.indptr[k] : self.indptr[k + 1]])

    def orders(self) -> np.ndarray:
        """Size of each support."""
        return np.diff(self.indptr)

    def to_dict(self) -> dict[tuple[int, ...], float]:
        """``{support: value}``; fine for small K, use the arrays for large ones."""
        return {self.support(k): float(self.values[k]) for k in range(len(self))}
