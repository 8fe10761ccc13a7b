"""The Evaluator never keeps a view of what the value function returned, evaluates a repeated
mask once, refuses complex or grad-carrying outputs, and checks stored rows like fresh ones."""

from __future__ import annotations

import numpy as np
import pytest
from fastspex import masks as M
from fastspex.store import EvalStore, StoreError
from fastspex.value import Evaluator, ValueFunctionError

W = np.arange(1.0, 9.0)


def _truth(masks: np.ndarray) -> np.ndarray:
    return np.asarray(masks, float) @ W


def _buffer_fn(kind: str):
    """A value function that refills one preallocated buffer on every call (a common habit)."""
    if kind == "numpy":
        buf = np.zeros(64)
    else:
        torch = pytest.importorskip("torch")
        buf = torch.zeros(64, dtype=torch.float64)

    def fn(masks: np.ndarray):
        m = len(masks)
        values = _truth(masks)
        if kind == "numpy":
            buf[:m] = values
        else:
            import torch

            buf[:m] = torch.from_numpy(values)
        return buf[:m]

    return fn


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("with_store", [False, True])
def test_outputs_are_copied_from_a_reused_buffer(kind: str, with_store: bool, tmp_path) -> None:
    masks = M.bernoulli(64, 8, 0.5, seed=1).to_bool()
    store = EvalStore(tmp_path / "s.sqlite") if with_store else None
    ev = Evaluator(_buffer_fn(kind), 8, batch_size=4, store=store,
                   key="buffer" if with_store else None, progress=False)
    out = ev(masks)
    np.testing.assert_array_equal(out, _truth(masks))  # was: 41 of 64 overwritten


def test_repeated_masks_are_evaluated_once_without_a_store() -> None:
    calls: list[int] = []

    def fn(masks: np.ndarray) -> np.ndarray:
        calls.append(len(masks))
        return _truth(masks)

    ev = Evaluator(fn, 8, store=None, progress=False)
    first = M.bernoulli(50, 8, 0.5, seed=2).to_bool()
    ev(first)
    n_distinct = len({r.tobytes() for r in first})
    assert sum(calls) == n_distinct
    again = ev(first[::-1])
    np.testing.assert_array_equal(again, _truth(first[::-1]))
    assert sum(calls) == n_distinct and ev.calls == n_distinct  # no new model calls


def test_complex_outputs_are_refused() -> None:
    ev = Evaluator(lambda m: _truth(m) + 1j, 8, store=None, progress=False)
    with pytest.raises(ValueFunctionError, match="complex"):
        ev(np.ones((2, 8), bool))


def test_tensors_requiring_grad_are_refused() -> None:
    torch = pytest.importorskip("torch")
    w = torch.ones(8, dtype=torch.float64, requires_grad=True)
    ev = Evaluator(lambda m: torch.from_numpy(np.asarray(m, float)) @ w, 8, store=None,
                   progress=False)
    with pytest.raises(ValueFunctionError, match="no_grad"):
        ev(np.ones((2, 8), bool))


def test_a_corrupted_stored_row_is_an_error_naming_the_store(tmp_path) -> None:
    path = tmp_path / "s.sqlite"
    store = EvalStore(path)
    store.register("k", 8)
    row = np.ones((1, 8), bool)
    store.put("k", M.pack(row), np.array([np.nan]))
    ev = Evaluator(_truth, 8, store=store, key="k", progress=False)
    with pytest.raises(StoreError, match="s.sqlite"):
        ev(row)
