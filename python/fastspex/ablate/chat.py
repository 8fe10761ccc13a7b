"""The string a causal LM actually sees: the user message inside the tokenizer's chat template
(with an optional system prompt, earlier turns and a context document), or the raw text.

Only one stretch of that string is explained (its units are the components): the user
message, or the context document when one is given. Everything else (template tokens, the
system prompt, earlier turns, the question asked about a context) is never ablated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Prompt", "build_prompt", "has_chat_template", "stop_token_ids"]

# End-of-turn tokens of common chat templates; a greedy answer stops at any of them.
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "</s>")


@dataclass(frozen=True)
class Prompt:
    """The full prompt string and where the explained text lies in it.

    Attributes:
        text: what the model is given (a rendered chat template, or the raw text).
        start: offset of the explained text in ``text``.
        explained: the explained text (its units are the components).
        chat: whether ``text`` is a rendered chat template.
        user: the user message (the question, when a context is explained).
        system: the system prompt given, if any.
    """

    text: str
    start: int
    explained: str
    chat: bool
    user: str
    system: str | None = None

    @property
    def end(self) -> int:
        return self.start + len(self.explained)


def has_chat_template(tokenizer: Any) -> bool:
    """Whether the tokenizer defines a chat template (an instruction-tuned model)."""
    return bool(getattr(tokenizer, "chat_template", None))


def _check_history(history: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    turns = []
    for i, turn in enumerate(history):
        if not isinstance(turn, Mapping) or not {"role", "content"} <= set(turn):
            msg = f"turn {i} of the history must be a dict with 'role' and 'content'"
            raise ValueError(msg)
        if turn["role"] not in ("system", "user", "assistant"):
            msg = f"turn {i} has role {turn['role']!r}; use 'system', 'user' or 'assistant'"
            raise ValueError(msg)
        turns.append({"role": str(turn["role"]), "content": str(turn["content"])})
    return turns


def build_prompt(
    tokenizer: Any,
    text: str,
    *,
    chat: bool | None = None,
    system: str | None = None,
    history: Sequence[Mapping[str, str]] = (),
    context: str | None = None,
) -> Prompt:
    """The prompt for ``text`` (the user message).

    Args:
        tokenizer: the model's tokenizer.
        text: the user message (the question, when ``context`` is given).
        chat: use the chat template (``None``: when the tokenizer has one).
        system: a system prompt (chat only); never ablated.
        history: earlier turns, ``[{"role": ..., "content": ...}, ...]``, before ``text``;
            never ablated.
        context: a document given with the question (placed before it in the user message);
            when given it is what is explained instead of ``text``.
    """
    use_chat = has_chat_template(tokenizer) if chat is None else bool(chat)
    if use_chat and not has_chat_template(tokenizer):
        msg = "this tokenizer has no chat template: leave chat off (the raw text is used)"
        raise ValueError(msg)
    if not use_chat and (system is not None or history):
        msg = "a system prompt or earlier turns need the chat template (do not pass raw/chat=False)"
        raise ValueError(msg)
    if context is not None and not context.strip():
        msg = "the context is empty; give the document's text"
        raise ValueError(msg)
    explained = text if context is None else context
    content = text if context is None else f"{context.strip()}\n\n{text}"
    if not use_chat:
        return Prompt(content, 0, explained if context is None else context.strip(), False, text)
    messages = ([{"role": "system", "content": system}] if system is not None else [])
    messages += _check_history(history)
    messages.append({"role": "user", "content": content})
    rendered = str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    part = explained.strip()
    # The template may trim the message; the last occurrence is the final user turn.
    where = rendered.rfind(content.strip())
    if where < 0:
        msg = "the chat template changes the user message's text; pass raw=True to explain the raw text"
        raise ValueError(msg)
    start = rendered.find(part, where)
    return Prompt(rendered, start, part, True, text, system)


def stop_token_ids(tokenizer: Any, model: Any = None) -> set[int]:
    """Ids that end a generated answer: EOS (the tokenizer's and the generation config's) and
    the end-of-turn tokens of chat templates found in the vocabulary."""
    stops: set[int] = set()
    if tokenizer.eos_token_id is not None:
        stops.add(int(tokenizer.eos_token_id))
    gen = getattr(model, "generation_config", None)
    eos = getattr(gen, "eos_token_id", None)
    for e in eos if isinstance(eos, (list, tuple)) else [eos]:
        if isinstance(e, int):
            stops.add(e)
    vocab = tokenizer.get_vocab()
    stops.update(int(vocab[t]) for t in _END_OF_TURN if t in vocab)
    return stops
