"""Word ablation: this branch's ProxySPEX against a baseline commit's, in the same run (no loss allowed).

MiniLM (bundled), two hotel reviews ablated word by word (removal), output the cosine similarity
to the full text's embedding. The baseline's ProxySPEX is its source at ``git show BASE:``
loaded against this build's helpers, so what differs is that module: its design draws,
candidates and refit. Both sample their own masks with the same seed, through one in-memory
table of model outputs per text (the model is evaluated once per distinct mask); R² on 1,000
fresh uniform masks, the same for both. Machine shared with other jobs.

    python benchmarks/bench_words.py [--budgets 250,500,1000] [--seeds 3] [--base main]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
from typing import Any

import numpy as np
from _common import ROOT, add_out_argument, out_path, print_table, write_json

TEXTS = [
    "The room was small but spotless, the staff friendly, and breakfast was not bad at all.",
    "We loved the location although the street noise kept us awake on the first night.",
]


def _main_proxyspex(base: str) -> Any:
    """ProxySPEX as at commit ``base`` (its module source, loaded inside this fastspex package)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{base}:python/fastspex/explainers/proxyspex.py"],
                            capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("fastspex.explainers._main_proxyspex", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "fastspex.explainers"
    sys.modules[spec.name] = module
    exec(compile(source, f"{base}:proxyspex.py", "exec"), module.__dict__)  # noqa: S102 - our own main branch
    return module.ProxySPEX


class Table:
    """The model's outputs, each distinct mask evaluated once (shared by both versions)."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.n, self.memo = fn, fn.n, {}

    def __call__(self, masks: Any) -> np.ndarray:
        arr = masks.to_bool() if hasattr(masks, "to_bool") else np.asarray(masks, bool)
        keys = [r.tobytes() for r in np.packbits(arr, axis=1)]
        todo = [i for i, k in enumerate(keys) if k not in self.memo]
        if todo:
            out = self.fn(arr[todo])
            for i, v in zip(todo, out):
                self.memo[keys[i]] = float(v)
        return np.array([self.memo[k] for k in keys])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="250,500,1000")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--base", default="main",
                        help="the commit whose ProxySPEX is the baseline (default: main)")
    add_out_argument(parser, "bench_words")
    args = parser.parse_args()
    from fastspex import ablate, indices
    from fastspex.explainers.proxyspex import ProxySPEX
    from fastspex.explainers.result import r_squared

    old = _main_proxyspex(args.base)
    lm = ablate.load_model()
    budgets = [250] if args.quick else [int(b) for b in args.budgets.split(",")]
    rows: list[dict[str, Any]] = []
    for t, text in enumerate(TEXTS[:1] if args.quick else TEXTS):
        table = Table(ablate.FeatureAblation(text, lm, unit="word"))
        test = np.random.default_rng(123).random((1000, table.n)) < 0.5
        truth = table(test)
        for budget in budgets:
            for seed in range(args.seeds):
                got = {}
                for name, cls in (("main", old), ("branch", ProxySPEX)):
                    res = cls(budget, seed=seed, progress=False).fit(table, table.n, store=None)
                    got[name] = r_squared(truth, indices.evaluate(res.coefficients, test))
                rows.append({"text": t, "n": table.n, "budget": budget, "seed": seed, **got,
                             "delta": got["branch"] - got["main"]})
                print(rows[-1], flush=True)
    summary = []
    for t in sorted({r["text"] for r in rows}):
        for budget in budgets:
            sel = [r for r in rows if r["text"] == t and r["budget"] == budget]
            summary.append({"text": t, "n": sel[0]["n"], "budget": budget,
                            "main_r2": statistics.median(r["main"] for r in sel),
                            "branch_r2": statistics.median(r["branch"] for r in sel),
                            "median_delta": statistics.median(r["delta"] for r in sel)})
    print_table(summary, ["text", "n", "budget", "main_r2", "branch_r2", "median_delta"],
                "Word ablation, held-out R² (median over seeds)")
    path = write_json("bench_words", {"rows": rows, "summary": summary, "base": args.base},
                      out_path("bench_words", args))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
