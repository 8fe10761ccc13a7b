"""SPEX: exact recovery of planted sparse functions, behaviour under noise, errors, resume."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from fastspex import SPEX, Coefficients, EvalStore, Evaluator, SPEXResult, indices, masks, synthetic
from fastspex.spex import plan, run


def _same(res: SPEXResult, f: synthetic.PlantedFunction, atol: float = 1e-9) -> None:
    got = {s: v for s, v in res.coefficients.to_dict().items() if s or abs(v) > atol}
    truth = f.coefficients.to_dict()
    assert set(got) == set(truth)
    for s, v in truth.items():
        assert got[s] == pytest.approx(v, abs=atol)


@pytest.mark.parametrize(("n", "k", "t"), [(6, 8, 2), (10, 12, 3), (64, 30, 4), (300, 60, 5), (1000, 100, 5)])
def test_exact_recovery_without_noise(n: int, k: int, t: int) -> None:
    f = synthetic.planted(n, k, max_order=t, constant=0.7, seed=n)
    res = SPEX(sparsity=k, max_order=t).fit(f, store=None, progress=False)
    _same(res, f)
    assert res.calls <= res.settings["design_calls"]
    assert res.baseline == pytest.approx(float(f(np.ones((1, n), bool))[0]))
    assert res.coefficients.basis == "fourier"
    assert res.coefficients.support(0) == ()  # the empty set comes first


@pytest.mark.parametrize("n", [8, 11])
def test_against_all_masks(n: int) -> None:
    # Brute force: the recovered expansion reproduces f on every one of the 2^n masks.
    f = synthetic.planted(n, 10, max_order=3, constant=-1.5, seed=3)
    res = SPEX(b=5, max_order=3).fit(f, store=None, progress=False)
    every = masks.exhaustive(n)
    np.testing.assert_allclose(res.evaluate(every), f.exact(every), atol=1e-9)


def test_mobius_planted_function() -> None:
    # A sparse Möbius function is sparse in Fourier too (2^|S| terms per support).
    f = synthetic.planted(200, 8, max_order=3, basis="mobius", seed=5)
    res = SPEX(sparsity=64, max_order=3).fit(f, store=None, progress=False)
    probe = masks.bernoulli(500, 200, seed=1)
    np.testing.assert_allclose(res.evaluate(probe), f.exact(probe), atol=1e-9)
    mob = res.index("mobius")
    assert {s for s, v in mob.to_dict().items() if abs(v) > 1e-9} == set(f.coefficients.to_dict())


def test_noise_keeps_the_top_interactions() -> None:
    # Per-call noise sd 1.0 on coefficients of 0.5..1: each bin averages 2^b masks, so the
    # support is still found and the refit error shrinks like sd / sqrt(samples).
    n, k = 400, 40
    f = synthetic.planted(n, k, max_order=4, noise=1.0, seed=11)
    res = SPEX(sparsity=k, max_order=4, holdout=300).fit(f, store=None, progress=False)
    truth = f.coefficients.to_dict()
    got = res.coefficients.to_dict()
    top = f.top(10)
    assert sum(s in got for s in top) == 10
    err = np.sqrt(sum((truth.get(s, 0) - got.get(s, 0)) ** 2 for s in set(truth) | set(got)))
    assert err / np.linalg.norm(list(truth.values())) < 0.1
    assert res.r2 is not None and res.r2 > 0.8  # noisy hold-out outputs cap R² below 1
    assert res.diagnostics["noise_sd_estimate"] == pytest.approx(1.0, rel=0.1)


def test_heavy_noise_degrades_without_inventing_terms() -> None:
    # Noise far above the coefficients: few terms are found, but no flood of spurious ones.
    n, k = 300, 30
    f = synthetic.planted(n, k, max_order=3, noise=40.0, seed=2)
    res = SPEX(sparsity=k, max_order=3).fit(f, store=None, progress=False)
    assert len(res.coefficients) <= k + 1
    found = set(res.coefficients.to_dict()) - {()}
    assert len(found - set(f.coefficients.to_dict())) <= 2


def test_known_noise_level_thresholds() -> None:
    n, k = 300, 30
    f = synthetic.planted(n, k, max_order=3, noise=1.0, seed=4)
    res = SPEX(sparsity=k, max_order=3, noise=1.0).fit(f, store=None, progress=False)
    assert set(f.top(10)) <= set(res.coefficients.to_dict())


def test_plan_budget() -> None:
    n, t = 1000, 5
    p = plan(n, 50_000, max_order=t)
    # Peers' rule: the largest b with 3 * 2^b * delays <= budget; leftover buys more groups.
    assert p.delays == 56 and p.b == 8 and p.groups == 3
    assert p.calls == 3 * 256 * 56 <= 50_000
    p2 = plan(n, 4 * 256 * 56 + 5, max_order=t)
    assert p2.b == 8 and p2.groups == 4
    assert plan(n, sparsity=100, max_order=t).b == 8
    with pytest.raises(ValueError, match="budget 600 is too small.*at least 672"):
        plan(n, 600, max_order=t)
    with pytest.raises(ValueError, match="too small for the requested design"):
        plan(n, 1000, max_order=t, b=6)


def test_impossible_settings() -> None:
    f = synthetic.planted(50, 5, max_order=2, seed=0)
    with pytest.raises(ValueError, match="too small"):
        SPEX(budget=100, max_order=2, adapt_order=False).fit(f, store=None)
    with pytest.raises(ValueError, match="n is too large"):
        plan(3_000_000, 10**9, max_order=2)
    assert plan(3, max_order=4).max_order == 3  # clamped to n, not refused
    with pytest.raises(ValueError, match="must be >= max_order"):
        plan(100, max_order=4, t=3)
    with pytest.raises(ValueError, match="residual_ratio"):
        SPEX(residual_ratio=1.5)
    with pytest.raises(ValueError, match="noise"):
        SPEX(noise=-1.0)
    with pytest.raises(ValueError, match="scalar output"):
        SPEX(b=3, max_order=2).fit(lambda m: np.zeros((len(m), 2)), 20, store=None)


def test_determinism_and_seeds() -> None:
    def noisy():  # a fresh copy each time: the same noise stream from its start
        return synthetic.planted(500, 50, max_order=4, noise=0.3, seed=9)

    a = SPEX(sparsity=50, max_order=4, seed=7).fit(noisy(), store=None, progress=False)
    b = SPEX(sparsity=50, max_order=4, seed=7).fit(noisy(), store=None, progress=False,
                                                     batch_size=1000)
    c = SPEX(sparsity=50, max_order=4, seed=8).fit(noisy(), store=None, progress=False)
    # The batch size changes nothing: same noise per row, same supports.
    assert a.coefficients.to_dict().keys() == b.coefficients.to_dict().keys()
    g = synthetic.planted(500, 50, max_order=4, seed=9)
    x = SPEX(sparsity=50, max_order=4, seed=7, n_threads=1).fit(g, store=None, progress=False)
    y = SPEX(sparsity=50, max_order=4, seed=7, n_threads=2).fit(g, store=None, progress=False)
    for u, v in zip((x.coefficients.indptr, x.coefficients.indices, x.coefficients.values),
                    (y.coefficients.indptr, y.coefficients.indices, y.coefficients.values)):
        assert np.array_equal(u, v)
    assert c.settings["seed"] != a.settings["seed"]


def test_store_resume(tmp_path) -> None:
    f = synthetic.planted(120, 20, max_order=3, seed=1)
    store = EvalStore(tmp_path / "spex.sqlite")
    first = run(f, 120, sparsity=20, max_order=3, store=store, key="planted-120", progress=False)
    again = run(f, 120, sparsity=20, max_order=3, store=store, key="planted-120", progress=False)
    assert first.calls > 0 and again.calls == 0
    assert np.array_equal(first.coefficients.values, again.coefficients.values)
    store.close()


def test_evaluator_input_holdout_and_result_api() -> None:
    f = synthetic.planted(60, 12, max_order=3, seed=6)
    ev = Evaluator(f, 60, store=None, progress=False)
    res = SPEX(budget=20_000, max_order=3, holdout=100).fit(ev)
    assert res.calls == ev.calls and res.calls <= res.settings["design_calls"] + 100
    assert res.r2 == pytest.approx(1.0)
    assert res.timings["algorithm"] > 0 and res.timings["model"] > 0
    import json

    json.dumps(res.settings)
    pairs = res.top_pairs(k=3, index="mobius")
    mob = indices.to_mobius(res.coefficients).to_dict()
    assert len(pairs.i) == 3
    for i, j, s in zip(pairs.i, pairs.j, pairs.score):
        assert s == pytest.approx(mob.get((int(i), int(j)), 0.0), abs=1e-9)
    truth = indices.to_mobius(f.coefficients).to_dict()
    got = res.index("mobius").to_dict()
    assert set(got) == set(truth) | {()} or set(got) == set(truth)
    for key, v in truth.items():
        assert got[key] == pytest.approx(v, abs=1e-9)
    assert res.top(3)[0][0] == f.top(1)[0]


def test_threads_release_the_gil() -> None:
    f = synthetic.planted(2000, 80, max_order=5, seed=3)
    results: list[SPEXResult] = []

    def work() -> None:
        results.append(SPEX(sparsity=80, max_order=5).fit(f, store=None, progress=False))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 2
    for r in results:
        _same(r, f)


def test_coefficients_type() -> None:
    f = synthetic.planted(30, 5, max_order=2, seed=0)
    res = SPEX(b=4, max_order=2).fit(f, store=None, progress=False)
    assert isinstance(res.coefficients, Coefficients)
    assert res.n == 30 and res.settings["b"] == 4


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_small_n_default_degree_bound_is_clamped(n: int) -> None:
    # The default max_order (5) exceeds n: it is clamped to n, and SPEX recovers every term of
    # a planted function with supports up to size n. Checked on all 2^n masks.
    k = min(2**n - 1, 5)
    f = synthetic.planted(n, k, max_order=n, constant=0.4, seed=n)
    res = SPEX().fit(f, store=None, progress=False)
    assert res.settings["max_order"] == n
    every = masks.exhaustive(n)
    np.testing.assert_allclose(res.evaluate(every), f.exact(every), atol=1e-9)
    _same(res, f)
    assert plan(n, max_order=7).max_order == n


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_small_n_with_a_budget(n: int) -> None:
    f = synthetic.planted(n, min(2**n - 1, 4), max_order=n, constant=-0.2, seed=10 + n)
    need = plan(n, max_order=n, b=min(n, 2)).calls if n >= 2 else plan(n, max_order=1, b=1).calls
    res = SPEX(budget=4 * need).fit(f, store=None, progress=False)
    assert res.calls <= 4 * need
    every = masks.exhaustive(n)
    np.testing.assert_allclose(res.evaluate(every), f.exact(every), atol=1e-9)


def test_small_budget_error_names_the_minimum() -> None:
    import re

    for n, budget in [(2, 5), (50, 100), (1000, 600)]:
        with pytest.raises(ValueError, match=r"at least \d+ model calls") as info:
            plan(n, budget)
        need = int(re.search(r"at least (\d+) model calls", str(info.value)).group(1))
        assert need > budget
        assert plan(n, need).calls <= need  # the named minimum really is enough
    with pytest.raises(ValueError, match=r"at least \d+ model calls"):
        plan(1000, 1000, max_order=5, b=6)
