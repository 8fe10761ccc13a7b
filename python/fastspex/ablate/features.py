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
        target, query, class_index, max_new_tokens, reduce: output options (see make_scorer).
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
        max_new_tokens: int = 8,
        reduce: Literal["sum", "mean"] = "sum",
        text_fn: Callable[[list[str]], Any] | None = None,
        batch_size: int | None = None,
        device: Any = None,
        key: str | None = None,
    ) -> None:
        if ablation not in ("remove", "pad", "mask", "unk", "baseline"):
            msg = f"ablation must be 'remove', 'pad', 'mask', 'unk' or 'baseline', got {ablation!r}"
            raise ValueError(msg)
        self.text = text
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
        self.units: list[Unit] = split_units(text, unit, tokenizer=tok if tok is not None else tokenizer)
        self.n = len(self.units)
        self.labels = [u.text for u in self.units]
        self._replacement_text = self._replacements(baseline, unit, tok if tok is not None else tokenizer)
        settings = {
            "text": text,
            "units": [(u.start, u.end) for u in self.units],
            "ablation": ablation,
            "baseline": self._replacement_text,
        }
        if self.lm is None:
            self.batch_size = batch_size if batch_size is not None else 64
            self.cache_key = key
            return
        lm = self.lm
        self._ids, self._unit_of = self._tokenize(text)
        check_length(lm, len(self._ids))  # before make_scorer, which may run the model
        self._baseline_ids = self._baseline_token_ids(baseline, unit)
        self.notes: list[str] = []
        if lm.kind == "causal" and isinstance(target, str):
            target, note = continuation_target(text, target)
            if note:
                warnings.warn(note, stacklevel=2)
                self.notes.append(note)
        self.scorer = make_scorer(
            lm, [self._ids.tolist()], output, target=target, query=query, class_index=class_index,
            max_new_tokens=max_new_tokens, reduce=reduce,
        )
        self.target = explained_answer(lm, self.scorer)  # the continuation explained, as text
        extra = len(getattr(self.scorer, "targets", [[]])[0])
        n_params = sum(p.numel() for p in lm.model.parameters())
        self.batch_size = batch_size if batch_size is not None else auto_batch_size(
            len(self._ids) + extra, lm.device, n_params=n_params
        )
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            msg = f"batch_size must be a positive integer, got {self.batch_size!r}"
            raise ValueError(msg)
        self.cache_key = key if key is not None else experiment_key(
            "features", lm.fingerprint, settings, output=output_identity(output), target=target, query=query,
            class_index=class_index, max_new_tokens=max_new_tokens, reduce=reduce,
            targets=getattr(self.scorer, "targets", None),
        )

    # --- construction helpers -------------------------------------------------------------
    def _tokenize(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of the text and, per token, its unit index (-1: always kept)."""
        assert self.lm is not None
        ids, offsets, special = encode_prompt(self.lm, text)
        starts = [u.start for u in self.units]
        unit_of = np.full(len(ids), -1, dtype=np.int64)
        for j, ((s, e), sp) in enumerate(zip(offsets, special)):
            if sp or e <= s:
                continue
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
            if i >= 0 and c < self.units[i].end:
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
        assert self.lm is not None
        # Sorting by length before cutting micro-batches keeps padding (wasted compute) small.
        order = np.argsort([len(r) for r in rows], kind="stable")
        out = np.empty(len(rows), dtype=np.float64)
        for s in range(0, len(rows), self.batch_size):
            idx = order[s : s + self.batch_size]
            vals = self.scorer(self.lm, [rows[i] for i in idx], np.zeros(len(idx), np.int64))
            out[idx] = vals.cpu().double().numpy()
        return finite_or_raise(out, "the model output")

    def score_text(self, text: str) -> float:
        """The output on an arbitrary text (tokenized as the input is; no units needed)."""
        if self.lm is None:
            return float(np.asarray(self.text_fn([text]), dtype=np.float64).reshape(-1)[0])  # type: ignore[misc]  # text_fn is set whenever this path runs
        saved = self.units
        self.units = []
        try:
            ids, _ = self._tokenize(text)
        finally:
            self.units = saved
        return float(self._score_rows([ids])[0])
