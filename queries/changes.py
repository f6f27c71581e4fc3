"""What changed in a timetable: the change feeds of a selection (docs/changes.md).

``/api/timetable/{key}/changes.json`` and ``.atom`` behind an access key (no login: the key is the
secret), ``/api/changes/{username}.json`` for the user or a superuser. Entries come newest first;
``?lang=en`` gives English summaries (French by default).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from litestar import Controller, Request, get
from litestar.params import Parameter

from projections.builders.changes import ATOM
from queries import openapi
from queries.delivery import CAPABILITY_REVALIDATE, JSON_MEDIA_TYPE, PRIVATE_REVALIDATE, BytesResponse, RequestConditions, deliver
from queries.deps import reads_of
from queries.params import UNKNOWN_KEY, access_key, username_from
from queries.schemas import ChangeEntry
from schedulesy.auth import REQUIRE_IDENTITY, IdentityDep
from schedulesy.errors import Forbidden, NotFound

LangParameter: TypeAlias = Annotated[
    Literal["fr", "en"], Parameter(description="Language of the summaries: `fr` (default) or `en`.")]
KeyParameter: TypeAlias = Annotated[str, Parameter(description="An access key (UUID).")]
ENTRIES = openapi.json_body(list[ChangeEntry], "The changes, newest first.")


class TimetableChangesController(Controller):
    path = "/api/timetable"
    tags = ["changes"]

    @get(
        "/{key:str}/changes.json",
        operation_class=openapi.StoredDocumentOperation,
        summary="What changed in a timetable (JSON), by personal key",
        description="Every change of an event of the key owner's timetable (added, removed, moved, rooms, "
        "instructors, renamed) the ADE sync detected in the retention period, newest first. No login: the "
        "key is the secret. A change of the selection itself is not a change of the timetable.",
        responses=openapi.responses(ENTRIES, r400=openapi.error("Bad Request: `lang` is not `fr` or `en`."),
                                    r404=openapi.UNKNOWN_KEY),
    )
    async def changes_json(self, request: Request[Any, Any, Any], key: KeyParameter,
                           lang: LangParameter = "fr") -> BytesResponse:
        return await _for_key(request, key, lang, atom=False)

    @get(
        "/{key:str}/changes.atom",
        operation_class=openapi.StoredDocumentOperation,
        summary="What changed in a timetable (Atom), by personal key",
        description="The same changes as an Atom feed (RFC 4287) for feed readers; entry ids never change.",
        responses=openapi.responses(openapi.binary_body(ATOM, "An Atom feed."),
                                    r400=openapi.error("Bad Request: `lang` is not `fr` or `en`."),
                                    r404=openapi.UNKNOWN_KEY),
    )
    async def changes_atom(self, request: Request[Any, Any, Any], key: KeyParameter,
                           lang: LangParameter = "fr") -> BytesResponse:
        return await _for_key(request, key, lang, atom=True)


async def _for_key(request: Request[Any, Any, Any], key: str, lang: str, *, atom: bool) -> BytesResponse:
    document = await reads_of(request).access_changes(access_key(key), lang, atom=atom)
    if document is None:
        raise NotFound(UNKNOWN_KEY)
    return deliver(document, RequestConditions(request.scope), cache_control=CAPABILITY_REVALIDATE,
                   media_type=ATOM if atom else JSON_MEDIA_TYPE)


class UserChangesController(Controller):
    path = "/api/changes"
    tags = ["changes"]

    @get(
        "/{user:str}",
        operation_class=openapi.StoredDocumentOperation,
        dependencies=REQUIRE_IDENTITY,
        summary="What changed in a user's timetable",
        description="`<username>.json`: the changes of the user's timetable, newest first (as "
        "`/api/timetable/{key}/changes.json`). Only the user and superusers may read it.",
        responses=openapi.responses(
            ENTRIES,
            r400=openapi.error("Bad Request: `lang` is not `fr` or `en`."),
            r403=openapi.error("Forbidden: not authenticated, or another user's changes."),
            r404=openapi.error("Not Found: no such user, or not `<username>.json`."),
        ),
    )
    async def user_changes(self, request: Request[Any, Any, Any], identity: IdentityDep,
                           user: Annotated[str, Parameter(description="The user's login followed by `.json`.")],
                           lang: LangParameter = "fr") -> BytesResponse:
        username = username_from(user)
        if not identity.may_act_for(username):
            raise Forbidden("You may only read your own changes")
        document = await reads_of(request).user_changes(username, lang)
        if document is None:
            raise NotFound("No timetable for this user")
        return deliver(document, RequestConditions(request.scope), cache_control=PRIVATE_REVALIDATE,
                       media_type=JSON_MEDIA_TYPE)
