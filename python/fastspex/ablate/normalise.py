"""Normalised outputs (docs/background.md, "Masks and value functions"): centre on the full-input output, divide by the spread.

``Normalised(fn)`` evaluates the full input (all kept) and ``n_samples`` uniformly random
masks once, then returns ``(f(x) - f(1)) / spread`` where ``spread`` is the standard deviation
of the sampled outputs. Raw outputs go through their own :class:`~fastspex.value.Evaluator`
(stored under the inner function's key), so they are kept and never computed twice;
:meth:`Normalised.raw` returns them and :meth:`Normalised.denormalise` undoes the map.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..evaluation.evaluator import Evaluator
from ..evaluation.store import experiment_key
from ._base import check_masks

__all__ = ["Normalised", "normalise"]


class Normalised:
    """A value function returning normalised outputs of ``fn``; raw ones stay available.

    Args:
        fn: the raw value function (needs ``n`` unless given).
        n_samples: uniform random masks used to measure the spread.
        seed: seed of those masks.
        center, scale: fix the centre / spread instead of measuring them.
        store: where raw outputs are stored (as for :class:`~fastspex.value.Evaluator`).
    """

    def __init__(
        self,
        fn: Any,
        *,
        n: int | None = None,
        n_samples: int = 64,
        seed: int = 0,
        center: float | None = None,
        scale: float | None = None,
        store: Any = "default",
    ) -> None:
        self.fn = fn
        self.inner = fn if isinstance(fn, Evaluator) else Evaluator(fn, n, store=store, progress=False)
        self.n = self.inner.n
        self.kind = getattr(fn, "kind", "")
        self.labels = list(getattr(fn, "labels", [f"x{i}" for i in range(self.n)]))
        self.batch_size = self.inner.batch_size
        if center is None:
            center = float(np.asarray(self.inner(np.ones((1, self.n), bool))).reshape(-1)[0])
        if scale is None:
            if n_samples < 2:
                msg = f"n_samples must be >= 2 to measure a spread, got {n_samples}"
                raise ValueError(msg)
            rng = np.random.default_rng(seed)
            sample = rng.random((n_samples, self.n)) < 0.5
            vals = np.asarray(self.inner(sample), dtype=np.float64)
            scale = float(vals.std(ddof=1))
            if not scale > 0:
                # Constant on the sample: keep the raw scale rather than divide by zero.
                scale = 1.0
        if not np.isfinite(center) or not (np.isfinite(scale) and scale > 0):
            msg = f"center must be finite and scale positive, got {center}, {scale}"
            raise ValueError(msg)
        self.center, self.scale = float(center), float(scale)
        inner_key = self.inner.key
        self.cache_key = (
            experiment_key("normalised", inner_key, center=self.center, scale=self.scale)
            if inner_key is not None else None
        )

    def __getattr__(self, name: str) -> Any:
        # Anything else (units, n_layers, n_heads, text, …) is the wrapped ablation's.
        fn = self.__dict__.get("fn")
        if fn is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(fn, name)

    def __repr__(self) -> str:
        return f"Normalised(n={self.n}, center={self.center:.4g}, scale={self.scale:.4g})"

    def raw(self, masks: Any) -> np.ndarray:
        """The raw outputs (from the store when already computed)."""
        return np.asarray(self.inner(check_masks(masks, self.n)), dtype=np.float64)

    def __call__(self, masks: Any) -> np.ndarray:
        return (self.raw(masks) - self.center) / self.scale

    def denormalise(self, values: Any) -> np.ndarray:
        """Raw-scale values (or coefficients of the constant term need ``+ center`` only)."""
        return np.asarray(values, dtype=np.float64) * self.scale + self.center


def normalise(fn: Any, **options: Any) -> Normalised:
    """Shorthand for :class:`Normalised`."""
    return Normalised(fn, **options)
