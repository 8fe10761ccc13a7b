"""Splitting a text into ablation units: tokens, words, sentences or user spans.

A unit is a character span ``(start, end)`` of the text with its surface string. Units never
overlap and are in text order; characters outside every unit (spaces between words) are kept
whatever the mask says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Unit", "UnitKind", "ablated_text", "split_units"]

UnitKind = Literal["token", "word", "sentence", "paragraph"]
SpansLike = Sequence[tuple[int, int] | str]

_WORD = re.compile(r"\S+")
# A sentence runs to its closing . ! ? (with trailing quotes/brackets) or to a blank line.
_PARAGRAPH = re.compile(r"\S.*?(?=\n[ \t]*\n|\Z)", re.DOTALL)
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+[\"')\]]*(?=\s|$)|(?=\n\s*\n)|$)", re.DOTALL)


@dataclass(frozen=True)
class Unit:
    """One ablation unit: its character span in the text and its surface string."""

    start: int
    end: int
    text: str


def split_units(
    text: str,
    unit: UnitKind | SpansLike = "word",
    *,
    tokenizer: Any = None,
) -> list[Unit]:
    """The units of ``text``.

    Args:
        text: the input; must contain a non-space character.
        unit: ``"word"`` (runs of non-space characters), ``"sentence"``, ``"paragraph"``
            (text between blank lines), ``"token"`` (the
            tokenizer's tokens, special tokens excluded), or user spans: a list of
            ``(start, end)`` character spans, or a list of strings that occur in ``text`` in
            order (each is located after the previous one).
        tokenizer: needed for ``"token"``.
    """
    if not isinstance(text, str):
        msg = f"text must be a string, got {type(text).__name__}"
        raise TypeError(msg)
    if not text.strip():
        msg = "text is empty (nothing to ablate)"
        raise ValueError(msg)
    if isinstance(unit, str):
        if unit == "word":
            units = [Unit(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        elif unit == "sentence":
            units = [_strip(text, m.start(), m.end()) for m in _SENTENCE.finditer(text)]
        elif unit == "paragraph":
            units = [_strip(text, m.start(), m.end()) for m in _PARAGRAPH.finditer(text)]
        elif unit == "token":
            units = _token_units(text, tokenizer)
        else:
            msg = f"unit must be 'token', 'word', 'sentence', 'paragraph' or a list of spans, got {unit!r}"
            raise ValueError(msg)
    else:
        units = _user_spans(text, unit)
    units = [u for u in units if u.end > u.start]
    if not units:
        msg = "the text splits into no units"
        raise ValueError(msg)
    return units


def _strip(text: str, start: int, end: int) -> Unit:
    while end > start and text[end - 1].isspace():
        end -= 1
    return Unit(start, end, text[start:end])


def _token_units(text: str, tokenizer: Any) -> list[Unit]:
    if tokenizer is None:
        msg = "unit='token' needs a tokenizer (pass a model)"
        raise ValueError(msg)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    units = []
    for start, end in enc["offset_mapping"]:
        # Byte-level BPE offsets include the leading space; the unit is what is ablated, so
        # trim it for display only when the token has more than that space.
        s = start
        while s < end - 1 and text[s].isspace():
            s += 1
        if end > start:
            units.append(Unit(s, end, text[s:end]))
    return units


def _user_spans(text: str, spans: SpansLike) -> list[Unit]:
    units: list[Unit] = []
    pos = 0
    for i, span in enumerate(spans):
        if isinstance(span, str):
            if not span:
                msg = f"span {i} is an empty string"
                raise ValueError(msg)
            start = text.find(span, pos)
            if start < 0:
                msg = f"span {i} ({span!r}) does not occur in the text after character {pos}"
                raise ValueError(msg)
            end = start + len(span)
        else:
            try:
                start, end = (int(v) for v in span)
            except (TypeError, ValueError) as err:
                msg = f"span {i} must be a (start, end) pair or a string, got {span!r}"
                raise TypeError(msg) from err
            if not 0 <= start < end <= len(text):
                msg = f"span {i} = ({start}, {end}) is empty or outside the text (length {len(text)})"
                raise ValueError(msg)
            if start < pos:
                msg = f"span {i} = ({start}, {end}) overlaps or precedes the previous span (ends at {pos})"
                raise ValueError(msg)
        units.append(Unit(start, end, text[start:end]))
        pos = end
    return units


def ablated_text(text: str, units: Sequence[Unit], keep: Sequence[bool], replacement: Sequence[str] | str = "") -> str:
    """``text`` with every unit whose ``keep`` is false replaced (default: removed).

    Removing a unit also drops one adjacent run of spaces so words do not end up double-spaced.
    """
    out: list[str] = []
    pos = 0
    for i, (u, k) in enumerate(zip(units, keep)):
        out.append(text[pos : u.start])
        if k:
            out.append(u.text)
        else:
            rep = replacement if isinstance(replacement, str) else replacement[i]
            out.append(rep)
        pos = u.end
    out.append(text[pos:])
    joined = "".join(out)
    if (isinstance(replacement, str) and replacement == "") and not all(keep):
        joined = re.sub(r"[ \t]{2,}", " ", joined).strip()
    return joined
