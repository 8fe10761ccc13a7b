"""Run a measurement in a child process and report its peak memory.

The one helper every benchmark uses for "fresh process, own peak memory, timeout":

* in the child, wrap the measured code in ``with MemoryMeter() as mem:`` and end with
  ``report({...})``: one JSON line on stdout, marked so that library chatter on stdout is
  ignored; ``mem.baseline_mib`` / ``mem.peak_mib`` / ``mem.rise_mib`` are the numbers;
* in the parent, ``run_child(__file__, [...args], timeout=...)`` (or ``start_child`` + ``wait``
  for several children at once) returns a :class:`ChildResult` with the reported records and a
  status (``ok``, ``timeout > T s`` or ``error: <last stderr line>``).

Peak memory is the kernel's resident-set high-water mark (``VmHWM`` in /proc/self/status), read
by the child itself: unlike ``ru_maxrss``, which Linux carries over from the parent across
vfork/fork + exec, it belongs to the child alone. :class:`MemoryMeter` also resets it
(``/proc/self/clear_refs``) on entry where the kernel allows, so a block measured after the
imports reports only its own rise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@bench@@ "  # prefix of a reported record on the child's stdout


def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> float:
    """Current resident set size of this process (MiB)."""
    kib = _status_kib("VmRSS")
    return float("nan") if kib is None else kib / 1024


def peak_rss_mib() -> float:
    """Peak resident set size of this process (VmHWM, MiB); ``ru_maxrss`` where /proc is absent
    (then it may include the parent's peak, see the module docstring)."""
    kib = _status_kib("VmHWM")
    if kib is None:
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024


def reset_peak() -> bool:
    """Reset the high-water mark to the current RSS (Linux ``clear_refs`` 5); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class MemoryMeter:
    """``with MemoryMeter() as m: ...`` -> ``m.baseline_mib`` (RSS on entry), ``m.peak_mib``
    (high-water mark on exit) and ``m.rise_mib = max(0, peak - baseline)``."""

    def __init__(self, reset: bool = True) -> None:
        self.reset = reset
        self.was_reset = False
        self.baseline_mib = self.peak_mib = self.rise_mib = float("nan")

    def __enter__(self) -> "MemoryMeter":
        self.was_reset = reset_peak() if self.reset else False
        self.baseline_mib = rss_mib()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.peak_mib = peak_rss_mib()
        self.rise_mib = max(0.0, self.peak_mib - self.baseline_mib)


def report(record: dict[str, Any]) -> None:
    """Child side: send one record to the parent (adds ``child_peak_rss_mib`` if absent)."""
    record.setdefault("child_peak_rss_mib", peak_rss_mib())
    print(MARK + json.dumps(record, default=str), flush=True)


@dataclass
class ChildResult:
    status: str  # "ok", "timeout > T s", "error: ..."
    records: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def last(self) -> dict[str, Any] | None:
        return self.records[-1] if self.records else None


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment with ``python/`` and ``benchmarks/`` first on PYTHONPATH, so the
    child imports the same fastspex and the shared helpers."""
    parts = [str(ROOT / "python"), str(ROOT / "benchmarks")]
    parts += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in parts]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(parts), **(extra or {})}


class Child:
    """A running child: ``python script *args``; ``wait(timeout)`` -> :class:`ChildResult`."""

    def __init__(self, script: str | Path, args: list[str], env: dict[str, str] | None = None,
                 keep_stderr: bool = True) -> None:
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if keep_stderr else subprocess.DEVNULL, text=True,
            env=child_env(env))

    def wait(self, timeout: float | None = None) -> ChildResult:
        timed_out = False
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.proc.kill()
            out, err = self.proc.communicate()
        wall = time.perf_counter() - self.t0
        records = [json.loads(ln[len(MARK):]) for ln in (out or "").splitlines() if ln.startswith(MARK)]
        tail = (err or "").strip().splitlines()[-5:]
        if timed_out:
            status = f"timeout > {timeout:.0f} s"
        elif self.proc.returncode != 0 or not records:
            status = "error: " + (tail[-1] if tail else f"exit code {self.proc.returncode}, no record")
        else:
            status = "ok"
        return ChildResult(status, records, wall, tail)


def start_child(script: str | Path, args: list[str], env: dict[str, str] | None = None,
                keep_stderr: bool = True) -> Child:
    return Child(script, args, env, keep_stderr)


def run_child(script: str | Path, args: list[str], timeout: float | None = None,
              env: dict[str, str] | None = None, keep_stderr: bool = True) -> ChildResult:
    """Run ``python script *args`` to completion (or ``timeout`` seconds) and collect its records."""
    return Child(script, args, env, keep_stderr).wait(timeout)


def missing_peer(module: str) -> str | None:
    """None if ``module`` can be imported here, else the reason a peer row is skipped."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else f"skipped: {module} not installed (pip install '.[bench]')"
