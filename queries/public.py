"""A resource's events, the one JSON endpoint open to anonymous callers (docs/compatibility.md §3.4).

Anonymous callers may read classrooms only, and get the public variant of the document, built
without instructors (stored under its own key, so nothing is filtered per request). Authenticated
callers read any resource, unmodified. Credentials that are present but bad are a 403 (docs/compatibility.md §1.4).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import Parameter

from queries import openapi
from queries.delivery import (
    JSON_MEDIA_TYPE,
    PRIVATE_REVALIDATE,
    PUBLIC_SHORT,
    BytesResponse,
    RequestConditions,
    deliver,
)
from queries.deps import reads_of
from schedulesy.auth import OPTIONAL_IDENTITY, OptionalIdentityDep
from queries.params import ext_id_from
from queries.schemas import ResourceWithEvents
from schedulesy.categories import ONLY_CLASSROOMS, open_to_anonymous
from schedulesy.errors import Forbidden, NotFound

VARY_AUTHORIZATION = ("Authorization",)
"""The anonymous and the authenticated answers differ: shared caches must keep them apart."""


@get(
    "/api/events/{resource:str}",
    dependencies=OPTIONAL_IDENTITY,
    tags=["resources"],
    operation_class=openapi.StoredDocumentOperation,
    summary="A resource's events (public classroom page)",
    description="The resource's node document plus `events`. Anonymous callers may read classrooms only and "
    "get them without instructors; authenticated callers get any resource in full. Invalid credentials "
    "are refused even here.",
    responses=openapi.responses(
        openapi.json_body(ResourceWithEvents, "The node document with its events."),
        r403=openapi.error("Forbidden: anonymous caller and not a classroom, or invalid credentials."),
        r404=openapi.error("Not Found: no such resource, or not `<id>.json`."),
    ),
)
async def resource_events(
    request: Request[Any, Any, Any],
    identity: OptionalIdentityDep,
    resource: Annotated[str, Parameter(description="An ADE resource id followed by `.json`.")],
) -> BytesResponse:
    ext_id = ext_id_from(resource)
    anonymous = identity is None
    document = await reads_of(request).resource_events(ext_id, anonymous=anonymous)
    if document is None:
        raise NotFound("No such resource")
    if anonymous and not open_to_anonymous(document.meta.get("category")):
        raise Forbidden(ONLY_CLASSROOMS)
    return deliver(
        document,
        RequestConditions(request.scope),
        cache_control=PUBLIC_SHORT if anonymous else PRIVATE_REVALIDATE,
        media_type=JSON_MEDIA_TYPE,
        vary=VARY_AUTHORIZATION,
    )


public_handlers = [resource_events]
