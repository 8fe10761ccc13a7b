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
