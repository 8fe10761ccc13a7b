"""Every output kind against a direct model computation by hand, and several outputs per mask
explained on the same masks within one budget."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_models as tiny
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex import explain
from fastspex.ablate import FeatureAblation, LoadedModel
from fastspex.multi_output import outputs

PROMPT = "Attention heads move information between token"


def _gpt2() -> LoadedModel:
    return LoadedModel(*tiny.gpt2(), "causal", "tiny-gpt2")


def _token_logps_by_hand(model, prompt: list[int], answer: list[int]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt + answer])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return np.array([float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(answer)])


def _masks(n: int, m: int = 5) -> np.ndarray:
    masks = np.random.default_rng(1).random((m, n)) < 0.5
    masks[0] = True
    return masks


def test_per_token_log_probs_match_the_model_and_sum_to_the_answer() -> None:
    lm = _gpt2()
    fa = FeatureAblation(PROMPT, lm, output="token_logprobs", max_new_tokens=4)
    total = FeatureAblation(PROMPT, lm, max_new_tokens=4)
    answer = fa.scorer.targets[0]
    masks = _masks(fa.n)
    got = fa(masks)
    assert got.shape == (len(masks), len(answer))
    for m, row in zip(masks, got):
        ids = fa.row(m).tolist()
        np.testing.assert_allclose(row, _token_logps_by_hand(lm.model, ids, answer), atol=1e-4)
    np.testing.assert_allclose(got.sum(1), total(masks), atol=1e-4)
    assert fa.output_names is not None and len(fa.output_names) == len(answer)
    assert fa.combination is not None and np.all(fa.combination[1] == 1.0)


def test_contrast_is_two_log_probs_and_their_difference_is_explained() -> None:
    lm = _gpt2()
    fa = FeatureAblation(PROMPT, lm, target=" positions", contrast=" heads")
    tok = lm.tokenizer
    a = tok(" positions", add_special_tokens=False)["input_ids"]
    b = tok(" heads", add_special_tokens=False)["input_ids"]
    masks = _masks(fa.n)
    got = fa(masks)
    for m, row in zip(masks, got):
        ids = fa.row(m).tolist()
        assert row[0] == pytest.approx(_token_logps_by_hand(lm.model, ids, a).sum(), abs=1e-4)
        assert row[1] == pytest.approx(_token_logps_by_hand(lm.model, ids, b).sum(), abs=1e-4)
    assert fa.metadata["contrast"] == " heads" and fa.metadata["target"] == " positions"
    # n = 6 words: the budget covers all 64 masks, so every fit is exact and checkable.
    res = explain(fa, budget=64, index="mobius", store=None, progress=False)
    per = outputs(res)
    assert len(per) == 2 and res.calls == 64  # one budget for both outputs
    first, second = per.values()
    for s in [(), (0,), (2, 5), (1, 3, 4)]:
        assert res[s] == pytest.approx(first[s] - second[s], abs=1e-6)
    assert "log p(' positions') - log p(' heads')" in res.metadata["output_name"]
    assert res.settings["calls"]["new"] == 64


def test_class_log_probs_and_label_names() -> None:
    import torch

    model, tok = tiny.bert(classifier=True)
    model.config.id2label = {0: "negative", 1: "neutral", 2: "positive"}
    lm = LoadedModel(model, tok, "classifier", "tiny-bert")
    text = "The movie was not good, it was great!"
    fa = FeatureAblation(text, lm, output="class_logprobs")
    masks = _masks(fa.n)
    got = fa(masks)
    for m, row in zip(masks, got):
        ids = torch.tensor([fa.row(m).tolist()])
        with torch.inference_mode():
            ref = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1).numpy()
        np.testing.assert_allclose(row, ref, atol=1e-5)
    assert fa.output_names == ["log p(negative)", "log p(neutral)", "log p(positive)"]
    with torch.inference_mode():
        predicted = int(model(input_ids=torch.tensor([fa.row(np.ones(fa.n, bool)).tolist()])).logits.argmax())
    assert fa.metadata["class"] == model.config.id2label[predicted]
    one = FeatureAblation(text, lm, class_index=2)
    assert one.metadata["class"] == "positive" and "positive" in one.metadata["quantity"]


def test_similarity_names_its_reference() -> None:
    import torch

    model, tok = tiny.bert()
    lm = LoadedModel(model, tok, "encoder", "tiny-bert-encoder")
    fa = FeatureAblation("The quick brown fox jumps over the lazy dog.", lm, query="A fox.")
    assert fa.metadata["reference"] == "A fox."

    def emb(ids: list[int]) -> torch.Tensor:
        with torch.inference_mode():
            return model(input_ids=torch.tensor([ids])).last_hidden_state[0].mean(0)

    ref = emb(tok("A fox.")["input_ids"])
    masks = _masks(fa.n)
    for m, v in zip(masks, fa(masks)):
        assert v == pytest.approx(float(torch.cosine_similarity(emb(fa.row(m).tolist()), ref, dim=0)), abs=1e-5)


def test_a_plain_vector_value_function_is_explained_output_by_output_on_the_same_masks() -> None:
    n = 10  # 2^10 masks exceed the budget: ProxySPEX samples, with a hold-out
    w = np.random.default_rng(3).normal(size=(n, 3))
    seen: list[int] = []

    def fn(masks: np.ndarray) -> np.ndarray:
        seen.append(len(masks))
        x = masks.astype(float)
        return np.stack([x @ w[:, 0], x @ w[:, 1] + x[:, 0] * x[:, 1], x @ w[:, 2]], axis=1)

    res = explain(fn, n=n, budget=300, store=None, progress=False, seed=4)
    per = outputs(res)
    assert list(per) == ["output 0", "output 1", "output 2"]
    calls_vector = sum(seen)
    for j, (name, r) in enumerate(per.items()):
        alone = explain(lambda m, j=j: fn(m)[:, j], n=n, budget=300, store=None, progress=False, seed=4)
        np.testing.assert_allclose(r.values, alone.values, atol=1e-9)  # the same masks, the same fit
        assert r.metadata["output_name"] == name
    single = sum(seen) - calls_vector
    assert calls_vector == single // 3  # the three outputs cost one output's model calls
    assert res.metadata["output_name"] == "output 0"  # no combination: the first output
    c = res.settings["calls"]
    assert c["from_store"] == 0  # store=None: the other outputs' masks came from this run
    assert c["new"] == calls_vector and c["reused"] >= 2 * c["new"]  # outputs 1 and 2 re-ask them
    assert c["total"] == c["new"] + c["reused"]
    assert res.method == "proxyspex" and res.faithfulness is not None


def test_a_several_output_run_times_the_model_calls_of_every_output() -> None:
    """The combined result's timings cover the whole run: its model time is the time spent in the
    value function (most of it before the combination's own fit, which reads the memo)."""
    import time

    n = 8
    w = np.random.default_rng(6).normal(size=(n, 2))
    inside = [0.0]

    def fn(masks: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        time.sleep(0.002 * len(masks))  # a model that costs time per mask
        out = masks.astype(float) @ w
        inside[0] += time.perf_counter() - t
        return out

    t = time.perf_counter()
    res = explain(fn, n=n, budget=100, store=None, progress=False, seed=2)
    wall = time.perf_counter() - t
    assert res.timings["model"] >= inside[0]  # every second spent in the model, none lost
    assert res.timings["model"] <= res.timings["total"] <= wall
    assert res.timings["algorithm"] > 0
    for r in outputs(res).values():  # each output keeps the timings of its own fit
        assert any(k.endswith(".algorithm") for k in r.timings)


def test_outputs_that_share_a_name_are_all_returned_told_apart_by_position() -> None:
    n = 6
    w = np.random.default_rng(5).normal(size=(n, 3))

    class Repeated:
        """A value function whose outputs 0 and 2 carry the same name (a repeated token)."""

        def __init__(self) -> None:
            self.n = n
            self.output_names = ["the", "cat", "the"]

        def __call__(self, masks: np.ndarray) -> np.ndarray:
            return masks.astype(float) @ w

    res = explain(Repeated(), n=n, budget=64, store=None, progress=False, seed=1)
    per = outputs(res)
    assert list(per) == ["the@0", "cat", "the@2"]
    for j, r in enumerate(per.values()):
        np.testing.assert_allclose(r.main_effects(), w[:, j], atol=1e-9)  # exact: 64 = 2^6 masks


def test_the_cli_flags_an_output_whose_surrogate_does_not_hold_out(capsys: pytest.CaptureFixture[str]) -> None:
    from fastspex.cli.explain_command import _print_outputs

    n = 10
    w = np.random.default_rng(6).normal(size=n)

    def fn(masks: np.ndarray) -> np.ndarray:
        x = np.asarray(masks, dtype=np.int64)
        key = x @ (1 << np.arange(n))  # a fixed pseudo-random value per mask: nothing to learn
        noise = np.sin(key * 12.9898) * 43758.5453 % 1.0
        return np.stack([x @ w, noise], axis=1)

    res = explain(fn, n=n, budget=300, store=None, progress=False, seed=2)
    r2 = [r.faithfulness for r in outputs(res).values()]
    assert r2[0] > 0.9 and r2[1] < 0.7
    _print_outputs(res, 3)
    printed = capsys.readouterr().out
    assert f"output 1 (R² {r2[1]:.2f}, low)" in printed
    assert "low faithfulness (held-out R² below 0.7) for output 1: read its values with care" in printed
    assert "output 0 (R² 1.00):" in printed
