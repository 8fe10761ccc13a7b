"""SPEX and ProxySPEX under large output offsets and tiny output scales.

The value function is ``f = offset + scale * g`` for one planted sparse Fourier function ``g``
(n = 10, terms of orders 1-3). The truth is known in closed form: ``F_f(S) = scale * F_g(S)``
for S non-empty and ``F_f(∅) = offset + scale * F_g(∅)``. The only error allowed is the one
float64 itself puts into the outputs (half an ulp of |f| per call), so the tolerance is a few
ulps of the output magnitude plus a tight relative tolerance on ``scale * g``.
"""

from __future__ import annotations

import numpy as np
import pytest
from fastspex import SPEX, Coefficients, indices, masks
from fastspex.proxyspex import ProxySPEX

N = 10
G_TERMS: dict[tuple[int, ...], float] = {
    (): 0.3,
    (1,): 0.9,
    (4,): -0.6,
    (0, 7): 0.75,
    (2, 5): -0.55,
    (3, 6, 9): 0.8,
}
G = Coefficients.from_dict(G_TERMS, n=N, basis="fourier")
G_BOUND = sum(abs(v) for v in G_TERMS.values())  # max |g|

# (offset, scale) pairs. Combinations whose outputs cannot hold scale*g in float64 to better
# than ~1e-4 relative (e.g. 1e12 + 1e-8*g, where an ulp of 1e12 is 1.2e-4) are left out: no
# algorithm can recover what the outputs do not contain.
CASES = [
    (0.0, 1.0), (1e8, 1.0), (1e9, 1.0), (1e12, 1.0),
    (0.0, 1e-8), (0.0, 1e-12),
    (1.0, 1e-8), (1.0, 1e-12), (1e3, 1e-8),
]


def _f(offset: float, scale: float):
    def value(x: np.ndarray) -> np.ndarray:
        # g in float64 first, then one scaling and one addition: exactly what a model with an
        # offset output would hand over (no extra rounding from the way the test builds f).
        return offset + scale * indices.evaluate(G, x)

    return value


def _tolerance(offset: float, scale: float) -> float:
    # Each output carries up to half an ulp of |f|; least squares / transforms over hundreds
    # of masks keep the coefficient error within a few of those.
    ulp = float(np.spacing(abs(offset) + scale * G_BOUND))
    return 1e-9 * scale + 16.0 * ulp


def _check_terms(coefs: Coefficients, offset: float, scale: float) -> None:
    tol = _tolerance(offset, scale)
    got = coefs.to_dict()
    for s, v in G_TERMS.items():
        want = scale * v + (offset if s == () else 0.0)
        assert s in got, f"term {s} of g was not recovered (offset {offset}, scale {scale})"
        assert abs(got[s] - want) <= tol, (s, got[s], want, tol)
    extra = {s: v for s, v in got.items() if s not in G_TERMS and abs(v) > tol}
    assert not extra, f"spurious terms {extra}"


def _brute_force_r2(coefs: Coefficients, offset: float, scale: float) -> float:
    every = masks.exhaustive(N)
    y = _f(offset, scale)(every.to_bool())
    pred = indices.evaluate(coefs, every)
    return 1.0 - float(np.sum((y - pred) ** 2)) / float(np.sum((y - y.mean()) ** 2))


@pytest.mark.parametrize(("offset", "scale"), CASES)
def test_spex_offset_and_scale(offset: float, scale: float) -> None:
    res = SPEX(b=5, max_order=3, holdout=400).fit(_f(offset, scale), N, store=None, progress=False)
    _check_terms(res.coefficients, offset, scale)
    # g is noiseless and recovered exactly: every R² is 1 up to the outputs' rounding.
    assert res.diagnostics["train_r2"] == pytest.approx(1.0, abs=1e-6)
    assert res.r2 is not None and res.r2 == pytest.approx(1.0, abs=1e-6)
    assert _brute_force_r2(res.coefficients, offset, scale) == pytest.approx(1.0, abs=1e-6)
    assert res.diagnostics["tss"] > 0 and res.diagnostics["rss"] >= 0
    assert res.diagnostics["rss"] <= 1e-6 * res.diagnostics["tss"]


@pytest.mark.slow
@pytest.mark.parametrize(("offset", "scale"), CASES)
def test_proxyspex_offset_and_scale(offset: float, scale: float) -> None:
    pytest.importorskip("lightgbm")
    res = ProxySPEX(600, seed=0, holdout=400).fit(_f(offset, scale), N, store=None)
    _check_terms(res.coefficients, offset, scale)
    assert res.r2 is not None and res.r2 == pytest.approx(1.0, abs=1e-6)
    assert res.settings["refit_cv_r2"] == pytest.approx(1.0, abs=1e-6)
    assert _brute_force_r2(res.coefficients, offset, scale) == pytest.approx(1.0, abs=1e-6)
    assert res.baseline == pytest.approx(offset + scale * float(indices.evaluate(G, np.ones((1, N), bool))[0]),
                                         abs=_tolerance(offset, scale))
