"""The mask engine against brute force and NumPy references."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fastspex import masks as M


def numpy_pack(b: np.ndarray) -> np.ndarray:
    """Reference packing: bit j of a row at word j // 64, bit j % 64."""
    m, n = b.shape
    w = (n + 63) // 64
    padded = np.zeros((m, w * 64), np.uint8)
    padded[:, :n] = b != 0
    bits = np.packbits(padded.reshape(m, w, 8, 8), axis=-1, bitorder="little")
    return bits.reshape(m, w, 8).view(np.uint64).reshape(m, w)


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(0, 40), st.integers(1, 200)), elements=st.integers(0, 3)))
def test_pack_unpack_round_trip(b: np.ndarray) -> None:
    packed = M.pack(b)
    np.testing.assert_array_equal(packed.words, numpy_pack(b))
    np.testing.assert_array_equal(packed.to_bool(), b != 0)


def test_pack_accepts_bool_and_int(rng: np.random.Generator) -> None:
    b = rng.random((17, 130)) < 0.3
    assert M.pack(b) == M.pack(b.astype(np.int64)) == M.pack(b.astype(np.uint8))
    np.testing.assert_array_equal(M.pack(b).popcount(), b.sum(1))


def test_pack_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        M.pack(np.zeros(5, bool))
    with pytest.raises(ValueError, match="at least one column"):
        M.pack(np.zeros((3, 0), bool))
    with pytest.raises(ValueError, match="only 0 and 1"):
        M.pack(np.array([[0, 2]]))
    with pytest.raises(TypeError, match="bool or integer"):
        M.pack(np.array([[0.5, 1.0]]))


def test_packed_rejects_set_padding_bits() -> None:
    words = np.array([[1 << 63]], np.uint64)  # bit 63 set but n = 10
    with pytest.raises(ValueError, match="beyond n"):
        M.PackedMasks(words, 10).to_bool()


def test_exhaustive_matches_itertools() -> None:
    for n in (1, 3, 7, 12):
        got = M.exhaustive(n).to_bool()
        want = np.array([[(r >> j) & 1 for j in range(n)] for r in range(1 << n)], bool)
        np.testing.assert_array_equal(got, want)


def test_exhaustive_limits() -> None:
    with pytest.raises(ValueError, match="n <= 24"):
        M.exhaustive(25)
    with pytest.raises(ValueError, match=">= 1"):
        M.exhaustive(0)


@pytest.mark.parametrize(("n", "k", "min_k"), [(5, 2, 0), (9, 3, 1), (70, 2, 2), (6, 6, 0)])
def test_leave_k_out_matches_combinations(n: int, k: int, min_k: int) -> None:
    want = []
    for size in range(min_k, k + 1):
        for t in itertools.combinations(range(n), size):
            row = np.ones(n, bool)
            row[list(t)] = False
            want.append(row)
    np.testing.assert_array_equal(M.leave_k_out(n, k, min_k=min_k).to_bool(), np.array(want))


def test_leave_one_out() -> None:
    got = M.leave_one_out(4).to_bool()
    assert got.shape == (5, 4) and got[0].all()
    np.testing.assert_array_equal(~got[1:], np.eye(4, dtype=bool))
    assert len(M.leave_one_out(4, include_full=False)) == 4


def test_leave_k_out_too_large_is_memory_error() -> None:
    with pytest.raises(MemoryError):
        M.leave_k_out(10**6, 4)


def test_bernoulli_statistics_and_determinism() -> None:
    for p in (0.0, 0.1, 0.5, 0.77, 1.0):
        a = M.bernoulli(4000, 100, p, seed=7)
        assert a == M.bernoulli(4000, 100, p, seed=7)
        frac = a.to_bool().mean()
        assert abs(frac - p) < 4 * np.sqrt(p * (1 - p) / 4e5) + 1e-12
    assert M.bernoulli(100, 100, seed=1) != M.bernoulli(100, 100, seed=2)


def test_bernoulli_bits_are_independent() -> None:
    b = M.bernoulli(20000, 130, 0.3, seed=3).to_bool().astype(float)
    corr = np.corrcoef(b, rowvar=False)
    off = corr[~np.eye(130, dtype=bool)]
    assert np.abs(off).max() < 0.05  # 4.5 sigma at m = 20000


def test_bernoulli_independent_of_thread_count() -> None:
    one = M.bernoulli(5000, 300, 0.3, seed=11, n_threads=1)
    two = M.bernoulli(5000, 300, 0.3, seed=11, n_threads=2)
    assert one == two


def test_bernoulli_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.bernoulli(10, 5, 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.bernoulli(10, 5, float("nan"))
    with pytest.raises(ValueError, match="n must be >= 1"):
        M.bernoulli(10, 0)
    with pytest.raises(TypeError, match="integer"):
        M.bernoulli(10.5, 3)  # type: ignore[arg-type]
    with pytest.raises(MemoryError):
        M.bernoulli(10**9, 10**6)


def test_random_subsets_counts() -> None:
    b = M.random_subsets(3000, 50, num_ablated=(1, 5), seed=2).to_bool()
    ablated = (~b).sum(1)
    assert ablated.min() == 1 and ablated.max() == 5
    counts = np.bincount(ablated)[1:]
    assert counts.min() > 500  # k uniform over 1..5
    # every component equally likely to be ablated
    per_comp = (~b).sum(0)
    assert per_comp.min() > 0.6 * per_comp.mean()
    kept = M.random_subsets(200, 40, num_kept=3, seed=2).to_bool()
    assert (kept.sum(1) == 3).all()


def test_random_subsets_uniform_over_pairs() -> None:
    b = M.random_subsets(30000, 6, num_ablated=2, seed=5).to_bool()
    keys = [tuple(np.flatnonzero(~row)) for row in b]
    _, counts = np.unique(np.array(keys), axis=0, return_counts=True)
    assert len(counts) == 15
    assert counts.min() > 0.85 * 2000 and counts.max() < 1.15 * 2000


def test_random_subsets_rejects_bad_ranges() -> None:
    with pytest.raises(ValueError, match="min <= max <= n"):
        M.random_subsets(10, 4, num_ablated=(1, 5))
    with pytest.raises(ValueError, match="min <= max"):
        M.random_subsets(10, 40, num_ablated=(3, 2))


def test_gf2_subsample_matches_definition(rng: np.random.Generator) -> None:
    n, b = 70, 4
    delays = rng.random((3, n)) < 0.2
    got, h = M.gf2_subsample(n, b, delays=delays, seed=9)
    hb = h.to_bool().astype(np.int64)
    assert hb.shape == (b, n)
    want = []
    for d in delays:
        for ell in range(1 << b):
            lvec = np.array([(ell >> k) & 1 for k in range(b)])
            want.append(((lvec @ hb) % 2).astype(bool) ^ d)
    np.testing.assert_array_equal(got.to_bool(), np.array(want))


def test_gf2_subsample_large_b_chunks(rng: np.random.Generator) -> None:
    # b > 10 exercises the chunked (high bits fixed) path.
    n, b = 40, 12
    h = rng.random((b, n)) < 0.5
    got, _ = M.gf2_subsample(n, b, H=h)
    idx = rng.integers(0, 1 << b, 200)
    lbits = ((idx[:, None] >> np.arange(b)) & 1).astype(np.int64)
    want = (lbits @ h.astype(np.int64)) % 2
    np.testing.assert_array_equal(got.to_bool()[idx], want.astype(bool))


def test_gf2_subsample_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="b must not exceed n"):
        M.gf2_subsample(5, 6)
    with pytest.raises(ValueError, match="rows"):
        M.gf2_subsample(10, 3, H=np.zeros((2, 10), bool))
    with pytest.raises(ValueError, match="components"):
        M.gf2_subsample(10, 3, delays=np.zeros((1, 9), bool))


def test_unique_first_occurrence(rng: np.random.Generator) -> None:
    b = rng.random((500, 6)) < 0.5  # many repeats
    distinct, first, inverse = M.unique(b)
    _, np_first, np_inverse = np.unique(b, axis=0, return_index=True, return_inverse=True)
    assert len(distinct) == len(np_first)
    np.testing.assert_array_equal(first, np.sort(np_first))
    np.testing.assert_array_equal(distinct.to_bool()[inverse], b)
    assert (np.diff(first) > 0).all()


def test_design_calls_run_concurrently() -> None:
    """The GIL is released: two threads generating designs get the same answers as one."""
    want = M.bernoulli(20000, 500, 0.5, seed=4)
    out: list[M.PackedMasks] = []
    threads = [threading.Thread(target=lambda: out.append(M.bernoulli(20000, 500, 0.5, seed=4))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(o == want for o in out)


def test_large_n_single_row() -> None:
    a = M.bernoulli(3, 10**6, 0.5, seed=0)
    assert a.words.shape == (3, 15625)
    assert abs(a.popcount().mean() - 5e5) < 5e3


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize(("n", "m"), [(1, 3), (3, 5), (5, 40), (10, 600), (12, 7), (70, 200)])
def test_distinct_uniform_draws_without_replacement(paired: bool, n: int, m: int) -> None:
    x = M.distinct_uniform(m, n, paired=paired, seed=1).to_bool()
    cube = 2**n - 1 if n < 63 else m  # every mask but the all-kept one
    assert len(x) == min(m, cube)
    assert len(np.unique(np.packbits(x, axis=1), axis=0)) == len(x)
    assert not x.all(axis=1).any()
    if paired and len(x) < cube:
        half = (len(x) + 1) // 2
        np.testing.assert_array_equal(x[half:], ~x[: len(x) - half])


def test_distinct_uniform_is_uniform() -> None:
    x = M.distinct_uniform(4000, 16, seed=0).to_bool()
    assert np.abs(x.mean(axis=0) - 0.5).max() < 0.04
    c = np.corrcoef(x.T.astype(float))[np.triu_indices(16, 1)]
    assert np.abs(c).max() < 0.08  # independent components (4,000 rows: sd of r ≈ 0.016)
    assert M.distinct_uniform(10, 16, seed=5) == M.distinct_uniform(10, 16, seed=5)
