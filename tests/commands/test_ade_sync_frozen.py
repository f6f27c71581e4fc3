"""A refused tree freezes its category: the events pass of that cycle neither deletes nor rewrites the
bookings of that category's resources, health says why, and accepting the tree lifts the freeze."""

from __future__ import annotations

import asyncpg

from queries.health import readiness
from schedulesy.services import Services
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.sync import Sync, counts


async def bookings(pool: asyncpg.Pool, category: str) -> set[tuple[int, str]]:
    return {(r["event_id"], r["resource_ext_id"]) for r in await pool.fetch(
        "SELECT event_id, resource_ext_id FROM schedulesy.event_resource WHERE category = $1", category)}


async def timetable(pool: asyncpg.Pool) -> set[tuple[str, int]]:
    return {(r["resource_ext_id"], r["event_id"]) for r in await pool.fetch(
        "SELECT resource_ext_id, event_id FROM schedulesy.timetable")}


def biggest_campus(ade: AdeSimulatorHandle) -> int:
    store = ade.app.store
    return max(store.roots("classroom"), key=lambda r: len(store.descendants(r)))


async def test_a_dropped_campus_keeps_its_bookings_until_the_tree_is_accepted(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool, services: Services) -> None:
    await sync(full=True)
    campus = biggest_campus(ade)
    rooms = {str(r) for r in [campus, *ade.app.store.descendants(campus)]}
    booked_before = await bookings(pool, "classroom")
    assert {ext_id for _, ext_id in booked_before} & rooms, "the campus must have bookings to lose"
    timetable_before = await timetable(pool)
    # An event in one of its rooms also goes: its deletion must wait too.
    doomed = next(e for e, r in sorted(booked_before) if r in rooms)
    ade.delete_event(doomed)
    ade.delete_resource(campus)  # its events lose those bookings and get a new lastUpdate

    report = await sync(full=True)

    classroom = next(c for c in report.categories if c.category == "classroom")
    assert classroom.status == "refused"
    assert report.frozen == ["classroom"]
    assert report.events is not None and report.events.status == "ok"
    assert report.events.bookings_kept_frozen > 0 and report.events.deletions_deferred == 1
    assert report.events.changed > 0  # the other fields of those events were still written
    assert await bookings(pool, "classroom") == booked_before
    assert await timetable(pool) == timetable_before
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event WHERE event_id = $1", doomed) == 1
    ade_sync = (await readiness(services))["ade_sync"]
    assert "bookings of classroom frozen, its tree is refused" in ade_sync.detail
    assert "shrank" in ade_sync.detail

    # A cycle that cannot even fetch the tree keeps the freeze.
    ade.set_faults(error_fraction=1.0, error_functions=["getResources"], error_name="java.lang.RuntimeException")
    blind = await sync()
    assert blind.frozen == ["classroom"]
    ade.clear_faults()

    forced = await sync(full=True, force=True)

    assert forced.frozen == [] and next(c for c in forced.categories if c.category == "classroom").deleted > 0
    assert not {ext_id for _, ext_id in await bookings(pool, "classroom")} & rooms
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event WHERE event_id = $1", doomed) == 0
    assert not await pool.fetchval(
        "SELECT count(*) FROM schedulesy.timetable WHERE resource_ext_id = ANY($1::text[])", list(rooms))
    assert "frozen" not in (await readiness(services))["ade_sync"].detail
    assert (await counts(pool))["event"] > 0
