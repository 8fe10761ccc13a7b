"""Accuracy of ProxySPEX's Shapley-family indices (Shapley design + kernel residual correction)
against exact values from all 2^n masks (fastspex.indices on the exact expansion)."""

from __future__ import annotations

import fastspex
import numpy as np
import pytest
from fastspex import indices
from fastspex.explainers import shapley_design as sd
from fastspex.explainers import shapley_refit
from fastspex.explainers.exact import Exact
from fastspex.explainers.proxyspex import ProxySPEX
from fastspex.synthetic import LowOrderGame, WeightedMajority


class Dense:
    """A random function of every order: a fixed table of 2^n outputs."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.table = np.random.default_rng(seed).normal(0, 1, 1 << n)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int64)
        return self.table[(x << np.arange(self.n)).sum(axis=1)]


class Additive:
    def __init__(self, n: int, seed: int) -> None:
        self.n, self.a = n, np.random.default_rng(seed).normal(0, 1, n)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return 0.7 + np.asarray(x, dtype=float) @ self.a


def _truth(fn: object, n: int) -> object:
    return Exact().fit(fn, n, store=None, progress=False).coefficients


def _fit(fn: object, n: int, budget: int, seed: int = 0, **kw: object):
    return ProxySPEX(budget, seed=seed, index="fsii", **kw).fit(fn, n, store=None, progress=False)


def _pairs(coefs: object, index: str) -> dict:
    return {s: v for s, v in indices.compute_index(coefs, index, 2).to_dict().items() if len(s) == 2}


def _mse(a: dict, b: dict) -> float:
    keys = set(a) | set(b)
    return float(np.mean([(a.get(k, 0.0) - b.get(k, 0.0)) ** 2 for k in keys]))


@pytest.mark.parametrize("game", [Dense, WeightedMajority, LowOrderGame], ids=["dense", "majority", "low-order"])
def test_exact_when_the_design_enumerates_every_coalition(game: type) -> None:
    n = 8
    fn = game(n, 3)
    truth = _truth(fn, n)
    res = _fit(fn, n, 1 << n)
    assert res.settings["shapley_correction"]["complete_design"]
    np.testing.assert_allclose(indices.shapley_values(res.coefficients),
                               indices.shapley_values(truth), atol=1e-7)
    assert _mse(_pairs(res.coefficients, "fsii"), _pairs(truth, "fsii")) < 1e-14


def test_estimates_converge_as_the_budget_grows() -> None:
    n = 10
    fn = WeightedMajority(n, 2)
    truth = _truth(fn, n)
    sv = indices.shapley_values(truth)
    errs = []
    for budget in (64, 256, 1024):
        e = [np.mean((indices.shapley_values(_fit(fn, n, budget, s).coefficients) - sv) ** 2)
             for s in range(3)]
        errs.append(float(np.median(e)))
    assert errs[0] > errs[1] > errs[2], errs
    assert errs[2] < 1e-12  # 1024 = 2^10: every coalition


@pytest.mark.parametrize("budget", [150, 400])
def test_efficiency_holds_exactly(budget: int) -> None:
    n = 11
    fn = Dense(n, 5)
    res = _fit(fn, n, budget, seed=1)
    ends = fn(np.stack([np.ones(n, bool), np.zeros(n, bool)]))
    total = float(indices.shapley_values(res.coefficients).sum())
    assert abs(total - (ends[0] - ends[1])) <= 1e-12 * max(1.0, abs(ends[0] - ends[1])), total


def test_additive_function_gives_exact_shapley_values_at_2n_plus_2() -> None:
    n = 10
    fn = Additive(n, 4)
    for seed in range(3):
        res = _fit(fn, n, 2 * n + 2, seed)
        np.testing.assert_allclose(indices.shapley_values(res.coefficients), fn.a, atol=1e-8)


def test_accuracy_bound_at_a_fixed_budget_beats_the_uniform_refit() -> None:
    # Measured: the Shapley design + correction gives SV MSE 1.4e-4 and FSII pair MSE 2.1e-3
    # (median of 3 seeds); the uniform design's refit 8.3e-4 and 3.0e-3. The bounds sit
    # between, so a regression to the uniform refit fails.
    n, budget = 12, 300
    fn = WeightedMajority(n, 7)
    truth = _truth(fn, n)
    sv, fs = indices.shapley_values(truth), _pairs(truth, "fsii")

    def errs(design: str | None) -> tuple[float, float]:
        out = []
        for seed in range(3):
            c = _fit(fn, n, budget, seed, **({} if design is None else {"design": design})).coefficients
            out.append((np.mean((indices.shapley_values(c) - sv) ** 2), _mse(_pairs(c, "fsii"), fs)))
        return tuple(np.median(np.array(out), axis=0))  # type: ignore[return-value]

    ours, uniform = errs(None), errs("uniform")
    assert ours[0] < SV_BOUND < uniform[0], (ours, uniform)
    assert ours[1] < FSII_BOUND < uniform[1], (ours, uniform)


SV_BOUND, FSII_BOUND = 4.0e-4, 2.6e-3


def test_correction_is_never_fitted_underdetermined() -> None:
    n, budget = 14, 60  # 92 pair unknowns from 58 masks: the pairs are not corrected
    fn = Dense(n, 1)
    res = _fit(fn, n, budget)
    info = res.settings["shapley_correction"]
    assert any(s.startswith("pairs: 92 unknowns from 58 masks") for s in info["skipped"]), info
    assert "pair_alpha" not in info
    # the main effects come from the odd half's own fit: 14 unknowns (and at most a few higher
    # odd terms) from 29 mask pairs
    odd = res.settings["odd_half"]
    assert odd["pairs"] == 29 and 14 + odd["higher_terms"] < 29 and "main_alpha" in odd, odd
    sv = indices.shapley_values(res.coefficients)
    assert np.all(np.isfinite(sv)) and np.abs(sv).max() < 5 * np.ptp(fn.table)


def test_correction_is_exact_kernel_wls_of_the_residual_on_a_complete_design() -> None:
    # On every coalition, the corrected main effects are KernelSHAP of the residual (closed form:
    # the Shapley values of the residual function, from its exact expansion).
    n = 7
    fn = Dense(n, 9)
    x = sd.sample(1 << n, n, seed=0).masks.to_bool()
    w, con = sd.kernel_weights(x)
    y = fn(x)
    from fastspex.coefficients import Coefficients

    proxy = Coefficients.from_dict({(): 0.1, (0,): 0.5, (1, 2, 3): -0.3}, n, "fourier")
    got, info = shapley_refit.correct(proxy, x, y, w, con)
    assert info["complete_design"] and not info["skipped"]
    np.testing.assert_allclose(indices.shapley_values(got), indices.shapley_values(_truth(fn, n)),
                               atol=1e-9)


# ---------------------------------------------------------------- SII pairs of the residual
def _brute_sii_pairs(table: np.ndarray, n: int) -> np.ndarray:
    """SII of every pair from its definition (discrete derivatives over every context)."""
    from itertools import combinations
    from math import factorial

    def f(s: tuple[int, ...]) -> float:
        return float(table[sum(1 << i for i in s)])

    out = np.zeros((n, n))
    for i, j in combinations(range(n), 2):
        rest = [k for k in range(n) if k not in (i, j)]
        for size in range(n - 1):
            w = factorial(n - 2 - size) * factorial(size) / factorial(n - 1)
            for t in combinations(rest, size):
                out[i, j] += w * (f(t + (i, j)) - f(t + (i,)) - f(t + (j,)) + f(t))
        out[j, i] = out[i, j]
    return out


def test_the_residual_pair_estimate_is_the_exact_sii_on_a_complete_design() -> None:
    from fastspex.explainers.sii_residual import sii_pairs_of_residual

    n = 7
    table = np.random.default_rng(3).normal(size=1 << n)
    masks = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(bool)
    est, info = sii_pairs_of_residual(masks, table)
    np.testing.assert_allclose(est, _brute_sii_pairs(table, n), atol=1e-12)
    assert info["sizes_complete"] == list(range(n + 1)) and info["sizes_missing"] == []


def _dense_game(n: int = 10) -> tuple[np.ndarray, object]:
    """A game dense in every order (pairs, triples, a 4-way term, a max and a sine): its table
    of all 2^n outputs and the value function reading it. Pair indices that weight higher orders
    (SII, STII) carry what a surrogate truncates."""
    xf = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(float)
    table = (xf @ np.linspace(-1, 1, n) + 1.5 * xf[:, 0] * xf[:, 1] + 2.0 * xf[:, 2] * xf[:, 3] * xf[:, 4]
             - 1.2 * xf[:, 5] * xf[:, 6] * xf[:, 7] * xf[:, 8] + 0.8 * np.maximum(xf[:, 1], xf[:, 9])
             + 0.6 * np.sin(3.0 * xf @ np.linspace(0.2, 1.0, n)))

    def game(x: np.ndarray) -> np.ndarray:
        return table[np.asarray(x, dtype=np.int64) @ (1 << np.arange(n))]

    return table, game


def test_sii_pairs_on_the_shapley_design_beat_the_surrogates_own_readout() -> None:
    n = 10
    table, game = _dense_game(n)
    truth = _brute_sii_pairs(table, n)
    iu = np.triu_indices(n, 1)
    for seed in (0, 1):
        res = fastspex.explain(game, n=n, method="proxyspex", index="sii", budget=300, seed=seed,
                               store=None, progress=False, holdout=0)
        assert res.settings["design"] == "shapley" and res.settings["sii_correction"]["applied"]
        plain = indices.compute_index(res.surrogate, "sii", 2).to_dict()
        err_plain = np.mean([(plain.get((i, j), 0.0) - truth[i, j]) ** 2 for i, j in zip(*iu)])
        err = np.mean([(res[(i, j)] - truth[i, j]) ** 2 for i, j in zip(*iu)])
        assert err_plain > 1e-6 and err < 0.7 * err_plain, (seed, err, err_plain)
        ksii = fastspex.explain(game, n=n, method="proxyspex", index="ksii", budget=300, seed=seed,
                                store=None, progress=False, holdout=0)
        assert ksii[(0, 1)] == pytest.approx(res[(0, 1)])  # k-SII of order 2: its pairs are SII's


def test_the_residual_pair_estimate_takes_wide_sets_and_the_correction_is_bounded() -> None:
    from fastspex.explainers import sii_residual

    # C(n - 2, l) overflows a float from n ≈ 1,030: the weights must not convert it
    n = 1100
    rng = np.random.default_rng(0)
    x = rng.random((6, n)) < 0.5
    est, _ = sii_residual.sii_pairs_of_residual(x, rng.normal(size=6))
    assert est.shape == (n, n) and np.isfinite(est).all()
    # the correction fills every pair: above MAX_PAIRS it is refused with its reason, not applied
    wide = indices.compute_index(indices.Coefficients.from_dict({(0, 1): 1.0}, 400, "fourier"), "sii", 2)
    assert 400 * 399 // 2 > sii_residual.MAX_PAIRS
    why = sii_residual.why_not(wide)
    assert why is not None and f"{sii_residual.MAX_PAIRS:,}" in why
    narrow = indices.compute_index(indices.Coefficients.from_dict({(0, 1): 1.0}, 12, "fourier"), "sii", 2)
    assert sii_residual.why_not(narrow) is None
    assert sii_residual.why_not(indices.compute_index(
        indices.Coefficients.from_dict({(0, 1): 1.0}, 12, "fourier"), "fbii", 2)) is not None


# ---------------------------------------------------------------- STII of the residual
def _brute_stii2(table: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Shapley–Taylor of order 2 from its definition: singletons f({i}) − f(∅), pairs
    (2/n) Σ_{T ⊆ N∖ij} Δ_ij(T) / C(n − 1, |T|)."""
    from itertools import combinations
    from math import comb

    def f(s: tuple[int, ...]) -> float:
        return float(table[sum(1 << i for i in s)])

    single = np.array([f((i,)) - f(()) for i in range(n)])
    pairs = np.zeros((n, n))
    for i, j in combinations(range(n), 2):
        rest = [k for k in range(n) if k not in (i, j)]
        for size in range(n - 1):
            w = 2.0 / n / comb(n - 1, size)
            for t in combinations(rest, size):
                pairs[i, j] += w * (f(t + (i, j)) - f(t + (i,)) - f(t + (j,)) + f(t))
        pairs[j, i] = pairs[i, j]
    return single, pairs


def test_the_residual_stii_estimate_is_exact_on_a_complete_design() -> None:
    from fastspex.explainers.sii_residual import sii_pairs_of_residual, stii_singletons_of_residual

    n = 7
    table = np.random.default_rng(4).normal(size=1 << n)
    masks = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(bool)
    single, pairs = _brute_stii2(table, n)
    est, _ = sii_pairs_of_residual(masks, table, index="stii")
    np.testing.assert_allclose(est, pairs, atol=1e-12)
    got, ok = stii_singletons_of_residual(masks, table)
    assert ok
    np.testing.assert_allclose(got, single, atol=1e-12)
    # the index of the full table agrees with the definition (the correction adds to it)
    exact = indices.compute_index(_truth(lambda x: table[np.asarray(x, np.int64) @ (1 << np.arange(n))], n),
                                  "stii", 2).to_dict()
    np.testing.assert_allclose([exact.get((i,), 0.0) for i in range(n)], single, atol=1e-9)
    np.testing.assert_allclose(exact.get((0, 1), 0.0), pairs[0, 1], atol=1e-9)


def test_stii_on_the_shapley_design_beats_the_surrogates_own_readout() -> None:
    n = 10
    table, game = _dense_game(n)
    single, pairs = _brute_stii2(table, n)
    iu = np.triu_indices(n, 1)
    for seed in (0, 1):
        res = fastspex.explain(game, n=n, method="proxyspex", index="stii", budget=300, seed=seed,
                               store=None, progress=False, holdout=0)
        assert res.settings["design"] == "shapley" and res.settings["sii_correction"]["applied"]
        plain = indices.compute_index(res.surrogate, "stii", 2).to_dict()
        err_plain = np.mean([(plain.get((i, j), 0.0) - pairs[i, j]) ** 2 for i, j in zip(*iu)])
        err = np.mean([(res[(i, j)] - pairs[i, j]) ** 2 for i, j in zip(*iu)])
        assert err_plain > 1e-6 and err < 0.7 * err_plain, (seed, err, err_plain)
        # singletons: the design holds ∅ and every single component, so they are exact
        np.testing.assert_allclose([res[(i,)] for i in range(n)], single, atol=1e-9)


class PlusEven:
    """``fn`` plus a large even function (every term of even order): the same Shapley values."""

    def __init__(self, fn: object, n: int, seed: int) -> None:
        self.fn, self.n = fn, n
        rng = np.random.default_rng(seed)
        self.pairs = [tuple(rng.choice(n, 2, replace=False)) for _ in range(6)]
        self.quads = [tuple(rng.choice(n, 4, replace=False)) for _ in range(4)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        s = 1.0 - 2.0 * np.asarray(x, dtype=float)
        even = sum(5.0 * s[:, list(t)].prod(axis=1) for t in self.pairs + self.quads)
        return self.fn(x) + 3.0 + even


def test_shapley_values_ignore_the_even_half_of_the_function() -> None:
    # SV depends on the odd half alone; on the paired design that half is observed exactly, so
    # adding an even function 10x larger than f must not move the estimate (it did
    # when the even half was noise to the fit of the main effects: up to 0.4 here)
    n, budget = 12, 200
    fn = Dense(n, 3)
    truth = indices.shapley_values(_truth(fn, n))
    plain = indices.shapley_values(_fit(fn, n, budget).coefficients)
    shifted_fn = PlusEven(fn, n, 4)
    assert np.allclose(indices.shapley_values(_truth(shifted_fn, n)), truth, atol=1e-9)
    shifted = indices.shapley_values(_fit(shifted_fn, n, budget).coefficients)
    np.testing.assert_allclose(shifted, plain, atol=1e-4 * np.abs(truth).max())


def test_odd_half_needs_a_paired_design() -> None:
    n = 10
    fn = Dense(n, 5)
    paired = _fit(fn, n, 200).settings["odd_half"]
    assert paired["pairs"] == 99 and "skipped" not in paired, paired
    unpaired = _fit(fn, n, 200, antithetic=False).settings["odd_half"]
    assert unpaired == {"skipped": "the design is not paired"}
