"""Real faces from what the dependencies ship: scikit-image's astronaut (Eileen Collins) and
matplotlib's Grace Hopper portrait, two different people, both public domain."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(np.asarray(data.astronaut())).convert("RGB")


@pytest.fixture(scope="session")
def hopper() -> Image.Image:
    from vestis.runs.samples import make_portrait_identity_image

    return make_portrait_identity_image()


@pytest.fixture(scope="session")
def pdp_photo() -> Image.Image:
    """A catalogue-like photo of the astronaut (head and body on a studio background)."""
    from vestis.runs.samples import make_pdp_photo

    return make_pdp_photo(0)
