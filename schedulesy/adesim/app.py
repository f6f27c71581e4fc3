"""The ASGI app: ``/jsp/webapi`` for clients, ``/admin/…`` for tests and demos.

The Web API functions live in :mod:`schedulesy.adesim.webapi`, the admin routes in
:mod:`schedulesy.adesim.admin`; this module reads requests, applies the injected faults (to the Web
API only: the admin API always answers) and counts requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias
from urllib.parse import parse_qsl

from schedulesy.adesim.admin import Admin
from schedulesy.adesim.controls import Quirks
from schedulesy.adesim.errors import ErrorAnswer
from schedulesy.adesim.model import University
from schedulesy.adesim.simulator import DEFAULT_DATA_TOKEN, DEFAULT_LOGIN, DEFAULT_PASSWORD, Simulator
from schedulesy.adesim.webapi import WebApi
from schedulesy.adesim.xml import error

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]

WEBAPI_PATH = "/jsp/webapi"


class ConnectionDropped(Exception):
    """Raised after a truncated answer so that the server closes the connection (fault ``drop``)."""


class SimulatorApp:
    """Serves one :class:`~schedulesy.adesim.simulator.Simulator` over ASGI."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.webapi = WebApi(simulator)
        self.admin = Admin(simulator)

    # -- ASGI -----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == WEBAPI_PATH or path == WEBAPI_PATH + "/":
            form = await _read_body(receive) if scope["method"] == "POST" else b""
            await self._webapi(scope, send, form)
        elif path.startswith("/admin/") or path == "/admin":
            body = await _read_body(receive)
            status, payload = self.admin.handle(scope["method"], path, scope.get("query_string", b""), body)
            await _respond(send, status, payload, b"application/json")
        else:
            await _respond(send, 404, b"Not Found", b"text/plain")

    async def _webapi(self, scope: Scope, send: Send, form: bytes = b"") -> None:
        """One Web API call; a POST form body is read like a query string ([unk] upstream, docs/ade.md §7.2)."""
        query = scope.get("query_string", b"").decode("utf-8", "replace")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if form:
            params.update(parse_qsl(form.decode("utf-8", "replace"), keep_blank_values=True))
        function = params.get("function", "connect" if "data" in params else "")
        sim = self.simulator
        stats = sim.stats
        stats.total += 1
        stats.functions[function] = stats.functions.get(function, 0) + 1
        semaphore = sim.concurrency_gate()
        if semaphore is not None:
            await semaphore.acquire()
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            await self._answer(function, params, scope, send)
        finally:
            stats.in_flight -= 1
            if semaphore is not None:
                semaphore.release()

    async def _answer(self, function: str, params: dict[str, str], scope: Scope, send: Send) -> None:
        sim = self.simulator
        faults = sim.faults
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        if faults.down == "503":
            await _respond(send, 503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", b"text/html")
            return
        if faults.down == "drop":
            sim.stats.dropped += 1
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/xml"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b"<?xml", "more_body": True})
            raise ConnectionDropped("fault injection: connection dropped")
        if faults.down == "empty":
            await _respond(send, 200, b"", self._content_type())
            return
        if sim.inject_error(function):
            sim.stats.errors_injected += 1
            body = error(faults.error_name, faults.error_trace)
        else:
            authorization = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                                  if k == b"authorization"), None)
            try:
                body = self.webapi.handle(function, params, authorization)
            except ErrorAnswer as exc:
                body = error(exc.name, exc.trace)
        if faults.per_kb_ms:
            await asyncio.sleep(faults.per_kb_ms * len(body) / 1024 / 1000)
        content_type = b"image/gif" if function == "imageET" and body[:3] == b"GIF" else self._content_type()
        await _respond(send, 200, body, content_type)

    def _content_type(self) -> bytes:
        return b"text/xml;charset=UTF-8" if self.simulator.quirks.content_type_charset else b"text/xml"


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(university: University, *, login: str = DEFAULT_LOGIN, password: str = DEFAULT_PASSWORD,
               session_ttl: float = 1800.0, data_token: str = DEFAULT_DATA_TOKEN, quirks: Quirks | None = None,
               archive_projects: bool = True, max_concurrency: int | None = None) -> SimulatorApp:
    """The ASGI app serving ``university`` (the project id is ``university.project.id``)."""
    return SimulatorApp(Simulator(university, login=login, password=password, session_ttl=session_ttl,
                                  data_token=data_token, quirks=quirks, archive_projects=archive_projects,
                                  max_concurrency=max_concurrency))
