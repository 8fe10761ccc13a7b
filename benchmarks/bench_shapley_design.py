"""Shapley-family accuracy of ProxySPEX: uniform design vs the Shapley-kernel design vs KernelSHAP.

Same run, same games, same seeds: median MSE of the Shapley values (SV) and of the order-2
Shapley interactions (SII, all pairs) against the exact values (all 2^n masks through
``fastspex.explainers.exact``), for

- ``uniform``: ProxySPEX with uniform masks (complementary pairs), unweighted refit;
- ``shapley``: ProxySPEX with ``design="shapley"`` (kernel-sampled sizes, border sizes
  enumerated, paired) and the kernel-weighted refit (what ``explain(index="sii"/"ksii"/"fsii")``
  uses);
- ``kernelshap``: plain KernelSHAP (kernel-weighted least squares on the main effects only) on
  the Shapley design's masks (SV only).

Games (n = 12, exactly enumerable): ``planted`` (main effects, n pairs, n/3 triples, a fixed
noise table of σ = 0.05), ``threshold`` (steep sigmoid of a weighted vote, quota 62 %: dense in
every order), ``sou`` (sum of unanimity games: 8 random coalitions of 2-5 players).

    python benchmarks/bench_shapley_design.py            # budgets 128-2048, 5 seeds
    python benchmarks/bench_shapley_design.py --quick    # budgets 128, 512; 3 seeds
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import _common
import numpy as np

from fastspex import indices
from fastspex.explainers import shapley_design as sd
from fastspex.explainers.exact import Exact
from fastspex.explainers.proxyspex import ProxySPEX
from fastspex.synthetic import LowOrderGame, WeightedMajority

NAME = "bench_shapley_design"
N = 12


class SumOfUnanimity:
    def __init__(self, n: int, seed: int, games: int = 8) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.games = [(rng.choice(n, int(rng.integers(2, 6)), replace=False), rng.normal())
                      for _ in range(games)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=bool)
        return sum(c * x[:, s].all(axis=1) for s, c in self.games).astype(float)


GAMES = {"planted": LowOrderGame, "threshold": WeightedMajority, "sou": SumOfUnanimity}


def _pairs(coefs: Any, n: int) -> np.ndarray:
    d = indices.compute_index(coefs, "sii", 2).to_dict()
    return np.array([d.get((i, j), 0.0) for i in range(n) for j in range(i + 1, n)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--budgets", default=None, help="comma-separated budgets")
    parser.add_argument("--seeds", type=int, default=None)
    _common.add_out_argument(parser, NAME)
    args = parser.parse_args()
    budgets = ([int(b) for b in args.budgets.split(",")] if args.budgets else
               [128, 512] if args.quick else [128, 256, 512, 1024, 2048])
    seeds = args.seeds or (3 if args.quick else 5)
    rows: list[dict[str, Any]] = []
    for gname, game in GAMES.items():
        fn = game(N, 1)
        truth = Exact().fit(fn, N, store=None, progress=False).coefficients
        sv_true, sii_true = indices.shapley_values(truth), _pairs(truth, N)
        for budget in budgets:
            errs: dict[str, dict[str, list[float]]] = {m: {"sv": [], "sii": []}
                                                       for m in ("uniform", "shapley", "kernelshap")}
            secs: dict[str, float] = {m: 0.0 for m in errs}
            for seed in range(seeds):
                t0 = time.perf_counter()
                d = sd.sample(budget, N, seed=seed)
                x = d.masks.to_bool()
                errs["kernelshap"]["sv"].append(
                    float(np.mean((sd.kernel_shap(x, fn(x), d.weights) - sv_true) ** 2)))
                secs["kernelshap"] += time.perf_counter() - t0
                for design in ("uniform", "shapley"):
                    t0 = time.perf_counter()
                    c = ProxySPEX(budget, seed=seed, design=design).fit(
                        fn, N, store=None, progress=False).coefficients
                    secs[design] += time.perf_counter() - t0
                    errs[design]["sv"].append(float(np.mean((indices.shapley_values(c) - sv_true) ** 2)))
                    errs[design]["sii"].append(float(np.mean((_pairs(c, N) - sii_true) ** 2)))
            row: dict[str, Any] = {"game": gname, "n": N, "budget": budget, "seeds": seeds}
            for method, e in errs.items():
                row[f"{method}_sv"] = statistics.median(e["sv"])
                row[f"{method}_sii"] = statistics.median(e["sii"]) if e["sii"] else None
                row[f"{method}_seconds"] = secs[method] / seeds
            row["sv_gain"] = row["uniform_sv"] / row["shapley_sv"] if row["shapley_sv"] > 0 else None
            row["sii_gain"] = row["uniform_sii"] / row["shapley_sii"] if row["shapley_sii"] > 0 else None
            rows.append(row)
            print(f"{gname} {budget}: done", flush=True)
    cols = ["game", "budget", "uniform_sv", "shapley_sv", "kernelshap_sv", "sv_gain",
            "uniform_sii", "shapley_sii", "sii_gain"]
    _common.print_table(rows, cols, title=f"median MSE over {seeds} seeds (n = {N}; exact truth)")
    path = _common.write_json(NAME, {"quick": args.quick, "budgets": budgets, "rows": rows},
                              _common.out_path(NAME, args))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
