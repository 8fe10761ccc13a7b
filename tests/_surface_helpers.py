"""Stand-ins shared by the surface tests: a tiny exact "explainer" and a fake ablation object.

They let explain(), plots, the report and the CLI be tested before (and independently of) the
real ProxySPEX and ablation modules; the tests that need the real ones importorskip them.
"""

from __future__ import annotations

import numpy as np
from fastspex import dense, indices
from fastspex import masks as M
from fastspex.coefficients import Coefficients
from fastspex.explainers.result import Explanation, measure_faithfulness
from fastspex.interactions import Interactions


class DenseExplainer:
    """An explainer by the contract: evaluates every mask (n ≤ 12) and transforms exactly."""

    def __init__(self, budget: int = 0, *, seed: int = 0, progress=None, holdout: int = 0,
                 n_threads=None, tol: float = 1e-12) -> None:
        self.budget, self.seed, self.holdout, self.tol = budget, seed, holdout, tol

    def fit(self, fn, n=None, *, store=None, key=None, progress=None) -> Explanation:
        n = n if n is not None else fn.n
        table = np.asarray(fn(M.exhaustive(n).to_bool()), dtype=float)
        F = dense.fourier_from_table(table)
        keep = np.flatnonzero(np.abs(F) > self.tol)
        supports = {tuple(j for j in range(n) if (s >> j) & 1): float(F[s]) for s in keep}
        coefs = Coefficients.from_dict(supports, n, "fourier")
        r2, _ = measure_faithfulness(fn, lambda m: indices.evaluate(coefs, m), n, self.holdout, self.seed)
        return Explanation(coefficients=coefs, n=n, calls=len(table), baseline=float(table[-1]),
                           faithfulness=r2, timings={"algorithm": 0.0},
                           settings={"budget": self.budget, "seed": self.seed})


def install_dense_explainers(monkeypatch, names=("proxyspex", "spex", "fm", "lasso")) -> None:
    """Make ``explain(method=...)`` use the exact dense stand-in for each named method."""
    from fastspex import explainers

    for name in names:
        monkeypatch.setitem(explainers._REGISTERED, name, DenseExplainer)


class FakeFeatureAblation:
    """A feature-ablation-shaped value function over the words of a sentence."""

    kind = "features"

    def __init__(self, text: str = "the movie was not bad at all") -> None:
        self.text = text
        words = text.split()
        self.labels = words
        self.n = len(words)
        spans, pos = [], 0
        for w in words:
            start = text.index(w, pos)
            spans.append((start, start + len(w)))
            pos = start + len(w)
        self.units = spans
        self.cache_key = None
        rng = np.random.default_rng(3)
        self._w = rng.normal(0, 0.3, self.n)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        m = np.asarray(masks, dtype=float)
        out = m @ self._w
        if self.n >= 5:  # "not" × "bad": the negation flips the sentiment of "bad"
            out += -1.5 * m[:, 4] + 2.5 * m[:, 3] * m[:, 4] - 0.8 * m[:, 1] * m[:, 2]
        return out


class FakeHeadAblation:
    """A component-ablation-shaped value function over L layers × H heads."""

    kind = "components"

    def __init__(self, n_layers: int = 2, n_heads: int = 4) -> None:
        self.n_layers, self.n_heads = n_layers, n_heads
        self.n = n_layers * n_heads
        self.labels = [f"L{l}.H{h}" for l in range(n_layers) for h in range(n_heads)]
        self.cache_key = None

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        m = np.asarray(masks, dtype=float)
        return 1.0 * m[:, 0] + 0.5 * m[:, 5] + 1.2 * m[:, 1] * m[:, 6] - 0.4 * m[:, 2]


def sample_interactions(kind: str = "features") -> Interactions:
    """An exact FBII result for the fake ablations (surrogate included)."""
    fn = FakeFeatureAblation() if kind == "features" else FakeHeadAblation()
    res = DenseExplainer().fit(fn)
    idx = indices.fbii(res.coefficients, 2)
    meta = {"text": fn.text, "units": fn.units} if kind == "features" else {
        "n_layers": fn.n_layers, "n_heads": fn.n_heads}
    return Interactions.from_index(
        idx, labels=fn.labels, baseline=res.baseline, surrogate=res.coefficients,
        method="dense", calls=res.calls, budget=res.calls, faithfulness=1.0, kind=kind,
        metadata=meta, settings={"method": "dense", "index": "fbii", "order": 2},
    )


def install_fake_methods(monkeypatch) -> None:
    """Make ``proxyspex`` / ``spex`` the exact dense stand-in."""
    install_dense_explainers(monkeypatch, ("proxyspex", "spex"))


def install_fake_ablate(monkeypatch, calls: list | None = None) -> None:
    """A ``fastspex.ablate`` stand-in: an "encoder" whose ablations are the fakes above."""
    import sys
    import types

    mod = types.ModuleType("fastspex.ablate")

    class LM:
        kind = "encoder"

    def load_model(name=None, *, device=None):
        if calls is not None:
            calls.append(("load_model", name, device))
        return LM()

    def feature(text, lm, *, unit="word", ablation="remove", query=None, target=None):
        if calls is not None:
            calls.append(("features", text, unit, ablation, query, target))
        return FakeFeatureAblation(text)

    def component(text, lm, *, components="heads", method="zero", query=None, target=None):
        if calls is not None:
            calls.append(("components", text, components, method, query, target))
        return FakeHeadAblation()

    mod.load_model = load_model  # type: ignore[attr-defined]
    mod.FeatureAblation = feature  # type: ignore[attr-defined]
    mod.ComponentAblation = component  # type: ignore[attr-defined]
    # Once the real package is imported, `from . import ablate` finds it as an attribute of
    # fastspex before looking in sys.modules, so the stand-in replaces that too — first,
    # because reading its old value may import the real package through fastspex's lazy
    # names, which must not find the stand-in already in sys.modules.
    import fastspex

    monkeypatch.setattr(fastspex, "ablate", mod, raising=False)
    monkeypatch.setitem(sys.modules, "fastspex.ablate", mod)
