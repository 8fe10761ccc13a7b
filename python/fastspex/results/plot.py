"""Pictures of an :class:`~fastspex.interactions.Interactions`: bars, a graph, heads, text.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state,
no display needed: it renders with Agg). Colours follow one rule everywhere: blue = positive
(keeping the components raises the output), red = negative.

- :func:`bar`: the strongest interactions of any order as a horizontal bar chart.
- :func:`graph`: components as nodes sized by their main effect, pairs as edges coloured by
  sign and as wide as their strength.
- :func:`heads`: a layer × head heatmap of main effects for component (attention head) runs.
- :func:`text`: the input text with each unit highlighted by its main effect and the strongest
  pairs linked by arcs, for feature runs.
- :func:`figures` / :func:`save_all`: every picture that applies to a result.
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .interactions import Interactions, index_label

__all__ = ["NEGATIVE", "POSITIVE", "bar", "figures", "graph", "heads", "save_all", "text", "to_png"]

POSITIVE = "#2166ac"
NEGATIVE = "#b2182b"
_HEAD = re.compile(r"^L(\d+)\.H(\d+)$")
_MLP = re.compile(r"^L(\d+)\.MLP$")


def _figure(width: float, height: float, *, layout: Literal["constrained", "tight"] | None = "constrained") -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        msg = "plots need matplotlib: pip install fastspex[plot]"
        raise ImportError(msg) from err
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)  # attach Agg explicitly: renders headless, no pyplot backend involved
    return fig


def _check(res: object) -> Interactions:
    if not isinstance(res, Interactions):
        msg = f"expected fastspex.Interactions, got {type(res).__name__}"
        raise TypeError(msg)
    return res


def _lit(text: str) -> str:
    """``text`` drawn literally: matplotlib reads ``$…$`` as math text (and fails on ``$x_$``);
    an escaped ``\\$`` is shown as a plain dollar sign. Every string drawn goes through this."""
    return str(text).replace("$", r"\$")


def _short(name: str, limit: int = 24) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _title(res: Interactions, what: str) -> str:
    order = f", order {res.order}" if res.order is not None else ""
    return _lit(f"{what} — {index_label(res.index)}{order} ({res.method})")


def to_png(fig: Any) -> bytes:
    """The figure rendered as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def bar(res: Interactions, k: int = 15, *, order: int | None = None) -> Any:
    """Horizontal bars of the ``k`` strongest interactions (optionally of one ``order``)."""
    res = _check(res)
    top = res.top(k, order=order)
    fig = _figure(7.5, 0.35 * max(len(top), 3) + 1.2)
    ax = fig.add_subplot()
    if not top:
        ax.text(0.5, 0.5, "no interactions", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    names = [_lit(_short(" × ".join(t.names), 40)) for t in top][::-1]
    vals = np.array([t.value for t in top])[::-1]
    ax.barh(range(len(top)), vals, color=[POSITIVE if v >= 0 else NEGATIVE for v in vals])
    ax.set_yticks(range(len(top)), names)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel(_lit(f"{index_label(res.index)} value"))
    ax.set_title(_title(res, f"Top {len(top)} interactions"), fontsize=10)
    return fig


def graph(res: Interactions, k: int = 20, *, max_nodes: int = 40) -> Any:
    """Interaction graph: nodes sized by |main effect|, the ``k`` strongest pairs as edges."""
    res = _check(res)
    main = res.main_effects()
    pairs = res.top(k, order=2)
    nodes = {i for p in pairs for i in p.ids}
    for i in np.argsort(-np.abs(main), kind="stable"):
        if len(nodes) >= max_nodes or main[i] == 0:
            break
        nodes.add(int(i))
    nodes_sorted = sorted(nodes)  # component order: a sentence reads around the circle
    fig = _figure(6.5, 6.5)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title(_title(res, "Interaction graph"), fontsize=10)
    if not nodes_sorted:
        ax.text(0.5, 0.5, "no interactions", ha="center", va="center", transform=ax.transAxes)
        return fig
    angle = {i: math.pi / 2 - 2 * math.pi * r / len(nodes_sorted) for r, i in enumerate(nodes_sorted)}
    pos = {i: (math.cos(a), math.sin(a)) for i, a in angle.items()}
    strongest = max((abs(p.value) for p in pairs), default=1.0) or 1.0
    for p in sorted(pairs, key=lambda p: abs(p.value)):
        (x0, y0), (x1, y1) = pos[p.ids[0]], pos[p.ids[1]]
        ax.plot([x0, x1], [y0, y1], color=POSITIVE if p.value >= 0 else NEGATIVE,
                lw=0.8 + 5.0 * abs(p.value) / strongest, alpha=0.75, zorder=1,
                solid_capstyle="round")
    biggest = float(np.abs(main[nodes_sorted]).max()) or 1.0
    xs, ys = zip(*(pos[i] for i in nodes_sorted))
    sizes = [60 + 1400 * abs(main[i]) / biggest for i in nodes_sorted]
    colors = [POSITIVE if main[i] >= 0 else NEGATIVE for i in nodes_sorted]
    ax.scatter(xs, ys, s=sizes, c=colors, edgecolors="white", linewidths=1.0, zorder=2, alpha=0.9)
    for i in nodes_sorted:
        x, y = pos[i]
        ax.text(1.22 * x, 1.22 * y, _lit(_short(res.labels[i], 16)), ha="center", va="center",
                fontsize=9)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.text(0.0, -0.02, "node size: |main effect|   edge: pair (blue +, red −)",
            transform=ax.transAxes, fontsize=8, color="0.35")
    return fig


def _grid(res: Interactions) -> tuple[np.ndarray, list[str]]:
    """Main effects on a layer × (head…, MLP) grid, from ``L{l}.H{h}`` / ``L{l}.MLP`` labels."""
    main = res.main_effects()
    parsed = []
    for i, name in enumerate(res.labels):
        if m := _HEAD.match(name):
            parsed.append((int(m[1]), int(m[2]), i))
        elif m := _MLP.match(name):
            parsed.append((int(m[1]), -1, i))
    if len(parsed) != res.n:
        L = res.metadata.get("n_layers")
        H = res.metadata.get("n_heads")
        if not L or not H or int(L) * int(H) != res.n:
            msg = (
                "heads() needs component labels like 'L3.H7' / 'L3.MLP' or metadata n_layers × "
                "n_heads = n"
            )
            raise ValueError(msg)
        parsed = [(i // int(H), i % int(H), i) for i in range(res.n)]
    layers = max(p[0] for p in parsed) + 1
    heads_ = max(p[1] for p in parsed) + 1
    mlp = any(p[1] < 0 for p in parsed)
    grid = np.full((layers, heads_ + int(mlp)), np.nan)
    for layer, head, i in parsed:
        grid[layer, head if head >= 0 else heads_] = main[i]
    columns = [f"H{h}" for h in range(heads_)] + (["MLP"] if mlp else [])
    return grid, columns


def heads(res: Interactions) -> Any:
    """Layer × head heatmap of main effects (component runs), strongest pairs listed beside."""
    res = _check(res)
    grid, columns = _grid(res)
    fig = _figure(max(5.0, 0.45 * len(columns) + 3.5), max(3.0, 0.45 * grid.shape[0] + 1.8))
    ax = fig.add_subplot()
    lim = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    image = ax.imshow(grid, cmap="RdBu", vmin=-(lim or 1.0), vmax=lim or 1.0, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [f"L{layer}" for layer in range(grid.shape[0])], fontsize=8)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    fig.colorbar(image, ax=ax, label=_lit(f"main effect ({index_label(res.index)})"), shrink=0.85)
    pairs = res.top(5, order=2)
    if pairs:
        listing = "; ".join(f"{' × '.join(p.names)}: {p.value:+.3g}" for p in pairs)
        ax.set_title(_title(res, "Heads") + "\ntop pairs: " + _lit(listing), fontsize=8)
    else:
        ax.set_title(_title(res, "Heads"), fontsize=10)
    return fig


def _units_text(res: Interactions) -> list[str]:
    """The text of each unit: spans into ``metadata['text']`` when present, else the labels."""
    source = res.metadata.get("text")
    spans = res.metadata.get("units")
    if isinstance(source, str) and isinstance(spans, list) and len(spans) == res.n:
        try:
            return [source[int(a) : int(b)] or res.labels[i] for i, (a, b) in enumerate(spans)]
        except (TypeError, ValueError):
            pass
    return list(res.labels)


def text(res: Interactions, k: int = 5, *, width: float = 9.0) -> Any:
    """The input's units highlighted by main effect (blue +, red −), top ``k`` pairs linked."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    res = _check(res)
    words = [_lit(w.strip() or "␣") for w in _units_text(res)]
    main = res.main_effects()
    lim = float(np.abs(main).max()) or 1.0
    norm = Normalize(-lim, lim)
    cmap = colormaps["RdBu"]
    pairs = res.top(k, order=2)
    # Lay the words out in lines, measuring each with the renderer so nothing overlaps.
    fig = _figure(width, 2.0, layout=None)
    renderer = fig.canvas.get_renderer()
    fontsize, gap = 13, 0.012
    x, line, placed = 0.02, 0, []
    for i, w in enumerate(words):
        t = fig.text(0, 0, w, fontsize=fontsize)
        w_frac = t.get_window_extent(renderer).width / (width * fig.dpi)
        t.remove()
        if x + w_frac > 0.98 and x > 0.02:
            x, line = 0.02, line + 1
        placed.append((i, x, line, w_frac))
        x += w_frac + gap
    lines = line + 1
    # Vertical layout in inches: arcs above each line of words need their own headroom.
    arc_room, word_h, title_h = (0.55 if pairs else 0.0), 0.45, 0.35
    line_h = word_h + arc_room
    height = title_h + lines * line_h + 0.15
    fig.set_size_inches(width, height)
    ax = fig.add_axes((0, 0, 1, 1 - title_h / height))
    ax.set_axis_off()
    ax.set_xlim(0, width)
    ax.set_ylim(0, lines * line_h + 0.15)
    top_of: dict[int, tuple[float, float]] = {}
    for i, x0, ln, w_frac in placed:
        y = (lines - 1 - ln) * line_h + 0.12
        ax.text(x0 * width, y, words[i], fontsize=fontsize, va="bottom", ha="left",
                bbox={"boxstyle": "round,pad=0.18", "fc": cmap(norm(main[i])), "ec": "none"},
                color="white" if abs(norm(main[i]) - 0.5) > 0.33 else "black")
        top_of[i] = ((x0 + w_frac / 2) * width, y + 0.3)
    strongest = abs(pairs[0].value) if pairs else 1.0
    for p in pairs:
        (xa, ya), (xb, yb) = top_of[p.ids[0]], top_of[p.ids[1]]
        rise = min(arc_room - 0.05, 0.15 + 0.08 * abs(xb - xa))
        peak = max(ya, yb) + rise
        # A quadratic Bézier reaches half-way to its control point: place it at twice the rise.
        ctrl = ((xa + xb) / 2, 2 * peak - (ya + yb) / 2)
        path = MPath([(xa, ya), ctrl, (xb, yb)], [MPath.MOVETO, MPath.CURVE3, MPath.CURVE3])
        ax.add_patch(PathPatch(path, fc="none", ec=POSITIVE if p.value >= 0 else NEGATIVE,
                               lw=1 + 3 * abs(p.value) / (strongest or 1.0), alpha=0.8))
    fig.suptitle(_title(res, f"Text: main effects, top {len(pairs)} pairs"), fontsize=10)
    return fig


def figures(res: Interactions) -> dict[str, Any]:
    """Every picture that applies: ``bar`` and ``graph`` always, ``heads`` for component runs
    with head labels, ``text`` for feature runs."""
    res = _check(res)
    out = {"bar": bar(res), "graph": graph(res)}
    if res.kind == "components":
        try:
            out["heads"] = heads(res)
        except ValueError:
            pass  # components that are not heads (e.g. neurons): no grid to draw
    if res.kind == "features":
        out["text"] = text(res)
    return out


def save_all(res: Interactions, folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write every applicable picture as ``<folder>/<name>.png``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, fig in figures(res).items():
        paths[name] = folder / f"{name}.png"
        fig.savefig(paths[name], format="png")
    return paths
