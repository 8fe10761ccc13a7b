"""Progress off a terminal: plain throttled lines with counts, no carriage returns; silence
when progress is off; stage lines for a fit."""

from __future__ import annotations

import io

import numpy as np
from fastspex import progress
from fastspex.evaluation.evaluator import Evaluator


class Clock:
    """A fake monotonic clock, advanced by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_counter_off_terminal_prints_throttled_plain_lines(monkeypatch) -> None:
    clock = Clock()
    monkeypatch.setattr(progress, "_now", clock)
    out = io.StringIO()  # not a TTY
    with progress.counter(2000, True, stream=out) as tick:
        for _ in range(20):
            clock.t += 1.0
            tick(100)  # 20 updates 1 s apart: one line per ~12 s, then the final one
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[-1].startswith("model calls: 2,000/2,000 (100%)") and "done" in lines[-1]
    assert len(lines) == 2 and lines[0].startswith("model calls: 1,200/2,000 (60%)")
    assert "masks/s" in lines[0] and "left" in lines[0]


def test_no_progress_prints_nothing_and_evaluator_off_terminal_prints_lines(capfd) -> None:
    with progress.counter(10, False, stream=io.StringIO()) as tick:
        tick(10)
    ev = Evaluator(lambda m: m.sum(axis=1).astype(float), 4, batch_size=2, progress=False)
    ev(np.eye(4, dtype=bool))
    assert capfd.readouterr().err == ""
    ev = Evaluator(lambda m: m.sum(axis=1).astype(float), 4, batch_size=2, progress=True)
    ev(np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool))
    err = capfd.readouterr().err
    assert "model calls: 4/4 (100%)" in err and "\r" not in err


def test_stage_lines(monkeypatch) -> None:
    clock = Clock()
    monkeypatch.setattr(progress, "_now", clock)
    out = io.StringIO()
    with progress.stage("tree proxy", True, stream=out):
        clock.t += 3.2
    with progress.stage("quiet", False, stream=out):
        clock.t += 5
    assert out.getvalue().splitlines() == ["fitting: tree proxy …", "fitting: tree proxy done in 3.2 s"]


def test_proxyspex_fit_with_progress_prints_its_stage(capfd) -> None:
    from fastspex.explainers.proxyspex import ProxySPEX

    def fn(m: np.ndarray) -> np.ndarray:
        return m.astype(float) @ np.arange(1.0, 7.0) + 2.0 * m[:, 0] * m[:, 1]

    ProxySPEX(40, seed=0).fit(fn, 6, store=None, progress=True)  # 40 of the 64 masks
    err = capfd.readouterr().err
    assert "fitting: tree proxy (40 masks, cross-validated) …" in err
    assert "fitting: tree proxy (40 masks, cross-validated) done in" in err and "\r" not in err
    ProxySPEX(40, seed=0).fit(fn, 6, store=None, progress=False)
    assert capfd.readouterr().err == ""


def test_spex_and_screened_fits_print_their_stages(capfd) -> None:
    from fastspex.explainers.screening import Screened
    from fastspex.explainers.spex import SPEX

    def fn(m: np.ndarray) -> np.ndarray:
        return m.astype(float) @ np.arange(1.0, 9.0)

    SPEX(400, seed=0).fit(fn, 8, store=None, progress=True)
    assert "fitting: SPEX decoding (" in capfd.readouterr().err
    Screened(200, seed=0).fit(fn, 8, store=None, progress=True)
    assert "fitting: screened fit (8 kept components) done in" in capfd.readouterr().err


def test_lasso_and_fm_fits_print_their_stage(capfd) -> None:
    from fastspex.explainers.factorization_machine import FactorizationMachine
    from fastspex.explainers.sparse_polynomial import SparsePolynomial

    def fn(m: np.ndarray) -> np.ndarray:
        return m.astype(float) @ np.arange(1.0, 7.0) + 2.0 * m[:, 0] * m[:, 1]

    for cls, name in ((SparsePolynomial, "lasso"), (FactorizationMachine, "fm")):
        cls(150, seed=0).fit(fn, 6, store=None, progress=True)
        err = capfd.readouterr().err
        assert f"fitting: {name} fit (" in err and "done in" in err and "\r" not in err
        cls(150, seed=0).fit(fn, 6, store=None, progress=False)
        assert capfd.readouterr().err == ""
