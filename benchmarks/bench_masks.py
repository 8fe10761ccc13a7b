"""Masks per second of fastspex's C++ designs against the straightforward NumPy equivalent.

Both produce the same packed output (64 masks bits per uint64 word); NumPy builds a bool
matrix and packs it with ``np.packbits``. Run: ``python benchmarks/bench_masks.py [--quick] [--out PATH]``; writes
``benchmarks/results/bench_masks.json`` (``--quick`` runs go to the scratch directory).
"""

from __future__ import annotations

import argparse

import numpy as np

from _common import add_out_argument, median_time, out_path, print_table, write_json
from fastspex import masks as M


def np_pack(b: np.ndarray) -> np.ndarray:
    return np.packbits(b, axis=1, bitorder="little")


def np_bernoulli(m: int, n: int, p: float, seed: int) -> np.ndarray:
    return np_pack(np.random.default_rng(seed).random((m, n)) < p)


def np_random_subsets(m: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.ones((m, n), bool)
    for row in out:
        row[rng.choice(n, rng.integers(1, 6), replace=False)] = False
    return np_pack(out)


def np_leave_one_out(n: int) -> np.ndarray:
    out = np.ones((n + 1, n), bool)
    out[np.arange(1, n + 1), np.arange(n)] = False
    return np_pack(out)


def np_gf2(n: int, b: int, delays: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = (rng.random((b, n)) < 0.5).astype(np.uint8)
    ell = ((np.arange(1 << b)[:, None] >> np.arange(b)) & 1).astype(np.uint8)
    base = (ell @ h) & 1  # uint8 wrap-around keeps the parity
    return np.concatenate([np_pack(base.astype(bool) ^ d) for d in delays])


def np_unique(b: np.ndarray) -> np.ndarray:
    return np.unique(b, axis=0, return_index=True)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    add_out_argument(parser, "bench_masks")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    bits = 2 * 10**7 if args.quick else 10**8
    rows = []

    def record(design: str, n: int, m: int, ours: float, base: float | None) -> None:
        row = {"design": design, "n": n, "masks": m, "fastspex_s": ours, "fastspex_masks_per_s": m / ours}
        if base is not None:
            row.update(numpy_s=base, numpy_masks_per_s=m / base, speedup=base / ours)
        else:
            row.update(numpy_s="does not fit", speedup="")
        rows.append(row)

    for n in (10**3, 10**4, 10**5):
        m = bits // n
        for p in (0.5, 0.3):
            ours = median_time(lambda: M.bernoulli(m, n, p, seed=1), repeats)
            base = median_time(lambda: np_bernoulli(m, n, p, 1), repeats)
            record(f"bernoulli p={p}", n, m, ours, base)
        ms = min(m, 20000)
        ours = median_time(lambda: M.random_subsets(ms, n, num_ablated=(1, 5), seed=1), repeats)
        base = median_time(lambda: np_random_subsets(ms, n, 1), repeats)
        record("ablate 1..5", n, ms, ours, base)
        ours = median_time(lambda: M.leave_one_out(n), repeats)
        base = median_time(lambda: np_leave_one_out(n), repeats) if n <= 10**4 else None
        record("leave-one-out", n, n + 1, ours, base)
        b, p_delays = 8, 6
        delays = np.random.default_rng(2).random((p_delays, n)) < 0.5
        ours = median_time(lambda: M.gf2_subsample(n, b, delays=delays, seed=1), repeats)
        base = median_time(lambda: np_gf2(n, b, delays, 1), repeats)
        record(f"gf2 b={b} P={p_delays}", n, (1 << b) * p_delays, ours, base)
        dup = M.bernoulli(m // 2, n, seed=3)
        dup = M.PackedMasks.concat([dup, dup])
        dup_bool = dup.to_bool()
        ours = median_time(lambda: M.unique(dup), repeats)
        base = median_time(lambda: np_unique(dup_bool), repeats)
        record("unique (50% dups)", n, len(dup), ours, base)
    if not args.quick:
        ours = median_time(lambda: M.leave_k_out(1000, 2), repeats)
        record("leave-2-out", 1000, 1 + 1000 + 499500, ours, None)
        ours = median_time(lambda: M.exhaustive(24), repeats)
        record("exhaustive", 24, 1 << 24, ours, None)
        ours = median_time(lambda: M.bernoulli(10**7, 64, seed=1), repeats)
        base = median_time(lambda: np_bernoulli(10**7, 64, 0.5, 1), repeats)
        record("bernoulli p=0.5", 64, 10**7, ours, base)
        ours = median_time(lambda: M.bernoulli(100, 10**6, seed=1), repeats)
        base = median_time(lambda: np_bernoulli(100, 10**6, 0.5, 1), repeats)
        record("bernoulli p=0.5", 10**6, 100, ours, base)

    print_table(rows, ["design", "n", "masks", "fastspex_masks_per_s", "numpy_masks_per_s", "speedup"])
    path = write_json("bench_masks", {"repeats": repeats, "rows": rows}, out_path("bench_masks", args))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
