"""Event changes in ADE reach the mirror: moved, renamed, deleted, added, re-numbered; time zones."""

from __future__ import annotations

import datetime as dt

import asyncpg

from schedulesy.changes import Topic
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.sync import PARIS, Sync, changes, clear_changes, client_for, near_event


def free_day_in_near_term() -> dt.date:
    today = dt.datetime.now(PARIS).date()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=13)


async def event_row(pool: asyncpg.Pool, event_id: int) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM schedulesy.event WHERE event_id = $1", event_id)


async def test_a_moved_event_gets_its_new_time_and_a_higher_sequence(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)
    before = await event_row(pool, event_id)
    target = free_day_in_near_term()
    await clear_changes(pool)

    moved = ade.move_event(event_id, date=target.isoformat(), start="14:00")
    report = await sync()

    assert report.mode == "near" and report.status == "ok", report.errors
    row = await event_row(pool, event_id)
    assert row["starts_at"] == dt.datetime.combine(target, dt.time(14, 0), tzinfo=PARIS)
    assert row["end_hour"] == moved["end_hour"]
    assert row["date"] == target.strftime("%d/%m/%Y")
    assert row["sequence"] == before["sequence"] + 1
    assert report.events.changed == 1 and report.events.new == 0 and report.events.deleted == 0
    # Details for one event: one eventId request, not one per resource.
    assert report.events.details_fetched == 1
    assert (Topic.EVENT, str(event_id)) in await changes(pool)
    assert report.requests <= 10


async def test_an_event_moved_out_of_the_near_term_is_found_not_deleted(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)
    far = dt.datetime.now(PARIS).date() + dt.timedelta(weeks=8)
    ade.move_event(event_id, date=far.isoformat(), start="09:00")

    report = await sync()

    assert report.mode == "near"
    row = await event_row(pool, event_id)
    assert row is not None
    assert row["starts_at"].astimezone(PARIS).date() == far
    assert report.events.moved_out == 1 and report.events.deleted == 0


async def test_an_event_ade_renumbered_keeps_its_stable_key_and_its_history(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)
    before = await event_row(pool, event_id)
    booked_before = await pool.fetch(
        "SELECT resource_ext_id FROM schedulesy.event_resource WHERE event_id = $1 ORDER BY position", event_id)

    moved = ade.move_event(event_id, date=free_day_in_near_term().isoformat(), start="16:00", new_id=True)
    report = await sync()

    assert report.status == "ok", report.errors
    assert await event_row(pool, event_id) is None
    row = await event_row(pool, moved["id"])
    assert (row["activity_id"], row["repetition"], row["session"]) == (
        before["activity_id"], before["repetition"], before["session"])
    assert row["sequence"] == before["sequence"] + 1
    booked_after = await pool.fetch(
        "SELECT resource_ext_id FROM schedulesy.event_resource WHERE event_id = $1 ORDER BY position", moved["id"])
    assert booked_after == booked_before
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.timetable WHERE event_id = $1", event_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.timetable WHERE event_id = $1", moved["id"]) > 0
    assert report.events.deleted == 0


async def test_a_renamed_event_changes_only_that_event(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)
    await clear_changes(pool)

    ade.update_event(event_id, name="Soutenance d'été", note="Salle <b>changée</b>\nvoir ENT", color="255,0,16")
    report = await sync()

    row = await event_row(pool, event_id)
    assert row["name"] == "Soutenance d'été"
    assert row["note"] == "Salle <b>changée</b>\nvoir ENT"
    assert row["color"] == "#ff0010"
    # Besides the mirror's own change, the change history names the resources showing the event.
    assert {c for c in await changes(pool) if c[0] != Topic.HISTORY} == {(Topic.EVENT, str(event_id))}
    assert report.events.changed == 1


async def test_a_control_character_in_a_note_does_not_break_this_or_later_syncs(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    """ADE sends U+0007 raw (XML 1.0 forbids it): the event is stored without it, and syncs go on."""
    await sync()
    event_id = near_event(ade)
    ade.update_event(event_id, note="a\u0007b")

    report = await sync()

    assert report.status == "ok", report.errors
    assert (await event_row(pool, event_id))["note"] == "ab"
    ade.update_event(near_event(ade, skip=1), name="Cours déplacé")
    later = await sync()
    assert later.status == "ok" and later.events.changed == 1, later.errors


async def test_a_deleted_event_leaves_the_mirror_and_every_timetable(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.timetable WHERE event_id = $1", event_id) > 0

    ade.delete_event(event_id)
    report = await sync()

    assert report.events.deleted == 1
    assert await event_row(pool, event_id) is None
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event_resource WHERE event_id = $1", event_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.timetable WHERE event_id = $1", event_id) == 0
    assert report.events.legacy_requests > 0


async def test_an_added_event_reaches_the_timetables_of_every_subgroup(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    samples = ade.summary()["samples"]
    year, leaf, room = samples["trainee_year"], samples["trainee_leaf"], samples["classroom"]
    day = free_day_in_near_term()

    added = ade.add_event(name="Conférence de rentrée", date=day.isoformat(), start="12:00", duration=4,
                          resources=[year, room], color="0,128,255")
    report = await sync()

    assert report.events.new == 1
    row = await event_row(pool, added["id"])
    assert row["color"] == "#0080ff"
    assert row["starts_at"] == dt.datetime.combine(day, dt.time(12), tzinfo=PARIS)
    assert row["ends_at"] == dt.datetime.combine(day, dt.time(13), tzinfo=PARIS)
    booked = await pool.fetch(
        "SELECT resource_ext_id, category, name, position FROM schedulesy.event_resource WHERE event_id = $1"
        " ORDER BY position", added["id"])
    assert [(r["resource_ext_id"], r["category"], r["position"]) for r in booked] == [
        (str(year), "trainee", 0), (str(room), "classroom", 1)]
    timetables = {r["resource_ext_id"] for r in await pool.fetch(
        "SELECT resource_ext_id FROM schedulesy.timetable WHERE event_id = $1", added["id"])}
    assert {str(year), str(leaf), str(room)} <= timetables
    assert str(samples["trainee_component"]) not in timetables  # ancestors do not inherit


async def test_a_change_of_booked_resources_is_seen_through_last_update(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    event_id = near_event(ade)
    before = await event_row(pool, event_id)
    booked = ade.event(event_id)["resources"]
    rooms = {r.id for r in ade.app.store.resources.values() if r.category == "classroom" and not r.is_group}
    new_room = min(rooms - {r["id"] for r in booked})
    kept = [r["id"] for r in booked if r["category"] != "classroom"]

    ade.update_event(event_id, resources=[*kept, new_room])
    report = await sync()

    assert report.events.changed == 1
    stored_rooms = [r["resource_ext_id"] for r in await pool.fetch(
        "SELECT resource_ext_id FROM schedulesy.event_resource WHERE event_id = $1 AND category = 'classroom'",
        event_id)]
    assert stored_rooms == [str(new_room)]
    after = await event_row(pool, event_id)
    assert after["content_hash"] != before["content_hash"]
    assert after["sequence"] == before["sequence"] + 1
    in_room = await pool.fetchval(
        "SELECT count(*) FROM schedulesy.timetable WHERE event_id = $1 AND resource_ext_id = $2",
        event_id, str(new_room))
    assert in_room == 1


async def test_daylight_saving_changes_give_the_right_utc_instants(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    project = ade.project()
    week0 = dt.date.fromisoformat(project["week0"])
    room = ade.summary()["samples"]["classroom"]
    # Last Sundays of October and March inside the project year, and the Saturdays before them.
    october = max(week0.replace(month=10, day=d) for d in range(25, 32)
                  if week0.replace(month=10, day=d).weekday() == 6)
    march = max(dt.date(week0.year + 1, 3, d) for d in range(25, 32) if dt.date(week0.year + 1, 3, d).weekday() == 6)
    cases = {}
    for day in (october - dt.timedelta(days=1), october, march - dt.timedelta(days=1), march):
        added = ade.add_event(name=f"DST {day}", date=day.isoformat(), start="10:00", duration=4, resources=[room])
        cases[added["id"]] = day

    await sync(full=True)

    utc = dt.timezone.utc
    expected = {
        october - dt.timedelta(days=1): dt.time(8, 0),   # CEST, UTC+2
        october: dt.time(9, 0),                          # CET, UTC+1
        march - dt.timedelta(days=1): dt.time(9, 0),     # CET
        march: dt.time(8, 0),                            # CEST
    }
    for event_id, day in cases.items():
        row = await event_row(pool, event_id)
        assert row["starts_at"] == dt.datetime.combine(day, expected[day], tzinfo=utc), day
        assert row["ends_at"] - row["starts_at"] == dt.timedelta(hours=1)


async def test_a_thirty_minute_slot_project_ends_events_at_their_end_hour(
        services, ade_30min: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    from commands.ade_sync.cycle import run_cycle

    async with client_for(ade_30min) as client:
        report = await run_cycle(services, client=client)
    assert report.status == "ok", report.errors
    rows = await pool.fetch("SELECT * FROM schedulesy.event")
    assert rows
    for row in rows:
        assert row["ends_at"] - row["starts_at"] == dt.timedelta(minutes=30 * row["duration"])
        local_end = row["ends_at"].astimezone(PARIS).strftime("%H:%M")
        assert local_end == row["end_hour"]
    assert any(row["duration"] * 15 != (row["ends_at"] - row["starts_at"]).total_seconds() / 60 for row in rows)


async def test_an_empty_last_update_is_stored_as_unknown_and_moves_are_still_seen(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    ade.set_quirks(empty_dates=True)
    await sync()
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event WHERE last_update IS NOT NULL") == 0
    event_id = near_event(ade)

    ade.move_event(event_id, date=free_day_in_near_term().isoformat(), start="08:30")
    report = await sync()

    assert report.events.changed == 1
    row = await event_row(pool, event_id)
    assert row["start_hour"] == "08:30"


async def test_shuffled_answers_still_make_a_no_change_cycle_write_nothing(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    await clear_changes(pool)
    ade.set_quirks(shuffle_events=True)

    report = await sync(full=True)

    assert report.status == "ok"
    assert await changes(pool) == []


async def test_a_server_that_renumbers_every_moved_event_loses_no_history(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    ade.set_quirks(renumber_on_move=True, legacy_attributes=True)
    await sync()
    total = await pool.fetchval("SELECT count(*) FROM schedulesy.event")
    moved = {}
    for skip in range(3):
        event_id = near_event(ade, skip=skip)
        before = await event_row(pool, event_id)
        answer = ade.move_event(event_id, date=free_day_in_near_term().isoformat(), start=f"{9 + skip:02d}:00")
        moved[answer["id"]] = (event_id, before["sequence"])

    report = await sync()

    assert report.status == "ok", report.errors
    assert report.events.deleted == 0 and report.events.new == 0 and report.events.changed == 3
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event") == total
    for new_id, (old_id, sequence) in moved.items():
        assert new_id != old_id
        assert await event_row(pool, old_id) is None
        assert (await event_row(pool, new_id))["sequence"] == sequence + 1
