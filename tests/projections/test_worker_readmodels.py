"""End to end through the running worker with the real read models: SQL write → Redis document.

Redis is read raw here (no read-through), so a document can only be there because the worker put it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from projections import changelog
from projections.builders.document import StoredDocument, from_wire
from projections.builders.selections import decode_user
from projections.readmodels import ReadModels
from projections.worker import Projector, run_rebuild_command
from schedulesy.changes import Projection
from schedulesy.services import Services
from schedulesy.settings import Settings
from tests.fixtures.mirror import GROUP, ROOM, insert_access, insert_user, seed_university
from tests.fixtures.projector import FAST, last_change, stop_task
from tests.fixtures.waiting import GUARD_SECONDS, eventually

pytestmark = pytest.mark.cluster_too


async def stored(services: Services, key: str) -> StoredDocument | None:
    data = await services.redis.hget(key, "d")
    return from_wire(data) if isinstance(data, bytes) else None


async def calendar_in_redis(services: Services, username: str) -> list[str] | None:
    """Event ids of the user's calendar as the worker stored it, or None when it is not there."""
    user = await stored(services, services.keys.user(username))
    if user is None:
        return None
    calendar = await stored(services, services.keys.calendar(decode_user(user.body).selection_hash))
    if calendar is None:
        return None
    return [event["id"] for event in msgspec.json.decode(calendar.body)["events"]["events"]]


@pytest.fixture
async def worker(services: Services) -> AsyncIterator[Projector]:
    projector = Projector(services, **FAST)  # the production applier: the read models
    task = asyncio.create_task(projector.run())
    await asyncio.wait_for(projector.leading.wait(), GUARD_SECONDS)
    yield projector
    await stop_task(task)


async def test_the_worker_applies_with_the_read_models(worker: Projector) -> None:
    assert isinstance(worker.applier, ReadModels)


async def test_a_direct_sql_write_to_w_edtperso_updates_the_users_calendar_through_the_running_worker(
    services: Services, worker: Projector
) -> None:
    await seed_university(services.pool)
    await insert_user(services.pool, "jdupont", GROUP)

    async def calendar_is(expected: list[str]) -> bool:
        return await calendar_in_redis(services, "jdupont") == expected

    await eventually(lambda: calendar_is(["191051", "191050"]), "the group's calendar in Redis")
    await services.pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = 'jdupont'", ROOM)

    await eventually(lambda: calendar_is(["191050"]), "the room's calendar in Redis")


async def test_a_revoked_access_disappears_from_redis_through_the_running_worker(
    services: Services, worker: Projector
) -> None:
    await seed_university(services.pool)
    await insert_user(services.pool, "jdupont", GROUP)
    key = await insert_access(services.pool, "jdupont")

    async def access_stored(expected: bool) -> bool:
        stored = await services.redis.hexists(services.keys.access(key), "d")
        return stored == expected

    await eventually(lambda: access_stored(True), "the access in Redis")
    await services.pool.execute("DELETE FROM schedulesy.access WHERE key = $1::uuid", key)

    await eventually(lambda: access_stored(False), "the access gone from Redis")
    assert await services.redis.hexists(services.keys.access(key), "g")  # a tombstone


async def test_schedulesy_rebuild_writes_the_read_models_and_checkpoints_so_the_worker_replays_nothing(
    services: Services, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed_university(services.pool)
    await insert_user(services.pool, "jdupont", GROUP)

    assert await run_rebuild_command(settings) == 0

    assert await calendar_in_redis(services, "jdupont") == ["191051", "191050"]
    stored = await changelog.load_stored(services.pool, Projection.READ_MODELS)
    assert stored.position == await last_change(services.pool)
    assert "rebuilt read models" in capsys.readouterr().err
    projector = Projector(services, **FAST)
    task = asyncio.create_task(projector.run())
    try:
        await eventually(lambda: projector.rounds >= 1, "a first catch-up round")
        assert projector.batches == 0
    finally:
        await stop_task(task)
