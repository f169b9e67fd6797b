"""Every resource method, sync and async, against the real server process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.client.conftest import draw_person
from tests.support.server_process import ServerProcess

from vestis.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    NotFoundError,
)

pytestmark = pytest.mark.e2e


def test_health_and_auth_tokens(server: ServerProcess) -> None:
    with Client(server.base_url + "/", username=server.username, password=server.password) as c:
        assert c.health()["status"] == "ok"
        login = c.auth.login()
        assert login.user.username == server.username and c.token == login.token
        refreshed = c.auth.refresh()
        assert refreshed.token != login.token and c.token == refreshed.token
        created = c.auth.create_token(expiration="P2D")
        listed = c.auth.list_tokens(per_page=100)
        assert listed.pagination.total >= 2
    with Client(server.base_url, token=created.token) as c:
        assert c.projects.list().pagination.page == 1


def test_wrong_password_and_bad_token_raise_authentication_error(server: ServerProcess) -> None:
    with Client(server.base_url, username=server.username, password="wrong") as c:
        with pytest.raises(AuthenticationError) as info:
            c.projects.list()
        assert info.value.status_code == 401 and "Wrong username or password" in str(info.value)
    with Client(server.base_url, token="not-a-token") as c, pytest.raises(AuthenticationError):
        c.projects.list()


def test_projects_create_conflict_ensure_list(server: ServerProcess) -> None:
    with Client(server.base_url, token=server.token) as c:
        created = c.projects.create("ARTICLE-1")
        with pytest.raises(ConflictError) as info:
            c.projects.create("ARTICLE-1")
        assert info.value.body["project_id"] == created.project_id
        assert c.projects.ensure("ARTICLE-1") == created.project_id
        fresh = c.projects.ensure("ARTICLE-2")
        names = {p.project_text: p.project_key for p in c.projects.list(per_page=100).projects}
        assert names["ARTICLE-1"] == created.project_id and names["ARTICLE-2"] == fresh


def test_uploads_create_put_upload_file_and_fetch(server: ServerProcess, tmp_path: Path) -> None:
    data = draw_person(3)
    with Client(server.base_url, token=server.token) as c:
        upload = c.uploads.create("look.jpg")
        assert upload.filename == "look.jpg" and upload.content_type == "image/jpeg"
        c.uploads.put(upload, data)
        assert c.downloads.fetch(upload.download_url) == data
        path = tmp_path / "second.jpg"
        path.write_bytes(draw_person(4))
        file_id = c.uploads.upload_file(path)
        assert file_id and file_id != upload.file_id


def test_identities_every_method(server: ServerProcess, tmp_path: Path) -> None:
    image = tmp_path / "Anna.jpg"
    image.write_bytes(draw_person(5))
    with Client(server.base_url, token=server.token) as c:
        uploaded = c.identities.upload(image)
        code = uploaded.identity_code
        assert uploaded.name == "Anna"
        with pytest.raises(ConflictError) as info:
            c.identities.upload(image, name="again")
        assert info.value.body["existing_identity_code"] == code
        assert c.identities.ensure(image) == code
        assert c.identities.get(code).identity_code == code
        assert code in {i.identity_code for i in c.identities.list(search="Anna").identities}
        assert c.identities.update_metadata(code, tag="summer", gender="female", age=30).success
        added = c.identities.add_photo(code, draw_person(9), filename="second.jpg")
        assert added.identity_code == code and added.position == 1
        assert [p.photo_id for p in c.identities.photos(code).photos][1] == added.photo_id
        with pytest.raises(ConflictError):
            c.identities.add_photo(code, draw_person(9))
        c.identities.remove_photo(code, added.photo_id)
        [only] = c.identities.get(code).photos or []
        with pytest.raises(ConflictError):
            c.identities.remove_photo(code, only.photo_id)
        assert c.identities.status(code).preprocessing_status in {
            "pending", "processing", "completed",
        }  # fmt: skip
        c.identities.delete(code)
        with pytest.raises(NotFoundError):
            c.identities.get(code)


def test_async_resources(server: ServerProcess, tmp_path: Path) -> None:
    image = tmp_path / "Bea.png"
    image.write_bytes(draw_person(6))
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(draw_person(7))

    async def main() -> None:
        async with AsyncClient(
            server.base_url, username=server.username, password=server.password
        ) as c:
            assert (await c.health())["status"] == "ok"
            await c.auth.login()
            await c.auth.refresh()
            token = await c.auth.create_token(expiration=7200)
            assert (await c.auth.list_tokens()).pagination.total >= 1
            project = await c.projects.create("ASYNC-1")
            assert await c.projects.ensure("ASYNC-1") == project.project_id
            assert any(
                p.project_key == project.project_id for p in (await c.projects.list()).projects
            )
            upload = await c.uploads.create("x.jpg")
            await c.uploads.put(upload, draw_person(8))
            assert await c.downloads.fetch(upload.download_url) == draw_person(8)
            assert await c.uploads.upload_file(photo)
            code = await c.identities.ensure(image, name="Bea")
            assert await c.identities.ensure(image) == code
            assert (await c.identities.get(code)).name == "Bea"
            assert (await c.identities.list()).pagination.total >= 1
            assert (await c.identities.update_metadata(code, tag="x")).success
            added = await c.identities.add_photo(code, photo)
            assert added.original_filename == "photo.jpg"
            assert len((await c.identities.photos(code)).photos) == 2
            await c.identities.remove_photo(code, added.photo_id)
            assert len((await c.identities.photos(code)).photos) == 1
            assert (await c.identities.status(code)).preprocessing_status
            await c.identities.delete(code)
            with pytest.raises(NotFoundError):
                await c.identities.get(code)
        async with AsyncClient(server.base_url, token=token.token) as c:
            assert (await c.projects.list()).pagination.page == 1

    asyncio.run(main())
