"""Fixtures of the remote-engine tests: a real upstream `vestis serve` (FakeEngine), a job built
the way the server builds one, and a JobContext that records what the engine did."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.server.conftest import person_image
from tests.support.server_process import ServerProcess

from vestis.engines.base import (
    EngineError,
    EngineOutput,
    JobFile,
    JobIdentity,
    JobWork,
    OutputSlot,
)


class RecordingContext:
    """A JobContext keeping state, memo, outputs and failures in memory (thread-safe)."""

    def __init__(self, memo: dict[str, str] | None = None) -> None:
        self.memo: dict[str, str] = {} if memo is None else memo
        self.states: list[dict[str, Any]] = []
        self.outputs: dict[str, EngineOutput] = {}
        self.errors: dict[str, EngineError] = {}
        self.stop = threading.Event()
        self._lock = threading.Lock()

    @property
    def state(self) -> dict[str, Any]:
        return self.states[-1] if self.states else {}

    def save_state(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.states.append(_copy(state))

    def recall(self, key: str) -> str | None:
        return self.memo.get(key)

    def remember(self, key: str, value: str) -> None:
        self.memo[key] = value

    def deliver(self, key: str, output: EngineOutput) -> None:
        with self._lock:
            self.outputs[key] = output

    def fail(self, key: str, error: EngineError) -> None:
        with self._lock:
            self.errors[key] = error

    def stopping(self) -> bool:
        return self.stop.is_set()


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def identity(seed: int = 9) -> JobIdentity:
    data = person_image(seed, size=(200, 260))
    return JobIdentity(
        code="id_gateway",
        name="Anna",
        filename="Anna.jpg",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def swap_work(
    job_id: str = "job_swap",
    *,
    inputs: int = 2,
    variations: int = 1,
    options: dict[str, Any] | None = None,
    post_process: bool = False,
    seed: int = 9,
) -> JobWork:
    files = {
        f"file{i}": JobFile(f"file{i}", f"image{i + 1}.jpg", person_image(i + 1))
        for i in range(inputs)
    }
    slots = [
        OutputSlot(f"out{i}_{v}", i, v, v, "jpg", {"file_id": f"file{i}", "seed": 100 + i})
        for i in range(inputs)
        for v in range(variations)
    ]
    request = {
        "identity_code": "id_gateway",
        "project_id": "proj_gateway",
        "images": list(files),
        "post_process": post_process,
        "swap_options": {"model": "auto", "num_variations": variations, **(options or {})},
    }
    return JobWork(job_id, "model_swap", request, "ARTICLE-1", identity(seed), files, slots)


def flat_work(
    job_id: str = "job_flat",
    *,
    instructions: list[dict[str, Any]],
    notes: list[str | None],
    options: dict[str, Any] | None = None,
) -> JobWork:
    files = {
        f"sku{i}": JobFile(f"sku{i}", f"garment{i}.png", person_image(20 + i, fmt="PNG"))
        for i in range(len(notes))
    }
    images: list[Any] = [
        {"file_id": fid, **({"note": note} if note else {})}
        for fid, note in zip(files, notes, strict=True)
    ]
    slots = []
    for index, instruction in enumerate(instructions):
        for variation in range(instruction.get("num_variations", 1)):
            slots.append(
                OutputSlot(
                    f"flat{index}_{variation}",
                    len(slots),
                    index,
                    variation,
                    "jpg",
                    {"instruction_index": index, "width": 768, "height": 1024, "seed": 7},
                )
            )
    request = {
        "identity_code": "id_gateway",
        "project_id": "proj_gateway",
        "images": images,
        "instructions": instructions,
        "options": {"model": "auto", **(options or {})},
    }
    return JobWork(job_id, "flat_2_model", request, "SKU-1", identity(), files, slots)


def upstream_rows(server: ServerProcess, sql: str) -> list[Any]:
    engine = create_engine(server.db_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The upstream On-Model server: FakeEngine, no rate limit."""
    with ServerProcess(tmp_path_factory.mktemp("upstream")) as server:
        yield server
