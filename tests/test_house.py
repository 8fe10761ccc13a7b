"""The house: one explainer contract, a registry a user can extend, old module names, public names."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import fastspex
import numpy as np
import pytest
from fastspex import explainers, indices
from fastspex import masks as M
from fastspex.coefficients import Coefficients
from fastspex.explainers.result import Explanation, r_squared

ROOT = Path(__file__).resolve().parents[1]


def _table(fn, n: int) -> np.ndarray:
    return np.asarray(fn(M.exhaustive(n).to_bool()), dtype=float)


def _planted(n: int = 6):
    terms = {(): 0.3, (0,): 1.0, (1,): -0.5, (2, 3): 2.0, (1, 4): -1.25, (5,): 0.7}
    coefs = Coefficients.from_dict(terms, n, "mobius")
    return (lambda m: indices.evaluate(coefs, m)), coefs


@pytest.mark.parametrize("method", explainers.available())
def test_every_builtin_explainer_has_the_one_contract(method: str) -> None:
    cls = explainers.get(method)
    params = inspect.signature(cls).parameters
    for name in ("seed", "n_threads", "progress", "holdout"):
        assert name in params, f"{method} lacks {name}="
    assert next(iter(params)) == "budget"
    assert params["seed"].default == 0
    fit = inspect.signature(cls.fit).parameters
    assert list(fit)[:3] == ["self", "fn", "n"]
    for name in ("store", "key", "progress"):
        assert fit[name].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("method", ["proxyspex", "fm", "lasso", "greedy", "exact"])
def test_every_explainer_returns_one_result_type_that_matches_brute_force(method: str) -> None:
    fn, truth = _planted()
    n = truth.n
    budget = {"exact": 64, "greedy": 200}.get(method, 60)
    holdout = 0 if method in ("greedy", "exact") else 40
    res = explainers.get(method)(budget, seed=0, holdout=holdout).fit(fn, n, store=None, progress=False)
    assert isinstance(res, Explanation)
    assert res.n == n and res.calls <= budget + holdout
    assert res.baseline == pytest.approx(float(fn(np.ones((1, n), bool))[0]))
    table = _table(fn, n)
    if method == "greedy":
        # its expansion is exact on every mask with at most two ablated components it measured
        ablation = indices.compute_index(res.coefficients, "ablation", 2).to_dict()
        brute = indices.compute_index(truth, "ablation", 2).to_dict()
        for s, v in ablation.items():
            assert v == pytest.approx(brute.get(s, 0.0), abs=1e-9)
        assert res.diagnostics["greedy"].summary()["stop_reason"]
        return
    # the planted function has degree 2: every method recovers it on all 2^n masks
    assert np.max(np.abs(res.evaluate(M.exhaustive(n)) - table)) < 1e-3
    if holdout:
        assert res.faithfulness == pytest.approx(1.0, abs=1e-6)
        assert res.r2 == res.faithfulness


def test_a_registered_explainer_is_used_by_explain(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}

    class Mine:
        def __init__(self, budget, *, seed=0, n_threads=None, progress=None, holdout=0, scale=1.0):
            seen.update(budget=budget, seed=seed, holdout=holdout, scale=scale)

        def fit(self, fn, n=None, *, store="default", key=None, progress=None):
            table = _table(fn, fn.n)
            from fastspex.explainers.exact import dense_coefficients

            coefs = dense_coefficients(table, fn.n)
            return Explanation(coefficients=coefs, n=fn.n, calls=len(table), baseline=table[-1],
                               faithfulness=1.0)

    monkeypatch.setattr(explainers, "_REGISTERED", {})
    explainers.register("mine", Mine)
    assert "mine" in explainers.available()
    fn, truth = _planted()
    res = fastspex.explain(fn, n=6, method="mine", budget=50, index="mobius", scale=2.0,
                           progress=False, store=None)
    assert res.method == "mine" and seen == {"budget": 50, "seed": 0, "holdout": 64, "scale": 2.0}
    for s, v in indices.to_mobius(truth).to_dict().items():
        assert res[tuple(str(i) for i in s)] == pytest.approx(v, abs=1e-12) if s else True
    with pytest.raises(TypeError, match="unknown option.*colour.*accepts: scale"):
        fastspex.explain(fn, n=6, method="mine", budget=50, colour="red", progress=False, store=None)
    with pytest.raises(ValueError, match="exists already"):
        explainers.register("proxyspex", Mine)
    with pytest.raises(ValueError, match="method must be one of .*mine"):
        fastspex.explain(fn, n=6, method="theirs", progress=False, store=None)


def test_r_squared_against_its_definition() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=50), rng.normal(size=50)
    assert r_squared(y, p) == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))
    assert r_squared(y, y) == 1.0
    assert r_squared(np.full(5, 1e12), np.zeros(5)) is None  # nothing to explain: no number
    assert r_squared(1e12 + y, 1e12 + y) == pytest.approx(1.0)


def test_explain_is_always_the_function() -> None:
    code = ("import fastspex, fastspex.api, fastspex.explainers, fastspex.results; "
            "import inspect; assert inspect.isfunction(fastspex.explain), fastspex.explain; "
            "from fastspex import explain; assert inspect.isfunction(explain)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_old_module_names_are_the_moved_modules() -> None:
    from fastspex import _aliases

    for old, new in _aliases.MOVED.items():
        assert importlib.import_module(f"fastspex.{old}") is importlib.import_module(f"fastspex.{new}")
        assert getattr(fastspex, old) is importlib.import_module(f"fastspex.{new}")
    from fastspex.proxies import fit_factorization_machine, fit_sparse_polynomial  # split in two
    from fastspex.explainers.factorization_machine import fit_factorization_machine as fm
    from fastspex.explainers.sparse_polynomial import fit_sparse_polynomial as sp

    assert fit_factorization_machine is fm and fit_sparse_polynomial is sp
    from fastspex.store import EvalStore  # a moved module keeps its own spec and name

    assert EvalStore.__module__ == "fastspex.evaluation.store"
    assert fastspex.store.__spec__.name == "fastspex.evaluation.store"


def test_all_lists_every_public_name_and_each_resolves() -> None:
    for name in fastspex.__all__:
        assert getattr(fastspex, name) is not None, name
    for name in ("explain", "ProxySPEX", "SPEX", "Interactions", "Exact", "greedy_search"):
        assert name in fastspex.__all__


def _documented_names() -> set[str]:
    """``fastspex.X`` / ``fastspex.X.Y`` spelled in the README, docs and docstrings."""
    found: set[str] = set()
    files = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("python/fastspex/**/*.py")]
    for path in files:
        for m in re.finditer(r"(?<![\w.])fastspex((?:\.[A-Za-z_]\w*)+)", path.read_text()):
            found.add("fastspex" + m.group(1))
    return found


def test_every_name_the_docs_use_exists() -> None:
    missing = []
    for dotted in sorted(_documented_names()):
        parts = dotted.split(".")
        obj: object = fastspex
        for i, part in enumerate(parts[1:], start=1):
            if part in ("py", "json", "sqlite", "interactions"):  # file names and the JSON schema id
                break
            try:
                obj = getattr(obj, part)
            except AttributeError:
                try:
                    obj = importlib.import_module(".".join(parts[: i + 1]))
                except ImportError:
                    missing.append(dotted)
                    break
    assert not missing, missing


@pytest.mark.parametrize("n", [1, 5, 63, 64, 65, 130])
def test_packed_complement_is_the_bitwise_not_of_every_mask(n: int) -> None:
    design = M.bernoulli(17, n, 0.5, seed=n)
    assert np.array_equal(design.complement().to_bool(), ~design.to_bool())
    assert design.complement().complement() == design  # padding bits stay clear


def test_antithetic_design_is_complementary_pairs_without_unpacking() -> None:
    from fastspex.explainers.proxyspex import ProxySPEX

    drawn = ProxySPEX(budget=41, seed=3)._sample(70, 5)  # noqa: SLF001 - the design itself
    x = drawn.to_bool()
    assert x[0].all()  # the all-kept mask first
    half = len(x[1:]) // 2
    assert np.array_equal(x[1 : 1 + half], ~x[1 + half : 1 + 2 * half])
