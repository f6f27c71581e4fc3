"""One log line per request (method, path, status, duration, request id, hashed user) and its metrics.

The app factory wraps the whole ASGI handler with it, not only the routes: answers the router
gives itself (404 on an unknown path, 405, CORS preflights) are logged and counted too.
"""

from __future__ import annotations

import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from schedulesy.logging import hash_username
from schedulesy.metrics import observe_request

log = structlog.get_logger("schedulesy.request")
REQUEST_ID_HEADER = b"x-request-id"


def _printable(text: str) -> str:
    """Control characters (a NUL in a hostile URL) would corrupt a console log line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class RequestLogMiddleware:
    """ASGI middleware; the authenticated username (if any) is read from ``scope["state"]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope.get("headers") or ()).get(REQUEST_ID_HEADER)
        request_id = incoming.decode("latin-1")[:64] if incoming else uuid.uuid4().hex
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            state = scope.get("state") or {}
            method = str(scope.get("method") or "")
            observe_request(scope.get("path_template"), method, status, seconds)
            log.info(
                "request",
                method=method,
                path=_printable(scope.get("path") or ""),
                status=status,
                duration_ms=round(seconds * 1000, 2),
                request_id=request_id,
                user=hash_username(state.get("username")),
            )
