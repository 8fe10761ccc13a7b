"""Exact transforms of a function given on all 2ⁿ masks (n ≤ 24): the brute-force ground truth.

Tables are indexed like :func:`fastspex.masks.exhaustive`: entry ``r`` is the mask keeping
component ``j`` iff bit ``j`` of ``r`` is set; a subset ``S`` is the integer with bits ``S``.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._validate import as_threads

__all__ = ["fourier_from_table", "mobius_from_table", "table_from_fourier", "table_from_mobius"]


def _table(values: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or v.size & (v.size - 1):
        msg = f"a truth table must be 1-D with 2^n entries, got shape {v.shape}"
        raise ValueError(msg)
    if v.size > 1 << 24:
        msg = "truth tables are limited to n <= 24"
        raise ValueError(msg)
    if not np.isfinite(v).all():
        msg = "truth table contains NaN or inf"
        raise ValueError(msg)
    return v


def fourier_from_table(values: np.ndarray, *, n_threads: int | None = None) -> np.ndarray:
    """Walsh coefficients ``F(S)`` with ``f(x) = Σ_S F(S) (-1)^{Σ_{i∈S} x_i}``."""
    v = _table(values)
    return _core.fwht(v, as_threads(n_threads)) / v.size


def table_from_fourier(coefs: np.ndarray, *, n_threads: int | None = None) -> np.ndarray:
    """Inverse of :func:`fourier_from_table`."""
    return _core.fwht(_table(coefs), as_threads(n_threads))


def mobius_from_table(values: np.ndarray, *, n_threads: int | None = None) -> np.ndarray:
    """Möbius coefficients ``a(S)`` with ``f(x) = Σ_S a(S) Π_{i∈S} x_i``."""
    return _core.mobius(_table(values), as_threads(n_threads))


def table_from_mobius(coefs: np.ndarray, *, n_threads: int | None = None) -> np.ndarray:
    """Inverse of :func:`mobius_from_table`."""
    return _core.zeta(_table(coefs), as_threads(n_threads))
