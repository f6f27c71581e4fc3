"""The change history: what changed in each event as users see it, recorded by the sync's own
write transactions (docs/changes.md).

The writes of :mod:`commands.ade_sync.writes` call :func:`observe_before` before they change the
mirror and :func:`record_changes` after, in the same transaction: history and mirror commit
together, and a renumbered event (ADE gave it a new id, same stable key) compares with its old
row — one "moved", never a removal plus an addition.

Nothing is recorded while the mirror is being filled for the first time (no full pass has ever
succeeded): those are not changes anyone made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import asyncpg
import msgspec
import structlog

from schedulesy import syncstate
from schedulesy.ade.models import StableKey
from schedulesy.categories import CLASSROOM, INSTRUCTOR
from schedulesy.history import RECENT_PAST, ChangeKind, EventSnapshot

log = structlog.get_logger(__name__)

PRUNE_BATCH = 5000

_SNAPSHOTS = """
SELECT e.event_id AS id, e.activity_id, e.repetition, e.session, e.name, e.starts_at, e.ends_at, e.date,
       e.start_hour, e.end_hour, e.duration, e.color, e.note, e.last_update,
       coalesce((SELECT jsonb_agg(jsonb_build_array(er.resource_ext_id, er.category, er.name)
                                  ORDER BY er.position, er.resource_ext_id)
                 FROM schedulesy.event_resource er WHERE er.event_id = e.event_id), '[]'::jsonb)::text AS bookings,
       coalesce((SELECT array_agg(t.resource_ext_id) FROM schedulesy.timetable t
                 WHERE t.event_id = e.event_id), '{}'::text[]) AS shown_in
FROM schedulesy.event e WHERE e.event_id = ANY($1::bigint[])
"""

_BOOKINGS = msgspec.json.Decoder(list[tuple[str, str, str]])


class Observed(NamedTuple):
    """An event as the mirror holds it, and the resources whose timetables show it."""

    snapshot: EventSnapshot
    shown_in: frozenset[str]


class Before(NamedTuple):
    """What :func:`observe_before` saw: the events about to change, and the ids about to be added."""

    changing: dict[StableKey, Observed]
    added_ids: list[int]


async def recording(conn: asyncpg.Connection) -> bool:
    """Changes are recorded once a full pass has filled the mirror."""
    done = await conn.fetchval("SELECT last_success_at FROM schedulesy.sync_state WHERE name = $1",
                               syncstate.events_row("full"))
    return done is not None


async def observe(conn: asyncpg.Connection, ids: Iterable[int]) -> dict[StableKey, Observed]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    observed = {}
    for r in await conn.fetch(_SNAPSHOTS, wanted):
        snapshot = EventSnapshot(
            id=r["id"], activity_id=r["activity_id"], repetition=r["repetition"], session=r["session"],
            name=r["name"], starts_at=r["starts_at"], ends_at=r["ends_at"], date=r["date"],
            start_hour=r["start_hour"], end_hour=r["end_hour"], duration=r["duration"], color=r["color"],
            note=r["note"], last_update=r["last_update"], bookings=_BOOKINGS.decode(r["bookings"]))
        observed[(r["activity_id"], r["repetition"], r["session"])] = Observed(snapshot, frozenset(r["shown_in"]))
    return observed


async def observe_before(conn: asyncpg.Connection) -> Before:
    """Before the rows of the ``sync_event`` temp table are written: the mirror's events they change
    (matched by stable key, so a renumbered event is found under its old id), and the new ones."""
    changing = await conn.fetch(
        """
        SELECT e.event_id FROM schedulesy.event e JOIN sync_event s USING (activity_id, repetition, session)
        WHERE e.event_id <> s.event_id OR e.content_hash <> s.content_hash
           OR e.starts_at <> s.starts_at OR e.ends_at <> s.ends_at
        """)
    added = await conn.fetch(
        """
        SELECT s.event_id FROM sync_event s
        WHERE NOT EXISTS (SELECT 1 FROM schedulesy.event e
                          WHERE (e.activity_id, e.repetition, e.session) = (s.activity_id, s.repetition, s.session))
        """)
    return Before(await observe(conn, (r["event_id"] for r in changing)), [r["event_id"] for r in added])


def kind_of(before: EventSnapshot | None, after: EventSnapshot | None) -> ChangeKind | None:
    """The main user-visible change (a move that also changed rooms is a "moved"); None when only
    what users do not see changed (colour, note, ADE's own stamp)."""
    if before is None:
        return "added" if after is not None else None
    if after is None:
        return "removed"
    if (before.starts_at, before.ends_at) != (after.starts_at, after.ends_at):
        return "moved"
    if before.ids_in(CLASSROOM) != after.ids_in(CLASSROOM):
        return "rooms"
    if before.ids_in(INSTRUCTOR) != after.ids_in(INSTRUCTOR):
        return "instructors"
    if before.name != after.name:
        return "renamed"
    return None


class Change(NamedTuple):
    kind: ChangeKind
    before: Observed | None
    after: Observed | None


def _recent(change: Change, now: dt.datetime) -> bool:
    starts = [o.snapshot.starts_at for o in (change.before, change.after) if o is not None]
    return max(starts) >= now - RECENT_PAST


async def _insert(conn: asyncpg.Connection, changes: Sequence[Change]) -> int:
    now = await conn.fetchval("SELECT now()")
    kept = [c for c in changes if _recent(c, now)]
    if not kept:
        return 0
    rows = []
    for change in kept:
        current = change.after or change.before
        assert current is not None
        shown = (change.before.shown_in if change.before else frozenset()) | (
            change.after.shown_in if change.after else frozenset())
        s = current.snapshot
        rows.append((change.kind, s.id, s.activity_id, s.repetition, s.session, s.starts_at,
                     None if change.before is None else msgspec.json.encode(change.before.snapshot).decode(),
                     None if change.after is None else msgspec.json.encode(change.after.snapshot).decode(),
                     msgspec.json.encode(sorted(shown)).decode()))
    columns = list(zip(*rows, strict=True))
    # One statement: its trigger logs each resource once for the whole chunk.
    await conn.execute(
        """
        INSERT INTO schedulesy.event_history
            (kind, event_id, activity_id, repetition, session, starts_at, before, after, resources)
        SELECT kind, event_id, activity_id, repetition, session, starts_at, before::jsonb, after::jsonb,
               ARRAY(SELECT jsonb_array_elements_text(resources::jsonb))
        FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[], $5::int[], $6::timestamptz[],
                    $7::text[], $8::text[], $9::text[])
             AS x(kind, event_id, activity_id, repetition, session, starts_at, before, after, resources)
        """, *(list(c) for c in columns))
    return len(kept)


async def record_changes(conn: asyncpg.Connection, before: Before, new_ids: Mapping[StableKey, int]) -> int:
    """After the writes: compare each changed event with its new state, and record the new events.
    ``new_ids``: the id each stable key of ``sync_event`` has now."""
    wanted = [new_ids[key] for key in before.changing if key in new_ids] + before.added_ids
    after = await observe(conn, wanted)
    changes = []
    for key, old in before.changing.items():
        new = after.get(key)
        kind = kind_of(old.snapshot, new.snapshot if new else None)
        if kind is not None:
            changes.append(Change(kind, old, new))
    for key, new in after.items():
        if key not in before.changing:
            changes.append(Change("added", None, new))
    return await _insert(conn, changes)


async def record_removals(conn: asyncpg.Connection, ids: Sequence[int]) -> int:
    """Before ``ids`` are deleted from the mirror: one "removed" each."""
    gone = await observe(conn, ids)
    return await _insert(conn, [Change("removed", old, None) for old in gone.values()])


async def prune_history(pool: asyncpg.Pool, days: int) -> int:
    """Delete changes detected more than ``days`` ago, in small batches; the number deleted."""
    deleted = 0
    while True:
        status = await pool.execute(
            """
            DELETE FROM schedulesy.event_history WHERE id IN (
                SELECT id FROM schedulesy.event_history WHERE detected_at < now() - make_interval(days => $1)
                ORDER BY detected_at LIMIT $2)
            """, days, PRUNE_BATCH)
        count = int(status.split()[-1])
        deleted += count
        if count < PRUNE_BATCH:
            if deleted:
                log.info("event history pruned", deleted=deleted, older_than_days=days)
            return deleted
