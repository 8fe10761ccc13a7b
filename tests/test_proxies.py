"""Sparse polynomial and factorization-machine proxies against sklearn, numpy and planted truth."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from fastspex import indices, proxies, synthetic
from fastspex import masks as M
from fastspex.pairs import top_pairs


def explicit_columns(X: np.ndarray) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Main effects then all pairs x_i x_j (i < j) as float columns, with their supports."""
    n = X.shape[1]
    i, j = np.triu_indices(n, 1)
    Xf = X.astype(float)
    cols = np.hstack([Xf, Xf[:, i] * Xf[:, j]])
    supports = [(a,) for a in range(n)] + [(int(a), int(b)) for a, b in zip(i, j)]
    return cols, supports


def enet_objective(Z: np.ndarray, y: np.ndarray, b0: float, beta: np.ndarray, alpha: float, rho: float) -> float:
    r = y - b0 - Z @ beta
    return float(r @ r / (2 * len(y)) + alpha * (rho * np.abs(beta).sum() + 0.5 * (1 - rho) * beta @ beta))


@pytest.mark.slow
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_path_matches_sklearn_on_explicit_columns(l1_ratio: float) -> None:
    from sklearn.linear_model import ElasticNet

    rng = np.random.default_rng(0)
    n, m = 7, 400
    X = rng.random((m, n)) < 0.5
    f = synthetic.planted(n, 6, basis="mobius", max_order=2, seed=3)
    y = f.exact(X) + 0.3 * rng.normal(size=m)
    Z, supports = explicit_columns(X)
    path = proxies.sparse_polynomial_path(X, y, l1_ratio=l1_ratio, screening="explicit", n_alphas=8, eps=1e-2, tol=1e-14)
    ours = path.dense(supports)
    for k, alpha in enumerate(path.alphas):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, max_iter=50_000).fit(Z, y)
        obj_sk = enet_objective(Z, y, sk.intercept_, sk.coef_, alpha, l1_ratio)
        obj_ours = enet_objective(Z, y, path.intercepts[k], ours[k], alpha, l1_ratio)
        assert obj_ours == pytest.approx(path.objectives[k], rel=1e-9, abs=1e-12)
        assert obj_ours <= obj_sk * (1 + 1e-9) + 1e-12
        np.testing.assert_allclose(ours[k], sk.coef_, atol=2e-6)
        assert path.intercepts[k] == pytest.approx(sk.intercept_, abs=2e-6)
    # the first penalty is alpha_max: nothing active; slightly below it something is
    assert path.alphas[0] == pytest.approx(path.alpha_max)
    assert ours[0].max() == 0 and np.abs(ours[1]).max() > 0


def test_streaming_scan_equals_explicit_candidates() -> None:
    rng = np.random.default_rng(1)
    n, m = 30, 900  # fewer candidates (465) than masks: the lasso solutions are unique
    X = M.bernoulli(m, n, seed=4)
    f = synthetic.planted(n, 15, basis="mobius", max_order=2, seed=5)
    y = f.exact(X) + 0.2 * rng.normal(size=m)
    kw = {"n_alphas": 30, "tol": 1e-13, "max_features": 10_000}
    explicit = proxies.sparse_polynomial_path(X, y, screening="explicit", **kw)
    # a tiny pool forces many rescans and bound-based checks
    scanned = proxies.sparse_polynomial_path(X, y, screening="scan", alphas=explicit.alphas, pool=8, **kw)
    assert scanned.scans > 1
    Z, supports = explicit_columns(X.to_bool())
    Zc = Z - Z.mean(axis=0)
    # the same optimum (the Möbius design is ill-conditioned, so compare objectives tightly
    # and coefficients loosely) and KKT certified by numpy over every main effect and pair
    np.testing.assert_allclose(scanned.objectives, explicit.objectives, rtol=1e-8)
    np.testing.assert_allclose(scanned.dense(supports), explicit.dense(supports), atol=1e-3)
    for k, alpha in enumerate(scanned.alphas):
        beta = scanned.dense(supports)[k]
        r = y - scanned.intercepts[k] - Z @ beta
        g = Zc.T @ r / m
        assert np.max(np.abs(g[beta == 0]), initial=0) <= alpha * (1 + 1e-6)
        np.testing.assert_allclose(g[beta != 0], alpha * np.sign(beta[beta != 0]), atol=1e-6)


def test_recovers_planted_sparse_quadratic_and_stops_at_its_support() -> None:
    n, m = 60, 3000
    f = synthetic.planted(n, 14, basis="mobius", max_order=2, noise=0.05, constant=0.3, seed=7)
    X = M.bernoulli(m, n, seed=8)
    res = proxies.fit_sparse_polynomial(X, f(X), seed=0)
    truth = f.coefficients.to_dict()
    got = res.coefficients.to_dict()
    assert res.coefficients.basis == "mobius"
    assert set(got) == set(truth)  # exact support, intercept included
    for s, v in truth.items():
        assert got[s] == pytest.approx(v, abs=0.02)
    assert res.cv_mse is not None and res.cv_mse.shape == (5, len(res.path.alphas))
    # the held-out error of the chosen penalty is close to the noise variance
    assert res.cv_mean[res.alpha_index] < 1.5 * 0.05**2
    # fresh masks: the proxy predicts the noiseless function
    T = M.bernoulli(500, n, seed=9)
    assert np.max(np.abs(res.predict(T) - f.exact(T))) < 0.05


def test_cross_validation_picks_a_sensible_penalty() -> None:
    n, m = 25, 1500
    f = synthetic.planted(n, 10, basis="mobius", max_order=2, noise=0.2, seed=11)
    X = M.bernoulli(m, n, seed=12)
    y = f(X)
    res = proxies.fit_sparse_polynomial(X, y, selection="min", refit=False, prune_t=None, seed=1)
    mean = res.cv_mean
    assert res.alpha_index == int(np.nanargmin(mean))
    assert 0 < res.alpha_index < len(mean) - 1  # an interior minimum: neither empty nor the least penalised
    assert mean[res.alpha_index] < 0.5 * mean[0]
    one_se = proxies.fit_sparse_polynomial(X, y, selection="1se", refit=False, prune_t=None, seed=1)
    assert one_se.alpha >= res.alpha


def test_refit_is_least_squares_on_the_support() -> None:
    rng = np.random.default_rng(2)
    n, m = 10, 500
    X = rng.random((m, n)) < 0.5
    y = X[:, 0] * 1.0 - 2.0 * X[:, 1] * X[:, 3] + 0.5 * X[:, 4] + 0.3 * rng.normal(size=m)
    res = proxies.fit_sparse_polynomial(X, y, refit_ridge=0.0, prune_t=None, seed=0)
    coefs = res.coefficients
    supports = [coefs.support(k) for k in range(1, len(coefs))]
    Z = np.column_stack([np.ones(m)] + [X[:, list(s)].all(axis=1).astype(float) for s in supports])
    ls = np.linalg.lstsq(Z, y, rcond=None)[0]
    np.testing.assert_allclose(coefs.values, ls, atol=1e-9)
    np.testing.assert_allclose(res.predict(X), Z @ ls, atol=1e-9)


def test_packed_and_bool_masks_agree_and_fits_are_deterministic() -> None:
    n, m = 20, 800
    f = synthetic.planted(n, 8, basis="mobius", max_order=2, noise=0.1, seed=13)
    X = M.bernoulli(m, n, seed=14)
    y = f(X)
    a = proxies.fit_sparse_polynomial(X, y, seed=3, n_threads=1)
    b = proxies.fit_sparse_polynomial(X.to_bool(), y, seed=3, n_threads=2)
    assert a.coefficients.to_dict() == b.coefficients.to_dict()
    np.testing.assert_array_equal(a.cv_mse, b.cv_mse)
    fa = proxies.fit_factorization_machine(X, y, rank=3, seed=5, n_threads=1)
    fb = proxies.fit_factorization_machine(X.to_bool(), y, rank=3, seed=5, n_threads=2)
    np.testing.assert_array_equal(fa.V, fb.V)
    np.testing.assert_array_equal(fa.w, fb.w)
    fc = proxies.fit_factorization_machine(X, y, rank=3, seed=6)
    assert not np.array_equal(fa.V, fc.V)


def test_fits_release_the_gil_and_run_concurrently() -> None:
    n, m = 30, 1500
    f = synthetic.planted(n, 10, basis="mobius", max_order=2, noise=0.1, seed=15)
    X = M.bernoulli(m, n, seed=16)
    y = f(X)
    expected = proxies.fit_sparse_polynomial(X, y, seed=0).coefficients.to_dict()
    out: list[dict] = []
    threads = [threading.Thread(target=lambda: out.append(proxies.fit_sparse_polynomial(X, y, seed=0).coefficients.to_dict())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [expected] * 3


def planted_fm(n: int, r: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(n, r)) / np.sqrt(r)
    w = rng.normal(size=n) * 0.5
    return U, w, 0.7


def fm_value(X: np.ndarray, U: np.ndarray, w: np.ndarray, w0: float) -> np.ndarray:
    Xf = X.astype(float)
    Q = Xf @ U
    return w0 + Xf @ w + 0.5 * ((Q**2).sum(1) - Xf @ (U**2).sum(1))


def test_factorization_machine_recovers_planted_low_rank_pairs() -> None:
    n, r, m = 20, 2, 4000
    U, w, w0 = planted_fm(n, r, seed=17)
    X = M.bernoulli(m, n, seed=18).to_bool()
    y = fm_value(X, U, w, w0) + 0.01 * np.random.default_rng(19).normal(size=m)
    res = proxies.fit_factorization_machine(X, y, rank=r, l2=1e-7, seed=0, max_epochs=2000)
    assert res.V.shape == (n, r) and res.V.dtype == np.float64
    iu = np.triu_indices(n, 1)
    np.testing.assert_allclose((res.V @ res.V.T)[iu], (U @ U.T)[iu], atol=0.01)
    np.testing.assert_allclose(res.w, w, atol=0.01)
    assert res.val_loss.min() < 3e-4
    # all-pairs scoring works on the result directly and finds the strongest planted pairs
    top = top_pairs(res, 5)
    P = np.abs(U @ U.T)[iu]
    best = set(zip(iu[0][np.argsort(-P)[:5]], iu[1][np.argsort(-P)[:5]]))
    assert set(zip(top.i.tolist(), top.j.tolist())) == best


def test_factorization_machine_coefficients_match_brute_force() -> None:
    n = 8
    U, w, w0 = planted_fm(n, 3, seed=21)
    X = M.bernoulli(1000, n, seed=22)
    y = fm_value(X.to_bool(), U, w, w0)
    res = proxies.fit_factorization_machine(X, y, rank=3, seed=1, max_epochs=20)
    allm = M.exhaustive(n)
    coefs = res.to_coefficients()
    assert coefs.basis == "mobius" and len(coefs) == 1 + n + n * (n - 1) // 2
    np.testing.assert_allclose(indices.evaluate(coefs, allm), res.predict(allm), atol=1e-10)
    np.testing.assert_allclose(res.predict(allm), fm_value(allm.to_bool(), res.V, res.w, res.w0), atol=1e-10)


def test_bad_inputs_give_clear_errors() -> None:
    X = M.bernoulli(50, 6, seed=0)
    y = np.random.default_rng(0).normal(size=50)
    for fit in (proxies.fit_sparse_polynomial, proxies.fit_factorization_machine):
        with pytest.raises(ValueError, match="non-finite"):
            fit(X, np.where(np.arange(50) == 3, np.nan, y))
        with pytest.raises(ValueError, match="constant"):
            fit(X, np.ones(50))
        with pytest.raises(ValueError, match="50 masks but 49 targets"):
            fit(X, y[:49])
        with pytest.raises(ValueError, match="empty"):
            fit(np.zeros((0, 6), bool), np.zeros(0))
        with pytest.raises(ValueError, match="2-D"):
            fit(np.zeros(6, bool), y[:1])
    with pytest.raises(ValueError, match="rank"):
        proxies.fit_factorization_machine(X, y, rank=0)
    with pytest.raises(ValueError, match="l1_ratio"):
        proxies.fit_sparse_polynomial(X, y, l1_ratio=0.0)
    with pytest.raises(ValueError, match="max_order"):
        proxies.fit_sparse_polynomial(X, y, max_order=3)
    with pytest.raises(ValueError, match="folds"):
        proxies.fit_sparse_polynomial(X[:3], y[:3], cv=5)
    with pytest.raises(ValueError, match="terms"):
        proxies.sparse_polynomial_path(X, y, terms=[(0, 9)])
    res = proxies.fit_factorization_machine(X, y, rank=2)
    with pytest.raises(ValueError, match="components"):
        res.predict(M.bernoulli(5, 7, seed=1))


def test_factorization_machine_default_recovers_a_true_pair_at_n2() -> None:
    # f = 1 + 0.5 x0 - x1 + 3 x0 x1 on all four masks (repeated): the pair is 3, not a shrunk value
    X = np.tile(M.exhaustive(2).to_bool(), (25, 1))
    y = 1 + 0.5 * X[:, 0] - X[:, 1] + 3.0 * X[:, 0] * X[:, 1]
    res = proxies.fit_factorization_machine(X, y, rank=1, seed=0)
    assert float(res.V[0] @ res.V[1]) == pytest.approx(3.0, abs=1e-3)
    np.testing.assert_allclose(res.w, [0.5, -1.0], atol=1e-3)
    assert res.w0 == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("rank", [2, 8])
def test_factorization_machine_default_recovers_exact_rank2_on_all_masks(rank: int) -> None:
    n = 8
    rng = np.random.default_rng(0)
    U, w = rng.normal(size=(n, 2)), rng.normal(size=n)
    X = M.exhaustive(n)
    y = fm_value(X.to_bool(), U, w, 0.3)
    res = proxies.fit_factorization_machine(X, y, rank=rank, seed=0)
    iu = np.triu_indices(n, 1)
    # the truth is the Möbius transform of the 2^n values (mask index = Σ 2^i over kept i)
    pairs_true = np.array([y[(1 << i) | (1 << j)] - y[1 << i] - y[1 << j] + y[0] for i, j in zip(*iu)])
    mains_true = np.array([y[1 << i] - y[0] for i in range(n)])
    np.testing.assert_allclose((res.V @ res.V.T)[iu], pairs_true, atol=1e-3, rtol=0)
    np.testing.assert_allclose(res.w, mains_true, atol=1e-3, rtol=0)
    assert res.w0 == pytest.approx(y[0], abs=1e-3)
    assert res.settings["l2"] >= 1e-6  # never exactly zero
    assert len(res.settings["l2_scores"]) == len(res.settings["l2_grid"]) > 1


def test_factorization_machine_validated_penalty_does_not_overfit_noise() -> None:
    n, m = 16, 300
    U, w, w0 = planted_fm(n, 2, seed=23)
    X = M.bernoulli(m, n, seed=24).to_bool()
    y = fm_value(X, U, w, w0) + 0.5 * np.random.default_rng(25).normal(size=m)
    T = M.bernoulli(2000, n, seed=26).to_bool()
    truth = fm_value(T, U, w, w0)
    auto = proxies.fit_factorization_machine(X, y, rank=8, seed=0)
    tiny = proxies.fit_factorization_machine(X, y, rank=8, l2=1e-6, seed=0)
    err_auto = float(np.mean((auto.predict(T) - truth) ** 2))
    err_tiny = float(np.mean((tiny.predict(T) - truth) ** 2))
    assert err_auto <= err_tiny
    assert auto.settings["l2"] > 1e-6
    assert auto.settings["l2_search"] == "validation"
    assert tiny.settings["l2"] == 1e-6 and tiny.settings["l2_search"] is None


def test_factorization_machine_explicit_l2_is_kept() -> None:
    X = M.bernoulli(200, 6, seed=0)
    y = np.random.default_rng(0).normal(size=200)
    res = proxies.fit_factorization_machine(X, y, rank=2, l2=0.05)
    assert res.settings["l2"] == 0.05
    with pytest.raises(ValueError, match="l2"):
        proxies.fit_factorization_machine(X, y, l2=-1.0)


@pytest.mark.parametrize("noise", [1e-4, 1e-8])
def test_refit_residual_sum_of_squares_is_computed_from_residuals(noise: float) -> None:
    # A near-exact fit: ||y||² - 2βᵀXᵀy + βᵀGβ cancels to nothing (it returned 0 at 1e-8),
    # which made every t-statistic infinite; numpy's residuals are the reference.
    from fastspex import _core

    n = 10
    X = M.exhaustive(n)
    Xb = X.to_bool().astype(float)
    y = 3 + Xb[:, 0] - 0.7 * Xb[:, 3] + 2 * Xb[:, 1] * Xb[:, 2] + noise * np.random.default_rng(0).normal(size=len(Xb))
    ta, tb = np.array([0, 3, 1], np.int32), np.array([-1, -1, 2], np.int32)
    _, _, rss, _ = _core.poly_refit(X.words, n, y, ta, tb, 0.0, 0)
    Z = np.column_stack([np.ones(len(Xb)), Xb[:, 0], Xb[:, 3], Xb[:, 1] * Xb[:, 2]])
    r = y - Z @ np.linalg.lstsq(Z, y, rcond=None)[0]
    assert rss == pytest.approx(float(r @ r), rel=1e-4, abs=0)
