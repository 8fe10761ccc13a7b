"""Ablations that turn a model and an input into a value function (1 = kept, 0 = ablated).

* :class:`FeatureAblation` — units of a text (tokens, words, sentences, paragraphs, spans)
  removed or replaced; for a chat model, the user message inside its chat template (or a
  context document given with the question, :func:`build_prompt`); one output or several
  per mask (per answer token, per class, a contrast).
* :class:`ComponentAblation` — attention heads ``L{l}.H{h}``, MLP blocks ``L{l}.MLP``, MLP
  neurons ``L{l}.N{i}`` and dictionary (SAE) features ``L{l}.F{i}`` zero- or mean-ablated by hooks.
* :class:`DataAblation` — training examples left out, model retrained (datamodels).
* :class:`Normalised` — outputs centred on the full input and scaled by their spread.

Each is a value function for :class:`fastspex.value.Evaluator` with ``n``, ``labels``,
``cache_key``, ``batch_size`` and ``kind``. Importing this module does not import torch.
"""

from __future__ import annotations

from .components import ComponentAblation, ComponentHooks, ablated, compute_means, find_sites
from .data import DataAblation, LogisticTrainer, embed_texts
from .chat import Prompt, build_prompt
from .dictionary import Dictionary, load_dictionary
from .features import FeatureAblation
from .models import LoadedModel, fingerprint, load_model, minilm_path, smollm2_path
from .normalise import Normalised, normalise
from .units import Unit, ablated_text, split_units

__all__ = [
    "ComponentAblation",
    "ComponentHooks",
    "DataAblation",
    "Dictionary",
    "FeatureAblation",
    "LoadedModel",
    "LogisticTrainer",
    "Normalised",
    "Prompt",
    "Unit",
    "ablated",
    "ablated_text",
    "build_prompt",
    "compute_means",
    "embed_texts",
    "find_sites",
    "fingerprint",
    "load_dictionary",
    "load_model",
    "minilm_path",
    "normalise",
    "smollm2_path",
    "split_units",
]
