"""The exact path: a budget that covers all 2ⁿ masks returns the exact transform, measured."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fastspex import explain
from fastspex.exact import Exact


def _planted(n: int, seed: int = 0):
    """A random set function given by its Möbius terms, and its brute-force truth table."""
    rng = np.random.default_rng(seed)
    terms = {(): 0.3}
    for size in (1, 2, 3):
        for s in itertools.combinations(range(n), size):
            if rng.random() < 0.5:
                terms[s] = float(rng.normal())

    def f(masks: np.ndarray) -> np.ndarray:
        x = np.asarray(masks, bool)
        return np.array([sum(v for s, v in terms.items() if x[r, list(s)].all()) for r in range(len(x))])

    return f, terms


def _brute_sii_pairs(f, n: int) -> dict[tuple[int, int], float]:
    """Shapley interaction of every pair by its definition over all coalitions."""
    from math import factorial

    out = {}
    for i, j in itertools.combinations(range(n), 2):
        rest = [k for k in range(n) if k not in (i, j)]
        total = 0.0
        for size in range(len(rest) + 1):
            w = factorial(size) * factorial(n - size - 2) / factorial(n - 1)
            for T in itertools.combinations(rest, size):
                x = np.zeros((4, n), bool)
                x[:, list(T)] = True
                x[1, i] = x[3, i] = True
                x[2, j] = x[3, j] = True
                v = f(x)
                total += w * (v[3] - v[1] - v[2] + v[0])
        out[(i, j)] = total
    return out


@pytest.mark.parametrize("method", ["proxyspex", "spex", "fm", "lasso"])
def test_budget_covering_all_masks_is_exact(method: str) -> None:
    n = 6
    f, _ = _planted(n)
    calls = []

    def counted(masks: np.ndarray) -> np.ndarray:
        calls.append(len(masks))
        return f(masks)

    res = explain(counted, n=n, method=method, budget=5000, index="sii", store=None, progress=False)
    assert res.method == "exact"
    assert res.settings["requested_method"] == method
    assert sum(calls) == 2**n == res.calls  # every mask once, no hold-out on top
    truth = _brute_sii_pairs(f, n)
    for pair, value in truth.items():
        assert res[pair] == pytest.approx(value, abs=1e-10)
    assert res.faithfulness == pytest.approx(1.0, abs=1e-12)


def test_exact_faithfulness_is_computed() -> None:
    # A constant function has no variance to explain: R² is undefined, reported as None.
    res = Exact().fit(lambda m: np.full(len(m), 2.0), n=3, store=None)
    assert res.r2 is None and res.calls == 8
    assert res.evaluate(np.ones((1, 3), bool))[0] == pytest.approx(2.0)


def test_exact_refuses_a_budget_below_two_to_the_n() -> None:
    with pytest.raises(ValueError, match="needs a budget of 64"):
        Exact(budget=63).fit(lambda m: m.sum(1).astype(float), n=6, store=None)
    with pytest.raises(ValueError, match="budget >= 64"):
        explain(lambda m: m.sum(1).astype(float), n=6, method="exact", budget=10, store=None)


def test_single_component_clamps_the_default_order() -> None:
    # f(x) = 1 + 2x: the one component's FBII of order 1 is its main effect, 2.
    res = explain(lambda m: 1 + 2.0 * np.asarray(m)[:, 0], n=1, store=None, progress=False)
    assert res.order == 1
    assert res[(0,)] == pytest.approx(2.0)
    assert any("order lowered" in note for note in res.settings["notes"])
    with pytest.raises(ValueError, match="order = 2 exceeds"):
        explain(lambda m: np.asarray(m)[:, 0] * 1.0, n=1, order=2, store=None)


@pytest.mark.parametrize("method", ["fm", "lasso"])
def test_vector_outputs_are_explained_output_by_output_by_every_method(method: str) -> None:
    # issue 16: (m, d) outputs are fitted one by one on the same masks (fastspex.multi_output)
    from fastspex.multi_output import outputs

    def vec(m: np.ndarray) -> np.ndarray:
        return np.column_stack([m.sum(1), m[:, 0]]).astype(float)

    res = explain(vec, n=12, method=method, budget=300, store=None, progress=False)
    per = outputs(res)
    assert list(per) == ["output 0", "output 1"]
    assert per["output 1"][(0,)] == pytest.approx(1.0, abs=0.05)
