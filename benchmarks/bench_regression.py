"""Sparse proxy regression fit time: fastspex vs scikit-learn's lasso_path / Lasso.

A planted sparse quadratic Möbius function (k terms, orders 1-2, Gaussian noise) on m uniform
masks over n components. Rows:

- ``all pairs`` at n = 10³: the explicit design has n + n(n-1)/2 = 500,500 float64 columns
  (m·p·8 bytes = 40 GB for m = 10⁴): it does not fit in memory, so scikit-learn cannot run it;
  fastspex fits the exact path over all of them (streaming pair scan), with and without CV.
- ``screened`` at n = 10³: the same design for both — every main effect plus the pairs that
  entered fastspex's full-data path — as explicit float64 columns for scikit-learn
  (``lasso_path`` on centred columns, the same penalty grid) and as terms for fastspex.
- ``all pairs`` at a smaller n where the explicit design fits: both on all pairs.
- the factorization machine (rank 8) fit time on the same masks.

Objectives are compared at every penalty, so equal time means equal work. Medians of repeats;
wall seconds (the machine may be shared: the load average is recorded). Writes
``benchmarks/results/bench_regression.json`` (``--out`` elsewhere). ``--quick`` uses m = 2000 and
writes to the scratch directory.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_out_argument, median_time, out_path, print_table, write_json  # noqa: E402
from fastspex import masks as M
from fastspex import proxies, synthetic


def explicit(Xb: np.ndarray, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
    Z = Xb[:, ta].astype(np.float64)
    pairs = tb >= 0
    Z[:, pairs] *= Xb[:, tb[pairs]]
    return Z


def objective(Z: np.ndarray, yc: np.ndarray, coefs: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Lasso objective per penalty with centred columns (the intercept profiled out)."""
    R = yc[:, None] - Z @ coefs
    return (R * R).sum(0) / (2 * len(yc)) + alphas * np.abs(coefs).sum(0)


def sklearn_path(Zc: np.ndarray, yc: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import lasso_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, coefs, _ = lasso_path(Zc, yc, alphas=alphas)
    return coefs


def same_design(name: str, X: M.PackedMasks, y: np.ndarray, ta: np.ndarray, tb: np.ndarray,
                alphas: np.ndarray, repeats: int) -> dict:
    Xb = X.to_bool()
    Z = explicit(Xb, ta, tb)
    Zc = Z - Z.mean(0)
    yc = y - y.mean()
    terms = [(int(a),) if b < 0 else (int(a), int(b)) for a, b in zip(ta, tb)]
    ours = lambda: proxies.sparse_polynomial_path(X, y, terms=terms, alphas=alphas, max_features=10**6)
    t_ours = median_time(ours, repeats)
    path = ours()
    t_sk = median_time(lambda: sklearn_path(Zc, yc, alphas), repeats)
    sk = sklearn_path(Zc, yc, alphas)
    mine = path.dense(terms).T
    obj_ours, obj_sk = objective(Zc, yc, mine, alphas), objective(Zc, yc, sk, alphas)
    return {
        "design": name, "columns": len(ta), "alphas": len(alphas),
        "fastspex_s": t_ours, "sklearn_s": t_sk, "speedup": t_sk / t_ours,
        "max_rel_objective_gap": float(np.max((obj_ours - obj_sk) / obj_sk)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    add_out_argument(ap, "bench_regression")
    args = ap.parse_args()
    m = 2000 if args.quick else 10_000
    n = 1000
    rows, fm_rows = [], []
    f = synthetic.planted(n, 40, basis="mobius", max_order=2, noise=0.1, seed=1)
    X = M.bernoulli(m, n, seed=2)
    y = f(X)

    t0 = time.perf_counter()
    path = proxies.sparse_polynomial_path(X, y)
    t_path = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit = proxies.fit_sparse_polynomial(X, y, seed=0)
    t_fit = time.perf_counter() - t0
    truth = {s for s in f.coefficients.to_dict() if s}
    got = {s for s in fit.coefficients.to_dict() if s}
    gb = (n + n * (n - 1) // 2) * m * 8 / 2**30
    rows.append({"design": f"all pairs n={n} (path only)", "columns": n + n * (n - 1) // 2,
                 "alphas": len(path.alphas), "fastspex_s": t_path, "sklearn_s": f"n/a ({gb:.0f} GiB)",
                 "scans": path.scans})
    rows.append({"design": f"all pairs n={n} (path+5-fold CV+refit)", "columns": n + n * (n - 1) // 2,
                 "alphas": len(path.alphas), "fastspex_s": t_fit, "sklearn_s": f"n/a ({gb:.0f} GiB)",
                 "support_found": f"{len(truth & got)}/{len(truth)} (+{len(got - truth)} false)"})

    # the screened design: mains + pairs that entered the exact all-pairs path
    pairs = path.terms_b >= 0
    ta = np.concatenate([np.arange(n, dtype=np.int32), path.terms_a[pairs]])
    tb = np.concatenate([np.full(n, -1, np.int32), path.terms_b[pairs]])
    rows.append(same_design(f"screened n={n}", X, y, ta, tb, path.alphas, args.repeats))

    # a smaller n where every pair fits explicitly
    n2 = 100
    f2 = synthetic.planted(n2, 20, basis="mobius", max_order=2, noise=0.1, seed=3)
    X2 = M.bernoulli(m, n2, seed=4)
    y2 = f2(X2)
    ta2 = np.concatenate([np.arange(n2), np.triu_indices(n2, 1)[0]]).astype(np.int32)
    tb2 = np.concatenate([np.full(n2, -1), np.triu_indices(n2, 1)[1]]).astype(np.int32)
    p2 = proxies.sparse_polynomial_path(X2, y2, screening="explicit")
    rows.append(same_design(f"all pairs n={n2}", X2, y2, ta2, tb2, p2.alphas, args.repeats))
    t_scan2 = median_time(lambda: proxies.sparse_polynomial_path(X2, y2, alphas=p2.alphas), args.repeats)
    rows.append({"design": f"all pairs n={n2} (streaming scan)", "columns": len(ta2), "alphas": len(p2.alphas),
                 "fastspex_s": t_scan2, "sklearn_s": rows[-1]["sklearn_s"],
                 "speedup": rows[-1]["sklearn_s"] / t_scan2})

    for rank in (8,):
        t = median_time(lambda r=rank: proxies.fit_factorization_machine(X, y, rank=r, seed=0), 1)
        res = proxies.fit_factorization_machine(X, y, rank=rank, seed=0)
        fm_rows.append({"proxy": f"factorization machine r={rank}", "n": n, "m": m, "fit_s": t,
                        "epochs": len(res.train_loss), "best_val_mse": float(res.val_loss.min())})

    print(f"m = {m} masks, planted sparse quadratic (40 terms at n={n}, 20 at n={n2}), noise 0.1")
    print_table(rows, ["design", "columns", "alphas", "fastspex_s", "sklearn_s", "speedup",
                       "max_rel_objective_gap", "scans", "support_found"])
    print()
    print_table(fm_rows, ["proxy", "n", "m", "fit_s", "epochs", "best_val_mse"])
    out = write_json("bench_regression", {"m": m, "regression": rows, "fm": fm_rows},
                     out_path("bench_regression", args))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
