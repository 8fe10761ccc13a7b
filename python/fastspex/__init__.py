"""fastspex: C++-accelerated SPEX and ProxySPEX for finding the interactions behind a model's output."""

from __future__ import annotations

try:
    from . import _core
except ImportError as err:  # pragma: no cover - only when the build is missing
    msg = (
        "fastspex's C++ extension (fastspex._core) is not built or does not load; "
        "reinstall with `pip install .` (or `pip install -e .` for development)"
    )
    raise ImportError(msg) from err

from . import dense, indices, masks, pairs, store, value
from .coefficients import Coefficients
from .masks import PackedMasks
from .store import EvalStore
from .value import Evaluator, ModelCallError, ValueFunction, ValueFunctionError

__version__ = "0.1.0"

__all__ = [
    "Coefficients",
    "EvalStore",
    "Evaluator",
    "ModelCallError",
    "PackedMasks",
    "ValueFunction",
    "ValueFunctionError",
    "__version__",
    "dense",
    "indices",
    "masks",
    "pairs",
    "store",
    "value",
]
