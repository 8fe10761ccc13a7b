"""fastspex.indices against brute force on all 2^n masks (every index by its definition)."""

from __future__ import annotations

import threading
from itertools import combinations
from math import comb, factorial

import numpy as np
import pytest

from fastspex import indices
from fastspex.coefficients import Coefficients
from fastspex.masks import exhaustive

TOL = 1e-9


def popcounts(n: int) -> np.ndarray:
    return np.array([bin(s).count("1") for s in range(1 << n)])


def random_set(rng: np.random.Generator, n: int, K: int, max_deg: int, basis: str) -> Coefficients:
    supports = {}
    for _ in range(K):
        d = int(rng.integers(0, max_deg + 1))
        supports[tuple(sorted(rng.choice(n, d, replace=False).tolist()))] = float(rng.normal())
    return Coefficients.from_dict(supports, n, basis)


def mask_of(support: tuple[int, ...]) -> int:
    return sum(1 << i for i in support)


def truth_table(coefs: Coefficients) -> np.ndarray:
    """f on every mask x (bit j of the row number = component j kept), by the expansion."""
    n = coefs.n
    x = np.arange(1 << n)
    f = np.zeros(1 << n)
    for k in range(len(coefs)):
        s = mask_of(coefs.support(k))
        if coefs.basis == "fourier":
            f += coefs.values[k] * (-1.0) ** popcounts(n)[x & s]
        else:
            f += coefs.values[k] * ((x & s) == s)
    return f


def dense(result, n: int) -> np.ndarray:
    out = np.zeros(1 << n)
    for k in range(len(result)):
        out[mask_of(tuple(int(i) for i in result.indices[result.indptr[k] : result.indptr[k + 1]]))] += result.values[k]
    return out


def submasks(s: int) -> np.ndarray:
    out, t = [], s
    while True:
        out.append(t)
        if t == 0:
            return np.array(out)
        t = (t - 1) & s


def derivative(f: np.ndarray, n: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, Δ_S f(T)) for every T disjoint from S: Σ_{L⊆S} (-1)^{|S|-|L|} f(T ∪ L)."""
    pc = popcounts(n)
    full = (1 << n) - 1
    Ts = submasks(full & ~s)
    Ls = submasks(s)
    signs = (-1.0) ** (pc[s] - pc[Ls])
    return Ts, f[Ts[:, None] | Ls[None, :]] @ signs


def brute_mobius(f: np.ndarray, n: int) -> np.ndarray:
    pc = popcounts(n)
    return np.array([sum((-1.0) ** (pc[s] - pc[t]) * f[t] for t in submasks(s)) for s in range(1 << n)])


def brute_fourier(f: np.ndarray, n: int) -> np.ndarray:
    pc = popcounts(n)
    x = np.arange(1 << n)
    return np.array([np.mean(f * (-1.0) ** pc[x & s]) for s in range(1 << n)])


def brute_bii(f, n):
    pc = popcounts(n)
    return np.array([derivative(f, n, s)[1].mean() for s in range(1 << n)]) if n else None


def brute_sii(f, n):
    pc = popcounts(n)
    out = np.zeros(1 << n)
    for s in range(1 << n):
        Ts, d = derivative(f, n, s)
        t, k = pc[Ts], pc[s]
        w = np.array([factorial(n - tt - k) * factorial(tt) / factorial(n - k + 1) for tt in t])
        out[s] = w @ d
    return out


def brute_stii(f, n, order):
    pc = popcounts(n)
    out = np.zeros(1 << n)
    for s in range(1 << n):
        if pc[s] > order:
            continue
        Ts, d = derivative(f, n, s)
        if pc[s] < order:
            out[s] = d[Ts == 0][0]  # Δ_S f(∅)
        else:
            w = np.array([1.0 / comb(n - 1, int(t)) for t in pc[Ts]])
            out[s] = order / n * (w @ d)
    return out


def faith_design(n: int, order: int) -> tuple[np.ndarray, list[int]]:
    pc = popcounts(n)
    cols = [s for s in range(1 << n) if pc[s] <= order]
    x = np.arange(1 << n)
    X = np.stack([((x & s) == s).astype(float) for s in cols], axis=1)
    return X, cols


def brute_fbii(f, n, order):
    X, cols = faith_design(n, order)
    beta = np.linalg.lstsq(X, f, rcond=None)[0]  # uniform (Banzhaf) weights
    out = np.zeros(1 << n)
    out[cols] = beta
    return out


def brute_fsii(f, n, order):
    X, cols = faith_design(n, order)
    pc = popcounts(n)
    inner = (pc > 0) & (pc < n)
    w = np.zeros(1 << n)
    w[inner] = (n - 1) / np.array([comb(n, int(t)) * t * (n - t) for t in pc[inner]])
    ends = [0, (1 << n) - 1]  # f(∅) and f(N) are matched exactly (infinite weight)
    A, C = X * np.sqrt(w)[:, None], X[ends]
    p = len(cols)
    kkt = np.block([[2 * A.T @ A, C.T], [C, np.zeros((2, 2))]])
    rhs = np.concatenate([2 * A.T @ (np.sqrt(w) * f), f[ends]])
    beta = np.linalg.solve(kkt, rhs)[:p]
    out = np.zeros(1 << n)
    out[cols] = beta
    return out


def brute_ablation(f, n):
    pc = popcounts(n)
    full = (1 << n) - 1
    return np.array([sum((-1.0) ** pc[u] * f[full ^ u] for u in submasks(s)) for s in range(1 << n)])


def upto(values: np.ndarray, n: int, order: int | None) -> np.ndarray:
    if order is None:
        return values
    out = values.copy()
    out[popcounts(n) > order] = 0.0
    return out


@pytest.fixture(params=["fourier", "mobius"])
def case(request):
    rng = np.random.default_rng(123 if request.param == "fourier" else 7)
    n = 9
    coefs = random_set(rng, n, 14, 6, request.param)
    return coefs, truth_table(coefs), n


def test_evaluate_matches_truth_table(case):
    coefs, f, n = case
    np.testing.assert_allclose(indices.evaluate(coefs, exhaustive(n)), f, atol=TOL)
    bool_masks = exhaustive(n).to_bool()
    np.testing.assert_allclose(indices.evaluate(coefs, bool_masks, n_threads=1), f, atol=TOL)


def test_basis_changes(case):
    coefs, f, n = case
    mob = indices.to_mobius(coefs)
    four = indices.to_fourier(coefs)
    assert mob.basis == "mobius" and four.basis == "fourier"
    np.testing.assert_allclose(dense(mob, n), brute_mobius(f, n), atol=TOL)
    np.testing.assert_allclose(dense(four, n), brute_fourier(f, n), atol=TOL)
    # round trips and truncation
    np.testing.assert_allclose(indices.evaluate(indices.to_fourier(mob), exhaustive(n)), f, atol=TOL)
    np.testing.assert_allclose(dense(indices.to_mobius(coefs, max_order=2), n), upto(brute_mobius(f, n), n, 2), atol=TOL)


@pytest.mark.parametrize("order", [None, 1, 3])
def test_banzhaf_sii_ablation(case, order):
    coefs, f, n = case
    np.testing.assert_allclose(dense(indices.banzhaf(coefs, order), n), upto(brute_bii(f, n), n, order), atol=TOL)
    np.testing.assert_allclose(dense(indices.sii(coefs, order), n), upto(brute_sii(f, n), n, order), atol=TOL)
    np.testing.assert_allclose(dense(indices.ablation(coefs, order), n), upto(brute_ablation(f, n), n, order), atol=TOL)


def test_shapley_values(case):
    coefs, f, n = case
    pc = popcounts(n)
    phi = np.zeros(n)
    for i in range(n):
        for t in range(1 << n):
            if not t >> i & 1:
                w = factorial(pc[t]) * factorial(n - pc[t] - 1) / factorial(n)
                phi[i] += w * (f[t | 1 << i] - f[t])
    np.testing.assert_allclose(indices.shapley_values(coefs), phi, atol=TOL)
    # efficiency: Σ φ = f(N) - f(∅)
    assert abs(phi.sum() - (f[-1] - f[0])) < TOL


@pytest.mark.parametrize("order", [1, 2, 3])
def test_faith_and_taylor_indices(case, order):
    coefs, f, n = case
    np.testing.assert_allclose(dense(indices.stii(coefs, order), n), brute_stii(f, n, order), atol=TOL)
    np.testing.assert_allclose(dense(indices.fbii(coefs, order), n), brute_fbii(f, n, order), atol=TOL)
    np.testing.assert_allclose(dense(indices.fsii(coefs, order), n), brute_fsii(f, n, order), atol=1e-8)


def test_compute_index_dispatch(case):
    coefs, f, n = case
    res = indices.compute_index(coefs, "fsii", 2)
    assert isinstance(res, indices.InteractionIndex) and res.index == "fsii" and res.order == 2
    assert res[(0, 1)] == pytest.approx(brute_fsii(f, n, 2)[0b11], abs=1e-8)
    assert isinstance(indices.compute_index(coefs, "mobius"), Coefficients)
    np.testing.assert_allclose(dense(indices.compute_index(coefs, "bii", 2), n), upto(brute_bii(f, n), n, 2), atol=TOL)
    with pytest.raises(ValueError, match="index must be one of"):
        indices.compute_index(coefs, "shap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="order"):
        indices.compute_index(coefs, "stii")


def test_duplicates_merge_and_sorted_output():
    n = 5
    c = Coefficients(n, np.array([0, 2, 4, 5]), np.array([0, 1, 0, 1, 3]), np.array([1.0, 2.0, 0.5]), "mobius")
    out = indices.to_mobius(c).to_dict()
    assert out == {(3,): 0.5, (0, 1): 3.0}
    assert list(indices.to_mobius(c).orders()) == [1, 2]


def test_large_n_sparse_is_cheap():
    # n = 100000 components, a handful of supports: nothing scales with 2^n or n^2.
    n = 100_000
    c = Coefficients.from_dict({(5, 70_000, 99_999): 1.0, (3,): 2.0, (): 0.5}, n, "fourier")
    mob = indices.to_mobius(c)
    assert len(mob) == 9  # 8 subsets of the triple, plus {3}; ∅ merged
    assert indices.ablation(c, 2)[(5, 99_999)] == pytest.approx(-4.0)  # 2^2 (-1)^3 F


def test_degree_guard_and_bad_inputs():
    n = 40
    big = Coefficients.from_dict({tuple(range(30)): 1.0}, n, "fourier")
    with pytest.raises(ValueError, match="max_terms"):
        indices.to_mobius(big)
    assert len(indices.to_mobius(big, max_order=2)) == 1 + 30 + comb(30, 2)
    huge = Coefficients.from_dict({tuple(range(65)): 1.0}, 70, "mobius")
    with pytest.raises(ValueError, match="at most 64"):
        indices.sii(huge, 1)
    unsorted = Coefficients(n, np.array([0, 2]), np.array([3, 1]), np.array([1.0]), "mobius")
    with pytest.raises(ValueError, match="strictly increasing"):
        indices.to_fourier(unsorted)
    nan = Coefficients.from_dict({(1,): float("nan")}, n, "mobius")
    with pytest.raises(ValueError, match="finite"):
        indices.sii(nan)
    with pytest.raises(TypeError):
        indices.sii({(1,): 1.0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 1"):
        indices.fsii(big, 0)
    with pytest.raises(ValueError, match="components"):
        indices.evaluate(big, np.zeros((3, 5), bool))


def test_concurrent_threads_agree():
    rng = np.random.default_rng(5)
    c = random_set(rng, 300, 3000, 8, "fourier")
    expected = indices.fsii(c, 3).values
    results = [None, None]

    def work(slot):
        results[slot] = indices.fsii(c, 3).values

    threads = [threading.Thread(target=work, args=(s,)) for s in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


@pytest.mark.parametrize(("name", "order"), [("sii", 2), ("stii", 2), ("fsii", 2), ("fbii", 3)])
def test_agrees_with_shapiq_exact_computer(name, order):
    shapiq = pytest.importorskip("shapiq")
    rng = np.random.default_rng(31)
    n = 7
    coefs = random_set(rng, n, 10, 5, "fourier")
    game = lambda masks: indices.evaluate(coefs, np.asarray(masks, bool))  # noqa: E731
    exact = shapiq.ExactComputer(n_players=n, game=game)(name.upper(), order)
    ours = indices.compute_index(coefs, name, order)
    for subset, value in exact.dict_values.items():
        if len(subset) > 0:
            assert ours[subset] == pytest.approx(value, abs=1e-8), subset
    empty = float(game(np.zeros((1, n), bool))[0])
    if name == "sii":  # SII values do not determine v(∅), shapiq's baseline_value
        with pytest.raises(ValueError, match="empty_value"):
            ours.to_shapiq()
    converted = ours.to_shapiq(empty_value=empty if name == "sii" else None)
    assert converted.index == name.upper() and converted.n_players == n
    assert converted[(0, 1)] == pytest.approx(ours[(0, 1)])
    assert converted.baseline_value == pytest.approx(exact.baseline_value)
    assert converted[()] == pytest.approx(exact[()])


def test_empty_set_and_no_masks():
    empty = Coefficients(4, np.array([0]), np.array([], np.int32), np.array([]), "fourier")
    assert len(indices.to_mobius(empty)) == 0
    assert len(indices.fsii(empty, 2)) == 0
    np.testing.assert_array_equal(indices.shapley_values(empty), np.zeros(4))
    assert indices.evaluate(empty, np.zeros((0, 4), bool)).shape == (0,)
