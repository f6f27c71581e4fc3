"""ADE failing never costs the mirror its data; one runner at a time; the CLI and the poller."""

from __future__ import annotations

import datetime as dt
import random

import asyncpg

from commands.ade_sync.cli import run_sync_command
from commands.ade_sync.cycle import plan_cycle, run_cycle
from commands.ade_sync.poller import next_delay
from schedulesy.locks import LockId
from schedulesy.services import Services
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.infra import replace_settings
from tests.fixtures.sync import Sync, changes, clear_changes, client_for, counts, near_event


async def test_ade_down_keeps_the_previous_data_and_reports_the_failure(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    before = await counts(pool)
    last_success = await pool.fetchval("SELECT last_success_at FROM schedulesy.sync_state WHERE name = 'cycle'")
    await clear_changes(pool)
    ade.set_faults(down="503")

    report = await sync(full=True)

    assert report.status == "failed"
    assert all(c.status == "failed" for c in report.categories)
    assert report.events.status == "failed"
    assert await counts(pool) == before
    assert await changes(pool) == []
    state = await pool.fetchrow("SELECT * FROM schedulesy.sync_state WHERE name = 'cycle'")
    assert state["last_success_at"] == last_success and state["last_error"]
    assert state["figures"]["errors"] > 0
    assert report.ade["getResources"].retries > 0
    assert "getEvents" not in report.ade_requests  # no point asking for events from a dead ADE


async def test_ade_failing_mid_cycle_deletes_nothing(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    before = await counts(pool)
    # ADE "loses" events and then errors on every getEvents: the trees go through, events do not.
    ade.delete_event(near_event(ade))
    ade.set_faults(error_fraction=1.0, error_functions=["getEvents"],
                   error_name="java.lang.NullPointerException")

    report = await sync(full=True)

    assert report.status == "partial"
    # Trees went through (their event statistics changed), events kept.
    assert all(c.status in ("unchanged", "modified") for c in report.categories)
    assert report.events.status == "failed" and "NullPointerException" in report.events.error
    assert {k: v for k, v in (await counts(pool)).items() if k != "resource"} == \
        {k: v for k, v in before.items() if k != "resource"}
    full = await pool.fetchrow("SELECT * FROM schedulesy.sync_state WHERE name = 'events:full'")
    assert full["last_error"]

    ade.clear_faults()
    recovered = await sync(full=True)
    assert recovered.status == "ok" and recovered.events.deleted == 1


async def test_ade_answering_empty_bodies_is_an_error_not_an_empty_university(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    before = await counts(pool)
    ade.set_faults(down="empty")

    report = await sync(full=True)

    assert report.status == "failed"
    assert await counts(pool) == before


async def test_a_slow_ade_times_out_and_keeps_the_data(
        services: Services, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    async with client_for(ade) as client:
        await run_cycle(services, client=client)
    before = await counts(pool)
    # Every answer comes 5 times later than the client waits: each call times out, retried once.
    ade.set_faults(delay_ms=250)
    from schedulesy.ade.client import AdeClient
    from schedulesy.ade.retry import RetryPolicy

    async with AdeClient(ade.url, ade.login, ade.password, ade.project_id, read_timeout=0.05,
                         retry=RetryPolicy(retries=1, base_delay=0.01)) as slow:
        report = await run_cycle(services, client=slow, full=True)
    assert report.status == "failed"
    assert report.errors and all("ReadTimeout" in error for error in report.errors), report.errors
    assert await counts(pool) == before


async def test_a_session_that_expired_between_cycles_is_renewed(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    ade.expire_sessions()

    report = await sync()

    assert report.status == "ok", report.errors
    assert report.ade_requests.get("connect") == 1 and report.ade_requests.get("setProject") == 1


async def test_vanishing_events_beyond_the_safety_limit_are_kept_unless_forced(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool, services: Services) -> None:
    await sync()
    total = await pool.fetchval("SELECT count(*) FROM schedulesy.event")
    for event_id in list(ade.app.store.events)[: total // 2]:
        ade.delete_event(event_id)

    report = await sync(full=True)

    assert report.events.status == "refused" and report.events.deletions_refused == total // 2
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event") == total
    forced = await sync(full=True, force=True)
    assert forced.events.deleted == total // 2


async def test_only_one_runner_syncs_at_a_time(sync: Sync, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as other:
        await other.execute("SELECT pg_advisory_lock($1)", LockId.ADE_SYNC)
        try:
            report = await sync()
        finally:
            await other.execute("SELECT pg_advisory_unlock($1)", LockId.ADE_SYNC)
    assert report.status == "skipped" and report.requests == 0
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.resource") == 0


async def test_each_cycle_stores_numeric_figures_for_the_metrics(sync: Sync, pool: asyncpg.Pool) -> None:
    await sync()
    rows = {r["name"]: r for r in await pool.fetch("SELECT * FROM schedulesy.sync_state")}
    cycle = rows["cycle"]["figures"]
    assert cycle["requests"] > 0 and cycle["bytes"] > 0 and cycle["events_new"] > 0
    assert all(isinstance(v, (int, float)) for v in cycle.values())
    assert rows["tree:trainee"]["figures"]["nodes"] > 0
    assert rows["tree:trainee"]["fingerprint"]


def test_the_plan_runs_the_full_pass_first_then_nightly_and_the_far_term_when_due(settings) -> None:
    utc = dt.UTC
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=utc)

    def state(success: dt.datetime | None, attempt: dt.datetime | None = None) -> dict[str, dt.datetime | None]:
        return {"last_success_at": success, "last_attempt_at": attempt or success}

    assert plan_cycle(settings, {}, now, full=False).mode == "full"
    done_this_morning = {"events:full": state(now.replace(hour=2)),
                         "events:far": state(now - dt.timedelta(minutes=5))}
    assert plan_cycle(settings, done_this_morning, now, full=False).mode == "near"
    assert plan_cycle(settings, done_this_morning, now, full=True).mode == "full"
    far_due = {**done_this_morning, "events:far": state(now - dt.timedelta(hours=2))}
    assert plan_cycle(settings, far_due, now, full=False).mode == "far"
    yesterday = {**done_this_morning, "events:full": state(now - dt.timedelta(days=1))}
    assert plan_cycle(settings, yesterday, now, full=False).mode == "full"
    # Before tonight's hour, last night's pass is still the current one.
    early = now.replace(hour=0, minute=30)
    last_night = {**done_this_morning, "events:full": state(early - dt.timedelta(hours=22))}
    assert plan_cycle(settings, last_night, early, full=False).mode == "near"
    # A nightly pass that failed ten minutes ago waits an hour before the next try.
    failed = {**done_this_morning,
              "events:full": state(now - dt.timedelta(days=1), now - dt.timedelta(minutes=10))}
    assert plan_cycle(settings, failed, now, full=False).mode == "near"
    failed_long_ago = {**done_this_morning,
                       "events:full": state(now - dt.timedelta(days=1), now - dt.timedelta(hours=2))}
    assert plan_cycle(settings, failed_long_ago, now, full=False).mode == "full"


def test_the_poller_backs_off_on_failures_with_jitter() -> None:
    rng = random.Random(1)
    assert 270 <= next_delay(300, 0, rng) <= 330
    assert 540 <= next_delay(300, 1, rng) <= 660
    assert next_delay(300, 50, rng) <= 3600 * 1.1


async def test_the_sync_command_prints_a_summary_and_exits_zero(
        settings, ade: AdeSimulatorHandle, pool: asyncpg.Pool, capsys) -> None:
    configured = replace_settings(settings, ade_url=ade.url, ade_login=ade.login, ade_password=ade.password,
                                  ade_project_id=ade.project_id)

    code = await run_sync_command(configured, force=False, full=False)

    assert code == 0
    out = capsys.readouterr()
    assert "ADE sync ok (full)" in out.out and "tree trainee" in out.out
    assert "trees: 100%" in out.err and "events: 100%" in out.err  # the progress, one line per tenth off a terminal
    assert ade.password not in out.out + out.err or ade.password == ade.login
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event") > 0


async def test_the_sync_command_exits_non_zero_when_ade_refuses_the_login(
        settings, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    configured = replace_settings(settings, ade_url=ade.url, ade_login=ade.login, ade_password="wrong",
                                  ade_project_id=ade.project_id)

    assert await run_sync_command(configured, force=False, full=False) == 1


async def test_the_poller_runs_cycles_until_cancelled(
        settings, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    import asyncio

    from commands.ade_sync.poller import run_poller

    configured = replace_settings(settings, ade_url=ade.url, ade_login=ade.login, ade_password=ade.password,
                                  ade_project_id=ade.project_id, poll_interval=0.2)
    task = asyncio.create_task(run_poller(configured))
    try:
        for _ in range(200):
            # Every cycle probes the near term (trees have their own cadence).
            cycles = ade.stats()["functions"].get("getEvents", 0)
            done = await pool.fetchval("SELECT last_success_at FROM schedulesy.sync_state WHERE name = 'cycle'")
            if cycles >= 3 and done:
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    assert cycles >= 3
    # One session served every cycle.
    assert ade.stats()["functions"]["connect"] == 1
    assert await pool.fetchval("SELECT last_success_at FROM schedulesy.sync_state WHERE name = 'cycle'")


async def test_an_unreachable_ade_ends_the_cycle_at_the_first_failed_connection(
        sync: Sync, services: Services, pool: asyncpg.Pool) -> None:
    await sync()
    before = await counts(pool)
    from schedulesy.ade.client import AdeClient
    from schedulesy.ade.retry import RetryPolicy

    async with AdeClient("http://127.0.0.1:9/jsp/webapi", "login", "password", 1,
                         retry=RetryPolicy(retries=3, base_delay=5)) as closed:
        report = await run_cycle(services, client=closed, full=True)
        again = await run_cycle(services, client=closed)  # each cycle tries once more

    assert report.status == "failed" and report.requests == 1 and again.requests == 1
    assert all(c.status == "failed" and "cannot connect to ADE" in c.error for c in report.categories)
    assert report.events is not None and report.events.status == "failed"
    assert await counts(pool) == before
