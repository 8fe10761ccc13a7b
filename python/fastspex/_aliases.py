"""Old flat module names (``fastspex.proxyspex``, ``fastspex.value``, …) for the modules that moved
into the wings ``evaluation/``, ``explainers/`` and ``results/``.

``import fastspex.store`` gives the very module object ``fastspex.evaluation.store`` (one module,
two names), so code written against the flat layout — imports, ``monkeypatch.setattr`` by dotted
path, pickles — keeps working. ``fastspex.proxies`` was split in two; its old name is a module
that re-exports both halves.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence

#: old name (under ``fastspex.``) -> new module (under ``fastspex.``)
MOVED: dict[str, str] = {
    "value": "evaluation.evaluator",
    "store": "evaluation.store",
    "ray_backend": "evaluation.ray_backend",
    "proxyspex": "explainers.proxyspex",
    "spex": "explainers.spex",
    "exact": "explainers.exact",
    "greedy": "explainers.greedy",
    "lgbm": "explainers.trees",
    "interactions": "results.interactions",
    "plot": "results.plot",
    "report": "results.report",
}
#: old names whose module was split: the modules whose public names it re-exports
SPLIT: dict[str, tuple[str, ...]] = {
    "proxies": ("explainers.sparse_polynomial", "explainers.factorization_machine"),
}
_PACKAGE = __name__.rpartition(".")[0]


def _reexport(old: str, parts: Sequence[str]) -> types.ModuleType:
    module = types.ModuleType(f"{_PACKAGE}.{old}", f"Old name of {', '.join(parts)} (re-exports).")
    names: list[str] = []
    for part in parts:
        source = importlib.import_module(f"{_PACKAGE}.{part}")
        for name in getattr(source, "__all__", ()):
            setattr(module, name, getattr(source, name))
            names.append(name)
    module.__all__ = names  # type: ignore[attr-defined]  # ModuleType has no declared __all__
    return module


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, old: str) -> None:
        self.old = old

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if self.old in SPLIT:
            return _reexport(self.old, SPLIT[self.old])
        module = importlib.import_module(f"{_PACKAGE}.{MOVED[self.old]}")
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module behind the old name is already loaded. The import system
        has just stamped the alias's spec on it; give it back its own, so its relative imports
        (``__spec__.parent``) and ``importlib.reload`` keep meaning the real location."""
        real = getattr(self, "real_spec", None)
        if real is not None:
            module.__spec__ = real
            module.__loader__ = real.loader


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, old = fullname.rpartition(".")
        if package != _PACKAGE or (old not in MOVED and old not in SPLIT):
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(old))


def install() -> None:
    """Make the old names importable (idempotent)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
