"""Writing the event mirror: rows from ADE events, and set-based SQL, one transaction per call.

Rows go into temporary tables (COPY), then ``INSERT … ON CONFLICT … DO UPDATE … WHERE`` the row
differs and ``DELETE … WHERE NOT EXISTS``: unchanged rows are never written, so the statement-level
triggers log nothing for them, and each statement fires its trigger once.

The timetable rows of the written events are derived in the same transaction
(:mod:`commands.ade_sync.timetables`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import asyncpg
import msgspec
import structlog

from commands.ade_sync import history
from commands.ade_sync.report import EventsReport
from commands.ade_sync.timetables import timetable_for_events
from schedulesy.ade.dates import format_event_date, local_stamp
from schedulesy.ade.models import Event, StableKey

log = structlog.get_logger(__name__)

ANALYZE_AFTER_ROWS = 2000
"""After writing this many new rows, refresh the planner's statistics (the initial sync grows the
tables from nothing within minutes, faster than autovacuum notices)."""


class EventRow(msgspec.Struct, frozen=True, gc=False):
    event_id: int
    activity_id: int
    repetition: int
    session: int
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    date: str
    start_hour: str
    end_hour: str
    duration: int
    color: str
    note: str
    last_update: dt.datetime | None
    content_hash: str
    resources: tuple[tuple[str, str, str, int], ...]
    """(resource ext_id, category, name as on the event, position)."""

    @property
    def stable_key(self) -> StableKey:
        return (self.activity_id, self.repetition, self.session)


def content_hash(name: str, date: str, start: str, end: str, duration: int, color: str, note: str,
                 resources: Iterable[tuple[str, str]]) -> str:
    """What the event says about itself; a resource's own rename is not a change of the event."""
    payload = msgspec.json.encode([name, date, start, end, duration, color, note, list(resources)])
    return hashlib.sha256(payload).hexdigest()[:32]


def event_row(event: Event, zone: zoneinfo.ZoneInfo) -> EventRow | None:
    """The mirror row of a detail-8 event; ``None`` when its date or hours are unreadable."""
    try:
        starts_at, ends_at = event.starts_at(zone), event.ends_at(zone)
    except ValueError:
        return None
    if event.date is None or starts_at is None or ends_at is None:
        return None
    booked: list[tuple[str, str, str, int]] = []
    seen: set[str] = set()
    for resource in event.resources or ():
        if resource.id and resource.id not in seen:
            seen.add(resource.id)
            booked.append((resource.id, resource.category, resource.name, len(booked)))
    date = format_event_date(event.date)
    color = event.color_hex
    duration = event.duration or 0
    return EventRow(
        event_id=event.id, activity_id=event.activity_id, repetition=event.repetition,
        session=event.session, name=event.name, starts_at=starts_at, ends_at=ends_at, date=date,
        start_hour=event.start_hour, end_hour=event.end_hour, duration=duration, color=color,
        note=event.note, last_update=local_stamp(event.last_update, zone),
        content_hash=content_hash(event.name, date, event.start_hour, event.end_hour, duration, color,
                                  event.note, [(b[1], b[0]) for b in booked]),
        resources=tuple(booked),
    )


_EVENT_COLUMNS = ("event_id", "activity_id", "repetition", "session", "name", "starts_at", "ends_at", "date",
                  "start_hour", "end_hour", "duration", "color", "note", "last_update", "content_hash")
_ER_COLUMNS = ("event_id", "resource_ext_id", "category", "name", "position")


def _dedupe(rows: Iterable[EventRow]) -> list[EventRow]:
    """One row per id and per stable key (the highest id wins a key: the latest placement)."""
    by_id = {r.event_id: r for r in rows}
    by_key: dict[StableKey, EventRow] = {}
    for row in sorted(by_id.values(), key=lambda r: r.event_id):
        by_key[row.stable_key] = row
    return list(by_key.values())


async def write_events(pool: asyncpg.Pool, rows: Sequence[EventRow], report: EventsReport,
                       frozen: Collection[str] = (), *, derive: bool = True) -> set[str]:
    """Upsert events and what they book, then their timetable rows; only differing rows are written.
    The counts go to ``report``; the answer is the resources the written events book, before or
    after: what the original refreshed.

    Bookings of a ``frozen`` category (its tree was refused this cycle) are never taken away: the
    mirror's bookings of those resources stay on the event, whatever ADE's answer lists.

    ``derive=False`` (``SCHEDULESY_TIMETABLE_SOURCE=ade``) leaves the timetable rows to the caller,
    which stores ADE's answers for the resources answered here.

    An event that ADE gave a new id (same stable key) replaces the old row and inherits its
    ``sequence``, plus one if its content changed.
    """
    rows = _dedupe(rows)
    if not rows:
        return set()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """
            CREATE TEMP TABLE sync_event (
                event_id bigint PRIMARY KEY, activity_id bigint, repetition integer, session integer,
                name text, starts_at timestamptz, ends_at timestamptz, date text, start_hour text,
                end_hour text, duration integer, color text, note text, last_update timestamptz,
                content_hash text
            ) ON COMMIT DROP;
            CREATE TEMP TABLE sync_event_resource (
                event_id bigint, resource_ext_id text, category text, name text, position integer
            ) ON COMMIT DROP;
            """
        )
        await conn.copy_records_to_table(
            "sync_event", columns=_EVENT_COLUMNS,
            records=[(r.event_id, r.activity_id, r.repetition, r.session, r.name, r.starts_at, r.ends_at, r.date,
                      r.start_hour, r.end_hour, r.duration, r.color, r.note, r.last_update, r.content_hash)
                     for r in rows])
        await conn.copy_records_to_table(
            "sync_event_resource", columns=_ER_COLUMNS,
            records=[(r.event_id, ext_id, category, name, position)
                     for r in rows for ext_id, category, name, position in r.resources])
        await conn.execute("ANALYZE sync_event; ANALYZE sync_event_resource")
        recording = await history.recording(conn)
        if recording:
            before = await history.observe_before(conn)
        await conn.execute(
            """
            CREATE TEMP TABLE sync_replaced ON COMMIT DROP AS
                SELECT e.event_id AS old_id, s.event_id AS new_id, e.sequence, e.content_hash
                FROM schedulesy.event e JOIN sync_event s USING (activity_id, repetition, session)
                WHERE e.event_id <> s.event_id
            """
        )
        replaced = await conn.fetchval("SELECT count(*) FROM sync_replaced")
        if frozen:
            report.bookings_kept_frozen += await _keep_frozen_bookings(conn, frozen)
        if replaced:
            affected_old = await conn.fetch(
                """SELECT DISTINCT resource_ext_id FROM schedulesy.event_resource
                   WHERE event_id IN (SELECT old_id FROM sync_replaced)""")
            await _delete_events(conn, "SELECT old_id FROM sync_replaced")
        written = await conn.fetch(
            """
            INSERT INTO schedulesy.event AS e
                (event_id, activity_id, repetition, session, name, starts_at, ends_at, date, start_hour,
                 end_hour, duration, color, note, last_update, content_hash, sequence, updated_at)
            SELECT s.event_id, s.activity_id, s.repetition, s.session, s.name, s.starts_at, s.ends_at, s.date,
                   s.start_hour, s.end_hour, s.duration, s.color, s.note, s.last_update, s.content_hash,
                   coalesce(r.sequence + (r.content_hash <> s.content_hash)::int, 0), now()
            FROM sync_event s LEFT JOIN sync_replaced r ON r.new_id = s.event_id
            ON CONFLICT (event_id) DO UPDATE SET
                activity_id = excluded.activity_id, repetition = excluded.repetition,
                session = excluded.session, name = excluded.name, starts_at = excluded.starts_at,
                ends_at = excluded.ends_at, date = excluded.date, start_hour = excluded.start_hour,
                end_hour = excluded.end_hour, duration = excluded.duration, color = excluded.color,
                note = excluded.note, last_update = excluded.last_update,
                content_hash = excluded.content_hash,
                sequence = e.sequence + (e.content_hash <> excluded.content_hash)::int,
                updated_at = now()
            WHERE (e.activity_id, e.repetition, e.session, e.name, e.starts_at, e.ends_at, e.date,
                   e.start_hour, e.end_hour, e.duration, e.color, e.note, e.last_update, e.content_hash)
                  IS DISTINCT FROM
                  (excluded.activity_id, excluded.repetition, excluded.session, excluded.name,
                   excluded.starts_at, excluded.ends_at, excluded.date, excluded.start_hour,
                   excluded.end_hour, excluded.duration, excluded.color, excluded.note,
                   excluded.last_update, excluded.content_hash)
            RETURNING e.event_id, (xmax = 0) AS inserted
            """
        )
        written_ids = {r["event_id"] for r in written}
        # What the original would have refreshed: resources booked before and after the change.
        affected = {ext_id for r in rows if r.event_id in written_ids for ext_id, _, _, _ in r.resources}
        if written_ids:
            affected.update(r["resource_ext_id"] for r in await conn.fetch(
                "SELECT resource_ext_id FROM schedulesy.event_resource WHERE event_id = ANY($1::bigint[])",
                list(written_ids)))
        await conn.execute(
            """
            DELETE FROM schedulesy.event_resource er USING sync_event s
            WHERE er.event_id = s.event_id
              AND NOT EXISTS (SELECT 1 FROM sync_event_resource x
                              WHERE x.event_id = er.event_id AND x.resource_ext_id = er.resource_ext_id)
            """
        )
        await conn.execute(
            """
            INSERT INTO schedulesy.event_resource AS er (event_id, resource_ext_id, category, name, position)
            SELECT event_id, resource_ext_id, category, name, position FROM sync_event_resource
            ON CONFLICT (event_id, resource_ext_id) DO UPDATE SET
                category = excluded.category, name = excluded.name, position = excluded.position
            WHERE (er.category, er.name, er.position) IS DISTINCT FROM
                  (excluded.category, excluded.name, excluded.position)
            """
        )
        inserted = sum(1 for r in written if r["inserted"])
        # Brand-new events have no timetable rows to take away.
        added, removed = (await timetable_for_events(conn, only_new=inserted == len(rows) and not replaced)
                          if derive else (0, 0))
        if recording:
            report.history_recorded += await history.record_changes(conn, before, {r.stable_key: r.event_id for r in rows})
    if inserted >= ANALYZE_AFTER_ROWS:
        await pool.execute("ANALYZE schedulesy.event, schedulesy.event_resource, schedulesy.timetable")
    if replaced:
        affected.update(r["resource_ext_id"] for r in affected_old)
    report.new += inserted - replaced
    report.changed += len(written) - inserted + replaced
    report.timetable_rows_added += added
    report.timetable_rows_removed += removed
    return affected


async def _keep_frozen_bookings(conn: asyncpg.Connection, frozen: Collection[str]) -> int:
    """Add to the events' new bookings (``sync_event_resource``) the mirror's bookings of frozen
    categories that ADE's answer left out, an event re-placed under a new id included."""
    status = await conn.execute(
        """
        INSERT INTO sync_event_resource (event_id, resource_ext_id, category, name, position)
        SELECT DISTINCT ON (target.event_id, er.resource_ext_id)
               target.event_id, er.resource_ext_id, er.category, er.name, er.position
        FROM schedulesy.event_resource er
        JOIN (SELECT event_id, event_id AS source_id FROM sync_event
              UNION SELECT new_id, old_id FROM sync_replaced) target ON target.source_id = er.event_id
        WHERE er.category = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM sync_event_resource x
                          WHERE x.event_id = target.event_id AND x.resource_ext_id = er.resource_ext_id)
        """, list(frozen))
    return int(status.split()[-1])


async def _delete_events(conn: asyncpg.Connection, ids_query: str, *args: Any) -> int:
    """Children first, set-based, so that each table's statement trigger fires once."""
    await conn.execute(f"DELETE FROM schedulesy.timetable WHERE event_id IN ({ids_query})", *args)
    await conn.execute(f"DELETE FROM schedulesy.event_resource WHERE event_id IN ({ids_query})", *args)
    status = await conn.execute(f"DELETE FROM schedulesy.event WHERE event_id IN ({ids_query})", *args)
    return int(status.split()[-1])


async def delete_events(pool: asyncpg.Pool, ids: Sequence[int], report: EventsReport,
                        frozen: Collection[str] = ()) -> set[str]:
    """Delete events (counted in ``report``); the answer is the resources they booked.

    An event that books a resource of a ``frozen`` category is kept (``deletions_deferred``): its
    deletion waits until that category's tree is accepted again."""
    if not ids:
        return set()
    async with pool.acquire() as conn, conn.transaction():
        if frozen:
            held = {r["event_id"] for r in await conn.fetch(
                """SELECT DISTINCT event_id FROM schedulesy.event_resource
                   WHERE event_id = ANY($1::bigint[]) AND category = ANY($2::text[])""", list(ids), list(frozen))}
            if held:
                report.deletions_deferred += len(held)
                log.warning("ade event deletions deferred: they book resources of a refused tree",
                            count=len(held), event_ids=sorted(held)[:20], categories=sorted(frozen))
                ids = [i for i in ids if i not in held]
                if not ids:
                    return set()
        booked = {r["resource_ext_id"] for r in await conn.fetch(
            "SELECT DISTINCT resource_ext_id FROM schedulesy.event_resource WHERE event_id = ANY($1::bigint[])",
            list(ids))}
        if await history.recording(conn):
            report.history_recorded += await history.record_removals(conn, ids)
        deleted = await _delete_events(conn, "SELECT unnest($1::bigint[])", list(ids))
    report.deleted += deleted
    return booked
