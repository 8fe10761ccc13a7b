"""Each option default is set once, in the C++ option structs: the Python API's defaults must be
the bound ``_core.*Options`` values, and the bindings' keyword defaults too."""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import pytest

from fastspex import _core, proxies, spex


def _defaults(fn: Any) -> dict[str, Any]:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty}


# (Python callable, bound option object, {python parameter: option field})
CASES = [
    (spex.plan, _core.SpexOptions(), {"max_order": "max_order"}),
    (spex.SPEX.__init__, _core.SpexOptions(), {
        "max_order": "max_order", "residual_ratio": "residual_ratio", "chase_bits": "chase_bits",
        "max_candidates": "max_candidates", "max_iter": "max_iter", "ridge": "ridge",
        "prune_z": "prune_z",
    }),
    (proxies.sparse_polynomial_path, _core.PathOptions(),
     {"l1_ratio": "l1_ratio", "tol": "tol", "max_sweeps": "max_sweeps"}),
    (proxies.fit_sparse_polynomial, _core.PathOptions(),
     {"l1_ratio": "l1_ratio", "tol": "tol", "max_sweeps": "max_sweeps"}),
    (proxies.fit_factorization_machine, _core.FmOptions(), {
        "rank": "rank", "max_epochs": "max_epochs", "patience": "patience",
        "init_std": "init_std", "tol": "tol",
    }),
]


@pytest.mark.parametrize(("fn", "options", "fields"), CASES, ids=lambda c: getattr(c, "__qualname__", ""))
def test_python_defaults_are_the_bound_option_defaults(fn: Any, options: Any, fields: dict[str, str]) -> None:
    got = _defaults(fn)
    for param, field in fields.items():
        want = getattr(options, field)
        assert got[param] == want and type(got[param]) is type(want), (
            f"{fn.__qualname__}({param}={got[param]!r}) differs from "
            f"_core.{type(options).__name__}().{field} = {want!r}"
        )


@pytest.mark.parametrize(("name", "options"), [
    ("spex_recover", _core.SpexOptions()), ("poly_path", _core.PathOptions()),
    ("poly_cv_mse", _core.PathOptions()), ("fm_fit", _core.FmOptions()),
])
def test_binding_keyword_defaults_are_the_option_defaults(name: str, options: Any) -> None:
    signature = getattr(_core, name).__doc__.splitlines()[0]
    defaults = dict(re.findall(r"(\w+): [^=,]+ = ([^,)]+)", signature))
    fields = [f for f in dir(options) if not f.startswith("_")]
    checked = [f for f in fields if f in defaults]
    assert checked, f"{name} has no keyword default from its options"
    for field in checked:
        want = getattr(options, field)
        assert type(want)(eval(defaults[field])) == want, f"{name}({field}=...) != {want!r}"  # noqa: S307


def test_values_a_user_gets() -> None:
    # What the Python API gave before the defaults moved into C++: a change here is a change of
    # behaviour, not a tidy-up.
    o = _core.SpexOptions()
    assert (o.max_order, o.residual_ratio, o.noise_z, o.chase_bits, o.max_candidates, o.max_iter,
            o.ridge, o.prune_z) == (5, 0.4, 3.0, 6, 32, 64, 0.0, 3.0)
    f = _core.FmOptions()
    assert (f.rank, f.max_epochs, f.patience, f.init_std, f.tol) == (8, 1000, 10, 0.5, 1e-6)
    p = _core.PathOptions()
    assert (p.l1_ratio, p.tol, p.max_sweeps) == (1.0, 1e-9, 100_000)
    assert spex.MAX_B == _core.SPEX_MAX_B == 20


def test_one_b_limit_for_planner_and_core() -> None:
    b = _core.SPEX_MAX_B
    with pytest.raises(ValueError, match=f"b must be <= min\\(n, {b}\\)"):
        spex.plan(64, b=b + 1)
    hashes = np.zeros((b + 1, 1), np.uint64)  # b is checked before the sizes
    with pytest.raises(ValueError, match=f"b must lie in \\[1, {b}\\]"):
        _core.spex_recover(np.zeros(1), hashes, 8, b + 1, 1, 1)
