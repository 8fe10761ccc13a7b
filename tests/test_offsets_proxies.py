"""Both proxies under large offsets and tiny scales, the memory guard, and refused outputs.

Every expectation is the planted polynomial itself (its Möbius coefficients, scaled, with the
offset on the intercept), never the code's own output.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fastspex import _core, errors, proxies
from fastspex import masks as M

N_POLY = 10
N_FM = 8
# g = 0.5 + x0 - 0.7 x3 + 2 x1x2 - 1.5 x4x7 (Möbius basis)
PLANTED = {(): 0.5, (0,): 1.0, (3,): -0.7, (1, 2): 2.0, (4, 7): -1.5}


def planted_poly(X: np.ndarray) -> np.ndarray:
    Xf = X.astype(float)
    out = np.zeros(len(X))
    for s, v in PLANTED.items():
        out += v * (Xf[:, list(s)].prod(axis=1) if s else 1.0)
    return out


def planted_fm() -> tuple[float, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return 0.3, rng.normal(size=N_FM), rng.normal(size=(N_FM, 2))  # exactly rank 2


def fm_value(X: np.ndarray, w0: float, w: np.ndarray, U: np.ndarray) -> np.ndarray:
    Xf = X.astype(float)
    Q = Xf @ U
    return w0 + Xf @ w + 0.5 * ((Q**2).sum(1) - Xf @ (U**2).sum(1))


def _cases() -> list[tuple[float, float]]:
    # float64 holds offset + scale·g only to spacing(offset): keep the combinations where that
    # leaves g at least three digits, plus the 1 + 1e-8·g.
    grid = [(o, s) for o, s in itertools.product([0.0, 1e8, 1e9, 1e12], [1.0, 1e-8, 1e-12])
            if np.spacing(o) / s <= 1e-3]
    return [*grid, (1.0, 1e-8)]


def _tolerance(offset: float, scale: float, base: float) -> float:
    """In units of g: ``base`` plus the rounding of the inputs (a few ulps of the offset)."""
    return base + 4 * float(np.spacing(offset)) / scale


@pytest.mark.parametrize(("offset", "scale"), _cases())
def test_sparse_polynomial_recovers_planted_terms_under_offset_and_scale(offset: float, scale: float) -> None:
    X = M.exhaustive(N_POLY)
    y = offset + scale * planted_poly(X.to_bool())
    res = proxies.fit_sparse_polynomial(X, y, seed=0)
    got = res.coefficients.to_dict()
    assert set(got) == set(PLANTED)
    tol = _tolerance(offset, scale, 1e-6)
    assert (got[()] - offset) / scale == pytest.approx(PLANTED[()], abs=tol)
    for s, v in PLANTED.items():
        if s:
            assert got[s] / scale == pytest.approx(v, abs=tol), s


@pytest.mark.parametrize(("offset", "scale"), _cases())
def test_factorization_machine_recovers_planted_pairs_under_offset_and_scale(offset: float, scale: float) -> None:
    w0, w, U = planted_fm()
    X = M.exhaustive(N_FM)
    y = offset + scale * fm_value(X.to_bool(), w0, w, U)
    res = proxies.fit_factorization_machine(X, y, rank=2, seed=0)
    tol = _tolerance(offset, scale, 1e-3)
    iu = np.triu_indices(N_FM, 1)
    np.testing.assert_allclose((res.V @ res.V.T)[iu] / scale, (U @ U.T)[iu], atol=tol, rtol=0)
    np.testing.assert_allclose(res.w / scale, w, atol=tol, rtol=0)
    assert (res.w0 - offset) / scale == pytest.approx(w0, abs=tol)


def _no_core_call(*args: object, **kwargs: object) -> None:
    msg = "the core was called: the memory estimate did not fire before the allocation"
    raise AssertionError(msg)


def test_sparse_polynomial_refuses_ten_million_components_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    n, m = 10**7, 20
    X = M.PackedMasks(np.random.default_rng(0).integers(0, 2**63, size=(m, (n + 63) // 64), dtype=np.uint64), n)
    y = np.arange(m, dtype=float)
    # whatever this machine has, pretend it has 16 GB, and fail loudly if the core is reached
    monkeypatch.setattr(errors, "available_memory", lambda: 16 * 10**9)
    monkeypatch.setattr(_core, "poly_path", _no_core_call)
    monkeypatch.setattr(_core, "poly_cv_mse", _no_core_call)
    with pytest.raises(errors.MemoryLimitError, match=r"(?s)fit_sparse_polynomial needs about \d+(\.\d+)? GB.*fewer components.*method=\"spex\"") as info:
        proxies.fit_sparse_polynomial(X, y)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, MemoryError)


def test_factorization_machine_refuses_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    n, m = 10**6, 50
    X = M.PackedMasks(np.random.default_rng(0).integers(0, 2**63, size=(m, (n + 63) // 64), dtype=np.uint64), n)
    y = np.arange(m, dtype=float)
    # the FM needs n·rank embeddings twice plus the kept-bit index: far more than 10 MB
    monkeypatch.setattr(errors, "available_memory", lambda: 10 * 10**6)
    monkeypatch.setattr(_core, "fm_fit", _no_core_call)
    with pytest.raises(errors.MemoryLimitError, match=r"fit_factorization_machine needs about \d+(\.\d+)? GB.*fewer components") as info:
        proxies.fit_factorization_machine(X, y)
    assert "\n" not in str(info.value)


def test_memory_estimates_grow_with_what_is_allocated(monkeypatch: pytest.MonkeyPatch) -> None:
    # the estimates are plain arithmetic on the sizes: more components or masks never need less
    small = proxies.sparse_polynomial_memory(1000, 100)
    assert proxies.sparse_polynomial_memory(2000, 100) > small
    assert proxies.sparse_polynomial_memory(1000, 200) > small
    # at the size the pair scan alone (m·n floats, 64-row tiles of n floats per thread,
    # a pool of 32n pairs with two doubles each) is tens of GB
    assert proxies.sparse_polynomial_memory(10**7, 20, n_threads=2) > 24e9
    fm = proxies.factorization_machine_memory(10**6, 50, rank=8)
    assert fm >= 2 * 10**6 * 8 * 8  # at least the embeddings and their best-epoch copy


class FakeGradTensor:
    """Behaves like a torch tensor with requires_grad=True: numpy conversion raises."""

    __module__ = "torch"
    requires_grad = True
    shape = (6,)

    def __array__(self, *args: object, **kwargs: object) -> np.ndarray:
        msg = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
        raise RuntimeError(msg)

    def detach(self) -> FakeGradTensor:
        return self


FITS = [proxies.fit_sparse_polynomial, proxies.fit_factorization_machine]


@pytest.mark.parametrize("fit", FITS)
def test_vector_outputs_are_refused_with_the_fix(fit: object) -> None:
    X = M.bernoulli(40, 6, seed=0)
    y = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(ValueError, match=r"y has shape \(40, 3\).*one output per mask.*y\[:, k\]") as info:
        fit(X, y)  # type: ignore[operator]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("fit", FITS)
def test_complex_outputs_are_refused_with_the_fix(fit: object) -> None:
    X = M.bernoulli(40, 6, seed=0)
    y = np.random.default_rng(0).normal(size=40) * (1 + 1j)
    with pytest.raises(TypeError, match=r"y is complex.*real.*y\.real") as info:
        fit(X, y)  # type: ignore[operator]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("fit", FITS)
def test_tensors_requiring_grad_are_refused_with_the_fix(fit: object) -> None:
    X = M.bernoulli(6, 4, seed=0)
    with pytest.raises(TypeError, match=r"y is a torch tensor that requires grad.*detach\(\)") as info:
        fit(X, FakeGradTensor())  # type: ignore[operator]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("fit", FITS)
def test_real_torch_tensor_requiring_grad_is_refused(fit: object) -> None:
    torch = pytest.importorskip("torch", reason="torch is optional")
    X = M.bernoulli(6, 4, seed=0)
    y = torch.randn(6, requires_grad=True)
    with pytest.raises(TypeError, match="requires grad"):
        fit(X, y)  # type: ignore[operator]
