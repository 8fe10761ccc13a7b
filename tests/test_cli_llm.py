"""The command line for causal LMs: the answer shown and stored, chat options, context files,
contrast and per-token outputs, and ``fastspex models``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_chat
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex import cli

QUESTION = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def chat_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, tok = _tiny_chat.chat_llama()
    path = tmp_path_factory.mktemp("tiny-chat")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _run(args: list[str], out: Path) -> int:
    return cli.main(["explain", "text", *args, "--out", str(out), "--budget", "100",
                     "--no-progress", "--store", "none", "--no-report"])


def test_the_models_answer_is_printed_and_stored(chat_folder: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert _run([QUESTION, "--model", str(chat_folder), "--system", "Be brief.",
                 "--max-new-tokens", "3"], out) == 0
    printed = capsys.readouterr().out
    doc = json.loads((out / "result.json").read_text())
    meta = doc["metadata"]
    assert meta["prompt"] == QUESTION and meta["system"] == "Be brief."
    assert meta["answer"] and "target" not in meta
    from fastspex.results.describe import one_line

    assert f"answer explained {one_line(meta['answer'])}" in " ".join(printed.split())
    assert meta["quantity"].startswith("log p(")


def test_contrast_and_per_token(chat_folder: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    assert _run([QUESTION, "--model", str(chat_folder), "--target", " fox",
                 "--contrast", " dog"], out) == 0
    printed = capsys.readouterr().out
    meta = json.loads((out / "result.json").read_text())["metadata"]
    assert meta["target"] == " fox" and meta["contrast"] == " dog"
    assert len(meta["outputs"]) == 2 and "per output (2;" in printed
    out = tmp_path / "t"
    assert _run([QUESTION, "--model", str(chat_folder), "--max-new-tokens", "2", "--per-token"],
                out) == 0
    meta = json.loads((out / "result.json").read_text())["metadata"]
    assert len(meta["outputs"]) == len(meta["output_names"]) >= 1


def test_history_file_turns_come_before_the_message(chat_folder: Path, tmp_path: Path) -> None:
    turns = [{"role": "user", "content": "Hello there."}, {"role": "assistant", "content": "Hi."}]
    hist = tmp_path / "turns.json"
    hist.write_text(json.dumps(turns))
    out = tmp_path / "h"
    assert _run([QUESTION, "--model", str(chat_folder), "--history", str(hist),
                 "--max-new-tokens", "2"], out) == 0
    res = json.loads((out / "result.json").read_text())
    assert res["labels"] == QUESTION.split()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"role": "robot", "content": "x"}]))
    with pytest.raises(SystemExit) as err:
        _run([QUESTION, "--model", str(chat_folder), "--history", str(bad)], out)
    assert err.value.code == 2


def test_context_file_units_are_its_sentences(chat_folder: Path, tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("Paris is the capital of France. Berlin is the capital of Germany. "
                   "Rome is in Italy.")
    out = tmp_path / "x"
    assert _run(["What is the capital of France?", "--model", str(chat_folder),
                 "--context", str(doc), "--max-new-tokens", "2"], out) == 0
    res = json.loads((out / "result.json").read_text())
    assert res["labels"] == ["Paris is the capital of France.",
                             "Berlin is the capital of Germany.", "Rome is in Italy."]


@pytest.mark.parametrize(("extra", "match"), [
    (["--context", "/no/such/file.txt"], "no such file"),
    (["--raw", "--system", "Be brief."], "need the chat template"),
    (["--history", "/no/such.json"], "no such file"),
    (["--contrast", " a", "--per-token"], "use one of them"),
    (["--dtype", "int8"], "invalid choice"),
])
def test_llm_option_mistakes_are_one_line(extra: list[str], match: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        _run([QUESTION, *extra], tmp_path / "e")
    assert err.value.code == 2
    message = capsys.readouterr().err.strip()
    assert match in message and "\n" not in message


def test_models_lists_the_builtin_names(capsys: pytest.CaptureFixture[str]) -> None:
    from fastspex.ablate import models
    from fastspex.cli.models_command import BUILTIN

    assert cli.main(["models"]) == 0
    printed = capsys.readouterr().out
    listed = {name for names, *_ in BUILTIN for name in names}
    assert listed == models._MINILM_NAMES | models._SMOLLM_NAMES
    assert "smollm2" in printed and "greedy answer" in printed and "cosine similarity" in printed
