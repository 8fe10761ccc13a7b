"""Data ablation against scikit-learn retrained from scratch, user trainers, normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")

from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex.ablate import DataAblation, LogisticTrainer, Normalised
from fastspex.value import Evaluator


def _blobs(rng: np.random.Generator, n: int, d: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(size=(classes, d)) * 1.5
    y = np.arange(n) % classes
    return centres[y] + rng.normal(size=(n, d)), y


def _sklearn_margin(X, y, Xt, yt, C: float, kept: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, tol=1e-10, max_iter=10_000)
    clf.fit(X[kept], y[kept])
    f = clf.decision_function(Xt)
    return float(np.mean(np.where(yt == clf.classes_[1], f, -f)))


@pytest.mark.parametrize(("n", "d"), [(30, 5), (20, 50)])  # fewer examples than features too
def test_binary_matches_sklearn_on_every_subset_size(rng: np.random.Generator, n: int, d: int) -> None:
    pytest.importorskip("sklearn")
    X, y = _blobs(rng, n, d, 2)
    Xt, yt = _blobs(rng, 3, d, 2)
    da = DataAblation(X, y, Xt, yt, C=0.5, batch_size=4)
    assert da.n == n and da.kind == "data" and da.labels[0] == "ex0"
    masks = rng.random((9, n)) < 0.6
    masks[0] = True
    masks[:, :2] = True  # both classes present, as scikit-learn needs
    ours = da(masks)
    ref = [_sklearn_margin(X, y, Xt, yt, 0.5, m) for m in masks]
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=1e-5)


def test_multiclass_one_vs_rest_matches_sklearn(rng: np.random.Generator) -> None:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    X, y = _blobs(rng, 36, 4, 3)
    Xt, yt = _blobs(rng, 4, 4, 3)
    masks = rng.random((4, 36)) < 0.7
    masks[:, :3] = True
    got = {o: DataAblation(X, y, Xt, yt, output=o)(masks) for o in ("margin", "prob", "correct")}
    rows = np.arange(4)
    for i, m in enumerate(masks):
        clf = OneVsRestClassifier(LogisticRegression(tol=1e-10, max_iter=10_000)).fit(X[m], y[m])
        assert got["margin"][i] == pytest.approx(clf.decision_function(Xt)[rows, yt].mean(), abs=1e-5)
        assert got["prob"][i] == pytest.approx(clf.predict_proba(Xt)[rows, yt].mean(), abs=1e-5)
        assert got["correct"][i] == pytest.approx((clf.predict(Xt) == yt).mean())


def test_degenerate_subsets_stay_finite(rng: np.random.Generator) -> None:
    X, y = _blobs(rng, 12, 3, 2)
    da = DataAblation(X, y, X[:2], y[:2], output="loss")
    masks = np.zeros((3, 12), bool)
    masks[1, y == 0] = True  # one class only
    out = da(masks)
    assert np.isfinite(out).all()
    assert out[0] == pytest.approx(math.log(2), abs=1e-6)  # no data: both classes equally likely


def test_user_train_fn_and_errors(rng: np.random.Generator) -> None:
    calls = []

    def train(kept: np.ndarray) -> float:
        calls.append(kept.copy())
        return float(kept[:3].sum())

    da = DataAblation(train_fn=train, n=5, key="toy")
    np.testing.assert_array_equal(da([[1, 1, 1, 0, 0], [0, 1, 0, 1, 1]]), [3.0, 1.0])
    assert len(calls) == 2 and da.cache_key == "toy"
    with pytest.raises(ValueError, match="NaN"):
        DataAblation(train_fn=lambda kept: math.nan, n=3)(np.ones((1, 3), bool))
    with pytest.raises(ValueError, match="pass n"):
        DataAblation(train_fn=train)
    with pytest.raises(ValueError, match="two classes"):
        DataAblation(np.ones((4, 2)), np.zeros(4), np.ones((1, 2)), [0])
    with pytest.raises(ValueError, match="do not occur"):
        DataAblation(np.eye(4), [0, 1, 0, 1], np.ones((1, 4)), [2])
    with pytest.raises(ValueError, match="columns"):
        da(np.ones((1, 4), bool))
    with pytest.raises(ValueError, match="NaN or inf"):
        LogisticTrainer(np.full((3, 2), np.nan), [0, 1, 0])


def test_cache_key_tracks_data(rng: np.random.Generator) -> None:
    X, y = _blobs(rng, 10, 3, 2)
    a = DataAblation(X, y, X[:1], y[:1]).cache_key
    assert a == DataAblation(X.copy(), y, X[:1], y[:1]).cache_key
    X2 = X.copy()
    X2[-1, -1] += 1e-9
    assert a != DataAblation(X2, y, X[:1], y[:1]).cache_key
    assert a != DataAblation(X, y, X[:1], y[:1], C=2.0).cache_key


def test_normalised_centres_scales_and_keeps_raw(tmp_path, rng: np.random.Generator) -> None:
    X, y = _blobs(rng, 16, 3, 2)
    da = DataAblation(X, y, X[:2], y[:2])
    norm = Normalised(da, n_samples=32, seed=1, store=tmp_path / "s.sqlite")
    masks = rng.random((5, 16)) < 0.5
    raw = da(masks)
    np.testing.assert_allclose(norm(masks), (raw - da.full()) / norm.scale, atol=1e-9)
    np.testing.assert_allclose(norm.raw(masks), raw, atol=1e-12)
    np.testing.assert_allclose(norm.denormalise(norm(masks)), raw, atol=1e-9)
    sample = np.random.default_rng(1).random((32, 16)) < 0.5
    assert norm.scale == pytest.approx(np.std(da(sample), ddof=1))
    assert norm(np.ones((1, 16), bool))[0] == pytest.approx(0.0, abs=1e-12)
    assert norm.kind == "data" and norm.labels == da.labels and norm.trainer is da.trainer
    ev = Evaluator(norm, store=tmp_path / "s.sqlite")
    ev(masks)
    assert norm.cache_key is not None and norm.cache_key != da.cache_key
    assert norm.inner.calls == 1 + 32 + 5  # full input, spread sample, the masks: each once
    with pytest.raises(ValueError, match="n_samples"):
        Normalised(da, n_samples=1, store=None)
