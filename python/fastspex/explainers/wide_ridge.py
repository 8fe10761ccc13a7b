"""Ridge on every main effect of a wide component set, for the screened explainer's baseline.

When many components each move the output a little (MLP neurons of a real model), keeping the
best-screened few hundred loses the rest; a ridge fit of all ``n`` main effects keeps them. It is
solved in its dual form: the ``m × m`` Gram matrix of the features ``u = 1 + beta·x`` (``beta =
−1``: the ablation indicators, sparse under a local design; ``−2``: the Walsh signs of the
uniform design), so memory is ``O(m²)`` plus the sparse features, never ``O(m·n)`` floats: the
uniform design's signs are kept as the masks' bytes and expanded a column block at a time. The penalty is chosen by exact leave-one-out error (one eigendecomposition), and
:func:`fold_errors` scores the fit by K-fold cross-validation at that penalty (one linear solve
per fold), so it competes with the screened fit on the same folds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..coefficients import Coefficients
from ..masks import PackedMasks

__all__ = ["MAX_DENSE_CELLS", "fold_errors", "gram", "predict_fold", "ridge_main_effects", "spectrum"]

#: The uniform design's Walsh features are dense: above this many mask cells the baseline is
#: not fitted (its Gram product would cost more than the rest of the fit).
MAX_DENSE_CELLS = 50_000_000
_ROWS = 256  # mask rows unpacked at a time
_COLS = 512  # dense feature columns expanded at a time
_ALPHAS = np.logspace(-4, 4, 33)  # relative to the mean eigenvalue of the centred Gram


class _DenseFeatures:
    """The dense features ``u = 1 + beta·x`` held as the masks' bits (one byte a cell, not eight
    for a float), expanded a column block at a time: peak memory ``O(m · _COLS)``."""

    def __init__(self, x: np.ndarray, beta: float) -> None:
        self.x, self.beta = x, beta

    def blocks(self) -> Iterator[tuple[slice, np.ndarray]]:
        for s in range(0, self.x.shape[1], _COLS):
            cols = slice(s, s + _COLS)
            yield cols, 1.0 + self.beta * self.x[:, cols].astype(np.float64)


def gram(masks: PackedMasks, beta: float) -> tuple[np.ndarray, Any]:
    """The Gram matrix ``U Uᵀ`` of the features ``u = 1 + beta·x`` and ``U`` itself (a sparse
    CSR matrix for ``beta = −1``, else the masks' bits expanded on use); raises ``ValueError``
    for dense features above :data:`MAX_DENSE_CELLS`."""
    m, n = masks.shape
    if beta == -1.0:
        from scipy import sparse  # type: ignore[import-untyped]

        blocks = [sparse.csr_matrix(~masks[s:s + _ROWS].to_bool(), dtype=np.float64)
                  for s in range(0, m, _ROWS)]
        u = sparse.vstack(blocks, format="csr")
        return np.asarray((u @ u.T).todense()), u
    if m * n > MAX_DENSE_CELLS:
        msg = f"{m:,} × {n:,} dense features (more than {MAX_DENSE_CELLS:,} cells)"
        raise ValueError(msg)
    features = _DenseFeatures(masks.to_bool(), beta)
    k = np.zeros((m, m))
    for _, block in features.blocks():
        k += block @ block.T
    return k, features


def _transpose_dot(u: Any, v: np.ndarray) -> np.ndarray:
    """``Uᵀ v`` for the features :func:`gram` returned."""
    if not isinstance(u, _DenseFeatures):
        return np.asarray(u.T @ v).ravel()
    out = np.empty(u.x.shape[1])
    for cols, block in u.blocks():
        out[cols] = block.T @ v
    return out


def _column_means(u: Any) -> np.ndarray:
    """The mean of every feature over the masks."""
    if not isinstance(u, _DenseFeatures):
        return np.asarray(u.mean(axis=0)).ravel()
    out = np.empty(u.x.shape[1])
    for cols, block in u.blocks():
        out[cols] = block.mean(axis=0)
    return out


def _centred(k: np.ndarray) -> np.ndarray:
    """``H K H`` with ``H = I − 11ᵀ/m`` (the intercept left unpenalised)."""
    return k - k.mean(0)[None, :] - k.mean(1)[:, None] + k.mean()


def spectrum(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (clipped at 0) and eigenvectors of the centred Gram ``H K H``: one
    decomposition serves the leave-one-out fit of every target on the same masks."""
    lam, vec = np.linalg.eigh(_centred(k))
    return np.maximum(lam, 0.0), vec


def _loo_fit(eig: tuple[np.ndarray, np.ndarray], y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """The penalty with the least exact leave-one-out error, that error (mean square) and the
    dual coefficients at that penalty, from the centred Gram's :func:`spectrum`."""
    lam, vec = eig
    yc = y - y.mean()
    vy = vec.T @ yc
    scale = float(lam.mean()) or 1.0
    best = (np.inf, float(_ALPHAS[-1] * scale))
    m = len(y)
    for a in _ALPHAS * scale:
        shrink = lam / (lam + a)
        fitted = vec @ (shrink * vy)
        hat = (vec * vec) @ shrink + 1.0 / m
        err = float(np.mean(((yc - fitted) / np.maximum(1.0 - hat, 1e-9)) ** 2))
        if err < best[0]:
            best = (err, float(a))
    err, alpha = best
    return alpha, err, vec @ (vy / (lam + alpha))


def predict_fold(k: np.ndarray, train: np.ndarray, new: np.ndarray, y_train: np.ndarray,
                 alpha: float) -> np.ndarray:
    """Predictions for the masks ``new`` of the ridge fitted on the masks ``train`` (index
    arrays into the Gram ``k``) with targets ``y_train``, features centred on the training rows."""
    k_train, k_cross = k[np.ix_(train, train)], k[np.ix_(new, train)]
    col = k_train.mean(0)
    kc = _centred(k_train)
    xc = k_cross - k_cross.mean(1)[:, None] - col[None, :] + k_train.mean()
    dual = np.linalg.solve(kc + alpha * np.eye(len(kc)), y_train - y_train.mean())
    return y_train.mean() + xc @ dual


def fold_errors(k: np.ndarray, y: np.ndarray, fold_of: np.ndarray, folds: int,
                alpha: float) -> np.ndarray:
    """Squared error of every mask predicted by the ridge fitted on the other folds."""
    err = np.zeros(len(y))
    for f in range(folds):
        tr, va = np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)
        if len(va) and len(tr) >= 2:
            err[va] = (y[va] - predict_fold(k, tr, va, y[tr], alpha)) ** 2
    return err


def ridge_main_effects(masks: PackedMasks, y: np.ndarray, beta: float, *,
                       k: np.ndarray | None = None, u: Any = None,
                       eig: tuple[np.ndarray, np.ndarray] | None = None,
                       ) -> tuple[Coefficients, dict[str, Any]]:
    """Every main effect by ridge (penalty by exact LOO) as a Möbius expansion over all ``n``
    components; ``k``/``u`` reuse a :func:`gram` already computed, ``eig`` its
    :func:`spectrum`. Diagnostics: the penalty and the leave-one-out R²."""
    y = np.asarray(y, dtype=np.float64)
    n = masks.shape[1]
    if k is None or u is None:
        k, u = gram(masks, beta)
    alpha, loo, dual = _loo_fit(spectrum(k) if eig is None else eig, y)
    # w = (U − ū)ᵀ dual = Uᵀ dual when the dual sums to zero, as it does in the centred space
    # (the mean is removed only to drop rounding)
    dual = dual - dual.mean()
    w = _transpose_dot(u, dual)
    u_mean = _column_means(u)
    intercept = float(y.mean() - u_mean @ w)
    # f ≈ c + Σ w_i (1 + beta·x_i) = (c + Σ w_i) + Σ beta·w_i·x_i
    terms: dict[tuple[int, ...], float] = {(): intercept + float(w.sum())}
    terms.update({(i,): float(beta * v) for i, v in enumerate(w.tolist()) if v != 0.0})
    var = float(np.var(y))
    return Coefficients.from_dict(terms, n=n, basis="mobius"), {
        "alpha": alpha, "loo_r2": 1.0 - loo / var if var > 0 else None}
