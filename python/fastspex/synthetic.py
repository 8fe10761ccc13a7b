"""Planted sparse functions with known interactions: the ground truth of tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import indices
from .coefficients import Basis, Coefficients
from .masks import MaskLike


@dataclass(frozen=True)
class PlantedFunction:
    """A value function ``f(mask) = Σ_S c_S·φ_S(mask) + noise`` with a known sparse expansion.

    ``coefficients`` is the truth (in ``basis``); calling it on ``(m, n)`` masks returns ``(m,)``
    floats, with Gaussian noise of standard deviation ``noise`` drawn from its own seeded stream
    (so repeated calls on the same masks differ, as a noisy model would).
    """

    coefficients: Coefficients
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not np.isfinite(self.noise) or self.noise < 0:
            msg = f"noise must be a finite number >= 0, got {self.noise}"
            raise ValueError(msg)
        object.__setattr__(self, "_rng", np.random.default_rng([self.seed, 0x5EED]))

    @property
    def n(self) -> int:
        return self.coefficients.n

    def key(self) -> str:
        """A store key naming this function (its coefficients, noise and seed), for runs that
        should resume from a store: ``Evaluator(f, key=f.key())``."""
        import hashlib

        from .evaluation.store import experiment_key

        c = self.coefficients
        digest = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes()
                                         for a in (c.indptr, c.indices, c.values))).hexdigest()
        return experiment_key("synthetic.PlantedFunction", c.n, c.basis, digest, self.noise, self.seed)

    def exact(self, masks: MaskLike) -> np.ndarray:
        """The noiseless value on each mask."""
        return indices.evaluate(self.coefficients, masks)

    def __call__(self, masks: MaskLike) -> np.ndarray:
        values = self.exact(masks)
        if self.noise > 0:
            values = values + self._rng.normal(0.0, self.noise, size=values.shape)  # type: ignore[attr-defined]  # _rng is set in __post_init__ of the frozen dataclass
        return values

    def top(self, k: int = 10) -> list[tuple[int, ...]]:
        """The ``k`` non-empty supports with the largest ``|coefficient|`` (ties by support)."""
        items = [(s, v) for s, v in self.coefficients.to_dict().items() if s]
        items.sort(key=lambda sv: (-abs(sv[1]), sv[0]))
        return [s for s, _ in items[:k]]


def planted(
    n: int,
    k: int,
    *,
    max_order: int = 3,
    basis: Basis = "fourier",
    magnitude: tuple[float, float] = (0.5, 1.0),
    noise: float = 0.0,
    constant: float = 0.0,
    seed: int = 0,
) -> PlantedFunction:
    """A random function of ``n`` components with ``k`` distinct non-empty interactions.

    Each support has a uniformly drawn order in ``1..max_order`` and uniformly drawn members;
    each coefficient has a uniform magnitude in ``magnitude`` and a random sign. ``constant``
    is the coefficient of the empty set. ``noise`` is the standard deviation of additive
    Gaussian noise per call, in the same units as the coefficients.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if not 1 <= max_order <= n:
        raise ValueError(f"max_order must lie in [1, n={n}], got {max_order}")
    lo, hi = magnitude
    if not 0 <= lo <= hi:
        raise ValueError(f"magnitude must be (low, high) with 0 <= low <= high, got {magnitude}")
    capacity = _count_supports(n, max_order)
    if k > capacity:
        raise ValueError(f"k={k} exceeds the {capacity} supports of order <= {max_order} over n={n}")
    rng = np.random.default_rng(seed)
    supports: dict[tuple[int, ...], float] = {}
    while len(supports) < k:
        order = int(rng.integers(1, max_order + 1))
        members = tuple(sorted(int(i) for i in rng.choice(n, size=order, replace=False)))
        if members not in supports:
            supports[members] = float(rng.uniform(lo, hi) * rng.choice((-1.0, 1.0)))
    if constant:
        supports[()] = float(constant)
    coefs = Coefficients.from_dict(supports, n=n, basis=basis)
    return PlantedFunction(coefs, noise=float(noise), seed=seed)


def _count_supports(n: int, max_order: int) -> int:
    from math import comb

    return sum(comb(n, r) for r in range(1, max_order + 1))


# Games small enough to enumerate (n <= 20), for accuracy tests and benchmarks of the indices.
class LowOrderGame:
    """A low-order game of known terms (main effects, n pairs, n/3 triples, Möbius basis) plus a fixed noise table."""

    def __init__(self, n: int, seed: int, noise: float = 0.05) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.a = rng.normal(0, 1, n)
        self.terms = [(rng.choice(n, 2, replace=False), rng.normal()) for _ in range(n)]
        self.terms += [(rng.choice(n, 3, replace=False), rng.normal()) for _ in range(n // 3)]
        self.table = rng.normal(0, noise, 1 << n)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        out = x @ self.a
        for s, b in self.terms:
            out = out + b * np.prod(x[:, s], axis=1)
        return out + self.table[(x.astype(np.int64) << np.arange(self.n)).sum(axis=1)]


class WeightedMajority:
    """A weighted majority game (steep sigmoid of a weighted vote): dense in every order."""

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.w = rng.uniform(0.2, 1.0, n)
        self.q = 0.62 * self.w.sum()
        self.slope = 8.0 / self.w.mean()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.slope * (np.asarray(x, dtype=float) @ self.w - self.q)))
