"""The timetable behind a personal access key: JSON, a short ICS URL, and QR codes of that URL.

The key (a random UUID, see ``commands/accesses.py``) is the only credential: no login. A
malformed, unknown or revoked key always gets the same 404, so none can be told from the others.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from litestar import Controller, Request, get
from litestar.params import Parameter

from queries import openapi
from queries.calendars import ics_for_key
from queries.delivery import (
    CAPABILITY_REVALIDATE,
    JSON_MEDIA_TYPE,
    BytesResponse,
    RequestConditions,
    deliver,
    etag_matches,
    static_document_response,
)
from queries.deps import query_state, reads_of, services_of
from queries.params import UNKNOWN_KEY, access_key, key_with_suffix
from queries.qrcodes import MEDIA_TYPES, QrFormat, etag
from queries.schemas import Calendar, TooManyEventsBody
from schedulesy.errors import NotFound
from schedulesy.services import Services

JSON_SUFFIX, ICS_SUFFIX = ".json", ".ics"
QR_CACHE_CONTROL = "private, max-age=86400"
"""The image only changes with the URL; private because the URL it shows is a secret."""

KeyParameter: TypeAlias = Annotated[str, Parameter(description="An access key (UUID).")]


def ics_url(services: Services, key: str) -> str:
    """The short subscription URL of a key: what the QR code encodes and what users paste."""
    return f"{services.settings.public_base}/api/timetable/{key}{ICS_SUFFIX}"


class TimetableController(Controller):
    path = "/api/timetable"
    tags = ["timetables"]

    @get(
        "/{file:str}",
        operation_class=openapi.JsonOrIcsOperation,
        summary="A timetable by personal key (JSON or ICS)",
        description="`<key>.json`: the merged calendar of the key's owner, shaped like "
        "`/api/calendar/{username}.json`. `<key>.ics`: the iCalendar feed (the short subscription URL). "
        "No login: the key is the secret.",
        responses=openapi.responses(
            openapi.json_body(Calendar, "`<key>.json`: the merged calendar (`<key>.ics`: "
                              "`text/calendar; charset=utf-8`, an attachment named `<username>.ics`)."),
            r404=openapi.UNKNOWN_KEY,
            r413=openapi.json_body(TooManyEventsBody, "`<key>.json` only: too many events."),
        ),
    )
    async def timetable(
        self,
        request: Request[Any, Any, Any],
        file: Annotated[str, Parameter(description="An access key (UUID) followed by `.json` or `.ics`.")],
    ) -> BytesResponse:
        key, suffix = key_with_suffix(file, (JSON_SUFFIX, ICS_SUFFIX))
        if suffix == ICS_SUFFIX:
            return await ics_for_key(request, key)
        document = await reads_of(request).access_calendar(key)
        if document is None:
            raise NotFound(UNKNOWN_KEY)
        return deliver(document, RequestConditions(request.scope), cache_control=CAPABILITY_REVALIDATE,
                       media_type=JSON_MEDIA_TYPE)

    @get(
        "/{key:str}/qrcode.svg",
        operation_class=openapi.CachedOperation,
        summary="QR code of the ICS URL (SVG)",
        description="A scalable QR code of `/api/timetable/{key}.ics` on the public host, to subscribe from a phone.",
        responses=openapi.responses(openapi.binary_body(MEDIA_TYPES["svg"], "The QR code."),
                                    r404=openapi.UNKNOWN_KEY),
    )
    async def qrcode_svg(self, request: Request[Any, Any, Any], key: KeyParameter) -> BytesResponse:
        return await _qrcode(request, access_key(key), "svg")

    @get(
        "/{key:str}/qrcode.png",
        operation_class=openapi.CachedOperation,
        summary="QR code of the ICS URL (PNG)",
        description="A PNG QR code of `/api/timetable/{key}.ics` on the public host (8 pixels per module).",
        responses=openapi.responses(openapi.binary_body(MEDIA_TYPES["png"], "The QR code."),
                                    r404=openapi.UNKNOWN_KEY),
    )
    async def qrcode_png(self, request: Request[Any, Any, Any], key: KeyParameter) -> BytesResponse:
        return await _qrcode(request, access_key(key), "png")


async def _qrcode(request: Request[Any, Any, Any], key: str, fmt: QrFormat) -> BytesResponse:
    state = query_state(request)
    if await state.reads.access_grant(key) is None:
        raise NotFound(UNKNOWN_KEY)
    url = ics_url(services_of(request), key)
    conditions = RequestConditions(request.scope)
    tag = etag(url, fmt)
    revalidated = conditions.if_none_match is not None and etag_matches(conditions.if_none_match, tag)
    image = b"" if revalidated else await state.qr_codes.image(url, fmt)
    return static_document_response(image, tag, conditions, media_type=MEDIA_TYPES[fmt],
                                    cache_control=QR_CACHE_CONTROL)
