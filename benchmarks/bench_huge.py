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
6. ``peers``: shapiq 1.6.0's ProxySPEX and SPEX on section 1's planted function and budget (2,000
   masks) at n = 1,024, 10^4 and 10^5, one child per run, capped at ``--peer-timeout`` seconds
   (900); a peer is not run at a larger width once it failed or timed out at a smaller one. The
   peer's recovered function is its Fourier transform, captured where shapiq converts it to the
   Möbius transform (``ProxySPEX.fourier_to_moebius``; ``fourier_to_moebius`` imported by
   ``shapiq.approximator.sparse.base`` for SPEX): R² on 500 uniform masks evaluates it with
   ``fastspex.indices.evaluate``, recovery counts true supports among its 40 largest
   ``|coefficient|`` (as fastspex's ``top(40)``), ``recovered_of_40_index`` among the 40 largest
   of the k-SII values shapiq returns. ``peer_verify`` first checks the capture on
   ``f = 1 + 2·x0 + 3·x1·x2`` at n = 8 (R² over all 256 masks, and against shapiq's own
   output at ``index="STII", max_order=8``: Shapley-Taylor values below the top order are the
   Möbius transform; shapiq refuses ``index="Moebius"`` for these approximators). fastspex rows at n = 1,024 run in the same
   section.

Every model row reports model seconds, explainer seconds, peak RSS, held-out R² of the screened
explainer and of a main-effects ridge fitted on the same masks, and the top terms. The machine is
shared with other engineers (the load average is recorded in the JSON): timings are upper bounds.

Run: ``nice -n 10 python benchmarks/bench_huge.py`` (``--sections planted,minilm`` to choose;
``--quick`` for a smoke run). Writes ``benchmarks/results/bench_huge.json``; a run of some
sections merges into the existing file (the other sections' rows and ``machine`` are kept, this
run's machine goes to ``<sections>_machine``). The peers need shapiq 1.6.0 with its ``sparse``
extra and lightgbm (``/work/venv-bench``).
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
from _baselines import Recording, r2, ridge_main_effects
from _common import add_out_argument, machine, out_path, print_table, write_json

SECTIONS = ("planted", "minilm", "smollm2", "smollm2_all", "dictionary", "prefix", "peers")
PEER_WIDTHS = (1_024, 10_000, 100_000)
PEERS = ("shapiq_proxyspex", "shapiq_spex")
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


def explain_screened(fn: Any, n: int, budget: int, holdout: int, design: str, keep_p: float, labels: list[str] | None) -> dict[str, Any]:
    """Screened explainer + same-mask ridge; one row of figures."""
    from fastspex.explainers.screening import Screened

    rec = Recording(fn)
    t = time.perf_counter()
    ex = Screened(budget, design=design, keep=keep_p if design == "bernoulli" else None, holdout=holdout, seed=0).fit(rec, n, store=None)
    wall = time.perf_counter() - t
    x_all = np.concatenate(rec.masks)
    y_all = np.concatenate(rec.outputs)
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


def make_peer(method: str, n: int, index: str = "k-SII", max_order: int = 2) -> tuple[Any, dict[tuple[int, ...], float]]:
    """A shapiq approximator and the dict its Fourier transform will be captured into.

    shapiq returns an index (k-SII by default), not the function it fitted; both approximators
    hold that function as a Fourier transform ``{support: value}`` (1 = player present = fastspex's
    kept, χ_S(x) = (-1)^{Σ_{i∈S} x_i}, fastspex's ``"fourier"`` basis) just before converting it
    to the Möbius transform, which is where it is recorded.
    """
    captured: dict[tuple[int, ...], float] = {}

    def keep(transform: dict[Any, float]) -> None:
        captured.update({tuple(int(i) for i in s): float(np.real(v)) for s, v in transform.items()})

    if method == "shapiq_proxyspex":
        from shapiq.approximator import ProxySPEX

        approx = ProxySPEX(n=n, max_order=max_order, index=index, random_state=0)
        convert = approx.fourier_to_moebius

        def capture(transform: dict[tuple[int, ...], float]) -> dict[tuple[int, ...], float]:
            keep(transform)
            return convert(transform)

        approx.fourier_to_moebius = capture  # type: ignore[method-assign]
    elif method == "shapiq_spex":
        import shapiq.approximator.sparse.base as sparse_base
        from shapiq.approximator import SPEX

        convert = sparse_base.fourier_to_moebius
        if not getattr(convert, "_bench_capture", False):
            def capture(transform: dict[tuple[int, ...], float]) -> dict[tuple[int, ...], float]:
                keep(transform)
                return convert(transform)

            capture._bench_capture = True  # type: ignore[attr-defined]
            sparse_base.fourier_to_moebius = capture
        approx = SPEX(n=n, max_order=max_order, index=index, random_state=0)
    else:
        msg = f"unknown peer {method!r}; one of {PEERS}"
        raise ValueError(msg)
    return approx, captured


def fourier_function(transform: dict[tuple[int, ...], float], n: int) -> Any:
    from fastspex.coefficients import Coefficients

    return Coefficients.from_dict(transform or {(): 0.0}, n=n, basis="fourier")


def child_peer_verify(method: str) -> None:
    """The capture and its evaluation on f = 1 + 2·x0 + 3·x1·x2 at n = 8, over all 256 masks."""
    from fastspex import indices
    from fastspex.coefficients import Coefficients
    from fastspex.masks import exhaustive

    n = 8

    def game(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return 1 + 2 * x[:, 0] + 3 * x[:, 1] * x[:, 2]

    cube = exhaustive(n).to_bool()
    truth = game(cube)
    approx, captured = make_peer(method, n, index="STII", max_order=n)  # STII of order < k is Möbius
    t = time.perf_counter()
    values = approx.approximate(2000, game)
    seconds = time.perf_counter() - t
    mine = indices.evaluate(fourier_function(captured, n), cube)
    moebius = {tuple(int(i) for i in s): float(v) for s, v in values.dict_values.items()}
    if () not in moebius:
        moebius[()] = float(values.baseline_value)
    theirs = indices.evaluate(Coefficients.from_dict(moebius, n=n, basis="mobius"), cube)
    report({"method": method, "n": n, "function": "1 + 2*x0 + 3*x1*x2", "seconds": seconds,
            "r2_captured_fourier": r2(truth, mine), "r2_shapiq_moebius_output": r2(truth, theirs),
            "max_abs_diff_captured_vs_output": float(np.abs(mine - theirs).max()),
            "captured_terms": len(captured),
            "moebius_terms": {str(s): round(v, 6) for s, v in moebius.items() if abs(v) > 1e-9}})


def child_peer(n: int, method: str) -> None:
    """One shapiq peer on child_planted's function and budget."""
    from fastspex import indices
    from fastspex.masks import distinct_uniform
    from fastspex.synthetic import planted

    f = planted(n, 40, max_order=2, seed=0)
    truth = set(f.top(40))
    test = distinct_uniform(500, n, paired=False, seed=1).to_bool()
    y_test = f.exact(test)
    asked = [0]

    def game(x: np.ndarray) -> np.ndarray:
        asked[0] += len(x)
        return f(np.ascontiguousarray(x, dtype=bool))

    base = peak_rss_mib()
    row: dict[str, Any] = {"n": n, "method": method, "design": "uniform", "budget": 2000}
    t = time.perf_counter()
    try:
        approx, captured = make_peer(method, n)
        values = approx.approximate(2000, game)
    except BaseException as e:  # noqa: BLE001 - the failure is the measurement
        import traceback

        frame = traceback.extract_tb(e.__traceback__)[-1]
        row.update(seconds=time.perf_counter() - t, failed=f"{type(e).__name__}: {e}",
                   failed_at=f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})",
                   masks_asked=asked[0], peak_rss_mib=peak_rss_mib(), baseline_rss_mib=base)
        report(row)
        return
    wall = time.perf_counter() - t
    coefs = fourier_function(captured, n)
    ranked = sorted(((s, v) for s, v in captured.items() if s), key=lambda sv: -abs(sv[1]))
    index_top = sorted(((tuple(int(i) for i in s), v) for s, v in values.dict_values.items() if len(s)),
                       key=lambda sv: -abs(sv[1]))[:40]
    row.update(seconds=wall, r2=r2(y_test, indices.evaluate(coefs, test)),
               recovered_of_40=len(truth & {s for s, _ in ranked[:40]}),
               recovered_of_40_index=len(truth & {s for s, _ in index_top}),
               masks_asked=asked[0], fourier_terms=len(captured),
               max_order_found=max((len(s) for s in captured), default=0),
               peak_rss_mib=peak_rss_mib(), baseline_rss_mib=base)
    report(row)


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
    ap.add_argument("--peer-timeout", type=float, default=900.0,
                    help="wall-time cap of each peers run, seconds (default 900)")
    add_out_argument(ap, "bench_huge")
    args = ap.parse_args()
    if args.child:
        if args.child[0] == "planted":
            child_planted(int(args.child[1]), args.child[2], args.child[3])
        elif args.child[0] == "peer_verify":
            child_peer_verify(args.child[1])
        elif args.child[0] == "peer":
            child_peer(int(args.child[1]), args.child[2])
        elif args.child[0] == "prefix":
            child_prefix(args.child[1] == "quick")
        else:
            child_model(args.child[0], args.child[1] == "quick")
        return
    chosen = args.sections.split(",")
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
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
    peer_rows: list[dict[str, Any]] = []
    peer_checks: list[dict[str, Any]] = []
    if "peers" in chosen:
        peer_checks, peer_rows = run_peers(args.peer_timeout, args.quick)
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
    payload: dict[str, Any] = {}
    if "planted" in chosen:
        payload["planted"] = planted_rows
    if model_rows:
        payload["models"] = model_rows
    if "prefix" in chosen:
        payload["prefix"] = prefix_rows
    if "peers" in chosen:
        payload["peers_check"] = peer_checks
        payload["peers"] = peer_rows
    path = out_path("bench_huge", args)
    payload = merge_existing(path, payload, chosen)
    if peer_rows:
        print_peer_table(payload.get("planted", []), peer_rows)
    out = write_json("bench_huge", payload, path)
    print(f"\nwrote {out}")


def run_peers(timeout: float, quick: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The reconstruction checks, then each peer up the widths (one child at a time), then
    fastspex's two explainers at the width section 1 does not run (1,024)."""
    checks = []
    for method in ("shapiq_proxyspex", "shapiq_spex"):
        res = run_child(__file__, ["--child", "peer_verify", method], timeout=timeout)
        checks.append(res.last if res.ok and res.last else {"method": method, "n": 8, "failed": res.status,
                                                             "stderr": res.stderr_tail})
        print(json.dumps(checks[-1]), flush=True)
    rows: list[dict[str, Any]] = []
    widths = PEER_WIDTHS[:1] if quick else PEER_WIDTHS
    for method in PEERS:
        stopped: str | None = None
        for n in widths:
            if stopped:
                rows.append({"n": n, "method": method, "design": "uniform", "failed": f"not run: {stopped}"})
                continue
            res = run_child(__file__, ["--child", "peer", str(n), method], timeout=timeout)
            if res.ok and res.last:
                row = res.last
            elif res.status.startswith("timeout"):
                row = {"n": n, "method": method, "design": "uniform", "seconds": res.wall_s,
                       "failed": f"timed out after {timeout:.0f} s"}
            else:
                row = {"n": n, "method": method, "design": "uniform", "seconds": res.wall_s,
                       "failed": res.status, "stderr": res.stderr_tail}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if row.get("failed"):
                stopped = f"{'timed out' if 'timed out' in row['failed'] else 'failed'} at n = {n:,}"
    for method in ("screened", "proxyspex"):
        res = run_child(__file__, ["--child", "planted", str(PEER_WIDTHS[0]), method, "uniform"], timeout=timeout)
        row = res.last if res.ok and res.last else {"n": PEER_WIDTHS[0], "method": method, "design": "uniform",
                                                     "failed": res.status}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return checks, rows


def merge_existing(path: Path, payload: dict[str, Any], chosen: list[str]) -> dict[str, Any]:
    """A run of some sections keeps the other sections of the file at ``path`` (and its
    ``machine``); this run's machine is recorded as ``<sections>_machine``."""
    if set(chosen) >= set(SECTIONS) or not path.exists():
        return {**payload, "load_average_end": os.getloadavg()}

    merged = json.loads(path.read_text())
    for key, value in payload.items():
        if key == "models":  # rows of several sections: replace the rerun ones only
            keep = [r for r in merged.get("models", []) if r.get("section") not in chosen]
            merged["models"] = keep + value
        else:
            merged[key] = value
    merged["_".join(chosen) + "_machine"] = machine()
    return merged


PEER_NAMES = {"screened": "fastspex screened", "proxyspex": "fastspex proxyspex",
              "shapiq_proxyspex": "shapiq ProxySPEX", "shapiq_spex": "shapiq SPEX"}


def print_peer_table(planted_rows: list[dict[str, Any]], peer_rows: list[dict[str, Any]]) -> None:
    rows = [r for r in planted_rows if r.get("design") == "uniform"] + peer_rows
    order = list(PEER_NAMES)
    rows.sort(key=lambda r: (r["n"], order.index(r["method"]) if r["method"] in order else 99))
    table = []
    for r in rows:
        failure = r.get("failed") or r.get("note") or ""
        table.append({"n": r["n"], "explainer": PEER_NAMES.get(r["method"], r["method"]),
                      "seconds": r.get("seconds"), "peak_rss_mib": r.get("peak_rss_mib"), "r2": r.get("r2"),
                      "recovered_of_40": r.get("recovered_of_40"), "failure": failure[:90]})
    print_table(table, ["n", "explainer", "seconds", "peak_rss_mib", "r2", "recovered_of_40", "failure"],
                title="planted function (40 terms, order <= 2), 2,000 uniform masks: fastspex and shapiq 1.6.0")


if __name__ == "__main__":
    main()
