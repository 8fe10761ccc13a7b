"""HTML fragments shared by the report and the notebook views (``_repr_html_``).

Every string from a result (labels, texts, metadata) is escaped; no scripts, no external links.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ..names import index_label
from .describe import (
    PAIR_SIGN,
    facts,
    faithfulness_verdict,
    headline,
    index_meaning,
    value_format,
)

__all__ = ["facts_html", "result_html", "top_html"]

POSITIVE = "#2166ac"
NEGATIVE = "#b2182b"


def _e(text: object) -> str:
    return html.escape(str(text))


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
