"""The report's several-output section: a short panel per output (its top terms and a strip of
its main effects) and a components × outputs matrix of main effects ("which words drive which
token"), for results of :func:`fastspex.multi_output.explain_each`."""

from __future__ import annotations

import html

import numpy as np

from .html_views import highlight, ink, strip_html, top_html
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


def outputs_section(res: Interactions, k: int = 5) -> str:
    """The section, or ``""`` for a one-output result."""
    per = _per_output(res)
    if not per:
        return ""
    panels = []
    for heading, r in per:
        pairs = r.top(3, order=2)
        listing = "; ".join(f"{' × '.join(p.names)} {p.value:+.3g}" for p in pairs)
        panels.append(
            f"<details open><summary><b>{_e(heading)}</b></summary>"
            f"{strip_html(r.main_effects(), r.unique_labels, r.unique_labels)}"
            f"{top_html(r.top(k), r.index, full=r.labels)}"
            + (f"<p>Top pairs: {_e(listing)}</p>" if pairs else "") + "</details>")
    return (f"<h2>Every output ({len(per)})</h2><p class='sub'>Each output was explained on the "
            "same masks; its components are coloured by main effect (blue +, red −).</p>"
            + "".join(panels)
            + "<h2>Which components drive which output</h2><p class='sub'>Main effect of each "
            "component (row) on each output (column).</p>"
            + _matrix(per, res.unique_labels))
