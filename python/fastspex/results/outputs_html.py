"""The report's several-output section: a short panel per output (its top terms, each with its
bar, and a strip of its main effects) and a components × outputs matrix of main effects ("which
words drive which token"), for results of :func:`fastspex.multi_output.explain_each`."""

from __future__ import annotations

import html

import numpy as np

from .describe import shown_values
from .html_views import highlight, ink, strip_html, top_html
from .interactions import Interactions

__all__ = ["outputs_section"]

#: Panels open on arrival. The first ones, not the strongest: the panels then read as the
#: answer does, from its start, and which are open is plain at a glance (the strongest would
#: open scattered panels, e.g. 4, 17 and 22); every closed panel's one-line summary, and the
#: matrix, still show where each output's effect lies.
OPEN = 3

#: A value smaller than this share of the matrix's largest |value| is shown as a dot: its
#: digits would be rounding noise or too small to matter beside the rest.
NEGLIGIBLE = 0.005

#: The dot's colour: muted beside the cells' black, yet 7:1 on white (WCAG asks 4.5:1 of text),
#: so the dot stays visible. Its cell is left white: there is nothing to colour.
DOT = "#595959"

# The matrix's first column and header row stay in view while its box scrolls; opaque, so
# the cells scrolled under them do not show through.
_LEFT = "position:sticky;left:0;z-index:1;background:#fff;box-shadow:inset -1px 0 #ddd"
_TOP = "position:sticky;top:0;z-index:1;background:#fff"
# A label is cut (ellipsis; its full text in the tooltip) past 12rem, or past a quarter of the
# window when that is narrower, so a phone's window keeps its width for the values.
_LABEL = "max-width:min(12rem,25vw);overflow:hidden;text-overflow:ellipsis"


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
    finite = np.abs(main[np.isfinite(main)])
    lim = float(finite.max()) if finite.size else 0.0
    shown, scale = shown_values(main.ravel().tolist(), 2, negligible=NEGLIGIBLE, placeholder="·")
    texts = np.array(shown, dtype=object).reshape(main.shape)
    scale = f" ({scale})" if scale else ""
    under = f" (under {NEGLIGIBLE:.1%} of the largest)"
    head = "".join(f"<th title='{_e(h)}' style='{_TOP}'>{j + 1}</th>"
                   for j, (h, _) in enumerate(per))

    def cell(v: float, text: str, name: str, heading: str) -> str:
        dot = text == "·"
        look = (f"#fff;color:{DOT}" if dot
                else f"{highlight(v, lim or 1.0)};color:{ink(v, lim or 1.0)}")
        return (f"<td class='num' title='{_e(name)}, {_e(heading)}{under if dot else ''}: "
                f"{float(v)!r}' style='background:{look}'>{text}</td>")

    rows = "".join(
        f"<tr><th style='{_LEFT}'><div title='{_e(name)}' style='{_LABEL}'>{_e(name)}</div></th>"
        + "".join(cell(float(v), t, name, h) for v, t, (h, _) in zip(main[i], texts[i], per))
        + "</tr>"
        for i, name in enumerate(labels))
    key = "; ".join(f"{j + 1} = {_e(h.split(': ', 1)[1])}" for j, (h, _) in enumerate(per))
    corner = f"<th style='{_TOP};{_LEFT};z-index:2'>component{scale}</th>"
    return (f"<p class='sub'>Columns: {key}.</p><div style='overflow:auto;max-height:40rem'>"
            f"<table class='matrix'><tr>{corner}{head}</tr>{rows}</table></div>")


def _panel(heading: str, r: Interactions, k: int, is_open: bool) -> str:
    """One output: a one-line summary (its value with every component kept, its largest main
    effect), then the strip of its main effects, its top ``k`` terms as a table with a bar
    per row, and its strongest pairs."""
    main = r.main_effects()
    best = int(np.argmax(np.abs(main))) if len(main) else None
    strongest = ""
    if best is not None:
        (text,), scale = shown_values([main[best]], 3)
        strongest = (f" · largest main effect: “{r.unique_labels[best]}” {text}"
                     + (f" ({scale})" if scale else ""))
    summary = (f"<summary><b>{_e(heading)}</b> <span style='color:#595959'>"
               f"f = {r.baseline:.4g}{_e(strongest)}</span></summary>")
    top = r.top(k)
    # Pairs as small as rounding noise beside the output's strongest term are not pairs.
    floor = NEGLIGIBLE * max((abs(t.value) for t in top), default=0.0)
    pairs = [p for p in r.top(3, order=2) if abs(p.value) >= floor and p.value != 0]
    texts, scale = shown_values([p.value for p in pairs], 3)
    listing = "; ".join(f"{' × '.join(p.names)} {text}" for p, text in zip(pairs, texts))
    scale = f" ({scale})" if scale else ""
    # The table scrolls in its own box if a narrow window cannot fit it, never the page.
    terms = (f"<div style='overflow-x:auto;max-width:100%'>"
             f"{top_html(top, r.index, full=r.labels, bars=True)}</div>")
    return (f"<details{' open' if is_open else ''}>{summary}"
            f"{strip_html(main, r.unique_labels, r.unique_labels)}{terms}"
            + (f"<p>Top pairs{scale}: {_e(listing)}</p>" if pairs else "") + "</details>")


def outputs_section(res: Interactions, k: int = 5) -> str:
    """The section, or ``""`` for a one-output result."""
    per = _per_output(res)
    if not per:
        return ""
    panels = [_panel(heading, r, k, j < OPEN) for j, (heading, r) in enumerate(per)]
    closed = (f" The first {OPEN} are open; open any other by its line."
              if len(per) > OPEN else "")
    # One <section>, so a reader's browser (or the layout test) can find the part as a whole.
    return (f"<section class='outputs'><h2>Every output ({len(per)})</h2><p class='sub'>Each "
            "output was explained on the same masks; its components are coloured by main effect "
            "(blue +, red −), its strongest terms listed, each with its bar." + closed + "</p>"
            + "".join(panels)
            + "<h2>Which components drive which output</h2><p class='sub'>Main effect of each "
            "component (row) on each output (column); a dot: under "
            f"{NEGLIGIBLE:.1%} of the largest. Hover a cell for its exact value.</p>"
            + _matrix(per, res.unique_labels) + "</section>")
