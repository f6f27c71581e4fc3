"""Trees have their own cadence (``SCHEDULESY_SYNC_TREE_INTERVAL``): an idle cycle does not fetch them,
a due check probes each category cheaply and fetches at detail 11 only what changed, the nightly pass
fetches them all, and an event booking a resource no tree has makes the cycle look at once."""

from __future__ import annotations

import datetime as dt

import asyncpg

from commands.ade_sync.cycle import run_cycle
from commands.ade_sync.report import SyncReport
from commands.ade_sync.treecheck import PROBE_DETAIL
from schedulesy.ade.client import AdeClient
from schedulesy.services import Services
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.sync import PARIS


async def cycle(services: Services, client: AdeClient) -> SyncReport:
    return await run_cycle(services, client=client)


async def age_trees(pool: asyncpg.Pool) -> None:
    await pool.execute("UPDATE schedulesy.sync_state SET last_success_at = last_success_at - interval '2 hours' "
                       "WHERE name = 'trees'")


def tree_requests(report: SyncReport) -> int:
    return report.ade_requests.get("getResources", 0)


async def test_idle_cycles_leave_the_trees_alone_until_they_are_due_then_only_probe_them(
        services: Services, ade_client: AdeClient, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    assert services.settings.sync_tree_interval == 3600
    first = await cycle(services, ade_client)
    assert first.mode == "full" and tree_requests(first) == 4  # everything at detail 11, no probe

    idle = await cycle(services, ade_client)
    assert idle.mode == "near" and tree_requests(idle) == 0 and idle.categories == []

    await age_trees(pool)
    ade.reset_stats()
    checked = await cycle(services, ade_client)
    assert tree_requests(checked) == 4 and all(c.status == "unchanged" for c in checked.categories)
    assert checked.status == "ok"
    assert tree_requests(await cycle(services, ade_client)) == 0  # checked again only an hour later


async def test_a_renamed_resource_is_fetched_in_full_when_its_tree_is_checked(
        services: Services, ade_client: AdeClient, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await cycle(services, ade_client)
    await cycle(services, ade_client)  # the probes' digests are stored by the first check
    await age_trees(pool)
    await cycle(services, ade_client)
    instructor = ade.summary()["samples"]["instructor"]
    ade.update_resource(instructor, name="RENOMMÉ Zoé")

    await age_trees(pool)
    report = await cycle(services, ade_client)

    assert tree_requests(report) == 5  # four probes, and the instructors' tree at detail 11
    assert {c.category: c.status for c in report.categories}["instructor"] == "modified"
    assert await pool.fetchval("SELECT name FROM schedulesy.resource WHERE ext_id = $1", str(instructor)) == \
        "RENOMMÉ Zoé"
    assert PROBE_DETAIL < 11


async def test_an_event_booking_a_resource_no_tree_has_makes_the_cycle_check_the_trees_at_once(
        services: Services, ade_client: AdeClient, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await cycle(services, ade_client)
    await cycle(services, ade_client)
    parent = ade.summary()["samples"]["trainee_year"]
    group = ade.add_resource(name="Groupe de rentrée", category="trainee", parent_id=parent)["id"]
    today = dt.datetime.now(PARIS).date()
    day = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=9)
    added = ade.add_event(name="Accueil", date=day.isoformat(), start="14:00", duration=4, resources=[group])

    report = await cycle(services, ade_client)

    assert report.mode == "near" and report.events is not None and report.events.new == 1
    assert tree_requests(report) >= 4
    assert await pool.fetchval("SELECT name FROM schedulesy.resource WHERE ext_id = $1", str(group)) == \
        "Groupe de rentrée"
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.timetable WHERE resource_ext_id = $1 AND event_id = $2",
                               str(group), added["id"]) == 1
    assert tree_requests(await cycle(services, ade_client)) == 0


async def test_events_that_booked_a_resource_removed_by_that_out_of_cycle_check_are_rechecked_at_once(
        services: Services, ade_client: AdeClient, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await cycle(services, ade_client)
    await cycle(services, ade_client)
    teacher = ade.summary()["samples"]["instructor"]
    far = await pool.fetch(
        """SELECT DISTINCT er.event_id FROM schedulesy.event_resource er JOIN schedulesy.event e USING (event_id)
           WHERE er.resource_ext_id = $1 AND e.starts_at > now() + interval '5 weeks'""", str(teacher))
    assert far  # beyond the near term: only a recheck reaches them before the far pass
    assert ade.delete_resource(teacher)["events_touched"] >= len(far)
    # What makes this near cycle look at the trees before they are due: a new group booked this week.
    parent = ade.summary()["samples"]["trainee_year"]
    group = ade.add_resource(name="Groupe de rentrée", category="trainee", parent_id=parent)["id"]
    today = dt.datetime.now(PARIS).date()
    day = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=9)
    ade.add_event(name="Accueil", date=day.isoformat(), start="14:00", duration=4, resources=[group])

    report = await cycle(services, ade_client)

    assert report.mode == "near" and tree_requests(report) >= 4
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE ext_id = $1", str(teacher)) == 0
    # The events (as their groups' timetables show them) no longer name the removed teacher, and stay.
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event_resource WHERE resource_ext_id = $1",
                               str(teacher)) == 0
    ids = [r["event_id"] for r in far]
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event WHERE event_id = ANY($1::bigint[])",
                               ids) == len(ids)
    for event_id in ids[:3]:
        booked = {r["resource_ext_id"] for r in await pool.fetch(
            "SELECT resource_ext_id FROM schedulesy.event_resource WHERE event_id = $1", event_id)}
        assert booked == {str(b.resource_id) for b in ade.app.store.events[event_id].resources}
    assert report.events is not None and report.events.changed >= len(far)
