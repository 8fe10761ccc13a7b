"""Pictures of an :class:`~fastspex.interactions.Interactions`: bars, a graph, heads, text.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state,
no display needed: it renders with Agg). Colours follow one rule everywhere: blue = positive
(keeping the components raises the output), red = negative, from ColorBrewer's RdBu, which
reads for the common colour-vision deficiencies; text on a highlight is black or white,
whichever contrasts more. shapiq's plots use the opposite convention (red = positive, blue =
negative): compare signs, not colours, across the two. Components are named by their unique,
short labels (duplicates get their id, ``was@7``).

- :func:`bar`: the strongest interactions of any order as a horizontal bar chart.
- :func:`graph`: components as nodes sized by their main effect, the strongest pairs as edges
  coloured by sign and as wide as their strength.
- :func:`waterfall`: how the strongest terms build f(all kept) from f(none kept).
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
import textwrap
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .describe import component_kind, short_labels, shown_values
from .interactions import Interactions, index_label

__all__ = [
    "KINDS", "NEGATIVE", "POSITIVE", "bar", "figures", "graph", "heads", "save_all", "text",
    "to_png", "waterfall",
]

#: The pictures :meth:`Interactions.plot` draws by name.
KINDS: tuple[str, ...] = ("bar", "graph", "waterfall", "text", "heads")
#: Units of a text: a feature run over these draws the highlighted text.
TEXT_UNITS: tuple[str, ...] = ("word", "token", "sentence", "span", "phrase", "line", "features")

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


def _wrap(text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``fontsize`` points."""
    chars = max(20, int(width_in * 72 / (0.6 * fontsize)))  # ~0.6 em per character
    return "\n".join(textwrap.wrap(text, chars, break_long_words=True)) or text


def _title(res: Interactions, what: str, width_in: float = 7.0, fontsize: float = 10) -> str:
    """Title naming the picture, the index and method, then what was explained (wrapped)."""
    order = f", order {res.order}" if res.order is not None else ""
    first = f"{what} — {index_label(res.index)}{order} ({res.method})"
    subject = [str(res.metadata[k]) for k in ("quantity", "output_name") if res.metadata.get(k)]
    text = first if not subject else first + "\n" + "; ".join(subject)
    return _lit("\n".join(_wrap(line, width_in, fontsize) for line in text.split("\n")))


def _labels(res: Interactions, limit: int) -> list[str]:
    """Unique display labels, cut to about ``limit`` characters (duplicates get ``@id``)."""
    return short_labels(res.labels, limit)


def _ink(rgb: tuple[float, ...]) -> str:
    """Black or white, whichever has the higher WCAG contrast on the background ``rgb``."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
    return "black" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "white"


def to_png(fig: Any) -> bytes:
    """The figure rendered as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def bar(res: Interactions, k: int = 15, *, order: int | None = None) -> Any:
    """Horizontal bars of the ``k`` strongest interactions (optionally of one ``order``)."""
    res = _check(res)
    top = res.top(k, order=order)
    fig = _figure(7.5, 0.35 * max(len(top), 3) + 1.6)
    ax = fig.add_subplot()
    if not top:
        ax.text(0.5, 0.5, "no interactions", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    short = _labels(res, 24)
    names = [_lit(_short(" × ".join(short[i] for i in t.ids), 52)) for t in top][::-1]
    vals = np.array([t.value for t in top])[::-1]
    ax.barh(range(len(top)), vals, color=[POSITIVE if v >= 0 else NEGATIVE for v in vals])
    ax.set_yticks(range(len(top)), names)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel(_lit(f"{index_label(res.index)} value (blue +, red −)"))
    fig.suptitle(_title(res, f"Top {len(top)} interactions", 7.1), fontsize=10)
    return fig


def graph(res: Interactions, k: int = 25, *, max_nodes: int = 40) -> Any:
    """Interaction graph of the ``k`` strongest pairs: nodes sized by |main effect|.

    Nodes are the components in those pairs (topped up with the strongest main effects to at
    most ``max_nodes``), on a circle in component order with labels outside it along the
    radius, so the layout stays legible whatever ``n`` is; edge width is the pair's strength.
    """
    res = _check(res)
    main = res.main_effects()
    pairs = res.top(k, order=2)
    nodes = {i for p in pairs for i in p.ids}
    for i in np.argsort(-np.abs(main), kind="stable"):
        if len(nodes) >= max_nodes or main[i] == 0:
            break
        nodes.add(int(i))
    nodes_sorted = sorted(nodes)  # component order: a sentence reads around the circle
    m = len(nodes_sorted)
    fontsize = 9 if m <= 24 else 8 if m <= 48 else 7
    # The circle's circumference gives every label at least its text height of room.
    radius_in = max(2.2, m * fontsize * 1.5 / 72 / (2 * math.pi))
    label_in = 1.3  # room outside the circle for labels
    size = 2 * (radius_in + label_in) + 0.4
    fig = _figure(size, size + 0.6)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title(_title(res, f"Interaction graph: top {len(pairs)} pairs", size - 0.5), fontsize=10)
    if not nodes_sorted:
        ax.text(0.5, 0.5, "no interactions", ha="center", va="center", transform=ax.transAxes)
        return fig
    angle = {i: math.pi / 2 - 2 * math.pi * r / m for r, i in enumerate(nodes_sorted)}
    pos = {i: (math.cos(a), math.sin(a)) for i, a in angle.items()}
    strongest = max((abs(p.value) for p in pairs), default=1.0) or 1.0
    for p in sorted(pairs, key=lambda p: abs(p.value)):
        (x0, y0), (x1, y1) = pos[p.ids[0]], pos[p.ids[1]]
        ax.plot([x0, x1], [y0, y1], color=POSITIVE if p.value >= 0 else NEGATIVE,
                lw=0.8 + 5.0 * abs(p.value) / strongest, alpha=0.75, zorder=1,
                solid_capstyle="round")
    biggest = float(np.abs(main[nodes_sorted]).max()) or 1.0
    xs, ys = zip(*(pos[i] for i in nodes_sorted))
    node_area = min(1400.0, 40000.0 / m)
    sizes = [30 + node_area * abs(main[i]) / biggest for i in nodes_sorted]
    colors = [POSITIVE if main[i] >= 0 else NEGATIVE for i in nodes_sorted]
    ax.scatter(xs, ys, s=sizes, c=colors, edgecolors="white", linewidths=1.0, zorder=2, alpha=0.9)
    short = _labels(res, 18)
    gap = 1.0 + 0.28 / radius_in
    for i in nodes_sorted:
        a = angle[i]
        x, y = math.cos(a), math.sin(a)
        deg = math.degrees(a) % 360
        left = 90 < deg < 270  # keep text upright: flip labels on the left half
        ax.text(gap * x, gap * y, _lit(short[i]), rotation=deg - 180 if left else deg,
                rotation_mode="anchor", ha="right" if left else "left", va="center",
                fontsize=fontsize)
    lim = 1.0 + label_in / radius_in
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.text(0.0, 0.0, "node size: |main effect|; edge: pair (blue +, red −), width = strength",
            transform=ax.transAxes, fontsize=8, color="0.3")
    return fig


def waterfall(res: Interactions, k: int = 12) -> Any:
    """How the ``k`` strongest terms build f(all kept) from f(none kept), one step per term.

    The start is f(none kept) as the result determines it (the surrogate, or the efficient
    indices' ∅ value); the last step before the total gathers every other term and, for
    indices that do not sum to the output, the part they leave unexplained.
    """
    res = _check(res)
    if res.index == "ablation":
        msg = ("ablation values are effects of removals from the full input, not terms that add "
               "up from f(none kept): use bar() for them")
        raise ValueError(msg)
    start = res._empty_output()
    if start is None:
        msg = (f"these {index_label(res.index)} values do not determine f(none kept); a waterfall "
               "needs a result with a surrogate or an efficient index (fsii, stii, ksii, mobius)")
        raise ValueError(msg)
    top = res.top(k)
    short = _labels(res, 24)
    steps = [(_short(" × ".join(short[i] for i in t.ids), 44), t.value) for t in top]
    rest = res.baseline - start - sum(v for _, v in steps)
    if abs(rest) > 1e-12 * max(1.0, abs(res.baseline)):
        steps.append(("all other terms", rest))
    fig = _figure(7.5, 0.36 * (len(steps) + 2) + 1.8)
    ax = fig.add_subplot()
    y = np.arange(len(steps) + 2)[::-1]
    ax.barh(y[0], start, color="0.6")
    level = start
    levels = [0.0, start, res.baseline]
    for row, (name, value) in enumerate(steps, 1):
        colour = POSITIVE if value >= 0 else NEGATIVE
        ax.barh(y[row], value, left=level, color=colour)
        ax.plot([level, level], [y[row - 1] - 0.4, y[row] + 0.4], color="0.5", lw=0.6)
        level += value
        levels.append(level)
    ax.barh(y[-1], res.baseline, color="0.35")
    lo, hi = min(levels), max(levels)
    pad = 0.05 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)  # every step inside the axes, whatever autoscaling does
    names = ["f(none kept)", *(n for n, _ in steps), "f(all kept)"]
    ax.set_yticks(y, [_lit(x) for x in names])
    ax.axvline(0, color="0.3", lw=0.6)
    ax.set_xlabel(_lit(f"output ({index_label(res.index)} terms added one by one; blue +, red −)"))
    fig.suptitle(_title(res, "From f(none kept) to f(all kept)", 7.1), fontsize=10)
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
    fig.colorbar(image, ax=ax, label=_lit(f"main effect ({index_label(res.index)}; blue +, red −)"),
                 shrink=0.85)
    width = fig.get_figwidth()
    ax.set_title(_title(res, "Main effect of each head", width - 0.4), fontsize=10)
    pairs = res.top(5, order=2)
    texts, scale = shown_values([p.value for p in pairs], 3)
    # a pair shown as 0 is rounding noise beside the others: not listed
    shown = [f"{' × '.join(p.names)} {text}" for p, text in zip(pairs, texts) if text != "0"]
    if shown:
        listing = f"top pairs{f' ({scale})' if scale else ''}: " + "; ".join(shown)
        fig.supxlabel(_lit(_wrap(listing, width - 0.4, 8)), fontsize=8, color="0.25")
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
    """The input's units highlighted by main effect (blue +, red −), top ``k`` pairs linked.

    Lines wrap at ``width`` inches, and a unit longer than a line (a sentence) wraps inside
    itself; each pair's arc joins the first words of its two units.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    res = _check(res)
    units = [_lit(" ".join(w.split()) or "␣") for w in _units_text(res)]
    main = res.main_effects()
    lim = float(np.abs(main).max()) or 1.0
    norm = Normalize(-lim, lim)
    cmap = colormaps["RdBu"]
    pairs = res.top(k, order=2)
    # Lay the words out in lines, measuring each with the renderer so nothing overlaps.
    fig = _figure(width, 2.0, layout=None)
    renderer = fig.canvas.get_renderer()
    fontsize, gap, margin = 13, 0.012, 0.02
    x, line = margin, 0
    placed: list[tuple[int, str, float, int, float]] = []  # unit, piece, x, line, width
    for i, unit in enumerate(units):
        for j, piece in enumerate(unit.split(" ")):
            t = fig.text(0, 0, piece, fontsize=fontsize)
            w_frac = min(t.get_window_extent(renderer).width / (width * fig.dpi), 1 - 2 * margin)
            t.remove()
            if x + w_frac > 1 - margin and x > margin:
                x, line = margin, line + 1
            placed.append((i, piece, x, line, w_frac))
            # Pieces of one unit sit closer together than separate units.
            x += w_frac + (gap / 2 if j < len(unit.split(" ")) - 1 else gap)
    lines = line + 1
    # Vertical layout in inches: arcs above each line of words need their own headroom.
    arc_room, word_h, title_h = (0.55 if pairs else 0.0), 0.45, 0.6
    line_h = word_h + arc_room
    height = title_h + lines * line_h + 0.15
    fig.set_size_inches(width, height)
    ax = fig.add_axes((0, 0, 1, 1 - title_h / height))
    ax.set_axis_off()
    ax.set_xlim(0, width)
    ax.set_ylim(0, lines * line_h + 0.15)
    top_of: dict[int, tuple[float, float]] = {}
    for i, piece, x0, ln, w_frac in placed:
        y = (lines - 1 - ln) * line_h + 0.12
        fill = cmap(norm(main[i]))
        ax.text(x0 * width, y, piece, fontsize=fontsize, va="bottom", ha="left",
                bbox={"boxstyle": "round,pad=0.18", "fc": fill, "ec": "none"}, color=_ink(fill))
        top_of.setdefault(i, ((x0 + w_frac / 2) * width, y + 0.3))
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
    fig.suptitle(_title(res, f"Text: main effects, top {len(pairs)} pairs", width - 0.3),
                 fontsize=10)
    return fig


def _is_text(res: Interactions) -> bool:
    return res.kind == "features" or component_kind(res) in TEXT_UNITS


def figures(res: Interactions) -> dict[str, Any]:
    """Every picture that applies: ``bar``, ``waterfall`` (when f(none kept) is known) and
    ``graph`` always, ``heads`` for head runs, ``text`` for feature (text) runs."""
    res = _check(res)
    out = {"bar": bar(res)}
    if res.index != "ablation" and res._empty_output() is not None:
        out["waterfall"] = waterfall(res)
    out["graph"] = graph(res)
    if res.kind == "components" or component_kind(res) == "head":
        try:
            out["heads"] = heads(res)
        except ValueError:
            pass  # components that are not heads (e.g. neurons): no grid to draw
    if _is_text(res):
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
