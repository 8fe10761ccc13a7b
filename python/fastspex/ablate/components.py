"""Component ablation: zero- or mean-ablating attention heads and MLP blocks with hooks.

Sites, per layer, for the three families ``transformers`` uses:

============  =============================  ==========================
family        head outputs enter (pre-hook)  MLP contribution (hook)
============  =============================  ==========================
GPT-2         ``attn.c_proj``                ``mlp``
Llama-style   ``self_attn.o_proj``           ``mlp``
BERT-style    ``attention.output.dense``     ``output.dense``
============  =============================  ==========================

The input of the attention output projection is the concatenation of the per-head outputs
(head ``h`` is the slice ``h*d : (h+1)*d``), so ablating a head replaces its slice before the
projection: by 0 (zero ablation) or by its mean over reference tokens (mean ablation). An
MLP's contribution to the residual stream is replaced the same way. Every row of a batch has
its own keep vector, so one forward pass evaluates a batch of different masks.

Components are named ``L{layer}.H{head}`` and ``L{layer}.MLP``; MLP neurons ``L{layer}.N{i}``
(:mod:`fastspex.ablate.neurons`) and dictionary features ``L{layer}.F{i}`` / ``L{layer}.MLP.F{i}``
(:mod:`fastspex.ablate.dictionary`) mix with them in one component set.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..evaluation.store import experiment_key
from ._base import AblationBase, check_masks, finite_or_raise
from .dictionary import FEATURE_NAME, Dictionary, feature_hook
from .models import LoadedModel, as_loaded, auto_batch_size
from .neurons import DOWN_PROJECTIONS, neuron_hook, neuron_names, parse_layers
from .outputs import (
    OutputName,
    check_length,
    continuation_target,
    encode_prompt,
    explained_answer,
    make_scorer,
    output_identity,
    pad_rows,
)
from .prefix import PrefixReuse

__all__ = [
    "ComponentAblation",
    "ComponentHooks",
    "LayerSites",
    "ablated",
    "component_names",
    "compute_means",
    "find_sites",
]

Method = Literal["zero", "mean"]
_NAME = re.compile(r"^L(\d+)\.(?:H(\d+)|(MLP)|N(\d+))$")
Kind = Literal["head", "mlp", "neuron", "feature"]
_GROUPS = ("heads", "mlp", "neurons", "all")
# (family, path of the module whose input holds the head outputs, path of the MLP output module)
_PATTERNS = (
    ("gpt2", "attn.c_proj", "mlp"),
    ("llama", "self_attn.o_proj", "mlp"),
    ("bert", "attention.output.dense", "output.dense"),
)


@dataclass
class LayerSites:
    """Where one layer's heads and MLP are hooked."""

    attn_out: Any
    mlp_out: Any
    n_heads: int
    head_dim: int
    block: Any = None  # the layer itself: its output is the residual stream
    down: Any = None  # the MLP's down projection: its input holds the neurons
    n_neurons: int = 0


def _get(module: Any, path: str) -> Any:
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def _in_features(module: Any) -> int:
    if hasattr(module, "in_features"):
        return int(module.in_features)
    if hasattr(module, "nx"):  # GPT-2's Conv1D: weight is (in, out)
        return int(module.nx)
    return int(module.weight.shape[0])


def find_sites(model: Any) -> tuple[str, list[LayerSites]]:
    """The model family and every layer's hook sites; raises for unsupported architectures."""
    import torch

    config = model.config
    n_heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None)
    for _, mod in model.named_modules():
        if not isinstance(mod, torch.nn.ModuleList) or len(mod) == 0:
            continue
        for family, attn_path, mlp_path in _PATTERNS:
            if all(_get(b, attn_path) is not None and _get(b, mlp_path) is not None for b in mod):
                if not n_heads:
                    msg = "the model config names no number of attention heads"
                    raise ValueError(msg)
                sites = []
                for block in mod:
                    attn = _get(block, attn_path)
                    width = _in_features(attn)
                    if width % int(n_heads):
                        msg = f"attention output width {width} is not a multiple of {n_heads} heads"
                        raise ValueError(msg)
                    down = _get(block, DOWN_PROJECTIONS[family])
                    sites.append(LayerSites(attn, _get(block, mlp_path), int(n_heads), width // int(n_heads),
                                            block, down, _in_features(down) if down is not None else 0))
                return family, sites
    msg = (
        f"{type(model).__name__}: no GPT-2-, Llama- or BERT-style layer list found "
        "(looked for attn.c_proj / self_attn.o_proj / attention.output.dense in a ModuleList)"
    )
    raise ValueError(msg)


def component_names(
    sites: Sequence[LayerSites], which: str = "heads", *, layers: str | Sequence[int] | None = None,
    dictionaries: Sequence[Dictionary] = (),
) -> list[str]:
    """Names of ``"heads"``, ``"mlp"``, ``"neurons"``, ``"all"`` (heads and MLPs) or a
    ``+``-joined mix such as ``"heads+neurons"``, in the given ``layers`` (default: all); then
    the features of every dictionary (``"features"``)."""
    groups = which.split("+") if isinstance(which, str) else [which]
    bad = [g for g in groups if g not in (*_GROUPS, "features")]
    if bad or not groups:
        msg = (f"components must be 'heads', 'mlp', 'neurons', 'features', 'all', a '+'-joined mix "
               f"of them or a list of names, got {which!r}")
        raise ValueError(msg)
    if "features" in groups and not dictionaries:
        msg = "components='features' needs a dictionary (see fastspex.ablate.load_dictionary)"
        raise ValueError(msg)
    wanted = set(groups) | ({"heads", "mlp"} if "all" in groups else set())
    names = []
    for layer in parse_layers(layers, len(sites)):
        s = sites[layer]
        if "heads" in wanted:
            names += [f"L{layer}.H{h}" for h in range(s.n_heads)]
        if "mlp" in wanted:
            names.append(f"L{layer}.MLP")
        if "neurons" in wanted:
            if not s.n_neurons:
                msg = f"layer {layer} has no MLP down projection whose input width is known"
                raise ValueError(msg)
            names += neuron_names([x.n_neurons for x in sites], [layer])
    if "features" in wanted:
        for d in dictionaries:
            names += d.names()
    if not names:
        msg = f"components={which!r} selects no component"
        raise ValueError(msg)
    return names


def _parse(name: str, sites: Sequence[LayerSites], dictionaries: Sequence[Dictionary] = ()) -> tuple[int, Kind, int]:
    """``(layer, kind, index)`` of a name (index: head, neuron or feature number; 0 for an MLP)."""
    if not isinstance(name, str):
        msg = f"component names are strings like 'L3.H7', got {name!r}"
        raise TypeError(msg)
    feature = FEATURE_NAME.match(name)
    if feature is not None:
        layer, index = int(feature.group(1)), int(feature.group(3))
        prefix = name.rsplit(".F", 1)[0]
        for d in dictionaries:
            if d.prefix == prefix:
                if index >= d.n_features:
                    msg = f"unknown feature {name!r}: the dictionary at {prefix} has {d.n_features} features"
                    raise ValueError(msg)
                return layer, "feature", index
        msg = f"feature {name!r} needs a dictionary at {prefix} (pass dictionary=...)"
        raise ValueError(msg)
    m = _NAME.match(name)
    if m is None:
        msg = f"component names look like 'L3.H7', 'L3.MLP', 'L3.N100' or 'L3.F12', got {name!r}"
        raise ValueError(msg)
    layer = int(m.group(1))
    if layer >= len(sites):
        heads = sites[0].n_heads if sites else 0
        msg = f"unknown component {name!r}: the model has {len(sites)} layers x {heads} heads"
        raise ValueError(msg)
    if m.group(3):
        return layer, "mlp", 0
    if m.group(4) is not None:
        index = int(m.group(4))
        if index >= sites[layer].n_neurons:
            msg = f"unknown neuron {name!r}: layer {layer}'s MLP has {sites[layer].n_neurons} neurons"
            raise ValueError(msg)
        return layer, "neuron", index
    head = int(m.group(2))
    if head >= sites[layer].n_heads:
        msg = f"unknown component {name!r}: the model has {len(sites)} layers x {sites[layer].n_heads} heads"
        raise ValueError(msg)
    return layer, "head", head


def _dictionary_sites(dictionaries: Sequence[Dictionary], sites: Sequence[LayerSites]) -> dict[str, Dictionary]:
    """The dictionaries by name prefix, checked against the model (layer exists, width matches)."""
    out: dict[str, Dictionary] = {}
    for d in dictionaries:
        if not isinstance(d, Dictionary):
            msg = f"dictionary must be a fastspex.ablate.Dictionary, got {type(d).__name__}"
            raise TypeError(msg)
        if d.layer >= len(sites):
            msg = f"the dictionary reads layer {d.layer} but the model has layers 0-{len(sites) - 1}"
            raise ValueError(msg)
        if d.prefix in out:
            msg = f"two dictionaries at the same site {d.prefix}"
            raise ValueError(msg)
        out[d.prefix] = d
    return out


class ComponentHooks:
    """Context manager that installs ablation hooks for ``names`` and always removes them.

    Set :attr:`keep` to a float tensor ``(B, len(names))`` (or ``(1, len(names))`` to
    broadcast) before a forward pass: 1 keeps a component, 0 replaces it by zero (``"zero"``)
    or by ``means[name]`` (``"mean"``). With ``keep = None`` the hooks change nothing.
    Feature names need their ``dictionaries``.
    """

    def __init__(
        self,
        model: Any,
        names: Sequence[str],
        *,
        method: Method = "zero",
        means: dict[str, Any] | None = None,
        dictionaries: Sequence[Dictionary] = (),
    ) -> None:
        if method not in ("zero", "mean"):
            msg = f"method must be 'zero' or 'mean', got {method!r}"
            raise ValueError(msg)
        if method == "mean" and means is None:
            msg = "method='mean' needs means (see compute_means)"
            raise ValueError(msg)
        self.model = model
        self.family, self.sites = find_sites(model)
        self.dictionaries = _dictionary_sites(dictionaries, self.sites)
        self.names = list(names)
        if len(set(self.names)) != len(self.names):
            msg = "component names repeat"
            raise ValueError(msg)
        self.method = method
        self.means = means or {}
        self.keep: Any = None
        self._handles: list[Any] = []
        self._full: tuple[Any, Any] | None = None  # (keep, keep with a ones column), cached per pass
        # Per layer (or dictionary): for each head/neuron/feature its column in `keep`, or the
        # always-1 column len(names) for those outside the component set.
        self._head_cols: dict[int, list[int]] = {}
        self._neuron_cols: dict[int, list[int]] = {}
        self._feature_cols: dict[str, list[int]] = {}
        self._mlp_col: dict[int, int] = {}
        self._neuron_means: dict[int, Any] = {}
        ones = len(self.names)
        for col, name in enumerate(self.names):
            layer, kind, index = _parse(name, self.sites, list(self.dictionaries.values()))
            if kind == "mlp":
                self._mlp_col[layer] = col
            elif kind == "head":
                self._head_cols.setdefault(layer, [ones] * self.sites[layer].n_heads)[index] = col
            elif kind == "neuron":
                self._neuron_cols.setdefault(layer, [ones] * self.sites[layer].n_neurons)[index] = col
            else:
                d = self.dictionaries[name.rsplit(".F", 1)[0]]
                self._feature_cols.setdefault(d.prefix, [ones] * d.n_features)[index] = col
            if method == "mean" and kind != "feature" and name not in self.means:
                msg = f"no mean for component {name!r}"
                raise ValueError(msg)
        for prefix in self._feature_cols:
            if method == "mean" and prefix not in self.means:
                msg = f"no mean feature activations for the dictionary at {prefix}"
                raise ValueError(msg)

    def _keep_full(self, batch: int, like: Any) -> Any:
        import torch

        keep = self.keep
        if keep is None:
            return None
        if keep.shape[0] not in (1, batch):
            msg = f"keep has {keep.shape[0]} rows but the forward pass has batch size {batch}"
            raise ValueError(msg)
        # One concatenation per keep tensor, shared by every hooked layer of the pass.
        if self._full is None or self._full[0] is not keep or self._full[1].dtype != like.dtype:
            ones = torch.ones((keep.shape[0], 1), dtype=like.dtype, device=like.device)
            self._full = (keep, torch.cat([keep.to(like.dtype).to(like.device), ones], dim=1))
        return self._full[1]

    def _head_hook(self, layer: int) -> Callable[..., Any]:
        import torch

        cols = torch.as_tensor(self._head_cols[layer])
        site = self.sites[layer]
        mean = None
        if self.method == "mean":
            zeros = torch.zeros(site.head_dim)
            mean = torch.stack([
                torch.as_tensor(self.means[self.names[c]]).reshape(-1) if c < len(self.names) else zeros
                for c in cols.tolist()
            ])

        def hook(module: Any, args: tuple[Any, ...]) -> Any:
            if self.keep is None:
                return None
            x = args[0]
            b, t, _ = x.shape
            k = self._keep_full(b, x)[:, cols.to(x.device)][:, None, :, None]  # (B|1, 1, H, 1)
            x4 = x.reshape(b, t, site.n_heads, site.head_dim)
            out = x4 * k
            if mean is not None:
                out = out + (1 - k) * mean.to(x.device, x.dtype)
            return (out.reshape(b, t, -1), *args[1:])

        return hook

    def _mlp_hook(self, layer: int) -> Callable[..., Any]:
        import torch

        col = self._mlp_col[layer]
        mean = torch.as_tensor(self.means[self.names[col]]) if self.method == "mean" else None

        def hook(module: Any, args: tuple[Any, ...], output: Any) -> Any:
            if self.keep is None:
                return None
            y = output[0] if isinstance(output, tuple) else output
            k = self._keep_full(y.shape[0], y)[:, col].reshape(-1, *([1] * (y.ndim - 1)))
            new = y * k
            if mean is not None:
                new = new + (1 - k) * mean.to(y.device, y.dtype)
            return (new, *output[1:]) if isinstance(output, tuple) else new

        return hook

    def _neuron_mean(self, layer: int) -> Any:
        import torch

        if self.method != "mean":
            return None
        if layer in self._neuron_means:  # built once: thousands of neurons per layer
            return self._neuron_means[layer]
        cols = self._neuron_cols[layer]
        self._neuron_means[layer] = torch.stack([
            torch.as_tensor(self.means[self.names[c]]).reshape(()) if c < len(self.names) else torch.zeros(())
            for c in cols
        ]).float()
        return self._neuron_means[layer]

    def __enter__(self) -> ComponentHooks:
        import torch

        try:
            for layer in self._head_cols:
                self._handles.append(self.sites[layer].attn_out.register_forward_pre_hook(self._head_hook(layer)))
            for layer, cols in self._neuron_cols.items():
                hook = neuron_hook(cols, self._keep_full, self._neuron_mean(layer))
                self._handles.append(self.sites[layer].down.register_forward_pre_hook(hook))
            for prefix, cols in self._feature_cols.items():
                d = self.dictionaries[prefix]
                mean = torch.as_tensor(self.means[prefix]) if self.method == "mean" else None
                site = self.sites[d.layer].block if d.site == "resid" else self.sites[d.layer].mlp_out
                self._handles.append(site.register_forward_hook(feature_hook(d, cols, self._keep_full, mean)))
            for layer in self._mlp_col:
                self._handles.append(self.sites[layer].mlp_out.register_forward_hook(self._mlp_hook(layer)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every installed hook (safe to call twice)."""
        while self._handles:
            self._handles.pop().remove()
        self.keep = None
        self._full = None


@contextmanager
def ablated(
    model: Any, ablate: Sequence[str], *, method: Method = "zero", means: dict[str, Any] | None = None,
    dictionaries: Sequence[Dictionary] = (),
) -> Iterator[ComponentHooks]:
    """Within the ``with`` block, ``model`` runs with the components in ``ablate`` ablated."""
    import torch

    names = list(ablate)
    hooks = ComponentHooks(model, names, method=method, means=means, dictionaries=dictionaries)
    with hooks:
        hooks.keep = torch.zeros((1, len(names)))
        yield hooks


def compute_means(
    lm: LoadedModel, texts: Sequence[str], names: Sequence[str], *, batch_size: int = 32,
    dictionaries: Sequence[Dictionary] = (),
) -> dict[str, Any]:
    """Mean of every named component's output (head slice, MLP output, neuron) over the real
    (unpadded) token positions of ``texts``, for mean ablation; for dictionary features, the
    mean activations of each dictionary under its name prefix (``"L3"``, ``"L3.MLP"``)."""
    import torch

    if not texts:
        msg = "mean ablation needs at least one reference text"
        raise ValueError(msg)
    _, sites = find_sites(lm.model)
    by_prefix = _dictionary_sites(dictionaries, sites)
    parsed = [_parse(nm, sites, dictionaries) for nm in names]
    sums: dict[tuple[str, Any], Any] = {}
    count = [0.0]
    state: dict[str, Any] = {}

    def add(key: tuple[str, Any], x: Any) -> None:
        m = state["mask"].to(x.dtype)[..., None]
        sums[key] = sums.get(key, 0) + (x.double() * m).sum((0, 1))

    def pre(key: tuple[str, Any]) -> Callable[..., Any]:
        return lambda module, args: add(key, args[0])

    def post(key: tuple[str, Any], encode: Callable[[Any], Any] | None = None) -> Callable[..., Any]:
        def hook(module: Any, args: tuple[Any, ...], output: Any) -> None:
            y = output[0] if isinstance(output, tuple) else output
            add(key, y if encode is None else encode(y))

        return hook

    handles = []
    try:
        for layer in sorted({lay for lay, kind, _ in parsed if kind == "head"}):
            handles.append(sites[layer].attn_out.register_forward_pre_hook(pre(("attn", layer))))
        for layer in sorted({lay for lay, kind, _ in parsed if kind == "mlp"}):
            handles.append(sites[layer].mlp_out.register_forward_hook(post(("mlp", layer))))
        for layer in sorted({lay for lay, kind, _ in parsed if kind == "neuron"}):
            handles.append(sites[layer].down.register_forward_pre_hook(pre(("neuron", layer))))
        for prefix in sorted({nm.rsplit(".F", 1)[0] for nm, (_, kind, _) in zip(names, parsed) if kind == "feature"}):
            d = by_prefix[prefix]
            site = sites[d.layer].block if d.site == "resid" else sites[d.layer].mlp_out
            handles.append(site.register_forward_hook(post(("feature", prefix), d.encode)))
        side = "left" if lm.kind == "causal" else "right"
        rows = [encode_prompt(lm, t)[0] for t in texts]
        with torch.inference_mode():
            for s in range(0, len(rows), batch_size):
                batch = pad_rows(rows[s : s + batch_size], lm.pad_id, side, lm.device)
                state["mask"] = batch["attention_mask"]
                count[0] += float(batch["attention_mask"].sum())
                lm.model(**batch)
    finally:
        for h in handles:
            h.remove()
    means: dict[str, Any] = {}
    for name, (layer, kind, index) in zip(names, parsed):
        if kind == "mlp":
            means[name] = (sums[("mlp", layer)] / count[0]).float()
        elif kind == "neuron":
            means[name] = (sums[("neuron", layer)][index] / count[0]).float()
        elif kind == "head":
            hd = sites[layer].head_dim
            means[name] = (sums[("attn", layer)][index * hd : (index + 1) * hd] / count[0]).float()
    for (what, key), total in sums.items():
        if what == "feature":
            means[key] = (total / count[0]).float()
    return means


def _dictionary_identity(d: Dictionary) -> str:
    """A digest of a dictionary's arrays and settings, for the store key."""
    import hashlib

    h = hashlib.sha256(f"{d.prefix}|{d.activation}|{d.keep_error}".encode())
    for arr in (d.W_enc, d.b_enc, d.W_dec, d.b_dec):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


class ComponentAblation(AblationBase):
    """Value function over attention heads, MLP blocks, MLP neurons and dictionary features, on
    one text (or the mean over several).

    Args:
        text: the input text, or a list of texts (the output is then their mean).
        model: a :class:`LoadedModel`, built-in name or folder (default: the bundled MiniLM),
            or a ``transformers`` model with ``tokenizer``.
        components: ``"heads"`` (default), ``"mlp"``, ``"neurons"``, ``"features"`` (of the
            ``dictionary``), ``"all"`` (heads and MLPs), a ``+``-joined mix (``"heads+neurons"``)
            or a list of names (``L3.H7``, ``L3.MLP``, ``L3.N100``, ``L3.F12``, ``L3.MLP.F12``).
        layers: the layers whose components a group name selects: a list, or text like
            ``"3-5"`` (default: all).
        dictionary: a :class:`~fastspex.ablate.dictionary.Dictionary` (or a list of them, at
            different sites) whose features are components.
        method: ``"zero"`` or ``"mean"`` ablation.
        mean_texts: texts whose token positions define the means (default: ``text``).
        output: what is explained, as in :func:`~fastspex.ablate.outputs.make_scorer`.
        target: causal LM: the continuation scored (default: the unablated model's greedy answer).
        query: encoder: the reference text compared with.
        class_index: classifier: the class explained (default: the unablated prediction).
        max_new_tokens: causal LM: the longest greedy answer generated.
        reduce: ``"sum"`` or ``"mean"`` of the continuation's token log-probabilities.
        batch_size: forward-pass rows per call (masks x texts); default about 8k tokens.
        device: move the model there first.
        reuse_prefix: for one text, run the layers before the first ablated site once per call
            and start every other row from their output (identical results, less model time).
        key: store key (default: from the model fingerprint, texts and settings).
    """

    kind = "components"

    def __init__(
        self,
        text: str | Sequence[str],
        model: Any = None,
        *,
        tokenizer: Any = None,
        components: str | Sequence[str] = "heads",
        layers: str | Sequence[int] | None = None,
        dictionary: Dictionary | Sequence[Dictionary] | None = None,
        method: Method = "zero",
        mean_texts: Sequence[str] | None = None,
        output: OutputName | Callable[[Any, dict[str, Any]], Any] = "auto",
        target: str | Sequence[str] | None = None,
        query: str | Sequence[str] | None = None,
        class_index: int | Sequence[int] | None = None,
        max_new_tokens: int = 8,
        reduce: Literal["sum", "mean"] = "sum",
        batch_size: int | None = None,
        device: Any = None,
        reuse_prefix: bool = True,
        key: str | None = None,
    ) -> None:
        texts = [text] if isinstance(text, str) else list(text)
        if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
            msg = "text is empty (give a non-empty string or list of strings)"
            raise ValueError(msg)
        self.texts = texts
        self.lm = as_loaded(model, tokenizer, device=device)
        self.family, self.sites = find_sites(self.lm.model)
        self.n_layers = len(self.sites)
        self.n_heads = self.sites[0].n_heads
        dicts = [] if dictionary is None else [dictionary] if isinstance(dictionary, Dictionary) else list(dictionary)
        _dictionary_sites(dicts, self.sites)
        hidden = getattr(self.lm.model.config, "hidden_size", None) or getattr(self.lm.model.config, "n_embd", None)
        for d in dicts:  # both sites (residual stream, MLP output) are hidden_size wide
            if hidden and d.width != hidden:
                msg = f"the dictionary at {d.prefix} reads {d.width}-wide vectors but the model's sites are {hidden} wide"
                raise ValueError(msg)
        self.dictionaries = dicts
        if isinstance(components, str):
            names = component_names(self.sites, components, layers=layers, dictionaries=dicts)
        else:
            if layers is not None:
                msg = "layers selects among group names ('neurons', 'heads', ...); with a list of names leave it out"
                raise ValueError(msg)
            names = list(components)
            if not names:
                msg = "components is an empty list"
                raise ValueError(msg)
            for nm in names:
                _parse(nm, self.sites, dicts)
        self.labels = names
        self.n = len(names)
        self.method = method
        self.means = compute_means(self.lm, list(mean_texts or texts), names, dictionaries=dicts) if method == "mean" else None
        self.hooks = ComponentHooks(self.lm.model, names, method=method, means=self.means, dictionaries=dicts)
        first = min(_parse(nm, self.sites, dicts)[0] for nm in names)
        blocks = [s.block for s in self.sites]
        self.prefix = PrefixReuse(blocks, first) if reuse_prefix and len(texts) == 1 and all(
            b is not None for b in blocks) else None
        self._prompts = [encode_prompt(self.lm, t)[0] for t in texts]
        check_length(self.lm, max(len(p) for p in self._prompts))  # before make_scorer, which may run the model
        self.notes: list[str] = []
        if self.lm.kind == "causal" and isinstance(target, str) and len(texts) == 1:
            target, note = continuation_target(texts[0], target)
            if note:
                warnings.warn(note, stacklevel=2)
                self.notes.append(note)
        self.scorer = make_scorer(
            self.lm, self._prompts, output, target=target, query=query, class_index=class_index,
            max_new_tokens=max_new_tokens, reduce=reduce,
        )
        self.target = explained_answer(self.lm, self.scorer)  # the continuation explained, as text
        longest = max(len(p) for p in self._prompts) + max((len(t) for t in getattr(self.scorer, "targets", [[]])), default=0)
        n_params = sum(p.numel() for p in self.lm.model.parameters())
        rows = batch_size if batch_size is not None else auto_batch_size(longest, self.lm.device, n_params=n_params)
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            msg = f"batch_size must be a positive integer, got {rows!r}"
            raise ValueError(msg)
        self.batch_size = max(1, rows // len(texts))
        self.cache_key = key if key is not None else experiment_key(
            "components", self.lm.fingerprint, texts, names, method=method, mean_texts=mean_texts,
            dictionaries=[_dictionary_identity(d) for d in dicts],
            output=output_identity(output), target=target, query=query, class_index=class_index,
            max_new_tokens=max_new_tokens, reduce=reduce, targets=getattr(self.scorer, "targets", None),
        )

    def __call__(self, masks: Any) -> np.ndarray:
        import torch

        arr = check_masks(masks, self.n)
        n_texts = len(self.texts)
        out = np.empty(len(arr), dtype=np.float64)
        prefix = self.prefix if self.prefix is not None and self.prefix.useful else None
        with self.hooks:
            start = 0
            if prefix is not None:  # one ordinary row records the shared prefix
                self.hooks.keep = torch.from_numpy(arr[:1].astype(np.float32)).to(self.lm.device)
                with prefix.capture():
                    out[0] = float(self.scorer(self.lm, [self._prompts[0]], np.zeros(1, int)).cpu().double()[0])
                start = 1
            with prefix.reuse() if prefix is not None else nullcontext():
                for s in range(start, len(arr), self.batch_size):
                    chunk = arr[s : s + self.batch_size]
                    keep = torch.from_numpy(np.repeat(chunk, n_texts, axis=0).astype(np.float32))
                    which = np.tile(np.arange(n_texts), len(chunk))
                    self.hooks.keep = keep.to(self.lm.device)
                    vals = self.scorer(self.lm, [self._prompts[w] for w in which], which)
                    out[s : s + len(chunk)] = vals.cpu().double().numpy().reshape(len(chunk), n_texts).mean(1)
        return finite_or_raise(out, "the model output")
