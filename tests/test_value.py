"""The evaluator: batching, counting, checks, de-duplication and store hits."""

from __future__ import annotations

import numpy as np
import pytest

from fastspex import masks as M
from fastspex.store import EvalStore
from fastspex.value import Evaluator, ModelCallError, ValueFunctionError, as_evaluator


class Recorder:
    """A value function that records every batch it is asked for."""

    def __init__(self, n: int, key: str | None = None, dim: int | None = None) -> None:
        self.n = n
        self.weights = np.arange(1, n + 1, dtype=float)
        self.batches: list[int] = []
        self.dim = dim
        if key is not None:
            self.cache_key = key

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        assert masks.dtype == np.bool_ and masks.shape[1] == self.n
        self.batches.append(len(masks))
        out = masks @ self.weights
        return out if self.dim is None else np.stack([out] * self.dim, axis=1)


def test_batches_counts_and_values() -> None:
    fn = Recorder(20)
    ev = Evaluator(fn, batch_size=16, store=None, progress=False)
    masks = M.bernoulli(100, 20, seed=1)
    out = ev(masks)
    np.testing.assert_allclose(out, masks.to_bool() @ fn.weights)
    assert ev.calls == 100 and max(fn.batches) == 16 and sum(fn.batches) == 100


def test_accepts_bool_arrays_and_vector_outputs() -> None:
    fn = Recorder(5, dim=3)
    ev = Evaluator(fn, store=None)
    b = np.eye(5, dtype=bool)
    out = ev(b)
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out[:, 2], np.arange(1, 6))


def test_duplicates_are_evaluated_once() -> None:
    fn = Recorder(8)
    ev = Evaluator(fn, store=None)
    b = np.zeros((10, 8), bool)
    b[::2, 3] = True
    out = ev(b)
    assert ev.calls == 2
    np.testing.assert_allclose(out, np.where(b[:, 3], 4.0, 0.0))


def test_store_hits_skip_the_model(tmp_path) -> None:
    store = EvalStore(tmp_path / "s.sqlite")
    masks = M.bernoulli(50, 12, seed=3)
    first = Recorder(12, key="exp-a")
    Evaluator(first, store=store)(masks[:30])
    again = Recorder(12, key="exp-a")
    ev = Evaluator(again, store=store)
    out = ev(masks)
    seen = set(masks[:30].row_bytes())
    assert ev.calls == len(set(masks.row_bytes()) - seen)
    assert ev.hits >= 1
    np.testing.assert_allclose(out, masks.to_bool() @ again.weights)
    distinct_stored = len(set(masks.row_bytes()) & seen)
    assert ev.store_hits == distinct_stored  # answered by the store
    ev(masks)  # asked again: the memo answers, not the store
    assert ev.store_hits == distinct_stored and ev.calls == len(set(masks.row_bytes()) - seen)
    assert ev.hits == distinct_stored + len(set(masks.row_bytes()))


def test_anonymous_function_is_not_stored(tmp_path) -> None:
    store = EvalStore(tmp_path / "s.sqlite")
    ev = Evaluator(Recorder(4), store=store)
    ev(np.eye(4, dtype=bool))
    assert ev.store is None and store.keys() == []


def test_nan_outputs_name_the_rows() -> None:
    def fn(m: np.ndarray) -> np.ndarray:
        out = m.sum(1).astype(float)
        out[m[:, 0] & m[:, 1]] = np.nan
        return out

    b = np.zeros((6, 3), bool)
    b[4, :2] = True
    with pytest.raises(ValueFunctionError, match="NaN or inf for mask rows 4"):
        Evaluator(fn, 3, store=None)(b)


@pytest.mark.parametrize(
    "bad",
    [lambda m: np.zeros(len(m) + 1), lambda m: np.zeros((len(m), 2, 2)), lambda m: 3.0, lambda m: ["a"] * len(m)],
)
def test_wrong_output_shapes(bad) -> None:
    with pytest.raises(ValueFunctionError):
        Evaluator(bad, 3, store=None)(np.ones((4, 3), bool))


def test_crashing_model_names_its_batch() -> None:
    def boom(m: np.ndarray) -> np.ndarray:
        if m[:, 0].any():
            raise RuntimeError("CUDA out of memory")
        return np.zeros(len(m))

    b = np.zeros((6, 2), bool)
    b[5, 0] = True
    ev = Evaluator(boom, 2, batch_size=2, store=None)
    with pytest.raises(ModelCallError, match="CUDA out of memory") as info:
        ev(b)
    assert 5 in info.value.rows
    assert isinstance(info.value.__cause__, RuntimeError)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="pass n"):
        Evaluator(lambda m: m.sum(1))
    with pytest.raises(TypeError, match="callable"):
        Evaluator(3, 2)  # type: ignore[arg-type]
    ev = Evaluator(lambda m: m.sum(1), 4, store=None)
    with pytest.raises(ValueError, match="empty"):
        ev(np.zeros((0, 4), bool))
    with pytest.raises(ValueError, match="expected 4"):
        ev(np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="batch_size"):
        Evaluator(lambda m: m.sum(1), 4, batch_size=0)
    assert as_evaluator(ev) is ev
    with pytest.raises(ValueError, match="expected 3"):
        as_evaluator(ev, 3)


def test_store_refuses_a_key_reused_with_another_n(tmp_path) -> None:
    store = EvalStore(tmp_path / "s.sqlite")
    Evaluator(Recorder(4, key="k"), store=store)
    with pytest.raises(ValueError, match="n = 4"):
        Evaluator(Recorder(5, key="k"), store=store)
