"""Held-out R² of every fastspex method on the attention heads of real models, against baselines.

Games (see ``_component_cache.GAMES``): SmolLM2-135M-Instruct's 270 heads zero-ablated, output
log p(" Paris" | "The capital of France is"); the bundled MiniLM's 72 heads, output the cosine
similarity of the ablated embedding to the unablated one. Designs: uniform (p = ½) and Bernoulli
keep = 0.9. For each design the masks of the largest budget plus 1,000 held-out masks are drawn
once, evaluated once and cached under ``benchmarks/cache/`` (gitignored), so a rerun costs no
model time; budget B uses the first B rows, R² is measured on the same 1,000 held-out rows of the
same design.

Rows: ProxySPEX, the sparse polynomial (lasso), the factorization machine, ``method="auto"``, a
ridge fit of the main effects alone (penalty by leave-one-out), and LightGBM with the issue's
settings (2,000 trees, learning rate 0.02, 8 leaves). Algorithm seconds are the fit's wall time;
model seconds are the cached evaluation time of B masks (B x seconds per mask measured when the
cache was filled). The machine is shared with other engineers' jobs (load average recorded).

``shapiq_proxyspex`` is shapiq's ProxySPEX (needs shapiq >= 1.6, e.g. the bench venv), with
shapiq's defaults (max_order 2, index k-SII, a LightGBM proxy tuned by its 5-fold grid search)
and random_state 0. It draws its own coalitions, so it evaluates the model live through a shapiq
``Game`` (model seconds are measured, algorithm seconds are wall minus model) and runs on the
uniform design only: shapiq samples sizes by binomial weights, i.e. uniform masks, plus the empty
and full coalitions; the Bernoulli design is skipped with a printed reason. Its held-out R² is
that of the function shapiq recovered (the refined Fourier coefficients it hands to its Möbius
conversion, evaluated at the held-out masks), not of the order-2 index it returns; a self-check
on a known function at n = 8 runs first and stops the script if that function is not recovered.
``--merge`` replaces the rows of the (game, design, budget, method) cells run in the existing
results file and keeps all others.

    python benchmarks/bench_components.py [--games smollm2,minilm] [--budgets 500,1000,2000,4000]
    python benchmarks/bench_components.py --methods shapiq_proxyspex --designs uniform --merge
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from _common import add_out_argument, out_path, print_table, write_json
from _component_cache import GAMES, load_or_compute
from _component_cache import ablation as _component_ablation

HOLDOUT = 1000
ROWS = 5000  # the largest budget (4,000) plus the hold-out


def _replay(x: np.ndarray, y: np.ndarray) -> Any:
    """A value function that returns the cached output of each cached mask."""
    table = {row.tobytes(): float(v) for row, v in zip(np.packbits(x, axis=1), y)}

    def fn(masks: Any) -> np.ndarray:
        arr = masks.to_bool() if hasattr(masks, "to_bool") else np.asarray(masks, bool)
        return np.array([table[r.tobytes()] for r in np.packbits(arr, axis=1)])

    return fn


def _ridge(xtr: np.ndarray, ytr: np.ndarray) -> Any:
    from fastspex.explainers.residual_trees import fit_mains_ridge, ridge_alpha

    mu, sd = ytr.mean(), ytr.std()
    alpha, _ = ridge_alpha(xtr, (ytr - mu) / sd)
    c, w = fit_mains_ridge(xtr, (ytr - mu) / sd, alpha)
    return lambda xx: mu + sd * (c + (1.0 - 2.0 * xx) @ w)


def _lgbm(xtr: np.ndarray, ytr: np.ndarray) -> Any:
    import lightgbm as lgb

    model = lgb.LGBMRegressor(n_estimators=2000, learning_rate=0.02, num_leaves=8, verbose=-1,
                              n_jobs=1, random_state=0).fit(xtr.astype(np.uint8), ytr)
    return lambda xx: model.predict(xx.astype(np.uint8))


def _fastspex(method: str, xtr: np.ndarray, ytr: np.ndarray) -> tuple[Any, dict[str, Any]]:
    from fastspex import indices
    from fastspex.explainers.auto import Auto
    from fastspex.explainers.factorization_machine import fit_factorization_machine
    from fastspex.explainers.proxyspex import ProxySPEX
    from fastspex.explainers.sparse_polynomial import fit_sparse_polynomial

    n = xtr.shape[1]
    if method in ("proxyspex", "auto"):
        rows = xtr[1:]

        def design(m: int, n_: int, seed: Any = None) -> np.ndarray:
            return rows[:m]

        cls = ProxySPEX if method == "proxyspex" else Auto
        res = cls(len(xtr), design=design, progress=False).fit(_replay(xtr, ytr), n, store=None)  # type: ignore[arg-type]
        extra = {"chosen": f"{res.settings.get('method', 'proxyspex')}: {res.settings.get('refit')}",
                 "cv_r2": res.settings.get("cv_r2")}
        return (lambda xx: indices.evaluate(res.coefficients, xx)), extra
    fit = (fit_sparse_polynomial if method == "lasso" else fit_factorization_machine)(xtr, ytr, seed=0)
    return fit.predict, {}


class _QuietLogger:
    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass


def _shapiq_approximator(n: int, seed: int) -> Any:
    """shapiq's ProxySPEX with its defaults, recording the function it recovers.

    The refined Fourier coefficients (``{subset: c}``, f(x) = Σ_k c_k (-1)^|x ∩ k|, x = 1 for
    a player present) are kept from the argument of its Fourier -> Möbius step, the Möbius
    coefficients from that step's result, and the seconds of the Möbius -> index conversion.
    """
    import lightgbm
    from shapiq.approximator.proxy.proxyspex import ProxySPEX as ShapiqProxySPEX

    lightgbm.register_logger(_QuietLogger())  # its "No further splits" warnings flood stdout

    class Recording(ShapiqProxySPEX):  # type: ignore[misc]
        def fourier_to_moebius(self, four_dict: dict[tuple[int, ...], float]) -> dict[tuple[int, ...], float]:
            self.fourier_ = dict(four_dict)
            self.moebius_ = super().fourier_to_moebius(four_dict)
            return self.moebius_

        def _process_moebius(self, moebius_transform: dict[tuple, float]) -> np.ndarray:
            t0 = time.perf_counter()
            out = super()._process_moebius(moebius_transform)
            self.index_s_ = time.perf_counter() - t0
            return out

    return Recording(n=n, random_state=seed)


def _shapiq_game(fn: Any, n: int) -> Any:
    """A shapiq Game that evaluates ``fn`` live (coalition row 1 = player kept = our mask True)."""
    from shapiq import Game

    class Live(Game):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(n_players=n, normalize=False)
            self.model_s = 0.0
            self.evaluated = 0

        def value_function(self, coalitions: np.ndarray) -> np.ndarray:
            t0 = time.perf_counter()
            arr = np.asarray(coalitions, dtype=bool)
            out = np.concatenate([np.asarray(fn(arr[s:s + 250]), dtype=float) for s in range(0, len(arr), 250)])
            self.model_s += time.perf_counter() - t0
            self.evaluated += len(arr)
            return out

    return Live()


def _fourier_predict(fourier: dict[tuple[int, ...], float], n: int) -> Any:
    keys = list(fourier)
    coef = np.array([fourier[k] for k in keys])
    support = np.zeros((len(keys), n), dtype=np.int32)
    for i, k in enumerate(keys):
        support[i, list(k)] = 1

    def predict(xx: np.ndarray) -> np.ndarray:
        xi = np.asarray(xx, dtype=np.int32)
        return np.concatenate([(1 - 2 * ((xi[s:s + 100] @ support.T) & 1)) @ coef
                               for s in range(0, len(xi), 100)])

    return predict


def _moebius_predict(moebius: dict[tuple[int, ...], float], xx: np.ndarray) -> np.ndarray:
    """f(S) = Σ_{T ⊆ S} m(T), by brute force (the self-check's small n only)."""
    return np.array([sum(v for t, v in moebius.items() if all(row[i] for i in t)) for row in xx])


def _shapiq_selfcheck() -> dict[str, Any]:
    """shapiq's ProxySPEX on f = 1 + 2·x0 + 3·x1·x2 at n = 8: the recovered function must be f.

    Checks the coalition convention (shapiq's 1 = our True; the flipped convention scores far
    below 1 on this asymmetric f), the Fourier reading, the Möbius reading f(S) = Σ_{T⊆S} m(T),
    and (recorded, not required) how far the k-SII shapiq returns is from shapiq's own exact
    k-SII of f: in shapiq 1.6.0 the mains of x1 and x2 come back as -1.5 where the exact k-SII
    (and MoebiusConverter on the same, exact, recovered Möbius coefficients) gives 0, so the
    held-out R² here is read from the recovered function, never from the returned index.
    """
    from fastspex.explainers.result import r_squared
    from shapiq import ExactComputer

    n = 8
    f = lambda xx: 1.0 + 2.0 * xx[:, 0] + 3.0 * (xx[:, 1] & xx[:, 2])  # noqa: E731
    cube = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)
    approx = _shapiq_approximator(n, 0)
    got = approx.approximate(200, _shapiq_game(f, n))
    r2_fourier = r_squared(f(cube), _fourier_predict(approx.fourier_, n)(cube))
    r2_moebius = r_squared(f(cube), _moebius_predict(approx.moebius_, cube))
    r2_flipped = r_squared(f(cube), _fourier_predict(approx.fourier_, n)(~cube))
    exact = ExactComputer(f, n_players=n)("k-SII", 2)  # shapiq's exact index of f
    err_index = max(abs(got[k] - exact[k]) for k in exact.interaction_lookup)
    out = {"function": "1 + 2*x0 + 3*x1*x2, n = 8, budget 200, R² on all 256 masks",
           "r2_fourier": r2_fourier, "r2_moebius": r2_moebius, "r2_if_coalitions_were_flipped": r2_flipped,
           "max_abs_error_of_returned_k_sii_vs_shapiq_exact": err_index}
    print(f"shapiq self-check: {out}", flush=True)
    if min(r2_fourier, r2_moebius) < 0.999:
        msg = f"shapiq's ProxySPEX does not recover the known function: {out}"
        raise RuntimeError(msg)
    return out


def _shapiq_row(fn: Any, n: int, budget: int, xt: np.ndarray, yt: np.ndarray) -> dict[str, Any]:
    """Run shapiq's ProxySPEX live at ``budget``; R² of its recovered function on ``xt``."""
    import shapiq
    from fastspex.explainers.result import r_squared

    game = _shapiq_game(fn, n)
    approx = _shapiq_approximator(n, 0)
    row: dict[str, Any] = {"source": f"shapiq {shapiq.__version__} ProxySPEX, defaults + random_state=0, "
                                     f"live model, {time.strftime('%Y-%m-%d')}"}
    t0 = time.perf_counter()
    try:
        approx.approximate(budget, game)
    except Exception as e:  # noqa: BLE001 - a failure is a result, recorded in the row
        wall = time.perf_counter() - t0
        return {**row, "r2": None, "error": f"{type(e).__name__}: {e}", "algorithm_s": wall - game.model_s,
                "model_s": game.model_s}
    wall = time.perf_counter() - t0
    search = approx.proxy_model
    orders = [len(k) for k in approx.fourier_]
    return {**row, "r2": r_squared(yt, _fourier_predict(approx.fourier_, n)(xt)),
            "algorithm_s": wall - game.model_s, "model_s": game.model_s,
            "algo_over_model": (wall - game.model_s) / game.model_s, "masks_evaluated": game.evaluated,
            "index_s": getattr(approx, "index_s_", None), "fourier_terms": len(orders),
            "fourier_max_order": max(orders, default=0),
            "chosen": f"grid search: {getattr(search, 'best_params_', None)}",
            "cv_r2": getattr(search, "best_score_", None)}


def _merge(path: Any, rows: list[dict[str, Any]], payload: dict[str, Any]) -> dict[str, Any]:
    """The results file at ``path`` with the cells of ``rows`` replaced (all other rows kept)."""
    import sys

    from _common import machine

    old = json.loads(open(path).read())
    cell = lambda r: (r["game"], r["design"], r["budget"], r["method"])  # noqa: E731
    new = {cell(r) for r in rows}
    kept = [r for r in old["rows"] if cell(r) not in new]
    merges = [*old.get("merges", []), {
        "methods": sorted({r["method"] for r in rows}), "cells": len(new), "machine": machine(),
        "command": " ".join(sys.argv), "note": "rows of these cells replaced; the file's 'machine' "
                                               "is that of the run that wrote the other rows"}]
    return {**old, "rows": kept + rows, "games": {**old.get("games", {}), **payload["games"]},
            "merges": merges, **({"shapiq_selfcheck": payload["shapiq_selfcheck"]}
                                 if "shapiq_selfcheck" in payload else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", default="smollm2,minilm")
    parser.add_argument("--designs", default="uniform,bernoulli(keep=0.9)")
    parser.add_argument("--budgets", default="500,1000,2000,4000")
    parser.add_argument("--methods", default="proxyspex,auto,lasso,fm,ridge,lightgbm")
    parser.add_argument("--quick", action="store_true", help="budgets 500,1000 and MiniLM only")
    parser.add_argument("--merge", action="store_true",
                        help="replace the rows of the cells run in the existing results file, keep the rest")
    add_out_argument(parser, "bench_components")
    args = parser.parse_args()
    from fastspex.explainers.result import r_squared

    games = ["minilm"] if args.quick else args.games.split(",")
    budgets = [500, 1000] if args.quick else [int(b) for b in args.budgets.split(",")]
    methods = args.methods.split(",")
    rows: list[dict[str, Any]] = []
    extra_payload: dict[str, Any] = {}
    if "shapiq_proxyspex" in methods:
        extra_payload["shapiq_selfcheck"] = _shapiq_selfcheck()
    live: dict[str, Any] = {}
    for game in games:
        for design in args.designs.split(","):
            data = load_or_compute(game, design, 0, ROWS)
            x, y = data["x"], data["y"]
            per_mask = data["model_seconds"] / len(y)
            xt, yt = x[-HOLDOUT:], y[-HOLDOUT:]
            if "shapiq_proxyspex" in methods and design != "uniform":
                print(f"{game} {design}: shapiq_proxyspex skipped: shapiq's ProxySPEX draws its own "
                      "uniform coalitions, it takes no design", flush=True)
            for budget in budgets:
                xtr, ytr = x[:budget], y[:budget]
                for method in methods:
                    if method == "shapiq_proxyspex":
                        if design != "uniform":
                            continue
                        if game not in live:
                            live[game] = _component_ablation(game)
                        row = {"game": game, "n": x.shape[1], "design": design, "budget": budget,
                               "method": method, **_shapiq_row(live[game], x.shape[1], budget, xt, yt)}
                        rows.append(row)
                        print(f"{game} {design} B={budget} {method}: R² {row['r2']} "
                              f"({row['algorithm_s']:.1f} s; model {row['model_s']:.0f} s) "
                              f"{row.get('error') or row.get('chosen')}", flush=True)
                        continue
                    if method in ("lasso",) and x.shape[1] > 141:
                        continue  # 36k pair candidates: minutes per fit; auto skips it too
                    if method == "fm" and x.shape[1] > 141 and budget > 2000:
                        continue  # minutes per fit at n = 270 on the shared machine
                    if method == "auto" and x.shape[1] > 141:
                        # no lasso candidate above 141 components (auto.LASSO_MAX_PAIRS): auto
                        # runs ProxySPEX itself, so its row is ProxySPEX's
                        same = next(r for r in rows[::-1] if r["method"] == "proxyspex")
                        rows.append({**same, "method": "auto", "chosen": "auto -> " + str(same.get("chosen"))})
                        continue
                    t0 = time.perf_counter()
                    if method == "ridge":
                        predict, extra = _ridge(xtr, ytr), {}
                    elif method == "lightgbm":
                        predict, extra = _lgbm(xtr, ytr), {}
                    else:
                        predict, extra = _fastspex(method, xtr, ytr)
                    seconds = time.perf_counter() - t0
                    row = {"game": game, "n": x.shape[1], "design": design, "budget": budget,
                           "method": method, "r2": r_squared(yt, predict(xt)),
                           "algorithm_s": seconds, "model_s": per_mask * budget,
                           "algo_over_model": seconds / (per_mask * budget), **extra}
                    rows.append(row)
                    print(f"{game} {design} B={budget} {method}: R² {row['r2']:.3f} "
                          f"({seconds:.1f} s; model {per_mask * budget:.0f} s) {extra}", flush=True)
    columns = ["game", "design", "budget", "method", "r2", "algorithm_s", "model_s", "algo_over_model",
               "chosen", "error"]
    print_table(rows, columns, "Held-out R² (1,000 masks of the same design)")
    payload = {"rows": rows, "holdout": HOLDOUT, "games": {g: GAMES[g] for g in games},
               "note": "machine shared with other engineers' jobs; timings are wall time under that load",
               **extra_payload}
    path = out_path("bench_components", args)
    if args.merge and path.exists():
        payload = _merge(path, rows, payload)
        run = {(r["game"], r["design"]) for r in rows}
        order = {m: i for i, m in enumerate(["proxyspex", "shapiq_proxyspex", "auto", "lasso", "fm", "ridge",
                                             "lightgbm"])}
        both = sorted((r for r in payload["rows"] if (r["game"], r["design"]) in run),
                      key=lambda r: (games.index(r["game"]) if r["game"] in games else 99, r["design"],
                                     r["budget"], order.get(r["method"], 99)))
        print_table(both, columns, "Merged: every method's rows of the games and designs run")
    path = write_json("bench_components", payload, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
