"""Fixtures for the local engine tests: one engine per module, small sample images."""

from __future__ import annotations

import pytest
from PIL import Image

from vestis.engines.local import LocalEngine
from vestis.runs import samples


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    return LocalEngine()


@pytest.fixture(scope="module")
def pdp() -> Image.Image:
    return samples.make_pdp_photo(0)


@pytest.fixture(scope="module")
def identity() -> Image.Image:
    return samples.make_identity_image()


@pytest.fixture
def glasses_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's refusal of glasses lifted, for tests of the rendering itself: Grace Hopper's
    portrait is the only second person the installed packages ship, and she wears glasses,
    which the engine refuses (`test_glasses_are_refused_and_measured` checks that)."""
    monkeypatch.setattr("vestis.engines.local.engine.wears_glasses", lambda face: False)
