"""A single self-contained HTML report of an explanation: pictures, table, settings, faithfulness.

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

from .interactions import Interactions, index_label

__all__ = ["render", "save"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1000px;
color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:0}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:8px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.3rem}.card span{color:#666;font-size:.85rem}
table{border-collapse:collapse;font-size:.9rem}td,th{padding:.25rem .7rem;border-bottom:1px solid #eee;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;margin:.5rem 0}.pos{color:#2166ac}.neg{color:#b2182b}
.text span{padding:.1rem .25rem;border-radius:4px;margin:0 .1rem;line-height:2.2}
pre{background:#f6f6f6;padding:.7rem;overflow:auto;font-size:.8rem}
"""


_HEADINGS = {
    "bar": "Strongest interactions",
    "graph": "Interaction graph",
    "heads": "Heads by layer",
    "text": "Main effects and strongest pairs in the text",
}


def _fmt(x: object) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.4g}"
    return html.escape(str(x))


def _faith_text(res: Interactions) -> str:
    if res.faithfulness is None:
        return "not measured"
    r2 = res.faithfulness
    verdict = "high" if r2 >= 0.8 else "moderate" if r2 >= 0.5 else "low — read the values with care"
    return f"{r2:.3f} ({verdict})"


def _colour(value: float, lim: float) -> str:
    """RdBu-like background: blue for positive, red for negative, white near zero."""
    t = max(-1.0, min(1.0, value / lim)) if lim else 0.0
    if t >= 0:
        r, g, b = (int(255 - t * (255 - c)) for c in (33, 102, 172))
    else:
        r, g, b = (int(255 + t * (255 - c)) for c in (178, 24, 43))
    return f"rgb({r},{g},{b})"


def _text_section(res: Interactions) -> str:
    from .plot import _units_text

    words = _units_text(res)
    main = res.main_effects()
    lim = float(abs(main).max()) or 1.0
    spans = "".join(
        f'<span style="background:{_colour(float(main[i]), lim)}" '
        f'title="{html.escape(res.labels[i])}: {main[i]:+.4g}">{html.escape(w.strip() or "␣")}</span>'
        for i, w in enumerate(words)
    )
    pairs = res.top(5, order=2)
    listing = "; ".join(
        f"<span class='{'pos' if p.value >= 0 else 'neg'}'>{html.escape(' × '.join(p.names))} "
        f"{p.value:+.3g}</span>" for p in pairs
    )
    strongest = f"<p>Strongest pairs: {listing}</p>" if pairs else ""
    return f'<h2>Text</h2><p class="text">{spans}</p>{strongest}'


def render(res: Interactions, *, k: int = 20, title: str | None = None) -> str:
    """The report as one HTML string."""
    from . import plot

    if not isinstance(res, Interactions):
        msg = f"expected fastspex.Interactions, got {type(res).__name__}"
        raise TypeError(msg)
    title = title or "fastspex explanation"
    subject = res.metadata.get("text")
    order = f" of order {res.order}" if res.order is not None else ""
    cards = [
        ("index", f"{index_label(res.index)}{order}"),
        ("method", res.method),
        ("faithfulness R²", _faith_text(res)),
        ("model calls", f"{res.calls:,}"),
        ("budget", "—" if res.budget is None else f"{res.budget:,}"),
        ("output, all kept", f"{res.baseline:.4g}"),
        ("components", f"{res.n:,}" + (f" ({res.kind})" if res.kind else "")),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='sub'>{html.escape(subject) if isinstance(subject, str) else ''}</p>",
        "<div class='cards'>",
        *(f"<div class='card'><b>{html.escape(v)}</b><span>{html.escape(c)}</span></div>" for c, v in cards),
        "</div>",
    ]
    if res.kind == "features":
        parts.append(_text_section(res))
    for name, fig in plot.figures(res).items():
        data = base64.b64encode(plot.to_png(fig)).decode("ascii")
        parts.append(f"<h2>{html.escape(_HEADINGS.get(name, name))}</h2>"
                     f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    rows = "".join(
        f"<tr><td>{t.order}</td><td>{html.escape(' × '.join(t.names))}</td>"
        f"<td class='num {'pos' if t.value >= 0 else 'neg'}'>{t.value:+.4g}</td></tr>"
        for t in res.top(k)
    )
    parts.append(f"<h2>Top {min(k, len(res.top(k)))} interactions</h2><table><tr><th>order</th>"
                 f"<th>components</th><th>{html.escape(index_label(res.index))}</th></tr>{rows}</table>")
    greedy = res.metadata.get("greedy")
    if isinstance(greedy, dict):
        names = [res.labels[i] for i in greedy.get("minimal", [])]
        parts.append(
            "<h2>Greedy search</h2><p>Smallest set found: <b>"
            f"{html.escape(', '.join(names) or '—')}</b>; output with it ablated "
            f"{_fmt(greedy.get('output'))}; threshold {_fmt(greedy.get('threshold'))}, "
            f"crossed: {_fmt(greedy.get('crossed'))}; stopped by {_fmt(greedy.get('stop_reason'))}.</p>"
        )
    settings = json.dumps(res.settings, indent=1, sort_keys=True, default=str)
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in res.timings.items()) or "—"
    parts += [
        "<h2>Settings</h2>", f"<pre>{html.escape(settings, quote=False)}</pre>",
        f"<p>Timings: {html.escape(timings)}</p>",
        ("<p class='sub'>Values are the index of each set of components; positive (blue) means "
         "keeping the components together raises the output. Faithfulness is the R² of the "
         "fitted surrogate on fresh random masks.</p>"),
        f"<p class='sub'>Generated by fastspex on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def save(res: Interactions, path: str | os.PathLike[str], **options: object) -> Path:
    """Write :func:`render`'s HTML to ``path`` (folders created); returns the path.

    The file is replaced atomically (a kill during the save leaves the old file intact) and a
    symbolic link at ``path`` is replaced, never written through.
    """
    from .interactions import atomic_write_text

    path = Path(path)
    atomic_write_text(path, render(res, **options))  # type: ignore[arg-type]  # options are render()'s keywords
    return path
