"""Chat models: the user message inside the chat template is what is explained; template
tokens, system prompt, earlier turns and the question asked about a context are never ablated;
the answer is the model's own up to end-of-turn."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_chat
import _tiny_models as tiny
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex.ablate import FeatureAblation, LoadedModel
from fastspex.ablate.outputs import greedy_continuation

USER = "The quick brown fox jumps over the lazy dog."
SYSTEM = "Be brief."


def _chat() -> LoadedModel:
    return LoadedModel(*_tiny_chat.chat_llama(), "causal", "tiny-chat")


def _rendered(tok, user: str, system: str | None = SYSTEM, history=()) -> str:
    msgs = ([{"role": "system", "content": system}] if system else []) + list(history)
    msgs.append({"role": "user", "content": user})
    return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def _logp_by_hand(model, ids: list[int], answer: list[int]) -> float:
    import torch

    full = torch.tensor([ids + answer])
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=full).logits[0].float(), -1)
    return float(sum(logp[len(ids) - 1 + i, t] for i, t in enumerate(answer)))


def test_only_the_user_message_is_ablated() -> None:
    lm = _chat()
    tok = lm.tokenizer
    fa = FeatureAblation(USER, lm, system=SYSTEM, max_new_tokens=4)
    assert fa.prompt.chat and fa.text == USER and fa.labels == USER.split()
    assert fa.prompt.text == _rendered(tok, USER)
    # With every word ablated, what is left is exactly the template around an empty message.
    left = tok.decode(fa.row(np.zeros(fa.n, bool)).tolist())
    assert left == _rendered(tok, USER).replace(USER, "")
    assert fa.metadata["prompt"] == USER and fa.metadata["system"] == SYSTEM
    assert fa.metadata["answer"] == fa.target and "target" not in {
        k for k, v in fa.metadata.items() if v is not None}


def test_values_match_the_model_on_the_rendered_ablated_prompt() -> None:
    lm = _chat()
    tok = lm.tokenizer
    fa = FeatureAblation(USER, lm, system=SYSTEM, max_new_tokens=4)
    answer = fa.scorer.targets[0]
    rng = np.random.default_rng(0)
    masks = rng.random((6, fa.n)) < 0.5
    masks[:, 0] = True  # the first word has no leading space: keep it so texts re-tokenize alike
    masks[0] = True
    got = fa(masks)
    for m, v in zip(masks, got):
        words = [w for w, k in zip(USER.split(), m) if k]
        ids = tok(_rendered(tok, " ".join(words)), add_special_tokens=False)["input_ids"]
        assert v == pytest.approx(_logp_by_hand(lm.model, ids, answer), abs=1e-4)


def test_raw_mode_and_no_template_models_explain_the_text_itself() -> None:
    lm = _chat()
    raw = FeatureAblation(USER, lm, chat=False, max_new_tokens=3)
    assert not raw.prompt.chat and raw.prompt.text == USER
    gpt2 = LoadedModel(*tiny.gpt2(), "causal", "tiny-gpt2")
    assert not FeatureAblation(USER, gpt2, max_new_tokens=3).prompt.chat
    with pytest.raises(ValueError, match="no chat template"):
        FeatureAblation(USER, gpt2, chat=True)
    with pytest.raises(ValueError, match="need the chat template"):
        FeatureAblation(USER, lm, chat=False, system=SYSTEM)


def test_history_turns_are_kept_and_never_ablated() -> None:
    lm = _chat()
    tok = lm.tokenizer
    history = [{"role": "user", "content": "Hello there."}, {"role": "assistant", "content": "Hi."}]
    fa = FeatureAblation(USER, lm, history=history, max_new_tokens=3)
    expected = _rendered(tok, USER, system=None, history=history)
    assert fa.prompt.text == expected
    left = tok.decode(fa.row(np.zeros(fa.n, bool)).tolist())
    assert left == expected.replace(USER, "")
    with pytest.raises(ValueError, match="role"):
        FeatureAblation(USER, lm, history=[{"role": "robot", "content": "x"}])


def test_a_context_document_is_explained_by_sentence_and_the_question_kept() -> None:
    lm = _chat()
    tok = lm.tokenizer
    context = "Paris is the capital of France. Berlin is the capital of Germany."
    question = "What is the capital of France?"
    fa = FeatureAblation(question, lm, context=context, unit="sentence", max_new_tokens=3)
    assert fa.labels == ["Paris is the capital of France.", "Berlin is the capital of Germany."]
    rendered = _rendered(tok, f"{context}\n\n{question}", system=None)
    assert fa.prompt.text == rendered
    left = tok.decode(fa.row(np.array([False, True])).tolist())
    assert left == rendered.replace("Paris is the capital of France.", "")
    assert question in tok.decode(fa.row(np.zeros(2, bool)).tolist())
    assert fa.metadata["prompt"] == question and fa.metadata["context"] == context


def test_paragraph_units() -> None:
    from fastspex.ablate import split_units

    text = "First para. Still first.\n\nSecond one.\n\n\nThird."
    assert [u.text for u in split_units(text, "paragraph")] == [
        "First para. Still first.", "Second one.", "Third."]


def test_the_answer_stops_at_end_of_turn() -> None:
    import torch

    lm = _chat()
    fa = FeatureAblation(USER, lm, max_new_tokens=3)
    prompt = fa._ids.tolist()
    ref: list[int] = []
    with torch.inference_mode():  # greedy by hand: argmax of a full forward pass per token
        for _ in range(8):
            ref.append(int(lm.model(input_ids=torch.tensor([prompt + ref])).logits[0, -1].argmax()))
    stop = next(t for i, t in enumerate(ref) if i >= 1 and t not in ref[:i])
    cut = ref.index(stop)
    assert greedy_continuation(lm, prompt, 8, stops={stop}) == ref[:cut]
    assert greedy_continuation(lm, prompt, 8, stops=set()) == ref
    assert greedy_continuation(lm, prompt, 2, stops=set()) == ref[:2]
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_continuation(lm, prompt, 0)
    eot = lm.tokenizer.convert_tokens_to_ids("<|im_end|>")
    from fastspex.ablate.chat import stop_token_ids

    assert {eot, lm.tokenizer.eos_token_id} <= stop_token_ids(lm.tokenizer, lm.model)


def test_the_result_carries_the_contract_keys() -> None:
    from fastspex import explain

    lm = _chat()
    fa = FeatureAblation("Paris is big.", lm, system=SYSTEM, max_new_tokens=3)
    res = explain(fa, budget=8, store=None, progress=False)
    meta = res.metadata
    assert meta["prompt"] == "Paris is big." and meta["system"] == SYSTEM
    assert meta["answer"] == fa.target and "target" not in meta and "context" not in meta
    assert meta["quantity"] == f"log p({fa.target!r} | prompt), in nats"
    given = FeatureAblation("Paris is big.", lm, target="Yes")
    assert given.metadata["target"] == "Yes" and "answer" not in {
        k for k, v in given.metadata.items() if v is not None}
