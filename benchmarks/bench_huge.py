"""Huge component sets end to end: neurons, dictionary features, planted functions at 10^4-10^5.

Sections (each in a fresh subprocess, so its peak RSS is its own):

1. ``planted``: a planted function (40 Fourier terms of order <= 2, as in bench_scale) at
   n = 10^4 and 10^5, 2,000 masks, 500 held-out masks of the same (uniform) design: the screened
   explainer (``fastspex.explainers.screening.Screened``) against ProxySPEX as it is today (n = 10^4
   only; at 10^5 it took 698 s and 3.7 GB in bench_scale.json and is not rerun) and a
   main-effects ridge on the same masks. Recovery = true supports among the explanation's top 40.
   A local-design row (bernoulli keep = 0.98) shows the design the model sections use.
2. ``minilm``: the bundled MiniLM's 6 x 1,536 = 9,216 MLP neurons (zero ablation), output = cosine
   similarity of the ablated sentence embedding to the unablated one; design bernoulli(keep=0.98)
   (each mask ablates ~2% of the neurons: the model stays in distribution), 2,000 masks + 300
   held out on the same design.
3. ``smollm2``: SmolLM2-135M-Instruct neurons of layers 3-5 (4,608), log p(the model's greedy
   answer | prompt), bernoulli(keep=0.98), 2,000 masks + 300 held out; ``smollm2_all``: all 30
   layers' 46,080 neurons, bernoulli(keep=0.995), the same budget. Model time depends on the
   machine's load far more than linearly (torch's threads wait for each other at every op): the
   same 480 SmolLM2 masks took 820 s at load ≈ 6 and 11.7 s at load ≈ 2 (2026-12-03).
4. ``dictionary``: a sparse autoencoder (384 -> 1,536 features, ReLU, L1) trained here on MiniLM's
   layer-3 residual stream over a small corpus, its features ablated (reconstruction error kept)
   on one sentence, 1,000 masks + 200 held out.

5. ``prefix``: prefix reuse on MiniLM neurons of layers 3-5 (layers 0-2 run once per call):
   seconds for the same 512 masks with and without it, and the largest difference of outputs.

Every model row reports model seconds, explainer seconds, peak RSS, held-out R² of the screened
explainer and of a main-effects ridge fitted on the same masks, and the top terms. The machine is
shared with other engineers (the load average is recorded in the JSON): timings are upper bounds.

Run: ``nice -n 10 python benchmarks/bench_huge.py`` (``--sections planted,minilm`` to choose;
``--quick`` for a smoke run). Writes ``benchmarks/results/bench_huge.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _child import peak_rss_mib, report, run_child
from _common import add_out_argument, out_path, print_table, write_json

SECTIONS = ("planted", "minilm", "smollm2", "smollm2_all", "dictionary", "prefix")
SENTENCE = "A man is playing a guitar on stage while the crowd sings along."
PROMPT = "The capital of France is"
CORPUS = [
    "A man is playing a guitar on stage while the crowd sings along.",
    "The committee approved the new budget after a long debate.",
    "Stock markets fell sharply after the central bank raised interest rates.",
    "She planted tomatoes and basil in the small garden behind the house.",
    "The train to Berlin was delayed by two hours because of the snow.",
    "Researchers found that the new vaccine was safe and effective.",
    "The cat slept on the warm windowsill all afternoon.",
    "He forgot his umbrella and got soaked on the way to work.",
    "The museum opened a new exhibition of modern sculpture.",
    "A strong earthquake shook the coastal city early this morning.",
    "Children played football in the park until it got dark.",
    "The restaurant serves fresh fish caught by local fishermen.",
] * 3


def ridge_main_effects(x_train: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Predictions of a ridge regression on the ablation indicators (main effects only); the
    penalty by leave-one-out error over a grid (dual form: m x m, since n > m)."""
    z = (~x_train).astype(np.float64)
    mu = z.mean(0)
    zc = z - mu
    yc = y - y.mean()
    gram = zc @ zc.T
    evals, evecs = np.linalg.eigh(gram)
    proj = evecs.T @ yc
    best = None
    for lam in np.logspace(-3, 4, 15) * max(float(np.trace(gram)) / len(gram), 1e-12):
        h_diag = np.einsum("ij,j,ij->i", evecs, evals / (evals + lam), evecs)
        fitted = evecs @ (evals / (evals + lam) * proj)
        loo = float(np.mean(((yc - fitted) / np.maximum(1 - h_diag, 1e-9)) ** 2))
        if best is None or loo < best[0]:
            best = (loo, lam)
    assert best is not None
    alpha = evecs @ (proj / (evals + best[1]))
    w = zc.T @ alpha
    return y.mean() + ((~x_test).astype(np.float64) - mu) @ w


def r2(truth: np.ndarray, pred: np.ndarray) -> float:
    c = truth - truth.mean()
    return 1.0 - float(((truth - pred) ** 2).sum()) / float(c @ c)


def explain_screened(fn: Any, n: int, budget: int, holdout: int, design: str, keep_p: float, labels: list[str] | None) -> dict[str, Any]:
    """Screened explainer + same-mask ridge; one row of figures."""
    from fastspex.explainers.screening import Screened

    seen: list[tuple[np.ndarray, np.ndarray]] = []

    class Recording:
        """Keeps every mask and output the explainer asks for, for the ridge baseline."""

        def __init__(self) -> None:
            self.n = n
            self.batch_size = getattr(fn, "batch_size", 64)

        def __call__(self, m: Any) -> np.ndarray:
            out = np.asarray(fn(m), dtype=np.float64)
            seen.append((np.asarray(m, dtype=bool), out))
            return out

    t = time.perf_counter()
    ex = Screened(budget, design=design, keep=keep_p if design == "bernoulli" else None, holdout=holdout, seed=0).fit(Recording(), n, store=None)
    wall = time.perf_counter() - t
    x_all = np.concatenate([m for m, _ in seen])
    y_all = np.concatenate([o for _, o in seen])
    assert len(y_all) == budget + holdout, (len(y_all), budget, holdout)  # no memo hits at this width
    x_train, y, x_test, y_test = x_all[:budget], y_all[:budget], x_all[budget:], y_all[budget:]
    t = time.perf_counter()
    ridge_pred = ridge_main_effects(x_train, y, x_test)
    ridge_s = time.perf_counter() - t
    top = []
    for support, value in ex.top(8):
        names = [labels[i] if labels else str(i) for i in support]
        top.append(f"{'x'.join(names)}: {value:+.4g}")
    return {
        "n": n, "fit_masks": budget, "holdout_masks": holdout, "design": ex.settings["design"],
        "model_s": ex.timings["model"], "explainer_s": ex.timings["algorithm"], "wall_s": wall,
        "r2_screened": ex.faithfulness, "r2_ridge_main_effects": r2(y_test, ridge_pred), "ridge_s": ridge_s,
        "kept": ex.settings["kept"], "main_terms": ex.settings.get("main_terms"),
        "pair_terms": ex.settings.get("pair_terms"), "output_spread": float(np.std(y)), "top": top,
        "chosen": ex.settings.get("chosen"), "candidates": ex.settings.get("candidates"),
    }


def child_planted(n: int, method: str, design: str) -> None:
    from fastspex.explainers.screening import Screened
    from fastspex.synthetic import planted

    f = planted(n, 40, max_order=2, seed=0)
    truth = set(f.top(40))
    base = peak_rss_mib()
    t = time.perf_counter()
    if method == "screened":
        ex = Screened(2000, design=design, keep=0.98 if design == "bernoulli" else None, holdout=500, seed=0).fit(f, n, store=None)
    else:
        from fastspex.explainers.proxyspex import ProxySPEX

        ex = ProxySPEX(2000, holdout=500, seed=0).fit(f, n, store=None)
    wall = time.perf_counter() - t
    found = {tuple(s) for s, _ in ex.top(40)}
    report({"n": n, "method": method, "design": ex.settings.get("design", design), "seconds": wall,
            "r2": ex.faithfulness, "recovered_of_40": len(truth & found),
            "peak_rss_mib": peak_rss_mib(), "baseline_rss_mib": base})


def child_prefix(quick: bool) -> None:
    import torch

    torch.set_num_threads(2)
    from fastspex.ablate import ComponentAblation, load_model
    from fastspex.masks import bernoulli

    lm = load_model(device="cpu")
    m = 64 if quick else 512
    rows = {}
    for reuse in (True, False):
        fn = ComponentAblation(SENTENCE, lm, components="neurons", layers="3-5", reuse_prefix=reuse)
        x = bernoulli(m, fn.n, 0.98, seed=0).to_bool()
        fn(x[:2])  # warm-up
        t = time.perf_counter()
        y = fn(x)
        rows[reuse] = (time.perf_counter() - t, y)
    with_s, y_with = rows[True]
    without_s, y_without = rows[False]
    report({"section": "prefix", "n": 4608, "masks": m, "with_reuse_s": with_s,
            "without_reuse_s": without_s, "speedup": without_s / with_s,
            "max_abs_diff": float(np.abs(y_with - y_without).max()), "peak_rss_mib": peak_rss_mib()})


def child_model(section: str, quick: bool) -> None:
    import torch

    torch.set_num_threads(2)
    from fastspex.ablate import ComponentAblation, load_model

    budget = 300 if quick else 2000
    if section == "minilm":
        lm = load_model(device="cpu")
        fn = ComponentAblation(SENTENCE, lm, components="neurons")
        row = explain_screened(fn, fn.n, budget, 60 if quick else 300, "bernoulli", 0.98, fn.labels)
    elif section in ("smollm2", "smollm2_all"):
        lm = load_model("smollm2", device="cpu")
        every = section == "smollm2_all"  # all 30 layers: 46,080 neurons
        fn = ComponentAblation(PROMPT, lm, components="neurons", layers=None if every else "3-5",
                               max_new_tokens=3)
        # keep p: about 90 (3 layers) / 230 (all layers) neurons ablated per mask
        row = explain_screened(fn, fn.n, 150 if quick else budget, 40 if quick else 300,
                               "bernoulli", 0.995 if every else 0.98, fn.labels)
        row["answer"] = fn.target
    else:
        lm = load_model(device="cpu")
        t = time.perf_counter()
        sae, info = train_sae(lm, layer=3, features=1536, steps=100 if quick else 300)
        info["train_s"] = time.perf_counter() - t
        fn = ComponentAblation(SENTENCE, lm, components="features", dictionary=sae)
        row = explain_screened(fn, fn.n, budget // 2, 40 if quick else 200, "bernoulli", 0.95, fn.labels)
        row["sae"] = info
    import torch

    row.update(section=section, peak_rss_mib=peak_rss_mib(), torch_threads=torch.get_num_threads())
    report(row)


def train_sae(lm: Any, *, layer: int, features: int, steps: int) -> tuple[Any, dict[str, Any]]:
    """A ReLU sparse autoencoder on the residual stream after ``layer`` over CORPUS's tokens."""
    import torch
    from fastspex.ablate import Dictionary
    from fastspex.ablate.components import find_sites
    from fastspex.ablate.outputs import encode_prompt, pad_rows

    _, sites = find_sites(lm.model)
    acts: list[Any] = []
    handle = sites[layer].block.register_forward_hook(
        lambda m, a, o: acts.append((o[0] if isinstance(o, tuple) else o).detach()))
    try:
        batch = pad_rows([encode_prompt(lm, t)[0] for t in CORPUS], lm.pad_id, "right", lm.device)
        with torch.inference_mode():
            lm.model(**batch)
    finally:
        handle.remove()
    x = acts[0][batch["attention_mask"].bool()].float().clone()
    d = x.shape[1]
    gen = torch.Generator().manual_seed(0)
    w_dec = torch.nn.Parameter(torch.randn(features, d, generator=gen) / d**0.5)
    w_enc = torch.nn.Parameter(w_dec.detach().T.clone())
    b_enc = torch.nn.Parameter(torch.zeros(features))
    b_dec = torch.nn.Parameter(x.mean(0).clone())
    opt = torch.optim.Adam([w_dec, w_enc, b_enc, b_dec], lr=2e-3)
    scale = float(x.pow(2).sum(1).mean())
    for _ in range(steps):
        a = torch.relu((x - b_dec) @ w_enc + b_enc)
        loss = ((a @ w_dec + b_dec - x) ** 2).sum(1).mean() / scale + 3e-3 * a.sum(1).mean() * w_dec.norm(dim=1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        a = torch.relu((x - b_dec) @ w_enc + b_enc)
        fvu = float(((a @ w_dec + b_dec - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum())
        l0 = float((a > 0).float().sum(1).mean())
    sae = Dictionary(w_enc.detach(), w_dec.detach(), layer, b_enc=b_enc.detach(), b_dec=b_dec.detach())
    return sae, {"tokens": len(x), "features": features, "fraction_of_variance_unexplained": fvu,
                 "mean_active_features": l0, "steps": steps}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    add_out_argument(ap, "bench_huge")
    args = ap.parse_args()
    if args.child:
        if args.child[0] == "planted":
            child_planted(int(args.child[1]), args.child[2], args.child[3])
        elif args.child[0] == "prefix":
            child_prefix(args.child[1] == "quick")
        else:
            child_model(args.child[0], args.child[1] == "quick")
        return
    chosen = args.sections.split(",")
    planted_rows: list[dict[str, Any]] = []
    model_rows: list[dict[str, Any]] = []
    if "planted" in chosen:
        runs = [(10_000, "screened", "uniform"), (100_000, "screened", "uniform"),
                (10_000, "screened", "bernoulli")]
        if not args.quick:
            runs.insert(1, (10_000, "proxyspex", "uniform"))
        for n, method, design in runs:
            res = run_child(__file__, ["--child", "planted", str(n), method, design], timeout=900)
            row = res.last if res.ok and res.last else {"n": n, "method": method, "design": design,
                                                         "failed": res.status}
            planted_rows.append(row)
            print(json.dumps(row), flush=True)
        planted_rows.append({"n": 100_000, "method": "proxyspex", "design": "uniform", "seconds": 697.5,
                             "r2": 0.245, "peak_rss_mib": 3664.5,
                             "note": "not rerun: bench_scale.json (same planted function and budget)"})
    prefix_rows: list[dict[str, Any]] = []
    if "prefix" in chosen:
        res = run_child(__file__, ["--child", "prefix", "quick" if args.quick else "full"], timeout=900)
        prefix_rows.append(res.last if res.ok and res.last else {"section": "prefix", "failed": res.status})
        print(json.dumps(prefix_rows[-1]), flush=True)
    for section in ("minilm", "smollm2", "smollm2_all", "dictionary"):
        if section not in chosen:
            continue
        res = run_child(__file__, ["--child", section, "quick" if args.quick else "full"], timeout=1800)
        row = res.last if res.ok and res.last else {"section": section, "failed": res.status}
        model_rows.append(row)
        print(json.dumps(row), flush=True)
    if planted_rows:
        print_table(planted_rows, ["n", "method", "design", "seconds", "r2", "recovered_of_40", "peak_rss_mib"],
                    title="planted functions (40 terms, order <= 2), 2,000 masks, R² on 500 same-design masks")
    if model_rows:
        print_table(model_rows, ["section", "n", "design", "fit_masks", "model_s", "explainer_s", "peak_rss_mib",
                                 "r2_screened", "r2_ridge_main_effects", "kept", "main_terms", "pair_terms"],
                    title="real models: screened explainer vs a main-effects ridge on the same masks")
        for row in model_rows:
            print(f"{row.get('section')}: top terms " + "; ".join(row.get("top", [])))
    if prefix_rows:
        print_table(prefix_rows, ["section", "n", "masks", "with_reuse_s", "without_reuse_s", "speedup",
                                  "max_abs_diff"], title="prefix reuse, MiniLM neurons of layers 3-5")
    out = write_json("bench_huge", {"planted": planted_rows, "models": model_rows, "prefix": prefix_rows,
                                    "load_average_end": os.getloadavg()}, out_path("bench_huge", args))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
