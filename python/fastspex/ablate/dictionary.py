"""Dictionary features (sparse-autoencoder latents) as components: ``L{l}.F{i}`` / ``L{l}.MLP.F{i}``.

A dictionary at a site (the residual stream after layer ``l``, or the output of layer ``l``'s
MLP) encodes the site's activation ``x`` as ``a = act((x - b_dec) W_enc + b_enc)`` and decodes
it as ``x̂ = a W_dec + b_dec``; feature ``i`` contributes ``a_i d_i`` (``d_i`` = row ``i`` of
``W_dec``). Ablating feature ``i`` (keep value ``k_i = 0``) replaces ``a_i`` by 0 (zero
ablation) or by its mean ``ā_i`` over reference tokens (mean ablation). The site becomes

* ``x - Σ_i (1 - k_i)(a_i - ā_i) d_i`` with ``keep_error=True`` (default): the SAE's
  reconstruction error stays, so with every feature kept the model is unchanged;
* ``Σ_i (k_i a_i + (1 - k_i) ā_i) d_i + b_dec`` with ``keep_error=False``: the model runs on
  the reconstruction (``ā = 0`` for zero ablation).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["FEATURE_NAME", "Dictionary", "feature_hook", "load_dictionary"]

Site = Literal["resid", "mlp"]
Activation = Literal["relu", "identity"]
#: ``L3.F12`` (residual stream after layer 3) or ``L3.MLP.F12`` (output of layer 3's MLP).
FEATURE_NAME = re.compile(r"^L(\d+)\.(MLP\.)?F(\d+)$")


def _matrix(value: Any, what: str, ndim: int) -> np.ndarray:
    try:
        arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        arr = np.asarray(arr, dtype=np.float32)
    except (TypeError, ValueError) as err:
        msg = f"dictionary {what} must be a numeric array or tensor ({err})"
        raise ValueError(msg) from err
    if arr.ndim != ndim:
        msg = f"dictionary {what} must be {ndim}-D, got shape {arr.shape}"
        raise ValueError(msg)
    if not np.isfinite(arr).all():
        msg = f"dictionary {what} holds NaN or inf"
        raise ValueError(msg)
    return arr


@dataclass
class Dictionary:
    """An SAE-style dictionary of ``F`` features on a ``d``-wide site.

    Args:
        W_enc: ``(d, F)`` encoder; ``b_enc``: ``(F,)`` (default 0).
        W_dec: ``(F, d)`` decoder, one feature direction per row; ``b_dec``: ``(d,)`` (default 0).
        layer: the layer whose residual stream (``site="resid"``, the layer's output) or MLP
            output (``site="mlp"``) the dictionary reads.
        activation: ``"relu"`` (default) or ``"identity"``.
        keep_error: keep the reconstruction error so the unablated model is unchanged.
    """

    W_enc: Any
    W_dec: Any
    layer: int
    site: Site = "resid"
    b_enc: Any = None
    b_dec: Any = None
    activation: Activation = "relu"
    keep_error: bool = True

    def __post_init__(self) -> None:
        self.W_enc = _matrix(self.W_enc, "W_enc", 2)
        self.W_dec = _matrix(self.W_dec, "W_dec", 2)
        d, f = self.W_enc.shape
        if self.W_dec.shape != (f, d):
            msg = (f"W_dec must be (F, d) = ({f}, {d}) to match W_enc (d, F) = ({d}, {f}), "
                   f"got {self.W_dec.shape}")
            raise ValueError(msg)
        self.b_enc = np.zeros(f, np.float32) if self.b_enc is None else _matrix(self.b_enc, "b_enc", 1)
        self.b_dec = np.zeros(d, np.float32) if self.b_dec is None else _matrix(self.b_dec, "b_dec", 1)
        if self.b_enc.shape != (f,) or self.b_dec.shape != (d,):
            msg = f"b_enc must have {f} entries and b_dec {d}, got {self.b_enc.shape} and {self.b_dec.shape}"
            raise ValueError(msg)
        if self.site not in ("resid", "mlp"):
            msg = f"dictionary site must be 'resid' or 'mlp', got {self.site!r}"
            raise ValueError(msg)
        if self.activation not in ("relu", "identity"):
            msg = f"dictionary activation must be 'relu' or 'identity', got {self.activation!r}"
            raise ValueError(msg)
        if isinstance(self.layer, bool) or not isinstance(self.layer, (int, np.integer)) or self.layer < 0:
            msg = f"dictionary layer must be a layer number >= 0, got {self.layer!r}"
            raise ValueError(msg)
        self.layer = int(self.layer)

    @property
    def n_features(self) -> int:
        """Number of features ``F``."""
        return int(self.W_enc.shape[1])

    @property
    def width(self) -> int:
        """Width ``d`` of the site."""
        return int(self.W_enc.shape[0])

    @property
    def prefix(self) -> str:
        """The name prefix of its features: ``L3`` or ``L3.MLP``."""
        return f"L{self.layer}" + (".MLP" if self.site == "mlp" else "")

    def names(self) -> list[str]:
        """``{prefix}.F{i}`` for every feature."""
        return [f"{self.prefix}.F{i}" for i in range(self.n_features)]

    def encode(self, x: Any) -> Any:
        """Feature activations ``a`` of a site activation tensor ``x`` (``(..., d)`` -> ``(..., F)``)."""
        import torch

        w, b_enc, b_dec = (torch.as_tensor(v).to(x.device, x.dtype) for v in (self.W_enc, self.b_enc, self.b_dec))
        pre = (x - b_dec) @ w + b_enc
        return torch.relu(pre) if self.activation == "relu" else pre


def load_dictionary(path: str | Path, *, layer: int, site: Site = "resid",
                    activation: Activation = "relu", keep_error: bool = True) -> Dictionary:
    """A :class:`Dictionary` from a ``.safetensors`` or ``.npz`` file with arrays ``W_enc``
    ``(d, F)``, ``W_dec`` ``(F, d)`` and optionally ``b_enc``, ``b_dec``."""
    p = Path(path)
    if not p.is_file():
        msg = f"dictionary file {str(p)!r} does not exist"
        raise FileNotFoundError(msg)
    if p.suffix == ".safetensors":
        from safetensors.numpy import load_file

        arrays: dict[str, Any] = dict(load_file(str(p)))
    elif p.suffix == ".npz":
        with np.load(p) as z:
            arrays = {k: z[k] for k in z.files}
    else:
        msg = f"dictionary file must be .safetensors or .npz, got {p.name!r}"
        raise ValueError(msg)
    missing = [k for k in ("W_enc", "W_dec") if k not in arrays]
    if missing:
        msg = f"dictionary file {p.name!r} has no {', '.join(missing)} (it holds {sorted(arrays)})"
        raise ValueError(msg)
    return Dictionary(arrays["W_enc"], arrays["W_dec"], layer, site, arrays.get("b_enc"),
                      arrays.get("b_dec"), activation, keep_error)


def feature_hook(d: Dictionary, cols: Sequence[int], keep_full: Callable[[int, Any], Any],
                 mean: Any | None) -> Callable[..., Any]:
    """A forward hook for the dictionary's site: feature ``i`` is scaled by ``keep[:, cols[i]]``.

    ``keep_full`` is as in :func:`fastspex.ablate.neurons.neuron_hook`; ``mean`` the ``(F,)``
    mean activations for mean ablation (``None``: zero ablation).
    """
    import torch

    index = torch.as_tensor(list(cols), dtype=torch.long)

    def hook(module: Any, args: tuple[Any, ...], output: Any) -> Any:
        y = output[0] if isinstance(output, tuple) else output
        keep = keep_full(y.shape[0], y)
        if keep is None:
            return None
        k = keep[:, index.to(y.device)].reshape(keep.shape[0], *([1] * (y.ndim - 2)), -1)
        a = d.encode(y)
        w_dec = torch.as_tensor(d.W_dec).to(y.device, y.dtype)
        abar = 0 if mean is None else mean.to(y.device, y.dtype)
        if d.keep_error:
            new = y - ((1 - k) * (a - abar)) @ w_dec
        else:
            new = (k * a + (1 - k) * abar) @ w_dec + torch.as_tensor(d.b_dec).to(y.device, y.dtype)
        return (new, *output[1:]) if isinstance(output, tuple) else new

    return hook
