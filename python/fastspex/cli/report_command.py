"""``fastspex report``: the HTML report of a saved result."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .errors import fail

__all__ = ["run"]


def _same_entry(a: Path, b: Path) -> bool:
    """Whether two paths name the same directory entry or the same file."""
    def entry(p: Path) -> Path:
        return p.absolute().parent.resolve() / p.name

    if entry(a) == entry(b) or entry(a) == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    from ..results import report
    from ..results.interactions import Interactions

    src = Path(args.result)
    if not src.is_file():
        raise fail(f"no such result file: {src}")
    out = Path(args.out) if args.out else src.with_name("report.html")
    if (out.is_dir() and not out.is_symlink()) or (args.out and args.out.endswith(os.sep)):
        out = out / "report.html"
    if _same_entry(out, src):
        raise fail(f"--out {args.out} is the result file itself; the report would replace it: "
                    "give another path (default: report.html beside the result)")
    try:
        res = Interactions.load(src)
    except (TypeError, ValueError) as err:
        raise fail(f"{src}: {err}") from err
    print(f"report: {report.save(res, out)}")
    return 0


