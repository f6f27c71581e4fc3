"""ADE's change messages on the real RabbitMQ: what a message names is refreshed at once, bursts are
coalesced, a message is acknowledged only after its refresh committed, invalid ones are dropped and
counted, the consumer survives the broker going away, and one queue shared by workers refreshes each
message once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
import structlog
from redis.asyncio import Redis

from commands.ade_sync import amqp as amqp_module
from commands.ade_sync.amqp import ChangeFeed
from commands.ade_sync.messages import ChangeMessage, InvalidMessage, parse_message
from commands.ade_sync.refresh import RefreshReport
from schedulesy.keys import Keys
from schedulesy.services import Services
from schedulesy.settings import Settings
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.amqp import Broker, BrokerProxy
from tests.fixtures.infra import replace_settings
from tests.fixtures.sync import Sync, client_for, near_event
from tests.fixtures.waiting import eventually


@dataclasses.dataclass
class Heard:
    refreshes: list[tuple[list[ChangeMessage], RefreshReport]] = dataclasses.field(default_factory=list)

    def __call__(self, messages: list[ChangeMessage], report: RefreshReport) -> None:
        self.refreshes.append((messages, report))

    @property
    def messages(self) -> int:
        return sum(len(m) for m, _ in self.refreshes)


@asynccontextmanager
async def feed(settings: Settings, pool: asyncpg.Pool, redis: Redis, ade: AdeSimulatorHandle,
               **options: object) -> AsyncIterator[tuple[ChangeFeed, Heard]]:
    services = Services(settings=settings, pool=pool, redis=redis, keys=Keys(settings.redis_prefix))
    heard = Heard()
    async with client_for(ade) as client:
        consumer = ChangeFeed(services, client, on_refresh=heard, backoff=lambda n: 0.05, retry_pause=0.05,
                              **options)  # type: ignore[arg-type]
        task = asyncio.create_task(consumer.run())
        try:
            await eventually(consumer.ready.is_set, "the consumer is ready")
            yield consumer, heard
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def event_name(pool: asyncpg.Pool, event_id: int) -> str | None:
    return await pool.fetchval("SELECT name FROM schedulesy.event WHERE event_id = $1", event_id)


def message(*event_ids: int, resources: list[object] | None = None) -> dict[str, object]:
    return {"operation_id": "op-1", "events": [{"id": str(e), "resources": resources or []} for e in event_ids]}


async def test_a_message_refreshes_the_events_it_names_and_is_acknowledged_after(
        sync: Sync, ade: AdeSimulatorHandle, amqp_settings: Settings, broker: Broker, pool: asyncpg.Pool,
        redis: Redis) -> None:
    await sync()
    changed, deleted = near_event(ade), near_event(ade, skip=1)
    ade.update_event(changed, name="Moved to the AMQP era")
    ade.delete_event(deleted)

    async with feed(amqp_settings, pool, redis, ade) as (_, heard):
        await broker.publish({"events": [{"id": changed, "resources": [1]}, {"id": str(deleted)}]})
        await eventually(lambda: heard.messages == 1, "the message was refreshed")

    assert await event_name(pool, changed) == "Moved to the AMQP era"
    assert await event_name(pool, deleted) is None
    _, report = heard.refreshes[0]
    assert report.fetched == 1 and report.changed == 1 and report.deleted == 1
    assert report.requests == 3  # the consumer's own session (connect, setProject), then one eventId batch
    assert await broker.waiting() == 0  # acknowledged, not back in the queue
    figures = await pool.fetchval("SELECT figures FROM schedulesy.sync_state WHERE name = 'amqp'")
    assert figures["messages"] == 1 and figures["refreshes"] == 1 and figures["invalid_messages"] == 0


async def test_a_burst_is_coalesced_into_one_refresh(
        sync: Sync, ade: AdeSimulatorHandle, amqp_settings: Settings, broker: Broker, pool: asyncpg.Pool,
        redis: Redis) -> None:
    await sync()
    ids = [near_event(ade, skip=i) for i in range(5)]
    for event_id in ids:
        ade.update_event(event_id, note="burst")
    for _ in range(4):  # published before the consumer starts: all waiting at once
        for event_id in ids:
            await broker.publish(message(event_id))

    async with feed(amqp_settings, pool, redis, ade) as (_, heard):
        await eventually(lambda: heard.messages == 20, "every message was refreshed")

    assert len(heard.refreshes) == 1
    assert heard.refreshes[0][1].events_named == 5 and heard.refreshes[0][1].requests == 3  # session + 1 batch
    assert {r["note"] for r in await pool.fetch(
        "SELECT note FROM schedulesy.event WHERE event_id = ANY($1::bigint[])", ids)} == {"burst"}


async def test_an_unknown_resource_refreshes_the_trees_at_once(
        sync: Sync, ade: AdeSimulatorHandle, amqp_settings: Settings, broker: Broker, pool: asyncpg.Pool,
        redis: Redis) -> None:
    await sync()
    event_id = near_event(ade)
    parent = ade.summary()["samples"]["trainee_td"]
    added = ade.add_resource(name="Groupe AMQP", category="trainee", parent_id=parent)["id"]

    async with feed(amqp_settings, pool, redis, ade) as (_, heard):
        await broker.publish(message(event_id, resources=[added]))
        await eventually(lambda: heard.messages == 1, "the message was refreshed")

    assert heard.refreshes[0][1].unknown_resources == 1 and heard.refreshes[0][1].trees_refreshed == 1
    assert await pool.fetchval("SELECT name FROM schedulesy.resource WHERE ext_id = $1", str(added)) == "Groupe AMQP"


async def test_events_that_booked_a_resource_removed_by_that_tree_refresh_are_rechecked_at_once(
        sync: Sync, ade: AdeSimulatorHandle, amqp_settings: Settings, broker: Broker, pool: asyncpg.Pool,
        redis: Redis) -> None:
    await sync()
    teacher = ade.summary()["samples"]["instructor"]
    booked = [r["event_id"] for r in await pool.fetch(
        "SELECT DISTINCT event_id FROM schedulesy.event_resource WHERE resource_ext_id = $1", str(teacher))]
    assert booked and ade.delete_resource(teacher)["events_touched"] >= len(booked)
    added = ade.add_resource(name="Groupe AMQP", category="trainee", parent_id=ade.summary()["samples"]["trainee_td"])
    event_id = near_event(ade)

    async with feed(amqp_settings, pool, redis, ade) as (_, heard):
        await broker.publish(message(event_id, resources=[added["id"]]))  # names neither the teacher nor its events
        await eventually(lambda: heard.messages == 1, "the message was refreshed")

    assert heard.refreshes[0][1].trees_refreshed == 1
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE ext_id = $1", str(teacher)) == 0
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event_resource WHERE resource_ext_id = $1",
                               str(teacher)) == 0
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event WHERE event_id = ANY($1::bigint[])",
                               booked) == len(booked)  # they lost a booking, not their place in the timetables


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"events": []}', b'{"operation_id": "x"}', b'{"events": [{"id": "12a"}]}',
    b'{"events": [{"id": true}]}', b'{"events": [{"id": -4}]}', b'{"events": [{"id": 1, "resources": [{"x": 1}]}]}',
    b'{"events": [{"id": 1}], "padding": "' + b"x" * (1 << 20) + b'"}',
], ids=["not-json", "not-an-object", "no-events", "events-missing", "id-not-a-number", "id-a-boolean",
        "negative-id", "resource-an-object", "huge"])
def test_invalid_bodies_are_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_message(body)
    assert str(caught.value)


def test_ids_may_be_ints_or_strings_and_resources_are_optional() -> None:
    parsed = parse_message(b'{"events": [{"id": "163477", "resources": [1566, "12410"]}, {"id": 204538}]}')
    assert parsed.event_ids == {163477, 204538} and parsed.resource_ids == {"1566", "12410"}
    assert parsed.operation_id is None


async def test_invalid_messages_are_logged_once_counted_and_dropped_without_stopping_the_consumer(
        sync: Sync, ade: AdeSimulatorHandle, amqp_settings: Settings, broker: Broker, pool: asyncpg.Pool,
        redis: Redis, api, monkeypatch: pytest.MonkeyPatch) -> None:
    await sync()
    event_id = near_event(ade)
    ade.update_event(event_id, name="After the garbage")
    monkeypatch.setattr(amqp_module, "log", structlog.get_logger(amqp_module.__name__))
    with structlog.testing.capture_logs() as logs:
        async with feed(amqp_settings, pool, redis, ade) as (_, heard):
            await broker.publish(b"{not json")
            await broker.publish({"events": []})
            await broker.publish(message(event_id))
            await eventually(lambda: heard.messages == 1, "the valid message was refreshed")

    dropped = [e for e in logs if e["event"] == "amqp message dropped: invalid"]
    assert len(dropped) == 2
    assert await event_name(pool, event_id) == "After the garbage"
    assert await broker.waiting() == 0  # dropped, not requeued
    page = (await api.get("/metrics")).text
    assert 'schedulesy_sync_invalid_messages{name="amqp"} 2.0' in page
    assert 'schedulesy_sync_messages{name="amqp"} 1.0' in page


async def test_a_refresh_that_fails_leaves_the_message_in_the_queue_until_it_succeeds(
        sync: Sync, ade: AdeSimulatorHandle, amqp_settings: Settings, broker: Broker, pool: asyncpg.Pool,
        redis: Redis) -> None:
    await sync()
    event_id = near_event(ade)
    ade.update_event(event_id, name="Eventually consistent")
    ade.set_faults(down="503")
    async with feed(amqp_settings, pool, redis, ade) as (_, heard):
        await broker.publish(message(event_id))

        async def failed_once() -> bool:
            figures = await pool.fetchval("SELECT figures FROM schedulesy.sync_state WHERE name = 'amqp'")
            return bool(figures) and figures.get("refresh_failures", 0) >= 1

        await eventually(failed_once, "the refresh failed")
        assert await event_name(pool, event_id) != "Eventually consistent"
        ade.clear_faults()
        await eventually(lambda: heard.messages == 1, "the redelivered message was refreshed")
    assert await event_name(pool, event_id) == "Eventually consistent"


async def test_the_consumer_reconnects_when_the_broker_goes_away_and_comes_back(
        sync: Sync, ade: AdeSimulatorHandle, amqp_settings: Settings, broker: Broker, pool: asyncpg.Pool,
        redis: Redis, broker_proxy: BrokerProxy) -> None:
    await sync()
    first, second = near_event(ade), near_event(ade, skip=1)
    ade.update_event(first, name="Before the outage")
    ade.update_event(second, name="After the outage")
    proxied = replace_settings(amqp_settings, amqp_url=broker_proxy.url(amqp_settings.amqp_url))
    async with feed(proxied, pool, redis, ade) as (consumer, heard):
        await broker.publish(message(first))
        await eventually(lambda: heard.messages == 1, "the first message was refreshed")
        await broker_proxy.cut()
        await eventually(lambda: not consumer.ready.is_set(), "the consumer noticed the broker left")
        await broker.publish(message(second))  # kept by the broker meanwhile
        await asyncio.sleep(0.2)  # a few reconnection attempts fail
        await broker_proxy.restore()
        await eventually(lambda: heard.messages == 2, "the message published during the outage was refreshed")
        assert consumer.connections >= 2
    assert await event_name(pool, second) == "After the outage"


async def test_two_workers_on_one_queue_refresh_each_message_once(
        sync: Sync, ade: AdeSimulatorHandle, amqp_settings: Settings, broker: Broker, pool: asyncpg.Pool,
        redis: Redis) -> None:
    await sync()
    ids = [near_event(ade, skip=i) for i in range(12)]
    async with feed(amqp_settings, pool, redis, ade, coalesce=0.0) as (_, one), \
            feed(amqp_settings, pool, redis, ade, coalesce=0.0) as (_, two):
        for event_id in ids:
            await broker.publish(message(event_id))
            await asyncio.sleep(0.01)
        await eventually(lambda: one.messages + two.messages == len(ids), "every message was refreshed")
        await asyncio.sleep(0.2)  # a duplicate delivery would show up here
    seen = [e for heard in (one, two) for messages, _ in heard.refreshes for m in messages for e in m.event_ids]
    assert sorted(seen) == sorted(ids)


def test_the_settings_default_to_the_originals_names() -> None:
    defaults = Settings()
    assert (defaults.amqp_url, defaults.amqp_exchange, defaults.amqp_queue, defaults.amqp_routing_key) == \
        ("", "schedulesy.sync", "schedulesy.sync", "schedulesy.sync.ade.*")
