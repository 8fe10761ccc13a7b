"""Dense transforms against their definitions on all 2^n masks."""

from __future__ import annotations

import numpy as np
import pytest

from fastspex import dense
from fastspex import masks as M


@pytest.mark.parametrize("n", [1, 4, 9])
def test_fourier_matches_definition(n: int, rng: np.random.Generator) -> None:
    x = M.exhaustive(n).to_bool().astype(np.int64)
    f = rng.normal(size=1 << n)
    F = dense.fourier_from_table(f)
    # F(S) = 2^-n Σ_x f(x) (-1)^{Σ_{i∈S} x_i}; subset S as integer bits = row of x
    chi = (-1.0) ** ((x @ x.T) % 2)
    np.testing.assert_allclose(F, chi @ f / (1 << n), atol=1e-12)
    np.testing.assert_allclose(dense.table_from_fourier(F), f, atol=1e-12)


@pytest.mark.parametrize("n", [1, 5, 10])
def test_mobius_matches_definition(n: int, rng: np.random.Generator) -> None:
    f = rng.normal(size=1 << n)
    a = dense.mobius_from_table(f)
    for s in rng.integers(0, 1 << n, 20):
        subsets = [t for t in range(1 << n) if t & s == t]
        want = sum((-1) ** (bin(s).count("1") - bin(t).count("1")) * f[t] for t in subsets)
        assert a[s] == pytest.approx(want, abs=1e-9)
    np.testing.assert_allclose(dense.table_from_mobius(a), f, atol=1e-9)


def test_large_table_uses_threads_consistently(rng: np.random.Generator) -> None:
    f = rng.normal(size=1 << 18)
    np.testing.assert_allclose(
        dense.fourier_from_table(f, n_threads=1), dense.fourier_from_table(f, n_threads=2), atol=1e-12
    )


def test_bad_tables() -> None:
    with pytest.raises(ValueError, match="2\\^n"):
        dense.fourier_from_table(np.zeros(6))
    with pytest.raises(ValueError, match="NaN"):
        dense.mobius_from_table(np.array([0.0, np.nan]))
