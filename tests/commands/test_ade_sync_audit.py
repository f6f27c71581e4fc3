"""The continuous audit: each cycle compares a few resources' derived timetables with ADE's own
per-resource answer, rotating so that every resource is audited within a week; a difference is counted,
named by health (a warning) and logged with the event ids."""

from __future__ import annotations


import asyncpg
import structlog
from litestar.testing import AsyncTestClient

from commands.ade_sync import audit as audit_module
from commands.ade_sync.audit import MAX_PER_CYCLE, WEEK_SECONDS, batch_size
from commands.ade_sync.cycle import run_cycle
from queries.health import readiness
from schedulesy.ade.client import AdeClient
from schedulesy.services import Services
from tests.fixtures.infra import replace_settings


def test_the_batch_covers_every_resource_within_a_week_of_cycles() -> None:
    assert batch_size(17_000, 300) == 9  # large: 2,016 five-minute cycles a week
    assert 9 * (WEEK_SECONDS // 300) >= 17_000
    assert batch_size(40, 300) == 1
    assert batch_size(10_000_000, 300) == MAX_PER_CYCLE  # ADE's cost stays bounded


def every(services: Services, cycles_per_week: int) -> Services:
    return services.with_settings(replace_settings(
        services.settings, poll_interval=WEEK_SECONDS / cycles_per_week))


async def test_the_rotation_audits_every_resource_once_per_round(
        services: Services, ade_client: AdeClient, pool: asyncpg.Pool, monkeypatch) -> None:
    await run_cycle(services, client=ade_client)
    resources = [r["ext_id"] for r in await pool.fetch(
        "SELECT ext_id FROM schedulesy.resource WHERE category <> ext_id ORDER BY ext_id")]
    total = len(resources)
    twice_a_week = every(services, 2)
    size = batch_size(total, twice_a_week.settings.poll_interval)
    await pool.execute("DELETE FROM schedulesy.sync_state WHERE name = 'audit'")
    audited: list[str] = []
    real_audit = audit_module.audit_resource

    async def recorded(pool: asyncpg.Pool, ade: AdeClient, ext_id: str) -> tuple[set[int], set[int]]:
        audited.append(ext_id)
        return await real_audit(pool, ade, ext_id)

    monkeypatch.setattr(audit_module, "audit_resource", recorded)

    first = await run_cycle(twice_a_week, client=ade_client)
    second = await run_cycle(twice_a_week, client=ade_client)

    assert first.events is not None and second.events is not None
    assert first.events.audited == second.events.audited == size == -(-total // 2)
    # A round audits each resource once, in ext id order; the last batch goes on into the next round.
    assert audited[:total] == resources
    assert audited[total:] == resources[:2 * size - total]
    assert first.events.audit_mismatches == second.events.audit_mismatches == 0
    assert first.events.audit_requests == first.events.audited  # one getEvents per resource
    figures = await pool.fetchval("SELECT figures FROM schedulesy.sync_state WHERE name = 'audit'")
    assert figures["audited"] == len(audited) and figures["differing"] == 0


async def test_a_timetable_that_differs_from_ade_is_counted_named_by_health_and_logged(
        services: Services, ade_client: AdeClient, pool: asyncpg.Pool, api: AsyncTestClient,
        monkeypatch) -> None:
    await run_cycle(services, client=ade_client)
    victim, event_id = await pool.fetchrow(
        "SELECT resource_ext_id, event_id FROM schedulesy.timetable ORDER BY resource_ext_id, event_id LIMIT 1")
    await pool.execute("DELETE FROM schedulesy.timetable WHERE resource_ext_id = $1 AND event_id = $2",
                       victim, event_id)
    before = await pool.fetchval(
        "SELECT max(ext_id) FROM schedulesy.resource WHERE ext_id < $1 AND category <> ext_id", victim)
    await pool.execute(
        "INSERT INTO schedulesy.sync_state (name, fingerprint) VALUES ('audit', $1) "
        "ON CONFLICT (name) DO UPDATE SET fingerprint = $1", before or "")
    monkeypatch.setattr(audit_module, "log", structlog.get_logger(audit_module.__name__))

    with structlog.testing.capture_logs() as logs:
        report = await run_cycle(services, client=ade_client)
        again = await run_cycle(services, client=ade_client)  # rechecked: still differs, still named

    assert report.events is not None and report.events.audit_mismatches == 1
    assert again.events is not None and again.events.audit_mismatches == 1
    assert report.status == "ok"  # the mirror is served as it is; the operator is told
    differences = [e for e in logs if e["event"] == "timetable audit: the mirror differs from ADE"]
    assert differences[0]["ext_id"] == victim and differences[0]["missing"] == [event_id]
    check = (await readiness(services))["ade_sync"]
    assert check.ok and f"timetable audit: 1 resources differ from ADE's own answer ({victim})" in check.detail
    page = (await api.get("/metrics")).text
    assert 'schedulesy_sync_differing{name="audit"} 1.0' in page
