"""ProxySPEX end to end: recovery of planted functions, the result contract, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastspex import Coefficients, EvalStore, indices, masks, synthetic
from fastspex.proxyspex import (
    ProxySPEX,
    ProxySPEXResult,
    ablation_pair_scores,
    fourier_features,
    run,
)
from fastspex.value import ValueFunctionError

pytest.importorskip("lightgbm")


@pytest.fixture(scope="module")
def planted_fit() -> tuple[synthetic.PlantedFunction, ProxySPEXResult]:
    f = synthetic.planted(24, 8, max_order=3, basis="mobius", noise=0.02, seed=3)
    return f, ProxySPEX(800, seed=1, holdout=300).fit(f, store=None)


@pytest.mark.slow
def test_planted_function_is_recovered(planted_fit) -> None:
    f, res = planted_fit
    assert res.r2 is not None and res.r2 > 0.97
    fresh = masks.bernoulli(1000, f.n, seed=77)
    truth = f.exact(fresh)
    pred = res.evaluate(fresh)
    assert 1 - np.mean((truth - pred) ** 2) / np.var(truth) > 0.97
    mob = res.index("mobius").to_dict()
    found = sorted(mob, key=lambda s: -abs(mob[s]))
    top = [s for s in found if s][:8]
    assert len(set(top) & set(f.top(8))) >= 7


@pytest.mark.slow
def test_result_contract(planted_fit) -> None:
    f, res = planted_fit
    assert res.coefficients.basis == "fourier" and res.n == f.n
    assert res.coefficients.orders()[0] == 0  # the empty set is included
    assert res.calls == 800 + 300
    assert res.settings["holdout_calls"] == 300 and res.settings["budget"] == 800
    assert res.timings["algorithm"] > 0 and res.timings["model"] >= 0
    json.dumps(res.settings)
    full = np.ones((1, f.n), dtype=bool)
    assert abs(res.baseline - f.exact(full)[0]) < 0.2
    assert res.index("sii", order=2).n == f.n
    pairs = res.top_pairs(5, index="ablation")
    assert len(pairs.score) == 5
    # the pair index of the expansion is the four-term ablation difference of its predictions
    np.testing.assert_allclose(
        ablation_pair_scores(res.evaluate, f.n, pairs.i, pairs.j), pairs.score, atol=1e-9
    )
    assert res.settings["refit_cv_r2"] > 0.9


def test_linear_proxy_pair_scores_are_constant(rng: np.random.Generator) -> None:
    """The ablation-score pitfall: with a linear proxy, pred(both) - pred(i) - pred(j) is one number for
    every pair (no interaction can show), and the corrected score is exactly 0."""
    from sklearn.linear_model import LinearRegression

    n = 12
    f = synthetic.planted(n, 6, max_order=2, basis="mobius", seed=5)
    x = masks.random_subsets(400, n, num_ablated=(1, 5), seed=2).to_bool()
    proxy = LinearRegression().fit(x, f(x))
    i, j = np.triu_indices(n, 1)

    def predict(m: np.ndarray) -> np.ndarray:
        return proxy.predict(m.astype(float))

    rows = np.arange(len(i))
    both = np.ones((len(i), n), bool)
    both[rows, i] = False
    both[rows, j] = False
    one_i = np.ones((len(i), n), bool)
    one_i[rows, i] = False
    one_j = np.ones((len(i), n), bool)
    one_j[rows, j] = False
    guide = predict(both) - predict(one_i) - predict(one_j)
    np.testing.assert_allclose(guide, guide[0], atol=1e-9)
    np.testing.assert_allclose(ablation_pair_scores(predict, n, i, j), 0.0, atol=1e-9)


def test_ablation_design_finds_the_planted_pair() -> None:
    n = 16
    coefs = Coefficients.from_dict({(3, 9): 2.0, (1,): 0.5, (5,): -0.7}, n=n, basis="mobius")
    f = synthetic.PlantedFunction(coefs, noise=0.01, seed=0)
    res = ProxySPEX(400, seed=0, design="ablate", num_ablated=(1, 5)).fit(f, store=None)
    top = res.top_pairs(1, index="ablation")
    assert (int(top.i[0]), int(top.j[0])) == (3, 9)
    assert abs(top.score[0] - 2.0) < 0.2
    assert res.settings["design"] == "ablate"


@pytest.mark.slow
def test_custom_design_and_functional_form() -> None:
    f = synthetic.planted(10, 4, max_order=2, seed=2)
    design = lambda m, n, seed: masks.bernoulli(m, n, 0.3, seed=seed)
    a = run(f, budget=200, seed=4, design=design, store=None)
    b = ProxySPEX(200, seed=4, design=design).fit(f, store=None)
    assert np.array_equal(a.coefficients.values, b.coefficients.values)


@pytest.mark.slow
def test_same_seed_same_result_and_refit_modes() -> None:
    def make() -> synthetic.PlantedFunction:  # a fresh noise stream for each run
        return synthetic.planted(16, 5, max_order=2, noise=0.05, seed=8)

    f = make()
    a = ProxySPEX(300, seed=11).fit(make(), store=None)
    b = ProxySPEX(300, seed=11).fit(make(), store=None)
    assert np.array_equal(a.coefficients.indices, b.coefficients.indices)
    assert np.array_equal(a.coefficients.values, b.coefficients.values)
    raw = ProxySPEX(300, seed=11, refit="none").fit(f, store=None)
    ols = ProxySPEX(300, seed=11, refit="ols").fit(f, store=None)
    assert raw.settings["alpha"] is None and ols.settings["alpha"] == 0.0
    x = masks.bernoulli(500, 16, seed=1)
    for res in (raw, ols):
        r2 = 1 - np.mean((f.exact(x) - res.evaluate(x)) ** 2) / np.var(f.exact(x))
        assert r2 > 0.8


def test_store_resume_makes_no_new_calls(tmp_path) -> None:
    f = synthetic.planted(12, 4, max_order=2, seed=1)
    store = EvalStore(tmp_path / "evals.sqlite")
    first = ProxySPEX(200, seed=3).fit(f, store=store, key="exp")
    second = ProxySPEX(200, seed=3).fit(f, store=store, key="exp")
    assert first.calls > 0 and second.calls == 0
    assert np.array_equal(first.coefficients.values, second.coefficients.values)


def test_fourier_features_match_definition(rng: np.random.Generator) -> None:
    coefs = Coefficients.from_dict({(): 1.0, (2,): 1.0, (0, 3): 1.0, (1, 2, 4): 1.0}, n=5)
    x = rng.integers(0, 2, size=(30, 5)).astype(bool)
    phi = fourier_features(coefs, x)
    for k in range(len(coefs)):
        s = list(coefs.support(k))
        np.testing.assert_array_equal(phi[:, k], (-1.0) ** x[:, s].sum(axis=1))


def test_bad_inputs() -> None:
    f = synthetic.planted(8, 3, seed=0)
    with pytest.raises(ValueError, match="too small"):
        ProxySPEX(5, folds=3)
    with pytest.raises(ValueError, match="folds"):
        ProxySPEX(100, folds=1)
    with pytest.raises(ValueError, match="design"):
        ProxySPEX(100, design="sobol")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="refit"):
        ProxySPEX(100, refit="lasso")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grid"):
        ProxySPEX(100, grid=[])
    with pytest.raises(TypeError, match="budget"):
        ProxySPEX(100.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n"):
        ProxySPEX(100).fit(lambda m: m.sum(axis=1).astype(float), store=None)
    with pytest.raises(ValueError, match="same output"):
        ProxySPEX(60).fit(lambda m: np.ones(len(m)), 8, store=None)
    with pytest.raises(ValueFunctionError, match="NaN"):
        ProxySPEX(60).fit(lambda m: np.full(len(m), np.nan), 8, store=None)
    with pytest.raises(ValueError, match="one scalar output"):
        ProxySPEX(60).fit(lambda m: np.stack([f(m), f(m)], axis=1), 8, store=None)
    with pytest.raises(ValueError, match="distinct components"):
        ablation_pair_scores(f, 8, np.array([1]), np.array([1]))


def test_wide_design_path_selects_the_same_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide designs cross-validate grid points one at a time on all threads (to bound memory);
    the chosen setting and the recovered support must not depend on that."""
    import fastspex.proxyspex as proxyspex_module

    def make() -> synthetic.PlantedFunction:
        return synthetic.planted(20, 6, max_order=2, noise=0.02, seed=5)

    threaded = ProxySPEX(400, seed=4).fit(make(), store=None)
    monkeypatch.setattr(proxyspex_module, "_SEQUENTIAL_GRID_CELLS", 0)
    sequential = ProxySPEX(400, seed=4).fit(make(), store=None)
    assert sequential.settings["chosen"] == threaded.settings["chosen"]
    assert np.array_equal(sequential.coefficients.indices, threaded.coefficients.indices)
    np.testing.assert_allclose(sequential.coefficients.values, threaded.coefficients.values,
                               rtol=1e-9, atol=1e-12)


def test_uniform_design_draws_complementary_pairs() -> None:
    seen: list[np.ndarray] = []
    f = synthetic.planted(12, 4, max_order=2, seed=2)

    def record(x: np.ndarray) -> np.ndarray:
        seen.append(np.asarray(x, dtype=bool).copy())
        return f(x)

    ProxySPEX(41, seed=0, folds=2).fit(record, 12, store=None)
    x = np.concatenate(seen)
    assert len(x) == 41 and x[0].all()  # the all-kept mask, then 20 pairs
    np.testing.assert_array_equal(x[21:], ~x[1:21])
    seen.clear()
    ProxySPEX(41, seed=0, folds=2, antithetic=False).fit(record, 12, store=None)
    x = np.concatenate(seen)
    assert not np.array_equal(x[21:], ~x[1:21])


def test_memory_guard_refuses_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    # n = 10^7 components: LightGBM's histograms alone (5 folds x 32 leaves x 3 bins x 16 B per
    # component) are ~77 GB. The guard must fire before any mask is drawn or evaluated.
    from fastspex import errors

    calls = []

    def fn(m: np.ndarray) -> np.ndarray:
        calls.append(len(m))
        return np.zeros(len(m))

    n = 10**7
    est = ProxySPEX(10).memory_estimate(n)
    hist = 5 * 32 * 3 * 16 * n  # the histogram pool by itself
    assert est >= hist + 10 * n * 7  # ... plus the fold copies of the 10 x n cells
    monkeypatch.setattr(errors, "available_memory", lambda: 8 * 10**9)
    with pytest.raises(errors.MemoryLimitError, match=r"^ProxySPEX on n = 10000000 .* needs about \d+ GB .*method='spex'$"):
        ProxySPEX(10).fit(fn, n, store=None)
    assert calls == []
    assert issubclass(errors.MemoryLimitError, MemoryError)


def test_check_memory_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastspex import errors

    monkeypatch.setattr(errors, "available_memory", lambda: 2 * 10**9)
    errors.check_memory(10**9, "a thing", "use less")  # fits: no error
    with pytest.raises(errors.MemoryLimitError) as info:
        errors.check_memory(3 * 10**9, "the mask matrix", "use fewer components")
    msg = str(info.value)
    assert "\n" not in msg
    assert "3 GB" in msg and "2 GB" in msg and "the mask matrix" in msg and "use fewer components" in msg
    monkeypatch.setattr(errors, "available_memory", lambda: None)  # unknown: never refuses
    errors.check_memory(10**15, "x", "y")


def test_available_memory_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import sys

    from fastspex import errors

    real = errors.available_memory()
    assert real is not None and real > 0
    real_import = builtins.__import__

    def no_psutil(name: str, *args, **kwargs):
        if name == "psutil":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "psutil", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_psutil)
    fallback = errors.available_memory()  # /proc/meminfo on Linux
    assert fallback is not None and 0.5 * real < fallback < 2 * real


# -- never below the baselines (issue 15) --------------------------------------------------------
def _noisy_wide(seed: int, n: int):
    """Additive effects on every component, one strong pair, and noise: a wide noisy target."""
    rng = np.random.default_rng(seed)
    w = rng.normal(scale=0.3, size=n)
    noise = np.random.default_rng(seed + 1)

    def fn(m):
        x = np.asarray(m.to_bool() if hasattr(m, "to_bool") else m, dtype=np.float64)
        return x @ w + 1.5 * x[:, 0] * x[:, 1] + noise.normal(scale=1.0, size=len(x))

    return fn, w


def _ridge_holdout_r2(xtr, ytr, xt, yt) -> float:
    from fastspex.explainers.residual_trees import fit_mains_ridge, ridge_alpha

    mu, sd = ytr.mean(), ytr.std()
    alpha, _ = ridge_alpha(xtr, (ytr - mu) / sd)
    c, w = fit_mains_ridge(xtr, (ytr - mu) / sd, alpha)
    pred = mu + sd * (c + (1.0 - 2.0 * xt) @ w)
    return 1.0 - float(np.sum((yt - pred) ** 2)) / float(np.sum((yt - yt.mean()) ** 2))


@pytest.mark.parametrize("n, budget", [(30, 300), (120, 400)])
def test_the_chosen_expansion_has_the_best_cv_score_of_the_baselines(n: int, budget: int) -> None:
    fn, _ = _noisy_wide(0, n)
    res = ProxySPEX(budget, seed=0).fit(fn, n, store=None, progress=False)
    table = {row["candidate"]: row["cv_r2"] for row in res.settings["candidates"]}
    assert {"mains_ridge", "the tree proxy itself"} <= set(table)
    # by construction: what is returned scores at least the main-effects ridge, and the proxy
    # and every other candidate less the tie margin a denser candidate must clear
    from fastspex.explainers.proxyspex import TIE_R2

    assert res.settings["cv_r2"] >= max(table.values()) - TIE_R2 - 1e-12
    assert res.settings["cv_r2"] >= table["mains_ridge"]


def test_not_below_a_ridge_of_the_main_effects_on_held_out_masks() -> None:
    n, budget = 120, 400
    fn, _ = _noisy_wide(3, n)
    x = np.random.default_rng(7).random((budget + 2000, n)) < 0.5
    x[0] = True
    y = fn(x)
    xtr, ytr, xt, yt = x[:budget], y[:budget], x[budget:], y[budget:]
    table = {r.tobytes(): v for r, v in zip(np.packbits(xtr, axis=1), ytr)}

    def replay(m):
        arr = m.to_bool() if hasattr(m, "to_bool") else np.asarray(m)
        return np.array([table[r.tobytes()] for r in np.packbits(arr, axis=1)])

    res = ProxySPEX(budget, seed=0, design=lambda m, n_, seed=None: xtr[1:m + 1]).fit(
        replay, n, store=None, progress=False)
    pred = indices.evaluate(res.coefficients, xt)
    r2 = 1.0 - float(np.sum((yt - pred) ** 2)) / float(np.sum((yt - yt.mean()) ** 2))
    assert r2 >= _ridge_holdout_r2(xtr, ytr, xt, yt) - 0.02  # 2,000 held-out masks: SE ≈ 0.01


def test_a_noisy_target_refits_only_its_best_grid_point_and_still_keeps_the_baselines() -> None:
    from fastspex.explainers.proxyspex import DEFAULT_GRID, NOISY_GRID

    fn, _ = _noisy_wide(0, 30)
    noisy = ProxySPEX(300, seed=0).fit(fn, 30, store=None, progress=False)
    grid = noisy.settings["grid"]
    assert len(grid) == len(DEFAULT_GRID) + len(NOISY_GRID)  # the slow grid ran: a noisy target
    assert noisy.settings["refit_grid_points"] == 1
    best = max(grid, key=lambda row: row["cv_r2"])
    assert noisy.settings["chosen"]["cv_r2"] == best["cv_r2"]  # the one refit is the best point's
    labels = {row["candidate"] for row in noisy.settings["candidates"]}
    assert {"refit of the proxy's top terms", "mains_ridge", "the tree proxy itself"} <= labels
    clean = ProxySPEX(300, seed=0).fit(synthetic.planted(12, 6, max_order=2, seed=0), 12,
                                       store=None, progress=False)
    assert clean.settings["refit_grid_points"] == len(DEFAULT_GRID) == len(clean.settings["grid"])


@pytest.mark.parametrize("antithetic", [True, False])
def test_uniform_design_spends_every_call_on_a_new_mask(antithetic: bool) -> None:
    # n = 10, budget 600: drawn with replacement, ~25 % of the masks were repeats (served by the
    # memo, so fewer model calls than the budget, and a repeat in two CV folds leaks the
    # validation answer into training). Every training mask must be distinct.
    seen: list[np.ndarray] = []

    def record(m: np.ndarray) -> np.ndarray:
        arr = np.asarray(m.to_bool() if hasattr(m, "to_bool") else m, bool)
        seen.append(arr)
        return arr.sum(axis=1) + 0.5 * (arr[:, 0] & arr[:, 1])

    res = ProxySPEX(600, seed=3, folds=2, antithetic=antithetic, holdout=0).fit(record, 10, store=None)
    x = res.diagnostics["training"].masks.to_bool()
    assert len(x) == 600 and x[0].all()
    assert len(np.unique(np.packbits(x, axis=1), axis=0)) == 600
    assert sum(map(len, seen)) == 600 and res.calls == 600  # every call a new mask
    if antithetic:  # still complementary pairs
        np.testing.assert_array_equal(x[301:], ~x[1:300])


def test_uniform_design_at_least_the_whole_cube_is_exhaustive() -> None:
    # budget ≥ 2ⁿ: every mask once (no repeats asked of the model), and the fit is exact
    seen: list[np.ndarray] = []

    def record(m: np.ndarray) -> np.ndarray:
        arr = np.asarray(m.to_bool() if hasattr(m, "to_bool") else m, bool)
        seen.append(arr)
        return arr.sum(axis=1) + 2.0 * (arr[:, 0] & arr[:, 2])

    res = ProxySPEX(40, seed=0, folds=2, holdout=0).fit(record, 5, store=None)
    x = res.diagnostics["training"].masks.to_bool()
    assert len(x) == 32 and len(np.unique(np.packbits(x, axis=1), axis=0)) == 32
    assert sum(map(len, seen)) == 32 and res.calls == 32


@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_leave_one_out_from_the_prefix_qr_equals_the_direct_svd(weighted: bool) -> None:
    from fastspex.explainers.proxyspex import _loo_ridge, _prefix_loo

    rng = np.random.default_rng(4)
    m, k, p = 120, 40, 25
    phi = rng.choice([-1.0, 1.0], size=(m, k))
    phi[:, 7] = phi[:, 3]  # a dependent column inside the prefix
    y = phi[:, :5] @ rng.normal(size=5) + rng.normal(scale=0.3, size=m)
    w = rng.uniform(0.5, 2.0, size=m) if weighted else None
    factors: list[np.ndarray] = []
    _prefix_loo(phi, y, w, None, factors)
    alphas = np.array([0.0, 0.1, 1.0, 30.0])
    rows_a: list[np.ndarray] = []
    rows_b: list[np.ndarray] = []
    direct, s2_direct = _loo_ridge(phi[:, :p], y, alphas, w, None, rows_a)
    via_qr, s2_qr = _loo_ridge(phi[:, :p], y, alphas, w, None, rows_b, qr=(factors[0], factors[1]))
    np.testing.assert_allclose(via_qr, direct, rtol=1e-8)
    np.testing.assert_allclose(np.sort(s2_qr), np.sort(s2_direct), rtol=1e-8, atol=1e-9)
    for a, b in zip(rows_a, rows_b):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("noisy", [True, False])
def test_the_fit_does_not_depend_on_the_number_of_worker_threads(noisy: bool) -> None:
    # on two workers the slow grid starts beside the default one (called off on a clean target)
    # and the residual trees fill the gaps: none of that may change what is returned
    n = 30
    rng = np.random.default_rng(5)
    w = rng.normal(scale=0.3, size=n)

    def fn(m):  # noise fixed per mask, so both fits see the same outputs
        x = np.asarray(m.to_bool() if hasattr(m, "to_bool") else m, dtype=bool)
        seeds = [int.from_bytes(row.tobytes(), "little") for row in np.packbits(x, axis=1)]
        noise = np.array([np.random.default_rng(s).normal() for s in seeds])
        xf = x.astype(np.float64)
        return xf @ w + 1.5 * xf[:, 0] * xf[:, 1] + (1.0 if noisy else 0.0) * noise

    fits = [ProxySPEX(300, seed=0, n_threads=k).fit(fn, n, store=None, progress=False)
            for k in (1, 2)]
    from fastspex.explainers.proxyspex import DEFAULT_GRID, NOISY_GRID

    expected = len(DEFAULT_GRID) + (len(NOISY_GRID) if noisy else 0)
    assert [len(f.settings["grid"]) for f in fits] == [expected, expected]
    one, two = (f.coefficients.to_dict() for f in fits)
    assert one.keys() == two.keys()
    assert all(one[s] == two[s] for s in one)
