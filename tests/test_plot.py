"""Every picture renders to a PNG, for feature, component and plain runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from _surface_helpers import sample_interactions
from fastspex import masks as M
from fastspex import plot
from fastspex.interactions import Interactions

PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("kind", ["features", "components"])
def test_figures_render(kind: str) -> None:
    res = sample_interactions(kind)
    figs = plot.figures(res)
    expected = {"bar", "graph", "text"} if kind == "features" else {"bar", "graph", "heads"}
    expected |= {"waterfall"} if res._empty_output() is not None else set()
    assert set(figs) == expected
    for fig in figs.values():
        w, h = _png_size(plot.to_png(fig))
        assert w > 200 and h > 100


def test_heads_grid_places_each_head() -> None:
    res = sample_interactions("components")
    grid, columns = plot._grid(res)
    assert grid.shape == (2, 4) and columns == ["H0", "H1", "H2", "H3"]
    np.testing.assert_allclose(grid.ravel(), res.main_effects())
    # MLP blocks get their own column.
    labels = ["L0.H0", "L0.H1", "L0.MLP", "L1.H0", "L1.H1", "L1.MLP"]
    mixed = Interactions.from_dict({(2,): 1.0, (4,): -0.5}, 6, index="bii", labels=labels,
                                   kind="components")
    grid, columns = plot._grid(mixed)
    assert columns == ["H0", "H1", "MLP"] and grid[0, 2] == 1.0 and grid[1, 1] == -0.5
    _png_size(plot.to_png(plot.heads(mixed)))


def test_heads_needs_head_layout() -> None:
    res = Interactions.from_dict({(0,): 1.0}, 3, index="bii", labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="L3.H7"):
        plot.heads(res)


def test_empty_and_tiny_results_still_render(tmp_path) -> None:
    empty = Interactions.from_dict({(): 1.0}, 2, index="fbii", order=2)
    for fig in plot.figures(empty).values():
        _png_size(plot.to_png(fig))
    long = Interactions.from_dict({(i,): (-1.0) ** i * (i + 1) for i in range(60)}
                                  | {(0, 59): 3.0, (10, 20): -2.0}, 60, index="bii",
                                  labels=[f"word{i}" for i in range(60)], kind="features")
    paths = plot.save_all(long, tmp_path)
    assert sorted(paths) == ["bar", "graph", "text", "waterfall"]
    for p in paths.values():
        _png_size(p.read_bytes())


def test_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="expected fastspex.Interactions"):
        plot.bar({"a": 1})


# ---------------------------------------------------------------- pictures that scale
from _report_samples import SAMPLES, exact, table_fn


def _drawn_texts(fig):
    from matplotlib.text import Text

    fig.canvas.draw()
    hidden = set()  # tick labels beyond the view limits exist but are never drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            span = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                loc = tick.get_loc()
                if not ax.axison or loc is None or not lo - span <= loc <= hi + span:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return [t for t in fig.findobj(Text)
            if t.get_text().strip() and t.get_visible() and id(t) not in hidden]


def _assert_nothing_clipped(fig, name: str) -> None:
    """Every piece of text and every patch lies inside the figure (1 px tolerance)."""
    from matplotlib.patches import PathPatch

    renderer = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    for t in _drawn_texts(fig):
        bb = t.get_window_extent(renderer)
        assert bb.x0 >= -1 and bb.y0 >= -1 and bb.x1 <= W + 1 and bb.y1 <= H + 1, (
            name, t.get_text()[:40], bb.bounds, (W, H))
    for p in fig.findobj(PathPatch):
        bb = p.get_window_extent(renderer)
        assert bb.x0 >= -1 and bb.y0 >= -1 and bb.x1 <= W + 1 and bb.y1 <= H + 1, (name, bb.bounds)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_no_picture_clips_its_text(sample: str) -> None:
    res = SAMPLES[sample]()
    figs = plot.figures(res)
    assert "bar" in figs and "graph" in figs
    for name, fig in figs.items():
        _assert_nothing_clipped(fig, f"{sample}/{name}")


def test_figures_per_kind_of_run() -> None:
    assert {"text", "waterfall"} <= set(plot.figures(SAMPLES["sentences"]()))
    assert "heads" in plot.figures(SAMPLES["heads"]())
    neurons = plot.figures(SAMPLES["neurons"]())
    assert "heads" not in neurons and "text" not in neurons  # neurons: bars and graph


def test_duplicate_and_long_labels_are_unique_in_plots() -> None:
    res = SAMPLES["words"]()
    ticks = [t.get_text() for t in plot.bar(res, k=20).axes[0].get_yticklabels()]
    assert any("was@" in t for t in ticks) and len(set(ticks)) == len(ticks)
    res = SAMPLES["sentences"]()
    ticks = [t.get_text() for t in plot.bar(res, k=20).axes[0].get_yticklabels()]
    assert len(set(ticks)) == len(ticks) and all(len(t) <= 56 for t in ticks)


@pytest.mark.parametrize("nodes", [10, 60, 300])
def test_graph_labels_never_overlap(nodes: int) -> None:
    """Radial labels on the circle: neighbours are at least one text height apart."""
    from matplotlib.text import Text

    rng = np.random.default_rng(nodes)
    data = {(i,): float(rng.normal()) for i in range(nodes)}
    data |= {(i, (i + 1) % nodes): float(rng.normal()) for i in range(0, nodes, 2)}
    labels = [f"component{i}" for i in range(nodes)]
    res = Interactions.from_dict(data, nodes, index="fbii", order=2, labels=labels)
    fig = plot.graph(res, k=nodes, max_nodes=nodes)
    _assert_nothing_clipped(fig, "graph")
    ax = fig.axes[0]
    cx, cy = ax.transData.transform((0.0, 0.0))
    shown = [t for t in ax.findobj(Text) if t.get_text().startswith("component")]
    assert len(shown) == nodes
    polar = []
    for t in shown:
        x, y = ax.transData.transform(t.get_position())
        polar.append((math.atan2(y - cy, x - cx), math.hypot(x - cx, y - cy)))
    polar.sort()
    height = shown[0].get_fontsize() * fig.dpi / 72
    gaps = [(b[0] - a[0]) * min(a[1], b[1]) for a, b in zip(polar, polar[1:] + [
        (polar[0][0] + 2 * math.pi, polar[0][1])])]
    assert min(gaps) >= 0.95 * height, (min(gaps), height)


def test_waterfall_goes_from_f_none_to_f_all_by_brute_force() -> None:
    n = 6
    fn = table_fn(n, 9, {(0, 1): 0.8, (2, 3): -0.5})
    full = M.exhaustive(n).to_bool()
    table = fn(full)
    f_none, f_all = float(table[0]), float(table[-1])  # mask 0 = none kept, last = all kept
    for index in ("fsii", "fbii", "mobius"):
        res = exact(fn, n, index=index, order=None if index == "mobius" else 2)
        fig = plot.waterfall(res, k=3)
        bars = [p for p in fig.axes[0].patches]
        start, *steps, total = bars
        assert start.get_width() == pytest.approx(f_none)
        assert total.get_width() == pytest.approx(f_all)
        level = f_none
        for b in steps:
            assert b.get_x() == pytest.approx(level)
            level += b.get_width()
        assert level == pytest.approx(f_all)
        lo, hi = fig.axes[0].get_xlim()
        for b in bars:  # every step drawn inside the axes
            assert lo <= min(b.get_x(), b.get_x() + b.get_width()) <= hi
            assert lo <= max(b.get_x(), b.get_x() + b.get_width()) <= hi
        names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert names[0] == "f(none kept)" and names[-1] == "f(all kept)"
    no_f0 = Interactions.from_dict({(0,): 1.0}, 2, index="fbii", order=2)
    with pytest.raises(ValueError, match="do not determine f\\(none kept\\)"):
        plot.waterfall(no_f0)


def test_text_on_highlights_has_accessible_contrast() -> None:
    from matplotlib import colormaps
    from matplotlib.colors import to_rgb

    def luminance(rgb) -> float:
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for t in np.linspace(0, 1, 41):
        fill = colormaps["RdBu"](t)
        ink = to_rgb(plot._ink(fill))
        hi, lo = sorted((luminance(fill), luminance(ink)), reverse=True)
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, t  # WCAG AA for normal text
    res = SAMPLES["words"]()
    fig = plot.text(res)
    for t in _drawn_texts(fig):
        patch = t.get_bbox_patch()
        if patch is not None:
            assert t.get_color() == plot._ink(patch.get_facecolor())


def test_long_units_wrap_inside_the_text_strip() -> None:
    res = SAMPLES["sentences"]()
    fig = plot.text(res, width=6.0)
    _assert_nothing_clipped(fig, "text")
    pieces = [t.get_text() for t in _drawn_texts(fig) if t.get_bbox_patch() is not None]
    assert " ".join(pieces) == " ".join(" ".join(s.split()) for s in res.labels)


def test_no_waterfall_for_ablation_values() -> None:
    res = Interactions.from_dict({(): 0.2, (0,): 0.5, (1,): 0.1}, 2, index="mobius")
    res.index = "ablation"
    with pytest.raises(ValueError, match="not terms that add up"):
        plot.waterfall(res)
    assert "waterfall" not in plot.figures(res)


def test_heads_lists_its_top_pairs_plainly_and_alike() -> None:
    from test_report import assert_plain_numbers

    labels = [f"L{i // 3}.H{i % 3}" for i in range(6)]
    for scale in (1.0, 1e-4):
        values = {(0,): 0.2, (0, 1): 0.149, (1, 2): -0.0521, (2, 3): 0.0031, (3, 4): 4.9e-5,
                  (4, 5): -2.2e-16}
        res = Interactions.from_dict({s: v * scale for s, v in values.items()}, 6, index="fbii",
                                     order=2, labels=labels, kind="components")
        text = " ".join(plot.heads(res)._supxlabel.get_text().split())
        lead, listing = text.split(": ", 1)
        pairs = {" × ".join(p.names): p.value for p in res.top(20, order=2)}
        listed = [item.rsplit(" ", 1) for item in listing.split("; ")]
        assert {name for name, _ in listed} >= {"L0.H0 × L0.H1", "L0.H1 × L0.H2"}, listed
        assert_plain_numbers([(pairs[name], shown) for name, shown in listed], lead)
