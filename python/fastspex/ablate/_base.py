"""What every ablation value function shares: mask checks and the value-function attributes."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["AblationBase", "check_masks", "finite_or_raise"]


def check_masks(masks: Any, n: int) -> np.ndarray:
    """``masks`` as an ``(m, n)`` bool array; a single ``(n,)`` mask becomes one row."""
    arr = np.asarray(masks)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        msg = f"masks must be an (m, n) array, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.shape[1] != n:
        msg = f"masks have {arr.shape[1]} columns but this ablation has n = {n} units/components"
        raise ValueError(msg)
    if arr.dtype != np.bool_:
        if not np.issubdtype(arr.dtype, np.number) or not np.isin(arr, (0, 1)).all():
            msg = "masks must be bool or 0/1 (1 = kept, 0 = ablated)"
            raise ValueError(msg)
        arr = arr.astype(bool)
    return arr


def finite_or_raise(values: np.ndarray, what: str) -> np.ndarray:
    """Raise a clear error when ``values`` holds NaN or inf."""
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad)[:10].tolist()
        msg = f"{what} returned NaN or inf for mask rows {rows}"
        raise ValueError(msg)
    return values


class AblationBase:
    """A value function: ``__call__((m, n) bool masks) -> (m,) float64`` (1 = kept).

    Attributes: ``kind``, ``n``, ``labels`` (one name per unit/component), ``cache_key``
    (identity of model, input and settings for the evaluation store, or ``None``) and
    ``batch_size`` (masks per model call).
    """

    kind: str = ""
    n: int
    labels: list[str]
    cache_key: str | None
    batch_size: int

    def __call__(self, masks: np.ndarray) -> np.ndarray:  # pragma: no cover - every ablation defines it
        raise NotImplementedError

    def __repr__(self) -> str:
        key = f"{self.cache_key[:10]}…" if self.cache_key else None
        return f"{type(self).__name__}(n={self.n}, batch_size={self.batch_size}, cache_key={key!r})"

    def full(self) -> float:
        """The output with everything kept."""
        return float(self(np.ones((1, self.n), bool))[0])

    def empty(self) -> float:
        """The output with everything ablated."""
        return float(self(np.zeros((1, self.n), bool))[0])
