"""The report in a real headless Chromium, at several window sizes, for every kind of run.

A probe script (added to a copy of the page only: the report itself has no scripts) measures
the laid-out page: nothing may be wider than the window (no horizontal scrolling, no picture
or table cut off) and every picture must have loaded. Screenshots are kept in
``$FASTSPEX_SCREENSHOTS`` when it is set, to be looked at. Skipped where Chromium is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from _report_samples import SAMPLES
from fastspex import report

_PROBE = """<script>
const W = window.innerWidth, doc = document.documentElement;
const wide = [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > W + 1)
  .map(e => e.tagName + ':' + (e.textContent || e.alt || '').slice(0, 40));
const images = [...document.images];
document.body.setAttribute('data-probe', JSON.stringify({
  width: W, scroll: doc.scrollWidth, wide: wide.slice(0, 5),
  images: images.length, broken: images.filter(i => !i.complete || i.naturalWidth === 0).length,
}));
</script></body>"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH: cannot check the report in a browser")
@pytest.mark.parametrize("sample", ["words", "sentences", "heads", "neurons", "chat", "outputs"])
def test_report_fits_the_window_in_chromium(sample: str, tmp_path: Path) -> None:
    page = report.save(SAMPLES[sample](), tmp_path / f"{sample}.html")
    probe = tmp_path / f"{sample}-probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE), encoding="utf-8")
    keep = os.environ.get("FASTSPEX_SCREENSHOTS")
    for width, height in ((1400, 1000), (900, 1200), (520, 900)):
        proc = _run([f"--window-size={width},{height}", "--dump-dom", probe.as_uri()], tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        found = re.search(r'data-probe="([^"]*)"', proc.stdout)
        assert found, "the probe did not run"
        layout = json.loads(unescape(found[1]))
        assert layout["width"] == width
        assert layout["images"] >= 2 and layout["broken"] == 0, layout
        assert layout["scroll"] <= width and not layout["wide"], (sample, width, layout)
        if keep:
            shot = Path(keep) / f"{sample}-{width}.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            proc = _run([f"--window-size={width},{height}", f"--screenshot={shot}",
                         page.as_uri()], tmp_path)
            assert proc.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
