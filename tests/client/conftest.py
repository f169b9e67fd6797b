"""Fixtures of the SDK's end-to-end tests: real server processes and images drawn with Pillow."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from tests.support.server_process import ServerProcess


def draw_person(seed: int = 0, size: tuple[int, int] = (96, 128)) -> bytes:
    """A small JPEG with a figure on it (not a single colour, so the engine finds a 'face')."""
    image = Image.new("RGB", size, (200 + seed % 50, 180, 160))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 3, h // 8, 2 * w // 3, 3 * h // 8), fill=(220, 170, 140 + seed % 100))
    draw.rectangle((w // 4, 3 * h // 8, 3 * w // 4, h - 4), fill=(30, 60 + seed % 150, 120))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def person_file(tmp_path: Path) -> Path:
    path = tmp_path / "person.jpg"
    path.write_bytes(draw_person(1))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A plain server (FakeEngine, no rate limit, no faults), shared by a test module."""
    with ServerProcess(tmp_path_factory.mktemp("server")) as process:
        yield process


@pytest.fixture(scope="module")
def short_token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Login tokens live two seconds, so they expire in the middle of a test."""
    path = tmp_path_factory.mktemp("ttl")
    with ServerProcess(path, extra_args=["--access-token-ttl", "2"]) as process:
        yield process
