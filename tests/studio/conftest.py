"""Fixtures of the studio tests: one real server process per module (FakeEngine), a signed-in
httpx client, and a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright;
nothing downloads a browser)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.server.conftest import Api, api_for, person_image
from tests.support.server_process import ServerProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: For a closed network: no background requests, no component updates, no QUIC.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("studio")) as process:
        yield process


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Api]:
    client = api_for(server)
    yield client
    client.http.close()


def make_job(api: Api, project: str, count: int, identity: str | None = None) -> str:
    """A finished model-swap job of `count` inputs, made through the API."""
    project_id = api.project(project)
    files = [api.upload(f"look{n + 1}.jpg", person_image(n)) for n in range(count)]
    identity = identity or api.identity(person_image(11), "studio-model")
    created = api.http.post(
        "/model-swap", json={"project_id": project_id, "identity_code": identity, "images": files}
    )
    assert created.status_code == 202, created.text
    job_id = str(created.json()["job_id"])
    assert api.wait(job_id)["status"] == "completed"
    return job_id


def sign_in(server: ServerProcess, username: str, password: str) -> httpx.Client:
    """An httpx client with a studio session (through the sign-in form, CSRF included)."""
    client = httpx.Client(base_url=server.base_url, timeout=30)
    form = client.get("/studio/login")
    token = CSRF.search(form.text)
    assert token, form.text
    answer = client.post(
        "/studio/login",
        data={"csrf_token": token[1], "username": username, "password": password},
    )
    assert answer.status_code == 303 and "vestis_studio" in client.cookies, answer.text
    return client


def csrf_of(client: httpx.Client, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match
    return match[1]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A Chromium context with a fresh profile directory of its own."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make browser installs Debian's package)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
            accept_downloads=True,
        )
        yield context
        context.close()
