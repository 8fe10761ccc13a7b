"""SPEX: sparse, low-degree Fourier recovery from coded ablation masks.

Kang, Butler et al., "SPEX: Scaling Feature Interaction Explanations for LLMs" (ICML 2025).
The model is queried on ``C · 2ᵇ · P`` structured masks: ``C`` groups, each hashing the
components with a random ``b × n`` matrix, and ``P = 1 + r`` delays given by a
``t``-error-correcting BCH code with ``r`` parity bits. A Walsh–Hadamard transform of each block
spreads the Fourier coefficients over ``2ᵇ`` bins per group; a bin holding one coefficient
reveals its support (up to ``t`` components) by BCH decoding of the signs across delays;
peeling subtracts each found coefficient from its bin in every group, which frees further bins;
a least-squares refit on the found support gives the final values. All numeric work runs in the
C++ core with the GIL released.

Masks are complemented (every delay XOR all-ones), so the first design mask keeps every
component: the baseline comes for free.

Noise. Detection accepts a bin as a singleton only if the decoded support hashes to that bin in
its group (``b`` extra parity checks) and explains at least ``1 - residual_ratio`` of the bin's
energy; unreliable sign bits are handled by Chase decoding (flipping the least reliable bits).
With per-call noise of standard deviation σ, a coefficient ``F`` is found reliably while
``F² ≳ σ²/2ᵇ / residual_ratio``: noise averages down by the ``2ᵇ`` masks of a block, so more
bits make SPEX more robust. Smaller coefficients stay undetected (they are not invented), and
the refit drops terms within ``prune_z`` standard errors of zero. Passing the noise level
(``noise=σ``) adds energy thresholds that skip bins holding only noise.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core, indices
from .._validate import as_int, as_seed, as_threads
from ..coefficients import Coefficients
from ..evaluation.evaluator import Evaluator, ValueFunction, as_evaluator
from ..masks import PackedMasks, bernoulli, gf2_subsample
from ..progress import stage
from .result import Explanation, measure_faithfulness

__all__ = ["SPEX", "SPEXPlan", "SPEXResult", "plan", "run"]

DEFAULT_GROUPS = 3
MAX_AUTO_GROUPS = 6
DEFAULT_B = 8
MIN_BUDGET_B = 2
MAX_B = _core.SPEX_MAX_B
# Packed design masks generated and evaluated at a time (bytes), so n = 10⁵ stays in memory.
CHUNK_BYTES = 64 << 20
_DEFAULTS = _core.SpexOptions()  # the recovery options' defaults, set in C++ (spex.hpp)


@dataclass(frozen=True)
class SPEXPlan:
    """The sampling parameters SPEX chose: ``calls = groups · 2ᵇ · delays``."""

    n: int
    max_order: int
    t: int
    groups: int
    b: int
    delays: int
    bch_m: int
    calls: int
    #: the degree bound asked for, when a small budget lowered it (``max_order`` is the one used)
    requested_order: int | None = None

    @property
    def notes(self) -> list[str]:
        """What :func:`plan` changed from what was asked, in words."""
        if self.requested_order is None:
            return []
        return [f"max_order lowered from {self.requested_order} to {self.max_order} (t = "
                f"{self.t}) to fit the budget: degree {self.requested_order} needs more model "
                f"calls than given; the design uses {self.calls}. Raise the budget to recover "
                "higher-order terms"]


def _code(n: int, t: int) -> dict[str, Any]:
    try:
        return _core.bch_info(n, t)
    except ValueError as err:
        msg = f"SPEX cannot handle n = {n} with t = {t}: {err}"
        raise ValueError(msg) from err


def plan(
    n: int,
    budget: int | None = None,
    *,
    sparsity: int | None = None,
    max_order: int = _DEFAULTS.max_order,
    t: int | None = None,
    groups: int | None = None,
    b: int | None = None,
    adapt_order: bool = False,
) -> SPEXPlan:
    """Choose groups ``C``, bits ``b`` and the BCH code (delays) for ``n`` components.

    With ``adapt_order`` (and no ``t`` given), a budget too small for ``max_order`` lowers the
    degree bound until the design fits (``requested_order`` and ``notes`` say so) instead of
    refusing.

    ``max_order`` is clamped to ``n``. ``t`` (default ``max_order``) is the code's
    error-correcting capability: supports of up to
    ``max_order`` components are decoded, and ``t - |support|`` flipped signs are corrected.
    ``b`` is, in order of precedence: given; the largest that fits ``budget`` with 3 groups
    (leftover budget then buys up to 6 groups); enough bins for ``sparsity`` coefficients at
    load ≤ 1/2; or 8.
    """
    n = as_int(n, "n", minimum=1)
    if adapt_order and t is None and b is None and budget is not None:
        asked = min(as_int(max_order, "max_order", minimum=1), n)
        for order in range(asked, 0, -1):
            try:
                found = plan(n, budget, sparsity=sparsity, max_order=order, groups=groups)
            except ValueError:
                if order == 1:
                    raise
                continue
            if order == asked:
                return found
            return SPEXPlan(found.n, found.max_order, found.t, found.groups, found.b,
                            found.delays, found.bch_m, found.calls, requested_order=asked)
    # No support has more than n members: a larger degree bound (the default 5 at n <= 4)
    # means "no bound" and is clamped to n rather than refused.
    max_order = min(as_int(max_order, "max_order", minimum=1), n)
    t = max_order if t is None else as_int(t, "t", minimum=1)
    if t < max_order:
        msg = f"t (the code's error correction, {t}) must be >= max_order ({max_order})"
        raise ValueError(msg)
    info = _code(n, t)
    delays = int(info["redundancy"]) + 1
    b_cap = min(n, MAX_B)
    if groups is not None:
        groups = as_int(groups, "groups", minimum=1)
    base_groups = groups if groups is not None else DEFAULT_GROUPS
    if budget is not None:
        budget = as_int(budget, "budget", minimum=1)
    if b is not None:
        b = as_int(b, "b", minimum=1)
        if b > b_cap:
            msg = f"b must be <= min(n, {MAX_B}) = {b_cap}, got {b}"
            raise ValueError(msg)
    elif budget is not None:
        per_bin = base_groups * delays
        b = (budget // per_bin).bit_length() - 1 if budget >= per_bin else 0  # floor(log2), exact
        if b < MIN_BUDGET_B:
            need = per_bin * 2**MIN_BUDGET_B
            msg = (
                f"budget {budget} is too small for SPEX with n = {n}, max_order = {max_order}, "
                f"t = {t}: it needs at least {need} model calls ({base_groups} groups x "
                f"2^{MIN_BUDGET_B} masks x {delays} delays); raise the budget or lower max_order/t"
            )
            raise ValueError(msg)
        b = min(b, b_cap)
    elif sparsity is not None:
        sparsity = as_int(sparsity, "sparsity", minimum=1)
        b = min(b_cap, max(MIN_BUDGET_B, math.ceil(math.log2(2 * (sparsity + 1)))))
    else:
        b = min(b_cap, DEFAULT_B)
    if groups is None:
        groups = DEFAULT_GROUPS
        if budget is not None:
            groups = max(DEFAULT_GROUPS, min(MAX_AUTO_GROUPS, budget // (2**b * delays)))
    calls = groups * 2**b * delays
    if budget is not None and calls > budget:
        msg = (
            f"budget {budget} is too small for the requested design: it needs at least {calls} "
            f"model calls ({groups} groups x 2^{b} masks x {delays} delays)"
        )
        raise ValueError(msg)
    return SPEXPlan(n, max_order, t, groups, b, delays, int(info["m"]), calls)


#: The result of :meth:`SPEX.fit` (every explainer returns an :class:`Explanation`).
SPEXResult = Explanation


def _seed(seed: int, *stream: int) -> int:
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1, dtype=np.uint64)[0])


class SPEX:
    """SPEX explainer.

    Args:
        budget: most model calls for recovery (the hold-out masks come on top).
        sparsity: expected number of coefficients, used to size ``b`` when no budget is given.
        max_order: largest interaction size recovered (clamped to ``n``).
        t: BCH error correction (default ``max_order``); larger ``t`` costs more delays and
            corrects more sign errors under noise.
        groups, b: override the sampling parameters chosen by :func:`plan`.
        noise: standard deviation of the value function's noise, when known (enables energy
            thresholds); ``None`` = unknown.
        holdout: number of fresh uniform masks on which to report R² (extra model calls).
        residual_ratio: a bin is a singleton if its best single coefficient leaves at most this
            fraction of its energy.
        chase_bits, max_candidates: soft decoding effort per bin (0 disables it).
        max_iter: peeling rounds.
        ridge: ridge penalty of the final refit (relative to the per-coefficient sample count).
        prune_z: the refit drops terms within this many standard errors of zero (0 keeps all).
        adapt_order: when the budget is too small for ``max_order`` (and ``t`` and ``b`` are
            not given), lower the degree bound until the design fits, saying so in
            ``settings["notes"]``, instead of refusing.
        seed: seeds the hash matrices and hold-out masks.
        n_threads: threads for the core (default: all cores).
        progress: show a progress bar for the model calls (``None``: when on a terminal).
    """

    @staticmethod
    def default_budget(n: int) -> int:
        """100 calls per component, 1,000 to 20,000."""
        return int(np.clip(100 * n, 1000, 20000))

    def __init__(
        self,
        budget: int | None = None,
        *,
        sparsity: int | None = None,
        max_order: int = _DEFAULTS.max_order,
        t: int | None = None,
        groups: int | None = None,
        b: int | None = None,
        noise: float | None = None,
        holdout: int = 0,
        residual_ratio: float = _DEFAULTS.residual_ratio,
        chase_bits: int = _DEFAULTS.chase_bits,
        max_candidates: int = _DEFAULTS.max_candidates,
        max_iter: int = _DEFAULTS.max_iter,
        ridge: float = _DEFAULTS.ridge,
        prune_z: float = _DEFAULTS.prune_z,
        adapt_order: bool = True,
        seed: int | None = 0,
        n_threads: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.budget = None if budget is None else as_int(budget, "budget", minimum=1)
        self.sparsity = None if sparsity is None else as_int(sparsity, "sparsity", minimum=1)
        self.max_order = as_int(max_order, "max_order", minimum=1)
        self.t = None if t is None else as_int(t, "t", minimum=1)
        self.groups = None if groups is None else as_int(groups, "groups", minimum=1)
        self.b = None if b is None else as_int(b, "b", minimum=1)
        if noise is not None and (not np.isfinite(noise) or noise < 0):
            msg = f"noise must be a finite number >= 0 or None, got {noise}"
            raise ValueError(msg)
        self.noise = None if noise is None else float(noise)
        self.holdout = as_int(holdout, "holdout", minimum=0)
        self.residual_ratio = float(residual_ratio)
        if not 0.0 < self.residual_ratio < 1.0:
            msg = f"residual_ratio must lie in (0, 1), got {residual_ratio}"
            raise ValueError(msg)
        self.chase_bits = as_int(chase_bits, "chase_bits", minimum=0)
        if self.chase_bits > 16:
            msg = f"chase_bits must be <= 16, got {chase_bits}"
            raise ValueError(msg)
        self.max_candidates = as_int(max_candidates, "max_candidates", minimum=0)
        self.max_iter = as_int(max_iter, "max_iter", minimum=1)
        self.ridge = float(ridge)
        self.prune_z = float(prune_z)
        if not (np.isfinite(self.ridge) and self.ridge >= 0 and np.isfinite(self.prune_z) and self.prune_z >= 0):
            msg = "ridge and prune_z must be finite numbers >= 0"
            raise ValueError(msg)
        self.adapt_order = bool(adapt_order)
        self.seed = as_seed(seed)
        self.n_threads = n_threads
        as_threads(n_threads)
        self.progress = progress

    def plan(self, n: int) -> SPEXPlan:
        """The sampling parameters this explainer uses for ``n`` components."""
        return plan(
            n, self.budget, sparsity=self.sparsity, max_order=self.max_order, t=self.t,
            groups=self.groups, b=self.b, adapt_order=self.adapt_order,
        )

    def fit(
        self,
        fn: ValueFunction | Evaluator,
        n: int | None = None,
        *,
        store: Any = "default",
        key: str | None = None,
        progress: bool | None = None,
        batch_size: int | None = None,
    ) -> Explanation:
        """Query ``fn`` on the SPEX design and recover its sparse Fourier expansion.

        ``store``, ``key``, ``progress`` and ``batch_size`` go to the :class:`Evaluator` (ignored
        when ``fn`` already is one); with a key, a rerun takes every output from the store.
        """
        start = time.perf_counter()
        options: dict[str, Any] = {"store": store, "key": key,
                                   "progress": self.progress if progress is None else progress}
        if batch_size is not None:
            options["batch_size"] = batch_size
        ev = as_evaluator(fn, n, **options)
        n = ev.n
        p = self.plan(n)
        calls0 = ev.calls
        model_time = 0.0
        threads = as_threads(self.n_threads)

        t0 = time.perf_counter()
        delays = PackedMasks(_core.spex_delays(n, p.t, True), n)
        hashes = [bernoulli(p.b, n, 0.5, seed=_seed(self.seed, 1, c)) for c in range(p.groups)]
        mask_time = time.perf_counter() - t0
        rows_per_chunk = max(1, CHUNK_BYTES // (2**p.b * 8 * ((n + 63) // 64)))
        outputs: list[np.ndarray] = []
        for c in range(p.groups):
            for d0 in range(0, p.delays, rows_per_chunk):
                t0 = time.perf_counter()
                block, _ = gf2_subsample(
                    n, p.b, delays=delays[d0 : d0 + rows_per_chunk], H=hashes[c], n_threads=self.n_threads
                )
                t1 = time.perf_counter()
                out = ev(block)
                t2 = time.perf_counter()
                mask_time += t1 - t0
                model_time += t2 - t1
                if out.ndim != 1:
                    msg = f"SPEX needs a scalar output per mask; the value function returned shape {out.shape}"
                    raise ValueError(msg)
                outputs.append(out)
        values = np.ascontiguousarray(np.concatenate(outputs), dtype=np.float64)
        H = np.ascontiguousarray(np.concatenate([h.words for h in hashes], axis=0))

        t0 = time.perf_counter()
        with stage(f"SPEX decoding ({len(values):,} masks)",
                   self.progress if progress is None else progress):
            indptr, idx, vals, stats = _core.spex_recover(
                values, H, n, p.b, p.groups, p.t, p.max_order, self.residual_ratio,
                -1.0 if self.noise is None else self.noise, _DEFAULTS.noise_z, self.chase_bits,
                self.max_candidates, self.max_iter, self.ridge, self.prune_z, True, threads,
            )
        recover_time = time.perf_counter() - t0
        coefs = Coefficients(n, indptr, idx, vals, "fourier")

        t0 = time.perf_counter()
        r2, _ = measure_faithfulness(ev, lambda m: indices.evaluate(coefs, m), n, self.holdout,
                                     self.seed, what="SPEX")
        model_time += time.perf_counter() - t0

        total = time.perf_counter() - start
        tss = float(stats["tss"])
        diagnostics = dict(stats)
        diagnostics["train_r2"] = 1.0 - float(stats["rss"]) / tss if tss > 0 else float("nan")
        settings = {
            "n": n, "budget": self.budget, "sparsity": self.sparsity, "max_order": p.max_order,
            "t": p.t, "groups": p.groups, "b": p.b, "delays": p.delays, "bch_m": p.bch_m,
            "design_calls": p.calls, "noise": self.noise, "holdout": self.holdout,
            "residual_ratio": self.residual_ratio, "chase_bits": self.chase_bits,
            "max_candidates": self.max_candidates, "max_iter": self.max_iter, "ridge": self.ridge,
            "prune_z": self.prune_z, "seed": self.seed, "adapt_order": self.adapt_order,
            "max_order_requested": p.requested_order or p.max_order, "notes": p.notes,
        }
        timings = {
            "algorithm": total - model_time, "model": model_time, "masks": mask_time,
            "recover": recover_time, "total": total,
        }
        return Explanation(
            coefficients=coefs, n=n, calls=ev.calls - calls0, faithfulness=r2, baseline=float(values[0]),
            timings=timings, settings=settings, diagnostics=diagnostics,
        )


def run(
    fn: ValueFunction | Evaluator,
    n: int | None = None,
    budget: int | None = None,
    *,
    store: Any = "default",
    key: str | None = None,
    progress: bool | None = None,
    batch_size: int | None = None,
    **options: Any,
) -> Explanation:
    """``SPEX(budget, **options).fit(fn, n, store=..., key=..., progress=...)`` in one call."""
    return SPEX(budget, **options).fit(fn, n, store=store, key=key, progress=progress, batch_size=batch_size)
