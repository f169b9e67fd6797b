"""Request bodies: capped while they stream in, and large ones read only after the token was
checked. Spoken as raw HTTP/1.1 on a socket, so the test controls exactly what is sent."""

from __future__ import annotations

import json
import socket
import threading

from tests.support.server_process import ServerProcess

from vestis.server.http.bodycap import JSON_BODY_BYTES


def _exchange(server: ServerProcess, head: str, chunks: list[bytes]) -> tuple[int, dict]:
    """Send `head` then `chunks` (from a thread, stopping when the server hangs up) and
    return the status and JSON body of the answer."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)

    def sender() -> None:
        try:
            sock.sendall(head.encode("latin-1"))
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:  # the server answered and closed: it did not want the rest
            pass

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    data = b""
    with sock:
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        header, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += sock.recv(65536)
    return int(header.split(b" ")[1]), json.loads(body[:length])


def _chunked(total: int, size: int = 64 * 1024) -> list[bytes]:
    piece = b"x" * size
    framed = f"{size:x}\r\n".encode() + piece + b"\r\n"
    return [framed] * (total // size) + [b"0\r\n\r\n"]


def test_chunked_json_body_over_the_cap_is_413_before_auth(server: ServerProcess) -> None:
    """No Content-Length, no token, 3 MiB: refused once the cap is passed (it was read whole,
    then answered 401)."""
    head = (
        "POST /project HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    status, body = _exchange(server, head, _chunked(3 * JSON_BODY_BYTES))
    assert status == 413
    assert str(JSON_BODY_BYTES) in body["message"]


def test_large_body_without_a_token_is_401_before_it_is_read(server: ServerProcess) -> None:
    """An identity upload declaring 30 MB with no token gets its 401 at once: the server does
    not wait for (or read) the body first."""
    for path, error in (("/identity/upload", "Unauthorized"), ("/v1/run", "UnauthorizedAccess")):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 30000000\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        )
        status, body = _exchange(server, head, [])
        assert (status, body["error"]) == (401, error)
        head = head.replace("Host: x", "Host: x\r\nAuthorization: Bearer vst_not-a-token")
        assert _exchange(server, head, [])[0] == 401


def test_chunked_upload_over_the_cap_is_413(server: ServerProcess) -> None:
    from vestis.contract.uploads import MAX_UPLOAD_BYTES

    with server.client() as client:
        reserved = client.post("/upload", json={"filename": "big.jpg"}).json()
    target = reserved["upload_url"].split("127.0.0.1:")[1].split("/", 1)[1]
    head = f"PUT /{target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, body = _exchange(server, head, _chunked(MAX_UPLOAD_BYTES + 1024 * 1024))
    assert status == 413 and "limited to" in body["message"]
