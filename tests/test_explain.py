"""explain(): argument checks, every method through stand-ins, and the real methods once merged."""

from __future__ import annotations

import sys
import types

import fastspex
import numpy as np
import pytest
from _surface_helpers import DenseExplainer, FakeFeatureAblation, FakeHeadAblation
from fastspex import indices
from fastspex import masks as M
from fastspex.coefficients import Coefficients
from fastspex.explain import default_budget, explain
from fastspex.interactions import Interactions
from fastspex.value import Evaluator


@pytest.fixture
def dense_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand in for fastspex.proxyspex / spex / proxies with exact dense fits (n ≤ 12)."""
    for name, cls in (("proxyspex", "ProxySPEX"), ("spex", "SPEX")):
        mod = types.ModuleType(f"fastspex.{name}")
        setattr(mod, cls, DenseExplainer)
        # The attribute first: reading its old value may import the real module (fastspex's
        # lazy names), which must not find the stand-in already in sys.modules.
        monkeypatch.setattr(fastspex, name, mod, raising=False)
        monkeypatch.setitem(sys.modules, f"fastspex.{name}", mod)

    class Fit:
        def __init__(self, masks: np.ndarray, y: np.ndarray, rank: int = 0) -> None:
            # Least squares on all sets of size <= 2 (Möbius), exact for the fakes.
            n = masks.shape[1]
            sets = [()] + [(i,) for i in range(n)] + [(i, j) for i in range(n) for j in range(i + 1, n)]
            X = np.column_stack([masks[:, list(s)].all(axis=1) if s else np.ones(len(masks)) for s in sets]).astype(float)
            w = np.linalg.lstsq(X, y, rcond=None)[0]
            if rank:  # FM-shaped: pairs live in V only
                self.coefficients = Coefficients.from_dict({s: v for s, v in zip(sets, w) if len(s) < 2}, n, "mobius")
                P = np.zeros((n, n))
                for s, v in zip(sets, w):
                    if len(s) == 2:
                        P[s] = P[s[::-1]] = v
                # Only off-diagonal <v_i, v_j> matter: shift the diagonal to make P PSD.
                vals, vecs = np.linalg.eigh(P + (1e-9 - min(0.0, np.linalg.eigvalsh(P)[0])) * np.eye(n))
                self.V = vecs * np.sqrt(np.clip(vals, 0, None))
            else:
                self.coefficients = Coefficients.from_dict(dict(zip(sets, w)), n, "mobius")

        def predict(self, masks: np.ndarray) -> np.ndarray:
            out = indices.evaluate(self.coefficients, masks)
            if hasattr(self, "V"):
                x = np.asarray(masks, float)
                xv = x @ self.V
                out = out + 0.5 * ((xv**2).sum(1) - (x**2) @ (self.V**2).sum(1))
            return out

    proxies = types.ModuleType("fastspex.proxies")
    proxies.fit_sparse_polynomial = lambda masks, outputs, alpha=0.0: Fit(masks, outputs)  # type: ignore[attr-defined]
    proxies.fit_factorization_machine = lambda masks, outputs, rank=4, seed=0: Fit(masks, outputs, rank)  # type: ignore[attr-defined]
    monkeypatch.setattr(fastspex, "proxies", proxies, raising=False)  # first: see above
    monkeypatch.setitem(sys.modules, "fastspex.proxies", proxies)


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

    mod = types.ModuleType("fastspex.ray_backend")
    mod.make_ray_evaluator = make_ray_evaluator  # type: ignore[attr-defined]
    monkeypatch.setattr(fastspex, "ray_backend", mod, raising=False)  # first: see dense_methods
    monkeypatch.setitem(sys.modules, "fastspex.ray_backend", mod)
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
