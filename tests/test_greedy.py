"""Greedy search finds planted minimal sets, on the model and on a fitted proxy."""

from __future__ import annotations

import numpy as np
import pytest
from fastspex.coefficients import Coefficients
from fastspex.greedy import greedy_search
from fastspex.value import Evaluator


def redundant_fn(n: int = 12, a: int = 3, b: int = 8, c: int = 5, seed: int = 0):
    """f = 2·(x_a OR x_b) + 1.5·x_c + small distractors: a and b only matter together.

    The smallest set whose ablation drops f by more than 2.5 is {a, b, c}; a greedy search that
    only adds single components picks distractors after c (a or b alone move nothing).
    """
    w = np.random.default_rng(seed).uniform(0.05, 0.2, n)
    w[[a, b, c]] = 0.0

    def f(masks: np.ndarray) -> np.ndarray:
        m = np.asarray(masks, dtype=float)
        either = 1 - (1 - m[:, a]) * (1 - m[:, b])
        return 2.0 * either + 1.5 * m[:, c] + m @ w

    f.n = n  # type: ignore[attr-defined]
    return f


def test_finds_planted_minimal_set() -> None:
    f = redundant_fn()
    base = float(f(np.ones((1, 12), bool))[0])
    res = greedy_search(f, threshold=base - 2.5)
    assert res.crossed and res.stop_reason == "threshold"
    assert sorted(res.minimal) == [3, 5, 8]
    assert res.steps[0].added == (5,)
    assert sorted(res.steps[1].added) == [3, 8]
    assert res.steps[1].synergy == pytest.approx(2.0)  # beyond the additive prediction of 0
    assert res.output == pytest.approx(base - 3.5)
    # Exactly: 1 + n singles, then all pairs and singles at each of the two steps, memoised.
    assert res.calls == len({frozenset()} | {frozenset((i,)) for i in range(12)}
                            | {frozenset((i, j)) for i in range(12) for j in range(i + 1, 12)}
                            | {frozenset((5, i)) for i in range(12)}
                            | {frozenset((5, i, j)) for i in range(12) for j in range(i + 1, 12)})


def test_pruning_removes_unneeded_members() -> None:
    # Additive: weights 3, 1, 1, 0.9: threshold -3.5 → greedy takes 0 then 1 (−4); both needed.
    w = np.array([3.0, 1.0, 1.0, 0.9, 0.0])
    f = lambda m: np.asarray(m, float) @ w
    res = greedy_search(f, n=5, threshold=float(w.sum()) - 3.5, pairs=False)
    assert res.minimal == [0, 1] and res.crossed
    # f = 3·x0 + 5·(x1 OR x2), drop >= 4.5 wanted: greedy takes 0 first (3 beats the pair's
    # 2.5 per component), then the pair; pruning then finds 0 unnecessary.
    def g(m: np.ndarray) -> np.ndarray:
        x = np.asarray(m, float)
        return 3.0 * x[:, 0] + 5.0 * (1 - (1 - x[:, 1]) * (1 - x[:, 2]))

    res = greedy_search(g, n=4, threshold=8.0 - 4.5)
    assert res.selected == [0, 1, 2]
    assert res.minimal == [1, 2] and res.output == pytest.approx(3.0)
    unpruned = greedy_search(g, n=4, threshold=8.0 - 4.5, prune=False)
    assert unpruned.minimal == [0, 1, 2]


def test_works_on_a_proxy_and_counts_no_model_calls() -> None:
    # The proxy's Möbius expansion plants the same OR structure: x_a + x_b − x_a x_b.
    coefs = Coefficients.from_dict({(): 0.0, (1,): 2.0, (4,): 2.0, (1, 4): -2.0, (0,): 1.5}, 6, "mobius")
    res = greedy_search(coefs, threshold=3.5 - 2.5)
    assert sorted(res.minimal) == [0, 1, 4]


def test_through_an_evaluator_and_budget() -> None:
    f = redundant_fn()
    ev = Evaluator(f, store=None, progress=False)
    res = greedy_search(ev, budget=13 + 66 + 5)
    assert res.stop_reason in ("budget", "max_size", "no_gain")
    assert res.calls <= 13 + 66 + 5
    assert ev.calls == res.calls
    with pytest.raises(ValueError, match="cannot cover"):
        greedy_search(f, budget=5)


def test_argument_errors() -> None:
    f = redundant_fn()
    with pytest.raises(ValueError, match="wrong side"):
        greedy_search(f, threshold=100.0, direction="decrease")
    with pytest.raises(ValueError, match="direction must be"):
        greedy_search(f, direction="down")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_size"):
        greedy_search(f, max_size=20)
    with pytest.raises(TypeError, match="needs a value function"):
        greedy_search(42)
    with pytest.raises(ValueError, match="pass n"):
        greedy_search(lambda m: m.sum(1))


def test_increase_direction_inferred_from_threshold() -> None:
    # Ablating 2 raises the output (it suppresses it when kept).
    f = lambda m: 1.0 - 0.8 * np.asarray(m, float)[:, 2] + 0.05 * np.asarray(m, float)[:, 0]
    res = greedy_search(f, n=4, threshold=0.9)
    assert res.direction == "increase" and res.minimal == [2] and res.crossed


def test_same_set_on_a_fitted_proxy_as_on_the_model() -> None:
    """A result with evaluate(masks) (here an exact surrogate) stands in for the model."""
    from _surface_helpers import DenseExplainer

    f = redundant_fn(n=10, a=2, b=7, c=4)
    proxy = DenseExplainer().fit(f)  # has evaluate(); not callable
    base = float(f(np.ones((1, 10), bool))[0])
    on_model = greedy_search(f, threshold=base - 2.5)
    on_proxy = greedy_search(proxy, threshold=base - 2.5, n=10)
    assert sorted(on_proxy.minimal) == sorted(on_model.minimal) == [2, 4, 7]
    assert on_proxy.output == pytest.approx(on_model.output)


def test_large_proxy_skips_pairs_by_default_and_stays_small() -> None:
    # n = 400: 79,800 candidate pairs per step exceed max_pairs, so only singles are tried.
    n = 400
    coefs = Coefficients.from_dict({(7,): 3.0, (120,): 2.0, (300,): 1.0}, n, "mobius")
    res = greedy_search(coefs, threshold=6.0 - 4.5)
    assert res.minimal == [7, 120] and res.calls == 1 + n + (n - 1)
    forced = greedy_search(coefs, threshold=6.0 - 4.5, pairs=True, max_size=2)
    assert forced.calls > n * (n - 1) // 2


def test_top_level_names() -> None:
    import fastspex
    from fastspex.greedy import GreedyResult
    from fastspex.interactions import Interactions

    assert fastspex.greedy_search is greedy_search
    assert fastspex.GreedyResult is GreedyResult
    assert fastspex.Interactions is Interactions
