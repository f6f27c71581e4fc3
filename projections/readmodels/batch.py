"""The rows one build works from, each loaded once: a projector batch, a read-through, a rebuild.

Many documents share rows (a lecture shows in every sub-group's timetable and in every selection
naming one of them), so a :class:`Batch` remembers what it loaded; every query of it runs in one
:func:`snapshot`, so what it builds is consistent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import NamedTuple

import asyncpg

from projections import loaders
from projections.builders import ics as ics_builder
from projections.builders import resources as resource_builder
from projections.builders.document import Stamp
from projections.loaders import Connection
from projections.rows import UNKNOWN_CLASSROOM, Classroom, EventRow, ResourceRow, classroom_of
from schedulesy.categories import CLASSROOM


_STAMP = """
SELECT pg_snapshot_xmax(s)::text::bigint AS xmax, (SELECT count(*) FROM pg_snapshot_xip(s))::int AS running
FROM pg_current_snapshot() AS s
"""


async def access_known(pool: asyncpg.Pool, key: str) -> tuple[Stamp, bool]:
    """Whether an access key exists, and the stamp of the one statement that looked: a guessed key
    costs one round trip to Postgres, not a whole snapshot."""
    row = await pool.fetchrow(
        f"SELECT *, EXISTS (SELECT 1 FROM schedulesy.access WHERE key = $1::uuid) AS known FROM ({_STAMP}) AS s", key
    )
    return Stamp(row["xmax"], row["running"]), bool(row["known"])


class Snapshot(NamedTuple):
    conn: Connection
    stamp: Stamp


@contextlib.asynccontextmanager
async def snapshot(pool: asyncpg.Pool) -> AsyncIterator[Snapshot]:
    """A connection in a read-only, repeatable-read transaction: every query of one build
    sees the same data, and :class:`Stamp` says how recent that data is. (The pool's connections
    run with JIT off, see ``schedulesy/db.py``: its compilation would dwarf these short queries.)"""
    async with pool.acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            row = await conn.fetchrow(_STAMP)
            yield Snapshot(conn, Stamp(row["xmax"], row["running"]))


class EventStore:
    """Events and the rooms they book, loaded on demand and kept for one batch or one rebuild.

    Many resources and selections share events (a lecture shows in every sub-group's timetable),
    so each event is fetched and decoded once per batch.
    """

    def __init__(self) -> None:
        self.events: dict[int, EventRow] = {}
        self.classrooms: dict[str, Classroom] = {}
        self._missing: set[int] = set()

    async def ensure(self, conn: Connection, event_ids: Iterable[int]) -> None:
        wanted = {i for i in event_ids if i not in self.events and i not in self._missing}
        if not wanted:
            return
        loaded = await loaders.fetch_events(conn, wanted)
        self.events.update(loaded)
        self._missing |= wanted - loaded.keys()
        rooms = {
            b.ext_id for e in loaded.values() for b in e.bookings
            if b.category == CLASSROOM and b.ext_id not in self.classrooms
        }
        found = await loaders.fetch_classrooms(conn, rooms)
        for room in rooms:
            self.classrooms[room] = found.get(room, UNKNOWN_CLASSROOM)

    def add_all_classrooms(self, resources: Iterable[ResourceRow]) -> None:
        """Fill room details from already-loaded resources (a full rebuild loads them all)."""
        for r in resources:
            if r.category == CLASSROOM:
                self.classrooms[r.ext_id] = classroom_of(r.fields, r.geolocation)

    async def load_everything(self, conn: Connection) -> None:
        """Every event in one pass (full rebuild): cheaper than thousands of batches."""
        async for event in loaders.stream_all_events(conn):
            self.events[event.event_id] = event

    def rows(self, event_ids: Iterable[int]) -> list[EventRow]:
        """The known events among ``event_ids``, once each, by start time then id."""
        seen = {i: self.events[i] for i in event_ids if i in self.events}
        return sorted(seen.values(), key=lambda e: (e.starts_at, e.event_id))


class Batch:
    """Rows loaded for one projector batch, one read-through build, or a whole rebuild.

    ``complete`` (rebuild): everything was loaded up front, so an absent row is a missing row.
    """

    def __init__(self, conn: Connection, zone: dt.tzinfo) -> None:
        self.conn = conn
        self.complete = False
        self.json = resource_builder.EventJson(zone)
        """Each event's JSON, encoded once for every document of the batch that shows it."""
        self.resources: dict[str, ResourceRow | None] = {}
        self.counts: dict[str, int] = {}
        self._counted: set[str] = set()
        self.timetables: dict[str, list[int]] = {}
        self.events = EventStore()
        self._fragment_ids: dict[int, str] = {}

    async def load_everything(self) -> None:
        self.resources.update(await loaders.fetch_all_resources(self.conn))
        self.counts = await loaders.fetch_event_counts(self.conn, None)
        self.timetables = await loaders.fetch_timetables(self.conn, None)
        await self.events.load_everything(self.conn)
        self.events.add_all_classrooms(r for r in self.resources.values() if r is not None)
        self.complete = True

    async def load_resources(self, ext_ids: Iterable[str]) -> None:
        missing = {i for i in ext_ids if i not in self.resources}
        if missing and not self.complete:
            found = await loaders.fetch_resources(self.conn, missing)
            for ext_id in missing:
                self.resources[ext_id] = found.get(ext_id)

    async def load_counts(self, ext_ids: Iterable[str]) -> None:
        missing = {i for i in ext_ids if i not in self._counted}
        if missing and not self.complete:
            self.counts.update(await loaders.fetch_event_counts(self.conn, missing))
            self._counted |= missing

    async def load_events_of(self, ext_ids: Iterable[str]) -> None:
        """Timetables of these resources and the events in them."""
        wanted = set(ext_ids)
        missing = {i for i in wanted if i not in self.timetables}
        if missing and not self.complete:
            found = await loaders.fetch_timetables(self.conn, missing)
            for ext_id in missing:
                self.timetables[ext_id] = found.get(ext_id, [])
        if not self.complete:
            await self.events.ensure(self.conn, self._event_ids(wanted))

    def resource(self, ext_id: str) -> ResourceRow | None:
        return self.resources.get(ext_id)

    def _event_ids(self, ext_ids: Iterable[str]) -> Iterator[int]:
        for ext_id in ext_ids:
            yield from self.timetables.get(ext_id, ())

    def events_of(self, ext_ids: Iterable[str]) -> list[EventRow]:
        """Distinct events of these resources' timetables, by start time."""
        return self.events.rows(self._event_ids(ext_ids))

    def fragment_id(self, event: EventRow, host: str) -> str:
        """The id of an event's VEVENT fragment, worked out once per batch."""
        fragment_id = self._fragment_ids.get(event.event_id)
        if fragment_id is None:
            vevent = ics_builder.ics_event(event, self.events.classrooms, host)
            fragment_id = self._fragment_ids[event.event_id] = vevent.fragment_id()
        return fragment_id
