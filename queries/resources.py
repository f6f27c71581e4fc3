"""The ADE resource trees: one node per request, and the instructor search (docs/compatibility.md §3.3, §3.10).

Node documents are stored with their children already rewritten for the front end (absolute
``https://<public host>/api/resource/<id>.json/`` URLs, ``selectable``, sorted by name), so a
request is one lookup (process memory, else Redis, else Postgres) and the stored bytes.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from litestar import Controller, Request, get
from litestar.params import Parameter

from queries import openapi
from queries.delivery import (
    JSON_MEDIA_TYPE,
    PRIVATE_REVALIDATE,
    BytesResponse,
    RequestConditions,
    deliver,
)
from queries.deps import reads_of
from schedulesy.auth import REQUIRE_IDENTITY, IdentityDep
from queries.params import EMAIL_FILTER_PATTERN, email_filter, ext_id_from
from queries.schemas import ResourceNode
from schedulesy.errors import NotFound, PreconditionFailed

NodeSegment: TypeAlias = Annotated[
    str,
    Parameter(
        description="An ADE resource id or a category key (`classroom`, `instructor`, `trainee`, `category5`), "
        "followed by `.json`; a trailing slash is accepted (`/api/resource/1616.json/`).",
    ),
]


class ResourceController(Controller):
    path = "/api"
    tags = ["resources"]
    dependencies = REQUIRE_IDENTITY

    @get(
        "/resource/{node:str}",
        operation_class=openapi.StoredDocumentOperation,
        summary="A node of a resource tree",
        description="The node document of an ADE resource or of a category root (docs/compatibility.md §3.3). Children "
        "carry the absolute URL of their own document as `id`, a `selectable` flag, and come sorted by "
        "name. Authenticated; conditional GET and gzip supported.",
        responses=openapi.responses(
            openapi.json_body(ResourceNode, "The node document."),
            r403=openapi.FORBIDDEN,
            r404=openapi.error("Not Found: no such resource, or not `<id>.json`."),
        ),
    )
    async def resource(self, request: Request[Any, Any, Any], identity: IdentityDep, node: NodeSegment) -> BytesResponse:
        ext_id = ext_id_from(node)
        document = await reads_of(request).resource_node(ext_id)
        if document is None:
            raise NotFound("No such resource")
        return deliver(document, RequestConditions(request.scope), cache_control=PRIVATE_REVALIDATE,
                       media_type=JSON_MEDIA_TYPE)

    @get(
        "/instructor.json",
        operation_class=openapi.StoredDocumentOperation,
        summary="Instructors by e-mail address",
        description="The node documents of the instructors whose ADE e-mail is `email` (exact, case-insensitive "
        "address match). Without a filter the search is refused with 412, as in the original.",
        responses=openapi.responses(
            openapi.json_body(list[ResourceNode], "Matching instructors (possibly none)."),
            r400=openapi.error("Bad Request: `email` is not an e-mail address."),
            r403=openapi.FORBIDDEN,
            r412=openapi.error("Precondition Failed: no filter given."),
        ),
    )
    async def instructors(
        self,
        request: Request[Any, Any, Any],
        identity: IdentityDep,
        email: Annotated[
            str | None,
            Parameter(description="The instructor's e-mail address.", max_length=320,
                      schema_extra={"pattern": EMAIL_FILTER_PATTERN}),
        ] = None,
    ) -> BytesResponse:
        address = email_filter(email)
        if address is None:
            raise PreconditionFailed("Your search is too wide. Please specify a filter")
        document = await reads_of(request).instructors_by_email(address)
        return deliver(document, RequestConditions(request.scope), cache_control=PRIVATE_REVALIDATE,
                       media_type=JSON_MEDIA_TYPE)
