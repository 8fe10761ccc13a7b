"""The report's several-output section: a short panel per output (its top terms and a strip of
its main effects) and a components × outputs matrix of main effects ("which words drive which
token"), for results of :func:`fastspex.multi_output.explain_each`."""

from __future__ import annotations

import html

import numpy as np

from .html_views import bars_html, highlight, ink, strip_html, top_html
from .interactions import Interactions

__all__ = ["outputs_section"]


def _e(text: object) -> str:
    return html.escape(str(text))


def _per_output(res: Interactions) -> list[tuple[str, Interactions]]:
    """``(heading, result)`` per output, in order; a list, not a dict, so outputs that share a
    name (a repeated answer token) all stay, told apart by their position."""
    items = res.metadata.get("outputs") or []
    return [(f"output {j + 1}: {item['name']}", Interactions.from_json_dict(item["result"]))
            for j, item in enumerate(items)]


def _matrix(per: list[tuple[str, Interactions]], labels: list[str]) -> str:
    """Components (rows) × outputs (columns) of main effects, in a box that scrolls."""
    main = np.array([r.main_effects() for _, r in per]).T  # (n, d)
    lim = float(np.abs(main).max()) or 1.0
    head = "".join(f"<th title='{_e(h)}'>{j + 1}</th>" for j, (h, _) in enumerate(per))
    rows = "".join(
        f"<tr><th>{_e(name)}</th>" + "".join(
            f"<td class='num' style='background:{highlight(float(v), lim)};color:{ink(float(v), lim)}'>"
            f"{v:+.2g}</td>" for v in main[i]) + "</tr>"
        for i, name in enumerate(labels))
    key = "; ".join(f"{j + 1} = {_e(h.split(': ', 1)[1])}" for j, (h, _) in enumerate(per))
    return (f"<p class='sub'>Columns: {key}.</p><div style='overflow:auto;max-height:40rem'>"
            f"<table class='matrix'><tr><th>component</th>{head}</tr>{rows}</table></div>")


def _panel(heading: str, r: Interactions, k: int) -> str:
    """One output: the strip of its main effects, its top ``k`` terms as bars beside the same
    terms as a table, and its strongest pairs."""
    top = r.top(k)
    pairs = r.top(3, order=2)
    listing = "; ".join(f"{' × '.join(p.names)} {p.value:+.3g}" for p in pairs)
    # Bars and table side by side while both fit, the table below the bars on a narrow window.
    terms = (f"<div style='display:flex;flex-wrap:wrap;gap:.5rem 2rem;align-items:flex-start'>"
             f"<div style='flex:1 1 20rem;min-width:0;margin:.5rem 0'>"
             f"{bars_html(top, full=r.labels)}</div>"
             f"<div style='flex:0 1 auto;min-width:0;max-width:100%;overflow-x:auto'>"
             f"{top_html(top, r.index, full=r.labels)}</div></div>")
    return (f"<details open><summary><b>{_e(heading)}</b></summary>"
            f"{strip_html(r.main_effects(), r.unique_labels, r.unique_labels)}{terms}"
            + (f"<p>Top pairs: {_e(listing)}</p>" if pairs else "") + "</details>")


def outputs_section(res: Interactions, k: int = 5) -> str:
    """The section, or ``""`` for a one-output result."""
    per = _per_output(res)
    if not per:
        return ""
    panels = [_panel(heading, r, k) for heading, r in per]
    # One <section>, so a reader's browser (or the layout test) can find the part as a whole.
    return (f"<section class='outputs'><h2>Every output ({len(per)})</h2><p class='sub'>Each "
            "output was explained on the same masks; its components are coloured by main effect "
            "(blue +, red −), its strongest terms drawn as bars and listed.</p>"
            + "".join(panels)
            + "<h2>Which components drive which output</h2><p class='sub'>Main effect of each "
            "component (row) on each output (column).</p>"
            + _matrix(per, res.unique_labels) + "</section>")
