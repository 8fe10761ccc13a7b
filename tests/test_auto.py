"""method="auto": the choice by n, budget and index, its recorded scores, no extra model calls;
several indices of one fit."""

from __future__ import annotations

import fastspex
import numpy as np
import pytest
from fastspex import indices


def planted(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return 1.0 + x @ np.linspace(-1.0, 1.0, x.shape[1]) + 2.0 * x[:, 0] * x[:, 1]


class Counting:
    """A value function that counts the masks it is asked for."""

    def __init__(self, n: int) -> None:
        self.n, self.rows = n, 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        self.rows += len(masks)
        return planted(masks)


def test_auto_is_the_default_and_spends_no_extra_calls() -> None:
    fn = Counting(20)
    res = fastspex.explain(fn, budget=300, holdout=100, store=None, progress=False)
    auto = res.settings["auto"]
    assert res.settings["requested_method"] == "auto" and res.method in ("proxyspex", "lasso")
    assert {c["method"] for c in auto["candidates"]} == {"proxyspex", "lasso"}
    assert all(c["cv_r2"] is not None for c in auto["candidates"])
    eligible = [c for c in auto["candidates"] if c.get("eligible", True)]
    best = max(eligible, key=lambda c: c["cv_r2"])
    assert auto["chosen"] == best["method"] == res.method
    assert fn.rows <= 300 + 100  # the candidates share the masks already paid for
    assert res.faithfulness == pytest.approx(1.0, abs=1e-6)


def test_auto_chooses_exact_and_the_shapley_design_by_rule() -> None:
    res = fastspex.explain(planted, n=6, budget=64, store=None, progress=False)
    assert res.method == "exact"
    res = fastspex.explain(planted, n=10, budget=300, index="sii", store=None, progress=False)
    assert res.method == "proxyspex" and res.settings["design"] == "shapley"
    assert "Shapley" in res.settings["auto"]["reason"]


def test_several_indices_of_one_fit() -> None:
    both = fastspex.explain(planted, n=10, budget=400, index=("fbii", "sii"), store=None,
                            progress=False)
    assert list(both) == ["fbii", "sii"]
    fb, si = both["fbii"], both["sii"]
    assert fb.surrogate is si.surrogate  # one set of masks, one fit
    for name, res in both.items():
        again = indices.compute_index(res.surrogate, name, 2)
        assert res[(0, 1)] == pytest.approx(again[(0, 1)])
        assert res.settings["indices"] == ["fbii", "sii"]
        assert res.settings["index_accuracy"][name]["surrogate_r2"] == res.faithfulness
    # the planted pair: FBII of x0·x1 with weight 2 is 2·(1/4)·4 = 2 (its Möbius weight), exact here
    assert fb[(0, 1)] == pytest.approx(2.0, abs=1e-6)
    with pytest.raises(ValueError, match="twice"):
        fastspex.explain(planted, n=10, index=("sii", "sii"), store=None, progress=False)


def test_spex_says_when_it_lowers_its_degree_bound_to_the_budget() -> None:
    def fn(x):
        return np.asarray(x, dtype=np.float64) @ np.arange(16.0)

    res = fastspex.explain(fn, n=16, method="spex", budget=200, store=None, progress=False)
    assert any("max_order lowered from 5" in note for note in res.settings["notes"])
    assert res.settings["design"].startswith("spex")
    assert res.settings["fit_masks"] + res.settings["holdout_masks"] == res.settings["calls"]["total"]


def test_auto_screens_a_wide_component_set() -> None:
    from fastspex.coefficients import Coefficients
    from fastspex.synthetic import PlantedFunction

    n = 1200
    terms = {(7,): 1.0, (90,): -0.9, (400,): 0.8, (801,): -0.7, (1100,): 0.6,
             (7, 90): 0.7, (400, 801): -0.6}
    f = PlantedFunction(Coefficients.from_dict({(): 0.5, **terms}, n=n), noise=0.05, seed=1)
    res = fastspex.explain(f, n=n, budget=1000, holdout=200, store=None, progress=False)
    assert res.method == "screened"
    assert "1,200 components" in res.settings["auto"]["reason"]
    assert res.settings["design"] == "uniform"
    assert res.settings["fit_masks"] + res.settings["holdout_masks"] == 1200
    assert res.faithfulness > 0.95
    assert {p.ids for p in res.top(7)} == set(terms)
