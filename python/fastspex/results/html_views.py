"""HTML fragments shared by the report and the notebook views (``_repr_html_``).

Every string from a result (labels, texts, metadata) is escaped; no scripts, no external links.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..names import index_label
from .describe import (
    PAIR_SIGN,
    facts,
    faithfulness_verdict,
    headline,
    index_meaning,
    value_format,
)

__all__ = ["bars_html", "facts_html", "highlight", "ink", "result_html", "strip_html", "top_html"]

POSITIVE = "#2166ac"
NEGATIVE = "#b2182b"


def _e(text: object) -> str:
    return html.escape(str(text))


def _rgb(value: float, lim: float) -> tuple[int, int, int]:
    """RdBu-like background: blue for positive, red for negative, white near zero."""
    t = max(-1.0, min(1.0, value / lim)) if lim else 0.0
    if t >= 0:
        r, g, b = (int(255 - t * (255 - c)) for c in (33, 102, 172))
    else:
        r, g, b = (int(255 + t * (255 - c)) for c in (178, 24, 43))
    return r, g, b


def highlight(value: float, lim: float) -> str:
    """The background of a value in ``[−lim, lim]`` (blue +, red −, white near zero)."""
    r, g, b = _rgb(value, lim)
    return f"rgb({r},{g},{b})"


def ink(value: float, lim: float) -> str:
    """Black or white text, whichever contrasts more with the highlight (WCAG luminance)."""
    def lin(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(value, lim)
    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "#000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#fff"


def strip_html(values: Sequence[float] | np.ndarray, shown: Sequence[str], names: Sequence[str]) -> str:
    """The components as a line of text, each ``shown[i]`` highlighted by ``values[i]`` (its
    main effect) and titled ``names[i]: value``."""
    lim = float(max((abs(float(v)) for v in values), default=0.0)) or 1.0
    spans = "".join(
        f'<span style="background:{highlight(float(v), lim)};color:{ink(float(v), lim)}" '
        f'title="{html.escape(names[i])}: {float(v):+.4g}">{html.escape(shown[i])}</span> '
        for i, v in enumerate(values))
    return f"<p class='text'>{spans}</p>"


def top_html(rows: Sequence[Any], index: str | None, *, full: Sequence[str] | None = None) -> str:
    """A table of interactions (rank, order, components, value), values coloured by sign.

    ``full``: the full text of every component, shown as a tooltip over a cut label.
    """
    if not rows:
        return "<p>(no interactions)</p>"
    head = _e(index_label(index)) if index else "value"
    body = []
    fmt = value_format([r.value for r in rows])
    for rank, r in enumerate(rows, 1):
        names = " × ".join(r.names) or "∅"
        tip = ""
        if full is not None:
            tip = f" title='{_e(' × '.join(full[i] for i in r.ids))}'"
        colour = POSITIVE if r.value >= 0 else NEGATIVE
        body.append(
            f"<tr><td class='num'>{rank}</td><td class='num'>{r.order}</td>"
            f"<td{tip}>{_e(names)}</td>"
            f"<td class='num' style='color:{colour}'>{format(r.value, fmt)}</td></tr>"
        )
    return ("<table class='top'><thead><tr><th>#</th><th>order</th><th>components</th>"
            f"<th>{head}</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


def _bar_cell(value: float, lim: float, side: str, line: bool) -> str:
    """One half of a bar's track (``side`` "neg": bars end at the zero line, "pos": they start
    there), holding a bar ``|value| / lim`` of its width when ``value`` has that sign; ``line``:
    this half draws the zero line (on its inner edge)."""
    sign = "pos" if value >= 0 else "neg"
    bar = ""
    if sign == side:
        width = 100 * abs(value) / lim if math.isfinite(value) else 0.0
        bar = (f"<div class='bar {sign}' style='width:{width:.2f}%;height:.9rem;"
               f"background:{POSITIVE if sign == 'pos' else NEGATIVE}'></div>")
    justify = "flex-end" if side == "neg" else "flex-start"
    edge = (f";border-{'right' if side == 'neg' else 'left'}:1px solid #888") if line else ""
    return (f"<div style='display:flex;align-items:center;align-self:stretch;"
            f"justify-content:{justify}{edge}'>{bar}</div>")


def bars_html(rows: Sequence[Any], *, full: Sequence[str] | None = None) -> str:
    """Interactions as horizontal bars (label, bar, value), blue for positive and red for
    negative, lengths proportional to ``|value|`` (the longest fills its half of the track).

    Plain HTML, no picture: text stays selectable and a long label wraps to two lines, then
    ends in an ellipsis, its full text (``full[i]`` per component, else its name) a tooltip.
    """
    if not rows:
        return ""
    values = [float(r.value) for r in rows]
    lim = max((abs(v) for v in values if math.isfinite(v)), default=0.0) or 1.0
    # A half of the track per sign shown, so a one-signed panel uses the whole width.
    sides = [s for s, shown in (("neg", any(v < 0 for v in values)),
                                ("pos", any(v >= 0 for v in values))) if shown]
    fmt = value_format(values)
    cells = []
    for r, v in zip(rows, values):
        names = " × ".join(r.names) or "∅"
        tip = " × ".join(full[i] for i in r.ids) if full is not None and r.ids else names
        sign = "pos" if v >= 0 else "neg"
        cells.append(
            f"<div class='bar-label' title='{_e(tip)}' style='overflow:hidden;display:-webkit-box;"
            f"-webkit-box-orient:vertical;-webkit-line-clamp:2;padding:.2rem .5rem .2rem 0'>"
            f"{_e(names)}</div>"
            + "".join(_bar_cell(v, lim, side, side == "pos" or len(sides) == 1)
                      for side in sides)
            + f"<div class='num {sign}' style='color:{POSITIVE if sign == 'pos' else NEGATIVE};"
            f"white-space:nowrap;font-variant-numeric:tabular-nums;padding-left:.5rem'>"
            f"{format(v, fmt)}</div>")
    # No gaps, so the zero line is one unbroken border (the positive half's); labels pad rows.
    track = " ".join(["minmax(3rem,1fr)"] * len(sides))
    return (f"<div class='bars' style='display:grid;grid-template-columns:fit-content(40%) "
            f"{track} max-content;align-items:center;font-size:.85rem;"
            f"max-width:100%'>{''.join(cells)}</div>")


def facts_html(res: Any) -> str:
    """What was explained and how, as a two-column table."""
    rows = "".join(f"<tr><th scope='row'>{_e(c)}</th><td>{_e(v)}</td></tr>" for c, v in facts(res))
    verdict, _ = faithfulness_verdict(res.faithfulness, res.method)
    rows += f"<tr><th scope='row'>faithfulness R²</th><td>{_e(verdict)}</td></tr>"
    return f"<table class='facts'>{rows}</table>"


def result_html(res: Any, k: int = 10) -> str:
    """The notebook view of a result: headline, facts, meaning of the index, top table."""
    top = res.top(k)
    sign = f"<p style='color:#555'>{_e(PAIR_SIGN)}</p>" if any(t.order >= 2 for t in top) else ""
    return (
        f"<div class='fastspex'><b>{_e(headline(res))}</b>{facts_html(res)}"
        f"<p>{_e(index_meaning(res.index, res.order))}</p>"
        f"{top_html(top, res.index, full=res.labels)}{sign}</div>"
    )
