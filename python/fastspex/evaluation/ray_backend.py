"""Ray backend: model calls spread over Ray actors, each holding its own replica of the model.

:func:`make_ray_evaluator` returns a :class:`RayEvaluator`, an :class:`~fastspex.value.Evaluator`
that every explainer accepts unchanged. It keeps the evaluator's contract (de-duplication,
store look-ups, checked outputs, ``calls``) but sends mask batches to a pool of actors — one per
GPU when the cluster has GPUs, else one per CPU — and writes each batch into the evaluation
store as soon as it comes back (``ray.wait``), so nothing finished is lost.

Fault tolerance: an actor that dies (killed, OOM, node lost) is replaced by a fresh one built
from the same function or factory, and its in-flight batches are sent again, up to
``max_retries`` times per batch; then :class:`WorkerLostError` is raised. An actor that is stuck
(alive but making no progress for ``batch_timeout`` seconds) is killed and treated the same way. Stored batches are
never recomputed, so an interrupted run restarted with the same store and key resumes.

Install with ``pip install "fastspex[ray]"``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

from .._validate import as_int
from ..masks import PackedMasks
from .evaluator import (
    DEFAULT_BATCH_SIZE,
    Evaluator,
    ModelCallError,
    ValueFunction,
    ValueFunctionError,
    as_evaluator,
)
from .store import EvalStore

__all__ = [
    "Factory",
    "RayEvaluator",
    "WorkerLostError",
    "evaluator_for",
    "make_ray_evaluator",
]


class WorkerLostError(RuntimeError):
    """Ray actors kept dying: a batch failed ``max_retries + 1`` times or no actor could be built."""


@dataclass(frozen=True)
class Factory:
    """Builds the value function inside each actor: ``make(*args, **kwargs)``.

    Use it when the function holds a model that should be loaded on the worker (and its GPU)
    rather than pickled from the driver. ``make`` must be picklable (a module-level function
    or class).
    """

    make: Callable[..., ValueFunction]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> ValueFunction:
        return self.make(*self.args, **self.kwargs)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = 'the Ray backend needs Ray: pip install "fastspex[ray]"'
        raise ImportError(msg) from err
    return ray


class _Replica:
    """Actor body: one replica of the value function, evaluating packed mask batches."""

    def __init__(self, payload: Any, is_factory: bool, n: int) -> None:
        self.fn = payload() if is_factory else payload
        self.n = n

    def pid(self) -> int:
        return os.getpid()

    def run(self, words: np.ndarray) -> Any:
        raw = self.fn(PackedMasks(words, self.n).to_bool())
        try:  # ship a plain array back when possible; the driver checks it either way
            return np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            return raw


#: With ``batch_timeout="auto"``: a batch is stuck after max(floor, factor x median batch time).
TIMEOUT_FLOOR = 60.0
TIMEOUT_FACTOR = 10.0


@dataclass
class _Slot:
    """One actor position in the pool; ``actor`` is replaced when it dies or gets stuck.

    ``since`` is when the actor last made progress: its last result, when it went from idle
    to busy, or when it came up. An actor runs its batches one after the other, so
    ``now - since`` is how long the batch it is running has taken so far. ``starting`` is the
    pending start-up reply of a replacement actor (``None`` once it is up): until then its
    batches wait for it, and only ``startup_timeout`` (from ``started``) can declare it stuck.
    """

    actor: Any
    busy: int = 0
    generation: int = 0
    pid: int | None = None
    since: float = 0.0
    starting: Any = None
    started: float = 0.0


class _RemoteFunction:
    """The pool seen as a plain value function (what ``RayEvaluator.fn`` holds)."""

    def __init__(self, owner: RayEvaluator, local: Any) -> None:
        self._owner = owner
        self.n = owner.n
        for attr in ("labels", "cache_key"):
            if hasattr(local, attr):
                setattr(self, attr, getattr(local, attr))

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        from ..masks import as_packed

        packed = as_packed(masks, self._owner.n)
        return self._owner._run_one(packed)


class RayEvaluator(Evaluator):
    """An :class:`Evaluator` whose model calls run on a pool of Ray actors.

    Build it with :func:`make_ray_evaluator`. Beyond the evaluator's counters it reports
    ``restarts`` (actors replaced after dying or getting stuck), ``retries`` (batches sent
    again) and ``timeouts`` (stuck actors killed).
    """

    def __init__(
        self,
        fn_or_factory: ValueFunction | Factory | type,
        n: int | None = None,
        *,
        workers: int | None = None,
        gpus_per_worker: float | None = None,
        cpus_per_worker: float = 1.0,
        in_flight_per_worker: int = 2,
        max_retries: int = 3,
        max_restarts: int | None = None,
        batch_size: int | None = None,
        store: EvalStore | str | os.PathLike[str] | None = "default",
        key: str | None = None,
        progress: bool | None = None,
        meta: dict[str, Any] | None = None,
        factory: bool | None = None,
        startup_timeout: float = 600.0,
        batch_timeout: float | Literal["auto"] | None = "auto",
    ) -> None:
        ray = _import_ray()
        is_factory = (
            factory
            if factory is not None
            else isinstance(fn_or_factory, (Factory, type))
        )
        if not callable(fn_or_factory):
            msg = f"value function or factory must be callable, got {type(fn_or_factory).__name__}"
            raise TypeError(msg)
        # Attributes (n, batch_size, cache_key) come from the function itself, never from a
        # factory: building a model on the driver just to read them would defeat the purpose.
        local = None if is_factory else fn_or_factory
        n = n if n is not None else getattr(local, "n", None)
        if n is None:
            msg = "pass n (the number of components): a factory's value function is built remotely"
            raise ValueError(msg)
        bs = batch_size if batch_size is not None else getattr(local, "batch_size", DEFAULT_BATCH_SIZE)
        super().__init__(
            _Placeholder(),
            n,
            batch_size=bs,
            store=store,
            key=key if key is not None else getattr(local, "cache_key", None),
            progress=progress,
            meta=meta,
        )
        self.fn = _RemoteFunction(self, local)
        self.max_retries = as_int(max_retries, "max_retries", minimum=0)
        self.in_flight_per_worker = as_int(in_flight_per_worker, "in_flight_per_worker", minimum=1)
        self.batch_timeout = _as_timeout(batch_timeout)
        self.startup_timeout = float(startup_timeout)
        self.restarts = 0
        self.retries = 0
        self.timeouts = 0
        self._durations: deque[float] = deque(maxlen=200)
        if not ray.is_initialized():
            ray.init()
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0.0))
        if gpus_per_worker is None:
            gpus_per_worker = 1.0 if gpus >= 1 else 0.0
        if workers is None:
            if gpus_per_worker > 0:
                workers = max(int(gpus // gpus_per_worker), 1)
            else:
                workers = max(int(float(resources.get("CPU", 1.0)) // max(cpus_per_worker, 1e-9)), 1)
        self.workers = as_int(workers, "workers", minimum=1)
        self.max_restarts = as_int(
            max_restarts if max_restarts is not None else 2 * self.workers + self.max_retries,
            "max_restarts",
            minimum=0,
        )
        self._actor_cls = ray.remote(
            num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=0, max_task_retries=0
        )(_Replica)
        # One shared copy of the function in the object store: restarts do not re-pickle it.
        self._payload = ray.put(fn_or_factory)
        self._is_factory = bool(is_factory)
        self._slots = [_Slot(self._new_actor()) for _ in range(self.workers)]
        self._wait_ready(float(startup_timeout), cpus_per_worker, gpus_per_worker)

    def __repr__(self) -> str:
        return (
            f"RayEvaluator(n={self.n}, workers={self.workers}, calls={self.calls}, "
            f"restarts={self.restarts}, key={self.key!r})"
        )

    # ---- actors -----------------------------------------------------------------------------

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self._payload, self._is_factory, self.n)

    def _wait_ready(self, timeout: float, cpus: float, gpus: float) -> None:
        ray = _import_ray()
        refs = [s.actor.pid.remote() for s in self._slots]
        try:
            pids = ray.get(refs, timeout=timeout)
        except ray.exceptions.GetTimeoutError as err:
            self.shutdown()
            msg = (
                f"{self.workers} Ray actors did not start within {timeout:g} s; does the cluster "
                f"have {self.workers} x ({cpus:g} CPU, {gpus:g} GPU) free? ({ray.available_resources()})"
            )
            raise WorkerLostError(msg) from err
        except ray.exceptions.RayActorError as err:
            self.shutdown()
            msg = f"could not build the value function in a Ray actor: {err}"
            raise WorkerLostError(msg) from err
        for s, pid in zip(self._slots, pids):
            s.pid = int(pid)

    def worker_pids(self) -> list[int | None]:
        """Process id of each actor (``None`` for a replacement that has not come up yet)."""
        return [s.pid for s in self._slots]

    def _replace(self, i: int, cause: BaseException) -> None:
        ray = _import_ray()
        if self.restarts >= self.max_restarts:
            msg = (
                f"Ray actors died {self.restarts + 1} times (max_restarts = {self.max_restarts}); "
                f"last cause: {cause}"
            )
            raise WorkerLostError(msg) from cause
        try:
            ray.kill(self._slots[i].actor, no_restart=True)
        except Exception:  # noqa: BLE001 - it is already gone; nothing to clean up
            pass
        # Tasks still queued on the dead actor fail on their own and are retried on arrival.
        actor = self._new_actor()
        self._slots[i] = _Slot(actor, generation=self._slots[i].generation + 1,
                               starting=actor.pid.remote(), started=time.monotonic())
        self.restarts += 1

    def _note_started(self, now: float) -> None:
        """Start the batch clock of every replacement actor that has come up since the last look."""
        ray = _import_ray()
        for s in self._slots:
            if s.starting is None:
                continue
            up, _ = ray.wait([s.starting], num_returns=1, timeout=0)
            if not up:
                continue
            try:
                s.pid = int(ray.get(up[0]))
            except Exception:  # noqa: BLE001 - it died starting: its batches fail and are retried
                pass
            s.starting = None
            s.since = now

    def current_timeout(self) -> float | None:
        """Seconds after which a batch counts as stuck (``None``: never).

        ``"auto"``: max(60 s, 10 x the median batch time seen so far); before any batch has
        finished, 10 x 60 s, since a first batch may include a slow model warm-up.
        """
        if self.batch_timeout != "auto":
            return self.batch_timeout
        if not self._durations:
            return TIMEOUT_FACTOR * TIMEOUT_FLOOR
        return max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * statistics.median(self._durations))

    def _deadline(self, s: _Slot, limit: float | None, now: float) -> float | None:
        """When busy slot ``s`` counts as stuck: ``startup_timeout`` after a replacement began
        starting (checked every second from ``now``, so its batch clock starts soon after it
        is up), else ``limit`` after its last progress."""
        if s.starting is not None:
            return min(s.started + self.startup_timeout, now + 1.0)
        return None if limit is None else s.since + limit

    def _wait_for(self, now: float) -> float | None:
        """How long ``ray.wait`` may block before a busy actor could count as stuck."""
        self._note_started(now)
        limit = self.current_timeout()
        deadlines = [d for s in self._slots if s.busy and (d := self._deadline(s, limit, now)) is not None]
        return max(0.01, min(deadlines) - now) if deadlines else None

    def _stuck(self, now: float) -> list[int]:
        self._note_started(now)
        limit = self.current_timeout()
        stuck = []
        for i, s in enumerate(self._slots):
            if not s.busy:
                continue
            if s.starting is not None:
                if now - s.started >= self.startup_timeout:
                    stuck.append(i)
            elif limit is not None and now - s.since >= limit:
                stuck.append(i)
        return stuck

    def shutdown(self) -> None:
        """Stop the actors (the evaluator cannot evaluate new masks afterwards)."""
        ray = _import_ray()
        for s in self._slots:
            try:
                ray.kill(s.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already dead
                pass
        self._slots = []

    # ---- evaluation -------------------------------------------------------------------------

    def _run_one(self, packed: PackedMasks) -> np.ndarray:
        """Evaluate one batch on the pool, without store or de-duplication (``self.fn``)."""
        results: list[np.ndarray | None] = [None] * len(packed)
        todo = np.arange(len(packed))
        saved, self.store = self.store, None
        try:
            self._run(packed, todo, todo, results)
        finally:
            self.store = saved
        out = np.stack(results)  # type: ignore[arg-type]  # every slot is filled by now
        return out[:, 0] if out.shape[1] == 1 else out

    def _run(
        self,
        distinct: PackedMasks,
        first: np.ndarray,
        todo: np.ndarray,
        results: list[np.ndarray | None],
    ) -> None:
        if len(todo) == 0:
            return
        if not self._slots:
            msg = "this RayEvaluator was shut down"
            raise RuntimeError(msg)
        ray = _import_ray()
        from ..progress import counter

        batches = [todo[s : s + self.batch_size] for s in range(0, len(todo), self.batch_size)]
        pending: deque[int] = deque(range(len(batches)))
        attempts = [0] * len(batches)
        in_flight: dict[Any, tuple[int, int, int]] = {}  # object ref -> (batch, slot, generation)
        error: BaseException | None = None
        show = self.progress if self.progress is not None else len(batches) > 1
        lines = contextlib.ExitStack()  # the counter closes (final line) however the loop ends
        tick = lines.enter_context(counter(len(todo), bool(show)))
        began = time.monotonic()
        try:
            while pending or in_flight:
                while pending and error is None:
                    slot = min(range(len(self._slots)), key=lambda i: self._slots[i].busy)
                    if self._slots[slot].busy >= self.in_flight_per_worker:
                        break
                    b = pending.popleft()
                    ref = self._slots[slot].actor.run.remote(distinct[batches[b]].words)
                    in_flight[ref] = (b, slot, self._slots[slot].generation)
                    if self._slots[slot].busy == 0:
                        self._slots[slot].since = time.monotonic()
                    self._slots[slot].busy += 1
                if not in_flight:
                    break
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self._wait_for(time.monotonic()))
                if not ready:
                    self._kill_stuck(in_flight, pending, attempts, batches, first)
                    continue
                for ref in ready:
                    b, slot, generation = in_flight.pop(ref)
                    current = self._slots[slot].generation == generation
                    if current:
                        self._slots[slot].busy -= 1
                        now = time.monotonic()
                        self._durations.append(now - self._slots[slot].since)
                        self._slots[slot].since = now
                    batch = batches[b]
                    try:
                        raw = ray.get(ref)
                    except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as err:
                        attempts[b] += 1
                        if attempts[b] > self.max_retries:
                            msg = (
                                f"a batch of {len(batch)} masks (mask rows {_rows(first[batch])}) "
                                f"was lost {attempts[b]} times with its Ray actor; last cause: {err}"
                            )
                            raise WorkerLostError(msg) from err
                        if current:  # the first lost batch of a dead actor replaces it
                            self._replace(slot, err)
                        pending.appendleft(b)
                        self.retries += 1
                        continue
                    except ray.exceptions.RayTaskError as err:
                        if error is None:
                            cause = err.cause if err.cause is not None else err
                            msg = (
                                f"the value function raised {type(cause).__name__} on a batch of "
                                f"{len(batch)} masks (mask rows {_rows(first[batch])}): {cause}"
                            )
                            error = ModelCallError(msg, first[batch])
                            error.__cause__ = cause
                        continue
                    try:
                        outputs = self._check(raw, len(batch), first[batch])
                    except ValueFunctionError as err:
                        error = error or err
                        continue
                    self.calls += len(batch)
                    self.batches += 1
                    if self.store is not None and self.key is not None:
                        self.store.put(self.key, distinct[batch], outputs)
                    for u, o in zip(batch, outputs):
                        results[u] = o
                    tick(len(batch))
        finally:
            lines.close()
            self.model_seconds += time.monotonic() - began  # the pool's wall time: the model's
        if error is not None:
            raise error

    def _kill_stuck(
        self,
        in_flight: dict[Any, tuple[int, int, int]],
        pending: deque[int],
        attempts: list[int],
        batches: list[np.ndarray],
        first: np.ndarray,
    ) -> None:
        """Kill and replace every actor stuck on a batch; its batches go back to the queue."""
        for slot in self._stuck(time.monotonic()):
            generation = self._slots[slot].generation
            lost = [ref for ref, (_, i, g) in in_flight.items() if i == slot and g == generation]
            limit = self.current_timeout()
            if self._slots[slot].starting is not None:
                option = "startup_timeout"
                cause = TimeoutError(f"a replacement Ray actor did not start within {self.startup_timeout:g} s ({option})")
            else:
                option = "batch_timeout"
                cause = TimeoutError(f"a Ray actor made no progress for {limit:g} s ({option})")
            for ref in lost:
                b = in_flight.pop(ref)[0]
                attempts[b] += 1
                if attempts[b] > self.max_retries:
                    msg = (
                        f"a batch of {len(batches[b])} masks (mask rows {_rows(first[batches[b]])}) "
                        f"was lost {attempts[b]} times; last cause: {cause}: raise {option} "
                        "if the model is this slow"
                    )
                    raise WorkerLostError(msg) from cause
                pending.appendleft(b)
                self.retries += 1
            self.timeouts += 1
            self._replace(slot, cause)

    def _check(self, raw: Any, m: int, caller_rows: np.ndarray) -> np.ndarray:
        """The evaluator's output checks (shape, dimension, finiteness) on one returned batch."""
        try:
            out = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as err:
            msg = f"value function returned {type(raw).__name__} that is not a float array: {err}"
            raise ValueFunctionError(msg) from err
        if out.ndim == 0 or out.ndim > 2 or out.shape[0] != m:
            msg = (
                f"value function returned shape {out.shape} for {m} masks; expected "
                f"({m},) or ({m}, d) (mask rows {_rows(caller_rows)})"
            )
            raise ValueFunctionError(msg)
        out = out.reshape(m, -1)
        self._check_dim(out.shape[1], "the value function")
        bad = ~np.isfinite(out).all(axis=1)
        if bad.any():
            msg = f"value function returned NaN or inf for mask rows {_rows(caller_rows[bad])}"
            raise ValueFunctionError(msg)
        return out


class _Placeholder:
    """Stands in for ``fn`` while :class:`Evaluator` initialises (replaced right after)."""

    def __call__(self, masks: np.ndarray) -> np.ndarray:  # pragma: no cover - never called
        raise RuntimeError("RayEvaluator is not initialised")


def _as_timeout(value: float | str | None) -> float | Literal["auto"] | None:
    """``batch_timeout``: ``"auto"``, ``None`` (never) or a positive number of seconds."""
    if value is None or value == "auto":
        return value  # type: ignore[return-value]  # checked above to be a positive float or None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        msg = f"batch_timeout must be 'auto', None or a positive number of seconds, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _rows(rows: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (f", … ({len(rows)} rows)" if len(rows) > limit else "")


def make_ray_evaluator(
    fn_or_factory: ValueFunction | Factory | type,
    n: int | None = None,
    *,
    workers: int | None = None,
    store: EvalStore | str | os.PathLike[str] | None = "default",
    key: str | None = None,
    batch_size: int | None = None,
    progress: bool | None = None,
    **options: Any,
) -> RayEvaluator:
    """An evaluator whose mask batches run on Ray actors, each with a replica of the model.

    Args:
        fn_or_factory: a picklable value function (sent to every actor), or a :class:`Factory`
            or class that builds it inside each actor (``factory=True`` forces that reading
            for any other zero-argument callable).
        n: number of components (default ``fn.n``; required with a factory).
        workers: number of actors (default: one per GPU if the cluster has GPUs, else one per
            CPU). Ray is started with its defaults if it is not running yet.
        store, key, batch_size, progress: as for :class:`~fastspex.value.Evaluator`.
        **options: ``gpus_per_worker``, ``cpus_per_worker``, ``in_flight_per_worker``,
            ``max_retries`` (per batch, default 3), ``max_restarts`` (actor replacements in
            total), ``meta``, ``factory``, ``startup_timeout`` (seconds to wait for an actor,
            first or replacement, to come up; default 600), ``batch_timeout`` (seconds without
            progress after which an actor that is up is stuck: it is killed and replaced and its
            batches are sent again; ``"auto"``, the default, is max(60 s, 10 x the median batch
            time), ``None`` waits forever).
    """
    return RayEvaluator(
        fn_or_factory,
        n,
        workers=workers,
        store=store,
        key=key,
        batch_size=batch_size,
        progress=progress,
        **options,
    )


def evaluator_for(
    fn: ValueFunction | Evaluator,
    n: int | None = None,
    *,
    backend: Literal["local", "ray"] = "local",
    **options: Any,
) -> Evaluator:
    """The evaluator an explainer should use for ``backend``: in-process or on Ray actors.

    A ready :class:`Evaluator` (including a :class:`RayEvaluator`) is returned as it is.
    """
    if isinstance(fn, Evaluator):
        return as_evaluator(fn, n)
    if backend == "local":
        return Evaluator(fn, n, **options)
    if backend == "ray":
        return make_ray_evaluator(fn, n, **options)
    msg = f"backend must be 'local' or 'ray', got {backend!r}"
    raise ValueError(msg)

