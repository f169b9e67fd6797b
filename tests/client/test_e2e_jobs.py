"""Jobs end to end: creation, wait (SSE and polling), results, downloads, notifications,
failures and client-side timeouts, sync and async."""

from __future__ import annotations

import asyncio
import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tests.client.jobflow import async_swap_request, plain_jpeg, swap_request
from tests.support.gate import Gate
from tests.support.server_process import GATED_FAKE_ENGINE, ServerProcess

from vestis.client import AsyncClient, Client, JobFailedError, JobTimeoutError
from vestis.contract import JobStatusResponse

pytestmark = pytest.mark.e2e

#: Never reached in a passing test: a wait that fell back to polling would hang on it.
NO_POLLING = 3600.0


def test_model_swap_wait_via_sse_results_and_downloads(
    server: ServerProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vestis.client")
    updates: list[JobStatusResponse] = []
    with Client(server.base_url, token=server.token) as c:
        created = c.jobs.model_swap(swap_request(c, tmp_path, "SWAP-SSE"))
        assert created.status == "pending"
        final = c.jobs.wait(created.job_id, poll_interval=NO_POLLING, on_update=updates.append)
        assert final.status == "completed" and final.job_id == created.job_id
        assert updates and updates[-1].status == "completed"
        assert "polling the job status instead" not in caplog.text
        assert c.jobs.status(created.job_id).progress == 100
        raw = c.jobs.results_raw(created.job_id)
        results = c.jobs.results(created.job_id)
        assert raw["job_id"] == created.job_id and len(raw["results"]) == 2
        assert [r.original_filename for r in results.results] == ["image1.jpg", "image2.jpg"]
        first = results.results[0]
        assert first.image_url is not None
        image = Image.open(io.BytesIO(c.downloads.fetch(first.image_url)))
        assert image.size == (96, 128)
        archive = c.downloads.fetch(c.downloads.create(created.job_id).download_url)
        assert len(zipfile.ZipFile(io.BytesIO(archive)).namelist()) == 2
        bulk = c.downloads.bulk([created.job_id])
        assert zipfile.ZipFile(io.BytesIO(c.downloads.fetch(bulk.download_url))).namelist()


def test_flat_to_model_wait_by_polling(server: ServerProcess, tmp_path: Path) -> None:
    with Client(server.base_url, token=server.token) as c:
        body = swap_request(c, tmp_path, "FLAT-POLL")
        body["instructions"] = [{"options": {"size": "1K", "ar": "1:1"}}, {"num_variations": 2}]
        created = c.jobs.flat_to_model(body)
        assert created.total_outputs == 3
        progress: list[float] = []
        final = c.jobs.wait(
            created.job_id,
            use_sse=False,
            poll_interval=0.2,
            on_update=lambda s: progress.append(s.progress),
        )
        assert final.status == "completed" and progress[-1] == 100
        outputs = c.jobs.results(created.job_id).results
        assert len(outputs) == 3 and all(r.status == "completed" for r in outputs)


class _NoEventStream(httpx.HTTPTransport):
    """A real transport whose event stream is down (502), to force the polling fallback."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/notifications/events"):
            return httpx.Response(502, json={"error": "Bad gateway"})
        return super().handle_request(request)


def test_wait_falls_back_to_polling_when_the_stream_is_down(
    server: ServerProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vestis.client")
    http = httpx.Client(transport=_NoEventStream())
    with Client(server.base_url, token=server.token, http_client=http, max_retries=0) as c:
        created = c.jobs.model_swap(swap_request(c, tmp_path, "SWAP-FALLBACK"))
        assert c.jobs.wait(created.job_id, poll_interval=0.2).status == "completed"
    assert "polling the job status instead" in caplog.text


def test_failed_job_raises_job_failed_error_with_the_job_id(
    server: ServerProcess, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(plain_jpeg())
    with Client(server.base_url, token=server.token) as c:
        created = c.jobs.model_swap(swap_request(c, tmp_path, "SWAP-FAIL", images=[plain]))
        with pytest.raises(JobFailedError) as info:
            c.jobs.wait(created.job_id, poll_interval=0.2)
        assert info.value.job_id == created.job_id and info.value.status == "failed"
        final = c.jobs.wait(created.job_id, use_sse=False, raise_on_failure=False)
        assert final.status == "failed"


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Every engine call waits at a gate that opens only at the end: no job finishes, so
    `wait` times out however slow or fast the machine is."""
    gate = Gate(tmp_path_factory.mktemp("gate"))
    path = tmp_path_factory.mktemp("slow")
    with ServerProcess(path, engine=GATED_FAKE_ENGINE, env=gate.env) as process:
        yield process
        gate.open()  # so the server stops at once


@pytest.mark.parametrize("use_sse", [True, False])
def test_wait_deadline_raises_job_timeout_error(
    slow_server: ServerProcess, tmp_path: Path, use_sse: bool
) -> None:
    with Client(slow_server.base_url, token=slow_server.token) as c:
        created = c.jobs.model_swap(swap_request(c, tmp_path, f"SWAP-SLOW-{use_sse}"))
        with pytest.raises(JobTimeoutError) as info:
            c.jobs.wait(created.job_id, timeout=0.5, poll_interval=0.1, use_sse=use_sse)
        assert info.value.job_id == created.job_id


def test_async_jobs_wait_results_downloads_and_timeout(
    server: ServerProcess, slow_server: ServerProcess, tmp_path: Path
) -> None:
    async def main() -> None:
        async with AsyncClient(server.base_url, token=server.token) as c:
            body = await async_swap_request(c, tmp_path, "ASYNC-SWAP")
            created = await c.jobs.model_swap(body, idempotency_key="async-key-1")
            again = await c.jobs.model_swap(body, idempotency_key="async-key-1")
            assert again.job_id == created.job_id  # the same key replays the first answer
            sse, polled = await asyncio.gather(
                c.jobs.wait(created.job_id, poll_interval=NO_POLLING),
                c.jobs.wait(created.job_id, use_sse=False, poll_interval=0.2),
            )
            assert sse.status == polled.status == "completed"
            assert (await c.jobs.status(created.job_id)).status == "completed"
            raw = await c.jobs.results_raw(created.job_id)
            results = await c.jobs.results(created.job_id)
            assert len(raw["results"]) == len(results.results) == 2
            url = results.results[0].image_url
            assert url and await c.downloads.fetch(url)
            link = await c.downloads.create(created.job_id)
            assert zipfile.ZipFile(
                io.BytesIO(await c.downloads.fetch(link.download_url))
            ).namelist()
            assert (await c.downloads.bulk([created.job_id])).download_url
            flat = {**body, "instructions": [{"prompt": "FAIL please"}]}
            failing = await c.jobs.flat_to_model(flat)
            with pytest.raises(JobFailedError) as failed:
                await c.jobs.wait(failing.job_id, poll_interval=0.2)
            assert failed.value.job_id == failing.job_id
        async with AsyncClient(slow_server.base_url, token=slow_server.token) as c:
            slow = await c.jobs.model_swap(await async_swap_request(c, tmp_path, "ASYNC-SLOW"))
            for use_sse in (True, False):
                with pytest.raises(JobTimeoutError) as timed_out:
                    await c.jobs.wait(slow.job_id, timeout=0.5, poll_interval=0.1, use_sse=use_sse)
                assert timed_out.value.job_id == slow.job_id

    asyncio.run(main())


def test_notifications_poll_stream_delete(server: ServerProcess, tmp_path: Path) -> None:
    with Client(server.base_url, token=server.token) as c:
        created = c.jobs.model_swap(swap_request(c, tmp_path, "NOTES"))
        c.jobs.wait(created.job_id, use_sse=False, poll_interval=0.2)
        polled = c.notifications.poll(id_task=created.job_id)
        assert polled and all(n.job_id == created.job_id for n in polled)
        assert any(n.name == "batch_edit" and n.data.get("status") == "completed" for n in polled)
        stream = c.notifications.stream(id_task=created.job_id)
        first = next(stream)
        stream.close()
        assert first.job_id == created.job_id
        for note in polled:
            c.notifications.delete(note.id)
        assert c.notifications.poll(id_task=created.job_id) == []

    async def main() -> None:
        async with AsyncClient(server.base_url, token=server.token) as c:
            job = await c.jobs.model_swap(await async_swap_request(c, tmp_path, "NOTES-ASYNC"))
            await c.jobs.wait(job.job_id, poll_interval=0.2)
            notes = await c.notifications.poll(id_task=[job.job_id], name_list="batch_edit")
            assert notes and {n.name for n in notes} == {"batch_edit"}
            stream = c.notifications.stream(id_task=job.job_id)
            assert (await anext(stream)).job_id == job.job_id
            await stream.aclose()
            for note in notes:
                await c.notifications.delete(note.id)

    asyncio.run(main())
