"""The Bernoulli design (keep = p): indices from the recovered function in the ±1 basis, checked
against brute force over all 2ⁿ masks; held-out masks of the same design; clear refusals."""

from __future__ import annotations

import itertools
import math

import fastspex
import numpy as np
import pytest
from fastspex.explainers.proxyspex import ProxySPEX
from fastspex.explainers.result import measure_faithfulness
from fastspex.explainers.sparse_polynomial import SparsePolynomial

N = 8


def planted(x: np.ndarray) -> np.ndarray:
    """A degree-2 game with an offset: main effects and two pairs (Möbius form)."""
    x = np.asarray(x, dtype=np.float64)
    return (3.0 + x @ np.linspace(-1.0, 1.5, N) + 2.0 * x[:, 0] * x[:, 1]
            - 1.25 * x[:, 2] * x[:, 5])


def _all_masks(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)))


def brute_banzhaf(fn, n: int) -> np.ndarray:
    """Banzhaf values straight from the definition: mean marginal over all 2^(n-1) coalitions."""
    x = _all_masks(n)
    out = np.empty(n)
    for i in range(n):
        rest = x[~x[:, i]]
        with_i = rest.copy()
        with_i[:, i] = True
        out[i] = float(np.mean(fn(with_i) - fn(rest)))
    return out


def brute_shapley(fn, n: int) -> np.ndarray:
    """Shapley values straight from the definition (coalition weights |S|!(n-|S|-1)!/n!)."""
    x = _all_masks(n)
    out = np.zeros(n)
    for i in range(n):
        rest = x[~x[:, i]]
        with_i = rest.copy()
        with_i[:, i] = True
        s = rest.sum(axis=1)
        w = np.array([math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in s])
        out[i] = float(w @ (fn(with_i) - fn(rest)))
    return out


def test_bernoulli_design_indices_match_brute_force() -> None:
    res = ProxySPEX(600, design="bernoulli", keep=0.9, seed=1).fit(planted, N, store=None,
                                                                 progress=False)
    bv = res.index("bii", order=1)
    sv = fastspex.indices.shapley_values(res.coefficients)
    np.testing.assert_allclose([bv[(i,)] for i in range(N)], brute_banzhaf(planted, N), atol=1e-6)
    np.testing.assert_allclose(sv, brute_shapley(planted, N), atol=1e-6)
    # the expansion is the function itself on every mask (standard ±1 basis, not the p-biased one)
    x = _all_masks(N)
    np.testing.assert_allclose(res.evaluate(x), planted(x), atol=1e-6)
    assert res.settings["design"] == "bernoulli(keep=0.9)"


def test_held_out_masks_follow_the_design() -> None:
    seen: list[np.ndarray] = []

    def fn(m):
        seen.append(np.asarray(m.to_bool() if hasattr(m, "to_bool") else m))
        return planted(seen[-1])

    def predict(m):
        return planted(m.to_bool())

    r2, drawn = measure_faithfulness(fn, predict, N, 2000, 0, keep=0.9)
    assert drawn == 2000 and r2 == pytest.approx(1.0)
    assert abs(float(seen[0].mean()) - 0.9) < 0.01
    seen.clear()
    measure_faithfulness(fn, predict, N, 2000, 0)
    assert abs(float(seen[0].mean()) - 0.5) < 0.01


def test_explain_records_the_design_and_the_calls() -> None:
    res = fastspex.explain(planted, n=N, method="proxyspex", keep=0.9, budget=200, holdout=100,
                           store=None, progress=False)
    s = res.settings
    assert s["design"] == "bernoulli(keep=0.9)" and "keep=0.9" in s["design_reason"]
    # n = 8 at keep = 0.9: the design's masks are drawn without replacement, and beyond the
    # 127 found the rest are too improbable to draw (6 ablated: p < 10⁻⁶), so fewer than asked
    assert 100 < s["fit_masks"] <= 200 and s["holdout_masks"] == 100
    c = s["calls"]
    assert c["total"] == c["new"] + c["from_store"] + c.get("reused", 0)
    assert c["from_store"] == 0  # store=None: nothing can come from a store
    assert c["new"] == res.calls


def test_spex_and_bad_keep_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="method='spex' samples its own masks and cannot use keep=0.9"):
        fastspex.explain(planted, n=N, method="spex", keep=0.9, store=None, progress=False)
    with pytest.raises(ValueError, match="keep must lie strictly between 0 and 1"):
        ProxySPEX(100, keep=1.0)
    with pytest.raises(ValueError, match="needs keep=P"):
        ProxySPEX(100, design="bernoulli")
    with pytest.raises(ValueError, match="applies to design='bernoulli' only"):
        SparsePolynomial(100, design="uniform", keep=0.8)
