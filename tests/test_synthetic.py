"""Planted functions: their expansion is what they compute, noise is seeded and sized."""

import numpy as np
import pytest

from fastspex import dense, masks, synthetic


def test_planted_function_equals_its_expansion_on_every_mask():
    f = synthetic.planted(10, 12, max_order=4, constant=0.3, seed=3)
    table = dense.fourier_from_table(f(masks.exhaustive(10)))
    truth = f.coefficients.to_dict()
    assert len([s for s in truth if s]) == 12
    expected = np.zeros(1 << 10)
    for support, value in truth.items():
        expected[sum(1 << i for i in support)] = value
    np.testing.assert_allclose(table, expected, atol=1e-12)


def test_noise_is_seeded_and_has_the_asked_spread():
    a = synthetic.planted(30, 5, noise=0.5, seed=7)
    b = synthetic.planted(30, 5, noise=0.5, seed=7)
    x = np.random.default_rng(0).random((4000, 30)) < 0.5
    ra, rb = a(x) - a.exact(x), b(x) - b.exact(x)
    np.testing.assert_array_equal(ra, rb)
    assert ra.std() == pytest.approx(0.5, rel=0.05)


def test_top_orders_by_magnitude_and_bad_arguments_are_refused():
    f = synthetic.planted(8, 6, max_order=2, seed=1)
    mags = [abs(f.coefficients.to_dict()[s]) for s in f.top(6)]
    assert mags == sorted(mags, reverse=True)
    with pytest.raises(ValueError, match="exceeds"):
        synthetic.planted(4, 20, max_order=1)
    with pytest.raises(ValueError, match="noise"):
        synthetic.planted(4, 2, noise=float("nan"))
    with pytest.raises(ValueError, match="max_order"):
        synthetic.planted(4, 2, max_order=5)
