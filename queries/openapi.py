"""OpenAPI documentation of the read API: response bodies, media types and caching headers.

The handlers return ready-made bytes (an ASGI app), so Litestar cannot infer what they send.
Each handler states it here instead: the success body's type and media type, the error answers,
and (through :class:`CachedOperation`) the validators and negotiation headers of a 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIHeader, OpenAPIMediaType, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType

from queries.delivery import ICS_MEDIA_TYPE, JSON_MEDIA_TYPE
from schedulesy.errors import ErrorBody


_VALIDATOR_HEADERS = {
    "ETag": "Strong validator of this representation.",
    "Cache-Control": "How long and by whom the answer may be cached.",
}
_STORED_DOCUMENT_HEADERS = {
    **_VALIDATOR_HEADERS,
    "ETag": "Strong validator of this representation (the gzip body has its own, suffixed `-gz`).",
    "Last-Modified": "When the underlying data last changed.",
    "Vary": "The request headers the answer depends on (`Accept-Encoding` when a gzip body exists).",
    "Content-Encoding": "`gzip` when the client accepts it and a compressed body is stored.",
}


@dataclass
class CachedOperation(Operation):
    """An operation whose 200 carries an ETag: documents it (and Cache-Control) on the 200."""

    documented_headers = _VALIDATOR_HEADERS

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            headers = dict(ok.headers or {})
            for name, description in self.documented_headers.items():
                headers.setdefault(
                    name, OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description=description)
                )
            ok.headers = headers


@dataclass
class StoredDocumentOperation(CachedOperation):
    """An operation serving a stored read model: validators, 304s and gzip negotiation."""

    documented_headers = _STORED_DOCUMENT_HEADERS


@dataclass
class JsonOrIcsOperation(StoredDocumentOperation):
    """``/api/timetable/{key}.json|.ics``: one path, two media types on its 200."""

    def __post_init__(self) -> None:
        super().__post_init__()
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content[ICS_MEDIA_TYPE] = OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, description="An iCalendar (RFC 5545) feed.")
            )


@dataclass
class JsonOrHtmlOperation(Operation):
    """The original's ``/_hc/``: its JSON answers may also come as a small HTML page."""

    def __post_init__(self) -> None:
        for response in (self.responses or {}).values():
            if isinstance(response, OpenAPIResponse) and response.content is not None:
                response.content["text/html"] = OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, description="The same checks as an HTML table.")
                )


NOT_MODIFIED = ResponseSpec(
    data_container=None,
    description="Not Modified: the client's copy (If-None-Match / If-Modified-Since) is current.",
)


def error(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


def json_body(container: Any, description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=container, media_type=JSON_MEDIA_TYPE, description=description, generate_examples=False
    )


def binary_body(media_type: str, description: str) -> ResponseSpec:
    return ResponseSpec(data_container=bytes, media_type=media_type, description=description,
                        generate_examples=False)


def ics_body(description: str) -> ResponseSpec:
    return binary_body(ICS_MEDIA_TYPE, description)


FORBIDDEN = error("Forbidden: missing, invalid or expired credentials, or not allowed for this caller.")
UNKNOWN_KEY = error("Not Found: the key is unknown, revoked or malformed (indistinguishable).")


def responses(ok: ResponseSpec, **errors: ResponseSpec) -> dict[int, ResponseSpec]:
    """``responses(ok, r404=..., r403=...)`` → the handler's ``responses`` mapping, 304 included."""
    mapping = {200: ok, 304: NOT_MODIFIED}
    for name, spec in errors.items():
        mapping[int(name.removeprefix("r"))] = spec
    return mapping
