"""``SCHEDULESY_TIMETABLE_SOURCE=ade`` stores ADE's per-resource answers instead of deriving timetables;
on the simulator (whose answers follow the derivation rule) both give the same rows, hence the same
documents."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from commands.ade_sync.cycle import run_cycle
from commands.ade_sync.timetables import timetable_for_resources
from schedulesy.ade.client import AdeClient
from schedulesy.services import Services
from schedulesy.settings import SettingsError, load_settings
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.infra import replace_settings, with_settings
from tests.fixtures.sync import PARIS


def from_ade(services: Services) -> Services:
    return with_settings(services, replace_settings(services.settings, timetable_source="ade"))


async def rows(pool: asyncpg.Pool) -> set[tuple[str, int]]:
    return {(r["resource_ext_id"], r["event_id"]) for r in await pool.fetch(
        "SELECT resource_ext_id, event_id FROM schedulesy.timetable")}


async def derived(pool: asyncpg.Pool) -> set[tuple[str, int]]:
    """What the derivation rule gives for the mirror as it is (computed, then rolled back)."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            roots = [r["ext_id"] for r in await conn.fetch(
                "SELECT ext_id FROM schedulesy.resource WHERE parent_ext_id IS NULL")]
            await timetable_for_resources(conn, roots)
            return {(r["resource_ext_id"], r["event_id"]) for r in await conn.fetch(
                "SELECT resource_ext_id, event_id FROM schedulesy.timetable")}
        finally:
            await transaction.rollback()


async def test_both_sources_give_the_same_timetables_on_the_simulator(
        services: Services, ade_client: AdeClient, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await run_cycle(services, client=ade_client)
    by_derivation = await rows(pool)
    assert by_derivation
    await pool.execute("DELETE FROM schedulesy.timetable")

    report = await run_cycle(from_ade(services), client=ade_client, full=True)

    resources = await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE category <> ext_id")
    assert report.events is not None and report.events.timetables_from_ade == resources
    assert await rows(pool) == by_derivation

    # A change: a new event on a group reaches it and its sub-groups from ADE's answers alone.
    year = ade.summary()["samples"]["trainee_year"]
    today = dt.datetime.now(PARIS).date()
    day = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=8)
    added = ade.add_event(name="Amphi de rentrée", date=day.isoformat(), start="10:00", duration=4, resources=[year])
    near = await run_cycle(from_ade(services), client=ade_client)

    assert near.mode == "near" and near.events is not None and near.events.new == 1
    assert 0 < near.events.timetables_from_ade < resources  # the lineage of what changed, not everything
    assert (str(year), added["id"]) in await rows(pool)
    assert await rows(pool) == await derived(pool)


def test_the_source_is_a_checked_choice() -> None:
    assert load_settings({}).timetable_source == "derived"
    assert load_settings({"SCHEDULESY_TIMETABLE_SOURCE": "ade"}).timetable_source == "ade"
    with pytest.raises(SettingsError, match="SCHEDULESY_TIMETABLE_SOURCE"):
        load_settings({"SCHEDULESY_TIMETABLE_SOURCE": "both"})
