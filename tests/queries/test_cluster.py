"""What only a Redis Cluster shows: read models spread over its masters and safe on its replicas,
scripts on a master that never saw them, and in-process copies invalidated by every master,
through a failover."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
from redis.asyncio import Redis, RedisCluster

from projections.readmodels import ReadModels
from queries.localcache import InvalidationStream, LocalCopies
from queries.reads import Reads, tracked_prefixes
from schedulesy.changes import Topic
from schedulesy.keys import Keys
from schedulesy.embedded import free_port
from schedulesy.services import RedisClient, create_redis
from schedulesy.settings import Settings, SettingsError, load_settings
from tests.fixtures.cluster import LocalCluster
from tests.fixtures.waiting import eventually


@pytest.fixture
def redis_mode() -> str:
    return "cluster"


def cluster_client(redis: RedisClient) -> RedisCluster:
    assert isinstance(redis, RedisCluster)
    return redis


async def keys_on(port: int, prefix: str) -> set[bytes]:
    """The keys under ``prefix`` that one node (master or replica) holds."""
    client = Redis(host="127.0.0.1", port=port)
    try:
        return {key async for key in client.scan_iter(match=prefix + "*", count=1000)}
    finally:
        await client.aclose()


async def test_read_models_spread_over_every_master_and_are_on_the_replicas_once_written(
    models: ReadModels, reads: Reads, redis_cluster: LocalCluster
) -> None:
    await models.rebuild_all()
    prefix = models.keys.prefix
    roles = await asyncio.to_thread(redis_cluster.roles)
    on_masters = {port: await keys_on(port, prefix) for port, role in roles.items() if role == "master"}
    assert len(on_masters) == 3 and all(on_masters.values())  # no hash tag gathers them in one slot
    on_replicas: set[bytes] = set()
    for port in (port for port, role in roles.items() if role == "slave"):
        on_replicas |= await keys_on(port, prefix)
    assert on_replicas == set().union(*on_masters.values())  # WAIT: a failover would lose none
    calendar = msgspec.json.decode((await reads.user_calendar("jdupont")).body)
    assert [e["id"] for e in calendar["events"]["events"]] == ["191051", "191050"]


async def test_a_master_that_never_saw_the_script_is_taught_it(models: ReadModels, reads: Reads) -> None:
    redis = cluster_client(models.services.redis)
    await redis.execute_command("SCRIPT", "FLUSH", target_nodes=RedisCluster.PRIMARIES)  # as a promoted replica
    report = await models.rebuild_all()
    assert report.documents_written > 10
    await models.services.pool.execute("UPDATE schedulesy.event SET name = 'Moved' WHERE event_id = 191050")
    await redis.execute_command("SCRIPT", "FLUSH", target_nodes=RedisCluster.PRIMARIES)
    await models.apply({Topic.EVENT: {"191050"}})
    calendar = msgspec.json.decode((await reads.user_calendar("jdupont")).body)
    assert {e["name"] for e in calendar["events"]["events"] if e["id"] == "191050"} == {"Moved"}


async def test_any_listed_node_will_do_when_the_first_is_down(redis_cluster: LocalCluster) -> None:
    client = create_redis(f"redis://127.0.0.1:{free_port()}/0,{redis_cluster.url}", "cluster")
    try:
        assert await client.set("schedulesy-test-seeds", "1")
        assert len(cluster_client(client).get_primaries()) == 3
        await client.delete("schedulesy-test-seeds")
    finally:
        await client.aclose()


def test_several_nodes_need_cluster_mode() -> None:
    with pytest.raises(SettingsError, match="SCHEDULESY_REDIS_MODE=cluster"):
        load_settings({"SCHEDULESY_REDIS_URL": "redis://a:6379/0,redis://b:6379/0"})
    assert load_settings({"SCHEDULESY_REDIS_URL": "redis://a:6379/0,redis://b:6379/0",
                          "SCHEDULESY_REDIS_MODE": "cluster"}).redis_mode == "cluster"


@pytest.fixture
async def stream(settings: Settings, redis: RedisClient) -> AsyncIterator[InvalidationStream]:
    tracked = InvalidationStream(
        settings.redis_url, tracked_prefixes(Keys(settings.redis_prefix)), LocalCopies(), settings.redis_mode
    )
    tracked.start()
    await eventually(lambda: tracked.copies.enabled, "the invalidation stream is established")
    yield tracked
    await tracked.stop()


def one_key_per_master(redis: RedisCluster, keys: Keys) -> list[str]:
    by_master: dict[str, str] = {}
    for number in range(1000, 2000):
        key = keys.resource_node(str(number))
        node = redis.get_node_from_key(key)
        assert node is not None
        by_master.setdefault(node.name, key)
    assert len(by_master) == 3
    return list(by_master.values())


async def copy(stream: InvalidationStream, key: str) -> None:
    async def load() -> str:
        return "copied"

    await stream.copies.get(key, load, lambda _: 1)
    assert stream.copies.holds(key)


def dropped(stream: InvalidationStream, key: str) -> Callable[[], bool]:
    return lambda: not stream.copies.holds(key)


async def test_a_write_on_any_master_drops_the_copy(
    stream: InvalidationStream, redis: RedisClient, settings: Settings
) -> None:
    cluster = cluster_client(redis)
    for key in one_key_per_master(cluster, Keys(settings.redis_prefix)):
        await copy(stream, key)
        await cluster.hset(key, "d", b"new")
        await eventually(dropped(stream, key), f"the copy of {key} is dropped")


async def test_after_a_failover_copies_are_dropped_and_the_new_master_invalidates(
    stream: InvalidationStream, redis: RedisClient, settings: Settings, redis_cluster: LocalCluster
) -> None:
    cluster = cluster_client(redis)
    key = one_key_per_master(cluster, Keys(settings.redis_prefix))[0]
    await copy(stream, key)
    sessions = stream.sessions
    replica = redis_cluster.replica_of(redis_cluster.master_of(key))
    # A manual failover: the old master lives on as a replica, its tracking connection still open.
    redis_cluster.fail_over(replica)
    await eventually(lambda: stream.sessions > sessions and stream.copies.enabled,
                     "the stream follows the new master")
    assert not stream.copies.holds(key)
    await asyncio.to_thread(redis_cluster.wait_healthy)
    assert redis_cluster.master_of(key) == replica
    await copy(stream, key)
    await cluster.hset(key, "d", b"newer")  # the client finds the new master (MOVED)
    await eventually(lambda: not stream.copies.holds(key), "the new master's invalidation drops the copy")
