"""Plain-text views of a result: the top-interactions table and the summary ``print(res)`` shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..names import index_label
from .describe import (
    PAIR_SIGN,
    facts,
    faithfulness_verdict,
    greedy_facts,
    headline,
    index_meaning,
    one_line,
    shown_values,
)

__all__ = ["Top", "summary", "top_table"]


def _set_name(names: Sequence[str], limit: int) -> str:
    text = one_line(" × ".join(names)) or "∅"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def top_table(rows: Sequence[Any], *, index: str | None = None, width: int = 60) -> str:
    """A fixed-width table of interactions (rank, order, components, value).

    ``rows`` are :class:`~fastspex.results.interactions.Interaction` tuples; their ``names`` are
    already unique (duplicates carry their id, ``was@7``).
    """
    if not rows:
        return "(no interactions)"
    values, scale = shown_values([r.value for r in rows], 4, aligned=True)
    head = (index_label(index) if index else "value") + (f" ({scale})" if scale else "")
    names = [_set_name(r.names, width) for r in rows]
    wn = max(len("components"), *(len(x) for x in names))
    wv = max(len(head), *(len(x) for x in values))
    wr = len(str(len(rows)))
    lines = [f"{'#':>{wr}}  order  {'components':<{wn}}  {head:>{wv}}"]
    for rank, (r, name, value) in enumerate(zip(rows, names, values), 1):
        lines.append(f"{rank:>{wr}}  {r.order:>5}  {name:<{wn}}  {value:>{wv}}")
    return "\n".join(lines)


class Top(list):
    """The strongest interactions: a plain ``list`` of ``Interaction`` that prints as a table."""

    index_name: str | None = None

    def __str__(self) -> str:
        return top_table(self, index=self.index_name)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from .html_views import top_html

        return top_html(self, self.index_name)


def summary(res: Any, k: int = 10) -> str:
    """What was explained, how faithful it is, and the top ``k`` interactions, as text."""
    lines = [headline(res)]
    verdict, advice = faithfulness_verdict(res.faithfulness, res.method)
    rows = [*facts(res), ("faithfulness R²", verdict)]
    rows += [(f"greedy: {c}", v) for c, v in greedy_facts(res)]
    caption_width = max(len(c) for c, _ in rows)
    for caption, value in rows:
        lines.append(f"  {caption:<{caption_width}}  {value}")
    if res.faithfulness is not None and res.faithfulness < 0.7:
        lines.append(f"  note: {advice}")
    lines.append("")
    lines.append(index_meaning(res.index, res.order))
    top = res.top(k)
    lines.append(top_table(top, index=res.index))
    if any(t.order >= 2 for t in top):
        lines.append(PAIR_SIGN)
    return "\n".join(lines)
