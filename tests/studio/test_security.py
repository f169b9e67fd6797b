"""The studio's security against a real server: another user's job, output or identity is a
404 as in the API; every form needs its CSRF token; no secret token in a page's URLs (only
signed image links carry a signature); the session cookie is HttpOnly and SameSite."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.server.conftest import Api, person_image
from tests.studio.conftest import csrf_of, make_job, sign_in
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.e2e

OTHER = ("mallory", "mallory-password")


@pytest.fixture(scope="module")
def job(api: Api) -> str:
    return make_job(api, "secure", 2)


@pytest.fixture(scope="module")
def owner(server: ServerProcess) -> Iterator[httpx.Client]:
    client = sign_in(server, server.username, server.password)
    yield client
    client.close()


@pytest.fixture(scope="module")
def other_token(server: ServerProcess) -> str:
    return server.add_user(*OTHER)


@pytest.fixture(scope="module")
def other(server: ServerProcess, other_token: str) -> Iterator[httpx.Client]:
    client = sign_in(server, *OTHER)
    yield client
    client.close()


def _output_ids(api: Api, job_id: str) -> list[str]:
    return [r["output_id"] for r in api.http.get(f"/jobs/{job_id}/results").json()["results"]]


def test_pages_need_a_session(server: ServerProcess, job: str) -> None:
    anonymous = httpx.Client(base_url=server.base_url)
    for path in ("/studio/", f"/studio/jobs/{job}", "/studio/identities", "/studio/new"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/studio/login?next=")
    assert anonymous.get(f"/studio/jobs/{job}/approved.zip").status_code == 303
    # a bearer token is not a studio session
    bearer = anonymous.get("/studio/", headers={"Authorization": f"Bearer {server.token}"})
    assert bearer.status_code == 303
    anonymous.close()


def test_another_users_job_output_and_identity_are_404(
    server: ServerProcess,
    api: Api,
    owner: httpx.Client,
    other: httpx.Client,
    other_token: str,
    job: str,
) -> None:
    first = _output_ids(api, job)[0]
    identity = api.http.get(f"/jobs/{job}/status").json()["identity_code"]
    token = csrf_of(other, "/studio/")
    gets = [
        f"/studio/jobs/{job}",
        f"/studio/jobs/{job}?view=faces",
        f"/studio/jobs/{job}/approved.zip",
        f"/studio/jobs/{job}/events",
        f"/studio/jobs/{job}/outputs/{first}/versions",
        f"/studio/jobs/{job}/outputs/{first}/face/output.jpg",
        f"/studio/jobs/{job}/outputs/{first}/face/identity.jpg",
    ]
    for path in gets:
        assert other.get(path).status_code == 404, path
        if "events" not in path:  # (an open stream would not end)
            assert owner.get(path).status_code == 200, path
    posts = [
        (f"/studio/jobs/{job}/outputs/{first}/review", {"verdict": "like"}),
        (f"/studio/jobs/{job}/review-bulk", {"verdict": "like", "output_ids": first}),
        (f"/studio/identities/{identity}/delete", {}),
    ]
    for path, data in posts:
        answer = other.post(path, data={"csrf_token": token, **data})
        assert answer.status_code == 404, path
    # and the API agrees
    mallory = server.client(other_token)
    assert mallory.get(f"/jobs/{job}/results").status_code == 404
    assert mallory.get(f"/identity/{identity}").status_code == 404
    mallory.close()
    # nothing changed: the owner's output is still unreviewed and the identity is there
    result = api.http.get(f"/jobs/{job}/results").json()["results"][0]
    assert result["feedback"] is None
    assert api.http.get(f"/identity/{identity}").status_code == 200


def test_forms_without_the_csrf_token_are_refused(api: Api, owner: httpx.Client, job: str) -> None:
    first = _output_ids(api, job)[0]
    forms = [
        (f"/studio/jobs/{job}/outputs/{first}/review", {"verdict": "like"}, None),
        (f"/studio/jobs/{job}/review-bulk", {"verdict": "like", "output_ids": first}, None),
        ("/studio/identities", {"name": "x"}, {"image": ("x.jpg", person_image(3), "image/jpeg")}),
        ("/studio/new", {"project": "p"}, None),
        ("/studio/logout", {}, None),
    ]
    for path, data, files in forms:
        missing = owner.post(path, data=data, files=files)
        assert missing.status_code == 403, path
        assert "CSRF" in missing.text
        wrong = owner.post(path, data={**data, "csrf_token": "0" * 64}, files=files)
        assert wrong.status_code == 403, path
    # a token from another session does not pass either
    assert api.http.get(f"/jobs/{job}/results").json()["results"][0]["feedback"] is None
    with_token = owner.post(
        f"/studio/jobs/{job}/outputs/{first}/review",
        data={"verdict": "like", "csrf_token": csrf_of(owner, f"/studio/jobs/{job}")},
    )
    assert with_token.status_code == 303
    assert api.http.get(f"/jobs/{job}/results").json()["results"][0]["feedback"] == "like"


def test_sign_in_form_needs_its_csrf_token(server: ServerProcess) -> None:
    client = httpx.Client(base_url=server.base_url)
    client.get("/studio/login")
    answer = client.post(
        "/studio/login", data={"username": server.username, "password": server.password}
    )
    assert answer.status_code == 403 and "vestis_studio" not in client.cookies
    client.close()


URL_ATTRIBUTES = re.compile(r'(?:href|src|action|data-live)="([^"]*)"')


def test_no_token_in_any_page_url(
    server: ServerProcess, api: Api, owner: httpx.Client, job: str
) -> None:
    first = _output_ids(api, job)[0]
    session = owner.cookies["vestis_studio"]
    pages = [
        "/studio/",
        f"/studio/jobs/{job}",
        f"/studio/jobs/{job}?view=faces",
        f"/studio/jobs/{job}/outputs/{first}/versions",
        "/studio/identities",
        "/studio/new",
    ]
    signed = 0
    for path in pages:
        html = owner.get(path).text
        for url in URL_ATTRIBUTES.findall(html):
            for secret in (session, server.token, "vst_", "vss_", "vsl_", "token="):
                assert secret not in url, (path, url)
            query = parse_qs(urlsplit(url.replace("&amp;", "&")).query)
            if "signature" in query:  # a signed image link: a file, an expiry, a signature
                assert urlsplit(url).path.startswith("/files/"), url
                assert set(query) == {"expires", "signature"}, url
                signed += 1
    assert signed > 0


def test_session_cookie_flags_and_sign_out(server: ServerProcess) -> None:
    client = httpx.Client(base_url=server.base_url)
    form = client.get("/studio/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    answer = client.post(
        "/studio/login",
        data={"csrf_token": token[1], "username": server.username, "password": server.password},
    )
    cookies = answer.headers.get_list("set-cookie")
    cookie = next(h for h in cookies if h.startswith("vestis_studio="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/studio" in cookie
    assert client.get("/studio/").status_code == 200
    signed_out = client.post("/studio/logout", data={"csrf_token": csrf_of(client, "/studio/")})
    assert signed_out.status_code == 303
    # the old cookie is dead on the server, not only deleted in the browser
    old = cookie.split(";")[0].split("=", 1)[1]
    stale = httpx.Client(base_url=server.base_url, cookies={"vestis_studio": old})
    assert stale.get("/studio/").status_code == 303
    stale.close()
    client.close()


def test_sign_in_with_an_api_token(server: ServerProcess) -> None:
    client = httpx.Client(base_url=server.base_url)
    token = csrf_of(client, "/studio/login")
    bad = client.post("/studio/login", data={"csrf_token": token, "token": "vst_nope"})
    assert bad.status_code == 401
    good = client.post("/studio/login", data={"csrf_token": token, "token": server.token})
    assert good.status_code == 303 and client.get("/studio/").status_code == 200
    client.close()


def test_control_characters_in_form_fields_are_refused(owner: httpx.Client) -> None:
    """As in the API (a NUL breaks PostgreSQL): 422, nothing stored."""
    token = csrf_of(owner, "/studio/new")
    made = owner.post("/studio/new", data={"csrf_token": token, "project": "spring\x00"})
    assert made.status_code == 422
    face = {"image": ("f.jpg", person_image(5), "image/jpeg")}
    named = owner.post(
        "/studio/identities", data={"csrf_token": token, "name": "a\x07b"}, files=face
    )
    assert named.status_code == 422
    assert "a\x07b" not in owner.get("/studio/identities").text
