"""What the two regression proxies share: checked masks and targets, standardised outputs, and
Möbius coefficient sets built from term arrays (``ta``, ``tb`` = the one or two components of
each term, ``tb = -1`` for a main effect)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _core
from .._validate import as_threads
from ..coefficients import Coefficients
from ..masks import MaskLike, PackedMasks, as_packed, bernoulli, distinct, distinct_uniform, pack
from ..progress import stage


def _threads(n_threads: int | None) -> int:
    t = as_threads(n_threads)
    return t if t > 0 else max(1, int(_core.hardware_threads))


def _refuse_tensor(y: object, what: str) -> None:
    """Torch tensors that require grad (or live off the CPU) cannot become NumPy arrays quietly."""
    if not type(y).__module__.startswith("torch"):
        return
    if bool(getattr(y, "requires_grad", False)):
        msg = (f"{what}: y is a torch tensor that requires grad; pass plain numbers, "
               f"e.g. y.detach().cpu().numpy()")
        raise TypeError(msg)
    device = getattr(y, "device", None)
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        msg = f"{what}: y is a torch tensor on {device}; pass y.detach().cpu().numpy()"
        raise TypeError(msg)


def _masks_and_targets(masks: MaskLike, y: object, what: str) -> tuple[PackedMasks, np.ndarray]:
    if not isinstance(masks, PackedMasks):
        arr = np.asarray(masks)
        if arr.ndim != 2:
            msg = f"{what}: masks must be PackedMasks or a 2-D (m, n) array, got shape {arr.shape}"
            raise ValueError(msg)
        if arr.shape[0] == 0:
            msg = f"{what}: masks are empty (m = 0): nothing to fit"
            raise ValueError(msg)
    packed = as_packed(masks)
    m = len(packed)
    if m == 0:
        msg = f"{what}: masks are empty (m = 0): nothing to fit"
        raise ValueError(msg)
    _refuse_tensor(y, what)
    targets = np.asarray(y)
    if targets.ndim == 2 and targets.shape[1] == 1:
        targets = targets[:, 0]
    if targets.ndim != 1:
        msg = (f"{what}: y has shape {targets.shape} but the proxy fits one output per mask "
               f"(a 1-D y); fit each output separately, e.g. y[:, k]")
        raise ValueError(msg)
    if np.issubdtype(targets.dtype, np.complexfloating):
        msg = (f"{what}: y is complex ({targets.dtype}) but the proxy fits real outputs; "
               f"pass the real quantity you mean, e.g. y.real or np.abs(y)")
        raise TypeError(msg)
    if not np.issubdtype(targets.dtype, np.number):
        msg = f"{what}: y must be real numbers, got dtype {targets.dtype}"
        raise TypeError(msg)
    if len(targets) != m:
        msg = f"{what}: {m} masks but {len(targets)} targets"
        raise ValueError(msg)
    targets = np.ascontiguousarray(targets, dtype=np.float64)
    if not np.all(np.isfinite(targets)):
        bad = int(np.count_nonzero(~np.isfinite(targets)))
        msg = f"{what}: y has {bad} non-finite values (NaN or inf)"
        raise ValueError(msg)
    if m < 2:
        msg = f"{what}: need at least 2 masks, got {m}"
        raise ValueError(msg)
    if np.ptp(targets) == 0:
        msg = f"{what}: y is constant ({targets[0]!r}): there is nothing to fit"
        raise ValueError(msg)
    return packed, targets


def _standardize(y: np.ndarray, what: str, *, scale: bool = True) -> tuple[np.ndarray, float, float]:
    """``((y - centre) / spread, centre, spread)``: the solvers see outputs of order one.

    A large common offset (1e12 + g) would otherwise swamp g in every sum of outputs, and a tiny
    scale (1e-12·g) would fall below the solvers' absolute penalties and tolerances. ``y - centre``
    is exact whenever the outputs lie within a factor of two of the centre (Sterbenz), so the
    centring itself loses nothing; the centre goes back on the intercept only. ``scale=False``
    only centres (spread 1): the elastic net's ridge part is not equivariant under a rescaling.
    """
    centre = float(np.mean(y))
    dev = y - centre
    if not scale:
        return np.ascontiguousarray(dev), centre, 1.0
    spread = float(np.sqrt(np.mean(dev * dev)))
    if not (np.isfinite(spread) and spread > 0):
        msg = f"{what}: the spread of y ({spread}) is not a positive finite number; rescale y"
        raise ValueError(msg)
    return np.ascontiguousarray(dev / spread), centre, spread


def _terms_from_supports(supports: Iterable[Iterable[int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = [], []
    seen = set()
    for s in supports:
        t = tuple(sorted(int(i) for i in s))
        if len(t) == 0:
            continue  # the intercept is always fitted
        if len(t) > 2 or len(set(t)) != len(t) or t[0] < 0 or t[-1] >= n:
            msg = f"terms must be distinct components in [0, {n}) of size 1 or 2, got {tuple(s)}"
            raise ValueError(msg)
        if t in seen:
            continue
        seen.add(t)
        a.append(t[0])
        b.append(t[1] if len(t) == 2 else -1)
    if not a:
        msg = "terms must contain at least one main effect or pair"
        raise ValueError(msg)
    return np.asarray(a, np.int32), np.asarray(b, np.int32)


def _all_terms(n: int, max_order: int) -> tuple[np.ndarray, np.ndarray]:
    a = [np.arange(n, dtype=np.int32)]
    b = [np.full(n, -1, np.int32)]
    if max_order >= 2 and n >= 2:
        i, j = np.triu_indices(n, 1)
        a.append(i.astype(np.int32))
        b.append(j.astype(np.int32))
    return np.concatenate(a), np.concatenate(b)


def _coefficients(n: int, intercept: float, ta: np.ndarray, tb: np.ndarray, values: np.ndarray) -> Coefficients:
    keep = values != 0
    ta, tb, values = ta[keep], tb[keep], values[keep]
    order = np.lexsort((tb, ta, (tb >= 0).astype(np.int8)))  # mains, then pairs; by index
    ta, tb, values = ta[order], tb[order], values[order]
    sizes = np.concatenate([[0, 0], np.where(tb >= 0, 2, 1)])
    indptr = np.cumsum(sizes).astype(np.int64)
    indices = np.empty(int(indptr[-1]), np.int32)
    # Row 0 is the empty set (intercept); row t+1 starts at indptr[t+1].
    pos = indptr[1:-1]
    indices[pos] = ta
    pair_rows = np.flatnonzero(tb >= 0)
    indices[pos[pair_rows] + 1] = tb[pair_rows]
    return Coefficients(n, indptr, indices, np.concatenate([[intercept], values]), "mobius")


def sample_and_evaluate(ev: Any, n: int, budget: int, seed: int, what: str,
                        keep: float = 0.5) -> tuple[PackedMasks, np.ndarray, float]:
    """The training design of the regression proxies: the all-kept mask (the baseline) and
    ``budget − 1`` distinct masks (drawn without replacement) keeping each component with
    probability ``keep`` (½: uniform),
    evaluated in one batch; returns those masks, their outputs and the baseline."""
    train = (distinct_uniform(budget - 1, n, paired=False, seed=seed) if keep == 0.5
             else distinct(lambda c, s: bernoulli(c, n, keep, seed=s), budget - 1, n, seed=seed))
    both = PackedMasks.concat([pack(np.ones((1, n), dtype=bool)), train])
    out = np.asarray(ev(both), dtype=np.float64)
    if out.ndim != 1:
        msg = (f"{what} explains one scalar output per mask; the value function returned shape "
               f"{out.shape} (select one output column in the value function)")
        raise ValueError(msg)
    return train, out[1:], float(out[0])


class ProxyExplainer:
    """The explainer shape of a regression proxy: sample masks, evaluate them, fit the proxy,
    return its expansion as an :class:`~fastspex.explainers.result.Explanation`.

    Masks are uniform, or with ``design="bernoulli"`` (implied by ``keep``) keep each component
    with probability ``keep``; the held-out R² is measured on masks of the same design.
    Subclasses name the proxy (``method``), fit it (``_fit_proxy``) and turn the fit into
    Möbius coefficients (``_expansion``); ``options`` go to the proxy's fit function.
    """

    method = "proxy"

    @staticmethod
    def default_budget(n: int) -> int:
        """32 masks per component, 500 to 5,000."""
        return int(np.clip(32 * n, 500, 5000))

    def __init__(self, budget: int = 1000, *, seed: int | None = 0, n_threads: int | None = None,
                 progress: bool | None = None, holdout: int = 0, design: str | None = None,
                 keep: float | None = None, **options: Any) -> None:
        from .._validate import as_int, as_seed
        from .result import check_design_keep

        self.budget = as_int(budget, "budget", minimum=3)
        self.seed = as_seed(seed)
        self.n_threads = n_threads
        as_threads(n_threads)
        self.progress = progress
        self.holdout = as_int(holdout, "holdout", minimum=0)
        self.design_given = design is not None
        if design is None:
            design = "bernoulli" if keep is not None else "uniform"
        if design not in ("uniform", "bernoulli"):
            msg = f"method {self.method!r} samples design='uniform' or 'bernoulli' only, got {design!r}"
            raise ValueError(msg)
        checked = check_design_keep(design, keep)
        self.design = design
        self.keep = 0.5 if checked is None else checked
        from .result import check_options

        check_options(self._fit_function(), options, self.method, ("masks", "y", "seed", "n_threads"))
        self.options = dict(options)

    def _fit_function(self) -> Any:  # pragma: no cover - every subclass names its fit
        raise NotImplementedError

    def _expansion(self, fit: Any) -> tuple[Coefficients, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def fit(self, fn: Any, n: int | None = None, *, store: Any = "default", key: str | None = None,
            progress: bool | None = None) -> Any:
        """Explain ``fn`` (a value function or an Evaluator) over its ``n`` components."""
        import time

        from .. import indices
        from ..evaluation.evaluator import as_evaluator
        from .result import Explanation, design_label, measure_faithfulness

        t0 = time.perf_counter()
        ev = as_evaluator(fn, n, store=store, key=key,
                          progress=self.progress if progress is None else progress)
        n, calls0 = ev.n, ev.calls
        train, y, baseline = sample_and_evaluate(ev, n, self.budget, self.seed,
                                                 f"method={self.method!r}", keep=self.keep)
        t_model = time.perf_counter() - t0
        t = time.perf_counter()
        show = bool(self.progress if progress is None else progress)
        with stage(f"{self.method} fit ({len(y):,} masks, {n:,} components)", show):
            fit = self._fit_function()(train, y, seed=self.seed, n_threads=self.n_threads,
                                       **self.options)
        mobius, details = self._expansion(fit)
        surrogate = indices.to_fourier(mobius)
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        r2, _ = measure_faithfulness(ev, fit.predict, n, self.holdout, self.seed, what=self.method,
                                     keep=self.keep)
        t_model += time.perf_counter() - t
        total = time.perf_counter() - t0
        reason = ("the design the caller asked for" if self.design_given else
                  f"keep={self.keep:g} was given: each component kept with that probability"
                  if self.design == "bernoulli" else
                  "uniform masks weight every coalition equally (the regression's own design)")
        settings = {"budget": self.budget, "seed": self.seed, "holdout": self.holdout,
                    "design": design_label(self.design, self.keep), "design_reason": reason,
                    **{k: v for k, v in fit.settings.items() if _plain(v)}, **details}
        return Explanation(
            coefficients=surrogate, n=n, calls=ev.calls - calls0, baseline=baseline,
            faithfulness=r2, settings=settings,
            timings={"model": t_model, "algorithm": total - t_model, "fit": t_fit, "total": total},
            diagnostics={"proxy": fit},
        )


def _plain(value: object) -> bool:
    """Whether a setting can go into a JSON result as it is."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))
