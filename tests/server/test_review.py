"""Review through the API: feedback (approve/reject with a note, one or many), what results
flag for review, the approved-only ZIP, and isolation between users."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest
from tests.server.conftest import Api, api_for, person_image
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="module")
def job(api: Api) -> str:
    """A finished model-swap job of three inputs; the third gets the engine's warning."""
    project = api.project("review")
    files = [api.upload(f"look{n}.jpg", person_image(n)) for n in range(3)]
    identity = api.identity(person_image(9), "reviewer-model")
    created = api.http.post(
        "/model-swap",
        json={"project_id": project, "identity_code": identity, "images": files},
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    assert api.wait(job_id)["status"] == "completed"
    return str(job_id)


def _results(api: Api, job_id: str, **params: object) -> list[dict]:
    response = api.http.get(f"/jobs/{job_id}/results", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def test_results_carry_review_fields(api: Api, job: str) -> None:
    results = _results(api, job)
    assert len(results) == 3
    for r in results:
        assert r["output_id"].startswith("out_")
        assert r["feedback"] is None and r["feedback_comment"] is None
        # FakeEngine paints over the drawn figure's head, which the quality measures cannot
        # see as a face: the paint counts as changed pixels, so each output is flagged.
        assert r["metrics"]["face_found"] is False
        assert r["detail_needs_review"] is True
        assert "garments changed" in r["detail_review_reason"]
        assert r["version"] == 0


def test_approve_and_reject_one_output_with_a_note(api: Api, job: str) -> None:
    first, second, _ = _results(api, job)
    url = f"/jobs/{job}/results/{first['output_id']}/feedback"
    liked = api.http.put(url, json={"feedback": "like", "feedback_comment": "sharp"})
    assert liked.status_code == 200, liked.text
    assert liked.json()["feedback"] == "like" and liked.json()["feedback_comment"] == "sharp"
    # a verdict alone keeps the note
    again = api.http.put(url, json={"feedback": "dislike"}).json()
    assert again["feedback"] == "dislike" and again["feedback_comment"] == "sharp"
    url2 = f"/jobs/{job}/results/{second['output_id']}/feedback"
    assert api.http.put(url2, json={"feedback": "dislike", "feedback_comment": "eyes"}).is_success
    by_id = {r["output_id"]: r for r in _results(api, job)}
    assert by_id[first["output_id"]]["feedback"] == "dislike"
    assert by_id[second["output_id"]]["feedback_comment"] == "eyes"
    # clearing: null verdict, empty note
    cleared = api.http.put(url, json={"feedback": None, "feedback_comment": ""}).json()
    assert cleared["feedback"] is None and cleared["feedback_comment"] is None


def test_bad_feedback_is_refused_and_changes_nothing(api: Api, job: str) -> None:
    first = _results(api, job)[0]
    url = f"/jobs/{job}/results/{first['output_id']}/feedback"
    assert api.http.put(url, json={"feedback": "love"}).status_code == 422
    assert api.http.put(url, json={}).status_code == 422
    unknown = api.http.put(f"/jobs/{job}/results/out_nope/feedback", json={"feedback": "like"})
    assert unknown.status_code == 404
    bulk = api.http.post(
        f"/jobs/{job}/feedback",
        json={"output_ids": [first["output_id"], "out_nope"], "feedback": "like"},
    )
    assert bulk.status_code == 404
    assert _results(api, job)[0]["feedback"] == first["feedback"]


def test_bulk_approval_and_the_approved_zip(api: Api, job: str) -> None:
    results = _results(api, job)
    ids = [r["output_id"] for r in results]
    bulk = api.http.post(f"/jobs/{job}/feedback", json={"output_ids": ids[:2], "feedback": "like"})
    assert bulk.status_code == 200, bulk.text
    assert [r["feedback"] for r in bulk.json()["results"]] == ["like", "like"]
    api.http.put(f"/jobs/{job}/results/{ids[2]}/feedback", json={"feedback": "dislike"})

    link = api.http.post("/download", json={"job_id": job, "approved_only": True})
    assert link.status_code == 200, link.text
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(link.json()["download_url"]).content))
    assert sorted(archive.namelist()) == ["look0_v0.jpg", "look1_v0.jpg"]
    everything = api.http.post("/download", json={"job_id": job}).json()["download_url"]
    names = zipfile.ZipFile(io.BytesIO(httpx.get(everything).content)).namelist()
    assert sorted(names) == ["look0_v0.jpg", "look1_v0.jpg", "look2_v0.jpg"]


def test_low_scores_and_warnings_are_flagged(server: ServerProcess, api: Api) -> None:
    """FakeEngine warns about post-processing: the output is flagged with that reason."""
    project = api.project("review-flag")
    file_id = api.upload("flagged.jpg", person_image(4))
    identity = api.identity(person_image(9), "reviewer-model")
    created = api.http.post(
        "/model-swap",
        json={
            "project_id": project,
            "identity_code": identity,
            "images": [file_id],
            "post_process": True,
        },
    ).json()
    api.wait(created["job_id"])
    (result,) = _results(api, created["job_id"])
    assert result["detail_needs_review"] is True
    assert "post-processing" in result["detail_review_reason"]


def test_another_users_job_and_outputs_are_404(server: ServerProcess, api: Api, job: str) -> None:
    other = api_for(server, server.add_user("reviewer-two", "pw-two-long"))
    output_id = _results(api, job)[0]["output_id"]
    assert other.http.get(f"/jobs/{job}/results").status_code == 404
    put = other.http.put(f"/jobs/{job}/results/{output_id}/feedback", json={"feedback": "like"})
    assert put.status_code == 404
    bulk = other.http.post(
        f"/jobs/{job}/feedback", json={"output_ids": [output_id], "feedback": "like"}
    )
    assert bulk.status_code == 404
    assert other.http.post("/download", json={"job_id": job}).status_code == 404
    other.http.close()


def test_the_extensions_are_marked_in_the_openapi(server: ServerProcess) -> None:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    put = spec["paths"]["/jobs/{job_id}/results/{output_id}/feedback"]["put"]
    assert put["x-vestis-extension"] is True
    assert spec["paths"]["/jobs/{job_id}/feedback"]["post"]["x-vestis-extension"] is True
    result = spec["components"]["schemas"]["JobResult"]["properties"]
    for field in ("feedback", "feedback_comment", "detail_needs_review", "detail_review_reason"):
        assert field in result


def _wait_for_version(api: Api, job_id: str, output_id: str, timeout: float = 60) -> dict:
    """Poll the results until the version `output_id` has finished (as Api.wait does)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        every = _results(api, job_id, all_versions="true")
        (mine,) = [r for r in every if r["output_id"] == output_id]
        if mine["status"] in ("completed", "failed"):
            return mine
        time.sleep(0.1)
    raise AssertionError(f"output {output_id} did not finish in {timeout} s")


def test_redo_makes_the_next_version(api: Api, job: str) -> None:
    before = api.http.get(f"/jobs/{job}/results").json()
    first = before["results"][0]
    credits = api.http.get(f"/jobs/{job}/results").json()["credits_used"]
    redo = api.http.post(f"/jobs/{job}/results/{first['output_id']}/redo")
    assert redo.status_code == 202, redo.text
    new = redo.json()
    assert new["version"] == 1 and new["status"] == "pending"
    assert (new["image_index"], new["group_index"]) == (first["image_index"], 0)
    assert new["output_id"] != first["output_id"]
    done = _wait_for_version(api, job, new["output_id"])
    assert done["status"] == "completed" and done["output"]["full_size"]
    after = api.http.get(f"/jobs/{job}/results").json()
    # the current version replaces v0 in the results; v0 stays reachable
    assert [r["version"] for r in after["results"]] == [1, 0, 0]
    assert after["results"][0]["feedback"] is None  # a new version is reviewed anew
    every = _results(api, job, all_versions="true")
    assert sorted((r["image_index"], r["version"]) for r in every) == [
        (0, 0), (0, 1), (1, 0), (2, 0)
    ]  # fmt: skip
    # the job itself is unchanged: still completed, 3 of 3, charged one output more
    assert after["status"] == "completed" and after["processed_images"] == 3
    assert after["credits_used"] == credits + 1
    link = api.http.post("/download", json={"job_id": job}).json()["download_url"]
    names = zipfile.ZipFile(io.BytesIO(httpx.get(link).content)).namelist()
    assert sorted(names) == ["look0_v1.jpg", "look1_v0.jpg", "look2_v0.jpg"]


def test_redo_is_refused_for_unknown_outputs_and_other_users(
    server: ServerProcess, api: Api, job: str
) -> None:
    assert api.http.post(f"/jobs/{job}/results/out_nope/redo").status_code == 404
    other = api_for(server, server.add_user("reviewer-three", "pw-three-long"))
    output_id = _results(api, job)[1]["output_id"]
    assert other.http.post(f"/jobs/{job}/results/{output_id}/redo").status_code == 404
    other.http.close()
    spec = httpx.get(server.base_url + "/openapi.json").json()
    assert spec["paths"]["/jobs/{job_id}/results/{output_id}/redo"]["post"]["x-vestis-extension"]


def test_the_sdk_reviews_and_redoes(server: ServerProcess, api: Api, job: str) -> None:
    from vestis.client import Client

    with Client(base_url=server.base_url, token=server.token) as client:
        second = client.jobs.results(job).results[1]
        redone = client.jobs.redo(job, str(second.output_id))
        assert redone.version == 1 and redone.status == "pending"
        done = _wait_for_version(api, job, str(redone.output_id))
        assert done["status"] == "completed"
        liked = client.jobs.feedback(job, str(redone.output_id), "like")
        assert liked.feedback == "like" and liked.version == 1
        every = client.jobs.results(job, all_versions=True).results
        assert len(every) == 5
        link = client.downloads.create(job, approved_only=True).download_url
    names = zipfile.ZipFile(io.BytesIO(httpx.get(link).content)).namelist()
    assert names == ["look1_v1.jpg"]
