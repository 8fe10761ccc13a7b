"""The checked-in ``_core.pyi`` matches the built extension (regenerate with .ci/gen-stubs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

STUB = Path(__file__).resolve().parents[1] / "python" / "fastspex" / "_core.pyi"


def test_core_stub_is_current(tmp_path: Path) -> None:
    if shutil.which("pybind11-stubgen") is None:
        pytest.skip("pybind11-stubgen is not installed (it comes with the test extra)")
    subprocess.run(
        [sys.executable, "-m", "pybind11_stubgen", "fastspex._core", "-o", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = (tmp_path / "fastspex" / "_core.pyi").read_text()
    assert generated == STUB.read_text(), "python/fastspex/_core.pyi is stale: run .ci/gen-stubs"


def test_public_modules_declare_all() -> None:
    import importlib

    import fastspex

    for name in fastspex.__all__:
        obj = getattr(fastspex, name)
        assert obj is not None
    for mod in ("masks", "value", "store", "dense", "coefficients"):
        module = importlib.import_module(f"fastspex.{mod}")
        public = {k for k, v in vars(module).items() if not k.startswith("_") and getattr(v, "__module__", None) == module.__name__}
        assert public <= set(module.__all__), f"fastspex.{mod}.__all__ misses {public - set(module.__all__)}"
