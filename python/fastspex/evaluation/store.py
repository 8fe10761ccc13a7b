"""The evaluation store: every evaluated mask and its output, persisted in embedded SQLite.

Rows are keyed by ``(experiment key, packed mask)``. Each batch is written in one transaction
as soon as the model returns it, so a run killed at any point (Ctrl-C, ``kill -9``, a crashing
model) keeps every finished batch, and a restarted run asks the model only for what is missing.
SQLite's write-ahead log and busy timeout let several processes write the same file safely.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..masks import PackedMasks

__all__ = ["EvalStore", "StoreError", "cache_dir", "callable_key", "default_store", "experiment_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    key TEXT PRIMARY KEY,
    n INTEGER NOT NULL,
    meta TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS evals (
    key TEXT NOT NULL,
    mask BLOB NOT NULL,
    output BLOB NOT NULL,
    PRIMARY KEY (key, mask)
) WITHOUT ROWID;
"""
_LOOKUP_CHUNK = 500  # below SQLite's default limit on bound parameters


_TABLES = {"experiments": ["key", "n", "meta", "created"], "evals": ["key", "mask", "output"]}


class StoreError(RuntimeError):
    """The evaluation store cannot be used as it is (not a store, corrupt, unreadable, read-only,
    disk full); the one-line message names the file and what to do."""


def _store_error(path: Path, err: BaseException) -> StoreError:
    """The SQLite or OS error ``err`` on the store at ``path`` as a one-line StoreError."""
    text = str(err).lower()
    without = "or pass store=None to run without the store"
    if "not a database" in text or "encrypted" in text:
        what = f"{path} is not a fastspex store (not a SQLite database): move it away {without}"
    elif "malformed" in text or "corrupt" in text:
        what = f"{path} is corrupt ({err}): move it away (its stored outputs are lost) {without}"
    elif "full" in text:
        what = f"{path} cannot be written: the disk is full; free some space {without}"
    elif "readonly" in text or "read-only" in text or isinstance(err, PermissionError) and _exists(path):
        what = f"{path} is read-only: make the file and its folder writable {without}"
    elif "unable to open" in text or isinstance(err, OSError):
        what = f"{path} cannot be opened ({_why_unopenable(path, err)}): fix that {without}"
    elif "locked" in text or "busy" in text:
        what = f"{path} stayed locked by another process ({err}): retry later {without}"
    else:
        what = f"{path}: SQLite failed ({err}) {without}"
    return StoreError(" ".join(what.split()))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _why_unopenable(path: Path, err: BaseException) -> str:
    """The likely reason SQLite could not open ``path``: its answer says only "unable to open"."""
    folder = path.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if _exists(path) and not os.access(path, os.R_OK | os.W_OK):
        return "permission denied: the file is not readable and writable"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"permission denied: its folder {folder} is not writable"
    return str(err) or type(err).__name__


def cache_dir() -> Path:
    """fastspex's cache folder: ``$FASTSPEX_CACHE_DIR``, else ``$XDG_CACHE_HOME/fastspex``, else ``~/.cache/fastspex``."""
    env = os.environ.get("FASTSPEX_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "fastspex"


# Libraries whose version changes a model's outputs (kernels, attention implementations).
_KEYED_LIBRARIES = ("torch", "transformers")


def _installed_versions() -> dict[str, str | None]:
    """The installed versions of :data:`_KEYED_LIBRARIES`, read from package metadata (no import)."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in _KEYED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def experiment_key(*parts: Any, **named: Any) -> str:
    """A stable hex key for an experiment from JSON-serialisable parts (model id, input, settings),
    the fastspex version and the installed torch and transformers versions (a new version of any
    of them may compute outputs differently)."""
    from .. import _version

    payload = json.dumps(
        {"parts": parts, "named": named, "fastspex": _version.__version__,
         "libraries": _installed_versions()}, sort_keys=True, default=repr
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class _Unhashable(Exception):
    """Raised inside :func:`callable_key` with what could not be hashed."""


def callable_key(fn: Callable[..., Any], role: str = "output") -> str:
    """A hex digest of what a user function computes: its code (nested code included), default
    arguments, closure values and the plain-data globals it reads.

    Raises :class:`StoreError` when that cannot be done reliably (a callable object, a builtin,
    a closure or default holding an object without a stable value): the experiment then needs
    an explicit ``key=``.
    """
    h = hashlib.sha256()
    try:
        if not isinstance(fn, (types.FunctionType, types.MethodType)):
            raise _Unhashable(f"it is a {type(fn).__name__} without Python code to hash")
        walk = _Walk(home=fn.__module__)
        func: Any = fn
        if isinstance(fn, types.MethodType):
            _feed(h, fn.__self__, walk)
            func = fn.__func__
        walk.seen.add(id(func))
        _feed_function(h, func, walk)
    except _Unhashable as err:
        name = getattr(fn, "__qualname__", None) or type(fn).__name__
        msg = (
            f"{role}={name} cannot be hashed into a store key ({err}): pass an explicit key= "
            "naming this experiment (change it whenever the function changes)"
        )
        raise StoreError(msg) from None
    return h.hexdigest()


_PLAIN = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis))


class _Walk:
    """State of one :func:`callable_key` walk: functions already hashed, and the module of the
    user's function (functions of other modules are library code, identified by name)."""

    def __init__(self, home: str | None) -> None:
        self.home = home
        self.seen: set[int] = set()


def _feed(h: Any, value: Any, walk: _Walk) -> None:
    """Hash ``value`` canonically into ``h``; raise :class:`_Unhashable` for opaque objects."""
    h.update(type(value).__qualname__.encode() + b"\0")
    if isinstance(value, _PLAIN):
        h.update(repr(value).encode() + b"\0")
    elif isinstance(value, (tuple, list)):
        h.update(b"%d\0" % len(value))
        for item in value:
            _feed(h, item, walk)
    elif isinstance(value, (set, frozenset, dict)):
        _feed_unordered(h, value, walk)
    elif isinstance(value, types.CodeType):
        _feed_code(h, value, walk)
    elif isinstance(value, (types.FunctionType, types.MethodType)):
        if id(value) in walk.seen:  # a recursive helper refers to itself
            h.update(b"<cycle>")
            return
        walk.seen.add(id(value))
        if isinstance(value, types.MethodType):
            _feed(h, value.__self__, walk)
            value = value.__func__
        if value.__module__ != walk.home:
            h.update(f"{value.__module__}.{value.__qualname__}".encode())
        else:
            _feed_function(h, value, walk)
    elif isinstance(value, types.BuiltinFunctionType):  # library code: its name identifies it
        h.update(f"{getattr(value, '__module__', None)}.{value.__qualname__}".encode())
    elif isinstance(value, types.ModuleType):
        h.update(value.__name__.encode())
    elif isinstance(value, np.generic):
        h.update(repr(value.item()).encode())
    elif isinstance(value, np.ndarray) and value.dtype != object:
        h.update(f"{value.dtype.str}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif type(value).__module__ == "torch" and type(value).__name__ in ("Tensor", "Parameter"):
        _feed(h, value.detach().cpu().numpy(), walk)
    else:
        raise _Unhashable(f"it holds a {type(value).__name__} object, which has no stable value")


def _feed_unordered(h: Any, value: Any, walk: _Walk) -> None:
    items = value.items() if isinstance(value, dict) else ((v, None) for v in value)
    digests = []
    for k, v in items:
        sub = hashlib.sha256()
        _feed(sub, k, walk)
        _feed(sub, v, walk)
        digests.append(sub.digest())
    h.update(b"".join(sorted(digests)))


def _feed_code(h: Any, code: types.CodeType, walk: _Walk) -> None:
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_argcount, code.co_kwonlyargcount)).encode())
    _feed(h, code.co_consts, walk)


def _feed_function(h: Any, fn: types.FunctionType, walk: _Walk) -> None:
    _feed_code(h, fn.__code__, walk)
    _feed(h, fn.__defaults__, walk)
    _feed(h, fn.__kwdefaults__, walk)
    for cell in fn.__closure__ or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # a cell not yet filled (a name assigned after the inner def)
            h.update(b"<empty cell>")
            continue
        _feed(h, contents, walk)
    _feed_globals(h, fn, walk)


def _feed_globals(h: Any, fn: types.FunctionType, walk: _Walk) -> None:
    """Globals the code reads that are plain data, or functions of the same module: a changed
    global constant or helper changes the outputs. Modules, classes and objects (a loaded model,
    a tokenizer) are left out: hashing them is not reliable, and refusing them would refuse
    almost every real score function."""
    names: set[str] = set()
    stack = [fn.__code__]
    while stack:  # names read by nested code (a comprehension, an inner lambda) count too
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    for name in sorted(names):
        if name not in fn.__globals__:
            continue
        value = fn.__globals__[name]
        if not isinstance(value, (*_PLAIN, tuple, list, set, frozenset, dict, np.ndarray, np.generic,
                                  types.FunctionType)):
            continue
        sub = hashlib.sha256()
        try:
            _feed(sub, value, walk)
        except _Unhashable:  # a global container of objects: left out, like objects themselves
            continue
        h.update(name.encode() + b"=" + sub.digest())


def _retry_while_locked(step: Callable[[], object], timeout: float) -> None:
    """Run ``step``, retrying while SQLite reports the file locked, for up to ``timeout`` s.

    Processes opening a new store at the same moment all try to switch it to WAL; SQLite
    answers some of them "database is locked" at once (its busy timeout does not apply where
    waiting could deadlock), so the switch is retried with backoff.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            if time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


class EvalStore:
    """A SQLite file of ``(experiment key, mask) -> output`` rows, safe for concurrent writers."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 120.0) -> None:
        self.path = Path(path) if path is not None else cache_dir() / "evals.sqlite"
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as err:
            raise _store_error(self.path, err) from err
        try:
            # Checked before anything is written: a foreign database is left exactly as it was.
            fresh = self._check_schema()
            _retry_while_locked(lambda: self._conn.execute("PRAGMA journal_mode=WAL"), timeout)
            # NORMAL in WAL mode survives a killed process (only power loss can drop the last commits).
            self._conn.execute("PRAGMA synchronous=NORMAL")
            if fresh:
                _retry_while_locked(lambda: self._conn.executescript(_SCHEMA), timeout)
        except StoreError:
            self._conn.close()
            raise
        except (OSError, sqlite3.DatabaseError) as err:
            self._conn.close()
            raise _store_error(self.path, err) from err

    def _check_schema(self) -> bool:
        """Whether the tables must still be created; refuses a database of another schema."""
        rows = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        tables = sorted(r[0] for r in rows)
        for name in tables:
            columns = [c[1] for c in self._conn.execute(f"PRAGMA table_info({name!r})")]
            if _TABLES.get(name) != columns:
                msg = (
                    f"{self.path} is not a fastspex store (a SQLite database holding table "
                    f"{name!r} with columns {columns}): move it away or pass store=None to run "
                    "without the store"
                )
                raise StoreError(msg)
        return tables != sorted(_TABLES)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Hold the lock; SQLite errors become a StoreError naming the file and the way out."""
        with self._lock:
            try:
                yield
            except sqlite3.DatabaseError as err:
                raise _store_error(self.path, err) from err

    def close(self) -> None:
        """Close the connection (further use raises)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EvalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EvalStore({str(self.path)!r})"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: committed whole, or rolled back whole (a failed COMMIT, as on a
        full disk, leaves it open: it is rolled back so the connection stays usable)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise

    def register(self, key: str, n: int, meta: dict[str, Any] | None = None) -> None:
        """Record an experiment; refuses to reuse ``key`` with a different ``n``."""
        with self._guard():
            row = self._conn.execute("SELECT n FROM experiments WHERE key = ?", (key,)).fetchone()
            if row is not None:
                if int(row[0]) != int(n):
                    msg = f"store key {key[:12]}… was recorded with n = {row[0]}, not {n}"
                    raise ValueError(msg)
                return
            self._conn.execute(
                "INSERT OR IGNORE INTO experiments VALUES (?, ?, ?, ?)",
                (key, int(n), json.dumps(meta or {}, default=repr), time.time()),
            )

    def lookup(self, key: str, masks: PackedMasks) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """For each mask: whether it is stored, and its stored output (``None`` if not)."""
        rows = masks.row_bytes()
        found: dict[bytes, bytes] = {}
        with self._guard():
            for start in range(0, len(rows), _LOOKUP_CHUNK):
                chunk = rows[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                cur = self._conn.execute(
                    f"SELECT mask, output FROM evals WHERE key = ? AND mask IN ({marks})",
                    (key, *chunk),
                )
                found.update(cur.fetchall())
        if any(len(blob) % 8 or not blob for blob in found.values()):
            msg = (
                f"{self.path} is corrupt (a stored output of experiment {key[:12]}… is not float64 "
                f"bytes): clear it with EvalStore({str(self.path)!r}).clear(key), move the file away "
                "or pass store=None"
            )
            raise StoreError(msg)
        outputs = [
            np.frombuffer(found[r], dtype=np.float64).copy() if r in found else None for r in rows
        ]
        hit = np.fromiter((o is not None for o in outputs), bool, count=len(rows))
        return hit, outputs

    def put(self, key: str, masks: PackedMasks, outputs: np.ndarray) -> None:
        """Store a batch atomically: all of its rows or none."""
        out = np.ascontiguousarray(outputs, dtype=np.float64)
        if out.shape[0] != len(masks):
            msg = f"put: {len(masks)} masks but {out.shape[0]} outputs"
            raise ValueError(msg)
        out2 = out.reshape(len(masks), -1)
        data = [(key, m, o.tobytes()) for m, o in zip(masks.row_bytes(), out2)]
        with self._guard(), self._transaction():
            self._conn.executemany("INSERT OR REPLACE INTO evals VALUES (?, ?, ?)", data)

    def count(self, key: str) -> int:
        """Number of stored masks for ``key``."""
        with self._guard():
            return int(self._conn.execute("SELECT COUNT(*) FROM evals WHERE key = ?", (key,)).fetchone()[0])

    def items(self, key: str) -> tuple[PackedMasks, np.ndarray]:
        """Every stored ``(masks, outputs)`` of an experiment, in storage order."""
        with self._guard():
            n_row = self._conn.execute("SELECT n FROM experiments WHERE key = ?", (key,)).fetchone()
            rows = self._conn.execute("SELECT mask, output FROM evals WHERE key = ?", (key,)).fetchall()
        if n_row is None:
            msg = f"no experiment {key[:12]}… in {self.path}"
            raise KeyError(msg)
        n = int(n_row[0])
        if not rows:
            return PackedMasks(np.zeros((0, (n + 63) // 64), np.uint64), n), np.zeros(0)
        masks = PackedMasks.from_row_bytes([r[0] for r in rows], n)
        outs = np.stack([np.frombuffer(r[1], dtype=np.float64) for r in rows])
        return masks, (outs[:, 0] if outs.shape[1] == 1 else outs)

    def keys(self) -> list[str]:
        """All experiment keys in the store."""
        with self._guard():
            return [r[0] for r in self._conn.execute("SELECT key FROM experiments ORDER BY created")]

    def clear(self, key: str) -> None:
        """Forget an experiment and all its outputs."""
        with self._guard(), self._transaction():
            self._conn.execute("DELETE FROM evals WHERE key = ?", (key,))
            self._conn.execute("DELETE FROM experiments WHERE key = ?", (key,))


_default: EvalStore | None = None
_default_lock = threading.Lock()


def default_store() -> EvalStore:
    """The process-wide store under :func:`cache_dir` (opened on first use)."""
    global _default
    with _default_lock:
        if _default is None or _default.path != cache_dir() / "evals.sqlite":
            _default = EvalStore()
        return _default
