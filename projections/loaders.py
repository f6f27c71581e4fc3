"""The SQL that fetches the rows (:mod:`projections.rows`) the builders need, for every build.

Every function takes a connection and returns typed rows; none of them writes. Batch shapes
(``= ANY($1)``) keep one round trip per kind of row whatever the size of a projector batch.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Collection
from typing import TypeAlias

import asyncpg
import msgspec

from projections.rows import (
    AccessRow,
    Booking,
    ChangeRow,
    Classroom,
    EventRow,
    ResourceRow,
    UserRow,
    classroom_of,
)
from schedulesy.history import EventSnapshot
from schedulesy.selection import Selection

Connection: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


# --------------------------------------------------------------------------------------------
# Resources

_RESOURCE_COLUMNS = """
    ext_id, category, parent_ext_id, name, code, email, fields, geolocation, updated_at
"""


def _resource(record: asyncpg.Record) -> ResourceRow:
    return ResourceRow(
        ext_id=record["ext_id"], category=record["category"], parent_ext_id=record["parent_ext_id"],
        name=record["name"], code=record["code"], email=record["email"], fields=record["fields"] or {},
        geolocation=record["geolocation"], updated_at=record["updated_at"],
    )


async def fetch_resources(conn: Connection, ext_ids: Collection[str]) -> dict[str, ResourceRow]:
    if not ext_ids:
        return {}
    records = await conn.fetch(
        f"SELECT {_RESOURCE_COLUMNS} FROM schedulesy.resource WHERE ext_id = ANY($1::text[])",
        list(ext_ids),
    )
    return {r["ext_id"]: _resource(r) for r in records}


async def fetch_all_resources(conn: Connection) -> dict[str, ResourceRow]:
    records = await conn.fetch(f"SELECT {_RESOURCE_COLUMNS} FROM schedulesy.resource")
    return {r["ext_id"]: _resource(r) for r in records}


async def fetch_resources_by_email(conn: Connection, email: str) -> list[ResourceRow]:
    """Case-insensitive (the ``lower(email)`` index); ordered by name for a stable answer."""
    records = await conn.fetch(
        f"""SELECT {_RESOURCE_COLUMNS} FROM schedulesy.resource
            WHERE lower(email) = lower($1) AND email IS NOT NULL ORDER BY lower(name), ext_id""",
        email,
    )
    return [_resource(r) for r in records]


async def fetch_event_counts(conn: Connection, ext_ids: Collection[str] | None) -> dict[str, int]:
    """Size of each resource's timetable (``None``: every resource); absent means 0."""
    if ext_ids is None:
        records = await conn.fetch(
            "SELECT resource_ext_id, count(*) AS n FROM schedulesy.timetable GROUP BY 1"
        )
    elif not ext_ids:
        return {}
    else:
        records = await conn.fetch(
            """SELECT resource_ext_id, count(*) AS n FROM schedulesy.timetable
               WHERE resource_ext_id = ANY($1::text[]) GROUP BY 1""",
            list(ext_ids),
        )
    return {r["resource_ext_id"]: r["n"] for r in records}


async def fetch_classrooms(conn: Connection, ext_ids: Collection[str]) -> dict[str, Classroom]:
    if not ext_ids:
        return {}
    records = await conn.fetch(
        "SELECT ext_id, fields, geolocation FROM schedulesy.resource WHERE ext_id = ANY($1::text[])",
        list(ext_ids),
    )
    return {r["ext_id"]: classroom_of(r["fields"], r["geolocation"]) for r in records}


# --------------------------------------------------------------------------------------------
# Events and timetables

_EVENT_QUERY = """
    SELECT e.event_id, e.activity_id, e.repetition, e.session, e.name, e.starts_at, e.ends_at,
           e.date, e.start_hour, e.end_hour, e.duration, e.color, e.note, e.last_update,
           e.sequence, e.updated_at, b.ext_ids, b.categories, b.names
    FROM schedulesy.event e
    LEFT JOIN LATERAL (
        SELECT array_agg(er.resource_ext_id ORDER BY er.position, er.resource_ext_id) AS ext_ids,
               array_agg(er.category ORDER BY er.position, er.resource_ext_id) AS categories,
               array_agg(er.name ORDER BY er.position, er.resource_ext_id) AS names
        FROM schedulesy.event_resource er WHERE er.event_id = e.event_id
    ) b ON true
"""


def _event(record: asyncpg.Record) -> EventRow:
    """Positional unpacking (the column order of ``_EVENT_QUERY``): this runs 250,000 times in
    a rebuild. Repeated strings are interned, so bookings of the same room share their text."""
    intern = sys.intern
    (event_id, activity_id, repetition, session, name, starts_at, ends_at, date, start_hour, end_hour,
     duration, color, note, last_update, sequence, updated_at, ext_ids, categories, names) = record
    bookings: tuple[Booking, ...] = ()
    if ext_ids:
        bookings = tuple(
            Booking(intern(i), intern(c), intern(n)) for i, c, n in zip(ext_ids, categories, names, strict=True)
        )
    return EventRow(
        event_id, activity_id, repetition, session, name, starts_at, ends_at, intern(date),
        intern(start_hour), intern(end_hour), duration, intern(color), note, last_update, sequence,
        updated_at, bookings,
    )


async def fetch_events(conn: Connection, event_ids: Collection[int]) -> dict[int, EventRow]:
    if not event_ids:
        return {}
    records = await conn.fetch(_EVENT_QUERY + " WHERE e.event_id = ANY($1::bigint[])", list(event_ids))
    return {r["event_id"]: _event(r) for r in records}


async def fetch_timetables(conn: Connection, ext_ids: Collection[str] | None) -> dict[str, list[int]]:
    """The event ids ADE returns for each resource (``None``: every resource)."""
    if ext_ids is None:
        records = await conn.fetch(
            "SELECT resource_ext_id, array_agg(event_id) AS ids FROM schedulesy.timetable GROUP BY 1"
        )
    elif not ext_ids:
        return {}
    else:
        records = await conn.fetch(
            """SELECT resource_ext_id, array_agg(event_id) AS ids FROM schedulesy.timetable
               WHERE resource_ext_id = ANY($1::text[]) GROUP BY 1""",
            list(ext_ids),
        )
    return {r["resource_ext_id"]: r["ids"] for r in records}


async def fetch_resources_showing(conn: Connection, event_ids: Collection[int]) -> set[str]:
    """Resources whose timetable holds any of these events."""
    if not event_ids:
        return set()
    records = await conn.fetch(
        "SELECT DISTINCT resource_ext_id FROM schedulesy.timetable WHERE event_id = ANY($1::bigint[])",
        list(event_ids),
    )
    return {r["resource_ext_id"] for r in records}


async def fetch_events_booking(conn: Connection, ext_ids: Collection[str]) -> set[int]:
    """Events that book any of these resources (a room's place shows in their LOCATION)."""
    if not ext_ids:
        return set()
    records = await conn.fetch(
        "SELECT DISTINCT event_id FROM schedulesy.event_resource WHERE resource_ext_id = ANY($1::text[])",
        list(ext_ids),
    )
    return {r["event_id"] for r in records}


async def stream_all_events(conn: Connection) -> AsyncIterator[EventRow]:
    """Every event through a cursor (full rebuild): cheaper than thousands of batches."""
    async with conn.transaction():
        async for record in conn.cursor(_EVENT_QUERY, prefetch=5000):
            yield _event(record)


# --------------------------------------------------------------------------------------------
# Users, selections and accesses

# A login may have several legacy rows (uid is not unique, docs/compatibility.md §11.20): the most recently
# customised one is the user's selection.
_USER_QUERY = """
    SELECT DISTINCT ON (uid) uid, id, ressources
    FROM public.w_edtperso
    WHERE uid IS NOT NULL {where}
    ORDER BY uid, date_personnalisation DESC NULLS LAST, id DESC
"""


def _selection(ressources: str | None) -> Selection:
    return Selection.from_column(ressources).canonical()


def _user(r: asyncpg.Record) -> UserRow:
    return UserRow(username=r["uid"], customization_id=r["id"], selection=_selection(r["ressources"]))


async def fetch_users(conn: Connection, usernames: Collection[str]) -> dict[str, UserRow]:
    if not usernames:
        return {}
    records = await conn.fetch(_USER_QUERY.format(where="AND uid = ANY($1::text[])"), list(usernames))
    return {r["uid"]: _user(r) for r in records}


async def fetch_all_users(conn: Connection) -> dict[str, UserRow]:
    records = await conn.fetch(_USER_QUERY.format(where=""))
    return {r["uid"]: _user(r) for r in records}


async def fetch_selections_containing(conn: Connection, ext_ids: Collection[str]) -> set[Selection]:
    """Distinct selections naming any of these resources (GIN index on the split string)."""
    if not ext_ids:
        return set()
    records = await conn.fetch(
        """SELECT DISTINCT ressources FROM public.w_edtperso
           WHERE string_to_array(ressources, ',') && $1::text[]""",
        list(ext_ids),
    )
    return {_selection(r["ressources"]) for r in records}


_ACCESS_COLUMNS = "key::text AS key, username, name, created_at"


def _access(r: asyncpg.Record) -> AccessRow:
    return AccessRow(key=r["key"], username=r["username"], name=r["name"], created_at=r["created_at"])


async def fetch_accesses(conn: Connection, keys: Collection[str]) -> dict[str, AccessRow]:
    """Accesses by key; ``keys`` must be canonical UUID strings."""
    if not keys:
        return {}
    records = await conn.fetch(
        f"SELECT {_ACCESS_COLUMNS} FROM schedulesy.access WHERE key = ANY($1::uuid[])", list(keys)
    )
    return {r["key"]: _access(r) for r in records}


async def fetch_accesses_of(conn: Connection, usernames: Collection[str]) -> list[AccessRow]:
    if not usernames:
        return []
    records = await conn.fetch(
        f"SELECT {_ACCESS_COLUMNS} FROM schedulesy.access WHERE username = ANY($1::text[])",
        list(usernames),
    )
    return [_access(r) for r in records]


async def fetch_all_accesses(conn: Connection) -> list[AccessRow]:
    return [_access(r) for r in await conn.fetch(f"SELECT {_ACCESS_COLUMNS} FROM schedulesy.access")]


# --------------------------------------------------------------------------------------------
# Change history

_SNAPSHOT = msgspec.json.Decoder(EventSnapshot | None)


async def fetch_changes(conn: Connection, ext_ids: Collection[str] | None, *, days: int) -> list[ChangeRow]:
    """Changes detected in the last ``days`` days of the events shown by any of these resources
    (``None``: every resource), newest first."""
    where = "detected_at >= now() - make_interval(days => $1)"
    args: list[object] = [days]
    if ext_ids is not None:
        if not ext_ids:
            return []
        where += " AND resources && $2::text[]"
        args.append(sorted(ext_ids))
    records = await conn.fetch(
        f"""
        SELECT uid::text, kind, detected_at, event_id, coalesce(before::text, 'null') AS before,
               coalesce(after::text, 'null') AS after, resources
        FROM schedulesy.event_history WHERE {where} ORDER BY detected_at DESC, id DESC
        """, *args)
    return [
        ChangeRow(uid=r["uid"], kind=r["kind"], detected_at=r["detected_at"], event_id=r["event_id"],
                  before=_SNAPSHOT.decode(r["before"]), after=_SNAPSHOT.decode(r["after"]),
                  resources=frozenset(r["resources"]))
        for r in records
    ]
