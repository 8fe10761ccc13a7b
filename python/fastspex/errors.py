"""Errors shared across fastspex, and the memory check that raises them before a large allocation."""

from __future__ import annotations

__all__ = ["MemoryLimitError", "available_memory_bytes", "check_memory"]


class MemoryLimitError(MemoryError):
    """A computation would need more memory than this machine has available."""


def available_memory_bytes() -> int:
    """Memory available to new allocations: psutil's figure, else /proc/meminfo ``MemAvailable``."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62  # unknown: do not refuse


def check_memory(needed_bytes: int, what: str, way_out: str) -> None:
    """Raise :class:`MemoryLimitError` (one line) when ``needed_bytes`` exceeds available memory."""
    available = available_memory_bytes()
    if needed_bytes > available:
        msg = (f"{what} needs about {needed_bytes / 1e9:.1f} GB but only {available / 1e9:.1f} GB "
               f"of memory is available; {way_out}")
        raise MemoryLimitError(msg)
