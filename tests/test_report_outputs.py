"""The report of a several-output result shows every output: its own top terms and the
components × outputs matrix of main effects."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import fastspex
from fastspex import report

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta"]


class ThreeOutputs:
    """Output j = w_j · x with a different strongest word per output, plus a pair in output 1;
    two outputs share a name, as repeated answer tokens do."""

    n = len(WORDS)
    labels = WORDS
    output_names = ["tok ' the'", "tok ' cat'", "tok ' the'"]

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        x = np.asarray(masks, dtype=float)
        w = np.full((3, self.n), 0.1)
        w[0, 0], w[1, 3], w[2, 5] = 2.0, 2.5, 3.0
        out = x @ w.T
        out[:, 1] += 0.8 * x[:, 1] * x[:, 2]
        return out


def _text(page: str) -> str:
    import html
    import re

    body = re.sub(r"<(style|title)>.*?</\1>", " ", page, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_report_has_a_section_per_output_and_a_matrix() -> None:
    res = fastspex.explain(ThreeOutputs(), method="exact", index="fbii", order=2, store=None,
                           progress=False)
    page = report.render(res)
    text = _text(page)
    assert "Every output" in text
    # each output is named, duplicates told apart, with its own strongest word first
    for j, (name, best) in enumerate(zip(["tok ' the'", "tok ' cat'", "tok ' the'"],
                                         ["alpha", "delta", "zeta"])):
        heading = f"output {j + 1}: {name}"
        assert heading in text, heading
        panel = page[page.index(html.escape(heading)):]
        first = re.search(r"<tr><td class='num'>1</td><td class='num'>\d</td><td[^>]*>([^<]+)<", panel)
        assert first and first[1] == best, (heading, first and first[1])
    assert "beta × gamma" in text  # output 1's pair is listed
    assert "Which components drive which output" in text
    assert "matrix" in page and "overflow:auto" in page


def _panels(page: str) -> list[str]:
    """The HTML of each output's panel, in order."""
    return re.findall(r"<details open><summary><b>output \d+: .*?</details>", page, flags=re.DOTALL)


def _bars(panel: str) -> list[tuple[str, float, str, str]]:
    """``(sign class, width %, background, label)`` of each bar of a panel, in order."""
    assert "<div class='bars'" in panel, "no bar chart in the panel"
    chart = panel[panel.index("<div class='bars'"):panel.index("<table class='top'")]
    labels = re.findall(r"<div class='bar-label' title='[^']*'[^>]*>([^<]*)</div>", chart)
    bars = re.findall(r"<div class='bar (pos|neg)' style='width:([\d.]+)%;[^']*background:([^;']+)'",
                      chart)
    assert len(labels) == len(bars), (labels, bars)
    return [(sign, float(width), colour, html.unescape(label))
            for (sign, width, colour), label in zip(bars, labels)]


class SignedOutputs(ThreeOutputs):
    """ThreeOutputs with a word that lowers output 0 and a redundant pair in output 2, so
    panels show both signs."""

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        x = np.asarray(masks, dtype=float)
        out = super().__call__(masks)
        out[:, 0] -= 1.2 * x[:, 4]
        out[:, 2] -= 0.9 * x[:, 1] * x[:, 2]
        return out


def test_every_output_has_signed_bars_of_its_table_terms() -> None:
    from fastspex.multi_output import outputs
    from fastspex.results.html_views import NEGATIVE, POSITIVE

    res = fastspex.explain(SignedOutputs(), method="exact", index="fbii", order=2, store=None,
                           progress=False)
    page = report.render(res)
    panels = _panels(page)
    per = list(outputs(res).values())
    assert len(panels) == len(per) == 3
    k = 5  # the section's default
    for panel, r in zip(panels, per):
        top = r.top(k)
        table_rows = re.findall(r"<tr><td class='num'>\d+</td>", panel)
        bars = _bars(panel)
        assert len(bars) == len(table_rows) == len(top) == k
        lim = max(abs(t.value) for t in top)
        for (sign, width, colour, label), t in zip(bars, top):
            assert label == " × ".join(t.names)
            assert width == pytest.approx(100 * abs(t.value) / lim, abs=0.01)
            assert sign == ("pos" if t.value >= 0 else "neg")
            assert colour == (POSITIVE if t.value >= 0 else NEGATIVE)
        assert max(width for _, width, _, _ in bars) == pytest.approx(100)
    # eps lowers output 0 and beta × gamma is redundant in output 2: red bars drawn
    assert {sign for sign, *_ in _bars(panels[0])} == {"pos", "neg"}
    assert ("neg", "beta × gamma") in {(sign, label) for sign, _, _, label in _bars(panels[2])}


def test_bars_have_one_half_per_sign_shown() -> None:
    from fastspex.results.html_views import bars_html
    from fastspex.results.interactions import Interaction

    def widths(chart: str) -> list[str]:
        return re.findall(r"class='bar (?:pos|neg)' style='width:([\d.]+)%", chart)

    mixed = bars_html([Interaction((0,), ("a",), 2.0), Interaction((1,), ("b",), -1.0)])
    assert "fit-content(40%) minmax(3rem,1fr) minmax(3rem,1fr) max-content" in mixed
    assert widths(mixed) == ["100.00", "50.00"]
    positive = bars_html([Interaction((0,), ("a",), 2.0), Interaction((1,), ("b",), 0.5)])
    assert "fit-content(40%) minmax(3rem,1fr) max-content" in positive
    assert widths(positive) == ["100.00", "25.00"]
    assert bars_html([]) == ""


class MarkupLabels(ThreeOutputs):
    """Labels and an output name with markup in them, which must show as text."""

    labels = ["x<b>y", "it's", "a&b", *WORDS[3:]]
    output_names = ["<i>tok</i>", "tok ' cat'", "tok ' the'"]


def test_bar_labels_are_escaped() -> None:
    res = fastspex.explain(MarkupLabels(), method="exact", index="fbii", order=2, store=None,
                           progress=False)
    page = report.render(res)
    assert "x<b>y" not in page and "<i>tok" not in page
    panel = _panels(page)[0]
    labels = [label for *_, label in _bars(panel)]
    assert "x<b>y" in labels  # output 0's strongest word, shown as its text
    assert "<div class='bar-label' title='x&lt;b&gt;y'" in panel
    assert re.search(r"title='[^']*it&#x27;s", page)  # a quote cannot end the tooltip early
