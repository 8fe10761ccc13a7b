"""Turning a batch of token-id rows into one scalar per row: the model outputs fastspex explains.

* :class:`LogProb` (causal LMs): log-probability of a target continuation given the row.
  Rows are left-padded, so every target ends at the last position and ``logits_to_keep``
  limits the vocabulary projection to the target positions.
* :class:`ClassScore` (classifiers): a class logit, its log-odds or its probability.
* :class:`Similarity` (encoders): cosine similarity of the mean-pooled embedding to a
  reference embedding.
* :class:`UserScore`: any function of the model's outputs and the batch.

Each scorer is built for one or more input texts (``which`` picks the text of every row).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from .models import LoadedModel

__all__ = [
    "ClassScore",
    "Contrast",
    "LogProb",
    "Scorer",
    "Similarity",
    "UserScore",
    "check_length",
    "context_length",
    "continuation_target",
    "embed_rows",
    "encode_prompt",
    "explained_answer",
    "greedy_continuation",
    "make_scorer",
    "mean_pool",
    "output_identity",
    "pad_rows",
]

OutputName = Literal[
    "auto", "logprob", "token_logprobs", "logit", "log_odds", "prob", "class_logprobs", "similarity",
]


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, side: str, device: Any) -> dict[str, Any]:
    """Pad rows of ids into ``input_ids`` / ``attention_mask`` (plus ``position_ids`` counted
    from each row's first real token when padding on the left, so padding never shifts positions)."""
    import torch

    length = max(len(r) for r in rows)
    ids = np.full((len(rows), length), pad_id, dtype=np.int64)
    att = np.zeros((len(rows), length), dtype=np.int64)
    for i, r in enumerate(rows):
        if side == "left":
            ids[i, length - len(r) :] = r
            att[i, length - len(r) :] = 1
        else:
            ids[i, : len(r)] = r
            att[i, : len(r)] = 1
    batch = {
        "input_ids": torch.from_numpy(ids).to(device),
        "attention_mask": torch.from_numpy(att).to(device),
    }
    if side == "left":
        batch["position_ids"] = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    return batch


def encode_prompt(
    lm: LoadedModel, text: str, *, template: bool = False,
) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    """Token ids, character offsets and special-token flags of ``text`` as the model sees it.

    A causal prompt keeps only leading special tokens (an appended EOS would sit between the
    prompt and the target); with none, BOS (else EOS) is prepended, so that an empty prompt
    still gives the first target token a context, as in GPT-2's own training. A rendered chat
    ``template`` is tokenized as it stands (it writes its own special tokens).
    """
    tok = lm.tokenizer
    enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=not template,
              add_special_tokens=not template)
    ids = [int(i) for i in enc["input_ids"]]
    offsets = [(int(a), int(b)) for a, b in enc["offset_mapping"]]
    if template:  # special tokens written in the text are not flagged by the tokenizer
        specials = set(tok.all_special_ids) | set(getattr(tok, "added_tokens_decoder", {}))
        special = [int(i in specials) for i in ids]
        return ids, offsets, special
    special = [int(s) for s in enc["special_tokens_mask"]]
    if lm.kind == "causal":
        while len(special) > 1 and special[-1]:
            ids.pop(), offsets.pop(), special.pop()
        if not (special and special[0]):
            bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
            if bos is not None:
                ids.insert(0, int(bos))
                offsets.insert(0, (0, 0))
                special.insert(0, 1)
    return ids, offsets, special


def context_length(lm: LoadedModel) -> int | None:
    """Most tokens the model accepts (its position embeddings / tokenizer limit), if known."""
    config = getattr(lm.model, "config", None)
    limits = [getattr(config, k, None) for k in ("max_position_embeddings", "n_positions", "n_ctx")]
    limits.append(getattr(lm.tokenizer, "model_max_length", None))
    good = [int(x) for x in limits if isinstance(x, int) and not isinstance(x, bool) and 0 < x < 10**7]
    return min(good) if good else None


def check_length(lm: LoadedModel, n_tokens: int) -> None:
    """Refuse a prompt longer than the model accepts, before the model runs."""
    limit = context_length(lm)
    if limit is not None and n_tokens > limit:
        msg = (f"the text is {n_tokens:,} tokens; this model accepts {limit:,}: shorten the "
               "text or use a model with a longer context")
        raise ValueError(msg)


def _accepts(model: Any, name: str) -> bool:
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - exotic forward signatures
        return False


class Scorer:
    """Base: rows of ids (one per mask) -> one float (or a vector) per row."""

    padding_side = "right"
    #: Causal scorers may compute the prefix every row shares once (see :mod:`.batching`).
    reuses_prefix = False
    #: Token ids every prompt row starts with and no mask changes (set by the ablation).
    prefix_ids: tuple[int, ...] = ()

    def rows(self, prompt_rows: Sequence[Sequence[int]], which: np.ndarray) -> list[list[int]]:
        """The full token rows fed to the model (prompts plus anything the scorer appends)."""
        return [list(r) for r in prompt_rows]

    def forward_kwargs(self, lm: LoadedModel, rows: Sequence[Sequence[int]], which: np.ndarray) -> dict[str, Any]:
        return {}

    def min_suffix(self, which: np.ndarray) -> int:
        """Fewest trailing positions the scores read (the reusable prefix stops before them)."""
        return 1

    def score(self, out: Any, batch: dict[str, Any], which: np.ndarray) -> Any:
        raise NotImplementedError

    def __call__(self, lm: LoadedModel, prompt_rows: Sequence[Sequence[int]], which: np.ndarray) -> Any:
        """Scores (a float tensor of ``len(prompt_rows)`` rows) of one forward pass."""
        import torch

        from .batching import prefix_batch, usable_prefix

        rows = self.rows(prompt_rows, which)
        if any(len(r) == 0 for r in rows):
            msg = "an ablated input has no tokens left; keep a special token or use a replacement"
            raise ValueError(msg)
        p = usable_prefix(self, lm, rows, which)
        if p:
            batch, kwargs = prefix_batch(self, lm, rows, p)
        else:
            batch = pad_rows(rows, lm.pad_id, self.padding_side, lm.device)
            kwargs = dict(batch)
        if "position_ids" in kwargs and not _accepts(lm.model, "position_ids"):
            del kwargs["position_ids"]
        kwargs.update(self.forward_kwargs(lm, rows, which))
        if p:
            kwargs["use_cache"] = True
        with torch.inference_mode():
            out = lm.model(**kwargs)
            return self.score(out, batch, which).float()


class LogProb(Scorer):
    """Log-probability of ``targets[which]`` following each row: the sum, the mean per token,
    or (``reduce="tokens"``) one output per target token."""

    padding_side = "left"
    reuses_prefix = True

    def __init__(self, targets: Sequence[Sequence[int]], reduce: Literal["sum", "mean", "tokens"] = "sum") -> None:
        if reduce not in ("sum", "mean", "tokens"):
            msg = f"reduce must be 'sum', 'mean' or 'tokens', got {reduce!r}"
            raise ValueError(msg)
        if not targets or any(len(t) == 0 for t in targets):
            msg = "the target continuation is empty"
            raise ValueError(msg)
        if reduce == "tokens" and len({len(t) for t in targets}) > 1:
            msg = "per-token outputs need targets of one length (explain one text at a time)"
            raise ValueError(msg)
        self.targets = [list(map(int, t)) for t in targets]
        self.reduce = reduce

    def rows(self, prompt_rows: Sequence[Sequence[int]], which: np.ndarray) -> list[list[int]]:
        if any(len(r) == 0 for r in prompt_rows):
            msg = (
                "an ablated prompt is empty, so the first target token has no context; "
                "the tokenizer has no BOS token to keep — pass prefix ids or use a replacement"
            )
            raise ValueError(msg)
        return [list(r) + self.targets[w] for r, w in zip(prompt_rows, which)]

    def min_suffix(self, which: np.ndarray) -> int:
        return max(len(self.targets[w]) for w in which) + 1

    def forward_kwargs(self, lm: LoadedModel, rows: Sequence[Sequence[int]], which: np.ndarray) -> dict[str, Any]:
        kw: dict[str, Any] = {"use_cache": False} if _accepts(lm.model, "use_cache") else {}
        if _accepts(lm.model, "logits_to_keep"):
            kw["logits_to_keep"] = max(len(self.targets[w]) for w in which) + 1
        return kw

    def score(self, out: Any, batch: dict[str, Any], which: np.ndarray) -> Any:
        import torch

        kmax = max(len(self.targets[w]) for w in which)
        logits = out.logits[:, -(kmax + 1) : -1].float()  # position i predicts token L-kmax+i
        logp = torch.log_softmax(logits, dim=-1)
        tgt = np.zeros((len(which), kmax), dtype=np.int64)
        valid = np.zeros((len(which), kmax), dtype=bool)
        for i, w in enumerate(which):
            t = self.targets[w]
            tgt[i, kmax - len(t) :] = t
            valid[i, kmax - len(t) :] = True
        tgt_t = torch.from_numpy(tgt).to(logp.device)
        valid_t = torch.from_numpy(valid).to(logp.device)
        picked = logp.gather(-1, tgt_t[..., None])[..., 0] * valid_t
        if self.reduce == "tokens":
            return picked
        total = picked.sum(-1)
        if self.reduce == "mean":
            total = total / valid_t.sum(-1)
        return total


class Contrast(Scorer):
    """``(log p(target), log p(contrast))`` per row: two continuations scored on the same
    ablated prompt; their difference is the log-odds of the target against the contrast."""

    padding_side = "left"

    def __init__(self, targets: Sequence[Sequence[int]], contrasts: Sequence[Sequence[int]]) -> None:
        self.parts = (LogProb(targets), LogProb(contrasts))
        self.targets = self.parts[0].targets

    def __call__(self, lm: LoadedModel, prompt_rows: Sequence[Sequence[int]], which: np.ndarray) -> Any:
        import torch

        for part in self.parts:
            part.prefix_ids = self.prefix_ids
        return torch.stack([part(lm, prompt_rows, which) for part in self.parts], dim=-1)


class ClassScore(Scorer):
    """A class's logit, log-odds ``log p/(1-p)`` or probability, for ``classes[which]``; or
    (``"class_logprobs"``) the log-probability of every class."""

    def __init__(
        self, classes: Sequence[int], kind: Literal["logit", "log_odds", "prob", "class_logprobs"] = "log_odds",
    ) -> None:
        if kind not in ("logit", "log_odds", "prob", "class_logprobs"):
            msg = f"classifier output must be 'logit', 'log_odds', 'prob' or 'class_logprobs', got {kind!r}"
            raise ValueError(msg)
        self.classes = [int(c) for c in classes]
        self.kind = kind

    def score(self, out: Any, batch: dict[str, Any], which: np.ndarray) -> Any:
        import torch

        logits = out.logits.float()
        if self.kind == "class_logprobs":  # every class at once: one output per class
            return torch.log_softmax(logits, dim=-1)
        idx = torch.as_tensor([self.classes[w] for w in which], device=logits.device)
        chosen = logits.gather(-1, idx[:, None])[:, 0]
        if self.kind == "logit" or logits.shape[-1] == 1:
            return chosen
        logp = torch.log_softmax(logits, dim=-1).gather(-1, idx[:, None])[:, 0]
        if self.kind == "prob":
            return logp.exp()
        others = logits.scatter(-1, idx[:, None], float("-inf"))
        return chosen - torch.logsumexp(others, dim=-1)


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Mean of the hidden states over real (unpadded) tokens."""
    m = attention_mask.to(hidden.dtype)[..., None]
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class Similarity(Scorer):
    """Cosine similarity between each row's mean-pooled embedding and ``refs[which]``."""

    def __init__(self, refs: Any) -> None:
        self.refs = refs.float()

    def score(self, out: Any, batch: dict[str, Any], which: np.ndarray) -> Any:
        import torch

        emb = mean_pool(_hidden(out).float(), batch["attention_mask"])
        ref = self.refs[torch.as_tensor(which, device=self.refs.device)].to(emb.device)
        return torch.nn.functional.cosine_similarity(emb, ref, dim=-1)


class _Embed(Scorer):
    """Internal: the pooled embedding itself (for references)."""

    def score(self, out: Any, batch: dict[str, Any], which: np.ndarray) -> Any:
        return mean_pool(_hidden(out).float(), batch["attention_mask"])


def _hidden(out: Any) -> Any:
    hidden = getattr(out, "last_hidden_state", None)
    if hidden is None:
        msg = "similarity needs an encoder with last_hidden_state (load it with kind='encoder')"
        raise ValueError(msg)
    return hidden


class UserScore(Scorer):
    """``fn(model_outputs, batch) -> (B,)`` tensor; ``batch`` holds ``input_ids``,
    ``attention_mask`` (and ``position_ids`` when left-padded) and ``which``."""

    def __init__(self, fn: Callable[[Any, dict[str, Any]], Any], padding_side: str = "right") -> None:
        if padding_side not in ("left", "right"):
            msg = f"padding_side must be 'left' or 'right', got {padding_side!r}"
            raise ValueError(msg)
        self.fn = fn
        self.padding_side = padding_side

    def score(self, out: Any, batch: dict[str, Any], which: np.ndarray) -> Any:
        import torch

        res = torch.as_tensor(self.fn(out, {**batch, "which": which}))
        if res.shape != (len(which),):
            msg = f"score function returned shape {tuple(res.shape)} for a batch of {len(which)} rows"
            raise ValueError(msg)
        return res


def output_identity(output: OutputName | Callable[[Any, dict[str, Any]], Any]) -> str:
    """What identifies ``output`` in a store key: its name, or a hash of a user function's code,
    defaults and closure values (:func:`~fastspex.store.callable_key`, which raises
    :class:`~fastspex.store.StoreError` asking for an explicit ``key=`` when that is unreliable)."""
    from ..evaluation.store import callable_key

    if isinstance(output, str):
        return output
    return "fn:" + callable_key(output, "output")


def continuation_target(prompt_text: str, target: str) -> tuple[str, str | None]:
    """A user's target as the continuation of the prompt: a word typed without its leading
    space (``"Paris"`` after ``"… is"``) would be scored glued to the prompt's last word, which
    no reader means; it gets the space, and the returned note says so."""
    if target and not target[0].isspace() and prompt_text and not prompt_text[-1].isspace() \
            and target[0].isalnum():
        return " " + target, (f"target {target!r} follows the prompt with no space between: "
                              f"explained as {' ' + target!r} (pass the exact continuation, e.g. "
                              "with its leading space, to silence this)")
    return target, None


def explained_answer(lm: LoadedModel, scorer: Any) -> str | None:
    """The text of the continuation a causal-LM scorer explains (its first prompt's)."""
    targets = getattr(scorer, "targets", None)
    if lm.kind != "causal" or not targets:
        return None
    return str(lm.tokenizer.decode(targets[0]))


def greedy_continuation(
    lm: LoadedModel, prompt: Sequence[int], max_new_tokens: int, stops: set[int] | None = None,
) -> list[int]:
    """The model's own greedy continuation of ``prompt``, up to (without) the first stop token
    (EOS or end-of-turn; default :func:`~fastspex.ablate.chat.stop_token_ids`) or
    ``max_new_tokens``. A stop token generated first is kept: an answer cannot be empty."""
    import torch

    from .batching import cache_keyword, cache_of
    from .chat import stop_token_ids

    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        msg = f"max_new_tokens must be a positive integer, got {max_new_tokens!r}"
        raise ValueError(msg)
    stops = stop_token_ids(lm.tokenizer, lm.model) if stops is None else stops
    ids = list(prompt)
    new: list[int] = []
    cache: Any = None
    kw: dict[str, Any] = {"logits_to_keep": 1} if _accepts(lm.model, "logits_to_keep") else {}
    keyword = cache_keyword(lm.model)
    use_cache = _accepts(lm.model, keyword)
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            if use_cache:
                step = ids if cache is None else ids[-1:]
                x = torch.tensor([step], device=lm.device)
                pos = torch.arange(len(ids) - len(step), len(ids), device=lm.device)[None]
                out = lm.model(input_ids=x, use_cache=True, position_ids=pos,
                               **{keyword: cache}, **kw)
                cache = cache_of(out)
            else:
                out = lm.model(input_ids=torch.tensor([ids], device=lm.device), **kw)
            nxt = int(out.logits[0, -1].argmax())
            if nxt in stops and new:
                break
            ids.append(nxt)
            new.append(nxt)
            if nxt in stops:
                break
    return new


def embed_rows(lm: LoadedModel, rows: Sequence[Sequence[int]], batch_size: int = 64) -> Any:
    """Mean-pooled embeddings of token rows, ``(len(rows), d)``."""
    import torch

    scorer = _Embed()
    parts = [
        scorer(lm, rows[s : s + batch_size], np.zeros(len(rows[s : s + batch_size]), np.int64))
        for s in range(0, len(rows), batch_size)
    ]
    return torch.cat(parts)


def make_scorer(
    lm: LoadedModel,
    prompts: Sequence[Sequence[int]],
    output: OutputName | Callable[[Any, dict[str, Any]], Any] = "auto",
    *,
    target: str | Sequence[str] | None = None,
    query: str | Sequence[str] | None = None,
    class_index: int | Sequence[int] | None = None,
    max_new_tokens: int = 64,
    reduce: Literal["sum", "mean"] = "sum",
    contrast: str | None = None,
) -> Scorer:
    """The scorer for ``output`` on a model, given the unablated prompt rows (one per text).

    Defaults (``output="auto"``): causal LM → log-probability of the model's own greedy
    continuation of the full prompt (or of ``target``); classifier → log-odds of the class
    predicted on the full input (or ``class_index``); encoder → cosine similarity to the full
    input's embedding (or to the embedding of ``query``).

    Several outputs per mask: ``"token_logprobs"`` (one per token of the continuation),
    ``"class_logprobs"`` (one per class), and ``contrast`` (a second continuation: outputs
    ``log p(target)`` and ``log p(contrast)``).
    """
    if callable(output):
        return UserScore(output, "left" if lm.kind == "causal" else "right")
    if output == "auto":
        output = {"causal": "logprob", "classifier": "log_odds", "encoder": "similarity"}[lm.kind]  # type: ignore[assignment]  # each value is an OutputName
    allowed = {"causal": ("logprob", "token_logprobs"),
               "classifier": ("logit", "log_odds", "prob", "class_logprobs"), "encoder": ("similarity",)}
    if output not in allowed[lm.kind]:
        msg = f"output {output!r} does not fit a {lm.kind} model; choose from {allowed[lm.kind]} or pass a function"
        raise ValueError(msg)
    n_texts = len(prompts)
    if contrast is not None and output != "logprob":
        msg = f"contrast= compares two continuations of a causal LM; it does not apply to output {output!r}"
        raise ValueError(msg)
    if output in ("logprob", "token_logprobs"):
        if target is not None:
            targets_text = [target] * n_texts if isinstance(target, str) else list(target)
            if len(targets_text) != n_texts:
                msg = f"{len(targets_text)} targets for {n_texts} texts"
                raise ValueError(msg)
            targets = [lm.tokenizer(t, add_special_tokens=False)["input_ids"] for t in targets_text]
        else:
            targets = [greedy_continuation(lm, p, max_new_tokens) for p in prompts]
        if contrast is not None:
            other = lm.tokenizer(contrast, add_special_tokens=False)["input_ids"]
            return Contrast(targets, [other] * n_texts)
        return LogProb(targets, "tokens" if output == "token_logprobs" else reduce)
    if output in ("logit", "log_odds", "prob", "class_logprobs"):
        if class_index is None:
            import torch

            with torch.inference_mode():
                batch = pad_rows(prompts, lm.pad_id, "right", lm.device)
                classes = lm.model(**batch).logits.argmax(-1).tolist()
        else:
            classes = [class_index] * n_texts if isinstance(class_index, int) else list(class_index)
        n_classes = int(getattr(lm.model.config, "num_labels", 0) or 0)
        for c in classes:
            if n_classes and not 0 <= int(c) < n_classes:
                msg = f"class_index {c} is out of range for {n_classes} classes"
                raise IndexError(msg)
        return ClassScore(classes, output)
    # similarity
    if query is None:
        refs = embed_rows(lm, prompts)
    else:
        queries = [query] * n_texts if isinstance(query, str) else list(query)
        if len(queries) != n_texts or any(not q.strip() for q in queries):
            msg = "query must be a non-empty string (or one per text)"
            raise ValueError(msg)
        refs = embed_rows(lm, [encode_prompt(lm, q)[0] for q in queries])
    return Similarity(refs)
