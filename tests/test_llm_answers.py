"""Causal LMs: the continuation explained is named, and a target typed without its space is fixed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_models as tiny  # noqa: E402
from _tiny_models import _one_torch_thread  # noqa: E402, F401
from fastspex.ablate import ComponentAblation, FeatureAblation, LoadedModel  # noqa: E402

PROMPT = "Attention heads move information between token"


def _lm() -> LoadedModel:
    return LoadedModel(*tiny.gpt2(), "causal", "tiny-gpt2")


def test_a_target_without_its_space_is_scored_as_the_next_word() -> None:
    lm = _lm()
    with pytest.warns(UserWarning, match="no space between"):
        glued = FeatureAblation(PROMPT, lm, target="positions")
    spaced = FeatureAblation(PROMPT, lm, target=" positions")
    assert glued.target == spaced.target == " positions"
    assert glued.notes and not spaced.notes
    masks = np.array([[1] * glued.n, [0, 1] * (glued.n // 2) + [1] * (glued.n % 2)], dtype=bool)
    np.testing.assert_allclose(glued(masks), spaced(masks), atol=1e-6)
    with pytest.warns(UserWarning, match="no space between"):
        heads = ComponentAblation(PROMPT, lm, components="heads", target="positions")
    assert heads.target == " positions"


def test_the_default_target_is_the_models_greedy_answer_as_text() -> None:
    import torch

    lm = _lm()
    fa = FeatureAblation(PROMPT, lm, max_new_tokens=5)
    # the reference: transformers' own greedy generation from the same prompt ids
    ids = torch.tensor([fa._ids.tolist()])  # noqa: SLF001 - the prompt as the ablation encodes it
    ref = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=5,
                            do_sample=False, pad_token_id=lm.pad_id)[0, ids.shape[1]:]
    eos = lm.tokenizer.eos_token_id
    ref_ids = [int(t) for t in ref]
    if eos in ref_ids[1:]:
        ref_ids = ref_ids[: ref_ids.index(eos, 1)]
    assert fa.target == lm.tokenizer.decode(ref_ids) and fa.target
