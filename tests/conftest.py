"""Shared fixtures: a seeded RNG and an isolated cache folder for every test."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the evaluation store and model caches of tests out of the user's cache folder."""
    monkeypatch.setenv("FASTSPEX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
