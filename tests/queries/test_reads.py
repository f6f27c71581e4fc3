"""The read facade (queries/reads.py): read-through from Postgres on a miss, one build for
concurrent misses, Redis down, and ids refused before any look-up."""

from __future__ import annotations

import asyncio

import pytest

from projections.builders.document import StoredDocument
from projections.readmodels import ReadModels
from queries.reads import Reads
from schedulesy import db
from schedulesy.selection import Selection
from schedulesy.services import Services, create_redis
from tests.fixtures.infra import delete_keys
from tests.fixtures.mirror import ROOM, TEACHER, TEACHER_EMAIL, insert_access
from tests.fixtures.reads import access_feed, reads_over, user_feed

pytestmark = pytest.mark.cluster_too


async def every_read(reads: Reads, key: str) -> dict[str, tuple[int, str, bytes]]:
    """The bodies of every read model the standard mirror has."""
    documents = {
        "node-root": await reads.resource_node("classroom"),
        "node-room": await reads.resource_node(ROOM),
        "events-room": await reads.resource_events(ROOM, anonymous=False),
        "public-room": await reads.resource_events(ROOM, anonymous=True),
        "public-teacher": await reads.resource_events(TEACHER, anonymous=True),
        "calendar": await reads.user_calendar("jdupont"),
        "ics": await user_feed(reads, "jdupont"),
        "access-calendar": await reads.access_calendar(key),
        "access-ics": await access_feed(reads, key),
        "email": await reads.instructors_by_email(TEACHER_EMAIL),
    }
    return {name: (doc.status, doc.etag, doc.body) for name, doc in documents.items() if doc is not None}


async def test_every_read_is_still_right_after_redis_is_flushed(models: ReadModels, reads: Reads) -> None:
    key = await insert_access(models.services.pool, "jdupont")
    await models.rebuild_all()
    before = await every_read(reads, key)
    assert len(before) == 10
    await delete_keys(models.services.redis, models.services.keys.prefix)
    after = await every_read(reads_over(ReadModels(models.services)), key)
    assert after == before


async def test_reads_are_answered_from_postgres_when_redis_is_unreachable(models: ReadModels, reads: Reads) -> None:
    key = await insert_access(models.services.pool, "jdupont")
    expected = await every_read(reads, key)
    assert len(expected) == 10
    dead = create_redis("redis://127.0.0.1:1/0")
    try:
        services = Services(models.settings, models.services.pool, dead, models.keys)
        assert await every_read(reads_over(ReadModels(services)), key) == expected
    finally:
        await dead.aclose()


async def test_concurrent_misses_share_one_build(reads: Reads, monkeypatch: pytest.MonkeyPatch) -> None:
    on_demand = reads.models.on_demand
    build = on_demand.selection_calendar
    builds = 0

    async def counted(selection: Selection) -> StoredDocument:
        nonlocal builds
        builds += 1
        return await build(selection)

    monkeypatch.setattr(on_demand, "selection_calendar", counted)
    documents = await asyncio.gather(*(reads.user_calendar("jdupont") for _ in range(20)))
    # One build; a caller whose Redis read came back after it was stored reads the stored copy.
    assert builds == 1
    assert all(d is not None and d.body == documents[0].body for d in documents) and documents[0] is not None
    assert not reads._inflight


async def test_malformed_ids_are_refused_without_touching_postgres(services: Services, database_url: str) -> None:
    closed = await db.create_pool(database_url, min_size=1, max_size=1)
    await closed.close()  # any query would raise
    reads = reads_over(ReadModels(Services(services.settings, closed, services.redis, services.keys)))
    assert await reads.resource_node("../etc") is None
    assert await reads.resource_events("1616;DROP", anonymous=True) is None
    assert await access_feed(reads, "not-a-uuid") is None
    assert await reads.access_calendar("") is None
    assert await reads.user_calendar("x" * 33) is None
    assert (await reads.instructors_by_email(" ")).body == b"[]"
