"""``explain``: one call from a model (value function or ablation) to named interactions.

It picks a method, spends a budget of model calls, computes the interaction index asked for,
measures faithfulness on fresh held-out masks, and returns an
:class:`~fastspex.interactions.Interactions` that carries the component names and everything
needed to plot, report, save and reload the run.
"""

from __future__ import annotations

import inspect
import sys
import time
import types
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ._validate import as_int, as_seed, scalar_outputs
from .exact import MAX_EXACT_N, Exact, covers_all_masks
from .interactions import Interactions
from .value import Evaluator, as_evaluator

__all__ = ["INDICES", "METHODS", "default_budget", "explain"]

Method = Literal["proxyspex", "spex", "fm", "lasso", "greedy", "exact"]
Index = Literal["fbii", "fsii", "stii", "sii", "ksii", "bii", "fourier", "mobius", "ablation"]
METHODS = ("proxyspex", "spex", "fm", "lasso", "greedy", "exact")
INDICES = ("fbii", "fsii", "stii", "sii", "ksii", "bii", "fourier", "mobius", "ablation")
_NEEDS_ORDER = ("fbii", "fsii", "stii", "ksii")
# Attributes of ablation objects worth keeping with the result (for plots and reports).
_META_ATTRS = ("text", "units", "target", "model_name", "unit", "n_layers", "n_heads", "output")


def default_budget(method: str, n: int) -> int:
    """Model calls spent when the caller gives no budget: grows with ``n``, bounded both ways.

    For the README's sentence (about 15 words on MiniLM) ProxySPEX's default is 500 masks, a
    few seconds of model time on two cores.
    """
    if method == "greedy":
        return int(min(20000, 1 + n + 3 * (n + n * (n - 1) // 2)))
    if method == "exact":
        return 1 << n
    if method == "spex":
        return int(np.clip(100 * n, 1000, 20000))
    return int(np.clip(32 * n, 500, 5000))


def _describe(target: object) -> tuple[object, int | None, list[str] | None, str | None, dict[str, Any]]:
    """The underlying object (inside an Evaluator), n, labels, kind and metadata of a target."""
    inner = target.fn if isinstance(target, Evaluator) else target
    n = target.n if isinstance(target, Evaluator) else getattr(inner, "n", None)
    labels = getattr(inner, "labels", None)
    kind = getattr(inner, "kind", None)
    meta: dict[str, Any] = {}
    for name in _META_ATTRS:
        value = getattr(inner, name, None)
        if value is None or callable(value):
            continue
        if isinstance(value, (str, int, float, bool)):
            meta[name] = value
        elif isinstance(value, (list, tuple)):
            meta[name] = [_plain(v) for v in value]
    texts = getattr(inner, "texts", None)
    if "text" not in meta and isinstance(texts, (list, tuple)) and texts and isinstance(texts[0], str):
        meta["text"] = texts[0] if len(texts) == 1 else " | ".join(texts)
    return inner, n, list(labels) if labels is not None else None, kind, meta


def _plain(value: object) -> object:
    """A JSON-friendly form of one metadata item (units become ``[start, end]`` spans)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    start, end = getattr(value, "start", None), getattr(value, "end", None)
    if isinstance(start, int) and isinstance(end, int):
        return [start, end]
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


def _check_options(cls: object, options: dict[str, Any], method: str, reserved: Sequence[str]) -> None:
    params = inspect.signature(cls).parameters  # type: ignore[arg-type]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [p for p in params if p not in reserved and p != "self"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        msg = (
            f"unknown option(s) {', '.join(unknown)} for method {method!r}; "
            f"it accepts: {', '.join(allowed) or 'none'}"
        )
        raise TypeError(msg)


def _r2(pred: np.ndarray, truth: np.ndarray) -> float | None:
    ss = float(np.sum((truth - truth.mean()) ** 2))
    if ss <= 0:
        return None
    return 1.0 - float(np.sum((truth - pred) ** 2)) / ss


def explain(
    target: object,
    *,
    method: Method = "proxyspex",
    budget: int | None = None,
    index: Index | None = None,
    order: int | None = None,
    seed: int | None = 0,
    store: object = "default",
    progress: bool = True,
    backend: Literal["local", "ray"] = "local",
    n: int | None = None,
    labels: Sequence[str] | None = None,
    holdout: int | None = None,
    backend_options: dict[str, Any] | None = None,
    **method_options: Any,
) -> Interactions:
    """Explain a model output by the interactions among its components.

    Args:
        target: a value function (``(m, n)`` bool masks, 1 = kept -> ``(m,)`` outputs), an
            :class:`~fastspex.value.Evaluator`, or an ablation object from :mod:`fastspex.ablate`
            (which carries ``n``, ``labels`` and a store key).
        method: "proxyspex" (tree proxy, the default), "spex" (coded sparse Fourier recovery),
            "fm" (factorization machine proxy), "lasso" (sparse polynomial proxy) or "greedy"
            (greedy search for a set whose joint ablation moves the output; exact ablation
            interactions of single components and pairs).
        budget: model calls the method may spend (default: :func:`default_budget`). The
            faithfulness hold-out is spent on top.
        index: "fbii", "fsii", "stii", "sii", "ksii" (shapiq's k-SII), "bii", "fourier",
            "mobius" or "ablation" (default: "fbii"; "ablation" for greedy, the only index it
            measures).
        order: order of fbii/fsii/stii/ksii (default 2, lowered to n when n is smaller); for the other indices the largest set size
            kept (default: all).
        seed: seed of every random choice (``None``: fresh randomness).
        store: evaluation store for resumable runs ("default", an EvalStore, a path or None).
        progress: show progress bars.
        backend: "local" (this process) or "ray" (model replicas on a Ray cluster).
        n: number of components, when the target does not say.
        labels: component names (default: the target's ``labels``, else the ids).
        holdout: fresh uniform masks for the faithfulness R² (default: a tenth of the budget,
            64 to 1000; 0 skips it). Not used by greedy.
        backend_options: keyword arguments for the Ray evaluator.
        **method_options: passed to the method (e.g. ProxySPEX's settings, greedy's
            ``threshold``/``max_size``/``direction``).
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        msg = f"method must be one of {', '.join(METHODS)}; got {method!r}"
        raise ValueError(msg)
    if index is None:
        index = "ablation" if method == "greedy" else "fbii"
    if index not in INDICES:
        msg = f"index must be one of {', '.join(INDICES)}; got {index!r}"
        raise ValueError(msg)
    if method == "greedy" and index != "ablation":
        msg = f"greedy measures ablation interactions only; got index={index!r} (use index='ablation')"
        raise ValueError(msg)
    order_given = order is not None
    if order is not None:
        order = as_int(order, "order", minimum=1)
    elif index in _NEEDS_ORDER:
        order = 2
    seed_value = as_seed(seed)
    if not isinstance(progress, bool):
        msg = f"progress must be True or False, got {progress!r}"
        raise TypeError(msg)
    if backend not in ("local", "ray"):
        msg = f"backend must be 'local' or 'ray'; got {backend!r}"
        raise ValueError(msg)
    if not callable(target):
        msg = (
            "target must be a value function (masks -> outputs), an Evaluator or an ablation "
            f"object; got {type(target).__name__}"
        )
        raise TypeError(msg)

    _, target_n, target_labels, kind, meta = _describe(target)
    if n is not None:
        n = as_int(n, "n", minimum=1)
        if target_n is not None and int(target_n) != n:
            msg = f"n = {n} disagrees with the target's n = {target_n}"
            raise ValueError(msg)
    elif target_n is not None:
        n = as_int(target_n, "target.n", minimum=1)
    else:
        msg = "pass n= (the number of components): the target has no `n` attribute"
        raise ValueError(msg)
    names = list(labels) if labels is not None else target_labels
    if names is not None and len(names) != n:
        msg = f"labels has {len(names)} names for n = {n} components"
        raise ValueError(msg)
    notes: list[str] = []
    if index in _NEEDS_ORDER and order is not None and order > n:
        if order_given:
            msg = f"order = {order} exceeds the n = {n} components (pass order <= {n})"
            raise ValueError(msg)
        notes.append(f"order lowered from the default {order} to n = {n}")
        order = n  # the default order cannot work for so few components: clamp, not refuse
    budget = default_budget(method, n) if budget is None else as_int(budget, "budget", minimum=2)
    requested = method
    if method == "exact" and not covers_all_masks(n, budget):
        msg = (f"method='exact' evaluates all 2^{n} masks: it needs n <= {MAX_EXACT_N} and a "
               f"budget >= {1 << min(n, 62):,}; got budget {budget:,}")
        raise ValueError(msg)
    _check_method_options(method, method_options)  # even when the exact path replaces it
    if method != "greedy" and covers_all_masks(n, budget):
        if method != "exact":
            notes.append(f"the budget ({budget:,}) covers all 2^{n} = {1 << n:,} masks: "
                         f"explained exactly instead of by {method}")
        method = "exact"
    if holdout is None:
        holdout = int(np.clip(budget // 10, 64, 1000)) if method not in ("greedy", "exact") else 0
    holdout = as_int(holdout, "holdout", minimum=0)
    if method == "exact":
        holdout = 0  # every mask is evaluated: faithfulness is measured on all of them

    if backend == "ray":
        try:
            from .ray_backend import make_ray_evaluator
        except ImportError as err:
            msg = "backend='ray' needs fastspex.ray_backend and ray: pip install fastspex[ray]"
            raise ImportError(msg) from err
        ev = make_ray_evaluator(target, n, store=store, progress=progress, **(backend_options or {}))
    else:
        if backend_options:
            msg = "backend_options apply to backend='ray' only"
            raise ValueError(msg)
        ev = as_evaluator(target, n, store=store, progress=progress)
    calls_before = int(getattr(ev, "calls", 0))

    settings: dict[str, Any] = {
        "method": method, "requested_method": requested, "notes": notes, "budget": budget, "index": index, "order": order, "seed": seed,
        "holdout": holdout, "backend": backend, "n": n,
        "options": {k: v for k, v in method_options.items()},
    }
    common = {"labels": names, "kind": kind, "metadata": meta, "method": method, "budget": budget}

    if method == "greedy":
        result = _run_greedy(ev, n, names, budget, method_options)
        inter = Interactions(
            **_greedy_values(result, n), index="ablation", order=2 if result.pair_effects else 1,
            baseline=result.baseline, **common,
        )
        inter.metadata["greedy"] = {
            "selected": result.selected, "minimal": result.minimal, "output": result.output,
            "threshold": result.threshold, "crossed": result.crossed,
            "stop_reason": result.stop_reason, "direction": result.direction,
        }
        inter.calls = int(getattr(ev, "calls", 0)) - calls_before
        inter.settings = settings
        inter.timings = {"total": time.perf_counter() - t0}
        return inter

    if method == "exact":
        fitted = _fit_exact(ev, budget)
    else:
        fitted = _fit(method, ev, n, budget, seed_value, progress, method_options)
    from . import indices

    values = indices.compute_index(fitted["coefficients"], index, order)
    inter = Interactions.from_index(
        values, order=order, baseline=fitted["baseline"], surrogate=fitted["coefficients"],
        **common,
    )
    settings.update(fitted.get("settings", {}))
    faithfulness = None
    if holdout:
        from . import masks as M

        test = M.bernoulli(holdout, n, 0.5, seed=(seed_value + 0x9E3779B97F4A7C15) % (1 << 64))
        truth = scalar_outputs(ev(test.to_bool()), "explain")
        faithfulness = _r2(fitted["predict"](test), truth)
    elif method == "exact":
        faithfulness = fitted["r2"]
    inter.faithfulness = faithfulness
    inter.calls = int(getattr(ev, "calls", 0)) - calls_before
    inter.settings = settings
    inter.timings = {**fitted.get("timings", {}), "total": time.perf_counter() - t0}
    return inter


def _fit(
    method: str, ev: object, n: int, budget: int, seed: int, progress: bool,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Run a spectral or proxy method; return its Fourier surrogate, baseline and predictor."""
    from . import indices

    if method in ("proxyspex", "spex"):
        if method == "proxyspex":
            from .proxyspex import ProxySPEX as cls
        else:
            from .spex import SPEX as cls
        _check_options(cls, options, method, ("budget", "seed"))
        res = cls(budget=budget, seed=seed, **options).fit(ev, progress=progress)
        coefs = res.coefficients
        return {
            "coefficients": coefs, "baseline": float(res.baseline),
            "predict": res.evaluate, "settings": {"method_settings": dict(res.settings)},
            "timings": {f"{method}.{k}": float(v) for k, v in dict(res.timings).items()},
        }

    from . import masks as M
    from . import proxies

    fit_fn = proxies.fit_factorization_machine if method == "fm" else proxies.fit_sparse_polynomial
    _check_options(fit_fn, options, method, ("masks", "outputs", "X", "y", "seed"))
    t = time.perf_counter()
    train = M.bernoulli(budget - 1, n, 0.5, seed=seed).to_bool()
    y = scalar_outputs(ev(train), f"method={method!r}")  # type: ignore[operator]
    baseline = float(scalar_outputs(ev(np.ones((1, n), dtype=bool)), f"method={method!r}")[0])  # type: ignore[operator]
    t_model = time.perf_counter() - t
    t = time.perf_counter()
    kwargs = dict(options)
    if "seed" in inspect.signature(fit_fn).parameters:
        kwargs["seed"] = seed
    fit = fit_fn(train, y, **kwargs)
    coefs = getattr(fit, "coefficients", None)
    if coefs is None:  # a factorization machine: intercept and main effects; pairs added below
        from .coefficients import Coefficients

        terms = {(): float(fit.w0), **{(i,): float(w) for i, w in enumerate(fit.w)}}
        coefs = Coefficients.from_dict(terms, n, "mobius")
    truncated = False
    V = getattr(fit, "V", None)
    if method == "fm" and V is not None and n >= 2:
        coefs, truncated = _with_fm_pairs(coefs, np.asarray(V))
    surrogate = indices.to_fourier(coefs)
    predict = fit.predict if callable(getattr(fit, "predict", None)) else (
        lambda m: indices.evaluate(surrogate, m)
    )

    def predict_masks(m: object) -> np.ndarray:
        bool_masks = m.to_bool() if hasattr(m, "to_bool") else m  # type: ignore[union-attr]
        return np.asarray(predict(bool_masks), dtype=np.float64)

    return {
        "coefficients": surrogate, "baseline": baseline, "predict": predict_masks,
        "settings": {"fm_pairs_truncated": truncated} if method == "fm" else {},
        "timings": {"model": t_model, "algorithm": time.perf_counter() - t},
    }


def _check_method_options(method: str, options: dict[str, Any]) -> None:
    """Refuse options the method does not take (its constructor or fit function says which)."""
    if method == "proxyspex":
        from .proxyspex import ProxySPEX as cls
        _check_options(cls, options, method, ("budget", "seed"))
    elif method == "spex":
        from .spex import SPEX as cls  # type: ignore[assignment]
        _check_options(cls, options, method, ("budget", "seed"))
    elif method in ("fm", "lasso"):
        from . import proxies

        fit_fn = proxies.fit_factorization_machine if method == "fm" else proxies.fit_sparse_polynomial
        _check_options(fit_fn, options, method, ("masks", "outputs", "X", "y", "seed"))
    elif method == "greedy":
        from .greedy import greedy_search

        _check_options(greedy_search, options, method, ("target", "budget", "n", "labels"))
    elif method == "exact":
        _check_options(Exact, options, method, ("budget", "seed"))


def _fit_exact(ev: object, budget: int) -> dict[str, Any]:
    res = Exact(budget).fit(ev)  # type: ignore[arg-type]
    return {
        "coefficients": res.coefficients, "baseline": res.baseline, "predict": res.evaluate,
        "r2": res.r2, "settings": {"method_settings": dict(res.settings)},
        "timings": {f"exact.{k}": float(v) for k, v in res.timings.items()},
    }


#: Most factorization-machine pairs copied into the sparse surrogate (the FM itself keeps all).
MAX_FM_PAIRS = 20000


def _with_fm_pairs(coefs: object, V: np.ndarray) -> tuple[object, bool]:
    """Add a factorization machine's strongest pair terms ⟨vᵢ, vⱼ⟩ (Möbius) to its coefficients."""
    from . import indices, pairs
    from .coefficients import Coefficients

    mob = indices.to_mobius(coefs)  # type: ignore[arg-type]
    if np.any(mob.orders() == 2):  # the proxy already lists its pairs
        return coefs, False
    n = V.shape[0]
    total = n * (n - 1) // 2
    k = min(total, MAX_FM_PAIRS)
    top = pairs.top_pairs(V, k, index="mobius")
    terms = mob.to_dict()
    for (i, j), s in top.to_dict().items():
        terms[(i, j)] = terms.get((i, j), 0.0) + s
    return Coefficients.from_dict(terms, n, "mobius"), k < total


def _run_greedy(ev: object, n: int, labels: list[str] | None, budget: int, options: dict[str, Any]):
    from .greedy import greedy_search

    _check_options(greedy_search, options, "greedy", ("target", "budget", "n", "labels"))
    return greedy_search(ev, budget=budget, n=n, labels=labels, **options)


def _greedy_values(result: object, n: int) -> dict[str, Any]:
    """Exact ablation interactions from the masks greedy evaluated (orders 0–2)."""
    from .interactions import _csr

    s = result.single_effects  # type: ignore[attr-defined]
    terms: dict[tuple[int, ...], float] = {(): result.baseline}  # type: ignore[attr-defined]
    for i in range(n):
        terms[(i,)] = float(-s[i])  # Δ_i = f(1) − f(1 − e_i)
    for (i, j), p in sorted(result.pair_effects.items()):  # type: ignore[attr-defined]
        terms[(i, j)] = float(p - s[i] - s[j])  # Δ_ij = f(1) − f(1−e_i) − f(1−e_j) + f(1−e_i−e_j)
    indptr, indices = _csr(list(terms))
    return {"n": n, "indptr": indptr, "indices": indices,
            "values": np.fromiter(terms.values(), np.float64, count=len(terms))}


class _CallableModule(types.ModuleType):
    """``fastspex.explain`` names both this module and the function: once the module is
    imported, Python binds the package attribute to the module, so the module forwards calls
    to the function and ``fastspex.explain(model)`` works either way."""

    def __call__(self, *args: Any, **kwargs: Any) -> Interactions:
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
