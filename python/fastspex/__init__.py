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

from . import _aliases, dense, indices, masks, names, pairs
from ._version import __version__
from .coefficients import Coefficients
from .errors import MemoryLimitError
from .evaluation import evaluator as value
from .evaluation import store
from .evaluation.evaluator import Evaluator, ModelCallError, ValueFunction, ValueFunctionError
from .evaluation.store import EvalStore, StoreError
from .masks import PackedMasks

_aliases.install()  # the flat module names of earlier releases (fastspex.proxyspex, …)

# Public names whose modules pull in heavy optional dependencies (LightGBM, torch, matplotlib)
# load on first use, so `import fastspex` stays fast and works without the extras.
_LAZY = {
    "explain": "api",
    "default_budget": "api",
    "ProxySPEX": "explainers.proxyspex",
    "ProxySPEXResult": "explainers.proxyspex",
    "SPEX": "explainers.spex",
    "SPEXResult": "explainers.spex",
    "Exact": "explainers.exact",
    "greedy_search": "explainers.greedy",
    "GreedyResult": "explainers.greedy",
    "fit_sparse_polynomial": "explainers.sparse_polynomial",
    "fit_factorization_machine": "explainers.factorization_machine",
    "Interactions": "results.interactions",
}
_LAZY_MODULES = {
    "ablate", "evaluation", "explainers", "results", "synthetic", "demo", "cli",
    *_aliases.MOVED, *_aliases.SPLIT,
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
    "MemoryLimitError",
    "ModelCallError",
    "PackedMasks",
    "ValueFunction",
    "StoreError",
    "ValueFunctionError",
    "__version__",
    "dense",
    "errors",
    "indices",
    "masks",
    "names",
    "pairs",
    "store",
    "value",
    *sorted(_LAZY),
    *sorted(_LAZY_MODULES - {"value", "store"}),
]
