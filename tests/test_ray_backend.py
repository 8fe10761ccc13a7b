"""Ray backend: results equal the in-process path, stream into the store, survive killed actors."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fastspex.masks import as_packed, unique
from fastspex.store import EvalStore
from fastspex.synthetic import PlantedFunction, planted
from fastspex.value import Evaluator, ModelCallError, ValueFunctionError, as_evaluator

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'fastspex[ray]')")
from fastspex.ray_backend import (  # noqa: E402
    Factory,
    RayEvaluator,
    WorkerLostError,
    evaluator_for,
    make_ray_evaluator,
)

N = 10


@pytest.fixture(scope="module", autouse=True)
def _ray_cluster() -> Iterator[None]:
    """A 2-CPU local cluster whose workers import fastspex and this module by absolute path."""
    here = Path(__file__).resolve().parent
    package_root = Path(__import__("fastspex").__file__).resolve().parents[1]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(package_root), str(here), *(filter(None, [old]))])
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as err:  # noqa: BLE001 - any start-up failure means: skip, saying why
        pytest.skip(f"Ray cannot start a local cluster here: {type(err).__name__}: {err}")
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    yield
    ray.shutdown()


@pytest.fixture
def truth() -> PlantedFunction:
    return planted(N, 12, max_order=3, seed=7)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EvalStore]:
    s = EvalStore(tmp_path / "evals.sqlite")
    yield s
    s.close()


def _masks(rng: np.random.Generator, m: int) -> np.ndarray:
    masks = rng.random((m, N)) < 0.5
    return np.concatenate([masks, masks[: m // 4]])  # duplicates must be evaluated once


def _distinct(masks: np.ndarray) -> int:
    return len(unique(as_packed(masks))[0])


class Slow:
    """A planted function that takes ``delay`` seconds per batch (picklable)."""

    def __init__(self, fn: PlantedFunction, delay: float) -> None:
        self.fn = fn
        self.delay = delay
        self.n = fn.n

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        time.sleep(self.delay)
        return self.fn(masks)


class KillsItself:
    """Sends SIGKILL to its own process on every call: a worker that always dies."""

    n = N

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


class FailsOnEmptyMask:
    """Raises on any batch holding the all-ablated mask: a model crash on one batch."""

    def __init__(self, fn: PlantedFunction) -> None:
        self.fn = fn
        self.n = fn.n

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        if (~masks.any(axis=1)).any():
            raise RuntimeError("boom on the empty mask")
        return self.fn(masks)


class Returns:
    """Returns a fixed kind of bad output."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.n = N

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        if self.kind == "nan":
            return np.full(len(masks), np.nan)
        return np.zeros(len(masks) + 1)


def test_matches_in_process_and_is_an_evaluator(truth: PlantedFunction, store: EvalStore, rng: np.random.Generator) -> None:
    masks = _masks(rng, 200)
    ev = make_ray_evaluator(truth, workers=2, store=store, key="k", batch_size=16, progress=False)
    try:
        assert isinstance(ev, Evaluator)
        assert as_evaluator(ev) is ev
        assert len(set(ev.worker_pids())) == 2
        assert os.getpid() not in ev.worker_pids()
        np.testing.assert_allclose(ev(masks), truth.exact(masks), atol=1e-12)
        distinct = _distinct(masks)
        assert ev.calls == distinct
        assert store.count("k") == distinct
        spent = ev.model_seconds
        assert spent > 0  # the pool's time counts as model time (several-output timings read it)
        again = ev(masks[::-1])  # everything comes from the store now
        assert ev.calls == distinct and ev.model_seconds == spent
        np.testing.assert_allclose(again, truth.exact(masks[::-1]), atol=1e-12)
        np.testing.assert_allclose(ev.fn(masks[:5]), truth.exact(masks[:5]), atol=1e-12)
        assert ev.restarts == 0
    finally:
        ev.shutdown()


def test_factory_builds_the_function_in_the_actor(rng: np.random.Generator) -> None:
    masks = _masks(rng, 40)
    want = planted(N, 12, max_order=3, seed=7).exact(masks)
    ev = make_ray_evaluator(Factory(planted, (N, 12), {"max_order": 3, "seed": 7}), N, workers=1, store=None)
    try:
        np.testing.assert_allclose(ev(masks), want, atol=1e-12)
    finally:
        ev.shutdown()
    with pytest.raises(ValueError, match="pass n"):
        make_ray_evaluator(Factory(planted, (N, 12)), workers=1, store=None)


def test_a_factory_that_fails_is_a_clear_error() -> None:
    with pytest.raises(WorkerLostError, match="could not build"):
        make_ray_evaluator(Factory(planted, (N, 10_000)), N, workers=1, store=None)


@pytest.mark.slow
def test_bad_outputs_and_model_errors_are_reported(truth: PlantedFunction, store: EvalStore) -> None:
    masks = np.ones((3, N), bool)
    masks[1, :3] = False
    for kind, err in [("nan", "NaN"), ("shape", "shape")]:
        ev = make_ray_evaluator(Returns(kind), workers=1, store=None)
        try:
            with pytest.raises(ValueFunctionError, match=err):
                ev(masks)
        finally:
            ev.shutdown()
    with pytest.raises(ValueError, match="workers"):
        make_ray_evaluator(truth, workers=0, store=None)
    with pytest.raises(TypeError, match="callable"):
        make_ray_evaluator(42, N, workers=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend"):
        evaluator_for(truth, backend="gpu")  # type: ignore[arg-type]
    assert type(evaluator_for(truth, store=None)) is Evaluator


@pytest.mark.slow
def test_interrupted_run_resumes_without_repeating_stored_calls(truth: PlantedFunction, store: EvalStore, rng: np.random.Generator) -> None:
    masks = _masks(rng, 160)
    masks[70] = False  # the batch holding this mask crashes the model
    distinct = _distinct(masks)
    ev = make_ray_evaluator(FailsOnEmptyMask(truth), workers=2, store=store, key="k", batch_size=8)
    try:
        with pytest.raises(ModelCallError, match="boom") as info:
            ev(masks)
        assert 70 in info.value.rows
    finally:
        ev.shutdown()
    stored = store.count("k")
    # Every other batch finished (batches already sent are drained) and was stored.
    assert 0 < stored <= distinct - 1
    assert stored == ev.calls
    resumed = evaluator_for(truth, backend="ray", workers=2, store=store, key="k", batch_size=8)
    try:
        assert isinstance(resumed, RayEvaluator)
        np.testing.assert_allclose(resumed(masks), truth.exact(masks), atol=1e-12)
        assert resumed.calls == distinct - stored  # no stored mask went to the model again
        assert resumed.hits == stored
    finally:
        resumed.shutdown()


@pytest.mark.slow
def test_killed_actor_loses_nothing_and_its_batches_are_retried(truth: PlantedFunction, store: EvalStore, rng: np.random.Generator) -> None:
    masks = _masks(rng, 240)
    distinct = _distinct(masks)
    ev = make_ray_evaluator(Slow(truth, 0.1), workers=2, store=store, key="k", batch_size=8)
    victim = ev.worker_pids()[0]
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["values"] = ev(masks)
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            out["error"] = err

    watcher = EvalStore(store.path)  # a second connection sees batches as they are stored
    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while watcher.count("k") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        streamed = watcher.count("k")
        assert 0 < streamed < distinct, "results must land in the store while the run goes on"
        os.kill(victim, signal.SIGKILL)  # the actor dies with batches in flight
        thread.join(120)
        assert not thread.is_alive()
        assert "error" not in out, out.get("error")
        np.testing.assert_allclose(out["values"], truth.exact(masks), atol=1e-12)  # type: ignore[arg-type]
        assert ev.restarts >= 1 and ev.retries >= 1
        assert victim not in ev.worker_pids()
        assert watcher.count("k") == distinct
        assert ev.calls == distinct  # lost batches never returned, so nothing was counted twice
    finally:
        watcher.close()
        ev.shutdown()


@pytest.mark.slow
def test_actors_that_keep_dying_raise_worker_lost(store: EvalStore) -> None:
    ev = make_ray_evaluator(KillsItself(), workers=1, store=store, key="k", batch_size=4, max_retries=1)
    try:
        with pytest.raises(WorkerLostError, match="lost 2 times"):
            ev(np.ones((6, N), bool))
        assert ev.restarts == 1  # the second loss of the same batch ends the run
        assert store.count("k") == 0
    finally:
        ev.shutdown()


def test_concurrent_evaluators_share_one_store(truth: PlantedFunction, tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "shared.sqlite"
    masks = _masks(rng, 200)
    halves = [masks[:140], masks[60:]]  # overlapping: both write some of the same rows
    evs = [make_ray_evaluator(truth, workers=1, store=path, key="k", batch_size=8) for _ in halves]
    results: list[np.ndarray | None] = [None, None]

    def run(i: int) -> None:
        results[i] = evs[i](halves[i])

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for half, got in zip(halves, results):
            np.testing.assert_allclose(got, truth.exact(half), atol=1e-12)  # type: ignore[arg-type]
        with EvalStore(path) as check:
            assert check.count("k") == _distinct(masks)
            stored_masks, stored = check.items("k")
            np.testing.assert_allclose(stored, truth.exact(stored_masks), atol=1e-12)
    finally:
        for ev in evs:
            ev.shutdown()

