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

Components are named ``L{layer}.H{head}`` and ``L{layer}.MLP``.
"""

from __future__ import annotations

import warnings

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..evaluation.store import experiment_key
from ._base import AblationBase, check_masks, finite_or_raise
from .models import LoadedModel, as_loaded, auto_batch_size
from .outputs import (
    OutputName, check_length, continuation_target, encode_prompt, explained_answer, make_scorer,
    output_identity, pad_rows,
)

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
_NAME = re.compile(r"^L(\d+)\.(?:H(\d+)|(MLP))$")
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
                    sites.append(LayerSites(attn, _get(block, mlp_path), int(n_heads), width // int(n_heads)))
                return family, sites
    msg = (
        f"{type(model).__name__}: no GPT-2-, Llama- or BERT-style layer list found "
        "(looked for attn.c_proj / self_attn.o_proj / attention.output.dense in a ModuleList)"
    )
    raise ValueError(msg)


def component_names(sites: Sequence[LayerSites], which: str = "heads") -> list[str]:
    """Names of ``"heads"``, ``"mlp"`` or ``"all"`` components (heads of a layer, then its MLP)."""
    if which not in ("heads", "mlp", "all"):
        msg = f"components must be 'heads', 'mlp', 'all' or a list of names, got {which!r}"
        raise ValueError(msg)
    names = []
    for layer, s in enumerate(sites):
        if which in ("heads", "all"):
            names += [f"L{layer}.H{h}" for h in range(s.n_heads)]
        if which in ("mlp", "all"):
            names.append(f"L{layer}.MLP")
    return names


def _parse(name: str, sites: Sequence[LayerSites]) -> tuple[int, int | None]:
    """``(layer, head)`` of a name; head ``None`` for the MLP."""
    m = _NAME.match(name) if isinstance(name, str) else None
    if m is None:
        msg = f"component names look like 'L3.H7' or 'L3.MLP', got {name!r}"
        raise ValueError(msg)
    layer = int(m.group(1))
    head = None if m.group(3) else int(m.group(2))
    if layer >= len(sites) or (head is not None and head >= sites[layer].n_heads):
        heads = sites[0].n_heads if sites else 0
        msg = f"unknown component {name!r}: the model has {len(sites)} layers x {heads} heads"
        raise ValueError(msg)
    return layer, head


class ComponentHooks:
    """Context manager that installs ablation hooks for ``names`` and always removes them.

    Set :attr:`keep` to a float tensor ``(B, len(names))`` (or ``(1, len(names))`` to
    broadcast) before a forward pass: 1 keeps a component, 0 replaces it by zero (``"zero"``)
    or by ``means[name]`` (``"mean"``). With ``keep = None`` the hooks change nothing.
    """

    def __init__(
        self,
        model: Any,
        names: Sequence[str],
        *,
        method: Method = "zero",
        means: dict[str, Any] | None = None,
    ) -> None:
        if method not in ("zero", "mean"):
            msg = f"method must be 'zero' or 'mean', got {method!r}"
            raise ValueError(msg)
        if method == "mean" and means is None:
            msg = "method='mean' needs means (see compute_means)"
            raise ValueError(msg)
        self.model = model
        self.family, self.sites = find_sites(model)
        self.names = list(names)
        if len(set(self.names)) != len(self.names):
            msg = "component names repeat"
            raise ValueError(msg)
        self.method = method
        self.means = means or {}
        self.keep: Any = None
        self._handles: list[Any] = []
        # Per layer: for each head, its column in `keep` (or the always-1 column len(names)).
        self._head_cols: dict[int, list[int]] = {}
        self._mlp_col: dict[int, int] = {}
        for col, name in enumerate(self.names):
            layer, head = _parse(name, self.sites)
            if head is None:
                self._mlp_col[layer] = col
            else:
                cols = self._head_cols.setdefault(layer, [len(self.names)] * self.sites[layer].n_heads)
                cols[head] = col
            if method == "mean" and name not in self.means:
                msg = f"no mean for component {name!r}"
                raise ValueError(msg)

    def _keep_full(self, batch: int, like: Any) -> Any:
        import torch

        keep = self.keep
        if keep.shape[0] not in (1, batch):
            msg = f"keep has {keep.shape[0]} rows but the forward pass has batch size {batch}"
            raise ValueError(msg)
        ones = torch.ones((keep.shape[0], 1), dtype=like.dtype, device=like.device)
        return torch.cat([keep.to(like.dtype).to(like.device), ones], dim=1)

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

    def __enter__(self) -> ComponentHooks:
        try:
            for layer in self._head_cols:
                self._handles.append(self.sites[layer].attn_out.register_forward_pre_hook(self._head_hook(layer)))
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


@contextmanager
def ablated(
    model: Any, ablate: Sequence[str], *, method: Method = "zero", means: dict[str, Any] | None = None
) -> Iterator[ComponentHooks]:
    """Within the ``with`` block, ``model`` runs with the components in ``ablate`` ablated."""
    import torch

    names = list(ablate)
    hooks = ComponentHooks(model, names, method=method, means=means)
    with hooks:
        hooks.keep = torch.zeros((1, len(names)))
        yield hooks


def compute_means(lm: LoadedModel, texts: Sequence[str], names: Sequence[str], *, batch_size: int = 32) -> dict[str, Any]:
    """Mean of every named component's output (head slice or MLP output) over the real
    (unpadded) token positions of ``texts``, for mean ablation."""
    import torch

    if not texts:
        msg = "mean ablation needs at least one reference text"
        raise ValueError(msg)
    _, sites = find_sites(lm.model)
    parsed = [_parse(nm, sites) for nm in names]
    sums: dict[tuple[str, int], Any] = {}
    count = [0.0]
    state: dict[str, Any] = {}

    def record(kind: str, layer: int) -> Callable[..., Any]:
        def pre(module: Any, args: tuple[Any, ...]) -> None:
            add(args[0])

        def post(module: Any, args: tuple[Any, ...], output: Any) -> None:
            add(output[0] if isinstance(output, tuple) else output)

        def add(x: Any) -> None:
            m = state["mask"].to(x.dtype)[..., None]
            s = (x.double() * m).sum((0, 1))
            sums[(kind, layer)] = sums.get((kind, layer), 0) + s

        return pre if kind == "attn" else post

    handles = []
    try:
        for layer in sorted({lay for lay, h in parsed if h is not None}):
            handles.append(sites[layer].attn_out.register_forward_pre_hook(record("attn", layer)))
        for layer in sorted({lay for lay, h in parsed if h is None}):
            handles.append(sites[layer].mlp_out.register_forward_hook(record("mlp", layer)))
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
    means = {}
    for name, (layer, head) in zip(names, parsed):
        if head is None:
            means[name] = (sums[("mlp", layer)] / count[0]).float()
        else:
            d = sites[layer].head_dim
            means[name] = (sums[("attn", layer)][head * d : (head + 1) * d] / count[0]).float()
    return means


class ComponentAblation(AblationBase):
    """Value function over attention heads and MLP blocks, on one text (or the mean over several).

    Args:
        text: the input text, or a list of texts (the output is then their mean).
        model: a :class:`LoadedModel`, built-in name or folder (default: the bundled MiniLM),
            or a ``transformers`` model with ``tokenizer``.
        components: ``"heads"`` (default), ``"mlp"``, ``"all"`` or a list of names.
        method: ``"zero"`` or ``"mean"`` ablation.
        mean_texts: texts whose token positions define the means (default: ``text``).
        output, target, query, class_index, max_new_tokens, reduce: as in
            :func:`~fastspex.ablate.outputs.make_scorer`, computed by the unablated model.
        batch_size: forward-pass rows per call (masks x texts); default about 8k tokens.
        device: move the model there first.
        key: store key (default: from the model fingerprint, texts and settings).
    """

    kind = "components"

    def __init__(
        self,
        text: str | Sequence[str],
        model: Any = None,
        *,
        tokenizer: Any = None,
        components: Literal["heads", "mlp", "all"] | Sequence[str] = "heads",
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
        if isinstance(components, str):
            names = component_names(self.sites, components)
        else:
            names = list(components)
            if not names:
                msg = "components is an empty list"
                raise ValueError(msg)
            for nm in names:
                _parse(nm, self.sites)
        self.labels = names
        self.n = len(names)
        self.method = method
        self.means = compute_means(self.lm, list(mean_texts or texts), names) if method == "mean" else None
        self.hooks = ComponentHooks(self.lm.model, names, method=method, means=self.means)
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
            output=output_identity(output), target=target, query=query, class_index=class_index,
            max_new_tokens=max_new_tokens, reduce=reduce, targets=getattr(self.scorer, "targets", None),
        )

    def __call__(self, masks: Any) -> np.ndarray:
        import torch

        arr = check_masks(masks, self.n)
        n_texts = len(self.texts)
        out = np.empty(len(arr), dtype=np.float64)
        with self.hooks:
            for s in range(0, len(arr), self.batch_size):
                chunk = arr[s : s + self.batch_size]
                keep = torch.from_numpy(np.repeat(chunk, n_texts, axis=0).astype(np.float32))
                which = np.tile(np.arange(n_texts), len(chunk))
                self.hooks.keep = keep.to(self.lm.device)
                vals = self.scorer(self.lm, [self._prompts[w] for w in which], which)
                out[s : s + len(chunk)] = vals.cpu().double().numpy().reshape(len(chunk), n_texts).mean(1)
        return finite_or_raise(out, "the model output")
