"""A user's merged calendar as JSON, and the original ICS export URL (docs/compatibility.md §3.5, §3.8).

Calendars are stored per selection (users with the same resources share one document); the
facade follows the user (or access key) to it. Above the event limit the stored calendar is the
contract's 413 body, served as is.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import Parameter

from queries import openapi
from queries.delivery import (
    JSON_MEDIA_TYPE,
    PRIVATE_REVALIDATE,
    BytesResponse,
    RequestConditions,
    deliver,
    deliver_ics,
)
from queries.deps import reads_of
from schedulesy.auth import REQUIRE_IDENTITY, IdentityDep
from queries.params import UNKNOWN_KEY, access_key, username_from
from queries.schemas import Calendar, TooManyEventsBody
from schedulesy.errors import Forbidden, NotFound


class CalendarController(Controller):
    path = "/api/calendar"
    tags = ["calendars"]

    @get(
        "/{user:str}",
        operation_class=openapi.StoredDocumentOperation,
        dependencies=REQUIRE_IDENTITY,
        summary="A user's calendar",
        description="The merged events of the user's selected resources (docs/compatibility.md §3.5): "
        "`{\"events\": {\"events\": [...], \"trainees\": {...}, ...}}`. Only the user and superusers may "
        "read it. Above the event limit the answer is 413 with `too_much_events`.",
        responses=openapi.responses(
            openapi.json_body(Calendar, "The merged calendar."),
            r403=openapi.error("Forbidden: not authenticated, or another user's calendar."),
            r404=openapi.error("Not Found: no such user, or not `<username>.json`."),
            r413=openapi.json_body(TooManyEventsBody, "The selection has too many events."),
        ),
    )
    async def calendar(
        self,
        request: Request[Any, Any, Any],
        identity: IdentityDep,
        user: Annotated[str, Parameter(description="The user's login followed by `.json`.")],
    ) -> BytesResponse:
        username = username_from(user)
        if not identity.may_act_for(username):
            raise Forbidden("You may only read your own calendar")
        document = await reads_of(request).user_calendar(username)
        if document is None:
            raise NotFound("No calendar for this user")
        return deliver(document, RequestConditions(request.scope), cache_control=PRIVATE_REVALIDATE,
                       media_type=JSON_MEDIA_TYPE)

    @get(
        "/{key:str}/export",
        operation_class=openapi.StoredDocumentOperation,
        summary="ICS feed (original URL)",
        description="The iCalendar feed of the access key's owner, for calendar apps; the key is the secret, "
        "no login. Same feed as `/api/timetable/{key}.ics`.",
        responses=openapi.responses(openapi.ics_body("The iCalendar feed."), r404=openapi.UNKNOWN_KEY),
    )
    async def export(
        self,
        request: Request[Any, Any, Any],
        key: Annotated[str, Parameter(description="An access key (UUID).")],
    ) -> BytesResponse:
        return await ics_for_key(request, access_key(key))


async def ics_for_key(request: Request[Any, Any, Any], key: str) -> BytesResponse:
    """The ICS feed behind an access key, shared by the original and the short URL."""
    reads = reads_of(request)
    grant = await reads.access_grant(key)
    if grant is None:
        raise NotFound(UNKNOWN_KEY)
    document = await reads.selection_ics(grant)
    return deliver_ics(document, RequestConditions(request.scope), grant.username)
