"""Answer an upload only once it has arrived, so that simple clients can read the answer.

When the app answers before reading the whole request body (a 413 over ``max_body_bytes``, a 403
before an admin body is read), granian closes the connection under a client still sending, and a
client that sends its whole body before reading (Python's ``http.client``, many scripts) sees
"broken pipe" instead of our JSON error. Reading and discarding the rest of the body first lets
the answer through. The discarding is bounded, in bytes and in time: past that, the connection is
closed as before.
"""

from __future__ import annotations

import asyncio

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

DRAIN_MAX_BYTES = 16 * 1024 * 1024
DRAIN_MAX_SECONDS = 5.0


def _announced_body(scope: Scope) -> int | None:
    """The announced body size; ``None`` for a chunked body, ``0`` without one."""
    length = 0
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return 0  # the server refuses such a request itself
        elif name == b"transfer-encoding":
            return None
    return length


class FinishUploadMiddleware:
    """ASGI middleware: before the response starts, discard what remains of the request body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        announced = _announced_body(scope) if scope["type"] == ScopeType.HTTP else 0
        if announced == 0 or (announced is not None and announced > DRAIN_MAX_BYTES):
            await self.app(scope, receive, send)
            return
        body_done = False

        async def tracking_receive() -> ReceiveMessage:
            nonlocal body_done
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def send_after_upload(message: Message) -> None:
            if message["type"] == "http.response.start" and not body_done:
                await _discard_rest(tracking_receive)
            await send(message)

        await self.app(scope, tracking_receive, send_after_upload)


async def _discard_rest(receive: Receive) -> None:
    discarded = 0
    try:
        async with asyncio.timeout(DRAIN_MAX_SECONDS):
            while discarded <= DRAIN_MAX_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                discarded += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return
    except TimeoutError:
        return
