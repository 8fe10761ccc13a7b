"""Evaluation that is GPU-ready and runs on the CPU here: the shared prefix computed once,
out-of-memory back-off that keeps finished batches, batch size from free memory."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import _tiny_chat
import _tiny_models as tiny
from _tiny_models import _one_torch_thread  # noqa: F401
from fastspex.ablate import FeatureAblation, LoadedModel
from fastspex.ablate.batching import auto_batch_size, run_batches

PROMPT = "Attention heads move information between token positions"


def _by_hand(model, rows: list[list[int]], answer: list[int]) -> np.ndarray:
    """log p(answer | row) with one unpadded, uncached forward pass per row."""
    import torch

    out = []
    for ids in rows:
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids + answer])).logits[0].float(), -1)
        out.append(sum(float(logp[len(ids) - 1 + i, t]) for i, t in enumerate(answer)))
    return np.array(out)


@pytest.mark.parametrize("which", ["gpt2", "chat"])
def test_prefix_reuse_gives_the_models_own_values(which: str) -> None:
    if which == "gpt2":
        lm = LoadedModel(*tiny.gpt2(), "causal", "tiny-gpt2")
        # Only the last words are units: BOS + "Attention heads move" is a prefix no mask changes.
        fa = FeatureAblation(PROMPT, lm, unit=["information", "between", "token", "positions"],
                             max_new_tokens=3, batch_size=4)
    else:
        lm = LoadedModel(*_tiny_chat.chat_llama(), "causal", "tiny-chat")
        fa = FeatureAblation(PROMPT, lm, system="Answer in one word.", max_new_tokens=3, batch_size=4)
    assert len(fa.scorer.prefix_ids) >= 4
    masks = np.random.default_rng(0).random((11, fa.n)) < 0.5
    masks[0], masks[1] = True, False
    calls: list[int] = []

    def counting(module, args, kwargs) -> None:
        calls.append(kwargs["input_ids"].shape[1])

    hook = lm.model.register_forward_pre_hook(counting, with_kwargs=True)
    try:
        reused = fa(masks)
    finally:
        hook.remove()
    rows = [fa.row(m).tolist() for m in masks]
    np.testing.assert_allclose(reused, _by_hand(lm.model, rows, fa.scorer.targets[0]), atol=1e-4)
    p = len(fa.scorer.prefix_ids)
    # one prefix pass, then batches that only run what follows the prefix
    assert calls[0] == p and all(c <= max(map(len, rows)) + 3 - p for c in calls[1:])
    fa.scorer.reuses_prefix = False
    np.testing.assert_allclose(fa(masks), reused, atol=1e-4)


def _oom() -> Exception:
    import torch

    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_halves_the_batch_and_keeps_finished_ones() -> None:
    lm = LoadedModel(*tiny.gpt2(), "causal", "tiny-gpt2")
    fa = FeatureAblation(PROMPT, lm, max_new_tokens=2, batch_size=8)
    masks = np.random.default_rng(2).random((13, fa.n)) < 0.5
    expected = fa(masks)
    real = fa.scorer.__call__
    ran: list[int] = []

    class Flaky:
        """The scorer, on a device where more than 3 rows at once do not fit."""

        def __getattr__(self, name: str):
            return getattr(fa_scorer, name)

        def __call__(self, lm, rows, which):
            if len(rows) > 3:
                raise _oom()
            ran.append(len(rows))
            return real(lm, rows, which)

    fa_scorer = fa.scorer
    fa.scorer = Flaky()
    got = fa(masks)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert sum(ran) == 13  # every row scored once: nothing finished was redone
    assert fa.batch_size <= 3  # later calls start at the size that fits


def test_run_batches_keeps_finished_work_and_stops_at_one_row() -> None:
    stored: dict[int, float] = {}

    def run(idx: np.ndarray) -> np.ndarray:
        if len(idx) > 2:
            raise RuntimeError("CUDA error: out of memory")
        return idx.astype(float) * 10

    size = run_batches(np.arange(7), 8, run, lambda i, v: stored.update(zip(i.tolist(), v)))
    assert stored == {i: i * 10.0 for i in range(7)} and 1 <= size <= 2  # 7 rows, then 3, then 1

    def never(idx: np.ndarray) -> np.ndarray:
        raise _oom()

    with pytest.raises(MemoryError, match="single row"):
        run_batches(np.arange(3), 4, never, lambda i, v: None)

    def broken(idx: np.ndarray) -> np.ndarray:
        raise ValueError("not a memory problem")

    with pytest.raises(ValueError, match="not a memory problem"):
        run_batches(np.arange(3), 4, broken, lambda i, v: None)


def test_batch_size_follows_free_memory_and_token_count() -> None:
    model, _ = tiny.llama()
    cpu = auto_batch_size(100, "cpu", n_params=135_000_000)
    assert cpu == 81  # about 8k tokens per batch on a CPU
    small = auto_batch_size(200, "cuda", model=model, free_bytes=2**24)
    big = auto_batch_size(200, "cuda", model=model, free_bytes=2**30)
    longer = auto_batch_size(800, "cuda", model=model, free_bytes=2**24)
    assert 1 <= longer < small < big <= 512
    assert auto_batch_size(200, "cuda", model=model, free_bytes=0) == 1


def test_gpu_smoke_skips_cleanly_without_cuda() -> None:
    import subprocess
    import sys
    from pathlib import Path

    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA machine runs the smoke test itself")
    script = Path(__file__).parents[1] / "benchmarks" / "gpu_smoke.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=script.parent, timeout=300, check=False)
    assert done.returncode == 0 and "skipped (no CUDA" in done.stdout
