"""ProxySPEX: fastspex vs spectralexplain's and shapiq's ProxySPEX on planted sparse functions.

Every (implementation, n, budget, seed) runs in its own subprocess, so peak memory is that run's
own (peak RSS growth over the process after imports) and a peer that runs too long is stopped by
a timeout. Same planted function (Möbius basis, 20 interactions of order <= 3, noise 0.05),
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
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, print_table, write_json

K_PLANTED, MAX_ORDER, NOISE = 20, 3, 0.05


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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

    rss0 = _rss_mb()
    cpu0 = time.process_time()
    coefs, algo = RUNNERS[impl](fn, n, budget, seed)
    cpu = time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pred = indices.evaluate(coefs, test)
    r2 = 1 - float(np.mean((truth - pred) ** 2)) / float(np.var(truth))
    mob = indices.to_mobius(coefs).to_dict()
    found = [s for s in sorted(mob, key=lambda s: -abs(mob[s])) if s][:10]
    recovery = len(set(found) & set(f.top(10))) / 10
    return {"impl": impl, "n": n, "budget": budget, "seed": seed, "algo_s": algo, "cpu_s": cpu,
            "calls": fn.calls, "peak_mb": max(0.0, peak - rss0), "r2": r2,
            "top10": recovery, "terms": len(coefs)}


def run_one(impl: str, n: int, budget: int, seed: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", impl, str(n), str(budget), str(seed)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "python")}
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return {"impl": impl, "n": n, "budget": budget, "seed": seed,
                "status": f"timeout > {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"impl": impl, "n": n, "budget": budget, "seed": seed, "status": f"error: {err}"}
    out = json.loads(lines[-1])
    out["status"], out["wall_s"] = "ok", time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=4)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--impls", default="fastspex,shapiq,spectralexplain")
    ap.add_argument("--sizes", default="64,256,1024,10000")
    ap.add_argument("--budgets", default="250,500,1000")
    ap.add_argument("--name", default="bench_proxyspex", help="JSON name in benchmarks/results")
    ap.add_argument("--merge", nargs="+", help="only merge these result JSONs: table and plot")
    args = ap.parse_args()
    if args.worker:
        impl, n, budget, seed = args.worker
        print(json.dumps(worker(impl, int(n), int(budget), int(seed))))
        return
    budgets = [int(b) for b in args.budgets.split(",")]
    cols = ["n", "budget", "impl", "status", "algo_s", "cpu_s", "calls", "peak_mb", "r2", "top10"]
    if args.merge:
        rows = [r for p in args.merge for r in _load_rows(Path(p))]
        rows.sort(key=lambda r: (r["n"], r["budget"], r["impl"]))
        print_table(rows, cols)
        medians = _print_medians(rows)
        write_json(args.name, {"planted": {"k": K_PLANTED, "max_order": MAX_ORDER,
                   "basis": "mobius", "noise": NOISE}, "merged_from": args.merge, "rows": rows,
                   "medians": medians})
        _plot(rows, budgets, args.name)
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
    path = write_json(args.name, {"planted": {"k": K_PLANTED, "max_order": MAX_ORDER,
                      "basis": "mobius", "noise": NOISE}, "timeout_s": args.timeout, "rows": rows,
                      "medians": medians})
    print(f"wrote {path}")
    _plot(rows, budgets, args.name)


def _load_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a result JSON, or the JSON lines a (possibly interrupted) run printed."""
    text = path.read_text()
    if path.suffix == ".json":
        return json.loads(text)["rows"]
    return [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]


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


def _plot(rows: list[dict[str, Any]], budgets: list[int], name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.get("status") == "ok"]
    medians = _medians(rows)  # sorted by (n, budget, impl): each line runs left to right
    sizes = sorted({r["n"] for r in ok})
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
    out = RESULTS / f"{name}_r2.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
