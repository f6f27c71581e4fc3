"""Command bodies: JSON with a JSON content type only, no duplicate keys, readable 413s over a real server."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from granian.constants import Interfaces
from granian.server.embed import Server
from litestar.testing import AsyncTestClient

from schedulesy.app import create_app
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header

LIST = "/legacy/customization.json"
BODY = {"username": "jdupont", "directory_id": "1"}


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "text/json"],
)
async def test_a_body_not_sent_as_json_is_a_415(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory, content_type: str | None
) -> None:
    headers = auth_header(make_token("jdupont"))
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await api.post(LIST, content=json.dumps(BODY).encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert response.json() == {
        "detail": "The body must be JSON sent as Content-Type: application/json (UTF-8)",
        "code": "unsupported_media_type",
    }
    assert await pool.fetchval("SELECT count(*) FROM public.w_edtperso") == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=UTF-8", "Application/JSON", "application/vnd.x+json"],
)
async def test_every_json_content_type_is_accepted(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory, content_type: str
) -> None:
    headers = {**auth_header(make_token("jdupont")), "Content-Type": content_type}
    response = await api.post(LIST, content=json.dumps(BODY).encode(), headers=headers)
    assert response.status_code == 201, response.text


async def test_an_admin_command_without_a_body_needs_no_content_type(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    response = await api.post("/api/admin/rebuild", headers=auth_header(make_token("admin", superuser=True)))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b'{"username": "jdupont", "directory_id": "1", "username": "admin"}', "username"),
        (b'{"username": "jdupont", "directory_id": "1", "configuration": {"a": 1, "a": 2}}', "a"),
    ],
)
async def test_a_duplicate_key_is_a_400_naming_it(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory, raw: bytes, key: str
) -> None:
    headers = {**auth_header(make_token("jdupont")), "Content-Type": "application/json"}
    response = await api.post(LIST, content=raw, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == key and repr(key) in response.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM public.w_edtperso") == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def served(settings: Settings, pool: asyncpg.Pool, redis: object) -> AsyncIterator[int]:
    """The app behind granian, the production server (in this event loop): its port."""
    port = _free_port()
    server = Server(create_app(settings), address="127.0.0.1", port=port, interface=Interfaces.ASGI,
                    log_enabled=False)
    logging.getLogger("_granian").setLevel(logging.ERROR)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        try:
            await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            await asyncio.sleep(0.01)
    yield port
    server.stop()
    await asyncio.wait_for(task, 10)


def _post_before_reading(port: int, token: str, body: Iterator[bytes] | bytes) -> tuple[int, dict[str, str]]:
    """Like many scripts: send the whole body, then read the answer (http.client, chunked when a generator)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", LIST, body=body, headers={**auth_header(token), "Content-Type": "application/json"},
                           encode_chunked=not isinstance(body, bytes))
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _ten_megabytes() -> Iterator[bytes]:
    yield b'{"rh_id": "'
    for _ in range(160):
        yield b"x" * 65536
    yield b'"}'


async def test_an_over_limit_upload_gets_a_readable_413_json(served: int, make_token: TokenFactory) -> None:
    token = make_token("jdupont")
    detail = "Request body too large: at most 65536 bytes are accepted"
    expected = (413, {"detail": detail, "code": "payload_too_large"})
    assert await asyncio.to_thread(_post_before_reading, served, token, _ten_megabytes()) == expected
    assert await asyncio.to_thread(_post_before_reading, served, token, b"".join(_ten_megabytes())) == expected
