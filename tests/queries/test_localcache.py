"""In-process copies of read models, invalidated by Redis client tracking (queries/localcache.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from projections.readmodels import ReadModels
from queries.localcache import InvalidationStream, LocalCopies
from queries.reads import Reads, tracked_prefixes
from schedulesy import embedded
from schedulesy.changes import Topic
from schedulesy.keys import Keys
from schedulesy.services import RedisClient
from schedulesy.settings import Settings
from tests.fixtures.seeded import Seeded
from tests.fixtures.waiting import GUARD_SECONDS, eventually


def loader(value: str, calls: list[str]) -> Callable[[], Awaitable[str]]:
    async def load() -> str:
        calls.append(value)
        return value

    return load


def one_byte(_: object) -> int:
    return 1


async def test_a_copy_is_served_from_memory_until_its_key_changes() -> None:
    copies = LocalCopies(max_bytes=1000)
    copies.enable()
    calls: list[str] = []
    assert await copies.get("k", loader("v1", calls), one_byte) == "v1"
    assert await copies.get("k", loader("v2", calls), one_byte) == "v1"
    copies.invalidate([b"k"])
    assert await copies.get("k", loader("v2", calls), one_byte) == "v2"
    assert calls == ["v1", "v2"]
    assert copies.hits == 1


async def test_a_value_read_before_an_invalidation_is_not_kept() -> None:
    """The race the tracking docs warn about: read old value, key changes, then store → stale."""
    copies = LocalCopies(max_bytes=1000)
    copies.enable()
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow_old_value() -> str:
        reading.set()
        await release.wait()
        return "old"

    task = asyncio.create_task(copies.get("k", slow_old_value, one_byte))
    await reading.wait()
    copies.invalidate([b"k"])  # the write happened while the read was on the wire
    release.set()
    assert await task == "old"  # this caller gets what it read...
    calls: list[str] = []
    assert await copies.get("k", loader("new", calls), one_byte) == "new"  # ...but nobody after it
    assert calls == ["new"]


async def test_a_flush_during_a_load_also_cancels_its_store() -> None:
    copies = LocalCopies(max_bytes=1000)
    copies.enable()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "before-flush"

    task = asyncio.create_task(copies.get("k", slow, one_byte))
    await asyncio.sleep(0)
    copies.invalidate(None)  # FLUSHDB, or the stream restarting
    release.set()
    await task
    assert copies.bytes == 0


async def test_nothing_is_kept_while_the_invalidation_stream_is_down() -> None:
    copies = LocalCopies(max_bytes=1000)
    calls: list[str] = []
    await copies.get("k", loader("v1", calls), one_byte)
    await copies.get("k", loader("v2", calls), one_byte)
    assert calls == ["v1", "v2"]
    copies.enable()
    await copies.get("k", loader("v3", calls), one_byte)
    copies.disable()
    assert await copies.get("k", loader("v4", calls), one_byte) == "v4"


async def test_memory_is_bounded_least_recently_used_first() -> None:
    copies = LocalCopies(max_bytes=80)
    copies.enable()
    calls: list[str] = []
    for key in ("a", "b", "c", "d"):
        await copies.get(key, loader(key, calls), lambda _: 10)
    await copies.get("a", loader("a2", calls), lambda _: 10)  # a is now the most recent
    for key in ("e", "f", "g", "h", "i"):
        await copies.get(key, loader(key, calls), lambda _: 10)
    assert copies.bytes <= 80
    assert await copies.get("a", loader("a3", calls), lambda _: 10) == "a"
    assert await copies.get("b", loader("b2", calls), lambda _: 10) == "b2"
    huge: list[str] = []
    await copies.get("huge", loader("x", huge), lambda _: 70)  # more than an eighth: never kept
    await copies.get("huge", loader("x", huge), lambda _: 70)
    assert huge == ["x", "x"]


@pytest.fixture
async def stream(settings: Settings, redis: RedisClient) -> AsyncIterator[InvalidationStream]:
    copies = LocalCopies()
    tracked = InvalidationStream(
        settings.redis_url, tracked_prefixes(Keys(settings.redis_prefix)), copies, settings.redis_mode
    )
    tracked.start()
    await eventually(lambda: copies.enabled, "the invalidation stream is established")
    yield tracked
    await tracked.stop()


@pytest.mark.cluster_too
async def test_any_write_to_a_copied_key_in_redis_drops_its_copy(
    stream: InvalidationStream, redis: RedisClient, settings: Settings
) -> None:
    key = Keys(settings.redis_prefix).resource_node("1616")
    calls: list[str] = []
    await stream.copies.get(key, loader("v1", calls), one_byte)
    await redis.hset(key, "d", b"new")
    await eventually(lambda: not stream.copies.holds(key), "the copy is dropped")
    other = Keys(settings.redis_prefix).ics_event("1910500-0-0.abc")  # a family nobody copies: not tracked
    await stream.copies.get(other, loader("v1", calls), one_byte)
    await redis.set(other, b"x")
    await asyncio.sleep(0.05)
    assert stream.copies.holds(other)
    await redis.delete(other)


async def test_a_flushed_database_drops_every_copy(settings: Settings, tmp_path: Path) -> None:
    # FLUSHDB on a server of this test's own: the session's Redis database may be shared.
    try:
        url = embedded.start_embedded_redis(tmp_path)
    except embedded.EmbeddedUnavailable as exc:
        pytest.skip(str(exc))
    copies = LocalCopies()
    tracked = InvalidationStream(url, tracked_prefixes(Keys(settings.redis_prefix)), copies)
    tracked.start()
    client = Redis.from_url(url)
    try:
        await eventually(lambda: copies.enabled, "the invalidation stream is established")
        calls: list[str] = []
        await copies.get(Keys(settings.redis_prefix).calendar("abc"), loader("a", calls), one_byte)
        await client.flushdb()
        await eventually(lambda: copies.bytes == 0, "the copies are flushed")
    finally:
        await client.aclose()
        await tracked.stop()


async def test_with_redis_unreachable_the_stream_stays_down_and_reads_go_through(settings: Settings) -> None:
    copies = LocalCopies()
    tracked = InvalidationStream("redis://127.0.0.1:1/0", tracked_prefixes(Keys(settings.redis_prefix)), copies)
    tracked.start()
    await asyncio.sleep(0.3)
    assert not copies.enabled
    calls: list[str] = []
    await copies.get("k", loader("v1", calls), one_byte)
    await copies.get("k", loader("v2", calls), one_byte)
    assert calls == ["v1", "v2"]
    await tracked.stop()


async def test_a_stream_stopped_while_it_connects_still_ends(settings: Settings) -> None:
    """The app stops its stream at shutdown, maybe right after starting it: a cancellation that
    lands while redis-py opens a connection can be swallowed there; stop() must end it anyway."""
    for step in range(12):
        copies = LocalCopies()
        tracked = InvalidationStream(settings.redis_url, tracked_prefixes(Keys(settings.redis_prefix)), copies)
        tracked.start()
        await asyncio.sleep(step * 0.0005)  # anywhere from before the connection to within the handshake
        stopping = asyncio.ensure_future(tracked.stop())
        done, _ = await asyncio.wait({stopping}, timeout=GUARD_SECONDS)
        assert done, f"the stream still runs {step * 0.5:g} ms after its start"
        assert not copies.enabled


def app_reads(api: AsyncTestClient) -> Reads:
    return api.app.state.queries.reads


@pytest.mark.cluster_too
async def test_the_api_serves_repeated_reads_from_memory_and_sees_the_projectors_writes(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool, read_models: ReadModels
) -> None:
    path = f"/api/calendar/{seeded.owner}.json"
    reads = app_reads(api)
    # started by the app's start-up, before any request
    await eventually(lambda: reads.copies.enabled, "the app's invalidation stream is established")
    first = await api.get(path, headers=seeded.owner_headers)
    await api.get(path, headers=seeded.owner_headers)  # copied now: the first read's own store invalidated it
    hits = reads.copies.hits
    again = await api.get(path, headers=seeded.owner_headers)
    assert reads.copies.hits == hits + 1  # the calendar (the user's selection is always read from Redis)
    assert again.content == first.content

    await pool.execute("UPDATE schedulesy.event SET name = 'Renamed', sequence = 1 WHERE event_id = 191050")
    await read_models.apply({Topic.EVENT: {"191050"}})

    async def renamed() -> bool:
        response = await api.get(path, headers=seeded.owner_headers)
        return "Renamed" in response.text

    await eventually(renamed, "the calendar shows the projector's new document")
