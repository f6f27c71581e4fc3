"""Keep the ``Vary`` our answers name when the CORS layer adds ``Origin``.

Litestar's CORS middleware answers an allowed ``Origin`` by *setting* ``Vary: Origin``, which drops
what the handler named (``Accept-Encoding``, ``Authorization``, ``User-Agent``): a shared cache could
then hand one client's body to another. Two public hooks put the union back: a middleware, inside
the CORS layer, notes the handler's ``Vary``; a ``before_send`` hook, outside it, merges what CORS left
with what was noted.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

_NOTED_VARY = "schedulesy.vary"


def _names(values: list[str]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


class NoteVaryMiddleware:
    """ASGI middleware: remember the ``Vary`` values the handler's answer starts with."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def noting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                noted = [value.decode("latin-1") for name, value in headers if name.lower() == b"vary"]
                if noted:
                    scope["state"][_NOTED_VARY] = noted
            await send(message)

        await self.app(scope, receive, noting_send)


async def restore_vary(message: Message, scope: Scope) -> None:
    """``before_send`` hook: the answer's ``Vary`` names everything the handler and CORS named."""
    if message["type"] != "http.response.start":
        return
    noted = scope.get("state", {}).get(_NOTED_VARY)
    if not noted:
        return
    headers = MutableScopeHeaders.from_message(message)
    current = _names(headers.getall("vary", []))
    merged: dict[str, str] = {}
    for name in _names(noted) + current:
        merged.setdefault(name.lower(), name)
    if [name.lower() for name in current] != list(merged):
        headers["Vary"] = ", ".join(merged.values())
