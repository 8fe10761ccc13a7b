"""Evaluation: calling the model on masks — the Evaluator (batches, checks, memo, progress), the
resumable store of every evaluated mask, and the Ray backend that spreads batches over replicas."""

from __future__ import annotations

from .evaluator import Evaluator, ModelCallError, ValueFunction, ValueFunctionError, as_evaluator
from .store import EvalStore, StoreError, default_store, experiment_key

__all__ = [
    "EvalStore",
    "Evaluator",
    "ModelCallError",
    "StoreError",
    "ValueFunction",
    "ValueFunctionError",
    "as_evaluator",
    "default_store",
    "experiment_key",
]
