"""Pieces of the FASHN service that need no server: input redaction, the error mapping of
shared dependencies."""

from __future__ import annotations

from vestis.contract.fashn import ModelSwapInputs
from vestis.server.fashn.errors import FashnError, from_status
from vestis.server.fashn.service import redact_images


def test_data_uri_inputs_are_never_written_to_the_table() -> None:
    inputs = ModelSwapInputs(
        model_image="data:image/png;base64,AAAA", face_reference="https://x/face.jpg"
    )
    stored = redact_images(inputs)
    assert stored["model_image"] == "<base64>"
    assert stored["face_reference"] == "https://x/face.jpg"


def test_shared_errors_take_fashn_names() -> None:
    assert from_status(401, "bad token").name == "UnauthorizedAccess"
    assert from_status(422, "bad").status_code == 400
    assert from_status(503, "down").name == "InternalServerError"
    assert FashnError("OutOfCredits", "x").status_code == 429
    response = FashnError("NotFound", "Prediction not found").response()
    assert response.status_code == 404
    assert response.body == b'{"error":"NotFound","message":"Prediction not found"}'
