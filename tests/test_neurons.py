"""MLP neuron ablation (L{l}.N{i}) against the same ablation done by editing weights by hand."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_models as tiny
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex.ablate import ComponentAblation, LoadedModel, ablated, compute_means, find_sites
from fastspex.ablate.neurons import parse_layers
from fastspex.ablate.outputs import encode_prompt

TEXT = "The quick brown fox jumps over the lazy dog."
WIDTH = {"gpt2": 128, "llama": 64, "bert": 64}  # GPT-2's MLP is 4 x n_embd wide


def _lm(name: str) -> LoadedModel:
    if name == "bert":
        return LoadedModel(*tiny.bert(), "encoder", "tiny-bert")
    return LoadedModel(*getattr(tiny, name)(), "causal", f"tiny-{name}")


def _down(model, family: str, layer: int):
    """The down projection, reached by the family's own attribute path (not through find_sites)."""
    if family == "gpt2":
        return model.transformer.h[layer].mlp.c_proj
    if family == "llama":
        return model.model.layers[layer].mlp.down_proj
    return model.encoder.layer[layer].output.dense


def _edit_neuron(model, family: str, layer: int, i: int, mean: float | None) -> None:
    """Ablate neuron i by deleting its column of the down projection (adding mean x column to the bias)."""
    lin = _down(model, family, layer)
    with torch.no_grad():
        col = lin.weight[i, :] if family == "gpt2" else lin.weight[:, i]  # Conv1D weight is (in, out)
        if mean is not None:
            if lin.bias is None:  # Llama's down projection has no bias: give it one
                lin.bias = torch.nn.Parameter(torch.zeros(lin.out_features))
            lin.bias += mean * col
        col.zero_()


def _hidden(model, ids) -> torch.Tensor:
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
    return out.hidden_states[-1] if getattr(out, "hidden_states", None) else out.last_hidden_state


def _down_input_mean(model, family: str, layer: int, ids) -> torch.Tensor:
    seen = []
    h = _down(model, family, layer).register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    try:
        with torch.no_grad():
            model(input_ids=ids)
    finally:
        h.remove()
    return seen[0][0].mean(0)


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert"])
def test_zero_ablated_neurons_equal_edited_weights(name: str) -> None:
    lm = _lm(name)
    family, sites = find_sites(lm.model)
    assert [s.n_neurons for s in sites] == [WIDTH[name]] * 2
    ids = torch.tensor([lm.tokenizer(TEXT)["input_ids"]])
    gone = [(1, 3), (0, 5), (0, 17), (1, 63)]
    edited = copy.deepcopy(lm.model)
    for layer, i in gone:
        _edit_neuron(edited, family, layer, i, None)
    with ablated(lm.model, [f"L{lay}.N{i}" for lay, i in gone]):
        hooked = _hidden(lm.model, ids)
    torch.testing.assert_close(hooked, _hidden(edited, ids), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(hooked, _hidden(lm.model, ids), atol=1e-4)


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert"])
def test_mean_ablated_neurons_equal_edited_weights(name: str) -> None:
    lm = _lm(name)
    family, _ = find_sites(lm.model)
    ids = torch.tensor([encode_prompt(lm, TEXT)[0]])  # as compute_means sees the text
    names = ["L0.N2", "L1.N7", "L1.N8"]
    means = compute_means(lm, [TEXT], names)
    edited = copy.deepcopy(lm.model)
    for nm in names:
        layer, i = int(nm[1]), int(nm.split("N")[1])
        by_hand = _down_input_mean(lm.model, family, layer, ids)[i]
        assert float(means[nm]) == pytest.approx(float(by_hand), abs=1e-5)
        _edit_neuron(edited, family, layer, i, float(by_hand))
    with ablated(lm.model, names, method="mean", means=means):
        hooked = _hidden(lm.model, ids)
    torch.testing.assert_close(hooked, _hidden(edited, ids), atol=1e-5, rtol=1e-5)
    if name != "llama":  # random gated products average ~1e-4: there mean and zero ablation coincide
        with ablated(lm.model, names):
            assert not torch.allclose(hooked, _hidden(lm.model, ids), atol=1e-4)


def test_batched_rows_mixed_with_heads_and_mlps_equal_edited_models(rng: np.random.Generator) -> None:
    lm = _lm("llama")
    ca = ComponentAblation(TEXT, lm, components="heads+mlp+neurons", layers=[1], target=" dog", batch_size=8)
    assert ca.n == 4 + 1 + 64 and ca.labels[:6] == ["L1.H0", "L1.H1", "L1.H2", "L1.H3", "L1.MLP", "L1.N0"]
    masks = rng.random((5, ca.n)) < 0.8
    masks[:, 4] = True  # keep the MLP block so the neurons matter
    masks[0] = True
    out = ca(masks)  # one forward pass for the 5 rows
    for mask, value in zip(masks, out):
        edited = copy.deepcopy(lm.model)
        attn = edited.model.layers[1].self_attn.o_proj
        with torch.no_grad():
            for name in np.array(ca.labels)[~mask]:
                if ".H" in name:
                    h = int(name.split("H")[1])
                    attn.weight[:, h * 8 : (h + 1) * 8] = 0
                else:
                    _edit_neuron(edited, "llama", 1, int(name.split("N")[1]), None)
        by_hand = ComponentAblation(TEXT, LoadedModel(edited, lm.tokenizer, "causal", "x"), components="mlp",
                                    target=" dog")
        assert value == pytest.approx(by_hand.full(), abs=1e-4)


def test_neuron_groups_and_layers() -> None:
    lm = _lm("gpt2")
    ca = ComponentAblation(TEXT, lm, components="neurons", layers="1", target=" dog")
    assert ca.n == 128 and ca.labels[0] == "L1.N0" and ca.labels[-1] == "L1.N127"
    assert parse_layers("0,2-4", 6) == [0, 2, 3, 4] and parse_layers(None, 2) == [0, 1]
    assert parse_layers([4, 3, 5], 6) == [3, 4, 5]
    with pytest.raises(ValueError, match="layers 0-1"):
        ComponentAblation(TEXT, lm, components="neurons", layers="3-5")
    with pytest.raises(ValueError, match="backwards"):
        parse_layers("5-3", 6)
    with pytest.raises(ValueError, match="look like"):
        parse_layers("three", 6)
    with pytest.raises(ValueError, match="unknown neuron"):
        ComponentAblation(TEXT, lm, components=["L0.N128"])
    with pytest.raises(ValueError, match="group names"):
        ComponentAblation(TEXT, lm, components=["L0.N1"], layers=[0])
    with pytest.raises(ValueError, match="components must be"):
        ComponentAblation(TEXT, lm, components="heads+axons")


def test_cli_explain_neurons(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from fastspex import cli
    from fastspex.interactions import Interactions

    model, tok = tiny.gpt2()
    folder = tmp_path / "gpt2"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    out = tmp_path / "out"
    assert cli.main(["explain", "neurons", TEXT, "--model", str(folder), "--layers", "1", "--method", "lasso",
                     "--budget", "100", "--no-progress", "--store", "none", "--no-report", "--out", str(out),
                     "--components", "heads+neurons"]) == 0
    res = Interactions.load(out / "result.json")
    assert res.n == 4 + 128 and res.labels[4] == "L1.N0" and res.kind == "components"
    capsys.readouterr()
    for bad, needle in ((["--layers", "2-3"], "layers 0-1"), (["--layers", "x"], "expected layers"),
                        (["--components", "axons"], "expected heads")):
        with pytest.raises(SystemExit) as exc:
            cli.main(["explain", "neurons", TEXT, "--model", str(folder), "--store", "none", *bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
