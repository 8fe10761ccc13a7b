"""Running an explainer's independent fits side by side on threads.

LightGBM, NumPy's LAPACK and the core release the GIL, so threads use both cores without
copying the masks into other processes. Each call keeps its BLAS to one thread
(:func:`blas_threads`): results then do not depend on the number of workers, and OpenMP teams
do not spin against each other on a busy machine.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Self, TypeVar

__all__ = ["TaskPool", "blas_threads"]

T = TypeVar("T")
R = TypeVar("R")


def blas_threads(limit: int) -> Any:
    """A context in which BLAS uses at most ``limit`` threads (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=limit, user_api="blas")


class TaskPool:
    """A fixed set of worker threads running submitted calls, the most urgent first.

    One pool serves a whole fit, so the cores never idle while work is waiting: the lowest
    ``priority`` goes first (0: the critical path); independent calls only needed at the end
    get higher values and fill the gaps. With one worker, calls run at once in the submitting
    thread. Leaving the ``with`` block cancels the calls not yet started and waits for the
    running ones.
    """

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()  # first come, first served within a priority
        self._threads: list[threading.Thread] = []
        if self.workers > 1:
            for k in range(self.workers):
                thread = threading.Thread(target=self._work, name=f"fastspex-worker-{k}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def submit(self, fn: Callable[..., R], *args: Any, priority: int = 0, **kwargs: Any) -> Future[R]:
        """Run ``fn(*args, **kwargs)`` on a worker; ``.result()`` waits for it."""
        future: Future[R] = Future()
        if not self._threads:
            _run(future, fn, args, kwargs)
        else:
            self._queue.put((priority, next(self._order), (future, fn, args, kwargs)))
        return future

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(item) for item in items]``, in order, on the workers."""
        futures = [self.submit(fn, item) for item in items]
        return [f.result() for f in futures]

    def _work(self) -> None:
        while True:
            _, _, task = self._queue.get()
            if task is None:
                return
            future, fn, args, kwargs = task
            if future.set_running_or_notify_cancel():
                _run(future, fn, args, kwargs)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        while True:  # cancel what has not started
            try:
                _, _, task = self._queue.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                task[0].cancel()
        for _ in self._threads:
            self._queue.put((-1, next(self._order), None))  # before anything queued meanwhile
        for thread in self._threads:
            thread.join()


def _run(future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        future.set_result(fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
        future.set_exception(exc)
