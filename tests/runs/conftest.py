"""Fixtures for the runs/ unit tests: input folders drawn with Pillow and a context on the fake
client."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from tests.runs.fake_client import FakeClient

from vestis.runs.context import RunContext
from vestis.runs.events import Reporter
from vestis.runs.identity import IdentityResolver
from vestis.runs.spec import RunSpec


def draw(path: Path, color: str = "blue") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
    Image.new("RGB", (48, 64), color).save(path, fmt)
    return path


@pytest.fixture
def pdp(tmp_path: Path) -> Path:
    folder = tmp_path / "PDP" / "ARTICLE1"
    for name in ("image2.jpg", "image1.jpg", "image3.png", "x_INTERNAL_.jpg", "y_NONMODEL_.png"):
        draw(folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def make_ctx(
    client: FakeClient, spec: RunSpec, *, allow_partial: bool = False
) -> tuple[RunContext, io.StringIO]:
    out = io.StringIO()
    ctx = RunContext(
        client=client,
        spec=spec,
        reporter=Reporter(stream=out),
        identity=IdentityResolver(client, spec.identity_code, spec.identity_image),
        poll_interval=0.01,
        allow_partial=allow_partial,
    )
    return ctx, out
