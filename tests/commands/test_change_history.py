"""The change history: each user-visible change of an event, recorded by a real sync against the
simulator (moved, cancelled, rooms, instructors, renamed, added; a renumbered move is one "moved")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec

from commands.ade_sync.history import prune_history
from schedulesy.history import EventSnapshot
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.sync import PARIS, Sync, near_event


def free_day_in_near_term() -> dt.date:
    today = dt.datetime.now(PARIS).date()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=13)


async def history(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM schedulesy.event_history ORDER BY id")


def snapshot(raw: dict[str, Any] | None) -> EventSnapshot | None:
    return None if raw is None else msgspec.convert(raw, EventSnapshot)


def other_room(ade: AdeSimulatorHandle, event: dict[str, Any]) -> tuple[int, int]:
    """(a room the event books, another room it does not)."""
    booked = [r["id"] for r in event["resources"] if r["category"] == "classroom"]
    store = ade.app.store
    free = next(r.id for r in store.resources.values()
                if r.category == "classroom" and not r.is_group and r.id not in booked)
    return booked[0], free


async def test_the_first_fill_of_the_mirror_records_nothing(sync: Sync, pool: asyncpg.Pool) -> None:
    report = await sync()
    assert report.status == "ok" and report.events is not None and report.events.new > 0
    assert await history(pool) == []


async def test_a_moved_event_is_one_moved_change_with_before_and_after(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)
    target = free_day_in_near_term()

    ade.move_event(event_id, date=target.isoformat(), start="14:00")
    report = await sync()

    [row] = await history(pool)
    assert row["kind"] == "moved" and row["event_id"] == event_id
    before, after = snapshot(row["before"]), snapshot(row["after"])
    assert before is not None and after is not None
    assert after.starts_at == dt.datetime.combine(target, dt.time(14, 0), tzinfo=PARIS)
    assert before.starts_at != after.starts_at and before.bookings == after.bookings
    shown = await pool.fetch("SELECT resource_ext_id FROM schedulesy.timetable WHERE event_id = $1", event_id)
    assert set(row["resources"]) == {r["resource_ext_id"] for r in shown}
    assert report.events is not None and report.events.history_recorded == 1


async def test_a_renumbered_move_is_one_moved_not_a_removal_and_an_addition(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)

    moved = ade.move_event(event_id, date=free_day_in_near_term().isoformat(), start="16:00", new_id=True)
    await sync()

    [row] = await history(pool)
    assert row["kind"] == "moved" and row["event_id"] == moved["id"] != event_id
    before, after = snapshot(row["before"]), snapshot(row["after"])
    assert before is not None and after is not None
    assert (before.id, after.id) == (event_id, moved["id"])


async def test_a_cancelled_event_is_one_removed_change(sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)

    ade.delete_event(event_id)
    await sync()

    [row] = await history(pool)
    assert row["kind"] == "removed" and row["event_id"] == event_id
    assert row["after"] is None and snapshot(row["before"]) is not None
    assert row["resources"]


async def test_rooms_instructors_and_names_changes_are_told_apart_and_colours_are_not_changes(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id, other_id = near_event(ade), near_event(ade, skip=1)
    event = ade.event(event_id)
    old_room, new_room = other_room(ade, event)
    resources = [new_room if r["id"] == old_room else r["id"] for r in event["resources"]]

    ade.update_event(event_id, resources=resources)
    ade.update_event(other_id, name="Soutenance")
    ade.update_event(near_event(ade, skip=2), color="255,0,16", note="nothing users see in a feed")
    taught_id = near_event(ade, skip=3)
    taught = ade.event(taught_id)
    teachers = [r["id"] for r in taught["resources"] if r["category"] == "instructor"]
    other_teacher = next(r.id for r in ade.app.store.resources.values()
                         if r.category == "instructor" and not r.is_group and r.id not in teachers)
    ade.update_event(taught_id, resources=[r["id"] for r in taught["resources"] if r["id"] not in teachers]
                     + [other_teacher])
    await sync()

    rows = {r["event_id"]: r for r in await history(pool)}
    assert set(rows) == {event_id, other_id, taught_id}
    assert rows[taught_id]["kind"] == "instructors"
    assert rows[event_id]["kind"] == "rooms"
    after = snapshot(rows[event_id]["after"])
    assert after is not None and str(new_room) in after.ids_in("classroom")
    assert rows[other_id]["kind"] == "renamed"


async def test_an_added_event_is_recorded_once_the_mirror_was_filled(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    samples = ade.summary()["samples"]
    day = free_day_in_near_term()

    added = ade.add_event(name="Rattrapage", date=day.isoformat(), start="08:00", duration=4,
                          resources=[samples["trainee_td"]])
    await sync()

    [row] = await history(pool)
    assert row["kind"] == "added" and row["event_id"] == added["id"] and row["before"] is None
    assert str(samples["trainee_td"]) in row["resources"]


async def test_changes_detected_before_the_retention_are_pruned(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    await pool.execute(
        """INSERT INTO schedulesy.event_history (kind, event_id, activity_id, repetition, session, starts_at,
                                                 resources, detected_at)
           VALUES ('added', 1, 1, 0, 0, now(), '{a}', now() - interval '61 days'),
                  ('added', 2, 2, 0, 0, now(), '{a}', now() - interval '59 days')""")

    assert await prune_history(pool, 60) == 1

    assert [r["event_id"] for r in await history(pool)] == [2]
