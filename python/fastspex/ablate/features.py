"""Feature ablation: the model's output on a text with some of its units removed or replaced.

The text is tokenized once; each token belongs to the unit holding its first non-space
character, a whitespace-only token to the next unit (special tokens and tokens outside every
unit are always kept). A mask keeps or ablates whole units at the token level, so kept units
keep exactly their original tokens.
"""

from __future__ import annotations

import bisect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from ..evaluation.store import experiment_key
from ._base import AblationBase, check_masks, finite_or_raise
from .batching import run_batches
from .chat import Prompt, build_prompt
from .describe import describe_output
from .models import LoadedModel, as_loaded, auto_batch_size
from .outputs import (
    OutputName,
    check_length,
    continuation_target,
    encode_prompt,
    explained_answer,
    make_scorer,
    output_identity,
)
from .units import SpansLike, Unit, UnitKind, ablated_text, split_units

__all__ = ["FeatureAblation"]

Ablation = Literal["remove", "pad", "mask", "unk", "baseline"]


class FeatureAblation(AblationBase):
    """Value function over the units of one text.

    Args:
        text: the input text.
        model: a :class:`LoadedModel`, a built-in name or model folder (default: the bundled
            MiniLM), or a ``transformers`` model object together with ``tokenizer``. Not
            needed with ``text_fn``.
        unit: ``"word"``, ``"sentence"``, ``"token"`` or user spans (see :func:`split_units`).
        ablation: ``"remove"`` the unit's tokens, replace each with the ``"pad"``, ``"mask"``
            or ``"unk"`` token, or with the matching unit of ``baseline`` (``"baseline"``).
        baseline: a text splitting into the same number of units, or one string per unit.
        output: ``"auto"``, ``"logprob"``, ``"logit"``, ``"log_odds"``, ``"prob"``,
            ``"similarity"`` or ``fn(model_outputs, batch) -> (B,)`` (see :func:`make_scorer`).
        target: causal LM: the continuation scored (default: the model's own greedy answer).
        query: encoder: the reference text compared with (default: the full text).
        class_index: classifier: the class explained (default: the predicted class).
        max_new_tokens: causal LM: the longest greedy answer generated.
        reduce: ``"sum"`` or ``"mean"`` of the continuation's token log-probabilities.
        contrast: causal LM: a second continuation; the outputs are log p(target) and
            log p(contrast), combined as their difference.
        chat: causal LMs: put the text in the tokenizer's chat template as the user message
            (``None``: whenever the tokenizer has one; ``False``: the raw text).
        system: a system prompt (chat only), never ablated.
        history: earlier turns ``[{"role": ..., "content": ...}]`` before the text, never ablated.
        context: a document given with the question ``text``: its units (e.g.
            ``unit="sentence"`` or ``"paragraph"``) are the components, the question is kept.
        text_fn: instead of a model, any ``fn(list_of_ablated_texts) -> floats``.
        batch_size: masks per forward pass (default: about 8k tokens per batch on CPU).
        device: move the model there first.
        key: store key (default: derived from the model fingerprint, text and settings; with
            ``text_fn`` only an explicit key enables the store).
    """

    kind = "features"

    def __init__(
        self,
        text: str,
        model: Any = None,
        *,
        tokenizer: Any = None,
        unit: UnitKind | SpansLike = "word",
        ablation: Ablation = "remove",
        baseline: str | Sequence[str] | None = None,
        output: OutputName | Callable[[Any, dict[str, Any]], Any] = "auto",
        target: str | None = None,
        query: str | None = None,
        class_index: int | None = None,
        max_new_tokens: int = 64,
        reduce: Literal["sum", "mean"] = "sum",
        contrast: str | None = None,
        chat: bool | None = None,
        system: str | None = None,
        history: Sequence[dict[str, str]] = (),
        context: str | None = None,
        text_fn: Callable[[list[str]], Any] | None = None,
        batch_size: int | None = None,
        device: Any = None,
        key: str | None = None,
    ) -> None:
        if ablation not in ("remove", "pad", "mask", "unk", "baseline"):
            msg = f"ablation must be 'remove', 'pad', 'mask', 'unk' or 'baseline', got {ablation!r}"
            raise ValueError(msg)
        self.ablation = ablation
        self.text_fn = text_fn
        self.lm: LoadedModel | None = None
        tok = None
        if text_fn is None:
            self.lm = as_loaded(model, tokenizer, device=device)
            tok = self.lm.tokenizer
        elif not callable(text_fn):
            msg = "text_fn must be callable"
            raise TypeError(msg)
        causal = self.lm is not None and self.lm.kind == "causal"
        if not causal and (chat or system is not None or history or contrast is not None):
            msg = "chat, system, history and contrast apply to causal LMs only"
            raise ValueError(msg)
        if self.lm is None and context is not None:
            msg = "context= needs a model (with text_fn, pass the whole text)"
            raise ValueError(msg)
        if causal:
            assert self.lm is not None
            self.prompt = build_prompt(self.lm.tokenizer, text, chat=chat, system=system,
                                       history=history, context=context)
        else:
            whole = text if context is None else f"{context.strip()}\n\n{text}"
            self.prompt = Prompt(whole, 0, text if context is None else context.strip(), False, text)
        #: The explained text (the user message, or the context): its units are the components.
        self.text = self.prompt.explained
        self.units: list[Unit] = split_units(self.text, unit, tokenizer=tok if tok is not None else tokenizer)
        self.n = len(self.units)
        self.labels = [u.text for u in self.units]
        self._replacement_text = self._replacements(baseline, unit, tok if tok is not None else tokenizer)
        self.metadata: dict[str, Any] = {"prompt": self.prompt.user, "system": self.prompt.system,
                                         "context": context,
                                         "unit": unit if isinstance(unit, str) else "span"}
        settings = {
            "text": self.prompt.text,
            "units": [(u.start, u.end) for u in self.units],
            "ablation": ablation,
            "baseline": self._replacement_text,
        }
        if self.lm is None:
            self.batch_size = batch_size if batch_size is not None else 64
            self.cache_key = key
            return
        lm = self.lm
        self._ids, self._unit_of = self._tokenize(
            self.prompt.text, (self.prompt.start, self.prompt.end), template=self.prompt.chat)
        check_length(lm, len(self._ids))  # before make_scorer, which may run the model
        self._baseline_ids = self._baseline_token_ids(baseline, unit)
        self.notes: list[str] = []
        user_target = target
        if causal and isinstance(target, str) and not self.prompt.chat:
            target, note = continuation_target(self.prompt.text, target)
            if note:
                warnings.warn(note, stacklevel=2)
                self.notes.append(note)
        if causal and isinstance(contrast, str) and not self.prompt.chat:
            contrast, note = continuation_target(self.prompt.text, contrast)
            if note:
                warnings.warn(note.replace("target", "contrast", 1), stacklevel=2)
                self.notes.append(note.replace("target", "contrast", 1))
        self.scorer = make_scorer(
            lm, [self._ids.tolist()], output, target=target, query=query, class_index=class_index,
            max_new_tokens=max_new_tokens, reduce=reduce, contrast=contrast,
        )
        first = np.flatnonzero(self._unit_of >= 0)
        self.scorer.prefix_ids = tuple(int(i) for i in self._ids[: first[0] if len(first) else 0])
        self.target = explained_answer(lm, self.scorer)  # the continuation explained, as text
        self.metadata.update(describe_output(lm, self.scorer, output, user_target=user_target,
                                             contrast=contrast, query=query))
        extra = len(getattr(self.scorer, "targets", [[]])[0])
        n_params = sum(p.numel() for p in lm.model.parameters())
        self.batch_size = batch_size if batch_size is not None else auto_batch_size(
            len(self._ids) + extra, lm.device, n_params=n_params, model=lm.model
        )
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            msg = f"batch_size must be a positive integer, got {self.batch_size!r}"
            raise ValueError(msg)
        self.cache_key = key if key is not None else experiment_key(
            "features", lm.fingerprint, settings, output=output_identity(output), target=target, query=query,
            class_index=class_index, max_new_tokens=max_new_tokens, reduce=reduce,
            targets=getattr(self.scorer, "targets", None),
            **({"contrast": contrast} if contrast is not None else {}),  # keys of older runs kept
        )

    @property
    def output_names(self) -> list[str] | None:
        """Names of the outputs when there are several per mask (else ``None``)."""
        return self.metadata.get("output_names")

    @property
    def combination(self) -> tuple[str, np.ndarray] | None:
        """The meaningful combination of several outputs: its name and weights, if any."""
        comb = self.metadata.get("combination")
        return None if comb is None else (str(comb[0]), np.asarray(comb[1], dtype=np.float64))

    # --- construction helpers -------------------------------------------------------------
    def _tokenize(self, text: str, region: tuple[int, int] | None = None, *,
                  template: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``text`` and, per token, its unit index (-1: always kept). The units
        lie in ``region`` of ``text`` (the explained part of a prompt; default: all of it);
        ``template``: ``text`` is a rendered chat template (it holds its own special tokens)."""
        assert self.lm is not None
        at, end = region if region is not None else (0, len(text))
        ids, offsets, special = encode_prompt(self.lm, text, template=template)
        starts = [u.start + at for u in self.units]
        ends = [u.end + at for u in self.units]
        unit_of = np.full(len(ids), -1, dtype=np.int64)
        for j, ((s, e), sp) in enumerate(zip(offsets, special)):
            if sp or e <= s:
                continue
            if e <= at or s >= end:
                continue  # template, system prompt, question: never ablated
            if s < at or e > end:
                msg = (f"token {text[s:e]!r} straddles the edge of the explained text; the "
                       "template glues it to its neighbour: add a space or newline there")
                raise ValueError(msg)
            c = s
            while c < e - 1 and text[c].isspace():
                c += 1
            if text[c].isspace():
                # A whitespace-only token belongs with the next unit (as byte-level BPE attaches
                # a space to the following word), so removing every unit leaves no stray spaces.
                i = bisect.bisect_left(starts, c)
                unit_of[j] = i if i < len(starts) else len(starts) - 1
                continue
            i = bisect.bisect_right(starts, c) - 1
            if i >= 0 and c < ends[i]:
                unit_of[j] = i
        return np.asarray(ids, dtype=np.int64), unit_of

    def _replacements(self, baseline: Any, unit: Any, tok: Any) -> list[str] | str:
        """The surface string that replaces each ablated unit (for ``ablated_texts``)."""
        if self.ablation == "remove":
            return ""
        if self.ablation == "baseline":
            if baseline is None:
                msg = "ablation='baseline' needs baseline= (a text or one string per unit)"
                raise ValueError(msg)
            if isinstance(baseline, str):
                if not isinstance(unit, str):
                    msg = "with user spans, give baseline as one string per unit"
                    raise ValueError(msg)
                reps = [u.text for u in split_units(baseline, unit, tokenizer=tok)]
            else:
                reps = [str(b) for b in baseline]
            if len(reps) != self.n:
                msg = f"baseline has {len(reps)} units but the text has {self.n}"
                raise ValueError(msg)
            return reps
        if tok is None:
            msg = f"ablation={self.ablation!r} needs a tokenizer (a model)"
            raise ValueError(msg)
        token = getattr(tok, f"{self.ablation}_token", None)
        if token is None:
            msg = f"the tokenizer has no {self.ablation} token; choose another ablation"
            raise ValueError(msg)
        return str(token)

    def _baseline_token_ids(self, baseline: Any, unit: Any) -> list[np.ndarray] | None:
        if self.ablation != "baseline":
            return None
        assert self.lm is not None
        reps = self._replacement_text
        if isinstance(baseline, str):
            base_units = split_units(baseline, unit, tokenizer=self.lm.tokenizer)
            saved = self.units
            self.units = base_units
            try:
                ids, unit_of = self._tokenize(baseline)
            finally:
                self.units = saved
            return [ids[unit_of == i] for i in range(self.n)]
        tok = self.lm.tokenizer
        return [np.asarray(tok(r, add_special_tokens=False)["input_ids"], dtype=np.int64) for r in reps]

    # --- evaluation ---------------------------------------------------------------------------
    def row(self, keep: np.ndarray) -> np.ndarray:
        """Token ids of the text with the units whose ``keep`` is false ablated."""
        kept_tok = (self._unit_of < 0) | keep[np.maximum(self._unit_of, 0)]
        if self.ablation == "remove":
            return self._ids[kept_tok]
        if self.ablation == "baseline":
            assert self._baseline_ids is not None
            parts = []
            for j in range(len(self._ids)):
                u = self._unit_of[j]
                if kept_tok[j]:
                    parts.append(self._ids[j : j + 1])
                elif j == 0 or self._unit_of[j - 1] != u:  # first token of an ablated unit
                    parts.append(self._baseline_ids[u])
            return np.concatenate(parts) if parts else self._ids[:0]
        rep = getattr(self.lm.tokenizer, f"{self.ablation}_token_id")  # type: ignore[union-attr]  # mask/pad ablations only run with a tokenizer
        return np.where(kept_tok, self._ids, rep)

    def ablated_texts(self, masks: Any) -> list[str]:
        """The ablated texts, for display or for ``text_fn``."""
        arr = check_masks(masks, self.n)
        return [ablated_text(self.text, self.units, row, self._replacement_text) for row in arr]

    def __call__(self, masks: Any) -> np.ndarray:
        arr = check_masks(masks, self.n)
        if self.lm is None:
            assert self.text_fn is not None
            out = np.asarray(self.text_fn(self.ablated_texts(arr)), dtype=np.float64).reshape(-1)
            if out.shape != (len(arr),):
                msg = f"text_fn returned {out.shape[0]} values for {len(arr)} texts"
                raise ValueError(msg)
            return finite_or_raise(out, "text_fn")
        rows = [self.row(r) for r in arr]
        return self._score_rows(rows)

    def _score_rows(self, rows: list[np.ndarray]) -> np.ndarray:
        """Outputs of token rows, ``(m,)`` or ``(m, d)``: rows of similar length are batched
        together (little padding), and a batch that runs out of memory is halved and retried."""
        assert self.lm is not None
        lm = self.lm
        order = np.argsort([len(r) for r in rows], kind="stable")
        done: dict[int, np.ndarray] = {}

        def run(idx: np.ndarray) -> np.ndarray:
            vals = self.scorer(lm, [rows[i] for i in idx], np.zeros(len(idx), np.int64))
            return np.asarray(vals.cpu().double().numpy())

        def keep(idx: np.ndarray, vals: np.ndarray) -> None:
            for i, v in zip(idx, vals):
                done[int(i)] = v

        def shrink(size: int) -> None:
            self.batch_size = size  # later calls start from the size that fits

        run_batches(order, self.batch_size, run, keep, shrink)
        out = np.stack([done[i] for i in range(len(rows))]).astype(np.float64)
        return finite_or_raise(out, "the model output")

    def score_text(self, text: str) -> float:
        """The output on an arbitrary text in place of the explained one (tokenized and, for a
        chat model, placed in the prompt as the input is; no units needed)."""
        if self.lm is None:
            return float(np.asarray(self.text_fn([text]), dtype=np.float64).reshape(-1)[0])  # type: ignore[misc]  # text_fn is set whenever this path runs
        p = self.prompt
        whole = p.text[: p.start] + text + p.text[p.end :]
        saved = self.units
        self.units = []
        try:
            ids, _ = self._tokenize(whole, template=p.chat)
        finally:
            self.units = saved
        return float(np.asarray(self._score_rows([ids])[0]).reshape(-1)[0])
