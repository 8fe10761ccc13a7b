"""fastspex.pairs: top-k of all pairs against a full NumPy sort, index semantics, threads, errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from fastspex import indices
from fastspex.coefficients import Coefficients
from fastspex.pairs import top_pairs

BYS = ("largest", "smallest", "magnitude")


def numpy_top(P: np.ndarray, k: int, by: str):
    """Reference: every pair i<j of a dense score matrix, fully sorted (key desc, then i, j)."""
    iu, ju = np.triu_indices(P.shape[0], 1)
    s = P[iu, ju]
    key = {"largest": s, "smallest": -s, "magnitude": np.abs(s)}[by]
    kth = np.partition(key, len(key) - k)[len(key) - k]  # k-th largest key; keep every tie
    cand = np.flatnonzero(key >= kth)
    order = cand[np.lexsort((ju[cand], iu[cand], -key[cand]))][:k]
    return iu[order], ju[order], s[order]


def assert_same(got, want, *, exact_ids=True):
    i, j, s = want
    np.testing.assert_allclose(got.score, s, rtol=1e-12, atol=1e-12)
    if exact_ids:
        np.testing.assert_array_equal(got.i, i)
        np.testing.assert_array_equal(got.j, j)
    assert np.all(got.i < got.j)


@pytest.mark.parametrize("by", BYS)
@pytest.mark.parametrize("k", [1, 100, 3000])
def test_fm_matches_full_sort(by, k):
    rng = np.random.default_rng(k)
    n = 2000
    V = rng.normal(size=(n, 8))
    got = top_pairs(V, k, by=by)
    assert_same(got, numpy_top(V @ V.T, k, by))


@pytest.mark.parametrize("by", BYS)
def test_fm_ties_broken_by_index(by):
    # small integer embeddings: exact arithmetic, many tied scores
    rng = np.random.default_rng(1)
    V = rng.integers(-1, 2, size=(600, 3)).astype(float)
    got = top_pairs(V, 5000, by=by, n_threads=2)
    assert_same(got, numpy_top(V @ V.T, 5000, by))


def test_fm_index_semantics_against_brute_force():
    # an FM as a Möbius set: the pair index of every name matches the exact index computation
    rng = np.random.default_rng(3)
    n, r = 9, 3
    V = rng.normal(size=(n, r))
    pairs = {(a, b): float(V[a] @ V[b]) for a in range(n) for b in range(a + 1, n)}
    pairs.update({(a,): float(rng.normal()) for a in range(n)})
    pairs[()] = 0.3
    coefs = Coefficients.from_dict(pairs, n, "mobius")
    for name in ("mobius", "fourier", "bii", "sii", "fbii", "fsii", "stii", "ablation"):
        truth = indices.compute_index(coefs, name, 2)
        P = np.zeros((n, n))
        for sup, v in truth.to_dict().items():
            if len(sup) == 2:
                P[sup] = v
        got = top_pairs(V, 36, index=name, by="largest")
        assert_same(got, numpy_top(P, 36, "largest"), exact_ids=False)
        np.testing.assert_array_equal(got.i, top_pairs(coefs, 36, index=name, by="largest").i)


def dense_pair_index(coefs: Coefficients, name: str, order: int) -> np.ndarray:
    res = indices.compute_index(coefs, name, order)
    P = np.zeros((coefs.n, coefs.n))
    for q in np.flatnonzero(res.orders() == 2):
        a, b = res.indices[res.indptr[q] : res.indptr[q + 1]]
        P[a, b] = res.values[q]
    return P


@pytest.mark.parametrize("basis", ["fourier", "mobius"])
@pytest.mark.parametrize("name", ["mobius", "fourier", "bii", "sii", "fsii", "stii", "ablation"])
def test_sparse_set_matches_full_sort(basis, name):
    rng = np.random.default_rng(11)
    n = 120
    sup = {}
    for _ in range(60):
        d = int(rng.integers(1, 5))
        sup[tuple(sorted(rng.choice(n, d, replace=False).tolist()))] = float(rng.normal())
    coefs = Coefficients.from_dict(sup, n, basis)
    P = dense_pair_index(coefs, name, 3)
    nonzero = int(np.count_nonzero(P))
    for by in BYS:
        for k in (5, nonzero, nonzero + 50, 2000):  # k beyond the nonzero pairs pulls in zeros
            got = top_pairs(coefs, k, index=name, order=3, by=by)
            assert_same(got, numpy_top(P, k, by))


def test_sparse_polynomial_large_n_and_exact_cancellation():
    n = 50_000
    coefs = Coefficients.from_dict({(1, 2): 1.0, (7, 9): -2.0, (3, 4, 5): 0.5}, n, "mobius")
    got = top_pairs(coefs, 6, by="largest")
    assert got.to_dict() == {(1, 2): 1.0, (0, 1): 0.0, (0, 2): 0.0, (0, 3): 0.0, (0, 4): 0.0, (0, 5): 0.0}
    got = top_pairs(coefs, 3, index="ablation", by="magnitude")
    assert got.to_dict() == {(7, 9): -2.0, (1, 2): 1.0, (3, 4): 0.5}
    # two supports cancelling exactly leave a zero pair, ranked like the untouched zeros
    cancel = Coefficients(4, np.array([0, 2, 4]), np.array([0, 1, 0, 1]), np.array([1.0, -1.0]), "mobius")
    got = top_pairs(cancel, 6, by="magnitude")
    assert got.to_dict() == {(0, 1): 0.0, (0, 2): 0.0, (0, 3): 0.0, (1, 2): 0.0, (1, 3): 0.0, (2, 3): 0.0}


def test_portable_kernel_agrees():
    from fastspex import _core

    rng = np.random.default_rng(8)
    V = rng.normal(size=(1500, 5))
    for by in BYS:
        want = numpy_top(V @ V.T, 200, by)
        for simd in (True, False):
            i, j, s = _core.fm_top_pairs(V, 1.0, 200, by, 2, simd)
            np.testing.assert_array_equal(i, want[0])
            np.testing.assert_array_equal(j, want[1])
            np.testing.assert_allclose(s, want[2], rtol=1e-12)


def test_results_do_not_depend_on_threads():
    rng = np.random.default_rng(2)
    V = rng.normal(size=(3000, 16))
    a = top_pairs(V, 500, n_threads=1)
    b = top_pairs(V, 500, n_threads=2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_gil_released_and_concurrent_calls_correct():
    rng = np.random.default_rng(4)
    V = rng.normal(size=(8_000, 16))
    expected = top_pairs(V, 50, n_threads=1)
    results: list = [None, None]
    done = threading.Event()

    def work(slot: int) -> None:
        results[slot] = top_pairs(V, 50, n_threads=1)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    stamps = []
    while any(t.is_alive() for t in threads):
        stamps.append(time.perf_counter())
        time.sleep(0.001)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    done.set()
    for res in results:
        for x, y in zip(res, expected):
            np.testing.assert_array_equal(x, y)
    # While both workers ran, this thread kept waking up: no long GIL-held stretch.
    gaps = np.diff([start, *stamps])
    assert gaps.max() < 0.5 * elapsed


def test_bad_inputs():
    V = np.ones((10, 3))
    with pytest.raises(ValueError, match="exceeds the 45 pairs"):
        top_pairs(V, 46)
    with pytest.raises(ValueError, match="r = 0"):
        top_pairs(np.ones((10, 0)), 1)
    bad = V.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        top_pairs(bad, 1)
    with pytest.raises(ValueError, match=">= 1"):
        top_pairs(V, 0)
    with pytest.raises(ValueError, match="at least 2"):
        top_pairs(np.ones((1, 3)), 1)
    with pytest.raises(ValueError, match="by must be"):
        top_pairs(V, 1, by="biggest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="index must be"):
        top_pairs(V, 1, index="shap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="order"):
        top_pairs(V, 1, index="fsii", order=1)
    with pytest.raises(TypeError):
        top_pairs([[1.0, 2.0]], 1)
    with pytest.raises(ValueError, match="2-D"):
        top_pairs(np.ones(5), 1)
    coefs = Coefficients.from_dict({(0, 1): float("nan")}, 5, "mobius")
    with pytest.raises(ValueError, match="finite"):
        top_pairs(coefs, 1)
    coefs = Coefficients.from_dict({(0, 1): 1.0}, 5, "mobius")
    with pytest.raises(ValueError, match="exceeds the 10 pairs"):
        top_pairs(coefs, 11)
    big = Coefficients.from_dict({tuple(range(40)): 1.0}, 50, "mobius")
    with pytest.raises(ValueError, match="max_terms"):
        top_pairs(big, 1, index="sii", max_terms=100)


def test_object_with_embeddings():
    class FM:
        def __init__(self, V):
            self.V = V

    V = np.random.default_rng(0).normal(size=(50, 4))
    a, b = top_pairs(FM(V), 7), top_pairs(V, 7)
    np.testing.assert_array_equal(a.score, b.score)


def test_ksii_pairs_match_shapiq_exact_computer() -> None:
    shapiq_exact = pytest.importorskip("shapiq.game_theory.exact")
    from fastspex.exact import dense_coefficients

    n = 6
    table = np.random.default_rng(3).normal(size=1 << n)
    weights = np.int64(1) << np.arange(n, dtype=np.int64)
    ref = shapiq_exact.ExactComputer(
        lambda c: table[(np.asarray(c, np.int64) * weights).sum(axis=1)], n_players=n
    )("k-SII", 2)
    scores = top_pairs(dense_coefficients(table, n), n * (n - 1) // 2, index="ksii", order=2)
    assert len(scores.i) == n * (n - 1) // 2
    for i, j, s in zip(scores.i, scores.j, scores.score):
        assert s == pytest.approx(ref[(int(i), int(j))], abs=1e-10)


def _exact_top(V: np.ndarray, k: int, by: str):
    """Reference for the mixed-precision scan: scores in extended precision, fully sorted."""
    P = V.astype(np.longdouble) @ V.T.astype(np.longdouble)
    return numpy_top(P, k, by)


@pytest.mark.parametrize("by", BYS)
@pytest.mark.parametrize("kind", ["random", "near_ties", "wide_range"])
def test_fm_mixed_precision_same_top_k_as_double(by: str, kind: str) -> None:
    """Float tiles with double re-scoring return the double scan's top-k, including near-ties
    (scores within 1e-7 relative of each other, inside the float error bound of ~1e-6, with gaps
    ~1e-12 that double resolves) and rows of very different norms."""
    from fastspex import _core

    rng = np.random.default_rng(11)
    n, r = 1500, 16
    V = rng.normal(size=(n, r))
    if kind == "near_ties":
        # every pair scores ±|u|^2 (1 + d_i)(1 + d_j): float cannot tell the pairs apart
        u = rng.normal(size=r)
        V = u * (1.0 + 1e-7 * rng.uniform(size=n))[:, None]
        V[::7] *= -1.0
    elif kind == "wide_range":
        V *= 10.0 ** rng.uniform(-6, 6, size=(n, 1))
    i, j, s = _core.fm_top_pairs(V, 1.0, 200, by, 2, True, True)
    ri, rj, rs = _exact_top(V, 200, by)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(j, rj)
    np.testing.assert_allclose(s, rs.astype(float), rtol=1e-14, atol=0)
    di, dj, _ = _core.fm_top_pairs(V, 1.0, 200, by, 2, True, False)  # the double-precision tiles
    np.testing.assert_array_equal(i, di)
    np.testing.assert_array_equal(j, dj)


def test_fm_mixed_precision_falls_back_outside_float_range() -> None:
    from fastspex import _core

    rng = np.random.default_rng(5)
    V = rng.normal(size=(300, 4)) * 1e20  # float would overflow: the double tiles are used
    i, j, s = _core.fm_top_pairs(V, 1.0, 50, "magnitude", 2, True, True)
    ri, rj, rs = numpy_top(V @ V.T, 50, "magnitude")
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(j, rj)
    np.testing.assert_allclose(s, rs, rtol=1e-12)
    assert _core.measured_fma_rate(0.05, 1) >= 0.0
