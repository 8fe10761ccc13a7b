"""The evaluation store: persistence, resumption after SIGKILL, concurrent writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastspex import masks as M
from fastspex.store import EvalStore, cache_dir, default_store, experiment_key
from fastspex.value import Evaluator

WORKER = Path(__file__).with_name("_store_worker.py")


def _worker(store: Path, log: Path, m: int, n: int, batch: int, sleep: float, key: str = "kill-test") -> subprocess.Popen:
    env = dict(os.environ)
    src = Path(__file__).resolve().parents[1] / "python"
    if any((src / "fastspex").glob("_core*.so")):  # an in-place development build
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    args = [sys.executable, str(WORKER), str(store), str(log), "5", str(m), str(n), str(batch), str(sleep), key]
    # Output goes to files, not pipes, so a failing test leaks no open descriptors.
    with open(log.with_suffix(".out"), "w") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    proc.wait(timeout=timeout)
    assert proc.returncode == 0, log.with_suffix(".out").read_text()


def _logged(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_put_lookup_round_trip(tmp_path: Path) -> None:
    store = EvalStore(tmp_path / "s.sqlite")
    store.register("k", 70)
    masks = M.bernoulli(10, 70, seed=1)
    store.put("k", masks[:6], np.arange(6.0))
    hit, out = store.lookup("k", masks)
    assert hit.tolist() == [True] * 6 + [False] * 4
    assert [float(o[0]) for o in out[:6]] == list(range(6))
    stored_masks, stored_out = store.items("k")
    assert len(stored_masks) == 6 and sorted(stored_out.tolist()) == list(range(6))
    assert store.count("k") == 6
    store.clear("k")
    assert store.count("k") == 0 and store.keys() == []


def test_put_checks_lengths(tmp_path: Path) -> None:
    store = EvalStore(tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match="3 masks but 2 outputs"):
        store.put("k", M.bernoulli(3, 4, seed=0), np.zeros(2))


def test_default_store_lives_in_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTSPEX_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert default_store().path == tmp_path / "c" / "evals.sqlite"


def test_experiment_key_is_stable() -> None:
    assert experiment_key("model", text="hi", n=3) == experiment_key("model", n=3, text="hi")
    assert experiment_key("model", text="hi") != experiment_key("model", text="ho")


def test_sigkill_mid_run_then_resume_makes_exactly_the_missing_calls(tmp_path: Path) -> None:
    m, n, batch = 200, 30, 10
    store_path, log = tmp_path / "s.sqlite", tmp_path / "calls.log"
    proc = _worker(store_path, log, m, n, batch, sleep=0.05)
    deadline = time.time() + 60
    while len(_logged(log)) < 6 * batch and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    called_before = _logged(log)
    assert 0 < len(called_before) < m

    store = EvalStore(store_path)
    stored_masks, stored_out = store.items("kill-test")
    stored = {"".join("1" if b else "0" for b in row) for row in stored_masks.to_bool()}
    # Nothing stored is lost or corrupted: every stored output is the function's value.
    weights = np.arange(1, n + 1, dtype=float)
    np.testing.assert_allclose(stored_out, stored_masks.to_bool() @ weights)
    # At most the batch in flight was lost.
    assert len(called_before) - len(stored) <= batch

    log.unlink()
    _finish(_worker(store_path, log, m, n, batch, sleep=0.0), log)
    called_after = _logged(log)
    design = {"".join("1" if b else "0" for b in row) for row in M.bernoulli(m, n, seed=5).to_bool()}
    assert set(called_after) == design - stored
    assert len(called_after) == len(set(called_after))  # no mask asked for twice
    assert store.count("kill-test") == len(design)


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    store_path = tmp_path / "s.sqlite"
    logs = [tmp_path / f"log{i}" for i in range(2)]
    procs = [_worker(store_path, log, 400, 20, 5, 0.0, key="shared") for log in logs]
    for proc, log in zip(procs, logs):
        _finish(proc, log)
    con = sqlite3.connect(store_path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    store = EvalStore(store_path)
    masks, outs = store.items("shared")
    design = M.bernoulli(400, 20, seed=5)
    assert len(masks) == len(M.unique(design)[0])
    np.testing.assert_allclose(outs, masks.to_bool() @ np.arange(1, 21, dtype=float))


def test_evaluator_after_interrupt_in_process(tmp_path: Path) -> None:
    """A crash in batch k keeps batches 0..k-1; the rerun only evaluates the rest."""
    store = EvalStore(tmp_path / "s.sqlite")
    calls: list[int] = []

    class Flaky:
        n = 6
        cache_key = "flaky"

        def __init__(self, fail_at: int | None) -> None:
            self.fail_at = fail_at

        def __call__(self, masks: np.ndarray) -> np.ndarray:
            if self.fail_at is not None and len(calls) >= self.fail_at:
                raise KeyboardInterrupt
            calls.append(len(masks))
            return masks.sum(1).astype(float)

    design = M.exhaustive(6)
    with pytest.raises(KeyboardInterrupt):
        Evaluator(Flaky(3), batch_size=8, store=store)(design)
    # The three calls that returned are kept (their sizes adapt to the commit interval).
    assert len(calls) == 3 and store.count("flaky") == sum(calls) > 0
    store_before = store.count("flaky")
    calls.clear()
    ev = Evaluator(Flaky(None), batch_size=8, store=store)
    out = ev(design)
    assert ev.calls == 64 - store_before and sum(calls) == 64 - store_before
    np.testing.assert_allclose(out, design.popcount())


def _open_and_close(path: str) -> str:
    try:
        EvalStore(path).close()
    except Exception as err:  # noqa: BLE001 - reported back to the test
        return repr(err)
    return "ok"


def test_many_processes_open_a_new_store_at_once(tmp_path: Path) -> None:
    """Openers racing to switch a new file to WAL were told "database is locked" at once."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    failures = []
    with ctx.Pool(6) as pool:
        for i in range(30):
            path = str(tmp_path / f"race{i}.sqlite")
            failures += [r for r in pool.map(_open_and_close, [path] * 6) if r != "ok"]
    assert failures == []
