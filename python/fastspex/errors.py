"""Errors shared by the explainers: a memory guard that refuses before allocating.

``check_memory(needed_bytes, what, way_out)`` compares an estimate with the memory available
now and raises :class:`MemoryLimitError` (a :class:`MemoryError`) with a one-line message naming
the figure in GB, what was being allocated and the way out. Call it before the allocation, with
an estimate derived from what the code really allocates (be conservative).
"""

from __future__ import annotations

import os

__all__ = ["MemoryLimitError", "available_memory", "check_memory"]


class MemoryLimitError(MemoryError):
    """An allocation was refused because it would not fit in the available memory."""


def available_memory() -> int | None:
    """Bytes of memory available now: psutil, else /proc/meminfo MemAvailable, else sysconf;
    ``None`` when none of them answers."""
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def check_memory(needed_bytes: int, what: str, way_out: str) -> None:
    """Raise :class:`MemoryLimitError` if ``needed_bytes`` exceeds the available memory.

    Args:
        needed_bytes: the estimate of what is about to be allocated.
        what: what is being allocated (e.g. "ProxySPEX's LightGBM cross-validation").
        way_out: what the user can do instead (e.g. "use fewer components or method='spex'").
    """
    available = available_memory()
    if available is None or needed_bytes <= available:
        return
    msg = (
        f"{what} needs about {needed_bytes / 1e9:.3g} GB but only {available / 1e9:.3g} GB "
        f"is available; {way_out}"
    )
    raise MemoryLimitError(msg)
