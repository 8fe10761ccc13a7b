"""ProxySPEX: fastspex vs spectralexplain's and shapiq's ProxySPEX on planted sparse functions.

Every (implementation, n, budget, seed) runs in its own subprocess (``_child.run_child``), so
peak memory is that run's own (rise of the RSS high-water mark over the process after imports)
and a peer that runs too long is stopped by a timeout. A peer that is not installed gets rows
saying so. Same planted function (Möbius basis, 20 interactions of order <= 3, noise 0.05),
same budget and seed for all three. Measured:

- algorithm time: wall time of the explainer minus the time spent inside the value function;
- CPU time of the whole run (all threads; the value function is a small part): the machine
  may be shared, and wall time then measures the neighbours as much as the code;
- model calls: masks the value function was asked for;
- held-out R²: of the returned expansion against the noiseless function on 1,000 fresh uniform
  masks (the same masks for everyone);
- top-10 recovery: share of the 10 largest planted Möbius interactions among the 10 largest of
  the returned expansion (converted to Möbius).

Run: ``PYTHONPATH=python python benchmarks/bench_proxyspex.py [--quick] [--timeout S]``.
Several runs (say, more seeds, or a peer re-run alone) become the one results file with
``--merge A.json B.json ...``: a row of a later file replaces the row of an earlier one with the
same (impl, n, budget, seed); each row keeps its ``source`` and each source its machine.
``--replot`` redraws the figure from the results file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _child import MemoryMeter, missing_peer, report, run_child  # noqa: E402
from _common import add_out_argument, out_path, png_path, print_table, write_json  # noqa: E402

K_PLANTED, MAX_ORDER, NOISE = 20, 3, 0.05
PEER_MODULES = {"shapiq": "shapiq", "spectralexplain": "spectralexplain"}


class Timed:
    """Wraps the planted function: counts calls and the time spent inside it."""

    def __init__(self, f: Any) -> None:
        self.f, self.n, self.calls, self.seconds = f, f.n, 0, 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        out = self.f(np.asarray(x, dtype=bool))
        self.seconds += time.perf_counter() - t
        self.calls += len(x)
        return out


def _run_fastspex(fn: Timed, n: int, budget: int, seed: int) -> tuple[Any, float]:
    import lightgbm  # noqa: F401 - imported before timing, as the peers' imports are
    from fastspex.proxyspex import ProxySPEX

    res = ProxySPEX(budget, seed=seed).fit(fn, n, store=None)
    return res.coefficients, res.timings["algorithm"]


def _dict_to_coefs(d: dict, n: int, binary_keys: bool) -> Any:
    from fastspex import Coefficients

    out: dict[tuple[int, ...], float] = {}
    for key, v in d.items():
        s = tuple(int(i) for i in np.flatnonzero(key)) if binary_keys else tuple(key)
        out[s] = out.get(s, 0.0) + float(np.real(v))
    return Coefficients.from_dict(out, n=n)


def _run_spectralexplain(fn: Timed, n: int, budget: int, seed: int) -> tuple[Any, float]:
    import spectralexplain as spex

    # what spectralexplain's Explainer does for algorithm="proxyspex" with a sample budget
    queries = np.random.default_rng(seed).integers(0, 2, size=(budget, n))
    values = np.asarray(fn(queries))
    t = time.perf_counter()
    four = spex.utils.proxy_spex((queries, values), max_order=5)
    algo = time.perf_counter() - t
    return _dict_to_coefs(four, n, binary_keys=True), algo


def _run_shapiq(fn: Timed, n: int, budget: int, seed: int) -> tuple[Any, float]:
    from shapiq.approximator.sparse import ProxySPEX as ShapiqProxySPEX

    approx = ShapiqProxySPEX(n=n, index="FBII", max_order=2, random_state=seed)
    captured: dict[str, Any] = {}
    refine = approx._refine

    def timed_refine(*args: Any, **kwargs: Any) -> Any:
        out = refine(*args, **kwargs)
        captured["t"], captured["fourier"] = time.perf_counter(), out
        return out

    approx._refine = timed_refine  # the surrogate's Fourier expansion, before index conversion
    t0 = time.perf_counter()
    approx.approximate(budget, fn)
    algo = captured["t"] - t0 - fn.seconds
    return _dict_to_coefs(captured["fourier"], n, binary_keys=False), algo


RUNNERS = {"fastspex": _run_fastspex, "spectralexplain": _run_spectralexplain, "shapiq": _run_shapiq}


def worker(impl: str, n: int, budget: int, seed: int) -> dict[str, Any]:
    from fastspex import indices, masks, synthetic

    f = synthetic.planted(n, K_PLANTED, max_order=MAX_ORDER, basis="mobius", noise=NOISE, seed=seed)
    test = masks.bernoulli(1000, n, seed=10_000 + seed)
    truth = f.exact(test)
    fn = Timed(f)
    import lightgbm  # noqa: F401 - every implementation uses it; load it before measuring
    import sklearn.model_selection  # noqa: F401

    with MemoryMeter() as mem:
        cpu0 = time.process_time()
        coefs, algo = RUNNERS[impl](fn, n, budget, seed)
        cpu = time.process_time() - cpu0
    pred = indices.evaluate(coefs, test)
    r2 = 1 - float(np.mean((truth - pred) ** 2)) / float(np.var(truth))
    mob = indices.to_mobius(coefs).to_dict()
    found = [s for s in sorted(mob, key=lambda s: -abs(mob[s])) if s][:10]
    recovery = len(set(found) & set(f.top(10))) / 10
    return {"impl": impl, "n": n, "budget": budget, "seed": seed, "algo_s": algo, "cpu_s": cpu,
            "calls": fn.calls, "peak_mb": mem.rise_mib, "r2": r2,
            "top10": recovery, "terms": len(coefs)}


def run_one(impl: str, n: int, budget: int, seed: int, timeout: float) -> dict[str, Any]:
    res = run_child(__file__, ["--worker", impl, n, budget, seed], timeout=timeout)
    if not res.ok:
        return {"impl": impl, "n": n, "budget": budget, "seed": seed, "status": res.status}
    out = res.last
    out["status"], out["wall_s"] = "ok", res.wall_s
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--impls", default="fastspex,shapiq,spectralexplain")
    ap.add_argument("--sizes", default="64,256,1024,10000")
    ap.add_argument("--budgets", default="250,500,1000")
    ap.add_argument("--merge", nargs="+", type=Path,
                    help="merge these result JSONs (or JSON-lines logs) into --out: table and plot")
    ap.add_argument("--replot", action="store_true", help="redraw the figure of --out only")
    add_out_argument(ap, "bench_proxyspex")
    args = ap.parse_args()
    if args.worker:
        impl, n, budget, seed = args.worker
        report(worker(impl, int(n), int(budget), int(seed)))
        return
    budgets = [int(b) for b in args.budgets.split(",")]
    out = out_path("bench_proxyspex", args)
    cols = ["n", "budget", "impl", "seed", "status", "algo_s", "cpu_s", "calls", "peak_mb", "r2",
            "top10"]
    if args.replot:
        rows = json.loads(out.read_text())["rows"]
        _plot(rows, sorted({r["budget"] for r in rows}), png_path(out))
        return
    if args.merge:
        rows, sources = _merge(args.merge)
        print_table(rows, cols + ["source"])
        medians = _print_medians(rows)
        note = ("a merge: `machine` is where it was written; each measured run's machine is under "
                "merged_from (null: a log without one), rows_kept 0: all its rows were replaced "
                "by a later run's; the source files are in git history")
        path = write_json("bench_proxyspex", {"planted": PLANTED, "note": note,
                          "merged_from": sources, "rows": rows, "medians": medians}, out)
        print(f"wrote {path}")
        _plot(rows, sorted({r["budget"] for r in rows}), png_path(path))
        return
    sizes = [64, 256] if args.quick else [int(v) for v in args.sizes.split(",")]
    impls = args.impls.split(",")
    rows: list[dict[str, Any]] = []
    failed: dict[str, list[tuple[int, int]]] = {}  # a peer is not retried on larger problems
    for n in sizes:
        for budget in budgets:
            for seed in range(args.seeds):
                for impl in impls:
                    if impl != "fastspex" and n > 1024:
                        continue
                    reason = missing_peer(PEER_MODULES[impl]) if impl in PEER_MODULES else None
                    if reason:
                        rows.append({"impl": impl, "n": n, "budget": budget, "seed": seed,
                                     "status": reason})
                        continue
                    if any(n >= fn and budget >= fb for fn, fb in failed.get(impl, [])):
                        rows.append({"impl": impl, "n": n, "budget": budget, "seed": seed,
                                     "status": "skipped (timed out on a smaller problem)"})
                        continue
                    row = run_one(impl, n, budget, seed, args.timeout)
                    if row["status"] != "ok":
                        failed.setdefault(impl, []).append((n, budget))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print_table(rows, cols)
    medians = _print_medians(rows) if args.seeds > 1 else _medians(rows)
    path = write_json("bench_proxyspex", {"planted": PLANTED, "timeout_s": args.timeout,
                      "rows": rows, "medians": medians}, out)
    print(f"wrote {path}")
    _plot(rows, budgets, png_path(path))


PLANTED = {"k": K_PLANTED, "max_order": MAX_ORDER, "basis": "mobius", "noise": NOISE}


def _load(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows and run facts of a result JSON, or of the JSON lines a (possibly interrupted) run
    printed. A file that is itself a merge keeps its rows' sources."""
    text = path.read_text()
    if path.suffix == ".json":
        data = json.loads(text)
        info = {"file": path.name, "machine": data.get("machine"), "timeout_s": data.get("timeout_s")}
        return data["rows"], info
    rows = [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]
    return rows, {"file": path.name, "machine": None, "timeout_s": None}


def _merge(paths: list[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of all files, a later file's row replacing an earlier one's with the same
    (impl, n, budget, seed); every row names its source file."""
    merged: dict[tuple, dict[str, Any]] = {}
    sources = []
    for p in paths:
        rows, info = _load(p)
        for r in rows:
            r = {**r, "source": r.get("source", p.name)}
            merged[(r["impl"], r["n"], r["budget"], r.get("seed", 0))] = r
        sources.append(info)
    rows = sorted(merged.values(), key=lambda r: (r["n"], r["budget"], r["impl"], r.get("seed", 0)))
    for info in sources:
        info["rows_kept"] = sum(r["source"] == info["file"] for r in rows)
    return rows, sources


def _medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (n, budget, impl): medians over seeds of the successful runs."""
    groups: dict[tuple[int, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("status") == "ok":
            groups.setdefault((r["n"], r["budget"], r["impl"]), []).append(r)
    out = []
    for (n, budget, impl), rs in sorted(groups.items()):
        row: dict[str, Any] = {"n": n, "budget": budget, "impl": impl, "seeds": len(rs)}
        for key in ("algo_s", "peak_mb", "r2", "top10"):
            row[key] = float(np.median([r[key] for r in rs]))
        row["r2_min"] = float(min(r["r2"] for r in rs))
        out.append(row)
    return out


def _print_medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    medians = _medians(rows)
    print("\nMedians over seeds")
    print_table(medians, ["n", "budget", "impl", "seeds", "algo_s", "peak_mb", "r2", "r2_min",
                          "top10"])
    return medians


def _plot(rows: list[dict[str, Any]], budgets: list[int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.get("status") == "ok"]
    medians = _medians(rows)  # sorted by (n, budget, impl): each line runs left to right
    sizes = sorted({r["n"] for r in ok})
    if not sizes:
        print("no successful runs: no figure")
        return
    fig, axes = plt.subplots(1, len(sizes), figsize=(4 * len(sizes), 3.4), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        for impl, marker in (("fastspex", "o"), ("shapiq", "s"), ("spectralexplain", "^")):
            pts = [(r["budget"], r["r2"]) for r in medians if r["n"] == n and r["impl"] == impl]
            if pts:
                ax.plot(*zip(*pts), marker=marker, label=impl)
        ax.set_title(f"n = {n}")
        ax.set_xlabel("budget (model calls)")
        ax.set_xscale("log")
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.minorticks_off()
        ax.set_ylim(min(0.0, *(r["r2"] for r in ok)), 1.02)
    axes[0][0].set_ylabel("held-out R²")
    axes[0][0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
