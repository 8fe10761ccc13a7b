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
    # the other outputs have no pair: their rounding noise (1e-16) is not listed as one
    assert [("Top pairs" in p) for p in _panels(page)] == [False, True, False]
    assert "Which components drive which output" in text
    assert "matrix" in page and "overflow:auto" in page


def _panels(page: str) -> list[str]:
    """The HTML of each output's panel, in order."""
    return re.findall(r"<details(?: open)?><summary><b>output \d+: .*?</details>", page,
                      flags=re.DOTALL)


def _bars(panel: str) -> list[tuple[str, float, str, str]]:
    """``(sign class, width %, background, label)`` of each bar of a panel, in order: each is
    drawn in its table row, after the row's label."""
    assert "<table class='top bars'" in panel, "no bars in the panel's table"
    rows = re.findall(r"<tr><td class='num'>\d+</td>.*?</tr>", panel, flags=re.DOTALL)
    found = []
    for row in rows:
        label = re.search(r"<td(?: title='[^']*')?>([^<]*)</td><td class='bar-cell'", row)
        bar = re.search(
            r"<div class='bar (pos|neg)' style='width:([\d.]+)%;[^']*background:([^;']+)'", row)
        assert label and bar, row
        found.append((bar[1], float(bar[2]), bar[3], html.unescape(label[1])))
    return found


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
    from fastspex.results.html_views import top_html
    from fastspex.results.interactions import Interaction

    def widths(table: str) -> list[str]:
        return re.findall(r"class='bar (?:pos|neg)' style='width:([\d.]+)%", table)

    mixed = top_html([Interaction((0,), ("a",), 2.0), Interaction((1,), ("b",), -1.0)], None,
                     bars=True)
    assert mixed.count("grid-template-columns:repeat(2,1fr)") == 2
    assert widths(mixed) == ["100.00", "50.00"]
    assert "linear-gradient(#888,#888) 50% 0" in mixed  # the zero line between the halves
    positive = top_html([Interaction((0,), ("a",), 2.0), Interaction((1,), ("b",), 0.5)], None,
                        bars=True)
    assert positive.count("grid-template-columns:repeat(1,1fr)") == 2
    assert widths(positive) == ["100.00", "25.00"]
    assert "linear-gradient(#888,#888) 0 0" in positive  # at the track's left edge
    negative = top_html([Interaction((0,), ("a",), -2.0)], None, bars=True)
    assert "linear-gradient(#888,#888) 100% 0" in negative
    assert "bar-cell" not in top_html([Interaction((0,), ("a",), 2.0)], None)  # bars asked only
    assert top_html([], None, bars=True) == "<p>(no interactions)</p>"


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
    assert "<td title='x&lt;b&gt;y'>x&lt;b&gt;y</td><td class='bar-cell'" in panel
    assert re.search(r"title='[^']*it&#x27;s", page)  # a quote cannot end the tooltip early


class _Main:
    """Stands for one output's result where only its main effects are read (the matrix)."""

    def __init__(self, values: list[float]) -> None:
        self.values = np.array(values)

    def main_effects(self) -> np.ndarray:
        return self.values


def _cells(matrix: str) -> list[tuple[float, str]]:
    """``(exact value from the tooltip, text shown)`` of every cell of the matrix."""
    cells = re.findall(r"<td class='num[^']*' title='[^']*: ([^']+)'[^>]*>([^<]*)</td>", matrix)
    return [(float(v), html.unescape(t)) for v, t in cells]


def test_matrix_cells_are_readable_at_a_glance() -> None:
    from fastspex.results.outputs_html import _matrix

    # rounding noise, a tiny effect, and ordinary ones, as a real matrix holds them
    columns = [[0.93, -2.2e-16, 0.00049, -0.0047, 0.0049], [-0.7, 0.12, -0.076, 0.024, 1e-9]]
    per = [(f"output {j + 1}: t{j}", _Main(c)) for j, c in enumerate(columns)]
    matrix = _matrix(per, ["a", "b", "c", "d", "e"])
    cells = _cells(matrix)
    assert len(cells) == 10
    lim = 0.93
    for value, text in cells:
        assert "e" not in text.lower() and text not in ("-0", "+0", "0.0", "-0.0"), text
        if abs(value) < 0.005 * lim:
            assert text == "·", (value, text)  # muted: nothing to read in it
        else:
            shown = float(text)
            assert np.sign(shown) == np.sign(value), (value, text)
            assert shown == pytest.approx(value, rel=0.06), (value, text)
            assert len(text.lstrip("+-").replace(".", "").lstrip("0")) == 2, text  # 2 digits
    texts = dict(cells)
    assert texts[0.93] == "+0.93" and texts[-0.7] == "-0.70" and texts[0.0049] == "+0.0049"
    assert "10⁻" not in matrix  # an ordinary matrix needs no scale


def test_a_tiny_matrix_says_its_scale_once() -> None:
    from fastspex.results.outputs_html import _matrix

    columns = [[9.3e-5, -2.2e-20, 4.9e-8], [-7e-5, 1.2e-5, 3.1e-6]]
    per = [(f"output {j + 1}: t{j}", _Main(c)) for j, c in enumerate(columns)]
    matrix = _matrix(per, ["a", "b", "c"])
    assert matrix.count("× 10⁻⁵") == 1
    texts = [t for _, t in _cells(matrix)]
    assert texts == ["+9.3", "-7.0", "·", "+1.2", "·", "+0.31"], texts  # row by row


class ManyOutputs(ThreeOutputs):
    """Ten outputs, output j driven most by word j % 6."""

    output_names = [f"tok{j}" for j in range(10)]

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        x = np.asarray(masks, dtype=float)
        w = np.full((10, self.n), 0.1)
        for j in range(10):
            w[j, j % self.n] = 1.0 + j
        return x @ w.T


def test_only_the_first_panels_are_open_the_rest_one_line_each() -> None:
    res = fastspex.explain(ManyOutputs(), method="exact", index="fbii", order=1, store=None,
                           progress=False)
    page = report.render(res)
    panels = _panels(page)
    assert len(panels) == 10
    assert [p.startswith("<details open>") for p in panels] == [True] * 3 + [False] * 7
    # a closed panel's summary names the output, its value (f with every word kept) and its
    # strongest component
    summary = _text(re.search(r"<summary>(.*?)</summary>", panels[7], flags=re.DOTALL)[1])
    assert summary.startswith("output 8: tok7"), summary
    assert "beta" in summary and "+8" in summary, summary


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rgb``, ``#rrggbb`` or ``rgb(r,g,b)``."""
    if colour.startswith("rgb("):
        channels = [int(c) for c in colour[4:-1].split(",")]
    else:
        hexa = colour.lstrip("#")
        hexa = "".join(c * 2 for c in hexa) if len(hexa) == 3 else hexa
        channels = [int(hexa[i:i + 2], 16) for i in (0, 2, 4)]
    lin = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
           for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_matrix_dot_is_legible_and_says_what_it_means() -> None:
    from fastspex.results.outputs_html import _matrix

    assert _contrast("#999", "#fff") == pytest.approx(2.85, abs=0.01)  # the formula, checked
    columns = [[0.93, -2.2e-16, 0.00049, -0.0047, 0.0049], [-0.7, 0.12, -0.076, 0.024, 1e-9]]
    per = [(f"output {j + 1}: t{j}", _Main(c)) for j, c in enumerate(columns)]
    matrix = _matrix(per, ["a", "b", "c", "d", "e"])
    dots = re.findall(r"<td class='num[^']*' title='([^']*)' style='background:([^;']+);"
                      r"color:([^;']+)'>·</td>", matrix)
    assert len(dots) == 3, matrix
    for title, background, colour in dots:
        # WCAG AA for text: 4.5:1, against white and against the cell's own background
        assert _contrast(colour, "#fff") >= 4.5 and _contrast(colour, background) >= 4.5, colour
        assert "under 0.5% of the largest" in html.unescape(title), title


def test_panel_numbers_read_plainly_and_alike() -> None:
    from fastspex.interactions import Interactions
    from fastspex.results.outputs_html import outputs_section
    from test_report import assert_plain_numbers, spread_result, top_rows

    for scale in (1.0, 1e-4):
        per = [spread_result(scale), spread_result(-scale)]
        res = Interactions.from_dict({(0,): 1.0}, 5, index="fbii", order=2, labels=WORDS[:5],
                                     metadata={"outputs": [
                                         {"name": f"t{j}", "result": r.to_json_dict()}
                                         for j, r in enumerate(per)]})
        for panel, r in zip(_panels(outputs_section(res)), per):
            pairs = {" × ".join(p.names): p.value for p in r.top(20, order=2)}
            found = re.search(r"<p>Top pairs([^:]*): ([^<]*)</p>", panel)
            listed = [item.rsplit(" ", 1) for item in html.unescape(found[2]).split("; ")]
            assert {name for name, _ in listed} >= {"alpha × beta", "beta × gamma"}, listed
            assert_plain_numbers([(pairs[name], text) for name, text in listed], found[1])
            top = r.top(5)
            table = panel[panel.index("<table"):panel.index("</table>")]
            assert_plain_numbers([(top[rank - 1].value, html.unescape(text))
                                  for rank, text in top_rows(table)],
                                 re.search(r"<thead>.*?</thead>", table)[0], aligned=True)
            largest = re.search(r"largest main effect: “alpha” ([^ <]+)( \(× 10[^)]*\))?",
                                html.unescape(panel))
            assert_plain_numbers([(r[0], largest[1])], largest[2] or "")
