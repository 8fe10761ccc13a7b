"""The Shapley-kernel design: which masks to evaluate, and how to weight them, for Shapley indices.

The Shapley value is the solution of a weighted least-squares problem (Lundberg & Lee 2017;
Charnes et al. 1988): fit ``f`` by an additive function under the constraints ``g(∅) = f(∅)``
and ``g(N) = f(N)``, weighting each coalition ``S`` (the kept components of a mask) by the
Shapley kernel

    k(S) = μ(|S|) / C(n, |S|),   μ(s) ∝ (n − 1) / (s (n − s))   for 1 ≤ s ≤ n − 1.

``μ`` is a distribution over coalition *sizes*; within a size every coalition weighs the same.
The Shapley interaction index and the Faith-Shapley index have the same weighting (Fumagalli
et al. 2024, KernelSHAP-IQ; Tsai et al. 2023). Estimating them from uniform masks (each
component kept with probability 1/2) wastes the budget: uniform masks have sizes near n/2,
where the kernel is smallest, and the border sizes (1 and n − 1), where it is largest, are
almost never drawn.

:func:`sample` draws a design in the way KernelSHAP does:

1. the all-kept and the empty masks are always evaluated (they are the constraints);
2. sizes are taken in complementary pairs (s, n − s) from the border inwards; sizes 1 and
   n − 1 are enumerated whenever they fit (2n masks), the next pairs while the budget left
   would, in expectation, draw at least as many coalitions of those sizes as exist, and they fit;
3. the rest of the budget is spent on coalitions drawn with sizes from :data:`SAMPLING_LAW`
   (by default ½ μ + ½ uniform over sizes) over the sizes not enumerated, uniformly within a
   size, each together with its complement (paired sampling), without repeats.

:func:`kernel_weights` gives each mask its regression weight: the kernel mass of its size
divided by the number of masks of that size in the design (post-stratification), so enumerated
sizes get their exact kernel weights ``k(S)`` and sampled sizes an unbiased, sampling-corrected
share; the two constraint masks get :data:`CONSTRAINT_WEIGHT` times the largest weight, which
makes any weighted least-squares fit interpolate them (the constraint, up to 1e-8 relative).

:func:`kernel_shap` is the plain KernelSHAP estimate (main effects only, weighted ridge-free
least squares) on the same design: the baseline the Shapley design of ProxySPEX is measured
against.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import masks
from .._validate import as_int, as_seed
from ..masks import PackedMasks

__all__ = [
    "CONSTRAINT_WEIGHT",
    "SHAPLEY_INDICES",
    "ShapleyDesign",
    "kernel_shap",
    "kernel_weights",
    "sample",
    "size_distribution",
]

#: Indices whose natural weighting of coalitions is the Shapley kernel ("sv" is k-SII of order 1;
#: Shapley–Taylor weights a pair's contexts by 1 / C(n − 1, |T|), heaviest at the small and
#: large coalitions, as the kernel does).
SHAPLEY_INDICES: tuple[str, ...] = ("sv", "sii", "ksii", "fsii", "stii")

#: Weight of the empty and all-kept masks, relative to the largest kernel weight.
CONSTRAINT_WEIGHT = 1e8


def size_distribution(n: int) -> np.ndarray:
    """``μ(s)`` for ``s = 0..n`` (``μ(0) = μ(n) = 0``), normalised to sum to 1 (all zeros if n < 2)."""
    n = as_int(n, "n", minimum=1)
    mu = np.zeros(n + 1)
    s = np.arange(1, n)
    if len(s):
        mu[1:n] = (n - 1) / (s * (n - s))
        mu /= mu.sum()
    return mu


@dataclass(frozen=True)
class ShapleyDesign:
    """A Shapley-kernel design: masks (row 0 all kept, row 1 empty) and their regression weights."""

    masks: PackedMasks
    weights: np.ndarray  #: per mask; the two constraint rows carry CONSTRAINT_WEIGHT x the max
    constraint: np.ndarray  #: bool per mask: the empty and the all-kept mask
    enumerated_sizes: tuple[int, ...]
    sampled: int  #: masks drawn at random (the rest are enumerated or constraints)
    info: dict[str, Any] = field(default_factory=dict)
    #: weights for the proxy's refit when they differ from ``weights`` (``None``: the same)
    refit_weights: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        """The design in JSON form (for ``settings``)."""
        return {"masks": len(self.masks), "enumerated_sizes": list(self.enumerated_sizes),
                "sampled": int(self.sampled), **self.info}


def _enumerate_size(n: int, s: int) -> np.ndarray:
    out = np.zeros((math.comb(n, s), n), dtype=bool)
    for r, combo in enumerate(itertools.combinations(range(n), s)):
        out[r, list(combo)] = True
    return out


def _law(n: int, law: str) -> np.ndarray:
    """A distribution over sizes ``0..n``: the Shapley kernel's ``μ`` or uniform over 1..n−1."""
    if law == "kernel":
        return size_distribution(n)
    if law in ("uniform", "mix"):
        mu = np.zeros(n + 1)
        mu[1:n] = 1.0 / max(n - 1, 1)
        return mu if law == "uniform" else 0.5 * (mu + size_distribution(n))
    msg = f"law must be 'kernel', 'uniform' or 'mix', got {law!r}"
    raise ValueError(msg)


#: The law sizes are drawn from: half the Shapley kernel, half uniform over sizes 1..n−1. The
#: kernel alone starves the middle sizes, where the proxy must still be right for the pair
#: indices (SII weighs every size alike) and the higher-order terms; measured in
#: docs/estimation-notes.md ("mix" vs "kernel"). The weights stay the kernel's (post-stratified).
SAMPLING_LAW = "mix"
#: The law the proxy's refit weights sizes by (the correction always uses the kernel).
REFIT_LAW = "kernel"


def sample(budget: int, n: int, *, seed: int | None = 0, paired: bool = True,
           law: str | None = None) -> ShapleyDesign:
    """Draw ``budget`` masks of the Shapley-kernel design over ``n`` components (module docstring).

    Fewer masks come back when the design holds fewer distinct coalitions than the budget
    (``2ⁿ`` in all); ``info["unused_budget"]`` says how many.
    """
    budget = as_int(budget, "budget", minimum=2)
    n = as_int(n, "n", minimum=1)
    rng = np.random.default_rng(as_seed(seed))
    mu = _law(n, SAMPLING_LAW if law is None else law)
    rows = [np.ones((1, n), dtype=bool), np.zeros((1, n), dtype=bool)]
    remaining = budget - 2
    left = set(range(1, n))
    enumerated: list[int] = []
    # 2. border sizes, in complementary pairs, while they are cheaper to enumerate than to draw
    for s in range(1, n // 2 + 1):
        pair = sorted({s, n - s})
        count = sum(math.comb(n, t) for t in pair)
        mass_left = sum(mu[t] for t in left)
        expected = remaining * sum(mu[t] for t in pair) / mass_left if mass_left > 0 else 0.0
        # sizes 1 and n - 1 whenever they fit: with them an additive game is identified exactly
        # (f({i}) − f(∅) and f(N) − f(N∖{i})), at any budget >= 2n + 2
        if count > remaining or (expected < count and s > 1):
            break
        for t in pair:
            block = _enumerate_size(n, t)
            rows.append(block)
        remaining -= count
        left -= set(pair)
        enumerated.extend(pair)
    # 3. the rest: sizes ∝ μ over the sizes left, uniform within a size, paired with complements
    sampled: list[np.ndarray] = []
    seen: set[bytes] = set()
    attempts = 0
    sizes_left = np.array(sorted(left), dtype=np.int64)
    total_left = sum(math.comb(n, int(t)) for t in sizes_left) if len(sizes_left) else 0
    if len(sizes_left) and total_left <= remaining:  # everything left fits: enumerate it all
        for t in sizes_left:
            rows.append(_enumerate_size(n, int(t)))
        remaining -= total_left
        enumerated.extend(int(t) for t in sizes_left)
        sizes_left = sizes_left[:0]
    if len(sizes_left):
        p = mu[sizes_left] / mu[sizes_left].sum()
        max_attempts = 50 * remaining + 100
        while remaining > 0 and attempts < max_attempts:
            attempts += 1
            s = int(rng.choice(sizes_left, p=p))
            keep = np.zeros(n, dtype=bool)
            keep[rng.permutation(n)[:s]] = True
            key = np.packbits(keep).tobytes()
            if key in seen:
                continue
            seen.add(key)
            sampled.append(keep)
            remaining -= 1
            if paired and remaining > 0:
                comp = ~keep
                ckey = np.packbits(comp).tobytes()
                if ckey not in seen:
                    seen.add(ckey)
                    sampled.append(comp)
                    remaining -= 1
        if sampled:
            rows.append(np.array(sampled, dtype=bool))
    x = np.concatenate(rows, axis=0)
    packed = masks.pack(x)
    weights, constraint = kernel_weights(x)
    refit = None if REFIT_LAW == "kernel" else kernel_weights(x, law=REFIT_LAW)[0]
    return ShapleyDesign(
        masks=packed, weights=weights, constraint=constraint, refit_weights=refit,
        enumerated_sizes=tuple(sorted(enumerated)), sampled=len(sampled),
        info={"unused_budget": int(remaining), "paired": bool(paired)},
    )


def kernel_weights(x: np.ndarray, *, law: str = "kernel") -> tuple[np.ndarray, np.ndarray]:
    """Regression weights of the masks ``x`` (``(m, n)`` bool) under the Shapley kernel.

    Each size's kernel mass ``μ(s)`` is shared equally by the masks of that size (so an
    enumerated size gets ``k(S) = μ(s)/C(n, s)`` per coalition, a sampled one the
    sampling-corrected share); the empty and all-kept masks are constraints
    (:data:`CONSTRAINT_WEIGHT` x the largest weight). Returns the weights and the constraint flags.
    """
    x = np.asarray(x, dtype=bool)
    n = x.shape[1]
    sizes = x.sum(axis=1)
    mu = _law(n, law)
    counts = np.bincount(sizes, minlength=n + 1)
    weights = np.zeros(len(x))
    inner = (sizes > 0) & (sizes < n)
    weights[inner] = mu[sizes[inner]] / counts[sizes[inner]]
    constraint = ~inner
    top = float(weights.max(initial=0.0)) or 1.0
    weights[constraint] = CONSTRAINT_WEIGHT * top
    return weights, constraint


def kernel_shap(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Shapley values by KernelSHAP: weighted least squares of ``y`` on the main effects.

    ``x`` are the masks (``(m, n)`` bool; the empty and the all-kept mask among them), ``y``
    the outputs, ``weights`` the kernel weights (default :func:`kernel_weights`). Returns the
    ``(n,)`` Shapley value estimates (the slopes of the additive fit ``v(∅) + Σ φᵢ xᵢ``).
    """
    x = np.asarray(x, dtype=bool)
    y = np.asarray(y, dtype=np.float64)
    w = kernel_weights(x)[0] if weights is None else np.asarray(weights, dtype=np.float64)
    design = np.concatenate([np.ones((len(x), 1)), x.astype(np.float64)], axis=1)
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)[0]
    return beta[1:]
