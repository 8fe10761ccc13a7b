"""BCH codes of the SPEX core, checked against brute force on small codes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fastspex import _core
from fastspex.masks import PackedMasks

SMALL_CODES = [(5, 1), (8, 2), (12, 3), (20, 2), (6, 4)]


def _columns(n: int, t: int) -> np.ndarray:
    """(r, n) 0/1 matrix: column i is the measured syndrome of component i."""
    return PackedMasks(_core.spex_delays(n, t, False), n).to_bool()[1:].astype(np.uint8)


def _poly_mod(a: list[int], g: list[int]) -> list[int]:
    a = a[:]
    for d in range(len(a) - 1, len(g) - 2, -1):
        if a[d]:
            for i, gi in enumerate(g):
                a[d - len(g) + 1 + i] ^= gi
    return a[: len(g) - 1]


@pytest.mark.parametrize(("n", "t"), SMALL_CODES)
def test_generator_and_columns(n: int, t: int) -> None:
    info = _core.bch_info(n, t)
    g = [int(v) for v in info["generator"]]
    r, length = info["redundancy"], info["length"]
    assert length == 2 ** info["m"] - 1
    assert len(g) == r + 1 and g[0] == 1 and g[-1] == 1
    assert length - r >= n
    # g divides x^N - 1 (it generates a cyclic code of length N).
    xn1 = [1] + [0] * (length - 1) + [1]
    assert not any(_poly_mod(xn1, g))
    # Column i is x^(r+i) mod g(x).
    cols = _columns(n, t)
    for i in range(n):
        mono = [0] * (r + i) + [1]
        assert cols[:, i].tolist() == _poly_mod(mono, g)


@pytest.mark.parametrize(("n", "t"), [(5, 1), (8, 2), (12, 3), (6, 4)])
def test_minimum_distance(n: int, t: int) -> None:
    # Every nonzero codeword (info u, parity = columns @ u) has weight >= 2t + 1.
    cols = _columns(n, t)
    u = np.array(list(itertools.product((0, 1), repeat=n)), np.uint8)[1:]
    parity = (u @ cols.T.astype(np.int64)) % 2
    weights = u.sum(1) + parity.sum(1)
    assert weights.min() >= 2 * t + 1


def _syndrome(pattern: tuple[int, ...], cols: np.ndarray, n: int) -> np.ndarray:
    r = cols.shape[0]
    s = np.zeros(r, np.uint8)
    for p in pattern:
        if p < n:
            s ^= cols[:, p]
        else:
            s[p - n] ^= 1
    return s


@pytest.mark.parametrize(("n", "t"), SMALL_CODES)
def test_decoding_matches_brute_force(n: int, t: int, rng: np.random.Generator) -> None:
    cols = _columns(n, t)
    r = cols.shape[0]
    positions = n + r  # components 0..n-1, then the r measured bits
    table: dict[bytes, tuple[int, ...]] = {}
    for w in range(t + 1):
        for pattern in itertools.combinations(range(positions), w):
            key = _syndrome(pattern, cols, n).tobytes()
            assert key not in table  # weight <= t patterns have distinct syndromes
            table[key] = pattern
    # Every pattern of weight <= t decodes to itself.
    patterns = list(table.values())
    bits = np.array([_syndrome(p, cols, n) for p in patterns], np.uint8)
    for p, (ok, comps, flips) in zip(patterns, _core.bch_decode(n, t, bits)):
        assert ok
        assert comps == [i for i in p if i < n]
        assert flips == [i - n for i in p if i >= n]
    # Weight t+1 patterns and random words: decoded iff within distance t of a codeword.
    heavy = list(itertools.islice(itertools.combinations(range(positions), t + 1), 3000))
    words = [_syndrome(p, cols, n) for p in heavy] + list(rng.integers(0, 2, (2000, r), dtype=np.uint8))
    out = _core.bch_decode(n, t, np.array(words, np.uint8))
    for word, (ok, comps, flips) in zip(words, out):
        expected = table.get(word.tobytes())
        assert ok == (expected is not None)
        if ok:
            assert tuple(comps) + tuple(f + n for f in flips) == expected


def test_large_code_random_supports(rng: np.random.Generator) -> None:
    n, t = 10_000, 5
    info = _core.bch_info(n, t)
    assert info["m"] == 14 and info["redundancy"] == 70
    delays = PackedMasks(_core.spex_delays(n, t, False), n).to_bool()[1:].astype(np.uint8)
    words, truths = [], []
    for _ in range(200):
        w = int(rng.integers(0, t + 1))
        k = sorted(int(i) for i in rng.choice(n, size=w, replace=False))
        flips = sorted(int(i) for i in rng.choice(70, size=int(rng.integers(0, t - w + 1)), replace=False))
        s = delays[:, k].sum(1) % 2 if k else np.zeros(70, np.int64)
        s = s.astype(np.uint8)
        s[flips] ^= 1
        words.append(s)
        truths.append((k, flips))
    for (ok, comps, flips), (k, f) in zip(_core.bch_decode(n, t, np.array(words)), truths):
        assert ok and comps == k and flips == f


def test_delays_complement() -> None:
    n, t = 70, 3
    plain = PackedMasks(_core.spex_delays(n, t, False), n).to_bool()
    comp = PackedMasks(_core.spex_delays(n, t, True), n).to_bool()
    assert not plain[0].any() and comp[0].all()
    assert np.array_equal(plain, ~comp)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="too large"):
        _core.bch_info(2_000_000, 5)
    with pytest.raises(ValueError, match="t must"):
        _core.bch_info(100, 0)
    with pytest.raises(ValueError, match="t must"):
        _core.bch_info(100, 17)
    with pytest.raises(ValueError, match="columns"):
        _core.bch_decode(20, 2, np.zeros((3, 5), np.uint8))
    with pytest.raises(TypeError):
        _core.bch_decode(20, 2, np.zeros((3, 10), np.float64))
