"""``fastspex.explain``: one call from a model (value function or ablation) to named interactions.

It picks a method, spends a budget of model calls, computes the interaction index asked for,
measures faithfulness on fresh held-out masks, and returns an
:class:`~fastspex.interactions.Interactions` that carries the component names and everything
needed to plot, report, save and reload the run.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any, Literal, Union, overload

import numpy as np

from . import explainers, indices, multi_output
from ._validate import as_int, as_seed
from .evaluation.evaluator import Evaluator, as_evaluator, calls_since, counts
from .explainers.exact import MAX_EXACT_N, covers_all_masks
from .explainers.result import check_options
from .names import BUILTIN_METHODS, INDICES, NEEDS_ORDER, IndexName, resolve_index
from .results.interactions import Interactions

__all__ = ["INDICES", "METHODS", "default_budget", "explain"]

Method = Literal["auto", "proxyspex", "spex", "fm", "lasso", "greedy", "exact"]  # or a registered name
Index = Union[IndexName, Literal["sv", "bv"]]
METHODS = BUILTIN_METHODS
# What explain() hands every explainer itself (the contract), never as a user option.
_CONTRACT = ("budget", "seed", "progress", "holdout", "n_threads")
# Passed by explain() to every explainer whose constructor names it (e.g. ProxySPEX chooses its
# mask design by the index asked for); never a user option either.
_FROM_EXPLAIN = ("index", "design", "keep")
# Attributes of ablation objects worth keeping with the result (for plots and reports).
_META_ATTRS = ("text", "units", "target", "model_name", "unit", "n_layers", "n_heads", "output")


def default_budget(method: str, n: int) -> int:
    """Model calls spent when the caller gives no budget: the explainer's own ``default_budget(n)``
    (grows with ``n``, bounded both ways), else 32 per component, 500 to 5,000.

    For the README's sentence (about 15 words on MiniLM) ProxySPEX's default is 500 masks, a
    few seconds of model time on two cores.
    """
    own = getattr(explainers.get(method), "default_budget", None)
    if callable(own):
        return as_int(own(n), f"{method}.default_budget({n})", minimum=1)
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
    described = getattr(inner, "metadata", None)  # contract keys an ablation fills (None: drop)
    if isinstance(described, dict):
        meta = {k: v for k, v in {**meta, **described}.items() if v is not None}
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


def _check_options(factory: object, options: dict[str, Any], method: str) -> None:
    """Refuse options the explainer's constructor does not take, naming the ones it does."""
    try:
        params = inspect.signature(factory).parameters  # type: ignore[arg-type]  # any callable; non-introspectable ones are handled below
    except (TypeError, ValueError):  # a builtin or C callable: it will say so itself
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # the explainer checks its own options
    check_options(factory, options, method, _CONTRACT + _FROM_EXPLAIN)  # type: ignore[arg-type]  # introspectable: checked above


def _explain_arguments(factory: object, **given: Any) -> dict[str, Any]:
    """The arguments of ``given`` (see ``_FROM_EXPLAIN``) that ``factory``'s signature names."""
    try:
        params = inspect.signature(factory).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in given.items() if k in params}


@overload
def explain(target: object, *, index: Index | None = None, **kwargs: Any) -> Interactions: ...
@overload
def explain(target: object, *, index: Sequence[Index], **kwargs: Any) -> dict[str, Interactions]: ...


def explain(
    target: object,
    *,
    method: Method | str = "auto",
    budget: int | None = None,
    index: Index | Sequence[Index] | None = None,
    design: str | None = None,
    keep: float | None = None,
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
) -> Interactions | dict[str, Interactions]:
    """Explain a model output by the interactions among its components.

    Args:
        target: a value function (``(m, n)`` bool masks, 1 = kept -> ``(m,)`` outputs), an
            :class:`~fastspex.value.Evaluator`, or an ablation object from :mod:`fastspex.ablate`
            (which carries ``n``, ``labels`` and a store key).
        method: "auto" (the default: chooses among exact, ProxySPEX, its Shapley-kernel design,
            SPEX and the sparse polynomial by n, budget, index and cross-validated error on
            the masks already paid for; see :mod:`fastspex.explainers.auto`),
            "proxyspex" (tree proxy), "spex" (coded sparse Fourier recovery),
            "fm" (factorization machine proxy), "lasso" (sparse polynomial proxy) or "greedy"
            (greedy search for a set whose joint ablation moves the output; exact ablation
            interactions of single components and pairs).
        budget: model calls the method may spend (default: :func:`default_budget`). The
            faithfulness hold-out is spent on top.
        index: "fbii", "fsii", "stii", "sii", "ksii" (shapiq's k-SII), "bii", "fourier",
            "mobius" or "ablation" (default: "fbii"; "ablation" for greedy, the only index it
            measures); "sv" (Shapley values: k-SII of order 1) and "bv" (Banzhaf values: BII
            of order 1); shapiq's spellings ("SV", "k-SII", "FSII", …) are accepted too. A sequence of names (``index=("sii", "fbii")``) computes each from the
            one fit on one set of masks and returns ``{name: Interactions}``.
        design: how masks are drawn: "uniform", "bernoulli" (each component kept with
            probability ``keep``), "shapley", "ablate" (ProxySPEX); default: by the index
            (uniform, or the Shapley kernel for sv/sii/ksii/fsii), "bernoulli" when ``keep`` is
            given. The held-out R² uses masks of the same design. SPEX and greedy sample their
            own designs and refuse one.
        keep: keep probability of the Bernoulli design, in (0, 1), e.g. 0.9 for model
            components.
        order: order of fbii/fsii/stii/ksii (default 2, lowered to n when n is smaller); for the other indices the largest set size
            kept (default: all).
        seed: seed of every random choice (``None``: fresh randomness).
        store: evaluation store for resumable runs ("default", an EvalStore, a path or None).
        progress: show progress bars.
        backend: "local" (this process) or "ray" (model replicas on a Ray cluster).
        n: number of components, when the target does not say.
        labels: component names (default: the target's ``labels``, else the ids).
        holdout: fresh masks of the training design for the faithfulness R² (default: a tenth
            of the budget, 64 to 1000; 0 skips it). Not used by greedy.
        backend_options: keyword arguments for the Ray evaluator.
        **method_options: passed to the method (e.g. ProxySPEX's settings, greedy's
            ``threshold``/``max_size``/``direction``).

    A method whose constructor takes an ``index`` argument is given ``index`` (ProxySPEX then
    samples the Shapley-kernel design for the Shapley indices sii, ksii and fsii, and uniform
    masks for the others, unless ``design=`` is passed).
    """
    t0 = time.perf_counter()
    factory = explainers.get(method)  # unknown names: the error lists every registered one
    allowed_indices = getattr(factory, "indices", None)
    if index is None:
        index = allowed_indices[0] if allowed_indices else "fbii"
    many = not isinstance(index, str)
    wanted, implied = _index_list(index)
    for name in wanted:
        if allowed_indices and name not in allowed_indices:
            msg = (f"{method} measures {', '.join(allowed_indices)} only; got index={name!r} "
                   f"(use index={allowed_indices[0]!r})")
            raise ValueError(msg)
    primary = wanted[0]  # the first index chooses the design (e.g. the Shapley kernel)
    order_given = order is not None
    if order is not None:
        order = as_int(order, "order", minimum=1)
        if implied is not None and order != implied:
            msg = (f"index {index!r} is of order {implied}; got order={order} (leave order out, "
                   "or ask for 'ksii'/'bii' of that order)")
            raise ValueError(msg)
    elif implied is not None:
        order, order_given = implied, True
    elif any(name in NEEDS_ORDER for name in wanted):
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
    if any(name in NEEDS_ORDER for name in wanted) and order is not None and order > n:
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
    _check_options(factory, method_options, method)  # even when the exact path replaces it
    _check_design(factory, method, design, keep)
    if getattr(factory, "replaced_by_exact", True) and covers_all_masks(n, budget):
        notes.append(f"the budget ({budget:,}) covers all 2^{n} = {1 << n:,} masks: "
                     f"explained exactly instead of by {method}")
        method, factory, method_options = "exact", explainers.get("exact"), {}
        design = keep = None  # all 2^n masks: no design to choose
    if not getattr(factory, "uses_holdout", True):
        holdout = 0  # greedy measures no expansion; exact measures on all 2^n masks
    elif holdout is None:
        holdout = int(np.clip(budget // 10, 64, 1000))
    holdout = as_int(holdout, "holdout", minimum=0)

    ev: Any  # an Evaluator or the Ray evaluator: the same call, calls and n
    if backend == "ray":
        try:
            from .evaluation.ray_backend import make_ray_evaluator
        except ImportError as err:
            msg = "backend='ray' needs fastspex.ray_backend and ray: pip install fastspex[ray]"
            raise ImportError(msg) from err
        ev = make_ray_evaluator(target, n, store=store, progress=progress, **(backend_options or {}))  # type: ignore[arg-type]  # store is checked by the evaluator
    else:
        if backend_options:
            msg = "backend_options apply to backend='ray' only"
            raise ValueError(msg)
        ev = as_evaluator(target, n, store=store, progress=progress)
    before = counts(ev)
    model_before = float(getattr(ev, "model_seconds", 0.0))

    given = {"index": primary, **({"design": design} if design is not None else {}),
             **({"keep": keep} if keep is not None else {})}
    explainer = factory(budget, seed=seed_value, progress=progress, holdout=holdout,
                        **_explain_arguments(factory, **given), **method_options)
    try:  # (m, d) outputs: one fit per output on the same masks (fastspex.multi_output)
        with multi_output.detecting(ev):
            result = explainer.fit(ev, progress=progress)
    except multi_output.SeveralOutputs as several:
        if many:
            msg = ("a value function with several outputs is explained one index at a time; "
                   f"got index={list(wanted)} (pass one index)")
            raise ValueError(msg) from None
        return multi_output.explain_each(several, explain, ev, _describe(target)[0], dict(
            method=requested, budget=budget, index=primary, design=design, keep=keep, order=order,
            seed=seed, progress=progress, holdout=holdout, labels=names, **method_options),
            before, t0, model_before)
    method_settings = dict(result.settings)
    ran = str(method_settings.get("method", method)) if method == "auto" else method
    calls = calls_since(ev, before)
    # masks drawn for the hold-out (repeats of paid-for masks cost no call); an exact run draws none
    held = int(method_settings.get("holdout_masks", holdout))
    notes.extend(str(x) for x in method_settings.get("notes", []) or [])
    settings = {
        "method": ran, "requested_method": requested, "notes": notes, "budget": budget,
        "index": primary, "order": order, "seed": seed, "holdout": holdout, "backend": backend,
        "n": n, "options": dict(method_options), "method_settings": method_settings,
        "design": method_settings.get("design", _own_design(method)),
        "design_reason": method_settings.get("design_reason", "the method samples its own masks"),
        "fit_masks": int(method_settings.get("fit_masks", max(0, calls["total"] - held))),
        "holdout_masks": held,
        "calls": calls,
    }
    if "auto" in method_settings:
        settings["auto"] = method_settings["auto"]
    if many:
        settings["indices"] = list(wanted)
        settings["index_accuracy"] = _index_accuracy(wanted, result.faithfulness, method)
    timings = {**{f"{ran}.{k}": float(v) for k, v in result.timings.items()}}
    out: dict[str, Interactions] = {}
    shared: dict[str, Any] = {}  # what the indices of this one fit share (the residual's pairs)
    for name in wanted:
        values = indices.compute_index(result.coefficients, name, order)  # type: ignore[arg-type]  # checked by _index_list
        values, correction = _residual_sii(values, result, shared)
        inter = Interactions.from_index(
            values, order=order, baseline=result.baseline, surrogate=result.coefficients,
            labels=names, kind=kind, metadata=dict(meta), method=ran, budget=budget,
        )
        for what, found in result.diagnostics.items():  # what the method found, in JSON form
            summary = getattr(found, "summary", None)
            if callable(summary):
                inter.metadata[what] = summary()
        inter.faithfulness = result.faithfulness
        inter.calls = calls["new"]
        inter.settings = {**settings, "index": name}
        if correction is not None:
            inter.settings["sii_correction"] = correction
        inter.timings = {**timings, "total": time.perf_counter() - t0}
        out[name] = inter
    return out if many else out[wanted[0]]


def _residual_sii(values: Any, result: Any, cache: dict[str, Any]
                  ) -> tuple[Any, dict[str, Any] | None]:
    """SII / k-SII / STII read from a surrogate fitted on the Shapley-kernel design, plus the
    residual's estimated pairs on the same masks (:mod:`.explainers.sii_residual`): the
    surrogate is fitted to FSII's objective, and the SII or STII of a pair weights the
    higher-order terms it truncated differently. ``(values, None)`` when it does not apply;
    ``cache`` keeps one estimate per family (SII and k-SII of the same fit share theirs)."""
    training = result.diagnostics.get("training")
    if (getattr(values, "index", None) not in ("sii", "ksii", "stii") or training is None
            or result.settings.get("design") != "shapley"):
        return values, None
    from .explainers import sii_residual

    why = sii_residual.why_not(values)
    if why is not None:
        return values, {"applied": False, "why": why}
    family = sii_residual.family(values.index)
    if family not in cache:
        x = training.masks.to_bool() if hasattr(training.masks, "to_bool") else training.masks
        cache[family] = sii_residual.residual_pairs(result.coefficients, x, training.outputs,
                                                    family)
    return sii_residual.corrected_index(values, *cache[family])


def _index_list(index: object) -> tuple[list[str], int | None]:
    """The index names asked for (one name or a non-empty sequence of distinct names), checked
    and resolved (``"SV"`` -> ``"ksii"``), with the order an alias implies (``None``: none)."""
    given = [index] if isinstance(index, str) else list(index) if isinstance(index, (list, tuple)) else None
    if not given:
        msg = f"index must be one of {', '.join(INDICES)} or a non-empty tuple of them; got {index!r}"
        raise ValueError(msg)
    names: list[str] = []
    implied: set[int | None] = set()
    for name in given:
        resolved, order = resolve_index(name) if isinstance(name, str) else (name, None)
        if resolved not in INDICES:
            msg = (f"index must be one of {', '.join(INDICES)} (or sv, bv: Shapley and Banzhaf "
                   f"values); got {name!r}")
            raise ValueError(msg)
        names.append(str(resolved))
        implied.add(order)
    if len(set(names)) != len(names):
        msg = f"index lists a name twice: {list(given)}"
        raise ValueError(msg)
    if len(implied) > 1:
        msg = f"index mixes order-1 values (sv, bv) with other indices: {list(given)}; ask for them apart"
        raise ValueError(msg)
    return names, implied.pop()


def _check_design(factory: object, method: str, design: str | None, keep: float | None) -> None:
    """Refuse a design (or keep) the method cannot sample, in one line naming the ones that can."""
    if design is None and keep is None:
        return
    try:
        params = inspect.signature(factory).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    takes = {"design", "keep"} <= set(params) or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not takes:
        what = f"design={design!r}" if design is not None else f"keep={keep!r}"
        msg = (f"method={method!r} samples its own masks and cannot use {what}; "
               f"use method='proxyspex', 'lasso', 'fm' or 'auto'")
        raise ValueError(msg)


def _own_design(method: str) -> str:
    """How a method that takes no design samples its masks (``settings["design"]``)."""
    return {"spex": "spex (coded aliasing masks)", "exact": "all 2^n masks",
            "greedy": "greedy (singles, then growing sets)"}.get(method, "the method's own")


def _index_accuracy(wanted: list[str], r2: float | None, method: str) -> dict[str, Any]:
    """What is known of each index's accuracy: exact on the exact path, else the held-out R² of
    the one expansion every index is computed from (an index is a fixed linear map of it)."""
    if method == "exact":
        return {name: {"exact": True} for name in wanted}
    return {name: {"exact": False, "surrogate_r2": r2} for name in wanted}
