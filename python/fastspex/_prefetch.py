"""Import slow dependencies on a background thread while the model is being evaluated.

``import lightgbm`` takes about 1.8 s here (it pulls in scikit-learn and SciPy); a fit that
imports it only after the model calls adds that to the explainer's time. The model's forward
passes run mostly outside the GIL, so the import overlaps them almost for free.
"""

from __future__ import annotations

import importlib
import sys
import threading

__all__ = ["import_in_background"]


def import_in_background(*names: str) -> None:
    """Start importing the modules ``names`` that are not imported yet on a daemon thread.

    A module that fails to import is left alone: the foreground import raises the error where
    the module is needed.
    """
    todo = [name for name in names if name not in sys.modules]
    if not todo:
        return

    def load() -> None:
        for name in todo:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S112 - reported by the foreground import
                continue

    threading.Thread(target=load, name="fastspex-prefetch", daemon=True).start()
