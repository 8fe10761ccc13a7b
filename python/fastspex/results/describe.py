"""What a result explains, in words: the facts every view (report, CLI, repr, plots) shows.

Everything here reads the shared metadata contract (``metadata["model"]``, ``["quantity"]``,
``["prompt"]``, ``["answer"]``, … and ``settings["design"]``, ``["fit_masks"]``,
``["holdout_masks"]``, ``["calls"]``); a missing key means "not applicable" and is left out, never
guessed. Labels are made unique and short here too, so every view names a component the same way.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..names import INDEX_MEANINGS, index_label

__all__ = [
    "PAIR_SIGN",
    "auto_text",
    "budget_text",
    "calls_text",
    "component_kind",
    "facts",
    "faithfulness_verdict",
    "greedy_facts",
    "headline",
    "index_meaning",
    "index_text",
    "one_line",
    "short_labels",
    "shown_values",
    "unique_labels",
]

#: What the sign of a pair's value means, for every index (shown next to pair tables).
PAIR_SIGN = (
    "A pair's sign compares keeping both with keeping each alone: positive = synergy (together "
    "they add more than their separate effects); negative = redundancy (they partly do the same "
    "job, so together they add less). A negative pair does not mean the two lower the output."
)

# Metadata keys naming what was explained, in the order views list them, with their captions.
_SUBJECT_KEYS = (
    ("quantity", "explained"), ("prompt", "prompt"), ("system", "system prompt"),
    ("context", "context"),
    ("answer", "answer explained"), ("target", "target"), ("reference", "reference text"),
    ("class", "class"), ("contrast", "contrast"), ("output_name", "output"),
)
_HEAD = re.compile(r"^L\d+\.H\d+$")
#: Methods whose values are measured on the model, not read off a fitted surrogate.
EXACT_METHODS = ("greedy", "exact", "dense")
_PLURAL = {"features": "feature", "components": "component", "data": "training example"}


def unique_labels(labels: Sequence[str]) -> list[str]:
    """The labels with every repeated name suffixed by its component id (``was@2``, ``was@7``).

    Names that occur once are unchanged. A suffixed name that collides with another label gets
    the id again until it is unique, so the result always has ``len(set(out)) == len(labels)``.
    """
    names = [str(x) for x in labels]
    counts = Counter(names)
    out = [f"{x}@{i}" if counts[x] > 1 else x for i, x in enumerate(names)]
    taken = Counter(out)
    for i, x in enumerate(out):
        while taken[x] > 1:  # a literal label such as "was@2" clashing with a suffixed one
            taken[x] -= 1
            x = f"{x}@{i}"
            taken[x] += 1
        out[i] = x
    return out


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())  # newlines and runs of spaces read as one space
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:  # end on a word boundary when that loses little
        cut = cut[:space]
    return cut.rstrip() + "…"


def short_labels(labels: Sequence[str], limit: int = 24) -> list[str]:
    """Unique display labels of at most about ``limit`` characters.

    Long names (sentences) are cut at a word boundary with "…"; names that are equal after
    cutting, or equal to begin with, get their component id (``was@7``). Pair them with the full
    labels (a legend or a tooltip) wherever a name was cut.
    """
    if limit < 4:
        msg = f"limit must be >= 4 characters, got {limit}"
        raise ValueError(msg)
    return unique_labels([_shorten(x, limit) for x in labels])


def was_shortened(labels: Sequence[str], limit: int = 24) -> bool:
    """Whether :func:`short_labels` cuts any of ``labels`` (so a legend is needed)."""
    return any(len(" ".join(str(x).split())) > limit for x in labels)


def one_line(text: str) -> str:
    """``text`` on one line: line breaks and tabs shown as ``\\n`` and ``\\t`` (a generated
    answer often ends in blank lines, which would break a table)."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def component_kind(res: Any) -> str | None:
    """What one component is, singular ("word", "sentence", "head", "neuron", "training example")."""
    unit = res.metadata.get("unit")
    if isinstance(unit, str) and unit:
        return unit
    kind = res.kind
    if kind == "components" and res.labels and all(_HEAD.match(x) for x in res.labels):
        return "head"
    if isinstance(kind, str) and kind:
        return _PLURAL.get(kind, kind)
    return None


def _plural(word: str, count: int) -> str:
    if count == 1:
        return word
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def components_text(res: Any) -> str:
    """``"15 words"``, ``"72 heads"``, ``"8 components"``."""
    kind = component_kind(res) or "component"
    return f"{res.n:,} {_plural(kind, res.n)}"


def index_meaning(index: str, order: int | None = None) -> str:
    """One plain sentence saying what the index's values are."""
    sentence = INDEX_MEANINGS.get(index, f"values of the {index_label(index)} index.")
    if order is not None and index in ("fbii", "fsii", "stii", "ksii"):
        sentence = sentence.replace("order k", f"order {order}").replace("order-k", f"order-{order}")
    return sentence


def budget_text(res: Any) -> str | None:
    """The budget split: ``"500 fit masks + 50 hold-out masks = 550"`` (``None`` if unknown)."""
    s = res.settings
    if res.method == "exact":
        n = int(s.get("n", res.n))
        return (f"all 2^{n} = {1 << n:,} masks (exact; the budget given was "
                f"{s.get('budget', res.budget)})") if n <= 62 else None
    fit = s.get("fit_masks", s.get("budget", res.budget))
    hold = s.get("holdout_masks", s.get("holdout"))
    if not isinstance(fit, (int, float)) or isinstance(fit, bool):
        return None
    fit = int(fit)
    if not isinstance(hold, (int, float)) or isinstance(hold, bool) or int(hold) == 0:
        note = "" if hold is None else " (no hold-out)"
        return f"{fit:,} fit masks{note}"
    return f"{fit:,} fit masks + {int(hold):,} hold-out masks = {fit + int(hold):,}"


def calls_text(res: Any) -> str:
    """Model calls as ``"44 new / 500 from the store / 544 total"``, with
    ``"… / 900 reused in this run / …"`` when masks were asked again (several outputs fitted
    on the same masks, or a method asking a mask twice).

    Without ``settings["calls"]`` (results of older runs) only the new calls are known.
    """
    calls = res.settings.get("calls")
    if isinstance(calls, dict) and isinstance(calls.get("total"), (int, float)):
        new = int(calls.get("new", res.calls) or 0)
        stored = int(calls.get("from_store", 0) or 0)
        reused = int(calls.get("reused", 0) or 0)
        total = int(calls["total"])
        again = f" / {reused:,} reused in this run" if reused else ""
        return f"{new:,} new / {stored:,} from the store{again} / {total:,} total"
    return f"{int(res.calls):,} new (store hits not recorded)"


def design_text(res: Any) -> str | None:
    """The mask design, with its reason when the run gave one."""
    design = res.settings.get("design")
    if design is None:
        design = res.settings.get("method_settings", {}).get("design") if isinstance(
            res.settings.get("method_settings"), dict) else None
    if design is None:
        return None
    reason = res.settings.get("design_reason")
    return f"{design} — {reason}" if reason else str(design)


def method_text(res: Any) -> str:
    """The method that ran, and the one asked for when they differ (``"exact (asked: proxyspex)"``)."""
    ran = str(res.settings.get("method", res.method))
    asked = res.settings.get("requested_method")
    if asked and asked != ran:
        return f"{ran} (asked: {asked})"
    return ran


def faithfulness_verdict(r2: float | None, method: str | None = None) -> tuple[str, str]:
    """``(verdict, what to do)`` for a held-out R² (``None`` = not measured).

    ``method``: greedy and exact runs measure their values directly, so "not measured" there
    is not something to fix.
    """
    if r2 is None and method in EXACT_METHODS:
        return ("not applicable", (f"{method} measures its values on the model directly; "
                                   "there is no fitted surrogate to check on held-out masks."))
    if r2 is None or (isinstance(r2, float) and math.isnan(r2)):
        return ("not measured", ("Pass holdout > 0 (the default) to measure how well the "
                                 "fitted surrogate predicts the model on fresh masks."))
    if r2 >= 0.9:
        return (f"{r2:.3f} — high", ("The surrogate predicts the model well on fresh masks; "
                                     "the values describe the model, not noise."))
    if r2 >= 0.7:
        return (f"{r2:.3f} — moderate", ("Trust the ranking of the strongest terms more than "
                                         "their exact values; a larger budget usually raises it."))
    return (f"{r2:.3f} — low: read the values with care", (
        "The surrogate misses much of the model's behaviour. Raise the budget, try another "
        "design (e.g. a local one near the full input) or method (spex, lasso), or use fewer, "
        "larger units."))


def index_text(index: str, order: int | None, *, short: bool = False) -> str:
    """``"FBII of order 2"`` (``short``: ``"FBII (order 2)"``); order-1 k-SII and BII by their
    usual names (``"Shapley values (k-SII of order 1)"``)."""
    usual = {"ksii": "Shapley values", "bii": "Banzhaf values"}.get(index) if order == 1 else None
    if order is None:
        label = index_label(index)
    elif short:
        label = f"{index_label(index)}, order {order}" if usual else f"{index_label(index)} (order {order})"
    else:
        label = f"{index_label(index)} of order {order}"
    return f"{usual} ({label})" if usual else label


def headline(res: Any) -> str:
    """One line naming what was explained: ``"FBII of 15 words — cosine similarity … (model)"``."""
    what = f"{index_text(res.index, res.order, short=True)} of {components_text(res)}"
    quantity = res.metadata.get("quantity")
    model = res.metadata.get("model") or res.metadata.get("model_name")
    parts = [what]
    if quantity:
        parts.append(f"for {quantity}")
    if model:
        parts.append(f"on {model}")
    return one_line(" ".join(parts))


def facts(res: Any) -> list[tuple[str, str]]:
    """``(caption, value)`` rows saying what was explained and how, in reading order.

    Rows whose fact is unknown are left out.
    """
    meta = res.metadata
    rows: list[tuple[str, str]] = []
    model = meta.get("model") or meta.get("model_name")
    if model:
        rows.append(("model", str(model)))
    rows.append(("components", components_text(res)))
    for key, caption in _SUBJECT_KEYS:
        value = meta.get(key)
        if value is not None and value != "":
            rows.append((caption, one_line(str(value))))
    rows.append(("index", index_text(res.index, res.order)))
    rows.append(("method", method_text(res)))
    design = design_text(res)
    if design:
        rows.append(("design", design))
    budget = budget_text(res)
    if budget:
        rows.append(("budget", budget))
    rows.append(("model calls", calls_text(res)))
    rows.append(("f(all kept)", f"{res.baseline:.4g}"))
    auto = res.settings.get("auto")
    if isinstance(auto, dict) and auto:
        rows.append(("auto choice", auto_text(auto)))
    return rows


def auto_text(auto: dict[str, Any]) -> str:
    """``method="auto"``'s choice in words: ``"proxyspex — highest cross-validated R² (0.873)
    …; candidates: proxyspex 0.873, lasso 0.853 (not eligible)"``.

    ``auto`` is ``settings["auto"]``: ``chosen``, ``reason``, ``candidates`` (each ``method``,
    ``cv_r2`` and optionally ``eligible``) and ``not_tried`` (each ``method`` and ``why``).
    """
    text = str(auto.get("chosen", "?"))
    if auto.get("reason"):
        text += f" — {auto['reason']}"
    scored = []
    for cand in auto.get("candidates") or []:
        if not isinstance(cand, dict):
            continue
        r2 = cand.get("cv_r2")
        score = f"{r2:.3f}" if isinstance(r2, (int, float)) else "not scored"
        note = "" if cand.get("eligible", True) else " (not eligible)"
        scored.append(f"{cand.get('method', '?')} {score}{note}")
    if scored:
        text += "; candidates (cross-validated R²): " + ", ".join(scored)
    missed = [f"{c.get('method', '?')} ({c.get('why', 'no reason given')})"
              for c in auto.get("not_tried") or [] if isinstance(c, dict)]
    if missed:
        text += "; not tried: " + ", ".join(missed)
    return one_line(text)


#: A list's numbers read as plain decimals while its largest |value| is in ``[PLAIN[0],
#: PLAIN[1])``; outside, in units of a power of ten named once for the list ("× 10⁻⁵"), so no
#: number needs an exponent or a long run of zeros.
PLAIN = (0.01, 1e4)

#: A value under this share of its list's largest |value| is shown as ``"0"``: rounding noise
#: (-2.2e-16 beside 1) or too small to compare with the rest to the digits shown.
ROUNDING = 1e-4

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def shown_values(values: Sequence[float], digits: int, *, negligible: float = ROUNDING,
                 placeholder: str = "0", aligned: bool = False) -> tuple[list[str], str]:
    """How one table or list shows its ``values``: each signed, with no exponent, in units of
    one power of ten for the whole list; a value under ``negligible`` × the largest |value| (or
    0) as ``placeholder``, so noise never shows as digits and a shown number never rounds to 0
    or to the other sign. Each value gets ``digits`` significant digits, or with ``aligned``
    (a table's column) the decimals that give the largest ``digits``, so the points line up;
    a value too small for them shows as ``placeholder``.

    Returns the texts and the list's scale, ``"× 10⁻⁵"`` (``""`` for plain units), to be said
    once in the list's heading.
    """
    lim = max((abs(float(v)) for v in values if math.isfinite(v)), default=0.0)
    power = 0 if lim == 0 or PLAIN[0] <= lim < PLAIN[1] else math.floor(math.log10(lim))
    common = max(0, digits - 1 - math.floor(math.log10(lim / 10.0**power))) if lim else 0
    texts = []
    for v in map(float, values):
        x = v / 10.0**power
        if not math.isfinite(v):
            texts.append(str(v))
        elif v == 0 or abs(v) < negligible * lim or (aligned and abs(x) < 0.5 * 10.0**-common):
            texts.append(placeholder)
        elif aligned:
            texts.append(f"{x:+.{common}f}")
        else:
            x = float(f"{x:.{digits}g}")  # rounded first: at 2 digits 0.0996 is 0.10
            texts.append(f"{x:+.{max(0, digits - 1 - math.floor(math.log10(abs(x))))}f}")
    return texts, f"× 10{str(power).translate(_SUPERSCRIPT)}" if power else ""


def greedy_facts(res: Any) -> list[tuple[str, str]]:
    """What a greedy search found, as ``(caption, value)`` rows (empty when greedy did not run).

    Reads ``metadata["greedy"]`` (the search's summary: ``minimal``, ``output``, ``threshold``,
    ``crossed``, ``stop_reason``, ``direction``).
    """
    g = res.metadata.get("greedy")
    if not isinstance(g, dict):
        return []
    names = unique_labels(res.labels)
    found = [names[i] for i in g.get("minimal", []) if isinstance(i, int) and 0 <= i < res.n]
    output = g.get("output")
    shown = f"{output:.4g}" if isinstance(output, (int, float)) else "—"
    threshold = g.get("threshold")
    if threshold is None:
        crossing = "no threshold given"
    else:
        crossing = f"{threshold:.4g}: " + ("crossed" if g.get("crossed") else "not crossed")
    rows = [("set found", f"{', '.join(found) or '—'} ({len(found)} of {res.n})"),
            ("output with it ablated", f"{shown} (all kept: {res.baseline:.4g})"),
            ("threshold", crossing)]
    if g.get("direction"):
        rows.append(("direction", str(g["direction"])))
    rows.append(("stopped because", str(g.get("stop_reason") or "—")))
    return rows
