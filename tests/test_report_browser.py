"""The report in a real headless Chromium, at several window sizes, for every kind of run.

A probe script (added to a copy of the page only: the report itself has no scripts) measures
the laid-out page: nothing may be wider than the window (no horizontal scrolling, no picture
or table cut off; inside a scrolling box, nothing beyond what scrolling the box reaches) and
every picture must have loaded. Screenshots are kept in ``$FASTSPEX_SCREENSHOTS`` when it is
set, to be looked at (the several-output section whole, as tall as it is). Skipped where
Chromium is absent."""

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
// The nearest ancestor that scrolls sideways (overflow auto/scroll), or null: the window.
function scroller(e) {
  for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
    if (/auto|scroll/.test(getComputedStyle(p).overflowX)) return p;
  }
  return null;
}
// Cut off: beyond the window, or, inside a scrolling box, beyond what scrolling that box
// reaches (its scrollable area: a wide table in a scroll box is fine, the box must fit).
function clipped(e) {
  const r = e.getBoundingClientRect(), s = scroller(e);
  if (!s) return r.right > W + 1 || r.left < -1;
  const start = s.getBoundingClientRect().left + s.clientLeft - s.scrollLeft;
  return r.left < start - 1 || r.right > start + s.scrollWidth + 1;
}
const wide = [...document.querySelectorAll('body *')].filter(clipped)
  .map(e => e.tagName + ':' + (e.textContent || e.alt || '').slice(0, 40));
const images = [...document.images];
const box = e => { const r = e.getBoundingClientRect();
  return [r.left, r.top + window.scrollY, r.right, r.bottom + window.scrollY]; };
const matrices = [...document.querySelectorAll('table.matrix')].map(t => {
  const s = scroller(t);
  return {box: s ? box(s) : null, scrolls: s ? s.scrollWidth > s.clientWidth : false,
          table: box(t)};
});
const section = document.querySelector('section.outputs');
document.body.setAttribute('data-probe', JSON.stringify({
  width: W, scroll: doc.scrollWidth, height: doc.scrollHeight, wide: wide.slice(0, 5),
  images: images.length, broken: images.filter(i => !i.complete || i.naturalWidth === 0).length,
  matrices: matrices, section: section ? box(section) : null,
  bars: [...document.querySelectorAll('section.outputs details')]
    .filter(d => d.querySelector('.bar')).length,
  open: document.querySelectorAll('section.outputs details[open]').length,
  sticky: sticky(), column: column(), ...aligned(),
}));
// The matrix's first column (component names): its width, and every label cut short in it
// (its text wider than its box) with the style and tooltip a reader gets.
function column() {
  const t = document.querySelector('table.matrix');
  if (!t) return null;
  const cells = [...t.rows].slice(1).map(r => r.cells[0]);
  const cut = cells.map(c => c.querySelector('div') || c)
    .filter(d => d.scrollWidth > d.clientWidth + 1)
    .map(d => ({text: d.textContent, title: d.title,
                ellipsis: getComputedStyle(d).textOverflow === 'ellipsis'}));
  return {width: Math.max(...cells.map(c => c.getBoundingClientRect().width)), cut: cut};
}
// The matrix scrolled to its right end: is the first column's first cell still inside the
// box and on top (not covered by the cells scrolled under it)? Null where nothing scrolls.
function sticky() {
  const t = document.querySelector('table.matrix'), s = t && scroller(t);
  if (!s || s.scrollWidth <= s.clientWidth) return null;
  window.scrollTo(0, s.getBoundingClientRect().top + window.scrollY - 10);
  s.scrollLeft = s.scrollWidth;
  const b = s.getBoundingClientRect(), cell = t.rows[1].cells[0], r = cell.getBoundingClientRect();
  const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  const out = {scrolled: s.scrollLeft, inside: r.left >= b.left - 1 && r.right <= b.right + 1,
               top: !!hit && (hit === cell || cell.contains(hit))};
  s.scrollLeft = 0; window.scrollTo(0, 0);
  return out;
}
// Every panel opened: the page's height so, and per panel the largest distance between the
// vertical centre of bar i and of table row i (and how many of each there are).
function aligned() {
  const panels = [...document.querySelectorAll('section.outputs details')];
  panels.forEach(d => { d.open = true; });
  const mid = e => { const r = e.getBoundingClientRect(); return (r.top + r.bottom) / 2; };
  return {height_open: doc.scrollHeight, rows: panels.map(d => {
    const bars = [...d.querySelectorAll('.bar')];
    const rows = [...d.querySelectorAll('table.top tbody tr')];
    const off = bars.map((b, i) => rows[i] ? Math.abs(mid(b) - mid(rows[i])) : 1e9);
    return {bars: bars.length, rows: rows.length, off: Math.max(0, ...off)};
  })};
}
</script></body>"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _layout(page: Path, width: int, height: int, tmp: Path) -> dict:
    """What the probe measured of ``page`` laid out in a ``width`` × ``height`` window."""
    probe = page.with_name(f"{page.stem}-probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE), encoding="utf-8")
    proc = _run([f"--window-size={width},{height}", "--dump-dom", probe.as_uri()], tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', proc.stdout)
    assert found, "the probe did not run"
    layout = json.loads(unescape(found[1]))
    assert layout["width"] == width
    return layout


def _fits(layout: dict, what: str) -> None:
    """Nothing is cut off or scrolls the page sideways; pictures loaded."""
    assert layout["images"] >= 2 and layout["broken"] == 0, layout
    assert layout["scroll"] <= layout["width"] and not layout["wide"], (what, layout)


def _screenshot(page: Path, shot: Path, width: int, height: int, tmp: Path,
                rows: tuple[float, float] | None = None) -> None:
    """A PNG of ``page`` in a ``width`` × ``height`` window, cut to ``rows`` (page pixels,
    a little margin kept) when given."""
    shot.parent.mkdir(parents=True, exist_ok=True)
    proc = _run([f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()], tmp)
    assert proc.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if rows is not None:
        from PIL import Image

        with Image.open(shot) as full:
            part = full.crop((0, max(0, int(rows[0]) - 24), width,
                              min(full.height, int(rows[1]) + 24)))
        part.save(shot, optimize=True)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH: cannot check the report in a browser")
@pytest.mark.parametrize("sample", ["words", "sentences", "heads", "neurons", "chat", "outputs"])
def test_report_fits_the_window_in_chromium(sample: str, tmp_path: Path) -> None:
    page = report.save(SAMPLES[sample](), tmp_path / f"{sample}.html")
    keep = os.environ.get("FASTSPEX_SCREENSHOTS")
    for width, height in ((1400, 1000), (900, 1200), (520, 900)):
        layout = _layout(page, width, height, tmp_path)
        _fits(layout, f"{sample} at {width} px")
        if not keep:
            continue
        shot = Path(keep) / f"{sample}-{width}.png"
        if layout["section"]:  # the several-output section, whole: a window as tall as the page
            _screenshot(page, shot, width, layout["height"], tmp_path,
                        (layout["section"][1], layout["section"][3]))
        else:
            _screenshot(page, shot, width, height, tmp_path)


class ThirtyTokens:
    """A generated answer of 30 tokens over a 60-word prompt: token j is a linear function of
    the words kept (random weights) plus one pair; a few labels are long or carry markup."""

    n = 60
    labels = [f"word{i}" for i in range(60)]
    labels[7] = "an extraordinarily-long-hyphenated-component-label-that-must-wrap-or-ellipsize"
    labels[11] = "<b>bold?</b>"
    output_names = [f"tok ' w{j}'" for j in range(30)]

    def __call__(self, masks):
        import numpy as np

        x = np.asarray(masks, dtype=float)
        weights = np.random.default_rng(0).normal(0, 1, (30, self.n))
        return x @ weights.T + 1.5 * (x[:, 7] * x[:, 11])[:, None]


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH: cannot check the report in a browser")
def test_thirty_outputs_of_sixty_words_fit_the_window_in_chromium(tmp_path: Path) -> None:
    import fastspex

    res = fastspex.explain(ThirtyTokens(), n=60, budget=300, method="lasso", store=None,
                           progress=False)
    assert len(res.metadata["outputs"]) == 30
    page = report.save(res, tmp_path / "thirty.html")
    for width in (1400, 800):
        layout = _layout(page, width, 1000, tmp_path)
        _fits(layout, f"30 outputs at {width} px")
        assert layout["bars"] == 30
        (matrix,) = layout["matrices"]
        assert matrix["box"] is not None, "the matrix is not in a scrolling box"
        left, _, right, _ = matrix["box"]
        assert 0 <= left and right <= width, (width, matrix)
        # 30 columns do not fit 800 px: the box scrolls, and the page does not
        assert matrix["scrolls"] or matrix["table"][2] <= right + 1, (width, matrix)
        if width == 800:
            assert matrix["scrolls"], matrix
        # the first column (component names) stays in view while the matrix scrolls sideways
        if matrix["scrolls"]:
            sticky = layout["sticky"]
            assert sticky["scrolled"] > 0 and sticky["inside"] and sticky["top"], (width, sticky)
        # bar i of a panel is drawn on row i of its table
        for j, panel in enumerate(layout["rows"]):
            assert panel["bars"] == panel["rows"] >= 1, (width, j, panel)
            assert panel["off"] < 2, (width, j, panel)
        # the first three panels open, the rest one line each: a page far shorter than with
        # every panel open
        assert layout["open"] == 3, layout["open"]
        assert layout["height"] < 0.5 * layout["height_open"], (width, layout["height"],
                                                                 layout["height_open"])
        print(f"30 outputs at {width} px: page {layout['height']} px high, "
              f"{layout['height_open']} px with every panel open")


class LongLabelOutputs:
    """Four outputs of four words, one of them a label far longer than a column should be."""

    n = 4
    labels = ["short", "an-extraordinarily-long-hyphenated-component-label-cut-short", "mid",
              "x"]
    output_names = [f"tok{j}" for j in range(4)]

    def __call__(self, masks):
        import numpy as np

        x = np.asarray(masks, dtype=float)
        return x @ (np.eye(4) + 0.3)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH: cannot check the report in a browser")
def test_matrix_first_column_leaves_room_on_a_narrow_window(tmp_path: Path) -> None:
    import fastspex

    res = fastspex.explain(LongLabelOutputs(), method="exact", index="fbii", order=1,
                           store=None, progress=False)
    page = report.save(res, tmp_path / "long.html")
    for width in (520, 1400):
        layout = _layout(page, width, 900, tmp_path)
        _fits(layout, f"long labels at {width} px")
        column = layout["column"]
        if width == 520:  # a third of the window at most: the values get the rest
            assert column["width"] <= width / 3, column
        else:  # a wide window keeps the column's full 12rem (16 px a rem) for the names
            assert column["width"] >= 12 * 16, column
        # the long label is cut short with an ellipsis, its whole text in its tooltip
        assert [c["text"] for c in column["cut"]] == [LongLabelOutputs.labels[1]], column
        assert all(c["ellipsis"] and c["title"] == c["text"] for c in column["cut"]), column
