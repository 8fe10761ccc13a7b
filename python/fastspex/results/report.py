"""A single self-contained HTML report of an explanation: what was explained, how to read it,
pictures, the top table, faithfulness with what to do about it, and the settings.

The file embeds its PNG pictures as base64 and has no scripts or external links, so it can be
mailed, archived or opened offline.
"""

from __future__ import annotations

import base64
import html
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .describe import (
    PAIR_SIGN,
    calls_text,
    components_text,
    faithfulness_verdict,
    greedy_facts,
    headline,
    index_meaning,
    short_labels,
    shown_values,
    was_shortened,
)
from .html_views import facts_html, strip_html, top_html
from .interactions import Interactions, index_label
from .outputs_html import outputs_section

__all__ = ["render", "save"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1rem;overflow-wrap:anywhere}
h1{font-size:1.45rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#595959;margin-top:0}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:8px;padding:.6rem 1rem;min-width:9rem;max-width:100%}
.card b{display:block;font-size:1.2rem}.card span{color:#595959;font-size:.85rem}
table{border-collapse:collapse;font-size:.9rem;max-width:100%}td,th{padding:.25rem .7rem;
border-bottom:1px solid #eee;text-align:left;vertical-align:top}td.num{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}th{white-space:nowrap}table.facts th{color:#444;font-weight:600;white-space:nowrap}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.5rem 0}.pos{color:#2166ac}.neg{color:#b2182b}
.text{line-height:2.3}.text span{padding:.1rem .25rem;border-radius:4px;margin:0 .1rem}
.note{background:#f4f7fb;border-left:4px solid #2166ac;padding:.5rem 1rem;margin:1rem 0}
.warn{background:#fbf4f4;border-left:4px solid #b2182b;padding:.5rem 1rem;margin:1rem 0}
pre{background:#f6f6f6;padding:.7rem;overflow:auto;font-size:.8rem;white-space:pre-wrap}
details summary{cursor:pointer;color:#2166ac}
table.matrix td{padding:.1rem .4rem;font-size:.8rem}table.matrix th{font-size:.8rem}
"""


_HEADINGS = {
    "bar": ("Strongest interactions", "Each bar is one set of components; its length is the value."),
    "waterfall": ("From f(none kept) to f(all kept)", ("The strongest terms added one at a time; "
                  "the last step gathers every other term.")),
    "graph": ("Interaction graph", ("Nodes are components (area: |main effect|), edges the "
              "strongest pairs (width: strength).")),
    "heads": ("Heads by layer", "Main effect of each attention head (and MLP block): blue = keeping it raises the output."),
    "text": ("The text, coloured by main effect", "Arcs join the strongest pairs."),
}


def _fmt(x: object) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.4g}"
    return html.escape(str(x))


def _faith_text(res: Interactions) -> str:
    return faithfulness_verdict(res.faithfulness, res.method)[0]


def _text_section(res: Interactions) -> str:
    from .plot import _units_text

    words = _units_text(res)
    names = res.unique_labels
    main = res.main_effects()
    strip = strip_html(main, [" ".join(w.split()) or "␣" for w in words], names)
    pairs = res.top(5, order=2)
    texts, scale = shown_values([p.value for p in pairs], 3)
    listing = "; ".join(  # a pair shown as 0 is rounding noise beside the others: not listed
        f"<span class='{'pos' if p.value >= 0 else 'neg'}'>{html.escape(' × '.join(p.names))} "
        f"{text}</span>" for p, text in zip(pairs, texts) if text != "0"
    )
    scale = f" ({scale})" if scale else ""
    strongest = f"<p>Strongest pairs{scale}: {listing}</p>" if listing else ""
    return (f"<h2>{_HEADINGS['text'][0]}</h2><p class='sub'>Blue: keeping the unit raises the "
            "output; red: lowers it; hover for its value.</p>"
            f"{strip}{strongest}")


def _legend(res: Interactions, limit: int = 24) -> str:
    """Short label → full text, when some labels are cut (sentences, long spans)."""
    if not was_shortened(res.labels, limit):
        return ""
    short = short_labels(res.labels, limit)
    rows = "".join(f"<tr><td>{html.escape(s)}</td><td>{html.escape(full)}</td></tr>"
                   for s, full in zip(short, res.labels) if s != full)
    return ("<h2>Components</h2><p class='sub'>Plots use the short names; the full text of "
            f"each:</p><table><tr><th>short name</th><th>full text</th></tr>{rows}</table>")


def _flat(d: object, prefix: str = "") -> list[tuple[str, str]]:
    """Nested settings as ``(dotted key, value)`` rows."""
    if isinstance(d, dict):
        rows: list[tuple[str, str]] = []
        for k, v in d.items():
            rows += _flat(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [
                (f"{prefix}{k}", _plain(v))]
        return rows
    return [(prefix.rstrip("."), _plain(d))]


def _plain(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_plain(x) for x in v) or "—"
    if v is None or v == {}:
        return "—"
    return str(v)


def _greedy_section(res: Interactions) -> str:
    rows = greedy_facts(res)
    if not rows:
        return ""
    body = "".join(f"<tr><th>{html.escape(c)}</th><td>{html.escape(v)}</td></tr>" for c, v in rows)
    return f"<h2>Greedy search</h2><table class='facts'>{body}</table>"


def render(res: Interactions, *, k: int = 20, title: str | None = None) -> str:
    """The report as one HTML string.

    Its heading names what was explained (model, quantity, components); ``title`` (optional)
    is shown above it and as the page title.
    """
    from . import plot

    if not isinstance(res, Interactions):
        msg = f"expected fastspex.Interactions, got {type(res).__name__}"
        raise TypeError(msg)
    head = headline(res)
    subject = res.metadata.get("text")
    order = f" of order {res.order}" if res.order is not None else ""
    quantity = res.metadata.get("quantity")
    cards = [
        ("explained", str(quantity) if quantity else "the model's output (quantity not recorded)"),
        ("index", f"{index_label(res.index)}{order}"),
        ("faithfulness R²", _faith_text(res)),
        ("model calls", calls_text(res)),
        ("f(all kept)", f"{res.baseline:.4g}"),
        ("components", components_text(res)),
    ]
    verdict, advice = faithfulness_verdict(res.faithfulness, res.method)
    low = res.faithfulness is not None and res.faithfulness < 0.7
    top = res.top(k)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title or head)}</title><style>{_CSS}</style></head><body>",
        f"<p class='sub'>{html.escape(title)}</p>" if title else "",
        f"<h1>{html.escape(head)}</h1>",
        f"<p class='sub'>{html.escape(subject)}</p>" if isinstance(subject, str) else "",
        "<div class='cards'>",
        *(f"<div class='card'><b>{html.escape(v)}</b><span>{html.escape(c)}</span></div>" for c, v in cards),
        "</div>",
        "<h2>What was explained</h2>", facts_html(res),
        (f"<div class='{'warn' if low else 'note'}'><b>Faithfulness {html.escape(verdict)}.</b> "
        f"{html.escape(advice)} (R² of the surrogate's predictions on fresh masks it was not "
        "fitted on.)</div>"),
        ("<div class='note'><b>How to read the numbers.</b> "
        f"{html.escape(index_meaning(res.index, res.order))} {html.escape(PAIR_SIGN)} "
        "Blue = positive, red = negative (shapiq's plots use the opposite colours: compare signs, "
        f"not colours). Units: those of the output ({html.escape(str(quantity or 'not recorded'))}).</div>"),
    ]
    if plot._is_text(res):
        parts.append(_text_section(res))
    parts.append(_legend(res))
    for name, fig in plot.figures(res).items():
        data = base64.b64encode(plot.to_png(fig)).decode("ascii")
        heading, caption = _HEADINGS.get(name, (name, ""))
        parts.append(f"<h2>{html.escape(heading)}</h2><p class='sub'>{html.escape(caption)}</p>"
                     f"<img alt='{html.escape(heading)}' src='data:image/png;base64,{data}'>")
    parts.append(f"<h2>Top {len(top)} interactions</h2>{top_html(top, res.index, full=res.labels)}")
    parts.append(outputs_section(res))
    parts.append(_greedy_section(res))
    settings = json.dumps(res.settings, indent=1, sort_keys=True, default=str)
    rows = "".join(f"<tr><th>{html.escape(key)}</th><td>{html.escape(val)}</td></tr>"
                   for key, val in _flat(res.settings))
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in res.timings.items()) or "—"
    parts += [
        "<h2>Settings</h2>", f"<table class='facts'>{rows}</table>",
        ("<details><summary>raw settings (JSON)</summary>"
        f"<pre>{html.escape(settings, quote=False)}</pre></details>"),
        f"<p>Timings: {html.escape(timings)}</p>",
        f"<p class='sub'>Generated by fastspex on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def save(res: Interactions, path: str | os.PathLike[str], **options: object) -> Path:
    """Write :func:`render`'s HTML to ``path`` (folders created); returns the path.

    The file is replaced atomically (a kill during the save leaves the old file intact) and a
    symbolic link at ``path`` is replaced, never written through.
    """
    from .interactions import atomic_write_text

    path = Path(path)
    atomic_write_text(path, render(res, **options))  # type: ignore[arg-type]  # options are render()'s keywords
    return path
