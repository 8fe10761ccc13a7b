"""Running an explainer's independent fits side by side on threads.

LightGBM, NumPy's LAPACK and the core release the GIL, so threads use both cores without
copying the masks into other processes. Each call keeps its BLAS to one thread
(:func:`blas_threads`): results then do not depend on the number of workers, and OpenMP teams
do not spin against each other on a busy machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["background", "blas_threads", "thread_map"]

T = TypeVar("T")
R = TypeVar("R")


def thread_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``[fn(item) for item in items]``, in order, on up to ``workers`` threads."""
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def background(fn: Callable[..., R], *args: Any, **kwargs: Any) -> Future[R]:
    """``fn(*args, **kwargs)`` started on a thread of its own; ``.result()`` waits for it (and
    raises what it raised)."""
    future: Future[R] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            future.set_exception(exc)

    threading.Thread(target=run, name=f"fastspex-{getattr(fn, '__name__', 'task')}", daemon=True).start()
    return future


def blas_threads(limit: int) -> Any:
    """A context in which BLAS uses at most ``limit`` threads (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=limit, user_api="blas")
