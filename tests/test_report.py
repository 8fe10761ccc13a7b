"""The HTML report: self-contained, complete, and rendered by a real headless browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from _surface_helpers import sample_interactions
from fastspex import report


def test_report_is_self_contained(tmp_path: Path) -> None:
    res = sample_interactions("features")
    page = report.save(res, tmp_path / "out" / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 3  # bar, graph, text
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "FBII of order 2" in page and "1.000 (high)" in page
    assert "not × bad" in page and res.metadata["text"] in page
    assert '"method": "dense"' in page


def test_report_for_components_and_escaping(tmp_path: Path) -> None:
    res = sample_interactions("components")
    res.labels[0] = "<b>evil</b>"
    page = report.render(res, title="Heads & <things>")
    assert "&lt;b&gt;evil&lt;/b&gt;" in page and "<b>evil</b>" not in page
    assert "Heads &amp; &lt;things&gt;" in page
    assert page.count("data:image/png;base64,") == 3  # bar, graph, heads
    with pytest.raises(TypeError, match="expected fastspex.Interactions"):
        report.render("x")  # type: ignore[arg-type]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH: cannot check the report in a browser")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    res = sample_interactions("features")
    page = report.save(res, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
        "--window-size=1000,1400", page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A rendered page is not blank: the screenshot has many distinct colours (images, text).
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 900
    colours = {tuple((p * 255).astype(int)) for p in pixels[::7, ::7].reshape(-1, pixels.shape[2])}
    assert len(colours) > 50
