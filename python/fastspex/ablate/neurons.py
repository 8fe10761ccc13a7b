"""MLP neurons as components: ``L{layer}.N{i}``, the hidden units that enter each MLP's down projection.

A neuron is one coordinate of the down projection's input: after the activation for GPT-2 and
BERT (``act(W_in x)``), the gated product ``act(gate(x)) * up(x)`` for Llama-style MLPs. Ablating
it multiplies that coordinate by the row's keep value (zero ablation) and adds ``(1 - keep)``
times its mean (mean ablation) in a forward pre-hook of the down projection: one broadcast
multiply per layer for a whole batch of masks.

============  =========================
family        down projection (pre-hook)
============  =========================
GPT-2         ``mlp.c_proj``
Llama-style   ``mlp.down_proj``
BERT-style    ``output.dense``
============  =========================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["DOWN_PROJECTIONS", "neuron_hook", "neuron_names", "parse_layers"]

#: Per family, the path (inside a layer) of the module whose input holds the MLP's neurons.
DOWN_PROJECTIONS = {"gpt2": "mlp.c_proj", "llama": "mlp.down_proj", "bert": "output.dense"}


def parse_layers(spec: str | int | Sequence[int] | None, n_layers: int) -> list[int]:
    """Layer numbers from ``None`` (all), an int, a list, or text like ``"3-5"``, ``"0,2,4-5"``."""
    if spec is None:
        return list(range(n_layers))
    if isinstance(spec, bool):
        msg = f"layers must be a list of layer numbers or text like '3-5', got {spec!r}"
        raise TypeError(msg)
    if isinstance(spec, int):
        layers = [spec]
    elif isinstance(spec, str):
        layers = []
        for part in spec.replace(" ", "").split(","):
            lo, sep, hi = part.partition("-")
            if not lo.isdigit() or (sep and not hi.isdigit()):
                msg = f"layers must look like '3-5' or '0,2,4-5', got {spec!r}"
                raise ValueError(msg)
            a, b = int(lo), int(hi) if sep else int(lo)
            if b < a:
                msg = f"layer range {part!r} runs backwards (write it as '{b}-{a}')"
                raise ValueError(msg)
            layers += range(a, b + 1)
    else:
        layers = [int(v) for v in spec]
    bad = [v for v in layers if not 0 <= v < n_layers]
    if bad:
        msg = f"layers {bad} do not exist: the model has layers 0-{n_layers - 1}"
        raise ValueError(msg)
    if not layers:
        msg = "layers selects no layer"
        raise ValueError(msg)
    return sorted(set(layers))


def neuron_names(widths: Sequence[int], layers: Sequence[int]) -> list[str]:
    """``L{l}.N{i}`` for every neuron of the given layers (``widths[l]`` neurons in layer ``l``)."""
    return [f"L{layer}.N{i}" for layer in layers for i in range(widths[layer])]


def neuron_hook(cols: Sequence[int], keep_full: Callable[[int, Any], Any], mean: Any | None) -> Callable[..., Any]:
    """A forward pre-hook for a down projection: neuron ``i`` is scaled by ``keep[:, cols[i]]``.

    ``keep_full(batch, like)`` returns the ``(B|1, n + 1)`` keep matrix (last column all ones,
    the column of neurons outside the component set) or ``None`` when nothing is ablated;
    ``mean`` is the ``(width,)`` tensor of neuron means for mean ablation.
    """
    import torch

    index = torch.as_tensor(list(cols), dtype=torch.long)

    def hook(module: Any, args: tuple[Any, ...]) -> Any:
        x = args[0]
        keep = keep_full(x.shape[0], x)
        if keep is None:
            return None
        k = keep[:, index.to(x.device)].reshape(keep.shape[0], *([1] * (x.ndim - 2)), -1)
        out = x * k
        if mean is not None:
            out = out + (1 - k) * mean.to(x.device, x.dtype)
        return (out, *args[1:])

    return hook
