"""The additive baseline and the trees on its residual: ProxySPEX's candidates for wide, noisy
targets (e.g. the attention heads of a language model).

Boosted trees need many trees to represent hundreds of additive effects, and a top-K Fourier
refit of them then loses what the booster had. Here a ridge fit of the main effects takes the
additive part and the trees fit only what it leaves; both are cross-validated on the same folds,
so the scores compare with each other (and with the proxy's own CV error): a candidate made of
the main effects alone is always among them, which keeps the explanation from falling below an
additive ridge fit. The result is an exact Fourier expansion: the ridge's singletons plus the
averaged fold ensembles' expansion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..coefficients import Coefficients
from . import trees
from ._parallel import TaskPool

__all__ = ["RESIDUAL_GRID", "ResidualFit", "fit_mains_ridge", "ridge_alpha", "start_residual_trees"]

#: Tree settings tried on the residual (the number of rounds comes from early stopping on the
#: validation folds). Shallow trees with column subsampling: the residual of a good additive fit
#: is mostly noise plus a few interactions, which deep, greedy trees overfit.
RESIDUAL_GRID: tuple[dict[str, Any], ...] = (
    {"max_depth": 2, "num_leaves": 4, "learning_rate": 0.1},
    {"max_depth": 3, "num_leaves": 8, "learning_rate": 0.1, "feature_fraction": 0.5},
)


@dataclass
class ResidualFit:
    """One cross-validated candidate: its expansion (on the standardised outputs), CV R² and
    what was chosen."""

    coefficients: Coefficients
    cv_r2: float
    info: dict[str, Any]


def _signs(x: np.ndarray) -> np.ndarray:
    """The ±1 features ``(-1)^{x_i}`` of the masks (the Fourier basis's singletons)."""
    return 1.0 - 2.0 * x.astype(np.float64)


def ridge_alpha(x: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """The ridge penalty of the main effects with the lowest exact leave-one-out error, and that
    error's R² (intercept unpenalised)."""
    a = _signs(x)
    a -= a.mean(0)
    b = z - z.mean()
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    uty = u.T @ b
    s2 = s * s
    m = len(z)
    best = (np.inf, 1.0)
    for alpha in np.logspace(-3, 3, 25) * max(1.0, m / 100):
        shrink = s2 / (s2 + alpha)
        h = (u * u) @ shrink + 1.0 / m
        err = float(np.mean(((b - u @ (shrink * uty)) / np.maximum(1.0 - h, 1e-9)) ** 2))
        if err < best[0]:
            best = (err, float(alpha))
    var = float(np.var(z))
    return best[1], 1.0 - best[0] / var if var > 0 else float("nan")


def fit_mains_ridge(x: np.ndarray, z: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """Intercept and Fourier main effects of ridge on the ±1 features (intercept unpenalised)."""
    a = _signs(x)
    mu = a.mean(0)
    ac = a - mu
    w = np.linalg.solve(ac.T @ ac + alpha * np.eye(a.shape[1]), ac.T @ (z - z.mean()))
    return float(z.mean() - mu @ w), w


def _mains_coefficients(n: int, intercept: float, w: np.ndarray) -> Coefficients:
    indptr = np.concatenate([[0, 0], np.arange(1, n + 1)]).astype(np.int64)
    return Coefficients(n, indptr, np.arange(n, dtype=np.int32),
                        np.concatenate([[intercept], w]), "fourier")


def _add_mains(part: Coefficients, mains: Coefficients) -> Coefficients:
    """The expansion of ``part`` plus an intercept-and-singletons expansion ``mains``."""
    n = part.n
    sizes = np.diff(part.indptr)
    extra = np.zeros(n + 1)  # [empty set, singleton 0, ..., singleton n-1]
    extra[0] = mains.values[0]
    extra[1 + mains.indices[mains.indptr[1:-1]]] = mains.values[1:]
    values = part.values.copy()
    empty = np.flatnonzero(sizes == 0)
    single = np.flatnonzero(sizes == 1)
    present = np.zeros(n + 1, bool)
    if len(empty):
        values[empty[0]] += extra[0]
        present[0] = True
    comp = part.indices[part.indptr[single]]
    values[single] += extra[1 + comp]
    present[1 + comp] = True
    missing = np.flatnonzero(~present & (extra != 0))
    if not len(missing):
        return Coefficients(n, part.indptr, part.indices, values, "fourier")
    add_sizes = (missing > 0).astype(np.int64)
    indptr = np.concatenate([part.indptr, part.indptr[-1] + np.cumsum(add_sizes)])
    idx = np.concatenate([part.indices, (missing[missing > 0] - 1).astype(np.int32)])
    return Coefficients(n, indptr, idx, np.concatenate([values, extra[missing]]), "fourier")


def start_residual_trees(
    x: np.ndarray, z: np.ndarray, *, folds: int, seed: int, base: dict[str, Any], pool: TaskPool,
    grid: tuple[dict[str, Any], ...] = RESIDUAL_GRID, max_rounds: int = 2000,
    early_stopping: int = 25, fold_of: np.ndarray | None = None, priority: int = 0,
) -> Callable[[], list[ResidualFit]]:
    """The main-effects ridge alone and, per grid point, ridge plus trees on its residual.

    One fold split serves every candidate; each fold's ridge is fit on the training part, the
    trees on its residual with early stopping on the validation part; the rounds minimise the
    mean validation curve. The expansion is the average of the fold models (no refit on all
    masks), exactly: its singletons from the ridges, the rest from the trees. The boosters train
    on ``pool`` (one call per grid point and fold, at ``priority``); returns the call that waits
    for them and gives the fits.
    """
    import lightgbm as lgb

    m, n = x.shape
    alpha, _ = ridge_alpha(x, z)
    fold = np.random.default_rng(seed).permutation(m) % folds if fold_of is None else fold_of
    xb = x.view(np.uint8) if x.dtype == np.bool_ else x.astype(np.uint8)
    var = float(np.var(z))
    ridge_sse = 0.0
    intercepts, weights, residuals = [], [], []
    for k in range(folds):
        tr, va = fold != k, fold == k
        c, w = fit_mains_ridge(x[tr], z[tr], alpha)
        intercepts.append(c)
        weights.append(w)
        pred = c + _signs(x) @ w
        ridge_sse += float(np.sum((z[va] - pred[va]) ** 2))
        residuals.append(z - pred)
    mains = _mains_coefficients(n, float(np.mean(intercepts)), np.mean(weights, axis=0))
    ridge_only = ResidualFit(mains, 1.0 - ridge_sse / m / var if var > 0 else float("nan"),
                             {"candidate": "mains_ridge", "alpha": alpha})
    data_params = {"max_bin": 2, "verbosity": -1, "feature_pre_filter": False}
    sizes = np.array([np.sum(fold == k) for k in range(folds)], dtype=np.float64)

    def train(params: dict[str, Any], k: int) -> tuple[np.ndarray, str]:
        """Fold ``k``'s validation curve and booster (as model text: a booster holds its binned
        fold data) trained on its residual."""
        tr, va = fold != k, fold == k
        record: dict[str, Any] = {}
        booster = lgb.train(
            params, lgb.Dataset(xb[tr], residuals[k][tr], params=data_params), max_rounds,
            valid_sets=[lgb.Dataset(xb[va], residuals[k][va], params=data_params)],
            callbacks=[lgb.record_evaluation(record), lgb.early_stopping(early_stopping, verbose=False)],
        )
        return np.asarray(record["valid_0"]["l2"]), booster.model_to_string(num_iteration=-1)  # every round

    # one thread per booster: OpenMP teams spin-wait at every barrier, ruinous on a busy machine
    started = [(point, [pool.submit(train, trees.histogram_layout({**base, **point, "num_threads": 1}, n),
                                    k, priority=priority) for k in range(folds)])
               for point in grid]

    def finish() -> list[ResidualFit]:
        out = [ridge_only]
        for point, futures in started:
            curves, models = zip(*(f.result() for f in futures))
            length = min(len(c) for c in curves)
            # mean validation MSE per round, weighted by fold size
            mean_curve = np.average(np.stack([c[:length] for c in curves]), axis=0, weights=sizes)
            rounds = int(np.argmin(mean_curve)) + 1
            ensemble = trees.concat([trees.tree_arrays(lgb.Booster(model_str=text), n=n, num_iteration=rounds)
                                     for text in models])
            tree_part = trees.booster_fourier(ensemble.scaled(1.0 / folds), n_threads=1)
            out.append(ResidualFit(
                _add_mains(tree_part, mains),
                1.0 - float(mean_curve[rounds - 1]) / var if var > 0 else float("nan"),
                {"candidate": "mains_ridge+residual_trees", "alpha": alpha, **point, "rounds": rounds,
                 "trees": ensemble.num_trees, "terms": len(tree_part)},
            ))
        return out

    return finish
