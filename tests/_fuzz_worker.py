"""Garbage fuzzer for fastspex._core, run in a subprocess by tests/test_fuzz_core.py.

Discovers every public callable of ``fastspex._core`` at run time (so bindings added later are
covered without edits), reads its parameter types from the pybind11 signature, and calls it with
hypothesis-generated arguments: mostly plausible (right type, odd shapes, dtypes, sizes, NaN),
sometimes plain garbage or the wrong number of arguments. A call may return or raise an
``Exception``; it must not crash the process, raise ``SystemError`` (an extension returned
without setting an error) or an untranslated C++ exception.

Before each call the case is pickled to ``<log>``, so if the process dies (segfault, abort) the
parent test can show the exact arguments. Prints one JSON line: the case count and any failures.

Usage: python tests/_fuzz_worker.py LOG EXAMPLES_PER_FUNCTION SEED [NAME ...]
"""

from __future__ import annotations

import faulthandler
import json
import math
import os
import pickle
import re
import sys
import time
from typing import Any

faulthandler.enable()

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import seed as hseed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_INTS = [-(2**63), -(2**31), -1, 0, 1, 2, 3, 5, 8, 24, 30, 31, 32, 63, 64, 65, 1000, 4096, 65536,
         2**31 - 1, 2**31, 2**32, 2**40, 2**62, 2**63 - 1, 2**64]
_FLOATS = [0.0, -0.0, 0.5, 1.0, -1.0, 1e-300, 1e300, math.nan, math.inf, -math.inf]
_WORDS = ["fourier", "mobius", "largest", "smallest", "magnitude", "bii", "sii", "fbii", "fsii",
          "stii", "ablation", "banzhaf", "shapley", "sparse", "dense", "", "x" * 300, "\x00", "é"]
_DTYPES = [np.uint8, np.bool_, np.uint64, np.int64, np.int32, np.float64, np.float32, np.int8,
           np.complex128]
_GARBAGE = st.sampled_from([None, "garbage", b"\x00", [], [[1, 2], [3]], {}, (), 1.5, -7, object(),
                            np.array("text"), np.zeros((2, 2), dtype=object), math.nan, True])


def _array(dtype: Any) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``dtype`` (usually) with small odd shapes, NaN/inf floats and random bits."""
    def one(dt: Any) -> st.SearchStrategy[np.ndarray]:
        dt = np.dtype(dt)
        if dt.kind in "iu":
            info = np.iinfo(dt)
            small = st.integers(max(info.min, -3), min(info.max, 12))
            elements = st.one_of(small, small, st.integers(info.min, info.max))
        elif dt.kind == "f":
            elements = st.floats(allow_nan=True, allow_infinity=True, width=dt.itemsize * 8)
        elif dt.kind == "c":
            elements = st.complex_numbers(allow_nan=True, allow_infinity=True, width=128)
        else:
            elements = None
        shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9)
        return hnp.arrays(dt, shapes, elements=elements)

    wanted = one(dtype) if dtype is not None else st.nothing()
    base = st.one_of(*[wanted] * 8, st.sampled_from(_DTYPES).flatmap(one))
    # Now and then a non-contiguous or Fortran-ordered view of the same data.
    return st.one_of(
        *[base] * 8,
        base.map(lambda a: a[::2] if a.ndim >= 1 else a),
        base.map(np.asfortranarray),
        base.map(lambda a: a.T),
    )


def _strategy(type_text: str) -> st.SearchStrategy[Any]:
    t = type_text
    if "numpy" in t or "ArrayLike" in t or "NDArray" in t:
        dtype = None
        for name, dt in [("uint64", np.uint64), ("uint8", np.uint8), ("float64", np.float64),
                         ("int64", np.int64), ("int32", np.int32), ("bool", np.bool_),
                         ("float32", np.float32)]:
            if name in t:
                dtype = dt
                break
        plausible = _array(dtype if dtype is not None else np.float64)
    elif "bool" in t:
        plausible = st.booleans()
    elif "Int" in t or re.search(r"\bint\b", t):
        plausible = st.one_of(st.sampled_from(_INTS), st.integers(-5, 70))
    elif "Float" in t or "float" in t:
        plausible = st.one_of(st.sampled_from(_FLOATS), st.floats())
    elif "str" in t:
        plausible = st.one_of(st.sampled_from(_WORDS), st.text(max_size=6))
    else:
        plausible = st.one_of(st.integers(-5, 70), _array(np.float64), st.sampled_from(_WORDS))
    return plausible


def _split_params(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def signature(name: str, fn: Any) -> list[str] | None:
    """Parameter type texts from the first pybind11 signature line of ``fn.__doc__``."""
    for line in (fn.__doc__ or "").splitlines():
        m = re.match(rf"\s*(?:\d+\.\s*)?{re.escape(name)}\((.*)\)\s*->", line)
        if m:
            params = [p for p in _split_params(m.group(1)) if p not in ("self", "*")]
            return [p.split(":", 1)[1].split("=")[0].strip() if ":" in p else "" for p in params]
    return None


def discover(module: Any) -> dict[str, Any]:
    """Every public function of the module, and constructors of its non-exception classes."""
    found = {}
    for name in sorted(dir(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if isinstance(obj, type):
            if issubclass(obj, BaseException):
                continue
            found[name] = obj
        elif callable(obj):
            found[name] = obj
    return found


def _forbidden(err: BaseException) -> bool:
    text = str(err)
    return isinstance(err, SystemError) or "unknown exception" in text.lower() or (
        "Unable to convert function return value" in text
    )


def main() -> None:
    log, examples, seed_value = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    only = set(sys.argv[4:])
    if os.environ.get("FASTSPEX_SANITIZED") != "1":
        # Cap the address space so a huge-but-valid request fails as MemoryError instead of
        # taking the machine's memory (sanitizer runs cap allocations through ASAN_OPTIONS).
        import resource

        cap = 1 << 30  # 1 GiB: large valid requests fail fast instead of filling memory
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from fastspex import _core

    targets = {k: v for k, v in discover(_core).items() if not only or k in only}
    count = 0
    failures: list[str] = []
    outcomes: dict[str, dict[str, int]] = {k: {} for k in targets}
    log_file = open(log, "wb", buffering=0)  # noqa: SIM115 - kept open for the whole run

    def run_one(name: str, fn: Any) -> None:
        types = signature(name if not isinstance(fn, type) else "__init__", fn)
        if types is None and isinstance(fn, type):
            types = signature("__init__", fn.__init__)
        types = types if types is not None else ["", ""]
        args_strategy = st.tuples(*[_strategy(t) for t in types])
        # A quarter of the cases put plain garbage in one argument; the rest are well-typed.
        spoil = st.one_of(st.none(), st.none(), st.none(), st.integers(0, max(len(types) - 1, 0)))
        arity = st.sampled_from([0] * 8 + [-1, 1])  # sometimes one argument too few or too many

        @hseed(seed_value)
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=False)
        @given(args=args_strategy, change=arity, extra=_GARBAGE, spoiled=spoil)
        def fuzz(args: tuple[Any, ...], change: int, extra: Any, spoiled: int | None) -> None:
            nonlocal count
            call = list(args)
            if spoiled is not None and spoiled < len(call):
                call[spoiled] = extra
            if change < 0 and call:
                call.pop()
            elif change > 0:
                call.append(extra)
            try:
                payload = pickle.dumps((name, call))
            except Exception:  # noqa: BLE001 - unpicklable garbage (object()): log its repr
                payload = pickle.dumps((name, [repr(a) for a in call]))
            log_file.seek(0)
            log_file.truncate()
            log_file.write(payload)
            count += 1
            try:
                fn(*call)
                outcomes[name]["returned"] = outcomes[name].get("returned", 0) + 1
            except Exception as err:  # noqa: BLE001 - any Python exception is a pass
                kind = type(err).__name__
                outcomes[name][kind] = outcomes[name].get(kind, 0) + 1
                if _forbidden(err) and len(failures) < 20:
                    failures.append(f"{name}{tuple(map(_short, call))}: {type(err).__name__}: {err}")

        fuzz()

    seconds: dict[str, float] = {}
    for name, fn in targets.items():
        start = time.perf_counter()
        run_one(name, fn)
        seconds[name] = round(time.perf_counter() - start, 2)
    log_file.close()
    print(json.dumps({"cases": count, "functions": sorted(targets), "failures": failures,
                      "outcomes": outcomes, "seconds": seconds}))


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype}, C={value.flags.c_contiguous})"
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


if __name__ == "__main__":
    main()
