"""Labels with ``$`` (LaTeX in the text) are drawn literally, never as math text."""

from __future__ import annotations

import numpy as np
import pytest
from fastspex import plot, report
from fastspex.interactions import Interactions

pytest.importorskip("matplotlib")

TEXT = "In LaTeX, $x_$ is a subscript and $5 costs $$ \\alpha"
WORDS = TEXT.split()


def _result(kind: str, labels: list[str]) -> Interactions:
    n = len(labels)
    rng = np.random.default_rng(0)
    data = {(i,): float(rng.normal()) for i in range(n)}
    data.update({(i, i + 1): float(rng.normal()) for i in range(n - 1)})
    meta: dict = {}
    if kind == "features":
        spans, pos = [], 0
        for w in labels:
            start = TEXT.index(w, pos)
            spans.append([start, start + len(w)])
            pos = start + len(w)
        meta = {"text": TEXT, "units": spans}
    return Interactions.from_dict(data, n, index="fbii", order=2, labels=labels, kind=kind,
                                  method="$method$", metadata=meta, baseline=1.0)


def _texts(fig) -> list:
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_text()]


@pytest.mark.parametrize("kind", ["features", "components", None])
def test_dollar_labels_render_literally(kind) -> None:
    labels = WORDS if kind != "components" else [f"L0.H{i}" for i in range(3)] + ["$x_$", "$a$b"]
    res = _result(kind, labels)
    figs = plot.figures(res)
    assert figs
    for name, fig in figs.items():
        png = plot.to_png(fig)  # raised ValueError (mathtext parse error) before the fix
        assert png.startswith(b"\x89PNG")
        for t in _texts(fig):
            shown, is_math = t._preprocess_math(t.get_text())
            assert not is_math, (name, t.get_text())
        drawn = " ".join(t._preprocess_math(t.get_text())[0] for t in _texts(fig))
        if name in ("bar", "text"):
            assert "$x_$" in drawn, name
    html = report.render(res)
    assert "$x_$" in html


def test_every_plot_function_with_dollar_labels(tmp_path) -> None:
    res = _result("features", WORDS)
    for fig in (plot.bar(res), plot.graph(res), plot.text(res)):
        plot.to_png(fig)
    comp = _result("components", ["L0.H0", "L0.H1", "L1.H0", "L1.H1"])
    comp.labels[0] = "L0.H0"
    plot.to_png(plot.heads(comp))
    paths = plot.save_all(res, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths.values())


def test_ksii_is_labelled_k_sii_in_report_and_plots() -> None:
    res = Interactions.from_dict({(0,): 1.0, (1,): -0.5, (0, 1): 0.25}, 2, index="ksii", order=2,
                                 labels=["a", "b"], baseline=1.0)
    html = report.render(res)
    assert "k-SII of order 2" in html and "KSII" not in html
    titles = [t.get_text() for t in _texts(plot.bar(res))]
    assert any("k-SII" in t for t in titles)
