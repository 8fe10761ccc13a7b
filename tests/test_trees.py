"""Tree ensemble -> exact Fourier expansion: checked against LightGBM's own predictions and a
brute-force walk of hand-built trees on every mask."""

from __future__ import annotations

import numpy as np
import pytest
from fastspex import indices, lgbm, masks

lgb = pytest.importorskip("lightgbm")


def _train(n: int, rng: np.random.Generator, rounds: int = 40, **params: object):
    x = rng.integers(0, 2, size=(400, n)).astype(np.uint8)
    y = (x[:, 0] * x[:, 1] - 0.7 * x[:, 2] * x[:, 3] * x[:, 4] + 0.3 * x[:, 5]
         + rng.normal(0.0, 0.1, 400))
    base = {"objective": "regression", "verbosity": -1, "num_threads": 1, "min_data_in_leaf": 3}
    return lgb.train({**base, **params}, lgb.Dataset(x, y), num_boost_round=rounds)


@pytest.mark.parametrize(
    ("n", "params"),
    [
        (8, {"num_leaves": 8}),
        (10, {"num_leaves": 31, "max_depth": 6, "learning_rate": 0.3}),
        (12, {"num_leaves": 16, "zero_as_missing": True}),  # zeros follow the default direction
        (12, {"num_leaves": 16, "use_missing": False, "lambda_l2": 1.0}),
    ],
)
def test_extraction_matches_booster_on_every_mask(n: int, params: dict, rng: np.random.Generator) -> None:
    booster = _train(n, rng, **params)
    coefs = lgbm.booster_fourier(booster)
    assert coefs.basis == "fourier"
    everything = masks.exhaustive(n)
    expected = booster.predict(everything.to_bool().astype(np.float64), raw_score=True)
    got = indices.evaluate(coefs, everything)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_degree_is_at_most_depth(rng: np.random.Generator) -> None:
    booster = _train(10, rng, num_leaves=8, max_depth=3)
    assert lgbm.booster_fourier(booster).orders().max() <= 3


def test_top_k_keeps_empty_set_and_largest(rng: np.random.Generator) -> None:
    booster = _train(10, rng, num_leaves=16)
    full = lgbm.booster_fourier(booster)
    top = lgbm.booster_fourier(booster, top_k=5)
    assert len(top) == 6 and top.orders()[0] == 0
    assert top.values[0] == full.values[0]
    mags = np.sort(np.abs(full.values[full.orders() > 0]))[::-1]
    np.testing.assert_allclose(np.sort(np.abs(top.values[1:]))[::-1], mags[:5])


def test_thread_count_does_not_change_result(rng: np.random.Generator) -> None:
    booster = _train(12, rng, rounds=200, num_leaves=16)  # > 32 trees: several chunks
    one = lgbm.booster_fourier(booster, n_threads=1)
    two = lgbm.booster_fourier(booster, n_threads=2)
    assert np.array_equal(one.indptr, two.indptr) and np.array_equal(one.indices, two.indices)
    assert np.array_equal(one.values, two.values)


def _walk(t: lgbm.TreeArrays, x: np.ndarray) -> float:
    """Reference: LightGBM's decision rule, node by node (fine in a test)."""
    total = 0.0
    for k in range(t.num_trees):
        n0, l0 = t.node_ptr[k], t.leaf_ptr[k]
        node = 0 if t.node_ptr[k + 1] > n0 else -1
        while node >= 0:
            i = n0 + node
            v = x[t.split_feature[i]]
            dt = t.decision_type[i]
            if ((dt >> 2) & 3) == 1 and v == 0:
                left = bool(dt & 2)
            else:
                left = v <= t.threshold[i]
            node = t.left_child[i] if left else t.right_child[i]
        total += t.leaf_value[l0 + ~node]
    return total


def _hand_trees(n: int) -> lgbm.TreeArrays:
    # tree 0: root splits on 0, left subtree splits on 0 again (already fixed) then on 1;
    #         right child splits on 2 with a threshold that sends 0 and 1 the same way.
    # tree 1: a single leaf.  tree 2: zero-as-missing split on 3 with default right.
    i32, f64 = np.int32, np.float64
    return lgbm.TreeArrays(
        n=n,
        node_ptr=np.array([0, 4, 4, 5], np.int64),
        leaf_ptr=np.array([0, 5, 6, 8], np.int64),
        split_feature=np.array([0, 0, 1, 2, 3], i32),
        threshold=np.array([0.5, 0.5, 0.5, 2.0, 1e-35], f64),
        decision_type=np.array([2, 2, 0, 2, 4], i32),
        left_child=np.array([1, 2, -1, -4, -1], i32),
        right_child=np.array([3, -3, -2, -5, -2], i32),
        leaf_value=np.array([1.0, -2.0, 3.0, 0.5, 7.0, 0.25, -1.5, 2.5], f64),
    )


def test_hand_built_trees_repeated_feature_and_default_directions() -> None:
    n = 5
    trees = _hand_trees(n)
    coefs = lgbm.booster_fourier(trees)
    everything = masks.exhaustive(n)
    x = everything.to_bool()
    expected = np.array([_walk(trees, row.astype(np.int64)) for row in x])
    np.testing.assert_allclose(indices.evaluate(coefs, everything), expected, rtol=0, atol=1e-12)
    # feature 2's split routes both values to one leaf: it may not appear in any support
    assert 2 not in set(coefs.indices.tolist())


def test_concat_and_scaling_add_predictions() -> None:
    trees = _hand_trees(5)
    both = lgbm.concat([trees, trees.scaled(-0.5)])
    everything = masks.exhaustive(5)
    np.testing.assert_allclose(
        indices.evaluate(lgbm.booster_fourier(both), everything),
        0.5 * indices.evaluate(lgbm.booster_fourier(trees), everything), atol=1e-12,
    )


def _with(trees: lgbm.TreeArrays, **changes: np.ndarray) -> lgbm.TreeArrays:
    from dataclasses import replace

    return replace(trees, **changes)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"split_feature": np.array([0, 0, 1, 9, 3], np.int32)}, "outside"),
        ({"left_child": np.array([0, 2, -1, -4, -1], np.int32)}, "root"),
        ({"left_child": np.array([1, 2, -1, -9, -1], np.int32)}, "leaf index"),
        ({"right_child": np.array([3, -2, -2, -5, -2], np.int32)}, "twice"),
        ({"decision_type": np.array([3, 2, 0, 2, 4], np.int32)}, "categorical"),
        ({"threshold": np.array([np.nan, 0.5, 0.5, 2.0, 1e-35])}, "NaN"),
        ({"leaf_value": np.array([1.0, np.inf, 3.0, 0.5, 7.0, 0.25, -1.5, 2.5])}, "non-finite"),
        ({"leaf_ptr": np.array([0, 5, 6, 9], np.int64)}, "leaf_value"),
        ({"node_ptr": np.array([0, 3, 3, 5], np.int64)}, "leaves"),
    ],
)
def test_malformed_trees_raise(change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        lgbm.booster_fourier(_with(_hand_trees(5), **change))


def test_too_many_terms_is_a_memory_error(rng: np.random.Generator) -> None:
    booster = _train(12, rng, num_leaves=31)
    with pytest.raises(MemoryError, match="max_terms"):
        lgbm.booster_fourier(booster, max_terms=100)


def test_model_text_errors(rng: np.random.Generator) -> None:
    with pytest.raises(TypeError, match="Booster"):
        lgbm.tree_arrays(42)
    with pytest.raises(ValueError, match="LightGBM model text"):
        lgbm.tree_arrays("hello")
    booster = _train(10, rng, rounds=3)
    with pytest.raises(ValueError, match="more than n"):
        lgbm.tree_arrays(booster, n=5)
    x = rng.integers(0, 2, size=(120, 6)).astype(np.uint8)
    multi = lgb.train({"objective": "multiclass", "num_class": 3, "verbosity": -1, "num_threads": 1},
                      lgb.Dataset(x, rng.integers(0, 3, 120)), num_boost_round=2)
    with pytest.raises(ValueError, match="multiclass"):
        lgbm.tree_arrays(multi)


def test_histogram_layout_is_row_wise_for_narrow_unsubsampled_fits_and_keeps_the_trees() -> None:
    import lightgbm as lgb
    from fastspex.explainers.trees import ROW_WISE_MAX_N, histogram_layout

    assert histogram_layout({}, 270)["force_row_wise"] is True
    assert histogram_layout({"feature_fraction": 0.5}, 270)["force_col_wise"] is True
    assert histogram_layout({}, ROW_WISE_MAX_N + 1)["force_col_wise"] is True
    assert histogram_layout({"force_col_wise": True}, 10) == {"force_col_wise": True}
    rng = np.random.default_rng(0)
    x = (rng.random((400, 30)) < 0.5).astype(np.uint8)
    y = x[:, 0] * 2.0 - x[:, 1] * x[:, 2] + rng.normal(scale=0.1, size=400)
    base = {"objective": "regression", "verbosity": -1, "num_threads": 1, "max_bin": 2,
            "max_depth": 3, "num_leaves": 8, "deterministic": True}
    preds = []
    for layout in ({"force_col_wise": True}, histogram_layout({}, 30)):
        data = lgb.Dataset(x, y, params={"max_bin": 2, "verbosity": -1})
        preds.append(lgb.train({**base, **layout}, data, num_boost_round=50).predict(x))
    np.testing.assert_array_equal(preds[0], preds[1])
