"""Support inspection (docs/compatibility.md §3.9): everything support needs to see about one customization."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from commands.common import require_possible_uid
from commands.customizations import find_customization
from schedulesy.auth import Identity
from schedulesy.errors import Forbidden, NotFound
from schedulesy.selection import Selection


class InspectedResource(msgspec.Struct):
    id: str
    name: str
    path: str


class CustomizationInfo(msgspec.Struct, kw_only=True):
    """The original's superuser payload; ``id`` and ``customization_id`` are both the row id here
    (there is no separate mirror row any more)."""

    id: int
    customization_id: int
    directory_id: str | None
    username: str | None
    configuration: dict[str, Any] | None
    nb_events: int
    ade: dict[str, Any]
    resources: list[InspectedResource]
    unknown_resources: list[str]


def _genealogy_path(fields: Any, category: str) -> str:
    """Ancestors' names from the category root down, as the original printed them."""
    genealogy = fields.get("genealogy") if isinstance(fields, dict) else None
    if not isinstance(genealogy, list) or not genealogy:
        return category  # a category root or a node without genealogy: no 500 (docs/compatibility.md §11.19)
    return " - ".join(str(step.get("name", "")) for step in genealogy if isinstance(step, dict))


async def inspect_customization(
    conn: asyncpg.Connection, actor: Identity, username: str, *, zone: ZoneInfo
) -> CustomizationInfo:
    """Everything support needs to see about one user, for superusers only."""
    if not actor.is_superuser:
        raise Forbidden("Superusers only")
    require_possible_uid(username)
    customization = await find_customization(conn, username, zone=zone)
    if customization is None:
        raise NotFound("No customization for this user")
    wanted = list(Selection.from_column(customization.resources).ids)
    rows = await conn.fetch(
        "SELECT ext_id, name, category, fields FROM schedulesy.resource WHERE ext_id = ANY($1::text[])", wanted
    )
    by_id = {r["ext_id"]: r for r in rows}
    nb_events = await conn.fetchval(
        "SELECT count(DISTINCT event_id) FROM schedulesy.timetable WHERE resource_ext_id = ANY($1::text[])", wanted
    )
    ade = msgspec.to_builtins(customization)
    ade.pop("configuration", None)
    return CustomizationInfo(
        id=customization.id,
        customization_id=customization.id,
        directory_id=customization.directory_id,
        username=customization.username,
        configuration=customization.configuration,
        nb_events=nb_events,
        ade=ade,
        resources=[
            InspectedResource(id=ext_id, name=by_id[ext_id]["name"],
                              path=_genealogy_path(by_id[ext_id]["fields"], by_id[ext_id]["category"]))
            for ext_id in wanted if ext_id in by_id
        ],
        unknown_resources=[ext_id for ext_id in wanted if ext_id not in by_id],
    )
