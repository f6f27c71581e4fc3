"""While ADE's change feed is trusted it leads and polling only checks it: idle cycles send no probe,
each tier runs on its slower cadence, a consumer gap or a change the feed did not announce puts the
poller back on its own cadence, and health and metrics say which way it runs."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from commands.ade_sync.cycle import plan_cycle, run_cycle
from commands.ade_sync.feed import OFF, FeedTrust, feed_trust, heartbeat
from commands.ade_sync.report import SyncReport
from schedulesy.ade.client import AdeClient
from schedulesy.app import create_app
from schedulesy.services import Services
from schedulesy.settings import Settings, SettingsError, load_settings
from tests.commands.test_ade_sync_amqp import feed
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.amqp import Broker
from tests.fixtures.infra import replace_settings
from tests.fixtures.sync import PARIS, near_event
from tests.fixtures.waiting import eventually

TRUSTED = FeedTrust(trusted=True, reason="trusted")
BROKER = "amqp://guest:guest@127.0.0.1:5672/"


def probes(report: SyncReport) -> int:
    """Window probes of the events step (the audit's per-resource requests left out)."""
    assert report.events is not None
    return report.events.windows


def away_from_the_night(settings: Settings, **changes: object) -> Settings:
    """The nightly pass half a day away, so a test's cycles of the next hour never become one."""
    hour = (dt.datetime.now(settings.zone).hour + 12) % 24
    return replace_settings(settings, sync_nightly_hour=hour, **changes)


@pytest.fixture
def feed_services(services: Services) -> Services:
    """The poller's view with a feed configured; the near term is due again after a minute while trusted."""
    return services.with_settings(away_from_the_night(services.settings, amqp_url=BROKER,
                                                      sync_feed_near_interval=60.0))


async def beat_until(pool: asyncpg.Pool, start: dt.datetime, end: dt.datetime) -> None:
    """A consumer connected all along: a heartbeat a minute from ``start`` to ``end``."""
    moment = start
    while moment < end:
        await heartbeat(pool, moment)
        moment += dt.timedelta(seconds=60)


def change_stamped(ade: AdeSimulatorHandle, at: dt.datetime, event_id: int, **changes: object) -> None:
    """Change an event in ADE as if at ``at`` (ADE stamps its ``lastUpdate``)."""
    ade.freeze_clock(at)
    try:
        ade.update_event(event_id, **changes)
    finally:
        ade.freeze_clock(None)


def later_near_events(ade: AdeSimulatorHandle) -> list[int]:
    """Events of the next two weeks: in the near term even if the test's next hour crosses into a new week."""
    monday = dt.datetime.now(PARIS).date()
    monday -= dt.timedelta(days=monday.weekday())
    project = ade.app.store.project
    return sorted(e.id for e in ade.app.store.events.values()
                  if monday + dt.timedelta(weeks=1) <= project.date_of(e.week, e.day) < monday + dt.timedelta(weeks=3)
                  and e.resources)


async def cycle(services: Services, client: AdeClient, at: dt.datetime) -> SyncReport:
    """A cycle at ``at``, the consumer having beaten shortly before."""
    await heartbeat(services.pool, at - dt.timedelta(seconds=2))
    return await run_cycle(services, client=client, now=at, feed_may_lead=True)


async def trusted_after_a_probe(services: Services, client: AdeClient, start: dt.datetime) -> SyncReport:
    """The initial sync, the consumer connecting, the probe that sets the baseline: then trusted."""
    await run_cycle(services, client=client, now=start)
    first = await cycle(services, client, start + dt.timedelta(seconds=10))
    assert first.feed == "the near term was not probed since the consumer connected" and probes(first) == 1
    return await cycle(services, client, start + dt.timedelta(seconds=20))


def test_the_plan_slows_every_tier_while_the_feed_is_trusted(settings: Settings) -> None:
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)  # a Thursday

    def state(success: dt.datetime) -> dict[str, dt.datetime]:
        return {"last_success_at": success, "last_attempt_at": success}

    recent = {"events:full": state(now.replace(hour=2)), "events:far": state(now - dt.timedelta(hours=2)),
              "events:near": state(now - dt.timedelta(minutes=30))}
    # Without a feed: the far term is due after an hour, the near term every cycle.
    assert plan_cycle(settings, recent, now, full=False).mode == "far"
    led = plan_cycle(settings, recent, now, full=False, feed=TRUSTED)
    assert (led.mode, led.near, led.far) == ("near", False, False)
    near_due = {**recent, "events:near": state(now - dt.timedelta(hours=2))}
    assert plan_cycle(settings, near_due, now, full=False, feed=TRUSTED).near
    far_due = {**recent, "events:far": state(now - dt.timedelta(hours=25))}
    assert plan_cycle(settings, far_due, now, full=False, feed=TRUSTED).mode == "far"
    # The full pass: every night without a feed, every seventh night with it.
    last_week = {**recent, "events:full": state(now - dt.timedelta(days=3))}
    assert plan_cycle(settings, last_week, now, full=False).mode == "full"
    assert plan_cycle(settings, last_week, now, full=False, feed=TRUSTED).mode == "near"
    week_ago = {**recent, "events:full": state(now - dt.timedelta(days=7))}
    assert plan_cycle(settings, week_ago, now, full=False, feed=TRUSTED).mode == "full"
    assert plan_cycle(settings, recent, now, full=True, feed=TRUSTED).mode == "full"
    # The feed lost in the afternoon (configured, not trusted): no full pass at noon, but tonight's.
    configured = replace_settings(settings, amqp_url=BROKER)
    assert plan_cycle(configured, last_week, now, full=False).mode == "far"
    night = now.replace(hour=2, minute=30)
    at_night = {**recent, "events:full": state(night - dt.timedelta(days=3)),
                "events:far": state(night - dt.timedelta(minutes=30))}
    assert plan_cycle(configured, at_night, night, full=False).mode == "full"
    assert plan_cycle(configured, week_ago, now, full=False).mode == "full"  # the feed's own cadence needs it
    # A far-term probe that failed while trusted is tried again after an hour, not a day.
    far_failed = {**recent, "events:far": {"last_success_at": now - dt.timedelta(days=3),
                                           "last_attempt_at": now - dt.timedelta(hours=2)}}
    assert plan_cycle(settings, far_failed, now, full=False, feed=TRUSTED).mode == "far"


def test_the_feed_is_trusted_only_when_configured_connected_and_checked(settings: Settings) -> None:
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    configured = replace_settings(settings, amqp_url=BROKER)
    up_since = {"up_since": int((now - dt.timedelta(hours=1)).timestamp())}
    beat: dict[str, Any] = {"last_success_at": now - dt.timedelta(seconds=20), "last_error": None,
                            "figures": up_since}
    probed = {"last_success_at": now - dt.timedelta(minutes=10)}
    states = {"feed": beat, "events:near": probed}
    assert feed_trust(settings, states, now) == OFF
    assert feed_trust(configured, states, now).trusted
    stale = {**states, "feed": {**beat, "last_success_at": now - dt.timedelta(minutes=2)}}
    assert feed_trust(configured, stale, now).reason == "no consumer connected to the broker"
    reconnected = {**states, "feed": {**beat, "figures": {"up_since": int(now.timestamp()) - 60}}}
    assert not feed_trust(configured, reconnected, now).trusted
    caught = {**states, "feed": {**beat, "last_error": "a probe found 1 changed events the feed did not announce (7)",
                                 "figures": {**up_since, "distrusted_until": int(now.timestamp()) + 60}}}
    assert feed_trust(configured, caught, now).reason.endswith("did not announce (7)")
    later = now + dt.timedelta(minutes=2)
    beating = {**caught, "feed": {**beat, "last_error": caught["feed"]["last_error"],
                                  "figures": caught["feed"]["figures"], "last_success_at": later - dt.timedelta(seconds=5)}}
    assert feed_trust(configured, beating, later).trusted


async def test_idle_cycles_send_no_probe_while_the_feed_is_trusted(
        feed_services: Services, ade_client: AdeClient, pool: asyncpg.Pool) -> None:
    start = dt.datetime.now(dt.UTC)
    led = await trusted_after_a_probe(feed_services, ade_client, start)
    assert led.feed == "trusted" and probes(led) == 0 and led.status == "ok"
    assert led.ade_requests.get("getEvents", 0) == led.events.audit_requests  # only the audit asked
    assert led.events.audited > 0
    # A minute later the near term is due again anyway (the safety net); then idle again.
    # A sync asked for (the CLI, the admin endpoint) probes as without the feed.
    asked = await run_cycle(feed_services, client=ade_client, now=start + dt.timedelta(seconds=25))
    assert asked.feed.startswith("asked for") and probes(asked) == 1
    due = await cycle(feed_services, ade_client, start + dt.timedelta(seconds=90))
    assert due.feed == "trusted" and probes(due) == 1
    assert probes(await cycle(feed_services, ade_client, start + dt.timedelta(seconds=100))) == 0
    figures = await pool.fetchval("SELECT figures FROM schedulesy.sync_state WHERE name = 'cycle'")
    assert figures["feed_trusted"] == 1
    # No heartbeat for two minutes: no consumer, the poller probes every cycle again.
    gap = await run_cycle(feed_services, client=ade_client, now=start + dt.timedelta(seconds=230),
                          feed_may_lead=True)
    assert gap.feed == "no consumer connected to the broker" and probes(gap) == 1
    # Back after a gap: one probe to set the baseline again before the feed leads.
    back = await cycle(feed_services, ade_client, start + dt.timedelta(seconds=240))
    assert back.feed == "the near term was not probed since the consumer connected" and probes(back) == 1
    assert probes(await cycle(feed_services, ade_client, start + dt.timedelta(seconds=250))) == 0


async def test_without_a_feed_every_cycle_probes_the_near_term(
        services: Services, ade_client: AdeClient) -> None:
    start = dt.datetime.now(dt.UTC)
    await run_cycle(services, client=ade_client, now=start)
    await heartbeat(services.pool, start)  # a stray heartbeat means nothing without SCHEDULESY_AMQP_URL
    idle = await run_cycle(services, client=ade_client, now=start + dt.timedelta(seconds=10), feed_may_lead=True)
    assert idle.feed == OFF.reason and probes(idle) == 1


async def test_a_change_the_feed_did_not_announce_distrusts_it_for_a_day(
        feed_services: Services, ade_client: AdeClient, ade: AdeSimulatorHandle, pool: asyncpg.Pool,
        redis: Redis) -> None:
    start = dt.datetime.now(dt.UTC)
    await trusted_after_a_probe(feed_services, ade_client, start)
    # ADE stamped a change 20 minutes before the probe, the feed being up, and no message announced it.
    missed = later_near_events(ade)[0]
    change_stamped(ade, start + dt.timedelta(minutes=10), missed, name="Changed behind the feed's back")
    probe_at = start + dt.timedelta(minutes=30)
    await beat_until(pool, start + dt.timedelta(seconds=20), probe_at)
    caught = await cycle(feed_services, ade_client, probe_at)
    assert caught.events is not None and caught.events.unannounced == 1 and caught.events.changed == 1
    assert caught.feed.startswith("distrusted")
    assert await pool.fetchval("SELECT name FROM schedulesy.event WHERE event_id = $1", missed) == (
        "Changed behind the feed's back")  # the change itself is applied, of course
    after = await cycle(feed_services, ade_client, probe_at + dt.timedelta(seconds=10))
    assert after.feed.startswith("distrusted until") and str(missed) in after.feed and probes(after) == 1
    late = await cycle(feed_services, ade_client, start + dt.timedelta(hours=23))
    assert late.feed.startswith("distrusted until") and probes(late) >= 1  # (the nightly pass, maybe)
    row = await pool.fetchrow("SELECT figures, last_error FROM schedulesy.sync_state WHERE name = 'feed'")
    assert row["figures"]["unannounced_changes"] == 1 and row["figures"]["trusted"] == 0
    assert str(missed) in row["last_error"]

    async with AsyncTestClient(create_app(feed_services.settings)) as client:
        ready = (await client.get("/health/ready")).json()
        metrics = (await client.get("/metrics")).text
    assert ready["checks"]["ade_sync"]["ok"] is True  # a warning, not a 503
    assert "ADE change feed distrusted" in ready["checks"]["ade_sync"]["detail"]
    assert 'schedulesy_sync_trusted{name="feed"} 0' in metrics
    assert 'schedulesy_sync_unannounced_changes{name="feed"} 1' in metrics

    # A day later, with a consumer beating and a probe since, the feed leads again; the reason is cleared.
    back_at = start + dt.timedelta(hours=25)
    await cycle(feed_services, ade_client, back_at)
    back = await cycle(feed_services, ade_client, back_at + dt.timedelta(seconds=10))
    assert back.feed == "trusted"
    assert await pool.fetchval("SELECT last_error FROM schedulesy.sync_state WHERE name = 'feed'") is None


async def test_changes_the_feed_could_not_have_announced_yet_are_not_held_against_it(
        feed_services: Services, ade_client: AdeClient, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    start = dt.datetime.now(dt.UTC)
    await trusted_after_a_probe(feed_services, ade_client, start)
    before_it_came_up, within_the_grace = later_near_events(ade)[:2]
    probe_at = start + dt.timedelta(minutes=30)
    change_stamped(ade, start - dt.timedelta(hours=1), before_it_came_up, note="published to no broker")
    change_stamped(ade, probe_at - dt.timedelta(minutes=5), within_the_grace, note="its message is on its way")
    await beat_until(pool, start + dt.timedelta(seconds=20), probe_at)
    found = await cycle(feed_services, ade_client, probe_at)
    assert found.events is not None and found.events.changed == 2 and found.events.unannounced == 0
    assert (await cycle(feed_services, ade_client, probe_at + dt.timedelta(seconds=10))).feed == "trusted"


async def test_a_resource_deleted_while_the_feed_leads_has_its_bookings_rechecked_at_once(
        services: Services, ade_client: AdeClient, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    checking_trees = services.with_settings(away_from_the_night(
        services.settings, amqp_url=BROKER, sync_tree_interval=1e-6))
    start = dt.datetime.now(dt.UTC)
    led = await trusted_after_a_probe(checking_trees, ade_client, start)
    assert led.feed == "trusted" and probes(led) == 0
    teacher = str(ade.summary()["samples"]["instructor"])
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event_resource WHERE resource_ext_id = $1", teacher)
    ade.delete_resource(int(teacher))
    report = await cycle(checking_trees, ade_client, start + dt.timedelta(seconds=30))
    assert report.feed == "trusted" and probes(report) == 1  # the events step ran for the rechecks
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event_resource WHERE resource_ext_id = $1",
                               teacher) == 0


async def test_a_consumers_new_connection_restarts_the_baseline(pool: asyncpg.Pool) -> None:
    start = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)

    async def up_since() -> int:
        figures = await pool.fetchval("SELECT figures FROM schedulesy.sync_state WHERE name = 'feed'")
        return int(figures["up_since"])

    await heartbeat(pool, start, connected=True)
    await heartbeat(pool, start + dt.timedelta(seconds=30))
    assert await up_since() == int(start.timestamp())
    # Another worker reconnecting (a short broker restart): messages may have been lost meanwhile.
    await heartbeat(pool, start + dt.timedelta(seconds=40), connected=True)
    assert await up_since() == int(start.timestamp()) + 40
    # A worker whose clock lags does not move the heartbeat back.
    await heartbeat(pool, start + dt.timedelta(seconds=10))
    beat = await pool.fetchval("SELECT last_success_at FROM schedulesy.sync_state WHERE name = 'feed'")
    assert beat == start + dt.timedelta(seconds=40)


async def test_a_consumer_whose_refreshes_fail_stops_beating(
        sync: object, ade: AdeSimulatorHandle, ade_client: AdeClient, amqp_settings: Settings, broker: Broker,
        services: Services, pool: asyncpg.Pool, redis: Redis) -> None:
    await run_cycle(services.with_settings(amqp_settings), client=ade_client)

    async def last_beat() -> dt.datetime | None:
        return await pool.fetchval("SELECT last_success_at FROM schedulesy.sync_state WHERE name = 'feed'")

    async def beaten_after(moment: dt.datetime | None) -> bool:
        beat = await last_beat()
        return beat is not None and (moment is None or beat > moment)

    async with feed(amqp_settings, pool, redis, ade, heartbeat_every=0.05) as (consumer, heard):
        await eventually(lambda: beaten_after(None), "a first heartbeat")
        ade.set_faults(down="503")
        await broker.publish({"events": [{"id": near_event(ade)}]})
        await eventually(lambda: consumer.failing, "the refresh failed")
        stopped = await last_beat()
        await asyncio.sleep(0.3)
        assert await last_beat() == stopped
        ade.clear_faults()
        await eventually(lambda: heard.messages == 1, "the redelivered message was refreshed")
        await eventually(lambda: beaten_after(stopped), "the heartbeat resumed")


async def test_the_consumer_heartbeat_lets_the_feed_lead_and_its_messages_still_refresh_at_once(
        sync: object, ade: AdeSimulatorHandle, ade_client: AdeClient, amqp_settings: Settings, broker: Broker,
        services: Services, pool: asyncpg.Pool, redis: Redis) -> None:
    led_services = services.with_settings(amqp_settings)
    await run_cycle(led_services, client=ade_client)
    async with feed(amqp_settings, pool, redis, ade, heartbeat_every=0.05) as (_, heard):
        row = await pool.fetchrow("SELECT last_success_at, figures FROM schedulesy.sync_state WHERE name = 'feed'")
        assert row["figures"]["up_since"] > 0
        assert (dt.datetime.now(dt.UTC) - row["last_success_at"]).total_seconds() < 5
        await asyncio.sleep(1.1)  # a probe in the second the consumer connected does not count as after it
        baseline = await run_cycle(led_services, client=ade_client, feed_may_lead=True)
        assert probes(baseline) == 1
        led = await run_cycle(led_services, client=ade_client, feed_may_lead=True)
        assert led.feed == "trusted" and probes(led) == 0
        changed = near_event(ade)
        ade.update_event(changed, name="Announced and shown at once")
        await broker.publish({"events": [{"id": changed}]})
        await eventually(lambda: heard.messages == 1, "the message was refreshed")
    assert await pool.fetchval("SELECT name FROM schedulesy.event WHERE event_id = $1", changed) == (
        "Announced and shown at once")


def test_the_feed_settings_have_their_variables() -> None:
    loaded = load_settings({"SCHEDULESY_SYNC_FEED_NEAR_INTERVAL": "3h", "SCHEDULESY_SYNC_FEED_FAR_INTERVAL": "12h",
                            "SCHEDULESY_SYNC_FEED_FULL_DAYS": "3"})
    assert (loaded.sync_feed_near_interval, loaded.sync_feed_far_interval, loaded.sync_feed_full_days) == (
        10800.0, 43200.0, 3)
    for name, wrong in (("SCHEDULESY_SYNC_FEED_FULL_DAYS", "0"), ("SCHEDULESY_SYNC_FEED_NEAR_INTERVAL", "soon")):
        with pytest.raises(SettingsError, match=name):
            load_settings({name: wrong})


async def test_the_pollers_cycles_let_a_trusted_feed_lead(
        settings: Settings, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    from commands.ade_sync.poller import run_poller

    configured = replace_settings(settings, ade_url=ade.url, ade_login=ade.login, ade_password=ade.password,
                                  ade_project_id=ade.project_id, poll_interval=0.2, amqp_url=BROKER)

    async def consumer_beating() -> None:  # what a connected consumer does (its own test is above)
        while True:
            await heartbeat(pool)
            await asyncio.sleep(0.1)

    beating = asyncio.create_task(consumer_beating())
    await asyncio.sleep(1.1)
    poller = asyncio.create_task(run_poller(configured))
    try:
        async def led() -> bool:
            figures = await pool.fetchval("SELECT figures FROM schedulesy.sync_state WHERE name = 'cycle'")
            return bool(figures) and figures.get("feed_trusted") == 1 and figures.get("events_probed") == 0
        await eventually(led, "a cycle of the poller's was led by the feed")
    finally:
        for task in (poller, beating):
            task.cancel()
        await asyncio.gather(poller, beating, return_exceptions=True)
