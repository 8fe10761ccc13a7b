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
    shown_values,
)

__all__ = ["facts_html", "highlight", "ink", "result_html", "strip_html", "top_html"]

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


def top_html(rows: Sequence[Any], index: str | None, *, full: Sequence[str] | None = None,
             bars: bool = False) -> str:
    """A table of interactions (rank, order, components, value), values coloured by sign.

    ``full``: the full text of every component, shown as a tooltip over a cut label.
    ``bars``: a bar per row before its value (blue +, red −, lengths proportional to
    ``|value|``, the longest filling its half of the track). Drawn in the row itself, so a bar
    stays level with its row however the row's label wraps.
    """
    if not rows:
        return "<p>(no interactions)</p>"
    values = [float(r.value) for r in rows]
    texts, scale = shown_values(values, 4, aligned=True)
    head = _e(index_label(index) if index else "value") + (f" ({scale})" if scale else "")
    lim = max((abs(v) for v in values if math.isfinite(v)), default=0.0) or 1.0
    # A half of the track per sign shown, so a one-signed table uses the whole width.
    sides = [s for s, shown in (("neg", any(v < 0 for v in values)),
                                ("pos", any(v >= 0 for v in values))) if shown]
    body = []
    for rank, (r, text) in enumerate(zip(rows, texts), 1):
        names = " × ".join(r.names) or "∅"
        tip = ""
        if full is not None:
            tip = f" title='{_e(' × '.join(full[i] for i in r.ids))}'"
        colour = "#595959" if text == "0" else POSITIVE if r.value >= 0 else NEGATIVE
        bar = _bar_td(float(r.value), lim, sides) if bars else ""
        body.append(
            f"<tr><td class='num'>{rank}</td><td class='num'>{r.order}</td>"
            f"<td{tip}>{_e(names)}</td>{bar}"
            f"<td class='num' title='{float(r.value)!r}' style='color:{colour}'>{text}</td></tr>"
        )
    if not bars:
        return ("<table class='top'><thead><tr><th>#</th><th>order</th><th>components</th>"
                f"<th>{head}</th></tr></thead><tbody>{''.join(body)}</tbody></table>")
    # Full width for the bars; the number columns as narrow as their contents (width 1%).
    narrow = " style='width:1%'"
    return (f"<table class='top bars' style='width:100%'><thead><tr><th{narrow}>#</th>"
            f"<th{narrow}>order</th><th>components</th><th></th><th{narrow}>{head}</th></tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def _bar_half(value: float, lim: float, side: str) -> str:
    """One half of a bar's track (``side`` "neg": bars end at the zero line, "pos": they start
    there), holding a bar ``|value| / lim`` of its width when ``value`` has that sign."""
    sign = "pos" if value >= 0 else "neg"
    bar = ""
    if sign == side:
        width = 100 * abs(value) / lim if math.isfinite(value) else 0.0
        bar = (f"<div class='bar {sign}' style='width:{width:.2f}%;height:.9rem;"
               f"background:{POSITIVE if sign == 'pos' else NEGATIVE}'></div>")
    justify = "flex-end" if side == "neg" else "flex-start"
    return f"<div style='display:flex;justify-content:{justify}'>{bar}</div>"


def _bar_td(value: float, lim: float, sides: list[str]) -> str:
    """A row's bar cell: a half of the track per sign in ``sides``. The zero line is the
    cell's background (a 1 px line repeated down the whole cell, padding included), so it runs
    unbroken from row to row whatever each row's height."""
    zero = {1: "100%" if sides == ["neg"] else "0", 2: "50%"}[len(sides)]
    halves = "".join(_bar_half(value, lim, side) for side in sides)
    return (f"<td class='bar-cell' style='width:40%;min-width:4rem;vertical-align:middle;"
            f"background:linear-gradient(#888,#888) {zero} 0/1px 100% repeat-y content-box "
            f"border-box'><div style='display:grid;grid-template-columns:repeat({len(sides)},1fr)'>"
            f"{halves}</div></td>")


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
