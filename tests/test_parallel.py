"""The worker pool an explainer's fit shares between its stages."""

from __future__ import annotations

import threading

import pytest

from fastspex.explainers._parallel import TaskPool


def test_queued_calls_run_most_urgent_first() -> None:
    release = threading.Event()
    started = threading.Barrier(3)  # both workers plus this thread
    order: list[str] = []

    def hold() -> None:
        started.wait(timeout=10)
        release.wait(timeout=10)

    with TaskPool(2) as pool:
        busy = [pool.submit(hold) for _ in range(2)]
        started.wait(timeout=10)  # both workers are now held: what follows queues
        late = [pool.submit(order.append, f"filler {k}", priority=2) for k in range(2)]
        urgent = [pool.submit(order.append, f"urgent {k}", priority=0) for k in range(2)]
        middle = pool.submit(order.append, "middle", priority=1)
        release.set()
        for f in busy + late + urgent + [middle]:
            f.result(timeout=10)
    # two workers may swap neighbours of equal priority, never a priority for a lower one
    ranks = [{"urgent": 0, "middle": 1, "filler": 2}[label.split()[0]] for label in order]
    assert sorted(ranks) == [0, 0, 1, 2, 2]
    assert ranks[:2] == [0, 0] and ranks[-2:] == [2, 2]


def test_a_call_that_raises_hands_its_error_to_the_caller() -> None:
    def boom() -> None:
        raise ValueError("from a worker")

    with TaskPool(2) as pool:
        future = pool.submit(boom)
        with pytest.raises(ValueError, match="from a worker"):
            future.result(timeout=10)


def test_leaving_the_pool_cancels_what_has_not_started() -> None:
    release = threading.Event()
    started = threading.Barrier(3)

    def hold() -> str:
        started.wait(timeout=10)
        release.wait(timeout=10)
        return "done"

    with TaskPool(2) as pool:
        busy = [pool.submit(hold) for _ in range(2)]
        started.wait(timeout=10)
        queued = pool.submit(lambda: "never")
        threading.Timer(0.2, release.set).start()
    assert queued.cancelled()
    assert [f.result(timeout=0) for f in busy] == ["done", "done"]  # the running ones finished


def test_one_worker_runs_each_call_when_it_is_submitted() -> None:
    with TaskPool(1) as pool:
        future = pool.submit(threading.current_thread)
        assert future.done()
        assert future.result() is threading.current_thread()


@pytest.mark.parametrize("workers", [1, 2])
def test_map_gives_every_result_in_the_order_of_its_items(workers: int) -> None:
    with TaskPool(workers) as pool:
        assert pool.map(lambda k: k * k, list(range(20))) == [k * k for k in range(20)]
