"""All-pairs top-100 scoring: fastspex vs NumPy (dense matrix + argpartition) vs a per-pair loop.

Two proxies over n components: a rank-16 factorization machine (pair score ⟨vᵢ, vⱼ⟩) and a sparse
Möbius polynomial (n main effects, 5n pairs, n/10 triples; pair index = SII). For each n in
1e3, 1e4, 1e5 it times:

- fastspex ``top_pairs`` (streaming heap, GEMM tiles, all cores), in a fresh subprocess so its
  peak RSS can be reported;
- NumPy: the full n x n score matrix, upper triangle, ``argpartition`` (only where it fits);
- a per-pair Python loop (pred(both) - pred(i) - pred(j) + pred(neither)) at
  n = 1e3 on a random subsample of pairs, extrapolated to all pairs (labelled as such).

A second table compares the FM scan's mixed-precision tiles (float, candidates re-scored in
double: the default) with the double-precision tiles on the same embeddings, checks they return
the same top-100, and reports pairs/s and FMAs/s against the machine's single-precision FMA
rate measured in the same run (``_core.measured_fma_rate``, before and after; the arithmetic
need is n(n-1)/2 · r FMAs).

Medians of repeats; wall and CPU seconds (the machine may be shared). Writes
``benchmarks/results/bench_pairs.json`` (``--out`` elsewhere). ``--quick`` stops at n = 1e4 with
one repeat and writes to the scratch directory (see ``_common.out_path``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _child import peak_rss_mib, report, run_child
from _common import add_out_argument, out_path, print_table, write_json
from fastspex.coefficients import Coefficients
from fastspex.pairs import top_pairs

K = 100
RANK = 16


def make_fm(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, RANK)) / np.sqrt(RANK)


def make_poly(n: int, seed: int = 0) -> Coefficients:
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, n, size=(5 * n, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs.sort(axis=1)
    triples = np.sort(np.stack([rng.choice(n, 3, replace=False) for _ in range(max(1, n // 10))]), axis=1)
    sizes = np.concatenate([np.ones(n, int), np.full(len(pairs), 2), np.full(len(triples), 3)])
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    indices = np.concatenate([np.arange(n), pairs.ravel(), triples.ravel()])
    values = rng.normal(size=len(sizes))
    return Coefficients(n, indptr, indices, values, "mobius")


def poly_pair_matrix(coefs: Coefficients) -> np.ndarray:
    """Dense SII pair matrix of a Möbius polynomial: Σ_{T⊇ij} a(T) / (|T| - 1)."""
    n = coefs.n
    P = np.zeros((n, n))
    sizes = coefs.orders()
    for t in (2, 3):
        rows = np.flatnonzero(sizes == t)
        sup = coefs.indices[coefs.indptr[rows][:, None] + np.arange(t)]
        w = coefs.values[rows] / (t - 1)
        for a in range(t):
            for b in range(a + 1, t):
                np.add.at(P, (sup[:, a], sup[:, b]), w)
    return P


def numpy_top(P: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k |score| over pairs i<j of a dense matrix, symmetric (FM) or upper-triangular
    (polynomial); lean NumPy: no index arrays, one argpartition."""
    A = np.abs(P, out=P)
    np.fill_diagonal(A, -1.0)
    flat = np.argpartition(A.ravel(), -2 * k)[-2 * k:]  # each pair appears twice (symmetric)
    i, j = np.unravel_index(flat, A.shape)
    keep = i < j
    i, j, flat = i[keep], j[keep], flat[keep]
    order = np.argsort(-A.ravel()[flat], kind="stable")[:k]
    return i[order], j[order]


def timed(fn, repeats: int):
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus)), out


def child(kind: str, n: int, repeats: int) -> None:
    """Runs in a subprocess: build the proxy, time fastspex, report time and peak RSS."""
    model = make_fm(n) if kind == "fm" else make_poly(n)
    rss_before = peak_rss_mib()
    kwargs = {"by": "magnitude"} if kind == "fm" else {"by": "magnitude", "index": "sii"}
    wall, cpu, res = timed(lambda: top_pairs(model, K, **kwargs), repeats)
    report({"wall": wall, "cpu": cpu, "peak_rss_mib": peak_rss_mib(),
            "rss_before_mib": rss_before, "i": res.i.tolist(), "j": res.j.tolist()})


def run_fastspex(kind: str, n: int, repeats: int) -> dict:
    res = run_child(__file__, ["--child", kind, n, repeats])
    if not res.ok:
        raise RuntimeError(f"fastspex child ({kind}, n={n}): {res.status}")
    return res.last


def guide_loop_fm(V: np.ndarray, pairs: np.ndarray) -> None:
    n = len(V)
    w = np.zeros(n)

    def pred(x: np.ndarray) -> float:  # FM prediction on one mask, O(n r)
        s = V.T @ x
        return float(w @ x + 0.5 * (s @ s - ((V * V).sum(1) @ x)))

    for i, j in pairs:
        x = np.ones(n)
        both = pred(x)
        x[i] = 0
        no_i = pred(x)
        x[j] = 0
        neither = pred(x)
        x[i] = 1
        no_j = pred(x)
        _ = both - no_i - no_j + neither


def guide_loop_poly(coefs: Coefficients, pairs: np.ndarray) -> None:
    sup = [coefs.indices[coefs.indptr[k]:coefs.indptr[k + 1]] for k in range(len(coefs))]
    vals = coefs.values

    def pred(x: np.ndarray) -> float:  # Möbius polynomial on one mask
        return float(sum(v for s, v in zip(sup, vals) if x[s].all()))

    for i, j in pairs:
        x = np.ones(coefs.n, bool)
        both = pred(x)
        x[i] = False
        no_i = pred(x)
        x[j] = False
        neither = pred(x)
        x[i] = True
        no_j = pred(x)
        _ = both - no_i - no_j + neither


def precision_rows(sizes: list[int], threads: int) -> list[dict]:
    """Mixed against double tiles of the FM scan, with the FMA rate measured around them."""
    from fastspex import _core

    rows = []
    for n in sizes:
        V = make_fm(n)
        reps = 3 if n < 100_000 else 5
        rate_before = _core.measured_fma_rate(1.0, threads)
        mixed_s, _, a = timed(lambda V=V: _core.fm_top_pairs(V, 1.0, K, "magnitude", threads, True, True), reps)
        double_s, _, b = timed(lambda V=V: _core.fm_top_pairs(V, 1.0, K, "magnitude", threads, True, False), reps)
        rate_after = _core.measured_fma_rate(1.0, threads)
        rate = float(np.median([rate_before, rate_after]))
        pairs = n * (n - 1) // 2
        rows.append({
            "n": n, "rank": RANK, "threads": threads, "repeats": reps,
            "mixed_s": mixed_s, "double_s": double_s, "speedup": double_s / mixed_s,
            "same_top_k": bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])),
            "max_score_diff": float(np.abs(a[2] - b[2]).max()),
            "pairs_per_s": pairs / mixed_s, "fma_per_s": pairs * RANK / mixed_s,
            "machine_fma_per_s": rate, "fraction_of_fma_rate": pairs * RANK / mixed_s / rate,
            "arithmetic_limit_s": pairs * RANK / rate,
        })
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--only-precision", action="store_true", help="run the precision table only")
    add_out_argument(ap, "bench_pairs")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    precision = precision_rows(sizes[1:], 2)
    print_table(precision, ["n", "threads", "mixed_s", "double_s", "speedup", "same_top_k",
                            "pairs_per_s", "machine_fma_per_s", "fraction_of_fma_rate",
                            "arithmetic_limit_s"])
    rows = []
    for kind in () if args.only_precision else ("fm", "poly"):
        for n in sizes:
            reps = 1 if (args.quick or n >= 100_000) else 3
            fs = run_fastspex(kind, n, reps)
            row = {"proxy": kind, "n": n, "pairs": n * (n - 1) // 2, "repeats": reps,
                   "fastspex_wall_s": fs["wall"], "fastspex_cpu_s": fs["cpu"],
                   "fastspex_peak_rss_mib": fs["peak_rss_mib"],
                   "fastspex_rss_before_call_mib": fs["rss_before_mib"]}
            if n <= 10_000:  # the dense n x n matrix (0.8 GB at 1e4) fits; at 1e5 it is 80 GB
                model = make_fm(n) if kind == "fm" else make_poly(n)
                build = (lambda: model @ model.T) if kind == "fm" else (lambda: poly_pair_matrix(model))
                wall, cpu, (ti, tj) = timed(lambda: numpy_top(build(), K), reps)
                row.update(numpy_wall_s=wall, numpy_cpu_s=cpu,
                           speedup_vs_numpy=wall / fs["wall"],
                           same_top_pairs=sorted(zip(ti.tolist(), tj.tolist())) ==
                           sorted(zip(fs["i"], fs["j"])))
            else:
                row.update(numpy_wall_s=None, numpy_note="n x n matrix does not fit in memory")
            if n == 1_000:
                model = make_fm(n) if kind == "fm" else make_poly(n)
                rng = np.random.default_rng(1)
                m = 2_000 if kind == "fm" else 200
                sub = np.sort(rng.choice(n, size=(m, 2), replace=True), axis=1)
                sub = sub[sub[:, 0] != sub[:, 1]]
                loop = guide_loop_fm if kind == "fm" else guide_loop_poly
                wall, _, _ = timed(lambda: loop(model, sub), 1)
                row.update(python_loop_s_extrapolated=wall / len(sub) * row["pairs"],
                           python_loop_subsample_pairs=len(sub),
                           speedup_vs_python_loop=wall / len(sub) * row["pairs"] / fs["wall"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = [{**r, "numpy_wall_s": r.get("numpy_wall_s") or "no fit"} for r in rows]
    if table:
        print_table(table, ["proxy", "n", "pairs", "fastspex_wall_s", "fastspex_cpu_s",
                        "fastspex_peak_rss_mib", "numpy_wall_s", "speedup_vs_numpy",
                            "python_loop_s_extrapolated", "speedup_vs_python_loop"])
    out = write_json("bench_pairs", {
        "k": K, "rank": RANK, "rows": rows, "precision": precision,
        "note": "times are medians of `repeats`; the Python loop is timed on a subsample "
                "and extrapolated linearly to all pairs"}, out_path("bench_pairs", args))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
