"""Pages rendered with Litestar's Jinja template engine, cached, and answered like the read models:
strong ETag (a 304 costs no rendering), gzip, ``Vary``.

A page's ETag is worked out from what it is made of before anything is rendered: the stored
document's ETag, the page's parameters, the day it is in ``SCHEDULESY_TIMEZONE`` (today is marked)
and the templates' and assets' version. So a page changes exactly when its read model, its
parameters, the date or the deployment do, and the rendered bytes are kept under that tag.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio.to_thread
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine

from projections.builders.document import StoredDocument
from queries.delivery import BytesResponse, RequestConditions, etag_matches, gzip_etag
from queries.pages.assets import Assets
from queries.pages.model import Timetable, decode
from schedulesy.lru import Lru

HTML_MEDIA_TYPE = b"text/html; charset=utf-8"
PAGE_GZIP_LEVEL = 6
GZIP_MIN_BYTES = 1024
RENDERED_PAGES = 512
DECODED_DOCUMENTS = 64
DECODE_INLINE_BYTES = 256 * 1024
"""About 800 events: decoded on the event loop below this size (a few milliseconds), in a thread above."""
VARY = b"Accept-Encoding, Accept-Language"
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_REFERRER = (b"referrer-policy", b"no-referrer")
"""A key's page holds a secret in its URL: no other site learns it from a Referer."""

class Rendered:
    __slots__ = ("body", "gzip_body")

    def __init__(self, body: bytes) -> None:
        self.body = body
        compressed = gzip.compress(body, compresslevel=PAGE_GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        self.gzip_body = compressed if compressed is not None and len(compressed) < len(body) else None


class Pages:
    """The process's template engine, assets and caches (built once, in the query state)."""

    def __init__(self, assets: Assets) -> None:
        environment = Environment(
            loader=PackageLoader("queries.pages", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined, auto_reload=False,
        )
        self.engine = JinjaTemplateEngine.from_environment(environment)
        self.assets = assets
        self._pages: Lru[str, Rendered] = Lru(RENDERED_PAGES)
        self._timetables: Lru[tuple[str, str | None], Timetable] = Lru(DECODED_DOCUMENTS)

    async def timetable(self, document: StoredDocument, resource_id: str | None = None) -> Timetable:
        """The decoded events of a stored document, kept per ETag (a document never changes under it).
        A large calendar (thousands of events: tens of milliseconds) is decoded in a worker thread,
        so the event loop keeps answering meanwhile."""
        key = (document.etag, resource_id)
        found = self._timetables.get(key)
        if found is not None:
            return found
        if len(document.body) > DECODE_INLINE_BYTES:
            decoded = await anyio.to_thread.run_sync(functools.partial(decode, document.body, resource_id=resource_id))
        else:
            decoded = decode(document.body, resource_id=resource_id)
        return self._timetables.put(key, decoded)

    def render(self, template: str, context: Mapping[str, Any]) -> bytes:
        return self.engine.get_template(template).render(**context).encode("utf-8")

    def etag(self, *parts: object) -> str:
        text = "\x1f".join(map(str, (self.assets.version, *parts)))
        return '"p' + hashlib.blake2b(text.encode("utf-8"), digest_size=15).hexdigest() + '"'

    async def respond(
        self,
        conditions: RequestConditions,
        etag: str,
        render: Callable[[], Awaitable[bytes]],
        *,
        status: int = 200,
        cache_control: str,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> BytesResponse:
        """A 304 when the client holds ``etag``, else the page (rendered once per ETag), gzip when accepted."""
        headers = [(b"cache-control", cache_control.encode("latin-1")), (b"vary", VARY), _NOSNIFF, _REFERRER]
        if extra_headers:
            headers.extend(extra_headers)
        if status == 200 and conditions.if_none_match is not None and etag_matches(conditions.if_none_match, etag):
            known = self._pages.get(etag)
            gzipped = conditions.accepts_gzip and (known is None or known.gzip_body is not None)
            headers.append((b"etag", (gzip_etag(etag) if gzipped else etag).encode("latin-1")))
            return BytesResponse(304, headers)
        page = self._pages.get(etag)
        if page is None:
            page = self._pages.put(etag, Rendered(await render()))
        use_gzip = page.gzip_body is not None and conditions.accepts_gzip
        body = page.gzip_body if use_gzip and page.gzip_body is not None else page.body
        if status == 200:
            headers.append((b"etag", (gzip_etag(etag) if use_gzip else etag).encode("latin-1")))
        if use_gzip:
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-type", HTML_MEDIA_TYPE))
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        return BytesResponse(status, headers, body)
