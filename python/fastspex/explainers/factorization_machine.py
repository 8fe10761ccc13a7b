"""Factorization-machine proxy on ablation masks (``x ∈ {0,1}ⁿ``, 1 = kept).

:func:`fit_factorization_machine` fits ``f(x) ≈ w₀ + Σ wᵢxᵢ + Σ_{i<j} ⟨vᵢ, vⱼ⟩ xᵢxⱼ`` with
embeddings ``V ∈ ℝ^{n×r}`` by alternating least squares with L2 penalties chosen on held-out
masks. ``fastspex.pairs.top_pairs(result)`` scores all pairs. Takes packed masks or ``(m, n)``
bool/0-1 arrays, is deterministic for a seed, and runs in the C++ core with the GIL released.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .. import _core, errors
from .._validate import as_int, as_seed, as_threads
from ..coefficients import Coefficients
from ..masks import MaskLike, PackedMasks, as_packed
from ..pairs import PairScores, RankBy, top_pairs
from ._proxy_inputs import ProxyExplainer, _coefficients, _masks_and_targets, _standardize

__all__ = ["MAX_FM_PAIRS", "FactorizationMachine", "FactorizationMachineResult", "factorization_machine_memory", "fit_factorization_machine"]

MAX_FM_COEFFICIENT_N = 4096
#: Most factorization-machine pairs copied into the sparse expansion (the FM itself keeps all).
MAX_FM_PAIRS = 20000
FM_L2_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # per standardised sample; the first is the floor
# The factorization machine's defaults, set in C++ (fm.hpp).
_FM_DEFAULTS = _core.FmOptions()
FM_WAY_OUT = 'use fewer components (group them) or a smaller rank, or method="spex"'


def factorization_machine_memory(n: int, m: int, *, rank: int = 8, kept: int | None = None) -> int:
    """Peak bytes :func:`fit_factorization_machine` allocates for ``m`` masks of ``n`` components.

    The core's allocations: the sample index of each component's kept masks (``kept`` 4-byte
    ids, default all ``m·n``, plus two ``n+1`` offset arrays), residuals and per-sample factor
    sums (``8m(1 + rank)``), the parameters and their best-epoch copy (``2·8n(1 + rank)``), and
    the training/held-out copies of the packed masks made for the penalty search.
    """
    n, m, rank = as_int(n, "n", minimum=1), as_int(m, "m", minimum=1), as_int(rank, "rank", minimum=1)
    kept = m * n if kept is None else int(kept)
    words_n = (n + 63) // 64
    return int(16 * (n + 1) + 4 * kept + 8 * m * (1 + rank) + 16 * n * (1 + rank) + 8 * m * words_n)


@dataclass(frozen=True)
class FactorizationMachineResult:
    """A fitted factorization machine ``w0 + Σ wᵢxᵢ + Σ_{i<j} ⟨V[i], V[j]⟩ xᵢxⱼ``."""

    w0: float
    w: np.ndarray  # (n,)
    V: np.ndarray  # (n, rank)
    n: int
    rank: int
    train_loss: np.ndarray
    val_loss: np.ndarray
    best_epoch: int
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def predict(self, masks: MaskLike, *, n_threads: int | None = None) -> np.ndarray:
        """The proxy's value on each mask."""
        packed = as_packed(masks, self.n)
        return _core.fm_predict(packed.words, self.n, float(self.w0), self.w, self.V, as_threads(n_threads))

    def top_pairs(self, k: int = 10, *, index: str = "mobius", by: RankBy = "magnitude") -> PairScores:
        """The ``k`` best pairs ``⟨vᵢ, vⱼ⟩`` (all pairs scored, O(n·r + k) memory)."""
        return top_pairs(self, k, index=index, by=by)  # type: ignore[arg-type]  # top_pairs takes an FM result by duck type

    def to_coefficients(self, *, tol: float = 0.0) -> Coefficients:
        """The exact Möbius expansion (intercept, n mains, n(n-1)/2 pairs); n ≤ 4096.

        Terms with ``|value| <= tol`` are dropped (the intercept is always kept).
        """
        n = self.n
        if n > MAX_FM_COEFFICIENT_N:
            msg = (f"to_coefficients lists all n(n-1)/2 pairs; n = {n} exceeds "
                   f"{MAX_FM_COEFFICIENT_N} (use fastspex.pairs.top_pairs instead)")
            raise ValueError(msg)
        i, j = np.triu_indices(n, 1)
        pv = np.einsum("pr,pr->p", self.V[i], self.V[j])
        ta = np.concatenate([np.arange(n), i]).astype(np.int32)
        tb = np.concatenate([np.full(n, -1), j]).astype(np.int32)
        values = np.concatenate([self.w, pv])
        keep = np.abs(values) > tol
        coefs = _coefficients(n, float(self.w0), ta[keep], tb[keep], values[keep])
        return coefs


def fit_factorization_machine(
    masks: MaskLike,
    y: object,
    *,
    rank: int = _FM_DEFAULTS.rank,
    l2: float | Iterable[float] | Literal["auto"] | None = "auto",
    l2_linear: float | None = None,
    max_epochs: int = _FM_DEFAULTS.max_epochs,
    patience: int = _FM_DEFAULTS.patience,
    validation_fraction: float = 0.2,
    init_std: float = _FM_DEFAULTS.init_std,
    tol: float = _FM_DEFAULTS.tol,
    seed: int | None = 0,
    n_threads: int | None = None,
) -> FactorizationMachineResult:
    """Fit a factorization-machine proxy by alternating least squares.

    The outputs are first standardised, ``z = (y − centre) / spread``, so the penalties and
    tolerances do not depend on the units or the offset of ``y``; everything returned is in the
    units of ``y`` again. On ``z`` the fit minimises ``(1/m)Σ eₛ² + l2_linear‖w‖² + l2‖V‖²``
    coordinate by coordinate (each update an exact one-dimensional least-squares step).

    The penalty: with ``l2="auto"`` (or None; or a sequence of candidate values) a seeded
    ``validation_fraction`` of the masks is held out, the FM is trained to convergence on the
    rest for each value of the grid (default ``FM_L2_GRID``, 1e-6 … 0.1, never 0), the value
    with the lowest held-out MSE is chosen, and the FM is refit on *all* masks with it; training
    then stops once ``patience`` epochs bring no relative improvement of ``tol`` in the training
    loss. ``settings`` records ``l2`` (the chosen value), ``l2_grid`` and ``l2_scores`` (held-out
    MSE per value, units of y²). A number for ``l2`` disables the search: the held-out masks
    then stop training early (after ``patience`` epochs without improving the held-out MSE, the
    best epoch is returned; ``best_epoch = -1``: the starting point was never beaten), or with
    ``validation_fraction=0`` the training loss does. ``l2_linear`` (default: the same as
    ``l2``) penalises the main effects. Embeddings start as Gaussians of standard deviation
    ``init_std / sqrt(k̄)`` (``k̄`` the mean number of kept components).
    """
    t0 = time.perf_counter()
    packed, targets = _masks_and_targets(masks, y, "fit_factorization_machine")
    rank = as_int(rank, "rank")
    if rank < 1:
        msg = f"rank must be >= 1 (r = {rank} has no pair term), got {rank}"
        raise ValueError(msg)
    if l2 is None or (isinstance(l2, str) and l2 == "auto"):
        grid: tuple[float, ...] | None = FM_L2_GRID
    elif isinstance(l2, str):
        msg = f"l2 must be a number, a sequence of numbers or 'auto', got {l2!r}"
        raise ValueError(msg)
    elif isinstance(l2, Iterable):
        grid = tuple(float(v) for v in l2)
        if not grid or not all(np.isfinite(v) and v > 0 for v in grid):
            msg = f"an l2 grid must be a non-empty sequence of finite values > 0, got {l2!r}"
            raise ValueError(msg)
    else:
        grid = None
        l2 = float(l2)
        if not (l2 >= 0 and np.isfinite(l2)):
            msg = f"l2 penalties must be finite and >= 0, got l2={l2}"
            raise ValueError(msg)
    if l2_linear is not None:
        l2_linear = float(l2_linear)
        if not (l2_linear >= 0 and np.isfinite(l2_linear)):
            msg = f"l2 penalties must be finite and >= 0, got l2_linear={l2_linear}"
            raise ValueError(msg)
    validation_fraction = float(validation_fraction)
    if not 0.0 <= validation_fraction < 1.0:
        msg = f"validation_fraction must lie in [0, 1), got {validation_fraction}"
        raise ValueError(msg)
    if grid is not None and validation_fraction == 0:
        msg = "l2='auto' chooses the penalty on held-out masks: give validation_fraction > 0 or a number for l2"
        raise ValueError(msg)
    init_std = float(init_std)
    if not (init_std >= 0 and np.isfinite(init_std)):
        msg = f"init_std must be finite and >= 0, got {init_std}"
        raise ValueError(msg)
    max_epochs = as_int(max_epochs, "max_epochs", minimum=1)
    patience = as_int(patience, "patience", minimum=1)
    m, n = len(packed), packed.n
    seed_value = as_seed(seed)
    is_val = np.zeros(m, np.uint8)
    n_val = round(validation_fraction * m)
    if validation_fraction > 0 and (n_val < 1 or m - n_val < 2):
        msg = f"validation_fraction={validation_fraction} leaves no usable split of {m} masks"
        raise ValueError(msg)
    if n_val:
        is_val[np.random.default_rng(seed_value).permutation(m)[:n_val]] = 1
    popcount = packed.popcount()
    errors.check_memory(factorization_machine_memory(n, m, rank=rank, kept=int(popcount.sum())),
                        "fit_factorization_machine", FM_WAY_OUT)
    z, centre, spread = _standardize(targets, "fit_factorization_machine")
    # Scale the starting embeddings so the initial pair term has spread ~init_std whatever the
    # number of kept components (a mask keeping k of them sums k(k-1)/2 random products).
    start = init_std / np.sqrt(max(1.0, float(popcount.mean())))
    threads = as_threads(n_threads)

    def run(p: PackedMasks, t: np.ndarray, val: np.ndarray, pen: float) -> dict[str, Any]:
        lin = pen if l2_linear is None else l2_linear
        return _core.fm_fit(p.words, n, t, val, rank, lin, pen, start, max_epochs, patience,
                            float(tol), seed_value, threads)

    scores: list[float] = []
    if grid is None:
        chosen = float(l2)  # type: ignore[arg-type]  # a number here: the other cases set a grid
        d = run(packed, z, is_val, chosen)
    else:
        tr, va = np.flatnonzero(is_val == 0), np.flatnonzero(is_val)
        p_tr, p_va = packed[tr], packed[va]
        z_tr = np.ascontiguousarray(z[tr])
        for pen in grid:
            f = run(p_tr, z_tr, np.zeros(len(tr), np.uint8), pen)
            pred = _core.fm_predict(p_va.words, n, float(f["w0"]), f["w"], f["V"], threads)
            scores.append(float(np.mean((pred - z[va]) ** 2)) * spread**2)
        best = min(scores)
        # the largest penalty reaching the best score (ties go to the smoother fit)
        chosen = max(pen for pen, sc in zip(grid, scores) if sc == best)
        d = run(packed, z, np.zeros(m, np.uint8), chosen)
    # Back to the units of y: w scales with the spread, V with its square root (pairs are
    # products of two embeddings), losses with its square; the centre goes on w0.
    settings = {
        "rank": rank, "l2": chosen, "l2_search": None if grid is None else "validation",
        "l2_grid": None if grid is None else list(grid), "l2_scores": scores or None,
        "l2_linear": chosen if l2_linear is None else l2_linear, "max_epochs": max_epochs,
        "patience": patience, "validation_fraction": validation_fraction,
        "init_std": init_std, "tol": float(tol), "seed": seed,
        "y_centre": centre, "y_spread": spread,
    }
    return FactorizationMachineResult(
        w0=centre + spread * float(d["w0"]), w=d["w"] * spread, V=d["V"] * np.sqrt(spread),
        n=n, rank=rank, train_loss=d["train_loss"] * spread**2,
        val_loss=d["val_loss"] * spread**2, best_epoch=int(d["best_epoch"]),
        settings=settings, timings={"algorithm": time.perf_counter() - t0},
    )


class FactorizationMachine(ProxyExplainer):
    """Explainer: a factorization machine (rank-``r`` pairs, penalty chosen on held-out masks)
    fitted to ``budget − 1`` uniform masks and the all-kept mask; its expansion keeps the
    intercept, every main effect and the ``MAX_FM_PAIRS`` strongest pairs (all pairs are scored,
    in O(n·r + k) memory). ``options`` go to :func:`fit_factorization_machine`."""

    method = "fm"

    def _fit_function(self) -> Any:
        return fit_factorization_machine

    def _expansion(self, fit: Any) -> tuple[Coefficients, dict[str, Any]]:
        n = fit.n
        total = n * (n - 1) // 2
        k = min(total, MAX_FM_PAIRS)
        ta, tb, values = np.arange(n, dtype=np.int32), np.full(n, -1, np.int32), np.asarray(fit.w, np.float64)
        if k:
            top = top_pairs(fit, k, index="mobius")
            ta = np.concatenate([ta, np.asarray(top.i, np.int32)])
            tb = np.concatenate([tb, np.asarray(top.j, np.int32)])
            values = np.concatenate([values, np.asarray(top.score, np.float64)])
        return _coefficients(n, float(fit.w0), ta, tb, values), {"fm_pairs_truncated": k < total}
