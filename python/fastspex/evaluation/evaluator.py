"""Value functions: the ``masks -> outputs`` interface to the model, and a safe evaluator.

A value function is any callable taking an ``(m, n)`` bool matrix (1 = component kept) and
returning ``m`` float outputs, shape ``(m,)`` (or ``(m, d)`` for vector outputs). It may carry
``n``, ``labels``, ``batch_size`` and ``cache_key`` attributes; ``cache_key`` names the
experiment in the evaluation store so interrupted runs resume without repeating model calls.

:class:`Evaluator` wraps one: it removes duplicate masks, skips masks already in the store,
calls the model in batches with a progress bar, checks every batch (shape, NaN/inf) and stores
it as soon as it returns.
"""

from __future__ import annotations

import os
import time
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._validate import as_int
from ..masks import MaskLike, PackedMasks, as_packed, unique
from .store import EvalStore, default_store

__all__ = [
    "Evaluator",
    "ModelCallError",
    "ValueFunction",
    "ValueFunctionError",
    "as_evaluator",
    "calls_since",
    "counts",
    "to_float_array",
]

DEFAULT_BATCH_SIZE = 64
#: Default most seconds of model time between two commits of the evaluation store.
DEFAULT_COMMIT_EVERY = 5.0


@runtime_checkable
class ValueFunction(Protocol):
    """``(m, n)`` bool masks -> ``(m,)`` or ``(m, d)`` float outputs."""

    def __call__(self, masks: np.ndarray) -> np.ndarray: ...


class ValueFunctionError(ValueError):
    """A value function returned outputs of the wrong shape or non-finite values."""


class ModelCallError(RuntimeError):
    """The value function raised; ``rows`` are the caller's mask rows of the failed batch."""

    def __init__(self, message: str, rows: np.ndarray) -> None:
        super().__init__(message)
        self.rows = rows


def _rows_text(rows: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (f", … ({len(rows)} rows)" if len(rows) > limit else "")


class Evaluator:
    """Evaluates masks through a value function with de-duplication, batching and storage.

    Args:
        fn: the value function.
        n: number of components (default: ``fn.n``).
        batch_size: masks per model call (default: ``fn.batch_size`` or 64).
        store: ``"default"`` (the cache-folder store, used when the experiment has a key),
            an :class:`EvalStore`, a path to a SQLite file, or ``None`` to store nothing.
        key: experiment key in the store (default: ``fn.cache_key``). Without a key nothing is
            stored: an anonymous callable has no safe identity to resume under.
        progress: show a progress bar (``None``: when more than one batch must run on a terminal).
        meta: extra settings recorded with the experiment.
        memo_bytes: memory bound of the in-process memo of evaluated masks (0 disables it).
        commit_every: most seconds of model time between two store commits (default 5): a
            batch that would take longer is evaluated in smaller calls, each stored as soon as
            it returns, so a killed run loses at most about that much work. ``None`` calls the
            value function with whole batches.

    ``calls`` counts masks the model actually evaluated (store/memo hits and duplicates
    excluded); ``hits`` counts distinct masks answered by the memo or the store, and
    ``store_hits`` those of them the store answered (the rest were asked again in this run);
    ``model_seconds`` is the wall time spent inside ``fn``.
    """

    def __init__(
        self,
        fn: ValueFunction,
        n: int | None = None,
        *,
        batch_size: int | None = None,
        store: EvalStore | str | os.PathLike[str] | None = "default",
        key: str | None = None,
        progress: bool | None = None,
        meta: dict[str, Any] | None = None,
        memo_bytes: int = 256 * 2**20,
        commit_every: float | None = DEFAULT_COMMIT_EVERY,
    ) -> None:
        if not callable(fn):
            msg = f"value function must be callable, got {type(fn).__name__}"
            raise TypeError(msg)
        self.fn = fn
        n = n if n is not None else getattr(fn, "n", None)
        if n is None:
            msg = "pass n (the number of components): the value function has no `n` attribute"
            raise ValueError(msg)
        self.n = as_int(n, "n", minimum=1)
        bs = batch_size if batch_size is not None else getattr(fn, "batch_size", DEFAULT_BATCH_SIZE)
        self.batch_size = as_int(bs, "batch_size", minimum=1)
        self.key: str | None = key if key is not None else getattr(fn, "cache_key", None)
        if self.key is not None and not isinstance(self.key, str):
            msg = f"store key must be a string, got {type(self.key).__name__}"
            raise TypeError(msg)
        self.store = self._open_store(store) if self.key is not None else None
        if self.store is not None and self.key is not None:
            self.store.register(self.key, self.n, meta)
        self.progress = progress
        self.calls = 0
        self.hits = 0
        self.store_hits = 0
        self.model_seconds = 0.0
        self.batches = 0
        self.output_dim: int | None = None
        #: ``"raise"``: a vector output raises :class:`~fastspex.multi_output.SeveralOutputs`
        #: once it is stored and memoised (``explain`` then fits each output on the same masks).
        self.several_outputs: str | None = None
        # In-memory memo of (packed mask bytes -> output) for this evaluator's lifetime, so a
        # mask repeated across calls costs no model call even without a store. Bounded by
        # ``memo_bytes`` (an entry costs about n/8 + 8d bytes plus ~150 bytes of overhead).
        self.memo_bytes = as_int(memo_bytes, "memo_bytes", minimum=0)
        self._memo: dict[bytes, np.ndarray] = {}
        self._memo_used = 0
        self.commit_every = _as_interval(commit_every)
        # Masks per value-function call. With a commit interval it starts small (the model's
        # speed is unknown: a first full batch could take minutes and be lost to a kill) and
        # adapts after every call to about one interval of model time, capped at batch_size.
        self._chunk = self.batch_size if self.commit_every is None else max(1, self.batch_size // 8)

    @staticmethod
    def _open_store(store: EvalStore | str | os.PathLike[str] | None) -> EvalStore | None:
        if store is None or store is False:
            return None
        if isinstance(store, EvalStore):
            return store
        if isinstance(store, str) and store == "default":
            return default_store()
        if isinstance(store, (str, os.PathLike)):
            return EvalStore(store)
        msg = f"store must be 'default', an EvalStore, a path or None, got {type(store).__name__}"
        raise TypeError(msg)

    def __repr__(self) -> str:
        return f"Evaluator(n={self.n}, calls={self.calls}, key={self.key!r})"

    def __call__(self, masks: MaskLike) -> np.ndarray:
        """Outputs for every mask row, in order: ``(m,)`` or ``(m, d)`` float64."""
        packed = as_packed(masks, self.n)
        if len(packed) == 0:
            msg = "no masks to evaluate (got an empty mask matrix)"
            raise ValueError(msg)
        distinct, first, inverse = unique(packed)
        rows = distinct.row_bytes()
        results: list[np.ndarray | None] = [self._memo.get(r) for r in rows]
        hit = np.fromiter((r is not None for r in results), bool, count=len(rows))
        if self.store is not None and self.key is not None and not hit.all():
            missing = np.flatnonzero(~hit)
            s_hit, s_res = self.store.lookup(self.key, distinct[missing])
            for j, r in zip(missing[s_hit], (x for x in s_res if x is not None)):
                self._check_stored(r)
                results[j] = r
                self._remember(rows[j], r)
            hit[missing[s_hit]] = True
            self.store_hits += int(np.count_nonzero(s_hit))
        self.hits += int(hit.sum())
        todo = np.flatnonzero(~hit)
        self._run(distinct, first, todo, results)
        out = np.stack([results[u] for u in inverse])
        if out.shape[1] > 1 and self.several_outputs == "raise":
            from ..multi_output import SeveralOutputs

            raise SeveralOutputs(out.shape[1])
        return out[:, 0] if out.shape[1] == 1 else out

    def _remember(self, row: bytes, out: np.ndarray) -> None:
        cost = len(row) + out.nbytes + 150
        if self._memo_used + cost <= self.memo_bytes:
            self._memo[row] = out
            self._memo_used += cost

    def _check_stored(self, out: np.ndarray) -> None:
        """A stored output is checked like a fresh one; a bad row means the store is corrupt."""
        from .store import StoreError

        where = getattr(self.store, "path", "the store")
        key = str(self.key)
        if not np.isfinite(out).all():
            msg = (
                f"{where} holds NaN/inf for a mask of experiment {key[:12]}… (a corrupted "
                f"row): clear it with EvalStore({str(where)!r}).clear(key) or pass store=None"
            )
            raise StoreError(msg)
        if self.output_dim is not None and out.shape[0] != self.output_dim:
            msg = (
                f"{where} holds outputs of dimension {out.shape[0]} for experiment "
                f"{key[:12]}…, the value function gives {self.output_dim}: the stored rows are "
                f"stale or corrupt; clear them with EvalStore({str(where)!r}).clear(key) or pass store=None"
            )
            raise StoreError(msg)
        self._check_dim(out.shape[0], "the store")

    def _check_dim(self, d: int, source: str) -> None:
        if self.output_dim is None:
            self.output_dim = d
        elif d != self.output_dim:
            msg = f"outputs from {source} have dimension {d}, earlier ones {self.output_dim}"
            raise ValueFunctionError(msg)

    def _run(
        self,
        distinct: PackedMasks,
        first: np.ndarray,
        todo: np.ndarray,
        results: list[np.ndarray | None],
    ) -> None:
        if len(todo) == 0:
            return
        from ..progress import counter

        show = self.progress if self.progress is not None else len(todo) > self.batch_size
        with counter(len(todo), bool(show)) as tick:
            start = 0
            while start < len(todo):
                batch = todo[start : start + self._chunk]
                start += len(batch)
                batch_masks = distinct[batch]
                began = time.monotonic()
                outputs = self._call(batch_masks, first[batch])
                spent = time.monotonic() - began
                self.model_seconds += spent
                self._adapt_chunk(len(batch), spent)
                if self.store is not None and self.key is not None:
                    self.store.put(self.key, batch_masks, outputs)
                for u, r, o in zip(batch, batch_masks.row_bytes(), outputs):
                    results[u] = o
                    self._remember(r, o)
                tick(len(batch))

    def _adapt_chunk(self, m: int, seconds: float) -> None:
        """Size the next call to take about ``commit_every`` seconds at the speed just seen;
        it at most doubles per call (a model is often faster per mask on bigger batches)."""
        if self.commit_every is None:
            return
        fits = self.commit_every * m / seconds if seconds > 0 else float("inf")
        ceiling = 2 * self._chunk if m >= self._chunk else self._chunk
        self._chunk = int(max(1, min(self.batch_size, ceiling, fits)))

    def _call(self, batch: PackedMasks, caller_rows: np.ndarray) -> np.ndarray:
        bool_masks = batch.to_bool()
        try:
            raw = self.fn(bool_masks)
        except KeyboardInterrupt:
            raise
        except Exception as err:
            msg = (
                f"the value function raised {type(err).__name__} on a batch of {len(batch)} masks "
                f"(mask rows {_rows_text(caller_rows)}): {err}"
            )
            raise ModelCallError(msg, caller_rows) from err
        self.calls += len(batch)
        self.batches += 1
        return self._check_outputs(raw, len(batch), caller_rows)

    def _check_outputs(self, raw: Any, m: int, caller_rows: np.ndarray) -> np.ndarray:
        """A private float64 copy of one returned batch, checked (type, shape, dimension, finite)."""
        out = to_float_array(raw)
        if out.ndim == 0 or out.shape[0] != m or out.ndim > 2:
            msg = (
                f"value function returned shape {out.shape} for {m} masks; expected "
                f"({m},) or ({m}, d) (mask rows {_rows_text(caller_rows)})"
            )
            raise ValueFunctionError(msg)
        out = out.reshape(m, -1)
        self._check_dim(out.shape[1], "the value function")
        bad = ~np.isfinite(out).all(axis=1)
        if bad.any():
            msg = (
                "value function returned NaN or inf for mask rows "
                f"{_rows_text(caller_rows[bad])}"
            )
            raise ValueFunctionError(msg)
        return out


def _as_interval(seconds: float | None) -> float | None:
    """A commit interval: ``None`` (off) or a positive number of seconds."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        msg = f"commit_every must be a positive number of seconds or None, got {seconds!r}"
        raise ValueError(msg)
    return float(seconds)


def to_float_array(raw: Any) -> np.ndarray:
    """``raw`` as a new float64 array that shares no memory with it (a value function may
    refill one buffer on every call). Refuses complex outputs and tensors that require grad."""
    if hasattr(raw, "detach") and hasattr(raw, "requires_grad"):  # a torch tensor
        if raw.requires_grad:
            msg = (
                "value function returned a torch tensor that requires grad: compute it under "
                "torch.no_grad() (or torch.inference_mode()) or return tensor.detach()"
            )
            raise ValueFunctionError(msg)
        if raw.is_complex():
            msg = f"value function returned a complex tensor ({raw.dtype}); return real outputs (e.g. .abs() or .real)"
            raise ValueFunctionError(msg)
        raw = raw.cpu().double().numpy()
    try:
        arr = np.asarray(raw)
    except (TypeError, ValueError) as err:
        msg = f"value function returned {type(raw).__name__} that is not a float array: {err}"
        raise ValueFunctionError(msg) from err
    if np.iscomplexobj(arr):
        msg = f"value function returned complex outputs ({arr.dtype}); return real outputs (e.g. np.abs or .real)"
        raise ValueFunctionError(msg)
    if arr.dtype.kind not in "biuf":
        msg = f"value function returned {type(raw).__name__} of dtype {arr.dtype}, not a float array"
        raise ValueFunctionError(msg)
    return np.array(arr, dtype=np.float64, copy=True)


def as_evaluator(fn: ValueFunction | Evaluator, n: int | None = None, **options: Any) -> Evaluator:
    """Wrap ``fn`` in an :class:`Evaluator` unless it already is one."""
    if isinstance(fn, Evaluator):
        if n is not None and fn.n != n:
            msg = f"evaluator has n = {fn.n}, expected {n}"
            raise ValueError(msg)
        return fn
    return Evaluator(fn, n, **options)


def counts(ev: Any) -> tuple[int, int, int]:
    """``(calls, hits, store_hits)`` of an evaluator now (0 for what it does not count)."""
    return (int(getattr(ev, "calls", 0)), int(getattr(ev, "hits", 0)),
            int(getattr(ev, "store_hits", 0)))


def calls_since(ev: Any, before: tuple[int, int, int]) -> dict[str, int]:
    """The masks ``ev`` answered since ``before`` (a :func:`counts` snapshot): ``new`` model
    calls, ``from_store`` (the persistent store), ``reused`` (asked again within this run: by
    another output's fit on the same masks, or twice by one method) and their ``total``."""
    calls, hits, stored = (a - b for a, b in zip(counts(ev), before))
    return {"new": calls, "from_store": stored, "reused": hits - stored,
            "total": calls + hits}
