"""A stuck (alive, not dead) Ray actor does not block a run: after ``batch_timeout`` seconds
without progress it is killed and replaced, and its batch is sent again."""

from __future__ import annotations

import inspect
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fastspex.synthetic import PlantedFunction, planted

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'fastspex[ray]')")
from fastspex.ray_backend import RayEvaluator, make_ray_evaluator  # noqa: E402
from test_ray_backend import N, _ray_cluster  # noqa: E402, F401 - the module's Ray cluster


class HangsOnce:
    """Sleeps ``hang`` seconds on the first call made in any process (a file flag records it),
    then evaluates normally: a worker that gets stuck once, e.g. on a wedged GPU kernel."""

    def __init__(self, fn: PlantedFunction, flag: Path, hang: float = 600.0) -> None:
        self.fn = fn
        self.flag = str(flag)
        self.hang = hang
        self.n = fn.n

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        try:
            fd = os.open(self.flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            time.sleep(0.05)  # an ordinary batch takes a little while
            return self.fn(masks)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        time.sleep(self.hang)
        return self.fn(masks)


def test_a_stuck_actor_is_killed_and_its_batch_retried(tmp_path: Path) -> None:
    truth = planted(N, 12, max_order=3, seed=7)
    flag = tmp_path / "hung"
    masks = np.random.default_rng(4).random((96, N)) < 0.5
    options = {"batch_timeout": 2.0} if "batch_timeout" in inspect.signature(RayEvaluator).parameters else {}
    ev = make_ray_evaluator(HangsOnce(truth, flag), workers=2, store=None, batch_size=8,
                            progress=False, in_flight_per_worker=1, **options)
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["values"] = ev(masks)
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            out["error"] = err

    began = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        thread.join(45)
        assert not thread.is_alive(), "the run is blocked by the stuck actor"
        elapsed = time.monotonic() - began
        assert "error" not in out, out.get("error")
        # The known answer: the planted function's exact values.
        np.testing.assert_allclose(out["values"], truth.exact(masks), atol=1e-12)  # type: ignore[arg-type]
        stuck_pid = int(flag.read_text())
        assert ev.timeouts == 1 and ev.restarts == 1 and ev.retries == 1
        assert stuck_pid not in ev.worker_pids()
        assert elapsed < 30, elapsed
    finally:
        ev.shutdown()


class SlowToStartAfterAHang(HangsOnce):
    """As :class:`HangsOnce`, and an actor built after the hang takes ``start`` seconds to load
    it (a replacement loading a big model): longer than ``batch_timeout``."""

    def __init__(self, fn: PlantedFunction, flag: Path, start: float) -> None:
        super().__init__(fn, flag)
        self.start = start

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if os.path.exists(self.flag):
            time.sleep(self.start)  # type: ignore[arg-type]


def test_a_replacement_actor_s_start_up_does_not_count_as_a_stuck_batch(tmp_path: Path) -> None:
    """``batch_timeout`` clocks a batch from when its actor is up: a replacement that takes
    longer to load than the timeout is not killed for it (before: killed until the retries ran out)."""
    truth = planted(N, 12, max_order=3, seed=8)
    masks = np.random.default_rng(5).random((48, N)) < 0.5
    ev = make_ray_evaluator(SlowToStartAfterAHang(truth, tmp_path / "hung", start=4.0), workers=2,
                            store=None, batch_size=8, progress=False, in_flight_per_worker=1,
                            batch_timeout=2.0)
    try:
        np.testing.assert_allclose(ev(masks), truth.exact(masks), atol=1e-12)
        assert ev.timeouts == 1 and ev.restarts == 1  # the hung actor only
    finally:
        ev.shutdown()


def test_batch_timeout_options() -> None:
    truth = planted(N, 4, max_order=2, seed=1)
    ev = make_ray_evaluator(truth, workers=1, store=None, progress=False)
    try:
        assert ev.batch_timeout == "auto"
        assert ev.current_timeout() == 600.0  # nothing observed yet: 10 x the 60 s floor
        ev(np.random.default_rng(0).random((40, N)) < 0.5)
        assert ev.current_timeout() == 60.0  # fast batches: the floor
        ev._durations.extend([30.0] * 500)
        assert ev.current_timeout() == 300.0  # 10 x the median batch time
        ev.batch_timeout = None
        assert ev.current_timeout() is None
    finally:
        ev.shutdown()
    for bad in (0, -1, "soon", True):
        with pytest.raises(ValueError, match="batch_timeout"):
            make_ray_evaluator(truth, workers=1, store=None, batch_timeout=bad)
