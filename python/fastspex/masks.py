"""Ablation masks: packed storage and the designs that choose which masks to query.

A mask is a row of ``n`` bits, **1 = component kept, 0 = ablated**. ``PackedMasks`` stores
``m`` masks as an ``(m, ceil(n/64))`` uint64 array (bit ``j`` of a row in word ``j // 64``,
bit ``j % 64``); every design returns one. Convert with :func:`pack` / :meth:`PackedMasks.to_bool`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from . import _core
from ._validate import as_int, as_seed, as_threads

__all__ = [
    "MaskLike",
    "PackedMasks",
    "as_bool_masks",
    "as_packed",
    "bernoulli",
    "distinct",
    "distinct_uniform",
    "exhaustive",
    "gf2_subsample",
    "leave_k_out",
    "leave_one_out",
    "pack",
    "random_subsets",
    "unique",
]

MAX_EXHAUSTIVE_N = 24
#: Rounds of draws :func:`distinct` makes before it settles for fewer masks than asked.
DISTINCT_ROUNDS = 32


@dataclass(frozen=True, eq=False)
class PackedMasks:
    """``m`` masks over ``n`` components, packed 64 per word (row-major)."""

    words: np.ndarray
    n: int

    def __post_init__(self) -> None:
        n = as_int(self.n, "n", minimum=1)
        words = self.words
        if not isinstance(words, np.ndarray) or words.dtype != np.uint64 or words.ndim != 2:
            msg = "PackedMasks.words must be a 2-D uint64 array"
            raise TypeError(msg)
        if words.shape[1] != (n + 63) // 64:
            msg = f"PackedMasks.words has {words.shape[1]} words per row; n = {n} needs {(n + 63) // 64}"
            raise ValueError(msg)
        object.__setattr__(self, "words", np.ascontiguousarray(words))
        object.__setattr__(self, "n", n)

    def __len__(self) -> int:
        return int(self.words.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``, the shape of the unpacked matrix."""
        return (len(self), self.n)

    def __getitem__(self, rows: int | slice | np.ndarray) -> PackedMasks:
        """Select rows (an int, slice, index array or boolean array) as new ``PackedMasks``."""
        if isinstance(rows, (int, np.integer)):
            rows = slice(int(rows), int(rows) + 1) if rows != -1 else slice(-1, None)
        return PackedMasks(np.ascontiguousarray(self.words[rows]), self.n)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackedMasks):
            return NotImplemented
        return self.n == other.n and np.array_equal(self.words, other.words)

    def to_bool(self, *, n_threads: int | None = None) -> np.ndarray:
        """The ``(m, n)`` bool matrix."""
        return _core.unpack(self.words, self.n, as_threads(n_threads))

    def complement(self) -> PackedMasks:
        """Every mask with kept and ablated swapped (``1 − x``), computed on the packed words."""
        words = ~self.words
        tail = self.n % 64
        if tail:  # the padding bits past n stay zero, as every packed mask keeps them
            words[:, -1] &= np.uint64((1 << tail) - 1)
        return PackedMasks(words, self.n)

    def popcount(self, *, n_threads: int | None = None) -> np.ndarray:
        """Number of kept components in each mask."""
        return _core.popcount(self.words, self.n, as_threads(n_threads))

    def row_bytes(self) -> list[bytes]:
        """Each mask as a compact byte string (its packed words), e.g. as a storage key."""
        raw = self.words.tobytes()
        step = self.words.shape[1] * 8
        return [raw[i : i + step] for i in range(0, len(raw), step)]

    @classmethod
    def from_row_bytes(cls, rows: list[bytes], n: int) -> PackedMasks:
        """Inverse of :meth:`row_bytes`."""
        w = (n + 63) // 64
        words = np.frombuffer(b"".join(rows), dtype=np.uint64).reshape(len(rows), w)
        return cls(words.copy(), n)

    @staticmethod
    def concat(parts: list[PackedMasks]) -> PackedMasks:
        """Stack several mask sets over the same ``n``."""
        if not parts:
            msg = "concat needs at least one PackedMasks"
            raise ValueError(msg)
        n = parts[0].n
        if any(p.n != n for p in parts):
            msg = "all PackedMasks must have the same n"
            raise ValueError(msg)
        return PackedMasks(np.concatenate([p.words for p in parts], axis=0), n)


MaskLike = Union[PackedMasks, np.ndarray]


def pack(masks: np.ndarray, *, n_threads: int | None = None) -> PackedMasks:
    """Pack an ``(m, n)`` bool/integer 0-1 matrix (nonzero = kept)."""
    arr = np.asarray(masks)
    if arr.ndim != 2:
        msg = f"masks must be a 2-D (m, n) array, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.shape[1] == 0:
        msg = "masks must have at least one column (n >= 1)"
        raise ValueError(msg)
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    elif arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_:
            msg = f"masks must be bool or integer 0/1, got dtype {arr.dtype}"
            raise TypeError(msg)
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            msg = "integer masks must contain only 0 and 1"
            raise ValueError(msg)
        arr = arr.astype(np.uint8)
    arr = np.ascontiguousarray(arr)
    return PackedMasks(_core.pack(arr, as_threads(n_threads)), int(arr.shape[1]))


def as_packed(masks: MaskLike, n: int | None = None) -> PackedMasks:
    """Accept packed or unpacked masks; check ``n`` when given."""
    packed = masks if isinstance(masks, PackedMasks) else pack(masks)
    if n is not None and packed.n != n:
        msg = f"masks have {packed.n} components, expected {n}"
        raise ValueError(msg)
    return packed


def as_bool_masks(masks: MaskLike, n: int | None = None) -> np.ndarray:
    """Accept packed or unpacked masks and return the ``(m, n)`` bool matrix."""
    if isinstance(masks, PackedMasks):
        out = masks.to_bool()
    else:
        out = np.asarray(masks)
        if out.ndim != 2:
            msg = f"masks must be a 2-D (m, n) array, got shape {out.shape}"
            raise ValueError(msg)
        if out.dtype != np.bool_:
            out = pack(out).to_bool()
    if n is not None and out.shape[1] != n:
        msg = f"masks have {out.shape[1]} components, expected {n}"
        raise ValueError(msg)
    return out


def bernoulli(
    m: int, n: int, p: float = 0.5, *, seed: int | None = None, n_threads: int | None = None
) -> PackedMasks:
    """``m`` masks keeping each component independently with probability ``p``.

    ``p`` is honoured to 2⁻³²; ``p = 1/2`` (the default) is the uniform design of ProxySPEX.
    """
    m = as_int(m, "m", minimum=0)
    n = as_int(n, "n", minimum=1)
    p = float(p)
    if not 0.0 <= p <= 1.0:
        msg = f"p must lie in [0, 1], got {p}"
        raise ValueError(msg)
    return PackedMasks(_core.bernoulli(m, n, p, as_seed(seed), as_threads(n_threads)), n)


def distinct_uniform(
    m: int, n: int, *, paired: bool = True, seed: int | None = None, n_threads: int | None = None
) -> PackedMasks:
    """``m`` distinct uniform masks, none of them the all-kept one (the baseline every design
    adds), drawn without replacement; with ``paired`` in complementary pairs: rows ``h`` then
    their complements, ``[h, ~h][:m]``, no pair drawn twice (so the empty mask never appears).

    Fewer than ``m`` when the cube has fewer (``2ⁿ − 1`` masks, ``2ⁿ⁻¹ − 1`` pairs): then all of
    them. Repeats carry no information (the evaluator answers them from memory) and a mask in
    two cross-validation folds leaks its answer into training.
    """
    m = as_int(m, "m", minimum=0)
    n = as_int(n, "n", minimum=1)
    rng = np.random.default_rng(as_seed(seed))
    want = (m + 1) // 2 if paired else m
    # The candidates: each pair named by its row that ablates component 0 (the empty/all-kept
    # pair left out), or every row but the all-kept one.
    space = None if n >= 63 else (1 << (n - 1)) - 1 if paired else (1 << n) - 1
    if space is not None and want >= space // 2 and n <= MAX_EXHAUSTIVE_N:
        # half the candidates or more: enumerate them and take a random subset
        rows = exhaustive(n, n_threads=n_threads).to_bool()
        rows = rows[~rows[:, 0] & rows.any(axis=1)] if paired else rows[~rows.all(axis=1)]
        pick = rows[rng.permutation(len(rows))[:want]]
        out = _orient_and_pair(pack(pick), m, paired, rng)
        if paired and want > len(rows) and len(out) < m:  # every pair taken: the empty mask too
            out = PackedMasks.concat([out, pack(np.zeros((1, n), dtype=bool))])
        return out
    # fewer than half the candidates: draw them without replacement (rejection converges fast)
    def candidates(count: int, s: int) -> PackedMasks:
        bits = bernoulli(count, n, 0.5, seed=s, n_threads=n_threads).to_bool()
        if not paired:
            return pack(bits)  # distinct() drops the all-kept row
        bits[bits[:, 0]] ^= True  # the pair's row that ablates component 0
        return pack(bits[bits.any(axis=1)])  # the empty/all-kept pair left out

    drawn = distinct(candidates, want, n, seed=int(rng.integers(2**63)), n_threads=n_threads)
    return _orient_and_pair(drawn, m, paired, rng)


def distinct(
    draw: Callable[[int, int], PackedMasks], m: int, n: int, *, seed: int | None = None,
    n_threads: int | None = None,
) -> PackedMasks:
    """``m`` distinct masks, none all-kept, from a design ``draw(count, seed)`` sampled without
    replacement (each new mask drawn from the design given that it is not yet drawn).

    Fewer than ``m`` when the design's support runs out, or when its unseen masks are so
    improbable that :data:`DISTINCT_ROUNDS` rounds of draws find none (e.g. ``ablate(1-1)`` has
    ``n`` masks). Used by the Bernoulli and ablate-k designs, whose repeats are common at small
    ``n`` (75 % of 500 Bernoulli keep = 0.9 masks at n = 12).
    """
    m = as_int(m, "m", minimum=0)
    rng = np.random.default_rng(as_seed(seed))
    seen = pack(np.zeros((0, n), dtype=bool))
    for _ in range(DISTINCT_ROUNDS):
        need = m - len(seen)
        if need <= 0:
            break
        batch = draw(2 * need + 64, int(rng.integers(2**63)))
        batch = batch[np.flatnonzero(batch.popcount() < n)]
        pool = PackedMasks.concat([seen, batch])
        _, first, _ = unique(pool, n_threads=n_threads)
        fresh = np.sort(first[first >= len(seen)])[:need]
        seen = PackedMasks.concat([seen, pool[fresh]])
    return seen


def _orient_and_pair(rows: PackedMasks, m: int, paired: bool, rng: np.random.Generator
                     ) -> PackedMasks:
    """Random orientation of each pair's row (each mask stays uniform), then ``[h, ~h][:m]``."""
    if not paired:
        return rows[:m]
    bits = rows.to_bool()
    flip = rng.random(len(bits)) < 0.5
    bits[flip] = ~bits[flip]
    half = pack(bits)
    return PackedMasks.concat([half, half.complement()])[:m]


def _count_range(value: int | tuple[int, int], name: str, n: int) -> tuple[int, int]:
    lo, hi = (value, value) if not isinstance(value, tuple) else value
    lo = as_int(lo, name, minimum=0)
    hi = as_int(hi, name, minimum=0)
    if lo > hi or hi > n:
        msg = f"{name} must satisfy 0 <= min <= max <= n = {n}, got ({lo}, {hi})"
        raise ValueError(msg)
    return lo, hi


def random_subsets(
    m: int,
    n: int,
    *,
    num_ablated: int | tuple[int, int] | None = (1, 5),
    num_kept: int | tuple[int, int] | None = None,
    seed: int | None = None,
    n_threads: int | None = None,
) -> PackedMasks:
    """``m`` masks each ablating a uniformly chosen set of ``k`` components.

    ``k`` is fixed (an int) or drawn uniformly from an inclusive ``(min, max)`` range; the default
    ``(1, 5)`` is ProxySPEX's "1 to 5 ablated at a time" design. Give ``num_kept`` instead to fix the
    number of kept components.
    """
    m = as_int(m, "m", minimum=0)
    n = as_int(n, "n", minimum=1)
    if num_kept is not None:
        lo, hi = _count_range(num_kept, "num_kept", n)
        count_kept = True
    elif num_ablated is not None:
        lo, hi = _count_range(num_ablated, "num_ablated", n)
        count_kept = False
    else:
        msg = "give num_ablated or num_kept"
        raise ValueError(msg)
    words = _core.random_subsets(m, n, lo, hi, count_kept, as_seed(seed), as_threads(n_threads))
    return PackedMasks(words, n)


def leave_k_out(
    n: int, k: int, *, min_k: int = 0, n_threads: int | None = None
) -> PackedMasks:
    """Every set of ``min_k``…``k`` components ablated from the full input.

    Rows are ordered by the number ablated, then lexicographically; with ``min_k = 0`` the first
    row is the full input. ``leave_k_out(n, 2)`` is what the ablation interactions Δᵢⱼ need.
    """
    n = as_int(n, "n", minimum=1)
    k = as_int(k, "k", minimum=0)
    min_k = as_int(min_k, "min_k", minimum=0)
    if min_k > k or k > n:
        msg = f"need 0 <= min_k <= k <= n = {n}, got min_k={min_k}, k={k}"
        raise ValueError(msg)
    return PackedMasks(_core.leave_k_out(n, min_k, k, as_threads(n_threads)), n)


def leave_one_out(n: int, *, include_full: bool = True) -> PackedMasks:
    """The full input (optional) followed by the ``n`` masks that ablate one component."""
    return leave_k_out(n, 1, min_k=0 if include_full else 1)


def exhaustive(n: int, *, n_threads: int | None = None) -> PackedMasks:
    """All ``2ⁿ`` masks (n ≤ 24); row ``r`` keeps component ``j`` iff bit ``j`` of ``r`` is set."""
    n = as_int(n, "n", minimum=1)
    if n > MAX_EXHAUSTIVE_N:
        msg = f"exhaustive enumeration needs n <= {MAX_EXHAUSTIVE_N}, got {n}"
        raise ValueError(msg)
    return PackedMasks(_core.exhaustive(n, as_threads(n_threads)), n)


def gf2_subsample(
    n: int,
    b: int,
    *,
    delays: MaskLike | None = None,
    H: MaskLike | None = None,
    seed: int | None = None,
    n_threads: int | None = None,
) -> tuple[PackedMasks, PackedMasks]:
    """SPEX's subsampling design: rows ``Hᵀℓ ⊕ d`` for every delay ``d`` and ``ℓ ∈ {0,1}ᵇ``.

    ``H`` is a ``b × n`` binary matrix (i.i.d. fair bits from ``seed`` unless given) and
    ``delays`` a ``P × n`` binary matrix (default: the single zero delay). Row
    ``p·2ᵇ + ℓ`` of the result uses delay ``p``, and bit ``k`` of ``ℓ`` selects row ``k`` of ``H``.
    Returns ``(masks, H)``.
    """
    n = as_int(n, "n", minimum=1)
    b = as_int(b, "b", minimum=0)
    if b > n:
        msg = f"b must not exceed n (b={b}, n={n})"
        raise ValueError(msg)
    if b > 30:
        msg = f"b must be <= 30 (2^b masks per delay), got {b}"
        raise ValueError(msg)
    threads = as_threads(n_threads)
    if H is None:
        h = PackedMasks(_core.bernoulli(b, n, 0.5, as_seed(seed), threads), n)
    else:
        h = as_packed(H, n)
        if len(h) != b:
            msg = f"H must have b = {b} rows, got {len(h)}"
            raise ValueError(msg)
    d = PackedMasks(np.zeros((1, (n + 63) // 64), np.uint64), n) if delays is None else as_packed(delays, n)
    if len(d) == 0:
        msg = "delays must have at least one row"
        raise ValueError(msg)
    return PackedMasks(_core.gf2_subsample(h.words, d.words, n, threads), n), h


def unique(
    masks: MaskLike, *, n_threads: int | None = None
) -> tuple[PackedMasks, np.ndarray, np.ndarray]:
    """Distinct masks in order of first occurrence.

    Returns ``(distinct, first, inverse)`` with ``distinct = masks[first]`` and
    ``masks[i] == distinct[inverse[i]]``.
    """
    packed = as_packed(masks)
    first, inverse = _core.unique(packed.words, packed.n, as_threads(n_threads))
    return packed[first], first, inverse
