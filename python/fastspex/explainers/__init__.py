"""Explainers: every method that turns model calls into a sparse expansion of the value function.

Each is a class with one contract: ``Explainer(budget, *, seed=0, n_threads=None, progress=None,
holdout=0, **options)`` and ``.fit(fn, n=None, *, store=..., key=..., progress=...)`` returning an
:class:`~fastspex.explainers.result.Explanation`. :func:`fastspex.explain` finds the class by
its method name in this registry; :func:`register` adds a user's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..names import BUILTIN_METHODS

__all__ = ["available", "get", "register"]

#: method name -> (module under fastspex.explainers, class name); loaded on first use because
#: some pull in LightGBM.
_BUILTIN: dict[str, tuple[str, str]] = {
    "auto": ("auto", "Auto"),
    "proxyspex": ("proxyspex", "ProxySPEX"),
    "spex": ("spex", "SPEX"),
    "fm": ("factorization_machine", "FactorizationMachine"),
    "lasso": ("sparse_polynomial", "SparsePolynomial"),
    "greedy": ("greedy", "Greedy"),
    "exact": ("exact", "Exact"),
    "screened": ("screening", "Screened"),  # 10^4-10^5 components: screen, then fit
}
assert tuple(_BUILTIN) == BUILTIN_METHODS  # one list of names, in fastspex.names
_REGISTERED: dict[str, Callable[..., Any]] = {}


def register(name: str, explainer: Callable[..., Any], *, replace: bool = False) -> None:
    """Make ``explain(..., method=name)`` use ``explainer``.

    ``explainer(budget, *, seed, n_threads, progress, holdout, **options)`` must return an
    object whose ``fit(fn, n=None, *, store=..., key=..., progress=...)`` returns an
    :class:`~fastspex.explainers.result.Explanation`.
    """
    if not isinstance(name, str) or not name.isidentifier():
        msg = f"an explainer's name must be an identifier such as 'mine', got {name!r}"
        raise ValueError(msg)
    if not callable(explainer):
        msg = f"register({name!r}, ...) needs a class or factory, got {type(explainer).__name__}"
        raise TypeError(msg)
    if (name in _BUILTIN or name in _REGISTERED) and not replace:
        msg = f"an explainer named {name!r} exists already (pass replace=True to override it)"
        raise ValueError(msg)
    _REGISTERED[name] = explainer


def available() -> tuple[str, ...]:
    """Every method name ``explain`` accepts: the built-in ones, then the registered ones."""
    return (*_BUILTIN, *(k for k in _REGISTERED if k not in _BUILTIN))


def get(name: str) -> Callable[..., Any]:
    """The explainer class (or factory) registered under ``name``."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTIN:
        module, cls = _BUILTIN[name]
        return getattr(importlib.import_module(f".{module}", __name__), cls)
    msg = f"method must be one of {', '.join(available())}; got {name!r}"
    raise ValueError(msg)
