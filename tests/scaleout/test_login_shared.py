"""One login throttle for every way to sign in, kept in the database: wrong passwords through
the studio's sign-in form, spread over two API processes and a restart of one, count in the same
window as `/auth/login`'s, and the 11th is refused."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from tests.support.server_process import ServerProcess, fresh_database_url

from vestis.server.guard.login_guard import FAILURES_PER_USER

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _studio_sign_in(server: ServerProcess, password: str) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        form = client.get("/studio/login")
        token = CSRF.search(form.text)
        assert token, form.text
        return client.post(
            "/studio/login",
            data={"csrf_token": token[1], "username": server.username, "password": password},
        )


def test_wrong_passwords_through_the_studio_are_throttled_across_processes_and_restarts(
    tmp_path: Path,
) -> None:
    url = fresh_database_url()
    first = ServerProcess(tmp_path / "a", workers=0, database_url=url)
    with (
        first,
        ServerProcess(tmp_path / "b", workers=0, database_url=url, token=first.token) as second,
    ):
        codes = [
            _studio_sign_in((first, second)[n % 2], f"guess-{n}").status_code for n in range(6)
        ]
        first.kill()
        first.start()  # a restart forgets nothing
        codes += [
            _studio_sign_in((first, second)[n % 2], f"guess-{n}").status_code for n in range(6, 15)
        ]
        assert codes == [401] * FAILURES_PER_USER + [429] * 5, codes
        right = _studio_sign_in(second, first.password)
        assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1
        api_login = httpx.post(
            first.base_url + "/auth/login", auth=(first.username, first.password), timeout=60
        )
        assert api_login.status_code == 429, api_login.text
