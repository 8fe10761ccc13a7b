"""LightGBM boosters as flat tree arrays, and their exact Fourier expansion on binary inputs.

:func:`tree_arrays` reads a trained booster's model text (``model_to_string``), where every tree
lists whole arrays — ``split_feature``, ``threshold``, ``decision_type``, ``left_child``,
``right_child``, ``leaf_value`` — and concatenates them with vectorised NumPy, never looping over
nodes in Python. :func:`booster_fourier` hands them to the C++ core, which sums the exact Fourier
coefficients of all trees (docs/background.md, "ProxySPEX", step 3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import _core
from .._validate import as_int, as_threads
from ..coefficients import Coefficients
from ..indices import DEFAULT_MAX_TERMS

__all__ = ["ROW_WISE_MAX_N", "TreeArrays", "booster_fourier", "concat", "histogram_layout", "tree_arrays"]

#: Most components for which LightGBM builds its histograms row-wise (:func:`histogram_layout`).
ROW_WISE_MAX_N = 4096
_FEATURE_FRACTION = ("feature_fraction", "sub_feature", "colsample_bytree")


def histogram_layout(params: dict[str, Any], n: int) -> dict[str, Any]:
    """``params`` with LightGBM's histogram layout set for ``n`` binary components, unless they
    set one already.

    Row-wise builds the same trees, bit for bit, 2-4x faster on binary masks (measured on
    n = 16 ... 10^4, 500 ... 4,000 masks); column-wise is kept with column subsampling (row-wise
    is 2x slower there) and for more than :data:`ROW_WISE_MAX_N` components (it holds about a
    third more memory, and the wide designs' memory estimate was measured column-wise).
    """
    if "force_col_wise" in params or "force_row_wise" in params:
        return params
    subsampled = any(float(params.get(key, 1.0)) < 1.0 for key in _FEATURE_FRACTION)
    row = n <= ROW_WISE_MAX_N and not subsampled
    return {**params, "force_row_wise": row, "force_col_wise": not row}



@dataclass(frozen=True, eq=False)
class TreeArrays:
    """``T`` trees in LightGBM's layout, concatenated (see ``cpp/include/fastspex/trees.hpp``).

    Tree ``t`` owns internal nodes ``node_ptr[t]:node_ptr[t+1]`` and leaves
    ``leaf_ptr[t]:leaf_ptr[t+1]``; child ids are local to their tree (``c >= 0`` an internal
    node, ``c < 0`` the leaf ``~c``).
    """

    n: int
    node_ptr: np.ndarray  # int64 (T+1,)
    leaf_ptr: np.ndarray  # int64 (T+1,)
    split_feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    decision_type: np.ndarray  # int32
    left_child: np.ndarray  # int32
    right_child: np.ndarray  # int32
    leaf_value: np.ndarray  # float64

    @property
    def num_trees(self) -> int:
        return len(self.node_ptr) - 1

    def scaled(self, factor: float) -> TreeArrays:
        """The same trees with every leaf value multiplied by ``factor``."""
        return TreeArrays(
            self.n, self.node_ptr, self.leaf_ptr, self.split_feature, self.threshold,
            self.decision_type, self.left_child, self.right_child, self.leaf_value * float(factor),
        )


_KEYS = ("num_leaves", "num_cat", "split_feature", "threshold", "decision_type", "left_child",
         "right_child", "leaf_value", "is_linear")


def _fields(body: str) -> dict[str, list[str]]:
    """The values of every ``key=value`` line of the model text that :func:`tree_arrays` reads,
    in order; one pass over the lines (a regular expression per key scanned the text ten times,
    about a third of ProxySPEX's extraction time)."""
    found: dict[str, list[str]] = {key: [] for key in _KEYS}
    for line in body.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in found:
            found[key].append(value)
    return found


def _flat(lines: list[str], dtype: type, expected: int, key: str) -> np.ndarray:
    out: np.ndarray = np.array(" ".join(lines).split(), dtype=dtype)
    if len(out) != expected:
        msg = f"booster model text lists {len(out)} {key} entries, expected {expected}"
        raise ValueError(msg)
    return out


def tree_arrays(
    booster: Any, *, n: int | None = None, num_iteration: int | None = None,
    start_iteration: int = 0,
) -> TreeArrays:
    """The trees of a LightGBM ``Booster`` (or ``LGBMModel``, or model text) as flat arrays.

    Args:
        booster: a ``lightgbm.Booster``, a fitted ``lightgbm.LGBMModel``, or the text of
            ``Booster.model_to_string()``.
        n: number of input features (default: from the model).
        num_iteration: use the first ``num_iteration`` boosting rounds (default: the best
            iteration if early stopping set one, else all).
        start_iteration: skip this many rounds first.
    """
    if hasattr(booster, "booster_"):
        booster = booster.booster_
    if isinstance(booster, str):
        text = booster
    elif hasattr(booster, "model_to_string"):
        text = booster.model_to_string(num_iteration=num_iteration, start_iteration=start_iteration)
    else:
        msg = f"expected a lightgbm Booster, LGBMModel or model text, got {type(booster).__name__}"
        raise TypeError(msg)
    head, sep, rest = text.partition("\nTree=")
    if not sep and "tree_sizes" not in head:
        msg = "not a LightGBM model text (no 'tree' header)"
        raise ValueError(msg)
    per_iter = re.search(r"^num_tree_per_iteration=(\d+)$", head, flags=re.MULTILINE)
    if per_iter is not None and int(per_iter.group(1)) != 1:
        msg = (
            "the booster has several trees per iteration (multiclass); ProxySPEX needs a single "
            "regression output"
        )
        raise ValueError(msg)
    feat = re.search(r"^max_feature_idx=(-?\d+)$", head, flags=re.MULTILINE)
    model_n = int(feat.group(1)) + 1 if feat is not None else None
    if n is None:
        if model_n is None:
            msg = "pass n: the model text does not say how many features it has"
            raise ValueError(msg)
        n = model_n
    n = as_int(n, "n", minimum=1)
    if model_n is not None and model_n > n:
        msg = f"the booster was trained on {model_n} features, more than n = {n}"
        raise ValueError(msg)
    fields = _fields(rest.partition("end of trees")[0])
    if any(v.strip() == "1" for v in fields["is_linear"]):
        msg = "linear trees (linear_tree=True) are not supported: their leaves are not constants"
        raise ValueError(msg)
    if any(int(c) != 0 for c in fields["num_cat"]):
        msg = "categorical splits are not supported: train on the 0/1 masks as numerical features"
        raise ValueError(msg)
    leaves = np.array([int(v) for v in fields["num_leaves"]], dtype=np.int64)
    nodes = np.maximum(leaves - 1, 0)
    leaf_ptr = np.zeros(len(leaves) + 1, np.int64)
    node_ptr = np.zeros(len(leaves) + 1, np.int64)
    np.cumsum(leaves, out=leaf_ptr[1:])
    np.cumsum(nodes, out=node_ptr[1:])
    total = int(node_ptr[-1])
    return TreeArrays(
        n=n,
        node_ptr=node_ptr,
        leaf_ptr=leaf_ptr,
        split_feature=_flat(fields["split_feature"], np.int32, total, "split_feature"),
        threshold=_flat(fields["threshold"], np.float64, total, "threshold"),
        decision_type=_flat(fields["decision_type"], np.int32, total, "decision_type"),
        left_child=_flat(fields["left_child"], np.int32, total, "left_child"),
        right_child=_flat(fields["right_child"], np.int32, total, "right_child"),
        leaf_value=_flat(fields["leaf_value"], np.float64, int(leaf_ptr[-1]), "leaf_value"),
    )


def concat(parts: Sequence[TreeArrays]) -> TreeArrays:
    """Several ensembles as one (their predictions add up)."""
    if not parts:
        msg = "concat needs at least one TreeArrays"
        raise ValueError(msg)
    n = max(p.n for p in parts)

    def ptr(name: str) -> np.ndarray:
        offsets = np.cumsum([0] + [int(getattr(p, name)[-1]) for p in parts[:-1]])
        return np.concatenate(
            [np.zeros(1, np.int64)] + [getattr(p, name)[1:] + o for p, o in zip(parts, offsets)]
        )

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return TreeArrays(
        n, ptr("node_ptr"), ptr("leaf_ptr"), cat("split_feature"), cat("threshold"),
        cat("decision_type"), cat("left_child"), cat("right_child"), cat("leaf_value"),
    )


def booster_fourier(
    model: Any, *, n: int | None = None, top_k: int | None = None, tol: float = 0.0,
    max_terms: int = DEFAULT_MAX_TERMS, n_threads: int | None = None,
) -> Coefficients:
    """The exact Fourier coefficients of a tree ensemble on masks ``x ∈ {0,1}ⁿ``.

    ``model`` is a booster/model accepted by :func:`tree_arrays` or a :class:`TreeArrays`. The
    expansion reproduces the booster's raw prediction on every 0/1 input. ``top_k`` keeps the
    empty set and the ``top_k`` largest ``|F(S)|``; ``tol`` drops ``|F(S)| <= tol``.
    """
    arrays = model if isinstance(model, TreeArrays) else tree_arrays(model, n=n)
    if n is not None and arrays.n != n:
        if n < arrays.n:
            msg = f"the trees use {arrays.n} features, more than n = {n}"
            raise ValueError(msg)
        arrays = replace(arrays, n=as_int(n, "n", minimum=1))
    k = 0 if top_k is None else as_int(top_k, "top_k", minimum=1)
    tol = float(tol)
    if not np.isfinite(tol):
        msg = "tol must be finite"
        raise ValueError(msg)
    indptr, indices, values = _core.trees_to_fourier(
        np.ascontiguousarray(arrays.node_ptr, np.int64),
        np.ascontiguousarray(arrays.leaf_ptr, np.int64),
        np.ascontiguousarray(arrays.split_feature, np.int32),
        np.ascontiguousarray(arrays.threshold, np.float64),
        np.ascontiguousarray(arrays.decision_type, np.int32),
        np.ascontiguousarray(arrays.left_child, np.int32),
        np.ascontiguousarray(arrays.right_child, np.int32),
        np.ascontiguousarray(arrays.leaf_value, np.float64),
        arrays.n, k, tol, as_int(max_terms, "max_terms", minimum=1), as_threads(n_threads),
    )
    return Coefficients(arrays.n, indptr, indices, values, "fourier")
