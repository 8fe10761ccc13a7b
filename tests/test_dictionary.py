"""Dictionary (SAE) feature ablation against closed forms and hand-edited weights on tiny models."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_models as tiny
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex.ablate import (
    ComponentAblation,
    Dictionary,
    LoadedModel,
    ablated,
    compute_means,
    load_dictionary,
)
from fastspex.ablate.outputs import encode_prompt

TEXT = "The quick brown fox jumps over the lazy dog."
D = 32  # hidden width of the tiny models


def _lm(name: str) -> LoadedModel:
    if name == "bert":
        return LoadedModel(*tiny.bert(), "encoder", "tiny-bert")
    return LoadedModel(*getattr(tiny, name)(), "causal", f"tiny-{name}")


def _last_hidden(model, ids) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).last_hidden_state[0]


def _random_sae(rng: np.random.Generator, f: int, layer: int, **kw) -> Dictionary:
    return Dictionary(rng.normal(size=(D, f)), rng.normal(size=(f, D)) / np.sqrt(f), layer,
                      b_enc=rng.normal(size=f) * 0.1, b_dec=rng.normal(size=D) * 0.1, **kw)


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert"])
def test_basis_feature_at_mlp_output_equals_zeroed_output_row(name: str) -> None:
    """An identity-activation feature reading and writing coordinate j of the MLP output is that
    coordinate: ablating it equals zeroing row j of the down projection (and its bias)."""
    lm = _lm(name)
    js = [3, 11]
    w = np.zeros((D, 4))
    for i, j in enumerate(js):
        w[j, i] = 1.0
    w[0, 2] = w[1, 3] = 1.0  # features 2, 3 stay kept
    d = Dictionary(w, w.T, layer=1, site="mlp", activation="identity")
    assert d.names()[0] == "L1.MLP.F0"
    edited = copy.deepcopy(lm.model)
    down = {"gpt2": lambda m: m.transformer.h[1].mlp.c_proj, "llama": lambda m: m.model.layers[1].mlp.down_proj,
            "bert": lambda m: m.encoder.layer[1].output.dense}[name](edited)
    with torch.no_grad():
        for j in js:
            if name == "gpt2":
                down.weight[:, j] = 0  # Conv1D: (in, out)
            else:
                down.weight[j, :] = 0
            if down.bias is not None:
                down.bias[j] = 0
    ids = torch.tensor([lm.tokenizer(TEXT)["input_ids"]])
    base = lm.model.transformer if name == "gpt2" else lm.model.model if name == "llama" else lm.model
    ebase = edited.transformer if name == "gpt2" else edited.model if name == "llama" else edited
    with ablated(lm.model, ["L1.MLP.F0", "L1.MLP.F1"], dictionaries=[d]):
        hooked = _last_hidden(base, ids)
    torch.testing.assert_close(hooked, _last_hidden(ebase, ids), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(hooked, _last_hidden(base, ids), atol=1e-4)


@pytest.mark.parametrize("keep_error", [True, False])
@pytest.mark.parametrize("method", ["zero", "mean"])
def test_residual_features_follow_the_closed_form(rng: np.random.Generator, keep_error: bool, method: str) -> None:
    """At BERT's last layer the output is the site: x - Σ_ablated (a_i - ā_i) d_i (error kept) or
    Σ_i (k_i a_i + (1 - k_i) ā_i) d_i + b_dec (on the reconstruction), computed here in numpy."""
    lm = _lm("bert")
    sae = _random_sae(rng, 48, layer=1, keep_error=keep_error)
    ids = torch.tensor([encode_prompt(lm, TEXT)[0]])
    x = _last_hidden(lm.model, ids).double().numpy()
    a = np.maximum((x - sae.b_dec) @ sae.W_enc.astype(np.float64) + sae.b_enc, 0)
    assert (a > 0).mean() > 0.2  # enough active features for the test to mean something
    abar = a.mean(0) if method == "mean" else np.zeros(48)
    means = compute_means(lm, [TEXT], sae.names(), dictionaries=[sae]) if method == "mean" else None
    if means is not None:
        np.testing.assert_allclose(means["L1"].numpy(), abar, atol=1e-4)
    keep = np.ones(48)
    gone = [0, 5, 6, 30, 47]
    keep[gone] = 0
    with ablated(lm.model, [f"L1.F{i}" for i in gone], method=method, means=means, dictionaries=[sae]):
        hooked = _last_hidden(lm.model, ids).double().numpy()
    w_dec = sae.W_dec.astype(np.float64)
    if keep_error:
        expect = x - ((1 - keep) * (a - abar)) @ w_dec
    else:
        expect = (keep * a + (1 - keep) * abar) @ w_dec + sae.b_dec
    np.testing.assert_allclose(hooked, expect, atol=2e-4)


def test_unablated_model_is_unchanged_with_the_error_kept(rng: np.random.Generator) -> None:
    lm = _lm("gpt2")
    sae = _random_sae(rng, 40, layer=0)
    feats = ComponentAblation(TEXT, lm, components="features", dictionary=sae, target=" dog", batch_size=8)
    plain = ComponentAblation(TEXT, lm, components="mlp", target=" dog")
    assert feats.n == 40 and feats.labels[0] == "L0.F0"
    masks = rng.random((6, 40)) < 0.7
    masks[0] = True
    out = feats(masks)
    assert out[0] == pytest.approx(plain.full(), abs=1e-5)
    assert np.ptp(out) > 1e-4
    single = np.array([feats(m[None])[0] for m in masks])
    np.testing.assert_allclose(out, single, atol=1e-5)
    mixed = ComponentAblation(TEXT, lm, components=["L0.H1", "L0.F3", "L1.N5"], dictionary=sae, target=" dog")
    assert mixed.n == 3 and np.isfinite(mixed(np.array([[1, 0, 1], [0, 1, 0]], bool))).all()
    other = Dictionary(sae.W_enc, sae.W_dec * 2, 0, b_enc=sae.b_enc, b_dec=sae.b_dec)
    assert ComponentAblation(TEXT, lm, components="features", dictionary=other, target=" dog").cache_key != feats.cache_key


def test_load_from_files_and_bad_dictionaries(tmp_path, rng: np.random.Generator) -> None:
    sae = _random_sae(rng, 8, layer=1)
    arrays = {"W_enc": sae.W_enc, "W_dec": sae.W_dec, "b_enc": sae.b_enc, "b_dec": sae.b_dec}
    np.savez(tmp_path / "sae.npz", **arrays)
    from safetensors.numpy import save_file

    save_file(arrays, str(tmp_path / "sae.safetensors"))
    for f in ("sae.npz", "sae.safetensors"):
        got = load_dictionary(tmp_path / f, layer=1)
        np.testing.assert_array_equal(got.W_dec, sae.W_dec)
        np.testing.assert_array_equal(got.b_enc, sae.b_enc)
    np.savez(tmp_path / "half.npz", W_enc=sae.W_enc)
    with pytest.raises(ValueError, match="no W_dec"):
        load_dictionary(tmp_path / "half.npz", layer=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dictionary(tmp_path / "none.npz", layer=0)
    with pytest.raises(ValueError, match=r"W_dec must be \(F, d\)"):
        Dictionary(sae.W_enc, sae.W_enc, 0)
    with pytest.raises(ValueError, match="NaN"):
        Dictionary(sae.W_enc * np.nan, sae.W_dec, 0)
    lm = _lm("gpt2")
    with pytest.raises(ValueError, match="layers 0-1"):
        ComponentAblation(TEXT, lm, components="features", dictionary=_random_sae(rng, 4, layer=5))
    with pytest.raises(ValueError, match="16-wide"):
        ComponentAblation(TEXT, lm, components="features", dictionary=Dictionary(np.ones((16, 2)), np.ones((2, 16)), 0))
    with pytest.raises(ValueError, match="needs a dictionary"):
        ComponentAblation(TEXT, lm, components="features")
    with pytest.raises(ValueError, match="needs a dictionary at L0"):
        ComponentAblation(TEXT, lm, components=["L0.F1"])
    with pytest.raises(ValueError, match="unknown feature"):
        ComponentAblation(TEXT, lm, components=["L1.F8"], dictionary=sae)
