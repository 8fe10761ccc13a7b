"""explain(): argument checks, every method through stand-ins, and the real methods once merged."""

from __future__ import annotations


import fastspex
import numpy as np
import pytest
from _surface_helpers import DenseExplainer, FakeFeatureAblation, FakeHeadAblation, install_dense_explainers
from fastspex import indices
from fastspex import masks as M
from fastspex.api import explain
from fastspex.interactions import Interactions
from fastspex.value import Evaluator


@pytest.fixture
def dense_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand in for every estimating method with exact dense fits (n ≤ 12), by registration."""
    install_dense_explainers(monkeypatch)


def test_proxyspex_path_on_feature_ablation(dense_methods: None) -> None:
    fn = FakeFeatureAblation()
    res = explain(fn, progress=False, store=None, budget=100)  # below 2^7: not the exact path
    assert isinstance(res, Interactions)
    assert res.index == "fbii" and res.order == 2 and res.method == "proxyspex"
    assert res.labels == fn.text.split() and res.kind == "features"
    assert res.metadata["text"] == fn.text and res.metadata["units"][0] == [0, 3]
    assert res.top(1)[0].names == ("not", "bad")
    assert res["not", "bad"] == pytest.approx(2.5)  # FBII of a pure pairwise term is its Möbius weight
    assert res.faithfulness == pytest.approx(1.0)
    assert res.baseline == pytest.approx(float(fn(np.ones((1, fn.n), bool))[0]))
    # 2^7 exhaustive masks + the hold-out (64 fresh masks, some repeat the 128 → deduplicated? no store)
    assert res.calls >= 128
    assert res.settings["budget"] == 100


@pytest.mark.parametrize("index", ["fbii", "fsii", "stii", "sii", "bii", "fourier", "mobius", "ablation"])
def test_every_index_matches_indices_module(dense_methods: None, index: str) -> None:
    fn = FakeHeadAblation()
    res = explain(fn, index=index, progress=False, store=None, holdout=0, budget=200)
    truth = indices.compute_index(DenseExplainer().fit(fn).coefficients, index, res.order)
    for s, v in truth.to_dict().items():
        assert res[s] == pytest.approx(v, abs=1e-10)
    assert res.faithfulness is None


@pytest.mark.parametrize("method", ["spex", "fm", "lasso"])
def test_other_methods(dense_methods: None, method: str) -> None:
    fn = FakeHeadAblation()
    res = explain(fn, method=method, budget=200, progress=False, store=None, index="mobius")
    assert res.method == method
    assert res["L0.H1", "L1.H2"] == pytest.approx(1.2, abs=1e-6)
    assert res["L0.H0"] == pytest.approx(1.0, abs=1e-6)
    assert res.faithfulness == pytest.approx(1.0, abs=1e-9)
    # the stand-in for SPEX evaluates all 2^8 masks whatever its budget
    assert res.settings["holdout"] == 64 and 0 < res.calls <= 256 + 64
    if method in ("fm", "lasso"):
        distinct = {r.tobytes() for r in M.bernoulli(199, fn.n, seed=0).to_bool()}
        assert res.calls >= len(distinct)


def test_greedy_method() -> None:
    fn = FakeFeatureAblation()
    res = explain(fn, method="greedy", progress=False, store=None, threshold=-0.5)
    assert res.index == "ablation" and res.method == "greedy"
    # Exact ablation interactions at the full input, checked by hand from the function.
    one = np.ones((1, fn.n), bool)
    def f(off: list[int]) -> float:
        m = one.copy()
        m[0, off] = False
        return float(fn(m)[0])
    assert res["bad"] == pytest.approx(f([]) - f([4]))
    assert res["not", "bad"] == pytest.approx(f([]) - f([3]) - f([4]) + f([3, 4]))
    assert res.metadata["greedy"]["crossed"] in (True, False)
    with pytest.raises(ValueError, match="greedy measures ablation"):
        explain(fn, method="greedy", index="fbii", progress=False)


def test_argument_validation(dense_methods: None) -> None:
    fn = FakeHeadAblation()
    with pytest.raises(ValueError, match="method must be one of"):
        explain(fn, method="shap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="index must be one of"):
        explain(fn, index="shapley")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget must be >= 2"):
        explain(fn, budget=0)
    with pytest.raises(TypeError, match="budget must be an integer"):
        explain(fn, budget=10.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="target must be a value function"):
        explain("a model")
    with pytest.raises(ValueError, match="pass n="):
        explain(lambda m: m.sum(1))
    with pytest.raises(ValueError, match="disagrees"):
        explain(fn, n=3)
    with pytest.raises(ValueError, match="labels has 2 names"):
        explain(fn, labels=["a", "b"])
    with pytest.raises(ValueError, match="order = 9 exceeds"):
        explain(fn, index="fsii", order=9)
    with pytest.raises(ValueError, match="backend must be"):
        explain(fn, backend="dask")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown option"):
        explain(fn, method="lasso", rank=3, progress=False, store=None)
    with pytest.raises(TypeError, match="progress must be"):
        explain(fn, progress="yes")  # type: ignore[arg-type]


def test_plain_callable_and_evaluator(dense_methods: None) -> None:
    w = np.array([1.0, -2.0, 0.5])
    res = explain(lambda m: np.asarray(m, float) @ w, n=3, labels=["a", "b", "c"],
                  index="mobius", progress=False, store=None)
    assert res["b"] == pytest.approx(-2.0) and res.kind is None
    ev = Evaluator(lambda m: np.asarray(m, float) @ w, 3, store=None, progress=False)
    ev(np.ones((4, 3), bool))
    res = explain(ev, index="mobius", progress=False, holdout=0)
    # calls of this run only; the all-kept mask was evaluated before and is not asked again
    assert res.calls == 7 and ev.calls == 8
    assert res.labels == ["0", "1", "2"]


def test_top_level_name_calls_explain(dense_methods: None) -> None:
    # fastspex.explain is the module once imported (Python binds submodules); it forwards calls.
    res = fastspex.explain(FakeHeadAblation(), progress=False, store=None, holdout=0, budget=200)
    assert isinstance(res, Interactions) and res.method == "proxyspex"
    from fastspex import explain as imported

    assert callable(imported)


@pytest.mark.slow
def test_real_proxyspex_on_planted_function() -> None:
    pytest.importorskip("fastspex.proxyspex")
    from fastspex import synthetic

    f = synthetic.planted(12, 6, max_order=2, seed=4)
    res = explain(f, budget=500, index="mobius", progress=False, store=None, holdout=200)
    assert res.faithfulness is not None and res.faithfulness > 0.9
    top = {t.ids for t in res.top(6)}
    truth = {s for s in indices.to_mobius(f.coefficients).to_dict() if s}
    assert len(top & truth) >= 4


def test_ray_backend_is_used(dense_methods: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}

    def make_ray_evaluator(fn, n=None, *, store="default", progress=None, **options):
        seen.update(n=n, store=store, progress=progress, options=options)
        return Evaluator(fn, n, store=None, progress=False)

    pytest.importorskip("ray")
    monkeypatch.setattr("fastspex.evaluation.ray_backend.make_ray_evaluator", make_ray_evaluator)
    res = explain(FakeHeadAblation(), backend="ray", backend_options={"workers": 2},
                  progress=False, store=None, holdout=0)
    assert seen == {"n": 8, "store": None, "progress": False, "options": {"workers": 2}}
    assert res.settings["backend"] == "ray" and res.calls == 256
    with pytest.raises(ValueError, match="backend_options apply"):
        explain(FakeHeadAblation(), backend_options={"workers": 2})



@pytest.mark.parametrize("method", ["lasso", "fm"])
def test_real_proxies_find_a_planted_pair(method: str) -> None:
    from fastspex.coefficients import Coefficients as C

    truth = C.from_dict({(): 0.5, (1,): 1.0, (2, 5): 2.0, (3,): -0.7}, 8, "mobius")
    # A noiseless, exactly low-rank target: the FM's penalty is lowered as its docstring advises.
    options = {"l2": 1e-3} if method == "fm" else {}
    res = explain(lambda m: indices.evaluate(truth, m), n=8, method=method, budget=400,
                  progress=False, store=None, index="mobius", seed=0, **options)
    assert res.top(1, order=2)[0].ids == (2, 5)
    assert res[2, 5] == pytest.approx(2.0, abs=0.05)
    assert res.faithfulness > 0.99


def _brute_shapley(f, n: int) -> np.ndarray:
    """Shapley values from their definition, over every coalition."""
    from itertools import combinations
    from math import comb

    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for rest in combinations(others, size):
                with_i = np.zeros((1, n), dtype=bool)
                with_i[0, list(rest)] = True
                without = with_i.copy()
                with_i[0, i] = True
                phi[i] += (f(with_i)[0] - f(without)[0]) / (n * comb(n - 1, size))
    return phi


def test_sv_and_shapiq_spellings_name_the_shapley_values() -> None:
    def game(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return x[:, 0] * x[:, 1] * 3.0 + np.maximum(x[:, 2], x[:, 3]) - x[:, 4] + x.sum(1) ** 2 / 7

    truth = _brute_shapley(game, 5)
    for name in ("sv", "SV"):
        res = fastspex.explain(game, n=5, budget=32, index=name, store=None, progress=False)
        assert res.index == "ksii" and res.order == 1
        got = np.array([res[(i,)] for i in range(5)])
        np.testing.assert_allclose(got, truth, atol=1e-12)
    assert fastspex.explain(game, n=5, budget=32, index="k-SII", store=None,
                            progress=False).order == 2
    with pytest.raises(ValueError, match="of order 1"):
        fastspex.explain(game, n=5, budget=32, index="sv", order=2, store=None, progress=False)
    with pytest.raises(ValueError, match="index must be one of"):
        fastspex.explain(game, n=5, budget=32, index="shap", store=None, progress=False)
