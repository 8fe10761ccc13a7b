"""What an ablation explains, in words: the result-metadata keys of the shared contract
(``quantity``, ``answer``/``target``, ``class``, ``contrast``, ``reference``) and, for several
outputs per mask, their names and their meaningful combination."""

from __future__ import annotations

from typing import Any

__all__ = ["class_name", "describe_output"]


def class_name(model: Any, index: int) -> str:
    """The label of class ``index`` from the model's config (``id2label``), else ``class i``."""
    labels = getattr(getattr(model, "config", None), "id2label", None) or {}
    name = labels.get(index, labels.get(str(index)))
    return str(name) if name is not None else f"class {index}"


def describe_output(
    lm: Any, scorer: Any, output: Any, *, user_target: str | None = None,
    contrast: str | None = None, query: str | None = None,
) -> dict[str, Any]:
    """Contract metadata for a scorer built by :func:`~fastspex.ablate.outputs.make_scorer`."""
    from .outputs import ClassScore, Contrast, LogProb, Similarity

    tok = lm.tokenizer
    meta: dict[str, Any] = {"target": None}  # None: removed (the answer is not user-given)
    if isinstance(scorer, (LogProb, Contrast)):
        answer = str(tok.decode(scorer.targets[0]))
        meta["target" if user_target is not None else "answer"] = answer
        meta["quantity"] = f"log p({answer!r} | prompt), in nats"
    if isinstance(scorer, Contrast):
        other = str(tok.decode(scorer.parts[1].targets[0]))
        meta["contrast"] = other
        meta["output_names"] = [f"log p({answer!r})", f"log p({other!r})"]
        meta["combination"] = [f"log p({answer!r}) - log p({other!r})", [1.0, -1.0]]
        meta["quantity"] = f"log p({answer!r}) - log p({other!r}) given the prompt, in nats"
    elif isinstance(scorer, LogProb) and scorer.reduce == "tokens":
        pieces = [str(tok.decode([t])) for t in scorer.targets[0]]
        meta["output_names"] = [f"token {i}: {p!r}" for i, p in enumerate(pieces)]
        meta["combination"] = [f"log p({answer!r}) (sum over tokens)", [1.0] * len(pieces)]
    elif isinstance(scorer, LogProb) and scorer.reduce == "mean":
        meta["quantity"] = f"mean log p per token of {answer!r} given the prompt, in nats"
    if isinstance(scorer, ClassScore):
        if scorer.kind == "class_logprobs":
            n_classes = int(getattr(lm.model.config, "num_labels", 0) or 0)
            meta["output_names"] = [f"log p({class_name(lm.model, c)})" for c in range(n_classes)]
            meta["class"] = class_name(lm.model, scorer.classes[0]) if scorer.classes else None
            meta["quantity"] = "log-probability of each class"
            meta["primary"] = int(scorer.classes[0]) if scorer.classes else 0
        else:
            label = class_name(lm.model, scorer.classes[0])
            meta["class"] = label
            meta["quantity"] = {
                "logit": f"logit of {label!r}",
                "log_odds": f"log-odds of {label!r} vs the other classes",
                "prob": f"probability of {label!r}",
            }[scorer.kind]
    if isinstance(scorer, Similarity):
        meta["reference"] = query if query is not None else "the full text (nothing ablated)"
        meta["quantity"] = ("cosine similarity to the reference text" if query is not None
                            else "cosine similarity to the full text's embedding")
    if callable(output):
        meta["quantity"] = f"user output function {getattr(output, '__name__', 'fn')}"
    return meta
