"""The screened explainer: ablation scores against brute force, recovery of known functions."""

from __future__ import annotations

import numpy as np
import pytest
from fastspex import indices
from fastspex.coefficients import Coefficients
from fastspex.explainers.screening import Screened, ablation_scores, screen
from fastspex.masks import bernoulli, random_subsets
from fastspex.synthetic import PlantedFunction


def test_ablation_scores_match_a_two_sample_t_by_hand(rng: np.random.Generator) -> None:
    n, m = 70, 300
    masks = bernoulli(m, n, 0.7, seed=3)
    x = masks.to_bool()
    y = rng.normal(size=m) + 2.0 * ~x[:, 5]
    scores, counts = ablation_scores(masks, y)
    sd = y.std(ddof=1)
    for j in range(n):
        ab, kp = y[~x[:, j]], y[x[:, j]]
        assert counts[j] == len(ab)
        expect = (ab.mean() - kp.mean()) / (sd * np.sqrt(1 / len(ab) + 1 / len(kp)))
        assert scores[j] == pytest.approx(expect, rel=1e-9, abs=1e-12)
    assert screen(masks, y, 1).tolist() == [5]
    never = random_subsets(50, 1000, num_ablated=1, seed=0)  # most components never ablated
    s, c = ablation_scores(never, rng.normal(size=50))
    assert np.all(s[c == 0] == 0) and len(screen(never, rng.normal(size=50), 900)) == int((c > 0).sum())


def _known(n: int) -> PlantedFunction:
    terms = {(3,): 1.0, (10,): -0.8, (400,): 0.6, (3, 10): 0.7, (10, 400): -0.5, (777,): 0.9}
    return PlantedFunction(Coefficients.from_dict({(): 0.3, **terms}, n=n))


@pytest.mark.parametrize("design", ["uniform", "bernoulli", "ablate"])
def test_recovers_a_known_function_exactly(design: str) -> None:
    n = 1000
    f = _known(n)
    # local designs that co-ablate each planted pair in >= 3 of the masks (else it is not identifiable)
    opts = {"keep": 0.9} if design == "bernoulli" else {"num_ablated": (50, 150)} if design == "ablate" else {}
    ex = Screened(1500, design=design, holdout=200, seed=1, **opts).fit(f, n, store=None)
    got = ex.coefficients.to_dict()
    truth = f.coefficients.to_dict()
    for support in set(truth) | set(got):  # noiseless: exact up to rounding, nothing else found
        assert got.get(support, 0.0) == pytest.approx(truth.get(support, 0.0), abs=1e-4), support  # 1e-8 ridge
    assert ex.faithfulness == pytest.approx(1.0, abs=1e-6)
    masks = bernoulli(50, n, 0.5, seed=9)
    np.testing.assert_allclose(indices.evaluate(ex.coefficients, masks), f(masks), atol=1e-4)
    s = ex.settings
    assert s["design"] == {"uniform": "uniform", "bernoulli": "bernoulli(keep=0.9)", "ablate": "ablate(50-150)"}[design]
    assert s["design_reason"] and s["fit_masks"] == 1500 and s["holdout_masks"] == 200
    assert ex.calls == 1700 and ex.baseline == pytest.approx(float(f(np.ones((1, n), bool))[0]))


def test_noise_components_are_not_kept_and_bad_options_are_refused() -> None:
    n = 3000
    f = _known(n)
    ex = Screened(800, design="uniform", seed=2).fit(f, n, store=None)
    big = {s for s, v in ex.coefficients.to_dict().items() if abs(v) > 1e-4}
    assert big == set(f.coefficients.to_dict())
    with pytest.raises(ValueError, match="design must be"):
        Screened(100, design="halves")
    with pytest.raises(ValueError, match="keep must lie strictly between 0 and 1"):
        Screened(100, design="bernoulli", keep=1.0)


def test_explain_runs_the_screened_method_and_records_the_design() -> None:
    from fastspex import explain

    n = 1000
    f = _known(n)
    res = explain(f, method="screened", budget=600, store=None, progress=False, design="uniform", seed=3,
                  index="fourier")
    chosen = res.settings["method_settings"]  # api.explain nests the explainer's settings here
    assert res.method == "screened" and chosen["design"] == "uniform"
    assert chosen["design_reason"].startswith("uniform design") and chosen["fit_masks"] == 600
    assert res["3", "10"] == pytest.approx(0.7, abs=1e-4) and res["777"] == pytest.approx(0.9, abs=1e-4)


def test_explain_keep_means_the_bernoulli_keep_probability_for_screened_too() -> None:
    from fastspex import explain

    n = 1000
    f = _known(n)
    res = explain(f, method="screened", budget=600, store=None, progress=False, keep=0.9, seed=3,
                  index="fourier")
    assert res.settings["design"] == "bernoulli(keep=0.9)"
    with pytest.raises(ValueError, match="keep=0.9 applies to design='bernoulli' only"):
        Screened(100, design="ablate", keep=0.9)


def _ridge_baseline_r2(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray) -> float:
    """Held-out R² of ridge on every main effect (ablation indicators), its penalty the best of
    a grid on the held-out masks themselves: an optimistic baseline, computed independently."""
    a, at = (~x).astype(float), (~xt).astype(float)
    am, ym = a.mean(0), y.mean()
    best = -np.inf
    for alpha in np.logspace(-3, 3, 13):
        k = (a - am) @ (a - am).T
        dual = np.linalg.solve(k + alpha * np.eye(len(y)), y - ym)
        pred = ym + (at - am) @ ((a - am).T @ dual)
        best = max(best, 1.0 - float(np.mean((yt - pred) ** 2)) / float(np.var(yt)))
    return best


class _Recording:
    """``f`` over ``n`` components, keeping every mask asked for (the fit's, then the hold-out's)."""

    def __init__(self, f: PlantedFunction, n: int) -> None:
        self.f, self.n, self.seen = f, n, []

    def __call__(self, m: np.ndarray) -> np.ndarray:
        self.seen.append(np.asarray(m, dtype=bool))
        return self.f(m)

    def split(self, budget: int) -> tuple[np.ndarray, np.ndarray]:
        """The fit's masks and the hold-out's."""
        x = np.concatenate(self.seen)
        return x[:budget], x[budget:]


def test_many_small_main_effects_are_never_fitted_below_a_ridge_of_every_main_effect() -> None:
    n = 2000  # a dense signal: every component moves the output a little (a real model's neurons)
    w = np.random.default_rng(2).normal(0, 1, n)
    f = PlantedFunction(Coefficients.from_dict({(): 0.0, **{(i,): float(v) for i, v in enumerate(w)}}, n=n))
    fn = _Recording(f, n)
    ex = Screened(600, design="bernoulli", keep=0.98, holdout=300, seed=0).fit(fn, n, store=None)
    train, test = fn.split(600)
    baseline = _ridge_baseline_r2(train, f(train), test, f(test))  # the same masks, best penalty
    assert ex.settings["chosen"] == "ridge on every main effect"
    assert ex.faithfulness >= baseline - 0.02, (ex.faithfulness, baseline)
    names = [c["candidate"] for c in ex.settings["candidates"]]
    assert names == ["screened", "ridge on every main effect", "screened + ridge on its residual"]


def test_strong_terms_among_many_small_ones_get_the_screened_fit_plus_a_ridge_of_the_rest() -> None:
    # A few strong main effects on top of 2,000 small ones: the screened fit alone loses the small
    # ones, a ridge alone shrinks the strong ones.
    n = 2000
    small = np.random.default_rng(3).normal(0, 0.15, n)
    strong = {(5,): 3.0, (17,): -2.5, (300,): 2.0}
    f = PlantedFunction(Coefficients.from_dict(
        {(): 0.0, **{(i,): float(v) for i, v in enumerate(small)}, **strong}, n=n, basis="mobius"))
    fn = _Recording(f, n)
    ex = Screened(800, design="bernoulli", keep=0.9, holdout=400, seed=0).fit(fn, n, store=None)
    train, test = fn.split(800)
    ridge = _ridge_baseline_r2(train, f(train), test, f(test))  # the same masks, best penalty
    assert ex.settings["chosen"] == "screened + ridge on its residual", ex.settings["candidates"]
    cv = {c["candidate"]: c["cv_r2"] for c in ex.settings["candidates"]}
    assert ex.faithfulness >= ridge + 0.05, (ex.faithfulness, ridge)
    assert cv["screened + ridge on its residual"] >= cv["screened"] + 0.05, cv


def test_a_sparse_function_keeps_the_screened_fit_and_its_pairs() -> None:
    n = 1000
    f = _known(n)
    ex = Screened(1500, design="bernoulli", keep=0.9, holdout=200, seed=1).fit(f, n, store=None)
    assert ex.settings["chosen"] == "screened"
    assert ex.coefficients.to_dict().get((3, 10), 0.0) != 0.0


@pytest.mark.parametrize("beta", [-1.0, -2.0])
def test_wide_ridge_is_the_primal_ridge_at_its_penalty(beta: float) -> None:
    # the dual fit, its Gram built a column block at a time (600 columns: two blocks), against
    # the textbook primal solution w = (UcᵀUc + αI)⁻¹ Ucᵀ yc at the penalty it chose
    from fastspex import indices, masks
    from fastspex.explainers import wide_ridge

    m, n = 150, 600
    x = np.random.default_rng(4).random((m, n)) < (0.5 if beta == -2.0 else 0.9)
    y = np.random.default_rng(5).normal(size=m) + x[:, :5].sum(1)
    fit, info = wide_ridge.ridge_main_effects(masks.pack(x), y, beta)
    u = 1.0 + beta * x.astype(float)
    uc, yc = u - u.mean(0), y - y.mean()
    w = np.linalg.solve(uc.T @ uc + info["alpha"] * np.eye(n), uc.T @ yc)
    xt = np.random.default_rng(6).random((40, n)) < 0.5
    primal = y.mean() + (1.0 + beta * xt.astype(float) - u.mean(0)) @ w
    got = indices.evaluate(indices.to_fourier(fit), masks.pack(xt))
    np.testing.assert_allclose(got, primal, atol=1e-8)
