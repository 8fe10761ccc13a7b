"""The store never serves stale outputs: keys cover the model config, the fastspex version and
the code of a user ``output=`` callable; unhashable callables need an explicit key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fastspex.store import EvalStore, StoreError
from fastspex.value import Evaluator

TEXT = "The quick brown fox jumps over the lazy dog."


def _last_logit(index: int):
    """An output callable whose closure holds ``index``: same code, different constant."""
    return lambda out, batch: out.logits[:, -1, index]


class _Opaque:
    """An object without a stable identity (its repr holds its address)."""


def FeatureAblation(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - stands for the class
    """``fastspex.ablate.FeatureAblation``, imported only by the tests that need a model."""
    from fastspex.ablate import FeatureAblation as cls

    return cls(*args, **kwargs)


def load_model(*args: Any, **kwargs: Any) -> Any:
    from fastspex.ablate import load_model as load

    return load(*args, **kwargs)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch
    from _tiny_models import gpt2

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models crawl with several threads on a busy machine
    model, tok = gpt2()
    path = tmp_path_factory.mktemp("models") / "tiny-gpt2"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    yield path
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lm(tiny_folder: Path) -> Any:
    return load_model(tiny_folder, device="cpu")


def test_two_lambdas_with_different_bodies_get_different_keys(lm: Any) -> None:
    first = FeatureAblation(TEXT, lm, output=lambda out, batch: out.logits[:, -1, 0])
    second = FeatureAblation(TEXT, lm, output=lambda out, batch: out.logits[:, -1, 0] * 2)
    assert first.cache_key != second.cache_key
    same = FeatureAblation(TEXT, lm, output=lambda out, batch: out.logits[:, -1, 0])
    assert same.cache_key == first.cache_key  # the key is stable, not random


def test_same_lambda_with_another_closure_constant_gets_another_key(lm: Any) -> None:
    a = FeatureAblation(TEXT, lm, output=_last_logit(3))
    b = FeatureAblation(TEXT, lm, output=_last_logit(4))
    assert a.cache_key != b.cache_key
    assert FeatureAblation(TEXT, lm, output=_last_logit(3)).cache_key == a.cache_key


def test_default_arguments_are_part_of_the_key(lm: Any) -> None:
    a = FeatureAblation(TEXT, lm, output=lambda out, batch, i=1: out.logits[:, -1, i])
    b = FeatureAblation(TEXT, lm, output=lambda out, batch, i=2: out.logits[:, -1, i])
    assert a.cache_key != b.cache_key


def test_the_fastspex_version_is_part_of_the_key(lm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastspex._version

    before = FeatureAblation(TEXT, lm).cache_key
    monkeypatch.setattr(fastspex._version, "__version__", "999.0.0")
    assert FeatureAblation(TEXT, lm).cache_key != before


@pytest.mark.parametrize("library", ["torch", "transformers"])
def test_the_torch_and_transformers_versions_are_part_of_the_key(
    lm: Any, monkeypatch: pytest.MonkeyPatch, library: str
) -> None:
    from importlib import metadata

    before = FeatureAblation(TEXT, lm).cache_key
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "0.0.1" if name == library else real(name))
    assert FeatureAblation(TEXT, lm).cache_key != before
    monkeypatch.setattr(metadata, "version", real)
    assert FeatureAblation(TEXT, lm).cache_key == before


@pytest.mark.parametrize(("field", "value"), [("activation_function", "relu"), ("n_head", 2)])
def test_an_edited_config_gets_a_new_key_and_fresh_outputs(
    tiny_folder: Path, tmp_path: Path, field: str, value: Any
) -> None:
    import shutil

    edited = tmp_path / "edited"
    shutil.copytree(tiny_folder, edited)
    store = EvalStore(tmp_path / "evals.sqlite")
    masks = np.random.default_rng(0).random((12, 9)) < 0.5
    original = FeatureAblation(TEXT, load_model(edited, device="cpu"), target=" dog")
    assert original.n == 9
    Evaluator(original, store=store, progress=False)(masks)

    cfg = json.loads((edited / "config.json").read_text())
    assert cfg[field] != value
    cfg[field] = value
    (edited / "config.json").write_text(json.dumps(cfg))
    changed = FeatureAblation(TEXT, load_model(edited, device="cpu"), target=" dog")
    assert changed.cache_key != original.cache_key
    ev = Evaluator(changed, store=store, progress=False)
    got = ev(masks)
    assert ev.calls == len(np.unique(masks, axis=0))  # nothing came from the stale rows
    # The known answer: the edited model itself, evaluated with no store at all.
    np.testing.assert_allclose(got, changed(masks), rtol=1e-6)
    assert not np.allclose(got, original(masks))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: (lambda obj: (lambda out, batch: out.logits[:, -1, 0] + 0 * id(obj)))(_Opaque()),
                     id="closure-holds-an-object"),
        pytest.param(lambda: _Callable(), id="callable-object"),
        pytest.param(lambda: max, id="builtin"),
    ],
)
def test_an_unhashable_output_without_a_key_is_refused(lm: Any, make: Any) -> None:
    fn = make()
    with pytest.raises(StoreError, match="pass an explicit key=") as info:
        FeatureAblation(TEXT, lm, output=fn)
    text = str(info.value)
    assert "\n" not in text
    assert "output=" in text


class _Callable:
    """A callable object: no ``__code__`` to hash."""

    def __call__(self, out: Any, batch: dict[str, Any]) -> Any:
        return out.logits[:, -1, 0]


def test_an_unhashable_output_with_a_key_works(lm: Any, tmp_path: Path) -> None:
    holder = _Opaque()
    holder.index = 0  # type: ignore[attr-defined]
    fa = FeatureAblation(TEXT, lm, output=lambda out, batch: out.logits[:, -1, holder.index], key="my-exp")
    assert fa.cache_key == "my-exp"
    store = EvalStore(tmp_path / "evals.sqlite")
    masks = np.ones((2, fa.n), bool)
    masks[1, 0] = False
    ev = Evaluator(fa, store=store, progress=False)
    np.testing.assert_allclose(ev(masks), fa(masks))
    assert store.count("my-exp") == 2


# ---- item 13: a store that cannot be used is one line naming the file and the way out --------


def _one_line_store_error(make: Any, *needles: str) -> str:
    with pytest.raises(StoreError) as info:
        make()
    text = str(info.value)
    assert "\n" not in text, text
    for needle in needles:
        assert needle in text, (needle, text)
    return text


def _masks(n: int = 6) -> np.ndarray:
    return np.random.default_rng(1).random((20, n)) < 0.5


def _weights(masks: np.ndarray) -> np.ndarray:
    return np.asarray(masks, float) @ np.arange(1.0, masks.shape[1] + 1)


def test_garbage_bytes_are_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "evals.sqlite"
    garbage = bytes(range(256)) * 64
    path.write_bytes(garbage)
    _one_line_store_error(lambda: EvalStore(path), str(path), "is not a fastspex store",
                          "move it away", "store=None")
    _one_line_store_error(lambda: Evaluator(_weights, 6, store=path, key="k"), str(path), "store=None")
    assert path.read_bytes() == garbage  # the file is left as it was


def test_a_sqlite_file_with_another_schema_is_not_a_store(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "evals.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'Ada')")
    conn.close()
    _one_line_store_error(lambda: EvalStore(path), str(path), "is not a fastspex store", "customers",
                          "store=None")
    with sqlite3.connect(path) as conn:  # nothing was added to (or changed in) the user's file
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert tables == ["customers"] and mode == "delete"

    other = tmp_path / "same-names.sqlite"  # our table names, other columns
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE evals (a TEXT)")
    conn.close()
    _one_line_store_error(lambda: EvalStore(other), str(other), "is not a fastspex store", "store=None")


def test_a_corrupted_store_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "evals.sqlite"
    store = EvalStore(path)
    store.register("k", 6)
    ev = Evaluator(_weights, 6, store=store, key="k", progress=False)
    masks = _masks()
    ev(masks)
    store.close()
    size = path.stat().st_size
    raw = bytearray(path.read_bytes())
    # Keep the header page, overwrite every later page: the tables' b-trees are garbage.
    raw[4096:] = bytes([0xA5]) * (len(raw) - 4096)
    assert size > 4096
    path.write_bytes(bytes(raw))
    for name in ("evals.sqlite-wal", "evals.sqlite-shm"):
        (tmp_path / name).unlink(missing_ok=True)

    def use() -> None:
        Evaluator(_weights, 6, store=path, key="k", progress=False)(masks)

    _one_line_store_error(use, str(path), "corrupt", "move it away", "store=None")


def test_an_unreadable_store_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sqlite3

    path = tmp_path / "evals.sqlite"
    EvalStore(path).close()
    if os.geteuid() != 0:  # a real chmod 000 (root reads through it, so it is only simulated there)
        path.chmod(0)
        try:
            _one_line_store_error(lambda: EvalStore(path), str(path), "permission", "store=None")
        finally:
            path.chmod(0o644)
    # What SQLite says when it may not read the file, whoever runs the tests.
    real_connect = sqlite3.connect

    def refuse(database: str, *args: Any, **kwargs: Any) -> Any:
        if str(database) == str(path):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", refuse)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: str(p) != str(path))
    _one_line_store_error(lambda: EvalStore(path), str(path), "cannot be opened", "permission",
                          "store=None")


class _FailingConnection:
    """A connection whose writes fail as SQLite's do on a full disk or a read-only file."""

    def __init__(self, conn: Any, message: str) -> None:
        self._conn = conn
        self._message = message

    def execute(self, sql: str, *args: Any) -> Any:
        import sqlite3

        if sql.startswith(("INSERT", "COMMIT", "BEGIN")):
            raise sqlite3.OperationalError(self._message)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        import sqlite3

        raise sqlite3.OperationalError(self._message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.mark.parametrize(
    ("message", "needles"),
    [
        ("database or disk is full", ("disk is full", "free some space", "store=None")),
        ("attempt to write a readonly database", ("read-only", "writable", "store=None")),
    ],
)
def test_a_store_that_cannot_be_written_is_an_error_naming_it(tmp_path: Path, message: str, needles: tuple[str, ...]) -> None:
    path = tmp_path / "evals.sqlite"
    store = EvalStore(path)
    ev = Evaluator(_weights, 6, store=store, key="k", progress=False)
    store._conn = _FailingConnection(store._conn, message)  # type: ignore[assignment]
    _one_line_store_error(lambda: ev(_masks()), str(path), *needles)


def test_a_read_only_folder_is_an_error_naming_the_store(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes through read-only permissions; the read-only case is simulated "
                    "in test_a_store_that_cannot_be_written_is_an_error_naming_it")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        _one_line_store_error(lambda: Evaluator(_weights, 6, store=folder / "evals.sqlite", key="k"),
                              str(folder / "evals.sqlite"), "store=None")
    finally:
        folder.chmod(0o755)


def test_the_cli_turns_a_store_error_into_one_line_and_status_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("fastspex.ablate.units")  # imported before the stand-in replaces ablate
    from _surface_helpers import FakeFeatureAblation, install_fake_ablate, install_fake_methods
    from fastspex import cli

    install_fake_ablate(monkeypatch)
    install_fake_methods(monkeypatch)
    init = FakeFeatureAblation.__init__

    def with_a_key(self: Any, *args: Any) -> None:  # a real ablation has a key: the store is used
        init(self, *args)
        self.cache_key = "cli-test"

    monkeypatch.setattr(FakeFeatureAblation, "__init__", with_a_key)
    path = tmp_path / "evals.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SystemExit) as exc:
        cli.main(["explain", "text", "the movie was not bad at all", "--no-progress", "--no-report",
                  "--store", str(path), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("fastspex: error: ") and str(path) in err[0]
    assert "is not a fastspex store" in err[0] and "--store none" in err[0], err[0]


# ---- item 9: a slow batch is stored in parts, every few seconds of model time ----------------

_SLOW_WORKER = r"""
import os, sys, time
import numpy as np
from fastspex import masks as M
from fastspex.store import EvalStore
from fastspex.value import Evaluator

store_path, log_path, per_mask, commit_every = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
weights = np.arange(1.0, 21.0)

def slow(masks):
    time.sleep(per_mask * len(masks))  # model time grows with the batch, as on a real model
    with open(log_path, "a") as log:
        log.write(f"{len(masks)}\n")
        log.flush()
        os.fsync(log.fileno())
    return masks @ weights

import inspect
# Passed only where it exists, so the same worker shows what an older Evaluator loses.
extra = {"commit_every": commit_every} if "commit_every" in inspect.signature(Evaluator).parameters else {}
ev = Evaluator(slow, 20, batch_size=64, store=EvalStore(store_path), key="slow", progress=False, **extra)
ev(M.bernoulli(400, 20, seed=3))
print("done", flush=True)
"""


def test_a_killed_slow_run_keeps_the_rows_of_its_unfinished_batch(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    store_path, log = tmp_path / "evals.sqlite", tmp_path / "calls.log"
    batch, per_mask = 64, 0.01  # a full batch is 0.64 s of model time; commits every 0.2 s
    env = dict(os.environ)
    src = Path(__file__).resolve().parents[1] / "python"
    if any((src / "fastspex").glob("_core*.so")):  # an in-place development build
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    with open(tmp_path / "worker.out", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SLOW_WORKER, str(store_path), str(log), str(per_mask), "0.2"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )

    def evaluated() -> int:
        return sum(int(x) for x in log.read_text().split()) if log.exists() else 0

    deadline = time.monotonic() + 60
    while evaluated() < batch + batch // 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "worker.out").read_text()
    done = evaluated()
    assert batch + batch // 2 <= done < 400

    store = EvalStore(store_path)
    masks, outputs = store.items("slow")
    # The known answer: every stored output is the function's value.
    np.testing.assert_allclose(outputs, masks.to_bool() @ np.arange(1.0, 21.0))
    full_batches_done = done // batch * batch
    assert len(masks) > full_batches_done, "rows evaluated after the last full batch ended were lost"
    assert done - len(masks) <= batch // 2  # at most the call in flight (~0.2 s of work) is lost


def test_calls_adapt_to_the_commit_interval_and_can_be_whole_batches() -> None:
    import time

    sizes: list[int] = []

    def slow(masks: np.ndarray) -> np.ndarray:
        sizes.append(len(masks))
        time.sleep(0.002 * len(masks))
        return _weights(masks)

    masks = np.random.default_rng(2).random((300, 10)) < 0.5
    want = _weights(masks)
    ev = Evaluator(slow, 10, batch_size=64, store=None, progress=False, commit_every=0.04)
    np.testing.assert_allclose(ev(masks), want)
    assert sum(sizes) == len(np.unique(masks, axis=0)) and max(sizes) <= 64
    assert max(sizes[1:]) < 64  # a whole batch (0.13 s) is longer than the interval: split
    assert Evaluator(slow, 10, store=None).commit_every == 5.0  # the default

    sizes.clear()
    whole = Evaluator(slow, 10, batch_size=64, store=None, progress=False, commit_every=None)
    np.testing.assert_allclose(whole(masks), want)
    assert sizes[:-1] == [64] * (len(sizes) - 1)
    for bad in (0, -1.0, "5", True):
        with pytest.raises(ValueError, match="commit_every"):
            Evaluator(slow, 10, store=None, commit_every=bad)  # type: ignore[arg-type]
