"""Several outputs per mask: a value function returning ``(m, d)`` is explained output by
output on the same masks, within one budget of model calls.

Every explainer draws its masks from the seed alone, so fitting output ``j`` asks for the
masks output ``0`` asked for; the shared :class:`~fastspex.evaluation.evaluator.Evaluator`
answers them from its memo (or the store), and the model runs once per mask. Adaptive methods
(greedy) may ask each output for other masks: those cost model calls of their own, and
``settings["calls"]`` says how many were made in all.

The result returned is the combination of the outputs when the value function names a
meaningful one (``combination = (name, weights)``: the answer's log-probability as the sum of
its tokens', a contrast as a difference), else its ``primary`` output (default the first);
``metadata["outputs"]`` holds every output's result, and :func:`outputs` rebuilds them.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .evaluation.evaluator import calls_since
from .results.describe import unique_labels
from .results.interactions import Interactions

__all__ = ["SeveralOutputs", "detecting", "explain_each", "outputs"]


class SeveralOutputs(Exception):
    """Raised by an evaluator in :func:`detecting` mode when outputs have ``d > 1`` columns."""

    def __init__(self, d: int) -> None:
        super().__init__(f"the value function returns {d} outputs per mask")
        self.d = d


@contextlib.contextmanager
def detecting(ev: Any) -> Iterator[None]:
    """While inside, ``ev`` raises :class:`SeveralOutputs` on its first vector output (its
    outputs are stored and memoised first, so nothing is evaluated twice)."""
    if not hasattr(ev, "several_outputs"):
        yield  # another evaluator (e.g. Ray's): scalar outputs only
        return
    before = ev.several_outputs
    ev.several_outputs = "raise"
    try:
        yield
    finally:
        ev.several_outputs = before


class _Column:
    """Output ``j`` (or a weighted sum of outputs) of a shared evaluator, as a value function."""

    def __init__(self, ev: Any, weights: np.ndarray, like: Any, quantity: str) -> None:
        self.ev = ev
        self.weights = weights
        self.n = ev.n
        self.batch_size = getattr(ev, "batch_size", 64)
        self.cache_key = None  # the shared evaluator stores; this view adds nothing to store
        for name in ("labels", "kind", "text", "units", "unit", "model_name", "n_layers", "n_heads"):
            value = getattr(like, name, None)
            if value is not None and not callable(value):
                setattr(self, name, value)
        described = getattr(like, "metadata", None)
        self.metadata = {k: v for k, v in (described if isinstance(described, dict) else {}).items()
                         if k not in ("output_names", "combination", "primary")}
        self.metadata["quantity"] = quantity

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        out = np.asarray(self.ev(masks), dtype=np.float64)
        if out.ndim == 1 or out.shape[1] != len(self.weights):
            msg = f"the value function changed its number of outputs to {out.shape[1:]}"
            raise ValueError(msg)
        return out @ self.weights


def _names(inner: Any, d: int) -> list[str]:
    """The outputs' names, unique (a repeated name gets its position, as labels do), so
    :func:`outputs` keeps every output."""
    names = getattr(inner, "output_names", None)
    if isinstance(names, (list, tuple)) and len(names) == d:
        return unique_labels([str(x) for x in names])
    return [f"output {j}" for j in range(d)]


def explain_each(
    found: SeveralOutputs, explain: Callable[..., Interactions], ev: Any, inner: Any,
    arguments: dict[str, Any], before: tuple[int, int, int], started: float, model_before: float,
) -> Interactions:
    """One result per output of ``ev`` (and their combination), each fitted by ``explain``
    with ``arguments`` on the same masks; ``inner`` is the explained object (names, weights).

    ``started`` (a ``perf_counter`` reading) and ``model_before`` (``ev.model_seconds`` then)
    mark the run's start, so the returned result's timings cover every output's fit."""
    d = found.d
    names = _names(inner, d)
    per: list[tuple[str, Interactions]] = []
    for j, name in enumerate(names):
        res = explain(_Column(ev, np.eye(d)[j], inner, name), store=None, **arguments)
        res.metadata["output_name"] = name
        per.append((name, res))
    combination = getattr(inner, "combination", None)
    if combination is not None:
        label, weights = combination[0], np.asarray(combination[1], dtype=np.float64)
        if weights.shape != (d,):
            msg = f"combination weights have shape {weights.shape} for {d} outputs"
            raise ValueError(msg)
        primary = explain(_Column(ev, weights, inner, str(label)), store=None, **arguments)
        primary.metadata["output_name"] = str(label)
    else:
        j = int(getattr(inner, "metadata", {}).get("primary", 0) or 0)
        primary = per[j][1]
        primary = copy.deepcopy(primary)  # its own copy: it also lists every output
    total_calls = calls_since(ev, before)
    new = total_calls["new"]
    fits = [res for _, res in per] + ([primary] if combination is not None else [])
    for _, res in per + [("", primary)]:
        res.calls = new
        res.settings["calls"] = dict(total_calls)
        res.settings["outputs"] = d
    # The fits after the first read the memo: the model's time is the evaluator's, for the run.
    primary.timings = {
        "model": float(getattr(ev, "model_seconds", 0.0)) - model_before,
        "algorithm": sum(v for r in fits for k, v in r.timings.items() if k.endswith(".algorithm")),
        "total": time.perf_counter() - started,
    }
    primary.metadata["output_names"] = names
    primary.metadata["outputs"] = [{"name": name, "result": res.to_json_dict()} for name, res in per]
    return primary


def outputs(res: Interactions) -> dict[str, Interactions]:
    """Every output's result of a several-output explanation, by output name (empty when the
    explanation had one output)."""
    return {str(item["name"]): Interactions.from_json_dict(item["result"])
            for item in res.metadata.get("outputs", []) or []}
