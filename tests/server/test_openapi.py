"""The OpenAPI document says what the server answers: schemathesis (`--checks all`) finds no
difference, and the answers it used to trip on are pinned here one by one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.server.conftest import Api
from tests.support.server_process import ServerProcess

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
#: schemathesis's phases in the suite: all of them, its `coverage` phase too (every boundary
#: value of every field, about 1,500 requests; a minute here). VESTIS_SCHEMATHESIS_PHASES picks
#: others (e.g. "examples,fuzzing" for a quick look).
PHASES = os.environ.get("VESTIS_SCHEMATHESIS_PHASES", "all").replace(
    "all", "examples,coverage,fuzzing,stateful"
)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/project", "GET, POST"),
        ("PUT", "/project", "GET, POST"),
        ("DELETE", "/notifications/events", "GET"),
        ("GET", "/identity/upload", "POST"),
        ("PUT", "/v1/run", "POST"),
        ("DELETE", "/jobs/job_x/status", "GET"),
    ],
)
def test_other_methods_are_405_with_every_allowed_method(
    api: Api, method: str, path: str, allow: str
) -> None:
    response = api.http.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow


def test_an_unparsable_body_is_422_like_any_invalid_input(api: Api) -> None:
    broken = api.http.post(
        "/identity/upload",
        content=b"--b\r\nContent-Disposition: form-data; name=image\r\n\r\nno end",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    not_json = api.http.post(
        "/project", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    for response in (broken, not_json):
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "Invalid request"


def test_the_document_declares_errors_auth_and_the_spec_error_body(server: ServerProcess) -> None:
    document = httpx.get(server.base_url + "/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    project = document["paths"]["/project"]["post"]
    assert project["security"] == [{"bearer": []}]
    for status in ("401", "405", "413", "422"):
        assert status in project["responses"], status
    invalid = project["responses"]["422"]["content"]["application/json"]["schema"]
    assert invalid == {"$ref": "#/components/schemas/ErrorBody"}
    assert document["paths"]["/auth/login"]["post"]["security"] == [{"basic": []}]
    assert "security" not in document["paths"]["/upload/{file_id}"]["put"]  # signed link


def _schemathesis(server: ServerProcess, token: str, *selection: str) -> str:
    """Run schemathesis on the server's document; its report if it found anything."""
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "--no-color",
            "run",
            server.base_url + "/openapi.json",
            "--checks",
            "all",
            "--phases",
            PHASES,
            "--max-examples",
            "6",
            "--seed",
            "20261127",
            # One worker: schemathesis's threads call Hypothesis, whose lambda descriptions
            # ast.parse source; CPython 3.11's parser is not thread-safe there and failed a
            # run with "AST constructor recursion depth mismatch" (gh-106905) on two threads.
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {token}",
            "--request-timeout",
            "60",
            "--generation-database",
            "none",
            *selection,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=server.data_dir.parent,  # its cache, not in the checkout
    )
    return "" if run.returncode == 0 else f"{run.stdout[-25000:]}\n{run.stderr[-3000:]}"


@pytest.mark.timeout(1800)  # a few minutes on a busy 2-core machine, mostly schemathesis itself
def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    """Every operation, `--checks all` (phases: `PHASES`),
    a bounded number of examples, with a token. Revoking tokens is fuzzed apart, with a token
    of another user: the run would otherwise revoke its own token (the list shows its id)."""
    revoke = "/auth/token/{token_id}"
    # Event streams end after a second: schemathesis reads a response to its end, and an open
    # stream kept it waiting its whole --request-timeout on every example (6 minutes a run).
    with ServerProcess(tmp_path, extra_args=["--sse-max-seconds", "1"]) as server:
        everything_else = _schemathesis(server, server.token, "--exclude-path", revoke)
        other = server.add_user("fuzzed", "fuzzed-password")
        revocation = _schemathesis(server, other, "--include-path", revoke)
        log = server.log()
    assert everything_else == "", f"{everything_else}\n{log[-3000:]}"
    assert revocation == "", f"{revocation}\n{log[-3000:]}"
