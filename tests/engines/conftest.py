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
