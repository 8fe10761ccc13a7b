"""What every explainer returns, and the measurements they share.

:class:`Explanation` is the one result type of every method (ProxySPEX, SPEX, the sparse
polynomial, the factorization machine, greedy search, the exact path, and a user's own):
a sparse Fourier expansion of the value function and how it was obtained.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .. import indices, masks, pairs
from ..coefficients import Coefficients
from ..indices import InteractionIndex
from ..masks import MaskLike, PackedMasks
from ..names import IndexName

__all__ = [
    "check_design_keep",
    "Explainer", "Explanation", "check_keep", "check_options", "design_label",
    "measure_faithfulness", "r_squared",
]


@dataclass
class Explanation:
    """An explanation: the value function as a sparse Fourier expansion.

    Attributes:
        coefficients: the sparse Fourier expansion (includes the empty set).
        n: number of components.
        calls: model calls made by the fit (store hits and memo hits excluded).
        baseline: the value function on the all-kept mask.
        faithfulness: R² of the expansion on ``settings["holdout"]`` fresh uniform masks (on
            all ``2ⁿ`` masks for the exact path); ``None`` when not measured or when the
            outputs were constant.
        timings: seconds per stage; ``"model"`` is time in the value function, ``"algorithm"``
            everything else.
        settings: every chosen parameter (JSON-serialisable).
        diagnostics: what the method found out along the way (e.g. SPEX's decoding counts,
            greedy's chosen set).
    """

    coefficients: Coefficients
    n: int
    calls: int
    baseline: float
    faithfulness: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def r2(self) -> float | None:
        """The earlier name of :attr:`faithfulness`."""
        return self.faithfulness

    def evaluate(self, masks: MaskLike) -> np.ndarray:
        """The expansion's value on each mask."""
        return indices.evaluate(self.coefficients, masks)

    def index(self, name: IndexName, order: int | None = None) -> Coefficients | InteractionIndex:
        """An interaction index of the expansion (see :func:`fastspex.indices.compute_index`)."""
        return indices.compute_index(self.coefficients, name, order)

    def top_pairs(
        self, k: int = 10, index: IndexName = "fourier", *, order: int = 2,
        by: pairs.RankBy = "magnitude",
    ) -> pairs.PairScores:
        """The ``k`` strongest pairs under ``index`` (``"ablation"`` for Δᵢⱼ at the full input)."""
        n_pairs = self.n * (self.n - 1) // 2
        return pairs.top_pairs(self.coefficients, min(k, n_pairs), index=index, order=order, by=by)

    def top(self, k: int = 10) -> list[tuple[tuple[int, ...], float]]:
        """The ``k`` non-empty supports with the largest ``|Fourier coefficient|``."""
        c = self.coefficients
        order = np.argsort(-np.abs(c.values), kind="stable")
        out = [(c.support(int(i)), float(c.values[i])) for i in order if c.indptr[i + 1] > c.indptr[i]]
        return out[:k]


class Explainer(Protocol):
    """The contract of every explainer class (``fastspex.explainers.register`` takes one).

    Constructed as ``Explainer(budget, *, seed=0, n_threads=None, progress=None, holdout=0,
    **options)``.
    """

    def fit(self, fn: Any, n: int | None = None, *, store: Any = "default",
            key: str | None = None, progress: bool | None = None) -> Explanation: ...


def check_options(function: Callable[..., Any], options: dict[str, Any], method: str,
                  reserved: tuple[str, ...]) -> None:
    """Refuse ``options`` that ``function`` does not take (its parameters less ``reserved``, the
    ones the caller fills itself), naming the ones it does."""
    allowed = [p for p in inspect.signature(function).parameters if p not in reserved and p != "self"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        msg = (f"unknown option(s) {', '.join(unknown)} for method {method!r}; "
               f"it accepts: {', '.join(allowed) or 'none'}")
        raise TypeError(msg)


def check_keep(keep: object) -> float:
    """The keep probability of the Bernoulli design, checked: a number strictly in (0, 1)."""
    if isinstance(keep, bool) or not isinstance(keep, (int, float, np.floating, np.integer)):
        msg = f"keep must be a probability in (0, 1), e.g. keep=0.9; got {keep!r}"
        raise TypeError(msg)
    value = float(keep)
    if not 0.0 < value < 1.0:
        msg = (f"keep must lie strictly between 0 and 1 (each component is kept with that "
               f"probability), got {value}")
        raise ValueError(msg)
    return value


def check_design_keep(design: object, keep: object) -> float | None:
    """``keep`` checked against the design: required by (and only by) ``design="bernoulli"``."""
    if design == "bernoulli" and keep is None:
        msg = "design='bernoulli' needs keep=P, the probability of keeping each component (e.g. 0.9)"
        raise ValueError(msg)
    if keep is not None and design != "bernoulli":
        msg = f"keep={keep!r} applies to design='bernoulli' only (got design={design!r})"
        raise ValueError(msg)
    return None if keep is None else check_keep(keep)


def design_label(design: str, keep: float) -> str:
    """How a design is written in ``settings["design"]`` ("uniform", "bernoulli(keep=0.9)")."""
    return f"bernoulli(keep={keep:g})" if design == "bernoulli" else design


def r_squared(truth: np.ndarray, prediction: np.ndarray) -> float | None:
    """``1 − SSE/SST`` of ``prediction`` against ``truth``; ``None`` when ``truth`` is constant
    (no variance to explain: any number would be made up)."""
    truth = np.asarray(truth, dtype=np.float64)
    centred = truth - truth.mean()
    sst = float(centred @ centred)
    # constant up to the rounding of the outputs themselves (relative: 1e12 + rounding is constant)
    if sst <= (8 * np.finfo(np.float64).eps * float(np.abs(truth).max(initial=0.0))) ** 2 * len(truth):
        return None
    residual = truth - np.asarray(prediction, dtype=np.float64)
    return 1.0 - float(residual @ residual) / sst


def measure_faithfulness(
    evaluator: Callable[[PackedMasks], np.ndarray], predict: Callable[[PackedMasks], np.ndarray],
    n: int, holdout: int, seed: int, *, what: str = "the explanation", keep: float = 0.5,
) -> tuple[float | None, int]:
    """R² of ``predict`` on ``holdout`` fresh masks of the training design, and the masks drawn.

    Each component is kept with probability ``keep`` (½: the uniform design), so a run on the
    Bernoulli design is judged where it was fitted. The masks come from their own seed stream,
    so they are not the training masks of any method seeded with ``seed``.
    """
    if holdout <= 0:
        return None, 0
    stream = int(np.random.SeedSequence([seed, 0x686F6C64]).generate_state(1, dtype=np.uint64)[0])
    test = masks.bernoulli(holdout, n, keep, seed=stream)
    truth = np.asarray(evaluator(test), dtype=np.float64)
    if truth.ndim != 1:
        msg = f"{what} needs one scalar output per mask; the value function returned shape {truth.shape}"
        raise ValueError(msg)
    return r_squared(truth, predict(test)), holdout
