"""Shared benchmark helpers: timing medians, the table printer, the JSON writer, machine facts.

Every script writes exactly one results file, ``results/<script>.json`` (plus
``results/<script>.png`` where it plots), through :func:`write_json`, which attaches
:func:`machine`. ``--out`` (see :func:`add_out_argument`) sends a run elsewhere; ``--quick``
runs go to ``$TMPDIR/fastspex-bench/`` unless ``--out`` says otherwise, so smoke runs never
overwrite the canonical numbers. Child processes and peak memory: see ``_child.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
QUICK_DIR = Path(tempfile.gettempdir()) / "fastspex-bench"

for _p in (str(ROOT / "python"), str(BENCH)):  # the working copy's fastspex, and these helpers
    if _p not in sys.path:
        sys.path.insert(0, _p)

# Taken when a script imports this module, i.e. before it measures anything.
_START = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average": os.getloadavg()}


def median_time(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs (seconds)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                             timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _fastspex_version() -> str | None:
    try:
        import fastspex

        return getattr(fastspex, "__version__", None)
    except Exception:  # noqa: BLE001 - a broken import is recorded, not fatal
        return None


def machine() -> dict[str, Any]:
    """The facts that make a benchmark number comparable."""
    import numpy as np

    status = _git("status", "--porcelain", "--untracked-files=no")
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": _memory_gib(),
        "load_average_at_start": _START["load_average"],
        "load_average_at_end": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "fastspex": _fastspex_version(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": _START["date"],
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str | None = None) -> None:
    """A plain fixed-width table (markdown pipes, so it pastes into notes)."""
    def fmt(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
        return str(v)

    if title:
        print(f"\n{title}")
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")


def add_out_argument(parser: argparse.ArgumentParser, name: str) -> None:
    """``--out PATH``: where the JSON (and the PNG next to it) goes; see :func:`out_path`."""
    parser.add_argument(
        "--out", type=Path, default=None,
        help=f"results JSON (default results/{name}.json; with --quick {QUICK_DIR}/{name}.json)")


def out_path(name: str, args: argparse.Namespace) -> Path:
    """``--out`` if given; else ``results/<name>.json``, or the scratch dir for ``--quick``."""
    if getattr(args, "out", None):
        return Path(args.out)
    if getattr(args, "quick", False):
        return QUICK_DIR / f"{name}.json"
    return RESULTS / f"{name}.json"


def png_path(json_path: Path) -> Path:
    """The figure that belongs to a results file: same name, ``.png``."""
    return Path(json_path).with_suffix(".png")


def write_json(name: str, payload: dict[str, Any], out: Path | None = None) -> Path:
    """Write ``out`` (default ``results/<name>.json``): ``benchmark``, ``machine``, then the payload.

    A payload may carry its own ``machine`` (a merge of older runs keeps theirs); otherwise the
    facts of this run are attached.
    """
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"benchmark": name, "machine": payload.get("machine") or machine(),
            **{k: v for k, v in payload.items() if k not in ("benchmark", "machine")}}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path
