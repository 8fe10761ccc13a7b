"""Argument checks shared by the public modules (raise, never assert)."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_int", "as_seed", "as_threads", "scalar_outputs"]


def as_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} must be an integer, got {type(value).__name__}"
        raise TypeError(msg)
    out = int(value)
    if minimum is not None and out < minimum:
        msg = f"{name} must be >= {minimum}, got {out}"
        raise ValueError(msg)
    return out


def as_seed(seed: int | None) -> int:
    """A 64-bit seed; ``None`` draws one from the OS so runs differ unless a seed is given."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    value = as_int(seed, "seed")
    return value % (1 << 64)


def as_threads(n_threads: int | None) -> int:
    """Thread count for the core; 0 means every hardware thread."""
    if n_threads is None:
        return 0
    return as_int(n_threads, "n_threads", minimum=1)


def scalar_outputs(outputs: object, who: str) -> np.ndarray:
    """``outputs`` as a 1-D float64 array, or a ValueError saying how to pick one output."""
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim != 1:
        msg = (
            f"{who} explains one scalar output per mask; the value function returned shape "
            f"{out.shape} (select one output column in the value function)"
        )
        raise ValueError(msg)
    return out
