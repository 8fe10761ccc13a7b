"""Progress of long work that shows also when stderr is not a terminal (CI logs, nohup).

:func:`counter` counts model calls: a tqdm bar on a terminal, else plain lines on stderr at most
every :data:`EVERY` seconds plus a final line (no carriage returns, so a log stays readable).
:func:`stage` announces a fit stage and how long it took.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

__all__ = ["EVERY", "counter", "stage"]

#: Seconds between two plain progress lines off a terminal.
EVERY = 12.0

_now = time.monotonic  # a module attribute, so tests can swap in a fake clock


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


@contextlib.contextmanager
def counter(total: int, enabled: bool, *, desc: str = "model calls",
            stream: TextIO | None = None) -> Iterator[Callable[[int], None]]:
    """Yields ``tick(k)`` that counts ``k`` more of ``total`` done; prints nothing when not
    ``enabled``."""
    out = stream if stream is not None else sys.stderr
    if not enabled:
        yield lambda k: None
        return
    if getattr(out, "isatty", lambda: False)():
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="mask", desc=desc, file=out)
        try:
            yield bar.update
        finally:
            bar.close()
        return
    start = last = _now()
    done = 0

    def line(final: bool) -> str:
        spent = _now() - start
        rate = done / spent if spent > 0 else 0.0
        tail = (f"done in {_duration(spent)}" if final else
                f"about {_duration((total - done) / rate)} left" if rate else "")
        return (f"{desc}: {done:,}/{total:,} ({100 * done // max(total, 1)}%), "
                f"{rate:.1f} masks/s, {tail}")

    def tick(k: int) -> None:
        nonlocal done, last
        done += k
        if done < total and _now() - last >= EVERY:
            last = _now()
            print(line(False), file=out, flush=True)

    try:
        yield tick
    finally:
        print(line(True), file=out, flush=True)


@contextlib.contextmanager
def stage(name: str, enabled: bool | None, *, stream: TextIO | None = None) -> Iterator[None]:
    """``fitting: <name> …`` on entry and ``fitting: <name> done in 3.2 s`` on exit, when
    ``enabled`` (nothing on exit by an exception: the error says what happened)."""
    if not enabled:
        yield
        return
    out = stream if stream is not None else sys.stderr
    began = _now()
    print(f"fitting: {name} …", file=out, flush=True)
    yield
    print(f"fitting: {name} done in {_now() - began:.1f} s", file=out, flush=True)
