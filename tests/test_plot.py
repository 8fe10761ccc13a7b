"""Every picture renders to a PNG, for feature, component and plain runs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from _surface_helpers import sample_interactions
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
    assert sorted(paths) == ["bar", "graph", "text"]
    for p in paths.values():
        _png_size(p.read_bytes())


def test_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="expected fastspex.Interactions"):
        plot.bar({"a": 1})
