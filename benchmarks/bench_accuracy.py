"""Estimation accuracy against exact ground truth: fastspex's estimators vs shapiq's, same run.

Games (every one small enough to evaluate all 2ⁿ masks once):

- MiniLM (``fastspex.ablate.load_model()``, the bundled all-MiniLM-L6-v2): word-level removal
  ablation of three review sentences (n = 12, 13, 14), output = cosine similarity of the mean-pooled
  embedding to the full text's (``FeatureAblation``'s default ``output="auto"`` for an encoder).
  The 2ⁿ-entry table is cached under ``benchmarks/cache/minilm_<key>.npz`` (key: the ablation's
  store key, which carries the model fingerprint, text and settings), so a rerun costs no model time.
- planted: ``fastspex.synthetic.planted`` sparse interactions of order ≤ 3 (n = 14) plus Gaussian
  noise drawn once per mask (the table is fixed, so both libraries see identical values and the
  "noise" is a dense low-amplitude tail of the spectrum).

Ground truth: every index computed exactly from the full table (``fastspex.exact.dense_coefficients``
+ ``fastspex.indices``), cross-checked once against ``shapiq.ExactComputer``.

Estimators: fastspex ``proxyspex``, ``spex``, ``lasso``, ``fm`` through ``fastspex.explain``
(``holdout=0``, so each spends exactly the budget; one fit gives every index, as ``explain``
computes the index from the fitted surrogate), and shapiq's approximators for each index they
support. Both sides call the same table lookup. Metrics over all sets of order 1–2 (order 1 for
SV; the empty set left out): MSE, precision@10 (top 10 by |value|), Kendall τ (scipy's tau-b);
medians over seeds.

Run: ``python benchmarks/bench_accuracy.py`` (``--quick``: one game, budgets 128/512, 2 seeds).
shapiq ≥ 1.5 needs Python ≥ 3.12; ``benchmarks/envs/install_shapiq.sh`` installs it on 3.11.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import time
import traceback
import warnings
from collections import defaultdict
from typing import Any, Callable

import numpy as np

import _common as C

NAME = "bench_accuracy"
CACHE = C.BENCH / "cache"
TEXTS = [
    "Not a great movie, yet the acting was good and never boring.",                   # n = 12
    "The room was spotless and the staff were friendly, but breakfast was cold.",     # n = 13
    "The hotel was not bad, though the noisy bar downstairs kept us up late.",        # n = 14
    "The hotel was clean and quiet, but the breakfast was poor and the staff rude.",  # n = 15
]
PLANTED = [  # (n, k, max_order, noise, seed)
    (14, 20, 3, 0.05, 1),
    (14, 40, 3, 0.10, 2),
]
BUDGETS = (64, 128, 256, 512, 1024, 2048)
# index key -> (fastspex index name, order or "largest set size kept", shapiq index name)
INDICES = {
    "SV": ("sv", 1, "SV"),
    "SII": ("sii", 2, "SII"),
    "k-SII": ("ksii", 2, "k-SII"),
    "FSII": ("fsii", 2, "FSII"),
    "FBII": ("fbii", 2, "FBII"),
    "STII": ("stii", 2, "STII"),
    "BII": ("bii", 2, "BII"),
}
FASTSPEX_METHODS = ("proxyspex", "spex", "lasso", "fm")
# shapiq's ProxySPEX refits its LightGBM proxy (with hyperparameter search) for every index, 1–5 s
# a run here, so it runs on four indices only (it refuses BII). shapiq 1.6.0's SPEX cannot be
# instantiated ("abstract method approximate"), so it is not in the list.
SHAPIQ_PROXYSPEX_INDICES = ("SV", "k-SII", "FSII", "FBII")


# ----------------------------------------------------------------------------- games
def all_masks(n: int) -> np.ndarray:
    """Row r keeps component j iff bit j of r is set (fastspex.exact.dense_coefficients' order)."""
    r = np.arange(1 << n, dtype=np.int64)
    return ((r[:, None] >> np.arange(n)) & 1).astype(bool)


def minilm_table(text: str, lm: Any, *, batch: int = 1024, log: Callable[[str], None] = print
                 ) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """All 2ⁿ outputs of the word-removal ablation of ``text``, from the cache or the model."""
    from fastspex import ablate

    game = ablate.FeatureAblation(text, lm, unit="word")
    key = hashlib.sha256(f"{game.cache_key}|{text}|word|remove|auto".encode()).hexdigest()[:16]
    path = CACHE / f"minilm_{key}.npz"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        return z["table"], [str(s) for s in z["labels"]], {
            "cache": path.name, "model_seconds_this_run": 0.0,
            "model_seconds_when_cached": float(z["model_seconds"])}
    n = game.n
    masks = all_masks(n)
    t0 = time.perf_counter()
    out = np.empty(1 << n)
    for s in range(0, 1 << n, batch):
        out[s:s + batch] = game(masks[s:s + batch])
        log(f"  {text[:30]!r}: {min(s + batch, 1 << n)}/{1 << n} masks, {time.perf_counter() - t0:.0f} s")
    secs = time.perf_counter() - t0
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, table=out, labels=np.array(game.labels), text=text, cache_key=str(game.cache_key),
             model_seconds=secs)
    tmp.replace(path)
    return out, list(game.labels), {"cache": path.name, "model_seconds_this_run": secs}


def planted_table(n: int, k: int, max_order: int, noise: float, seed: int) -> np.ndarray:
    from fastspex import synthetic

    f = synthetic.planted(n, k, max_order=max_order, seed=seed)
    table = f.exact(all_masks(n))
    return table + np.random.default_rng([seed, 77]).normal(0.0, noise, size=table.shape)


class TableGame:
    """The value function both libraries call: a lookup in the full table (counts its calls)."""

    def __init__(self, table: np.ndarray, n: int) -> None:
        self.table, self.n, self.calls = np.asarray(table, np.float64), n, 0
        self._w = (1 << np.arange(n, dtype=np.int64))

    def __call__(self, masks: Any) -> np.ndarray:
        m = np.asarray(masks.to_bool() if hasattr(masks, "to_bool") else masks, dtype=bool)
        m = m.reshape(-1, self.n)
        self.calls += len(m)
        return self.table[m.astype(np.int64) @ self._w]


# ----------------------------------------------------------------------------- indices
def restrict(d: dict[tuple[int, ...], float], max_size: int) -> dict[tuple[int, ...], float]:
    return {tuple(sorted(s)): float(v) for s, v in d.items() if 1 <= len(s) <= max_size}


def fastspex_index(coefs: Any, key: str) -> dict[tuple[int, ...], float]:
    from fastspex import indices

    name, order, _ = INDICES[key]
    if name == "sv":
        return {(i,): float(v) for i, v in enumerate(indices.shapley_values(coefs))}
    return restrict(indices.compute_index(coefs, name, order).to_dict(), order)


def truth_for(table: np.ndarray, n: int) -> tuple[Any, dict[str, dict[tuple[int, ...], float]]]:
    from fastspex import exact

    coefs = exact.dense_coefficients(table, n)
    return coefs, {key: fastspex_index(coefs, key) for key in INDICES}


def all_sets(n: int, max_size: int) -> list[tuple[int, ...]]:
    from itertools import combinations

    return [s for r in range(1, max_size + 1) for s in combinations(range(n), r)]


def metrics(est: dict[tuple[int, ...], float], truth: dict[tuple[int, ...], float],
            sets: list[tuple[int, ...]]) -> dict[str, float]:
    from scipy.stats import kendalltau

    t = np.array([truth.get(s, 0.0) for s in sets])
    e = np.array([est.get(s, 0.0) for s in sets])
    k = min(10, len(sets))
    top_t = set(np.argsort(-np.abs(t), kind="stable")[:k])
    top_e = set(np.argsort(-np.abs(e), kind="stable")[:k])
    tau = kendalltau(t, e).statistic if np.ptp(e) > 0 else float("nan")
    return {"mse": float(np.mean((t - e) ** 2)), "p10": len(top_t & top_e) / k,
            "tau": float(tau) if tau == tau else float("nan")}


def shapiq_dict(iv: Any, max_size: int) -> dict[tuple[int, ...], float]:
    return restrict(dict(iv.dict_values), max_size)


# ----------------------------------------------------------------------------- estimators
def shapiq_estimators(n: int) -> dict[str, list[tuple[str, Callable[[int], Any]]]]:
    """index key -> [(estimator name, seed -> approximator)] for every shapiq estimator used."""
    from shapiq import approximator as A

    lgb = "lightgbm"  # xgboost (ProxySHAP's default proxy) is not installed here
    out: dict[str, list[tuple[str, Callable[[int], Any]]]] = {
        "SV": [
            ("shapiq.KernelSHAP", lambda s: A.KernelSHAP(n, pairing_trick=True, random_state=s)),
            ("shapiq.UnbiasedKernelSHAP", lambda s: A.UnbiasedKernelSHAP(n, pairing_trick=True, random_state=s)),
            ("shapiq.PermutationSamplingSV", lambda s: A.PermutationSamplingSV(n, random_state=s)),
            ("shapiq.SVARM", lambda s: A.SVARM(n, index="SV", random_state=s)),
            ("shapiq.kADDSHAP", None),  # kADD-SHAP is its own index; its SV part is not SV
            ("shapiq.OddSHAP", lambda s: A.OddSHAP(n, random_state=s)),
            ("shapiq.ProxySHAP", lambda s: A.ProxySHAP(n, max_order=1, index="SV", proxy_model=lgb, random_state=s)),
            ("shapiq.RegressionMSR", lambda s: A.RegressionMSR(n, index="SV", proxy_model=lgb, random_state=s)),
        ],
        "SII": [
            ("shapiq.KernelSHAPIQ", lambda s: A.KernelSHAPIQ(n, 2, "SII", pairing_trick=True, random_state=s)),
            ("shapiq.InconsistentKernelSHAPIQ", lambda s: A.InconsistentKernelSHAPIQ(n, 2, "SII", pairing_trick=True, random_state=s)),
            ("shapiq.SHAPIQ", lambda s: A.SHAPIQ(n, 2, "SII", random_state=s)),
            ("shapiq.SVARMIQ", lambda s: A.SVARMIQ(n, 2, "SII", random_state=s)),
            ("shapiq.PermutationSamplingSII", lambda s: A.PermutationSamplingSII(n, 2, "SII", random_state=s)),
        ],
        "k-SII": [
            ("shapiq.KernelSHAPIQ", lambda s: A.KernelSHAPIQ(n, 2, "k-SII", pairing_trick=True, random_state=s)),
            ("shapiq.SHAPIQ", lambda s: A.SHAPIQ(n, 2, "k-SII", random_state=s)),
            ("shapiq.SVARMIQ", lambda s: A.SVARMIQ(n, 2, "k-SII", random_state=s)),
            ("shapiq.PermutationSamplingSII", lambda s: A.PermutationSamplingSII(n, 2, "k-SII", random_state=s)),
        ],
        "FSII": [
            ("shapiq.RegressionFSII", lambda s: A.RegressionFSII(n, 2, pairing_trick=True, random_state=s)),
        ],
        "FBII": [
            ("shapiq.RegressionFBII", lambda s: A.RegressionFBII(n, 2, pairing_trick=True, random_state=s)),
        ],
        "STII": [
            ("shapiq.PermutationSamplingSTII", lambda s: A.PermutationSamplingSTII(n, 2, random_state=s)),
            ("shapiq.SVARMIQ", lambda s: A.SVARMIQ(n, 2, "STII", random_state=s)),
        ],
        "BII": [
            ("shapiq.SHAPIQ", lambda s: A.SHAPIQ(n, 2, "BII", random_state=s)),
            ("shapiq.SVARMIQ", lambda s: A.SVARMIQ(n, 2, "BII", random_state=s)),
        ],
    }
    out["SV"] = [e for e in out["SV"] if e[1] is not None]
    for key, (_, order, sname) in INDICES.items():  # the index-agnostic ones, on every index
        if key != "SV":
            out[key].append(("shapiq.ProxySHAP", lambda s, o=order, i=sname: A.ProxySHAP(
                n, max_order=o, index=i, proxy_model=lgb, random_state=s)))
        if key in SHAPIQ_PROXYSPEX_INDICES:
            out[key].append(("shapiq.ProxySPEX", lambda s, o=order, i=sname: A.ProxySPEX(
                n=n, max_order=o, index=i, random_state=s)))
    return out


#: The Shapley-family keys: ProxySPEX serves them from one run of its Shapley-kernel design
#: (``index="fsii"``); the others from one run of its default uniform design.
SHAPLEY_KEYS = ("SV", "SII", "k-SII", "FSII", "STII")


def fastspex_runs(method: str) -> list[tuple[str, tuple[str, ...]]]:
    """The runs of one fastspex method per (budget, seed): ``[(index passed to explain, keys it
    serves)]``. An index-aware method (ProxySPEX) runs its design once per index family; one
    fitted surrogate serves every index of the family."""
    if method == "proxyspex":
        return [("fsii", SHAPLEY_KEYS), ("fourier", tuple(k for k in INDICES if k not in SHAPLEY_KEYS))]
    return [("fourier", tuple(INDICES))]


def run_fastspex(method: str, game: TableGame, n: int, budget: int, seed: int,
                 index: str = "fourier") -> Any:
    import fastspex

    if index == "fsii":  # the Shapley family from one run, as a user asks for several indices
        return fastspex.explain(game, n=n, method=method, budget=budget, index=("fsii", "sii", "ksii", "stii"),
                                order=2, seed=seed, store=None, progress=False, holdout=0)
    inter = fastspex.explain(game, n=n, method=method, budget=budget, index=index,
                             seed=seed, store=None, progress=False, holdout=0)
    return inter.surrogate


def fastspex_values(run: Any, key: str) -> dict[tuple[int, ...], float]:
    """What ``explain`` returned for ``key``: SII / k-SII / STII as the results give them (their
    residual correction included), the rest read exactly from the fitted surrogate."""
    if isinstance(run, dict):
        name = {"SII": "sii", "k-SII": "ksii", "STII": "stii"}.get(key)
        if name is not None:
            return restrict(run[name].to_dict(), INDICES[key][1])
        run = run["fsii"].surrogate
    return fastspex_index(run, key)


# ----------------------------------------------------------------------------- main
def cross_check(table: np.ndarray, n: int, truth: dict[str, dict], log: Callable[[str], None]
                ) -> dict[str, float]:
    """Largest |fastspex exact − shapiq ExactComputer| per index on one game."""
    import shapiq

    comp = shapiq.ExactComputer(TableGame(table, n), n_players=n)
    diffs = {}
    for key, (_, order, sname) in INDICES.items():
        iv = comp(sname, order)
        theirs = shapiq_dict(iv, order)
        sets = all_sets(n, order)
        diffs[key] = float(max(abs(theirs.get(s, 0.0) - truth[key].get(s, 0.0)) for s in sets))
    log("exact cross-check vs shapiq.ExactComputer (max |diff|): "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one MiniLM game, budgets 128/512, 2 seeds")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    ap.add_argument("--games", nargs="+", default=None,
                    help="subset of game names (minilm0..3, planted0..1)")
    ap.add_argument("--no-shapiq", action="store_true", help="fastspex estimators only")
    ap.add_argument("--indices", nargs="+", default=None, choices=list(INDICES),
                    help="indices to measure (default all); runs serving none of them are skipped")
    ap.add_argument("--no-cross-check", action="store_true",
                    help="skip the shapiq.ExactComputer cross-check (slow from n = 15)")
    ap.add_argument("--skip", nargs="*", default=[],
                    help="estimator names to leave out (e.g. shapiq.ProxySPEX)")
    ap.add_argument("--summarise", type=C.Path, default=None, metavar="JSON",
                    help="recompute the medians and tables of an earlier results file (no runs); "
                         "rewrites it (or --out) keeping its machine block")
    ap.add_argument("--merge", type=C.Path, nargs="+", default=None, metavar="JSON",
                    help="merge results files of disjoint games into one (each row names its "
                         "source, each source keeps its machine), then summarise; writes --out "
                         "(default results/bench_accuracy.json)")
    C.add_out_argument(ap, NAME)
    args = ap.parse_args()
    if args.merge:
        import json

        docs = [json.loads(p.read_text()) for p in args.merge]
        merged = {"shapiq": docs[0]["shapiq"], "settings": docs[0]["settings"],
                  "sources": {}, "games": [], "exact_cross_check": docs[0]["exact_cross_check"],
                  "rows": [], "total_seconds": sum(d["total_seconds"] for d in docs)}
        for p, d in zip(args.merge, docs):
            src = p.stem if p.stem not in merged["sources"] else str(p)
            merged["sources"][src] = {"machine": d["machine"], "settings": d["settings"],
                                      "games": [g["name"] for g in d["games"]]}
            merged["games"] += d["games"]
            merged["rows"] += [{**r, "source": r.get("source", src)} for r in d["rows"]]
        merged["machine"] = docs[0]["machine"]
        args.summarise = args.out or (C.RESULTS / f"{NAME}.json")
        args.summarise.parent.mkdir(parents=True, exist_ok=True)
        args.summarise.write_text(json.dumps(merged, default=str))
    if args.summarise:
        import json

        doc = json.loads(args.summarise.read_text())
        doc["medians"] = summarise(doc["rows"])
        doc["overall"] = overall(doc["medians"], doc["games"])
        print_tables(doc["medians"], doc["settings"]["budgets"])
        print_overall(doc["overall"], doc["settings"]["budgets"])
        path = write_compact(doc, args.out or args.summarise)
        print(f"\nwrote {path}")
        return
    if args.quick:
        args.seeds, args.budgets = 2, [128, 512]
        args.games = args.games or ["minilm0", "planted0"]
    log = lambda s: print(s, flush=True)  # noqa: E731
    warnings.filterwarnings("ignore")
    t_start = time.perf_counter()

    shapiq_version = None
    if not args.no_shapiq:
        reason = C_missing("shapiq")
        if reason:
            log(reason)
            args.no_shapiq = True
        else:
            import shapiq

            shapiq_version = shapiq.__version__

    games: list[dict[str, Any]] = []
    lm = None
    for i, text in enumerate(TEXTS):
        name = f"minilm{i}"
        if args.games and name not in args.games:
            continue
        if lm is None:
            from fastspex import ablate

            lm = ablate.load_model()
        table, labels, info = minilm_table(text, lm, log=log)
        games.append({"name": name, "kind": "minilm", "text": text, "labels": labels,
                      "n": len(labels), "table": table, **info})
    for i, (n, k, mo, noise, seed) in enumerate(PLANTED):
        name = f"planted{i}"
        if args.games and name not in args.games:
            continue
        games.append({"name": name, "kind": "planted", "n": n, "k": k, "max_order": mo,
                      "noise": noise, "seed": seed, "table": planted_table(n, k, mo, noise, seed)})

    rows: list[dict[str, Any]] = []
    game_facts = []
    cross = None
    for g in games:
        n, table = g["n"], g["table"]
        t0 = time.perf_counter()
        coefs_true, truth = truth_for(table, n)
        t_truth = time.perf_counter() - t0
        if cross is None and not args.no_shapiq and not args.no_cross_check:
            cross = {"game": g["name"], "max_abs_diff": cross_check(table, n, truth, log)}
        sets = {key: all_sets(n, INDICES[key][1]) for key in INDICES}
        facts = {k: v for k, v in g.items() if k != "table"}
        facts.update({"exact_seconds": t_truth, "var": float(np.var(table)),
                      "truth_mean_square": {key: float(np.mean([truth[key].get(s, 0.0) ** 2 for s in sets[key]]))
                                            for key in INDICES}})
        game_facts.append(facts)
        log(f"\n== {g['name']} (n={n}, var {np.var(table):.3g}); exact indices in {t_truth:.2f} s")
        est_shapiq = {} if args.no_shapiq else shapiq_estimators(n)
        wanted = tuple(args.indices or INDICES)
        est_shapiq = {k: v for k, v in est_shapiq.items() if k in wanted}
        for budget in args.budgets:
            for seed in range(args.seeds):
                for method, run_index, keys in [(m, i, tuple(x for x in k if x in wanted))
                                                for m in FASTSPEX_METHODS
                                                for i, k in fastspex_runs(m)]:
                    if not keys:
                        continue
                    name = f"fastspex.{method}"
                    if name in args.skip:
                        continue
                    game = TableGame(table, n)
                    t0 = time.perf_counter()
                    try:
                        coefs = run_fastspex(method, game, n, budget, seed, run_index)
                        err = None
                    except Exception as e:  # noqa: BLE001 - recorded, not fatal
                        coefs, err = None, f"{type(e).__name__}: {e}"[:200]
                    secs = time.perf_counter() - t0
                    for key in keys:
                        row = {"game": g["name"], "n": n, "index": key, "estimator": name,
                               "budget": budget, "seed": seed, "calls": game.calls, "seconds": secs,
                               "run_index": run_index}
                        if coefs is None:
                            row["error"] = err
                        else:
                            row.update(metrics(fastspex_values(coefs, key), truth[key], sets[key]))
                        rows.append(row)
                for key, ests in est_shapiq.items():
                    order = INDICES[key][1]
                    for name, make in ests:
                        if name in args.skip:
                            continue
                        game = TableGame(table, n)
                        t0 = time.perf_counter()
                        row = {"game": g["name"], "n": n, "index": key, "estimator": name,
                               "budget": budget, "seed": seed}
                        try:
                            iv = make(seed).approximate(budget, game)
                            row.update(metrics(shapiq_dict(iv, order), truth[key], sets[key]))
                        except Exception as e:  # noqa: BLE001
                            row["error"] = f"{type(e).__name__}: {e}"[:200]
                        row["calls"], row["seconds"] = game.calls, time.perf_counter() - t0
                        rows.append(row)
                save(rows, [*game_facts], args, shapiq_version, cross, t_start, final=False)
                done = [r for r in rows if r["game"] == g["name"] and r["budget"] == budget and r["seed"] == seed]
                log(f"  budget {budget} seed {seed}: {len(done)} rows, "
                    f"{sum(r['seconds'] for r in done if r['index'] == 'SV' or not r['estimator'].startswith('fastspex')):.1f} s, "
                    f"elapsed {time.perf_counter() - t_start:.0f} s")

    path = save(rows, game_facts, args, shapiq_version, cross, t_start, final=True)
    log(f"\nwrote {path}")


def save(rows: list[dict[str, Any]], game_facts: list[dict[str, Any]], args: Any,
         shapiq_version: str | None, cross: Any, t_start: float, *, final: bool) -> Any:
    """Summarise ``rows`` and write the results file (also after every budget: a long run that
    is stopped keeps what it measured; ``settings.complete`` says whether it ran to the end)."""
    medians = summarise(rows)
    overall_rows = overall(medians, game_facts)
    if final:
        print_tables(medians, args.budgets)
        print_overall(overall_rows, args.budgets)
    return write_compact({
        "shapiq": shapiq_version,
        "settings": {"budgets": args.budgets, "seeds": args.seeds, "indices": INDICES,
                     "complete": final, "measured": list(args.indices or INDICES),
                     "metrics": "MSE, precision@10, Kendall tau-b over all sets of order 1..2 "
                                "(order 1 for SV), empty set left out; medians over seeds"},
        "games": game_facts, "exact_cross_check": cross, "overall": overall_rows,
        "medians": medians, "rows": rows,
        "total_seconds": time.perf_counter() - t_start,
    }, C.out_path(NAME, args))


def write_compact(payload: dict[str, Any], out: Any = None) -> Any:
    """``C.write_json``'s document, with every list of records one record per line (the
    per-seed rows run to tens of thousands: an indented dump is unreadable in a diff)."""
    import json

    path = C.write_json(NAME, payload, out)
    doc = json.loads(path.read_text())
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            body = ",\n".join("  " + json.dumps(v, default=str) for v in value)
            parts.append(f"{json.dumps(key)}: [\n{body}\n]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value, default=str)}")
    path.write_text("{\n" + ",\n".join(parts) + "\n}\n")
    return path


def C_missing(module: str) -> str | None:
    try:
        from _child import missing_peer

        return missing_peer(module)
    except ImportError:
        import importlib.util

        return None if importlib.util.find_spec(module) else f"skipped: {module} not installed"


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median over seeds per (game, index, estimator, budget); then the median over games."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["game"], r["index"], r["estimator"], r["budget"])].append(r)
    per_game = []
    for (game, index, est, budget), rs in groups.items():
        ok = [r for r in rs if "error" not in r]
        rec: dict[str, Any] = {"game": game, "index": index, "estimator": est, "budget": budget,
                               "runs": len(rs), "failed": len(rs) - len(ok),
                               "seconds": statistics.median(r["seconds"] for r in rs)}
        if ok:
            for m in ("mse", "p10", "tau"):
                vals = [r[m] for r in ok if not math.isnan(r[m])]
                rec[m] = statistics.median(vals) if vals else None
        else:
            rec["error"] = rs[0].get("error")
        per_game.append(rec)
    return per_game


def overall(medians: list[dict[str, Any]], games: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Across games: median of each game's median MSE divided by the mean square of the true
    index values (``rel_mse``: 1 = as bad as predicting all zeros), and median p@10 and τ."""
    scale = {(g["name"], k): v for g in games for k, v in g["truth_mean_square"].items()}
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for m in medians:
        groups[(m["index"], m["estimator"], m["budget"])].append(m)
    out = []
    for (index, est, budget), ms in groups.items():
        rec: dict[str, Any] = {"index": index, "estimator": est, "budget": budget,
                               "games": len(ms), "games_failed": sum(1 for m in ms if m.get("mse") is None)}
        rel = [m["mse"] / scale[(m["game"], index)] for m in ms
               if m.get("mse") is not None and scale[(m["game"], index)] > 0]
        rec["rel_mse"] = statistics.median(rel) if len(rel) == len(ms) else None
        for metric in ("p10", "tau"):
            vals = [m[metric] for m in ms if m.get(metric) is not None]
            rec[metric] = statistics.median(vals) if len(vals) == len(ms) else None
        out.append(rec)
    return out


def print_overall(rows: list[dict[str, Any]], budgets: list[int]) -> None:
    for metric, label in (("rel_mse", "relative MSE (MSE / mean square of the truth)"),
                          ("p10", "precision@10"), ("tau", "Kendall τ")):
        table = []
        for index in INDICES:
            for est in dict.fromkeys(r["estimator"] for r in rows if r["index"] == index):
                row: dict[str, Any] = {"index": index, "estimator": est}
                for r in rows:
                    if r["index"] == index and r["estimator"] == est:
                        v = r.get(metric)
                        row[str(r["budget"])] = v if v is not None else (
                            "fail" if r["games_failed"] else "n/a")
                table.append(row)
        C.print_table(table, ["index", "estimator", *map(str, budgets)],
                      title=f"all games, median over games of the per-game median: {label}")


def print_tables(medians: list[dict[str, Any]], budgets: list[int]) -> None:
    """Per game: one table per metric, rows index × estimator, columns budgets."""
    for game in dict.fromkeys(m["game"] for m in medians):
        sub = [m for m in medians if m["game"] == game]
        for metric, label in (("mse", "median MSE"), ("p10", "median precision@10"), ("tau", "median Kendall τ")):
            table = []
            for index in INDICES:
                for est in dict.fromkeys(m["estimator"] for m in sub if m["index"] == index):
                    row: dict[str, Any] = {"index": index, "estimator": est}
                    for m in sub:
                        if m["index"] == index and m["estimator"] == est:
                            v = m.get(metric)
                            row[str(m["budget"])] = v if v is not None else ("fail" if m.get("failed") else "")
                    table.append(row)
            C.print_table(table, ["index", "estimator", *map(str, budgets)], title=f"{game}: {label}")


if __name__ == "__main__":
    sys.exit(main())
