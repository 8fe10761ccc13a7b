"""Greedy interaction search: a small set of components whose joint ablation moves the output.

Starting from nothing ablated, each step adds the component — or, where single components move
nothing, the pair — whose ablation *together with the set found so far* moves the output most.
The movement is measured jointly, never predicted by summing single effects, so a set that only
matters as a whole (two redundant cues: either one alone keeps the output) is found too; each
step records how far its joint effect is beyond the additive prediction (its synergy). The
search stops when the output crosses ``threshold``, at ``max_size`` components, when the budget
of evaluations is spent, or when nothing moves the output further. After crossing a threshold
the set is pruned: a member whose removal still crosses it is dropped, so the answer is minimal
in the sense that no single member can be left out.

It runs on the model (a value function or :class:`~fastspex.value.Evaluator`, where every
evaluation is a model call and ``budget`` counts them) or on a fitted proxy (anything with
``evaluate(masks)``: an :class:`~fastspex.interactions.Interactions`, an explainer result,
:class:`~fastspex.coefficients.Coefficients`), where evaluations are free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._validate import as_int
from ..coefficients import Coefficients

__all__ = ["Greedy", "GreedyResult", "GreedyStep", "ablation_surrogate", "greedy_search"]

Direction = Literal["decrease", "increase", "either"]


@dataclass(frozen=True)
class GreedyStep:
    """One step: the components added, the output after ablating the whole set, and the
    movement gained beyond the additive prediction (``synergy``)."""

    added: tuple[int, ...]
    output: float
    gain: float
    additive_gain: float
    synergy: float


@dataclass
class GreedyResult:
    """Outcome of :func:`greedy_search`.

    ``selected`` lists the components in the order they were added; ``minimal`` is the pruned
    set (equal to ``selected`` unless a threshold was crossed and a member proved unnecessary).
    ``output`` is the output with ``minimal`` ablated; ``crossed`` says whether it is on the
    other side of ``threshold``. ``single_effects[i] = f(1 - e_i) - f(1)``; ``pair_effects`` maps
    evaluated pairs to ``f(1 - e_i - e_j) - f(1)``. ``calls`` counts distinct masks evaluated.
    """

    selected: list[int]
    minimal: list[int]
    labels: list[str]
    baseline: float
    output: float
    threshold: float | None
    crossed: bool
    direction: str
    stop_reason: str
    calls: int
    steps: list[GreedyStep] = field(default_factory=list)
    single_effects: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pair_effects: dict[tuple[int, int], float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The outcome in JSON form (kept in the result's metadata)."""
        return {
            "selected": self.selected, "minimal": self.minimal, "output": self.output,
            "threshold": self.threshold, "crossed": self.crossed,
            "stop_reason": self.stop_reason, "direction": self.direction,
        }

    @property
    def names(self) -> list[str]:
        """Labels of the minimal set."""
        return [self.labels[i] for i in self.minimal]

    def __repr__(self) -> str:
        return (
            f"GreedyResult(minimal={self.names}, output={self.output:.4g} "
            f"(baseline {self.baseline:.4g}), crossed={self.crossed}, stop={self.stop_reason!r}, "
            f"calls={self.calls})"
        )


class _Oracle:
    """Memoised evaluation of ablated sets with a budget of distinct masks."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], n: int, budget: int | None) -> None:
        self.fn, self.n, self.budget = fn, n, budget
        self.memo: dict[frozenset[int], float] = {}

    @property
    def calls(self) -> int:
        return len(self.memo)

    def affordable(self, sets: Sequence[frozenset[int]]) -> bool:
        new = sum(1 for s in set(sets) if s not in self.memo)
        return self.budget is None or self.calls + new <= self.budget

    def __call__(self, sets: Sequence[frozenset[int]]) -> np.ndarray:
        todo = list(dict.fromkeys(s for s in sets if s not in self.memo))
        # Chunks bound the bool matrix handed over (n = 10⁴ pairs would not fit at once).
        chunk = max(1, (1 << 24) // self.n)
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            masks = np.ones((len(part), self.n), dtype=bool)
            for r, s in enumerate(part):
                masks[r, list(s)] = False
            out = np.asarray(self.fn(masks), dtype=np.float64)
            if out.ndim != 1 or len(out) != len(part):
                msg = f"expected {len(part)} scalar outputs, got shape {out.shape}"
                raise ValueError(msg)
            if not np.all(np.isfinite(out)):
                msg = "the evaluated function returned NaN or inf"
                raise ValueError(msg)
            self.memo.update(zip(part, out.tolist()))
        return np.array([self.memo[s] for s in sets])


def _resolve(target: object, n: int | None) -> tuple[Callable[[np.ndarray], np.ndarray], int, list[str] | None]:
    if isinstance(target, Coefficients):
        from .. import indices

        return (lambda m: indices.evaluate(target, m)), target.n, None
    labels = getattr(target, "labels", None)
    inner = getattr(target, "fn", None)
    if labels is None and inner is not None:
        labels = getattr(inner, "labels", None)
    evaluate = getattr(target, "evaluate", None)
    if callable(evaluate) and not callable(target):
        fn = evaluate
    elif callable(target):
        fn = target
    elif callable(evaluate):
        fn = evaluate
    else:
        msg = (
            "greedy_search needs a value function, an Evaluator, or a fitted proxy with "
            f"evaluate(masks); got {type(target).__name__}"
        )
        raise TypeError(msg)
    n = n if n is not None else getattr(target, "n", None)
    if n is None and inner is not None:
        n = getattr(inner, "n", None)
    if n is None:
        msg = "pass n (the number of components): the target has no `n` attribute"
        raise ValueError(msg)
    return fn, as_int(n, "n", minimum=1), list(labels) if labels is not None else None


def greedy_search(
    target: object,
    *,
    budget: int | None = None,
    threshold: float | None = None,
    max_size: int | None = None,
    direction: Direction | None = None,
    pairs: bool | None = None,
    n: int | None = None,
    labels: Sequence[str] | None = None,
    prune: bool = True,
    tol: float = 1e-12,
    max_pairs: int = 20000,
) -> GreedyResult:
    """Grow a set of components whose joint ablation moves the output most.

    Args:
        target: a value function / Evaluator (the model) or a fitted proxy with ``evaluate``.
        budget: most distinct masks to evaluate (``None``: no limit — right for proxies).
        threshold: stop once the output crosses this value (from the baseline's side).
        max_size: largest set to grow (default: ``min(n, 10)``).
        direction: "decrease" or "increase" the output, or "either" (by |change|). Default:
            towards ``threshold`` when given, else "decrease".
        pairs: also try adding pairs each step (finds components that only matter together);
            ``None`` = when the budget allows it and there are at most ``max_pairs`` of them.
        n: number of components, when the target does not say.
        labels: component names (default: the target's ``labels`` or ids).
        prune: after crossing ``threshold``, drop members that are not needed.
        tol: movements at most this are treated as no movement.
        max_pairs: most candidate pairs per step tried by default (``pairs=None``).
    """
    fn, n, target_labels = _resolve(target, n)
    if labels is None:
        labels = target_labels
    labels = [str(x) for x in labels] if labels is not None else [str(i) for i in range(n)]
    if len(labels) != n:
        msg = f"labels has {len(labels)} names for n = {n} components"
        raise ValueError(msg)
    if budget is not None:
        budget = as_int(budget, "budget", minimum=2)
    max_size = min(n, 10) if max_size is None else as_int(max_size, "max_size", minimum=1)
    if max_size > n:
        msg = f"max_size = {max_size} exceeds the n = {n} components"
        raise ValueError(msg)
    if threshold is not None:
        threshold = float(threshold)
        if not np.isfinite(threshold):
            msg = "threshold must be a finite number"
            raise ValueError(msg)
    if direction is not None and direction not in ("decrease", "increase", "either"):
        msg = f"direction must be 'decrease', 'increase' or 'either'; got {direction!r}"
        raise ValueError(msg)
    if pairs not in (None, True, False):
        msg = f"pairs must be True, False or None; got {pairs!r}"
        raise TypeError(msg)
    tol = float(tol)
    max_pairs = as_int(max_pairs, "max_pairs", minimum=0)

    oracle = _Oracle(fn, n, budget)
    empty: frozenset[int] = frozenset()
    singles = [frozenset((i,)) for i in range(n)]
    if not oracle.affordable([empty, *singles]):
        msg = f"budget = {budget} cannot cover the {n + 1} masks of the first step"
        raise ValueError(msg)
    outs = oracle([empty, *singles])
    base = float(outs[0])
    single_out = outs[1:]
    if direction is None:
        direction = "decrease" if threshold is None or threshold <= base else "increase"
    if threshold is not None and direction != "either" and (threshold > base) != (direction == "increase"):
        msg = (
            f"threshold {threshold} lies on the wrong side of the baseline output {base:.6g} "
            f"for direction {direction!r}"
        )
        raise ValueError(msg)

    def move(values: np.ndarray) -> np.ndarray:
        d = values - base
        return -d if direction == "decrease" else d if direction == "increase" else np.abs(d)

    def crossed(value: float) -> bool:
        if threshold is None:
            return False
        return value <= threshold if threshold <= base else value >= threshold

    single_move = move(single_out)
    current: list[int] = []
    cur_out, cur_move = base, 0.0
    steps: list[GreedyStep] = []
    pair_effects: dict[tuple[int, int], float] = {}
    stop = "max_size"
    while len(current) < max_size:
        if crossed(cur_out):
            stop = "threshold"
            break
        S = frozenset(current)
        rest = [i for i in range(n) if i not in S]
        if not rest:
            stop = "exhausted"
            break
        cand1 = [S | {i} for i in rest]
        if not oracle.affordable(cand1):
            stop = "budget"
            break
        g1 = move(oracle(cand1)) - cur_move
        cand2: list[tuple[int, int]] = []
        g2 = np.zeros(0)
        if len(current) + 2 <= max_size and len(rest) >= 2:
            cand2 = [(a, b) for x, a in enumerate(rest) for b in rest[x + 1 :]]
            sets2 = [S | {a, b} for a, b in cand2]
            use = pairs if pairs is not None else (
                len(sets2) <= max_pairs and oracle.affordable(sets2)
            )
            if use and not oracle.affordable(sets2):
                stop = "budget"
                break
            if use:
                out2 = oracle(sets2)
                g2 = move(out2) - cur_move
                if not current:
                    pair_effects.update({p: float(o - base) for p, o in zip(cand2, out2)})
            else:
                cand2 = []
        b1 = int(np.argmax(g1))
        added: tuple[int, ...]
        best_gain, added = float(g1[b1]), (rest[b1],)
        # A pair wins only if it beats the best single per component added: pairs are for
        # components that move nothing alone, not a way to take two steps at once.
        if len(g2):
            b2 = int(np.argmax(g2))
            if g2[b2] / 2 > best_gain + tol:
                best_gain, added = float(g2[b2]), cand2[b2]  # a pair
        if best_gain <= tol:
            stop = "no_gain"
            break
        additive = float(sum(single_move[i] for i in added))
        current.extend(added)
        cur_out = float(oracle([frozenset(current)])[0])
        cur_move += best_gain
        steps.append(GreedyStep(tuple(added), cur_out, best_gain, additive, best_gain - additive))
    else:
        stop = "threshold" if crossed(cur_out) else "max_size"
    if stop == "max_size" and crossed(cur_out):
        stop = "threshold"

    minimal = list(current)
    if prune and threshold is not None and crossed(cur_out):
        changed = True
        while changed and len(minimal) > 1:
            changed = False
            # Try to drop the member whose removal moves the output least first.
            trial = [frozenset(minimal) - {i} for i in minimal]
            if not oracle.affordable(trial):
                break
            outs_t = oracle(trial)
            for idx in np.argsort(-move(outs_t), kind="stable"):
                if crossed(float(outs_t[idx])):
                    minimal.remove(minimal[int(idx)])
                    changed = True
                    break
    final = float(oracle([frozenset(minimal)])[0]) if minimal else base
    return GreedyResult(
        selected=current, minimal=minimal, labels=labels, baseline=base, output=final,
        threshold=threshold, crossed=crossed(final), direction=direction, stop_reason=stop,
        calls=oracle.calls, steps=steps, single_effects=single_out - base,
        pair_effects=pair_effects,
        settings={"budget": budget, "threshold": threshold, "max_size": max_size,
                  "direction": direction, "pairs": pairs, "prune": prune, "tol": tol,
                  "max_pairs": max_pairs},
    )


def ablation_surrogate(result: GreedyResult, n: int) -> Coefficients:
    """The Fourier expansion that reproduces every mask greedy evaluated with at most two
    components ablated: ``f̂(x) = Σ_S a_S Π_{i∈S}(1 − xᵢ)`` over ``S = ∅``, the singles and the
    evaluated pairs, with ``a_∅ = f(1)``, ``aᵢ = f(1 − eᵢ) − f(1)`` and
    ``a_ij = f(1 − eᵢ − eⱼ) − f(1 − eᵢ) − f(1 − eⱼ) + f(1)``. Its ablation interactions at the
    full input are exactly the measured ``Δ_S = (−1)^|S| a_S``; pairs greedy never evaluated
    have none."""
    from ..coefficients import Coefficients

    s = np.asarray(result.single_effects, np.float64)
    pair_terms = {ij: float(p - s[ij[0]] - s[ij[1]]) for ij, p in sorted(result.pair_effects.items())}
    # Π_{i∈S}(1 − xᵢ) = Σ_{T⊆S} (−1)^|T| x_T: the Möbius (x-basis) coefficient of T collects
    # (−1)^|T| a_S over the S ⊇ T.
    mobius = np.zeros(n)
    const = float(result.baseline) + float(s.sum()) + sum(pair_terms.values())
    mobius -= s
    terms: dict[tuple[int, ...], float] = {}
    for (i, j), a in pair_terms.items():
        mobius[i] -= a
        mobius[j] -= a
        terms[(i, j)] = a
    terms[()] = const
    for i in range(n):
        terms[(i,)] = float(mobius[i])
    from .. import indices

    return indices.to_fourier(Coefficients.from_dict(terms, n, "mobius"))


class Greedy:
    """Explainer: :func:`greedy_search` on the model, returned in the shape of every explainer.

    The explanation's expansion is :func:`ablation_surrogate` (exact on every evaluated mask
    with at most two components ablated); the set found, its output and why the search stopped
    are in ``diagnostics["greedy"]`` (a :class:`GreedyResult`). ``options`` go to
    :func:`greedy_search` (``threshold``, ``max_size``, ``direction``, ``pairs``, …).
    """

    indices = ("ablation",)  # the only index its evaluations determine
    uses_holdout = False  # it measures sets, not a fitted function
    replaced_by_exact = False  # its answer is a set, which all 2^n masks do not give by themselves

    @staticmethod
    def default_budget(n: int) -> int:
        """Enough calls for the singles and three rounds over the pairs, at most 20,000."""
        return int(min(20000, 1 + n + 3 * (n + n * (n - 1) // 2)))

    def __init__(self, budget: int | None = None, *, seed: int | None = 0,
                 n_threads: int | None = None, progress: bool | None = None, holdout: int = 0,
                 labels: Sequence[str] | None = None, **options: Any) -> None:
        from .result import check_options

        self.budget = None if budget is None else as_int(budget, "budget", minimum=2)
        self.seed, self.n_threads, self.progress = seed, n_threads, progress
        self.holdout = as_int(holdout, "holdout", minimum=0)
        self.labels = labels
        check_options(greedy_search, options, "greedy", ("target", "budget", "n", "labels"))
        self.options = options

    def fit(self, fn: Any, n: int | None = None, *, store: Any = "default", key: str | None = None,
            progress: bool | None = None) -> Any:
        """Search ``fn`` (a value function or an Evaluator) for the set that moves it most."""
        import time

        from ..evaluation.evaluator import as_evaluator
        from .result import Explanation, measure_faithfulness

        t0 = time.perf_counter()
        ev = as_evaluator(fn, n, store=store, key=key,
                          progress=self.progress if progress is None else progress)
        calls0 = ev.calls
        found = greedy_search(ev, budget=self.budget, n=ev.n, labels=self.labels, **self.options)
        coefs = ablation_surrogate(found, ev.n)
        from .. import indices

        r2, _ = measure_faithfulness(ev, lambda m: indices.evaluate(coefs, m), ev.n, self.holdout,
                                     0 if self.seed is None else int(self.seed), what="greedy")
        total = time.perf_counter() - t0
        return Explanation(
            coefficients=coefs, n=ev.n, calls=ev.calls - calls0, baseline=found.baseline,
            faithfulness=r2, timings={"total": total},
            settings={"budget": self.budget, **found.settings},
            diagnostics={"greedy": found},
        )
