"""The store never serves stale outputs: keys cover the model config, the fastspex version and
the code of a user ``output=`` callable; unhashable callables need an explicit key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fastspex.store import EvalStore, StoreError
from fastspex.value import Evaluator

pytest.importorskip("torch")
pytest.importorskip("transformers")
from _tiny_models import _one_torch_thread, gpt2  # noqa: E402, F401
from fastspex.ablate import FeatureAblation, load_model  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog."


def _last_logit(index: int):
    """An output callable whose closure holds ``index``: same code, different constant."""
    return lambda out, batch: out.logits[:, -1, index]


class _Opaque:
    """An object without a stable identity (its repr holds its address)."""


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, tok = gpt2()
    path = tmp_path_factory.mktemp("models") / "tiny-gpt2"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def lm(tiny_folder: Path) -> Any:
    return load_model(tiny_folder, device="cpu")


def test_two_lambdas_with_different_bodies_get_different_keys(lm: Any) -> None:
    first = FeatureAblation(TEXT, lm, output=lambda out, batch: out.logits[:, -1, 0])
    second = FeatureAblation(TEXT, lm, output=lambda out, batch: out.logits[:, -1, 0] * 2)
    assert first.cache_key != second.cache_key
    same = FeatureAblation(TEXT, lm, output=lambda out, batch: out.logits[:, -1, 0])
    assert same.cache_key == first.cache_key  # the key is stable, not random


def test_same_lambda_with_another_closure_constant_gets_another_key(lm: Any) -> None:
    a = FeatureAblation(TEXT, lm, output=_last_logit(3))
    b = FeatureAblation(TEXT, lm, output=_last_logit(4))
    assert a.cache_key != b.cache_key
    assert FeatureAblation(TEXT, lm, output=_last_logit(3)).cache_key == a.cache_key


def test_default_arguments_are_part_of_the_key(lm: Any) -> None:
    a = FeatureAblation(TEXT, lm, output=lambda out, batch, i=1: out.logits[:, -1, i])
    b = FeatureAblation(TEXT, lm, output=lambda out, batch, i=2: out.logits[:, -1, i])
    assert a.cache_key != b.cache_key


def test_the_fastspex_version_is_part_of_the_key(lm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastspex._version

    before = FeatureAblation(TEXT, lm).cache_key
    monkeypatch.setattr(fastspex._version, "__version__", "999.0.0")
    assert FeatureAblation(TEXT, lm).cache_key != before


@pytest.mark.parametrize(("field", "value"), [("activation_function", "relu"), ("n_head", 2)])
def test_an_edited_config_gets_a_new_key_and_fresh_outputs(
    tiny_folder: Path, tmp_path: Path, field: str, value: Any
) -> None:
    import shutil

    edited = tmp_path / "edited"
    shutil.copytree(tiny_folder, edited)
    store = EvalStore(tmp_path / "evals.sqlite")
    masks = np.random.default_rng(0).random((12, 9)) < 0.5
    original = FeatureAblation(TEXT, load_model(edited, device="cpu"), target=" dog")
    assert original.n == 9
    Evaluator(original, store=store, progress=False)(masks)

    cfg = json.loads((edited / "config.json").read_text())
    assert cfg[field] != value
    cfg[field] = value
    (edited / "config.json").write_text(json.dumps(cfg))
    changed = FeatureAblation(TEXT, load_model(edited, device="cpu"), target=" dog")
    assert changed.cache_key != original.cache_key
    ev = Evaluator(changed, store=store, progress=False)
    got = ev(masks)
    assert ev.calls == len(np.unique(masks, axis=0))  # nothing came from the stale rows
    # The known answer: the edited model itself, evaluated with no store at all.
    np.testing.assert_allclose(got, changed(masks), rtol=1e-6)
    assert not np.allclose(got, original(masks))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: (lambda obj: (lambda out, batch: out.logits[:, -1, 0] + 0 * id(obj)))(_Opaque()),
                     id="closure-holds-an-object"),
        pytest.param(lambda: _Callable(), id="callable-object"),
        pytest.param(lambda: max, id="builtin"),
    ],
)
def test_an_unhashable_output_without_a_key_is_refused(lm: Any, make: Any) -> None:
    fn = make()
    with pytest.raises(StoreError, match="pass an explicit key=") as info:
        FeatureAblation(TEXT, lm, output=fn)
    text = str(info.value)
    assert "\n" not in text
    assert "output=" in text


class _Callable:
    """A callable object: no ``__code__`` to hash."""

    def __call__(self, out: Any, batch: dict[str, Any]) -> Any:
        return out.logits[:, -1, 0]


def test_an_unhashable_output_with_a_key_works(lm: Any, tmp_path: Path) -> None:
    holder = _Opaque()
    holder.index = 0  # type: ignore[attr-defined]
    fa = FeatureAblation(TEXT, lm, output=lambda out, batch: out.logits[:, -1, holder.index], key="my-exp")
    assert fa.cache_key == "my-exp"
    store = EvalStore(tmp_path / "evals.sqlite")
    masks = np.ones((2, fa.n), bool)
    masks[1, 0] = False
    ev = Evaluator(fa, store=store, progress=False)
    np.testing.assert_allclose(ev(masks), fa(masks))
    assert store.count("my-exp") == 2
