"""SPEX against spectralexplain's and shapiq's SPEX on planted sparse functions, at equal calls.

For each (n, K, noise) the planted function has K Fourier terms of degree <= 5 (|coef| in
[0.5, 1], Gaussian noise of sd `noise` per call). The peers choose b from a budget with three
groups and 1 + r BCH delays (r = parity bits of the t = 5 code); their calls are counted at the
value function, and fastspex then gets exactly that many calls as its budget (same code, same
groups, so the same b). Reported: model calls, algorithm time (wall time minus the time spent
inside the value function), peak memory (rise of the resident-set high-water mark during the
run), top-10 recovery (overlap of the true and recovered top-10 supports by |Fourier|), and the
relative L2 error of the Fourier coefficients.

The peers decode with `galois`, whose numba kernels compile on first use for each field size
(minutes on this machine); each peer process warms up on a tiny instance of the same n first,
and that compile time is reported separately, not counted. Peers run in child processes
(``_child.start_child``) with a per-run timeout and an address-space limit; a peer that is not
installed gets rows saying so.

    python benchmarks/bench_spex.py            # the full run (about 15 minutes here)
    python benchmarks/bench_spex.py --quick    # small grid, fastspex + peers at n = 128
                                               # (written to the scratch dir unless --out)

Writes ``benchmarks/results/bench_spex.json`` and ``bench_spex.png``. Peer rows measured in a
separate run (``--child N --configs ...``, e.g. one n alone) are merged into the file's rows with
their ``source``; :func:`side_by_side` prefers a completed peer row over a timed-out one.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import signal
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from _child import MemoryMeter, missing_peer, report, start_child  # noqa: E402
from _common import add_out_argument, out_path, png_path, print_table, write_json  # noqa: E402

T = 5  # degree bound and BCH t for every method
NOISE = 1.0
SEED = 0


# ---------------------------------------------------------------- shared measurement helpers
class Timed:
    """Wraps the planted function: counts rows and the time spent inside it."""

    def __init__(self, f: Callable[[np.ndarray], np.ndarray]) -> None:
        self.f = f
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, masks: Any) -> np.ndarray:
        t0 = time.perf_counter()
        x = np.asarray(masks, dtype=bool)  # peers pass 0/1 integers; the conversion is ours
        y = self.f(x)
        self.seconds += time.perf_counter() - t0
        self.calls += len(x)
        return y


def planted(n: int, k: int, noise: float):
    from fastspex import synthetic

    return synthetic.planted(n, k, max_order=T, noise=noise, seed=SEED + 1000 * k + n)


def metrics(f, found: dict[tuple[int, ...], float]) -> dict[str, float]:
    truth = f.coefficients.to_dict()
    keys = set(truth) | set(found)
    err = math.sqrt(sum((truth.get(s, 0.0) - found.get(s, 0.0)) ** 2 for s in keys))
    norm = math.sqrt(sum(v * v for v in truth.values()))
    top_true = set(f.top(10))
    ranked = sorted(((s, v) for s, v in found.items() if s), key=lambda sv: (-abs(sv[1]), sv[0]))
    top_found = {s for s, _ in ranked[:10]}
    return {"top10": len(top_true & top_found) / len(top_true), "rel_err": err / norm}


def peer_budget(n: int, k: int) -> int:
    """The nominal peer design size for K terms: 3 groups x 2^b x (1 + r), load K/2^b <= 1/2."""
    from fastspex import _core

    b = max(3, math.ceil(math.log2(2 * k)))
    return 3 * 2**b * (int(_core.bch_info(n, T)["redundancy"]) + 1)


# ---------------------------------------------------------------- peers (child process)
class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _run_spectralexplain(fn: Timed, n: int, budget: int) -> dict[tuple[int, ...], float]:
    import spectralexplain as se

    # Explainer(sample_budget=...) first samples a dummy function at every b up to 12 to learn
    # its thresholds (millions of masks at n = 10^4); we call its two stages directly with the
    # b that its budget rule picks: the largest with 3 * 2^b * (1 + r) <= budget.
    from sparse_transform.qsft.signals.input_signal_subsampled import SubsampledSignal

    query = {"num_subsample": 3, "delays_method_source": "joint-coded", "delays_method_channel": "identity-siso"}
    b = SubsampledSignal.get_b_for_sample_budget(budget, n, T, 2, query)
    signal_, _ = se.sampling_strategy(fn, b, b, n, sample_save_dir=None, t=T)
    out = se.support_recovery("soft", signal_, b, T)
    found: dict[tuple[int, ...], float] = {}
    for key, v in out.items():
        s = tuple(int(i) for i in np.flatnonzero(np.asarray(key)))
        found[s] = found.get(s, 0.0) + float(np.real(v))
    return found


def _run_shapiq(fn: Timed, n: int, budget: int) -> dict[tuple[int, ...], float]:
    from fastspex import Coefficients, indices
    from shapiq.approximator.sparse import SPEX as ShapiqSPEX

    # FBII of order 5 equals the Möbius transform for a function of degree <= 5 (SPEX's output).
    approx = ShapiqSPEX(n=n, index="FBII", max_order=T, degree_parameter=T, random_state=SEED)
    iv = approx.approximate(budget, fn)
    mob = {tuple(int(i) for i in s): float(iv.values[pos]) for s, pos in iv.interaction_lookup.items()}
    mob = {s: v for s, v in mob.items() if v != 0.0}
    fourier = indices.to_fourier(Coefficients.from_dict(mob, n=n, basis="mobius"))
    return fourier.to_dict()


PEERS = {"spectralexplain": _run_spectralexplain, "shapiq": _run_shapiq}


def child(n: int, configs: list[list[float]], timeout: int, peers: list[str]) -> None:
    """Runs the given peers on every (K, noise) at this n; one record per result."""
    warnings.filterwarnings("ignore")
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    signal.signal(signal.SIGALRM, _alarm)
    # Warm-up on a tiny design: compiles galois's kernels for this field size.
    t0 = time.perf_counter()
    try:
        warm = Timed(planted(n, 4, 0.0))
        signal.alarm(timeout * 5)  # numba compiles for minutes on a busy 2-core machine
        PEERS[peers[0]](warm, n, peer_budget(n, 4))
        signal.alarm(0)
        report({"warmup_s": time.perf_counter() - t0, "n": n, "warmup_peer": peers[0]})
    except (_Timeout, MemoryError) as err:
        report({"warmup_s": time.perf_counter() - t0, "n": n, "warmup_peer": peers[0],
                "warmup_error": type(err).__name__})
        return
    for k, noise in configs:
        k = int(k)
        budget = peer_budget(n, k)
        for name in peers:
            run = PEERS[name]
            f = planted(n, k, noise)
            fn = Timed(f)
            row: dict[str, Any] = {"method": name, "n": n, "K": k, "noise": noise, "budget": budget}
            mem = MemoryMeter().__enter__()
            t0 = time.perf_counter()
            signal.alarm(timeout)
            try:
                found = run(fn, n, budget)
                signal.alarm(0)
                wall = time.perf_counter() - t0
                mem.__exit__()
                row.update(calls=fn.calls, algo_s=wall - fn.seconds, mem_mb=mem.rise_mib)
                row.update(metrics(f, found))
            except _Timeout:
                row.update(calls=fn.calls, status=f"timeout>{timeout}s")
            except MemoryError:
                signal.alarm(0)
                row.update(calls=fn.calls, status="MemoryError")
            except Exception as err:  # noqa: BLE001 - a peer failing is a result to report, not a crash
                signal.alarm(0)
                if time.perf_counter() - t0 >= timeout:  # the alarm fired inside numba code
                    row.update(calls=fn.calls, status=f"timeout>{timeout}s")
                else:
                    row.update(calls=fn.calls, status=f"{type(err).__name__}: {str(err)[:80]}")
            report(row)


# ---------------------------------------------------------------- fastspex (this process)
def run_fastspex(n: int, k: int, noise: float, budget: int) -> dict[str, Any]:
    from fastspex import SPEX

    f = planted(n, k, noise)
    fn = Timed(f)
    with MemoryMeter() as mem:
        t0 = time.perf_counter()
        res = SPEX(budget, max_order=T, seed=SEED).fit(fn, n, store=None, progress=False, batch_size=4096)
        wall = time.perf_counter() - t0
    row = {"method": "fastspex", "n": n, "K": k, "noise": noise, "budget": budget, "calls": fn.calls,
           "algo_s": wall - fn.seconds, "mem_mb": mem.rise_mib, "b": res.settings["b"],
           "groups": res.settings["groups"]}
    row.update(metrics(f, res.coefficients.to_dict()))
    return row


def side_by_side(rows: list[dict[str, Any]], grid: list[tuple[int, int, float]]) -> list[dict[str, Any]]:
    """One line per (n, K, noise) of ``grid``: fastspex against each peer. Where a peer has
    several rows for a config (a timed-out concurrent run and a later run alone), the completed
    one counts."""
    table = []
    for n, k, noise in grid:
        fr = next(r for r in rows if r["method"] == "fastspex" and (r["n"], r["K"], r["noise"]) == (n, k, noise))
        line = {"n": n, "K": k, "noise": noise, "calls": fr["calls"], "fs_top10": fr["top10"],
                "fs_relerr": fr["rel_err"], "fs_ms": 1000 * fr["algo_s"], "fs_MB": fr["mem_mb"]}
        for name, tag in (("spectralexplain", "se"), ("shapiq", "sq")):
            cands = [r for r in rows if r["method"] == name and (r["n"], r["K"], r["noise"]) == (n, k, noise)]
            pr = next((r for r in cands if "algo_s" in r), cands[0] if cands else None)
            if pr is None:
                line[f"{tag}_top10"] = "-"
                continue
            if "algo_s" not in pr:
                line[f"{tag}_top10"] = pr.get("status", "failed")
                line[f"{tag}_calls"] = pr.get("calls")
                continue
            line.update({f"{tag}_calls": pr["calls"], f"{tag}_top10": pr["top10"], f"{tag}_relerr": pr["rel_err"],
                         f"{tag}_s": pr["algo_s"], f"{tag}_MB": pr["mem_mb"],
                         f"{tag}_speedup": pr["algo_s"] / max(fr["algo_s"], 1e-9)})
        table.append(line)
    return table


TABLE_COLUMNS = ["n", "K", "noise", "calls", "fs_top10", "fs_relerr", "fs_ms", "fs_MB",
                 "se_calls", "se_top10", "se_relerr", "se_s", "se_MB", "se_speedup",
                 "sq_calls", "sq_top10", "sq_relerr", "sq_s", "sq_MB", "sq_speedup"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--peer-timeout", type=int, default=120)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--configs", default="[]", help=argparse.SUPPRESS)
    ap.add_argument("--peers", default=",".join(PEERS), help="peers to run (comma-separated)")
    add_out_argument(ap, "bench_spex")
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, json.loads(args.configs), args.peer_timeout, args.peers.split(","))
        return

    if args.quick:
        fast_grid = [(128, k, s) for k in (10, 100) for s in (0.0, NOISE)]
        peer_grid = {128: [(10, 0.0), (10, NOISE)]}
    else:
        fast_grid = [(n, k, s) for n in (128, 1000, 10_000) for k in (10, 100, 500) for s in (0.0, NOISE)]
        peer_grid = {
            128: [(10, 0.0), (10, NOISE), (100, 0.0), (100, NOISE)],
            1000: [(100, 0.0), (100, NOISE)],
            10_000: [(100, 0.0)],
        }
    rows: list[dict[str, Any]] = []
    warmups: dict[int, Any] = {}
    peers = [] if args.no_peers else [p for p in args.peers.split(",") if p]
    missing = {p: missing_peer(p) for p in peers if missing_peer(p)}
    for name, reason in missing.items():
        print(f"{name}: {reason}", flush=True)
        rows += [{"method": name, "n": n, "K": k, "noise": noise, "status": reason}
                 for n, configs in peer_grid.items() for k, noise in configs]
    peers = [p for p in peers if p not in missing]
    if peers:
        # One child per n, run concurrently (each is single-threaded Python; the machine has 2
        # cores): the peers' times are inflated by the sharing, which the JSON records.
        procs = {n: start_child(__file__, ["--child", n, "--configs", json.dumps(configs),
                                           "--peer-timeout", args.peer_timeout, "--peers", ",".join(peers)],
                                env={"PYTHONWARNINGS": "ignore"}, keep_stderr=False)
                 for n, configs in peer_grid.items()}
        deadline = time.time() + args.peer_timeout * 10
        for n, proc in procs.items():
            res = proc.wait(timeout=max(1.0, deadline - time.time()))
            for rec in res.records:
                if "warmup_s" in rec:
                    warmups[n] = rec
                else:
                    rows.append(rec)
            if not res.ok:
                warmups.setdefault(n, {})["child_status"] = res.status
            if "warmup_error" in warmups.get(n, {}):  # the child stopped before any peer ran
                reason = f"not run: warm-up {warmups[n]['warmup_error']}"
                rows += [{"method": name, "n": n, "K": k, "noise": noise, "status": reason}
                         for name in peers for k, noise in peer_grid[n]]
            print(f"peers at n={n}: {warmups.get(n)}", flush=True)
    run_fastspex(64, 4, 0.0, peer_budget(64, 4))  # warm-up: lazy imports, first-touch pages
    for n, k, noise in fast_grid:
        peer_calls = [r["calls"] for r in rows if r["n"] == n and r["K"] == k and r["noise"] == noise
                      and "algo_s" in r]
        budget = min(peer_calls) if peer_calls else peer_budget(n, k)
        rows.append(run_fastspex(n, k, noise, budget))
        print(f"fastspex n={n} K={k} noise={noise}: {rows[-1]}", flush=True)

    table = side_by_side(rows, fast_grid)
    print_table(table, TABLE_COLUMNS)
    path = write_json("bench_spex", {"degree": T, "noise_sd": NOISE, "peer_warmup": warmups,
                                     "peer_children": "one per n, run concurrently",
                                     "rows": rows, "table": table}, out_path("bench_spex", args))
    print(f"wrote {path}")
    plot(rows, png_path(path))


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, marker in (("fastspex", "o"), ("spectralexplain", "s"), ("shapiq", "^")):
        pts = [r for r in rows if r["method"] == name and "algo_s" in r and r["noise"] == 0.0]
        for k in sorted({r["K"] for r in pts}):
            sel = sorted((r for r in pts if r["K"] == k), key=lambda r: r["n"])
            axes[0].loglog([r["n"] for r in sel], [r["algo_s"] for r in sel], marker=marker, label=f"{name} K={k}")
        noisy = [r for r in rows if r["method"] == name and "algo_s" in r]
        axes[1].scatter([r["calls"] for r in noisy], [r["top10"] for r in noisy], marker=marker, label=name)
    axes[0].set_xlabel("n (components)")
    axes[0].set_ylabel("algorithm time (s, excl. value function)")
    axes[0].legend(fontsize=7)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("model calls")
    axes[1].set_ylabel("top-10 recovery")
    axes[1].legend(fontsize=7)
    fig.suptitle("SPEX: fastspex vs spectralexplain vs shapiq (planted, degree <= 5)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
