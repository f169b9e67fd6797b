"""The sample catalogue (vestis.runs.samples) that the demo and the tests use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vestis.engines.local.garments import prepare
from vestis.runs import samples


def test_write_sample_catalogue(tmp_path: Path, engine) -> None:
    catalogue = samples.write_sample_catalogue(tmp_path)
    assert [p.name for p in catalogue.pdp_folders] == ["ARTICLE-001", "ARTICLE-002"]
    assert [p.name for p in catalogue.flat_folders] == ["SKU-001", "SKU-002"]
    assert len(catalogue.pdp_images) == 4 and len(catalogue.flat_images) == 4
    assert catalogue.identities == [
        tmp_path / "identities" / "astronaut.jpg",
        tmp_path / "identities" / "grace-hopper.jpg",
    ]
    for identity in catalogue.identities:
        assert engine.detect_face(Image.open(identity)).detected
    assert engine.detect_face(Image.open(catalogue.pdp_images[0])).detected
    kinds = {p.stem: prepare(np.asarray(Image.open(p)), p.name, None).kind
             for p in catalogue.flat_images}  # fmt: skip
    assert kinds == {"top": "top", "bottom": "bottom", "dress": "dress", "shoes": "shoes"}


def test_photos_depend_on_seed() -> None:
    a, b = np.asarray(samples.make_pdp_photo(0)), np.asarray(samples.make_pdp_photo(1))
    assert a.shape == b.shape == (640, 480, 3) and (a != b).any()
    assert (np.asarray(samples.make_pdp_photo(0)) == a).all()
