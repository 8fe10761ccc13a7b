"""What the CLI, ``print(res)`` and the report say about a run: the auto choice in words, the
budget of an exact run as the 2ⁿ masks it evaluated."""

from __future__ import annotations

import fastspex
import numpy as np
from fastspex.results.describe import budget_text, facts


def planted(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return 1.0 + x @ np.linspace(-1.0, 1.0, x.shape[1]) + 2.0 * x[:, 0] * x[:, 1]


def _row(res: fastspex.Interactions, caption: str) -> str:
    rows = dict(facts(res))
    assert caption in rows, f"no {caption!r} row in {list(rows)}"
    return rows[caption]


def test_the_auto_choice_reads_as_a_sentence_not_a_dict() -> None:
    res = fastspex.explain(planted, n=20, budget=300, holdout=50, store=None, progress=False)
    row = _row(res, "auto choice")
    assert "{" not in row and "[" not in row and "'" not in row
    assert row.startswith(res.method)
    assert f"on the {res.settings['fit_masks']:,} masks paid for" in row  # the hold-out not counted
    for cand in res.settings["auto"]["candidates"]:
        assert cand["method"] in row
        assert f"{cand['cv_r2']:.3f}" in row
    assert "not eligible" in row or all(c.get("eligible", True)
                                        for c in res.settings["auto"]["candidates"])


def test_an_exact_run_says_it_evaluated_all_two_to_the_n_masks() -> None:
    res = fastspex.explain(planted, n=6, budget=500, store=None, progress=False)
    assert res.method == "exact"
    text = budget_text(res)
    assert text is not None and text.startswith("all 2^6 = 64 masks")
    assert res.settings["fit_masks"] == 64 and res.settings["holdout_masks"] == 0
    assert _row(res, "method") == "exact (asked: auto)"
