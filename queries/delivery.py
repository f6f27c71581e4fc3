"""Deliver stored bytes over HTTP: validators, 304s, gzip negotiation — and no re-encoding.

A read model arrives as a ``StoredDocument`` whose body (and gzip body) were encoded once,
at build time. This module only decides *which* bytes to send and with which headers, reading
the few request headers it needs straight from the ASGI scope. The answer is a tiny ASGI app
(:class:`BytesResponse`) that Litestar passes through untouched.

HTTP rules followed (RFC 9110 §13):
- ``If-None-Match`` uses the weak comparison and takes precedence over ``If-Modified-Since``;
- a 304 repeats the validators, ``Cache-Control`` and ``Vary`` the 200 would have carried;
- each encoding is its own representation, so the gzip body has its own strong ETag
  (``"<tag>-gz"``); a client revalidating either form of the tag gets a 304.
"""

from __future__ import annotations

import functools
import hashlib
from email.utils import formatdate, parsedate_to_datetime
from typing import TypeAlias

import msgspec
from litestar.types import Receive, Scope, Send

from projections.builders.document import StoredDocument

JSON_MEDIA_TYPE = "application/json"
ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"

GZIP_ETAG_SUFFIX = "-gz"

# Cache-Control per audience (see queries/README-style notes in each module).
PRIVATE_REVALIDATE = "private, no-cache"
"""Authenticated JSON: only the caller's browser may keep it, and must revalidate (cheap 304)."""
PUBLIC_SHORT = "public, max-age=60"
"""The anonymous classroom page: shared caches may hold it a minute."""
CAPABILITY_REVALIDATE = "no-cache"
"""Answers behind a secret key (ICS, timetable JSON): stored, but revalidated on every use, so a
revoked key stops working at once while an unchanged calendar costs a 304."""

_HeaderList: TypeAlias = list[tuple[bytes, bytes]]


class BytesResponse:
    """A complete HTTP answer as an ASGI app: status, ready-made header list, body bytes."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: _HeaderList, body: bytes = b"") -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


class RequestConditions:
    """The request headers that choose the answer, read from the scope in one pass."""

    __slots__ = ("accept_encoding", "if_modified_since", "if_none_match", "user_agent")

    def __init__(self, scope: Scope) -> None:
        self.if_none_match: bytes | None = None
        self.if_modified_since: bytes | None = None
        self.accept_encoding: bytes | None = None
        self.user_agent: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                self.if_none_match = value
            elif name == b"if-modified-since":
                self.if_modified_since = value
            elif name == b"accept-encoding":
                self.accept_encoding = value
            elif name == b"user-agent":
                self.user_agent = value

    @property
    def accepts_gzip(self) -> bool:
        return accepts_gzip(self.accept_encoding)


def accepts_gzip(accept_encoding: bytes | None) -> bool:
    """``Accept-Encoding`` allows gzip (``gzip``, ``x-gzip`` or ``*``, with a non-zero q)."""
    if not accept_encoding:
        return False
    accept_encoding = accept_encoding.lower()
    if b"gzip" not in accept_encoding and b"*" not in accept_encoding:
        return False
    wildcard: bool | None = None
    for item in accept_encoding.split(b","):
        coding, _, params = item.partition(b";")
        coding = coding.strip()
        refused = _q_is_zero(params)
        if coding in (b"gzip", b"x-gzip"):
            return not refused
        if coding == b"*":
            wildcard = not refused
    return bool(wildcard)


def _q_is_zero(params: bytes) -> bool:
    for param in params.split(b";"):
        name, _, value = param.partition(b"=")
        if name.strip() == b"q":
            try:
                return float(value.strip()) == 0.0
            except ValueError:
                return False
    return False


def gzip_etag(etag: str) -> str:
    """The strong ETag of the gzip representation of a body whose ETag is ``etag``."""
    if etag.endswith('"'):
        return etag[:-1] + GZIP_ETAG_SUFFIX + '"'
    return etag + GZIP_ETAG_SUFFIX


def _opaque(tag: bytes) -> bytes:
    tag = tag.strip()
    return tag[2:] if tag[:2] in (b"W/", b"w/") else tag


def etag_matches(if_none_match: bytes, etag: str) -> bool:
    """Weak comparison of ``If-None-Match`` against ``etag`` or its gzip sibling (RFC 9110 §13.1.2)."""
    if if_none_match.strip() == b"*":
        return True
    ours = _opaque(etag.encode("latin-1"))
    theirs_gzip = _opaque(gzip_etag(etag).encode("latin-1"))
    for tag in if_none_match.split(b","):
        candidate = _opaque(tag)
        if candidate in (ours, theirs_gzip):
            return True
    return False


def not_modified_since(if_modified_since: bytes, last_modified: float) -> bool:
    """``If-Modified-Since`` holds a date at or after the last change (an unreadable date is ignored)."""
    try:
        since = parsedate_to_datetime(if_modified_since.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False  # not an HTTP-date (those are always GMT)
    return int(last_modified) <= since.timestamp()


@functools.lru_cache(maxsize=4096)
def http_date(epoch_seconds: int) -> bytes:
    return formatdate(epoch_seconds, usegmt=True).encode("ascii")


def is_not_modified(conditions: RequestConditions, etag: str, last_modified: float | None) -> bool:
    """The client's copy is current: If-None-Match decides when present, else If-Modified-Since."""
    if conditions.if_none_match is not None:
        return etag_matches(conditions.if_none_match, etag)
    if conditions.if_modified_since is not None and last_modified is not None:
        return not_modified_since(conditions.if_modified_since, last_modified)
    return False


def deliver(
    document: StoredDocument,
    conditions: RequestConditions,
    *,
    cache_control: str,
    media_type: str | None = None,
    extra_headers: _HeaderList | None = None,
    allow_gzip: bool = True,
    vary: tuple[str, ...] = (),
) -> BytesResponse:
    """The answer for ``document``: a 304, the gzip body, or the identity body — bytes as stored.

    ``allow_gzip=False`` serves identity even to clients that accept gzip (and still says
    ``Vary: Accept-Encoding`` when a gzip body exists, because another client may get it).
    ``vary`` names the other request headers the answer depends on.
    """
    has_gzip = document.gzip_body is not None
    use_gzip = has_gzip and allow_gzip and conditions.accepts_gzip
    etag = gzip_etag(document.etag) if use_gzip else document.etag
    cacheable = document.status == 200
    headers: _HeaderList = [(b"cache-control", cache_control.encode("latin-1"))]
    if has_gzip or vary:
        headers.append((b"vary", _vary_value(has_gzip, vary)))
    if cacheable:
        headers.append((b"etag", etag.encode("latin-1")))
        if document.last_modified:
            headers.append((b"last-modified", http_date(int(document.last_modified))))
    if extra_headers:
        headers.extend(extra_headers)

    if cacheable and is_not_modified(conditions, document.etag, document.last_modified or None):
        return BytesResponse(304, headers)

    body = document.gzip_body if use_gzip else document.body
    assert body is not None
    if use_gzip:
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-type", (media_type or document.media_type).encode("latin-1")))
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    return BytesResponse(document.status, headers, body)


@functools.lru_cache(maxsize=64)
def _vary_value(has_gzip: bool, vary: tuple[str, ...]) -> bytes:
    return ", ".join((("Accept-Encoding",) if has_gzip else ()) + vary).encode("latin-1")


class StaticJson(msgspec.Struct, frozen=True):
    """A JSON body the process holds itself (configuration), encoded once, with its ETag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, value: object) -> StaticJson:
        body = msgspec.json.encode(value)
        return cls(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def static_document_response(
    body: bytes,
    etag: str,
    conditions: RequestConditions,
    *,
    media_type: str,
    cache_control: str,
    extra_headers: _HeaderList | None = None,
) -> BytesResponse:
    """Same rules for bytes the process holds itself (QR codes, configuration): ETag only."""
    headers: _HeaderList = [
        (b"cache-control", cache_control.encode("latin-1")),
        (b"etag", etag.encode("latin-1")),
    ]
    if extra_headers:
        headers.extend(extra_headers)
    if conditions.if_none_match is not None and etag_matches(conditions.if_none_match, etag):
        return BytesResponse(304, headers)
    headers.append((b"content-type", media_type.encode("latin-1")))
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    return BytesResponse(200, headers, body)


def attachment(filename: str) -> tuple[bytes, bytes]:
    """``Content-Disposition: attachment; filename="<filename>"`` with a header-safe name."""
    safe = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in filename)
    return (b"content-disposition", f'attachment; filename="{safe or "calendar.ics"}"'.encode("ascii"))


IDENTITY_ONLY_AGENTS = (b"outlook", b"microsoft", b"exchange")
"""Outlook subscriptions failed on gzip-encoded feeds (docs/ics.md §2.3): send them identity."""

VARY_USER_AGENT = ("User-Agent",)


def deliver_ics(document: StoredDocument, conditions: RequestConditions, username: str) -> BytesResponse:
    """An ICS feed: ``text/calendar; charset=utf-8``, an attachment named ``<username>.ics``, revalidated
    on each poll (a revoked key stops at once; an unchanged feed costs a 304)."""
    agent = (conditions.user_agent or b"").lower()
    gzip_safe = not any(name in agent for name in IDENTITY_ONLY_AGENTS)
    return deliver(
        document,
        conditions,
        cache_control=CAPABILITY_REVALIDATE,
        media_type=ICS_MEDIA_TYPE,
        extra_headers=[attachment(f"{username}.ics")],
        allow_gzip=gzip_safe,
        vary=VARY_USER_AGENT if document.gzip_body is not None else (),
    )
