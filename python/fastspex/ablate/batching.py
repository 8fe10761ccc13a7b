"""Running many ablated rows through a model efficiently and safely.

* Prefix reuse: the tokens every row starts with and no mask changes (a chat template's
  system part, text before the first unit) are run once; their key/value cache is shared by
  every row of every batch, and each batch only runs the rows' remaining tokens.
* Out-of-memory back-off: a batch that does not fit is halved and retried; finished batches
  are kept.
* Batch size from the token count and, on CUDA, the free memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "auto_batch_size", "cache_keyword", "cache_of", "is_out_of_memory", "prefix_batch", "run_batches",
    "usable_prefix",
]

# Shorter shared prefixes are not worth a separate forward pass.
MIN_PREFIX = 4


def usable_prefix(scorer: Any, lm: Any, rows: Sequence[Sequence[int]], which: np.ndarray) -> int:
    """How many leading tokens of every row come from the scorer's cached prefix (0: none)."""
    from .outputs import _accepts

    prefix = scorer.prefix_ids
    if not scorer.reuses_prefix or len(prefix) < MIN_PREFIX or lm.kind != "causal":
        return 0
    if not (_accepts(lm.model, "position_ids") and _accepts(lm.model, cache_keyword(lm.model))):
        return 0  # padding between prefix and row would shift positions, or no cache input
    p = min(len(prefix), min(len(r) for r in rows) - scorer.min_suffix(which))
    if p < MIN_PREFIX or any(tuple(r[:p]) != prefix[:p] for r in rows):
        return 0
    return p


def _prefix_states(scorer: Any, lm: Any, p: int) -> list[tuple[Any, Any]]:
    """Per layer ``(keys, values)`` of the first ``p`` prefix tokens: the whole prefix is run
    once per scorer, and a batch that can use fewer of its tokens takes a slice."""
    import torch

    memo = scorer.__dict__.setdefault("_prefix_memo", {})
    prefix = tuple(scorer.prefix_ids)
    if memo.get("ids") != prefix:
        ids = torch.tensor([list(prefix)], device=lm.device)
        with torch.inference_mode():
            out = lm.model(input_ids=ids, use_cache=True)
        memo["ids"], memo["states"] = prefix, _layers(cache_of(out))
    return [(k[:, :, :p], v[:, :, :p]) for k, v in memo["states"]]


def cache_keyword(model: Any) -> str:
    """The forward argument that takes a key/value cache (``cache`` since transformers 5.x)."""
    from .outputs import _accepts

    return "cache" if _accepts(model, "cache") else "past_key_values"


def cache_of(out: Any) -> Any:
    """The key/value cache a forward pass returned."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _layers(cache: Any) -> list[tuple[Any, Any]]:
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [(layer.keys, layer.values) for layer in layers]
    return [(k, v) for k, v in cache]  # legacy tuples


def prefix_batch(scorer: Any, lm: Any, rows: Sequence[Sequence[int]], p: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The batch of the rows' tokens after the shared ``p``-token prefix (left-padded between
    the prefix and each row), and the forward arguments that attend to the cached prefix."""
    import torch
    from transformers import DynamicCache

    from .outputs import pad_rows

    states = _prefix_states(scorer, lm, p)
    b = len(rows)
    tail = pad_rows([r[p:] for r in rows], lm.pad_id, "left", lm.device)
    att = torch.cat([torch.ones((b, p), dtype=tail["attention_mask"].dtype, device=lm.device),
                     tail["attention_mask"]], dim=1)
    pos = (p + tail["attention_mask"].cumsum(-1) - 1).clamp(min=p)
    cache = DynamicCache(ddp_cache_data=[(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1))
                                         for k, v in states])
    batch = {"input_ids": tail["input_ids"], "attention_mask": att, "position_ids": pos}
    return batch, {**batch, cache_keyword(lm.model): cache}


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is a device running out of memory (CUDA, MPS or an allocator)."""
    try:
        import torch

        if isinstance(err, torch.cuda.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch is there whenever a model runs
        pass
    return isinstance(err, (RuntimeError, MemoryError)) and "out of memory" in str(err).lower()


def run_batches(
    order: np.ndarray,
    batch_size: int,
    run: Callable[[np.ndarray], np.ndarray],
    store: Callable[[np.ndarray, np.ndarray], None],
    on_shrink: Callable[[int], None] | None = None,
) -> int:
    """Run ``order`` in batches of ``batch_size`` rows through ``run`` and hand each result to
    ``store`` as soon as it returns. A batch that runs out of memory is halved and retried
    (finished batches are kept); returns the batch size that worked last."""
    s = 0
    while s < len(order):
        idx = order[s : s + batch_size]
        try:
            vals = run(idx)
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            _free_cached_memory()
            if batch_size == 1:
                msg = ("the model runs out of memory on a single row: use a smaller --dtype "
                       "(bfloat16/float16), a device with more memory, or device_map='auto'")
                raise MemoryError(msg) from err
            batch_size = max(1, len(idx) // 2)
            if on_shrink is not None:
                on_shrink(batch_size)
            continue
        store(idx, vals)
        s += len(idx)
    return batch_size


def _free_cached_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def auto_batch_size(
    seq_len: int, device: Any, *, n_params: int = 0, model: Any = None, free_bytes: int | None = None,
) -> int:
    """Masks per forward pass.

    CPU: about 8k tokens per batch (bigger batches stop paying off there), halved per doubling
    of model size beyond 150M parameters. CUDA: as many rows as fit in half the free memory at
    the activation and key/value cost of ``seq_len`` tokens per row (``free_bytes`` overrides
    the measured free memory), at most 512.
    """
    is_cuda = getattr(device, "type", str(device)) == "cuda"
    if not is_cuda and free_bytes is None:
        scale = max(1.0, n_params / 150e6)
        return int(max(1, min(256, 8192 / max(1, seq_len) / scale)))
    if free_bytes is None:
        import torch

        free_bytes = int(torch.cuda.mem_get_info(device)[0])
    config = getattr(model, "config", None)
    hidden = int(getattr(config, "hidden_size", 0) or getattr(config, "n_embd", 0) or 1024)
    layers = int(getattr(config, "num_hidden_layers", 0) or getattr(config, "n_layer", 0) or 24)
    inter = int(getattr(config, "intermediate_size", 0) or 4 * hidden)
    vocab = int(getattr(config, "vocab_size", 0) or 50000)
    width = 2 if _half(model) else 4
    # Per token: keys and values of every layer, the widest activations of one layer (live
    # at once), and one row of logits at float32 for the positions scored.
    per_token = width * (2 * layers * hidden + 4 * hidden + 2 * inter) + 4 * vocab // max(1, seq_len)
    rows = (free_bytes // 2) // max(1, per_token * max(1, seq_len))
    return int(max(1, min(512, rows)))


def _half(model: Any) -> bool:
    try:
        return next(model.parameters()).element_size() == 2
    except (AttributeError, StopIteration, TypeError):
        return False
