"""Cached model outputs of component-ablation games for bench_components.

One file per (model, prompt, design, seed) under ``benchmarks/cache/`` (gitignored): the masks
of the largest budget plus the held-out masks are drawn once per design and evaluated once, so
every budget is a slice of the same rows and a rerun costs no model time.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import BENCH

CACHE = BENCH / "cache"

#: The games: model, prompt, target continuation (causal LM) or None (encoder: cosine
#: similarity of the ablated embedding to the unablated one).
GAMES: dict[str, dict[str, Any]] = {
    "smollm2": {"model": "smollm2", "text": "The capital of France is", "target": " Paris",
                "quantity": "log p(' Paris' | 'The capital of France is'), in nats"},
    "minilm": {"model": "minilm", "text": "The hotel room was clean, quiet and the staff were friendly.",
               "target": None,
               "quantity": "cosine similarity of the ablated embedding to the unablated one"},
}


def design_masks(design: str, m: int, n: int, seed: int) -> np.ndarray:
    """``m`` boolean masks of ``design`` ("uniform" or "bernoulli(keep=P)"), row 0 all kept."""
    rng = np.random.default_rng(seed)
    keep = 0.5 if design == "uniform" else float(design.split("=")[1].rstrip(")"))
    x = rng.random((m, n)) < keep
    x[0] = True
    return x


def cache_file(game: str, design: str, seed: int, rows: int) -> Path:
    spec = {**GAMES[game], "design": design, "seed": seed, "rows": rows}
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    return CACHE / f"components-{game}-{digest}.npz"


def ablation(game: str) -> Any:
    from fastspex.ablate import ComponentAblation, load_model

    g = GAMES[game]
    lm = load_model(g["model"])
    return ComponentAblation(g["text"], lm, components="heads", target=g["target"])


def load_or_compute(game: str, design: str, seed: int, rows: int, *, log: Any = print) -> dict[str, Any]:
    """Masks, outputs and the model seconds they cost (from the cache when present)."""
    path = cache_file(game, design, seed, rows)
    if path.exists():
        data = np.load(path)
        return {"x": data["x"], "y": data["y"], "model_seconds": float(data["model_seconds"]),
                "cached": True}
    fn = ablation(game)
    x = design_masks(design, rows, fn.n, seed)
    y = np.empty(rows)
    t0 = time.perf_counter()
    step = 250
    for s in range(0, rows, step):
        y[s:s + step] = fn(x[s:s + step])
        log(f"  {game} {design}: {min(rows, s + step)}/{rows} masks, {time.perf_counter() - t0:.0f} s")
    seconds = time.perf_counter() - t0
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, x=x, y=y, model_seconds=seconds)
    tmp.replace(path)
    return {"x": x, "y": y, "model_seconds": seconds, "cached": False}


if __name__ == "__main__":  # fill the cache: python benchmarks/_component_cache.py
    import sys

    for game in sys.argv[1:] or list(GAMES):
        for design in ("uniform", "bernoulli(keep=0.9)"):
            out = load_or_compute(game, design, 0, 5000, log=lambda s: print(s, flush=True))
            print(game, design, "model seconds", round(out["model_seconds"], 1), flush=True)
