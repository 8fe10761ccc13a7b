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

from ._version import __version__

# Public names whose modules pull in heavy optional dependencies (LightGBM, torch, matplotlib)
# load on first use, so `import fastspex` stays fast and works without the extras.
_LAZY = {
    "ProxySPEX": "proxyspex",
    "ProxySPEXResult": "proxyspex",
    "SPEX": "spex",
    "SPEXResult": "spex",
    "explain": "explain",
    "greedy_search": "greedy",
    "GreedyResult": "greedy",
    "Interactions": "interactions",
    "fit_sparse_polynomial": "proxies",
    "fit_factorization_machine": "proxies",
}
_LAZY_MODULES = {
    "ablate", "explain", "greedy", "interactions", "lgbm", "plot", "proxies", "proxyspex", "ray_backend",
    "report", "spex", "synthetic",
}


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fastspex' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _LAZY_MODULES)

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
