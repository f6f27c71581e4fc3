"""The projector's side of the read models: what ``apply`` rebuilds and deletes, full rebuilds, how
documents are stored (versions, put-if-absent, TTLs). Documents are read back through the query
side's facade, without in-memory copies (no invalidation stream runs here)."""

from __future__ import annotations

import asyncio
import datetime as dt

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from projections.builders.document import Built, Stamp, StoredDocument
from projections.readmodels import ReadModels
from projections.readmodels.batch import Batch, snapshot
from projections.readmodels.store import GONE, NOT_FOUND_TTL, TOMBSTONE_TTL
from queries.reads import Reads
from schedulesy.changes import Topic
from schedulesy.keys import Keys
from schedulesy.selection import Selection
from schedulesy.services import Services
from tests.fixtures.mirror import (
    GROUP, ROOM, SUBJECT, TEACHER, Ev, insert_access, insert_events, insert_user, seed_university,
)
from tests.fixtures.reads import access_feed, reads_over, user_feed

pytestmark = pytest.mark.cluster_too


class FakeClock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def events_of(document) -> list[str]:
    return [e["id"] for e in msgspec.json.decode(document.body)["events"]["events"]]


async def test_apply_after_a_direct_sql_write_to_w_edtperso_updates_the_calendar(
    models: ReadModels, reads: Reads
) -> None:
    await models.rebuild_all()
    assert events_of(await reads.user_calendar("jdupont")) == ["191051", "191050"]
    await models.services.pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = 'jdupont'", ROOM)
    report = await models.apply({Topic.USER: {"jdupont"}})
    assert report.documents_written >= 3  # user document, calendar, feed
    assert events_of(await reads.user_calendar("jdupont")) == ["191050"]
    assert (await reads.user_selection("jdupont")).resources == (ROOM,)


async def test_a_rebuild_of_unchanged_data_keeps_etags_and_dates(services: Services) -> None:
    await seed_university(services.pool)
    await insert_user(services.pool, "jdupont", GROUP)
    key = await insert_access(services.pool, "jdupont")
    clock = FakeClock(1_700_000_000)
    models = ReadModels(services, clock=clock)
    reads = reads_over(models)
    first = await models.rebuild_all()

    async def documents() -> dict[str, StoredDocument | None]:
        return {
            "calendar": await reads.user_calendar("jdupont"), "ics": await user_feed(reads, "jdupont"),
            "node": await reads.resource_node("6000"), "events": await reads.resource_events(GROUP, False),
        }

    before = await documents()
    assert {d.last_modified for d in before.values()} == {1_700_000_000}
    clock.now += 60  # a rewrite would show as a later Last-Modified
    second = await models.rebuild_all()
    assert second.documents_written == 0 and second.documents_unchanged == first.documents_written
    after = await documents()
    for name, document in before.items():
        assert (after[name].etag, after[name].last_modified) == (document.etag, document.last_modified), name
    assert await access_feed(reads, key) is not None


async def test_an_event_change_reaches_resource_documents_and_calendars(models: ReadModels, reads: Reads) -> None:
    await models.rebuild_all()
    pool = models.services.pool
    await pool.execute("UPDATE schedulesy.event SET name = 'TP annulé' WHERE event_id = 191050")
    await models.apply({Topic.EVENT: {"191050"}})
    for document in (
        await reads.resource_events(ROOM, False), await reads.resource_events(TEACHER, False),
        await reads.user_calendar("jdupont"),
    ):
        names = {e["id"]: e["name"] for e in msgspec.json.decode(document.body)["events"]["events"]}
        assert names["191050"] == "TP annulé"
    assert b"SUMMARY:TP annul" in (await user_feed(reads, "jdupont")).body


async def test_a_batch_lets_other_tasks_run_between_two_documents(
    models: ReadModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's heartbeat and AMQP consumer share the projector's event loop. A batch that built
    all its documents in one stretch held them for seconds under load: the heartbeat timed out,
    which drops the session and the batch in flight, and a message waited for the whole batch."""
    await models.rebuild_all()
    turns = 0

    async def another_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    seen: list[int] = []
    build_events, build_node = models.documents.events_documents, models.documents.node

    def events_documents(batch: Batch, ext_id: str) -> tuple[Built, Built] | None:
        seen.append(turns)
        return build_events(batch, ext_id)

    def node(batch: Batch, ext_id: str) -> Built | None:
        seen.append(turns)
        return build_node(batch, ext_id)

    monkeypatch.setattr(models.documents, "events_documents", events_documents)
    monkeypatch.setattr(models.documents, "node", node)
    task = asyncio.create_task(another_task())
    try:
        await asyncio.sleep(0)
        await models.apply({Topic.RESOURCE: {ROOM, TEACHER}, Topic.TIMETABLE: {GROUP, SUBJECT}})
    finally:
        task.cancel()
    assert len(seen) >= 6
    assert len(set(seen)) == len(seen), "the other task never ran between two documents"


async def test_a_timetable_change_updates_selectable_on_the_parent_node(models: ReadModels, reads: Reads) -> None:
    await models.rebuild_all()

    def selectable(document) -> dict[str, bool]:
        return {c["name"]: c["selectable"] for c in msgspec.json.decode(document.body)["children"]}

    assert selectable(await reads.resource_node("6000"))["M2 Biotechnologie Pro"] is False
    await models.services.pool.execute("INSERT INTO schedulesy.timetable VALUES ('32292', 191050)")
    await models.apply({Topic.TIMETABLE: {"32292"}})
    assert selectable(await reads.resource_node("6000"))["M2 Biotechnologie Pro"] is True
    assert events_of(await reads.resource_events("32292", False)) == ["191050"]


async def test_a_new_event_in_a_selected_timetable_reaches_the_calendar(models: ReadModels, reads: Reads) -> None:
    await models.rebuild_all()
    await insert_events(models.services.pool, [Ev(191060, dt.datetime(2020, 1, 20, 8, 0), activity_id=65860)])
    await models.apply({Topic.EVENT: {"191060"}, Topic.TIMETABLE: {ROOM, TEACHER, GROUP}})
    assert events_of(await reads.user_calendar("jdupont")) == ["191051", "191050", "191060"]


async def test_deleted_resource_loses_its_documents(models: ReadModels, reads: Reads) -> None:
    keys: Keys = models.keys
    redis = models.services.redis
    await models.rebuild_all()
    assert await redis.exists(keys.resource_node("1617"), keys.resource_events("1617")) == 2
    await models.services.pool.execute("DELETE FROM schedulesy.resource WHERE ext_id = '1617'")
    report = await models.apply({Topic.RESOURCE: {"1617"}})
    assert report.documents_deleted == 3
    for key in (keys.resource_node("1617"), keys.resource_events("1617"), keys.resource_public_events("1617")):
        assert await models.store.read(key) is GONE  # a tombstone: no older build can bring it back
        assert 0 < await redis.ttl(key) <= TOMBSTONE_TTL
    assert await reads.resource_node("1617") is None


async def test_revoked_access_and_deleted_user_disappear(models: ReadModels, reads: Reads) -> None:
    pool, redis, keys = models.services.pool, models.services.redis, models.keys
    key = await insert_access(pool, "jdupont", "phone")
    await models.apply({Topic.ACCESS: {key}, Topic.USER: {"jdupont"}})
    assert await redis.exists(keys.access(key)) == 1
    assert (await reads.access_grant(key)).username == "jdupont"
    await pool.execute("DELETE FROM schedulesy.access WHERE key = $1::uuid", key)
    await pool.execute("DELETE FROM public.w_edtperso WHERE uid = 'jdupont'")
    await models.apply({Topic.ACCESS: {key}, Topic.USER: {"jdupont"}})
    assert [await models.store.read(k) for k in (keys.access(key), keys.user("jdupont"))] == [GONE, GONE]
    assert await access_feed(reads, key) is None
    assert await reads.user_calendar("jdupont") is None


async def access_reads(reads: Reads, key: str) -> list[object]:
    return [await reads.access_grant(key), await reads.access_calendar(key), await access_feed(reads, key)]


async def test_an_access_whose_owner_loses_their_legacy_row_is_not_found(models: ReadModels, reads: Reads) -> None:
    """Another tool deleted the row (or renamed its uid): the key answers 404, never an empty feed
    that would make calendar clients delete every event."""
    pool, redis, keys = models.services.pool, models.services.redis, models.keys
    key = await insert_access(pool, "jdupont")
    await models.rebuild_all()
    assert await redis.exists(keys.access(key)) == 1
    await pool.execute("DELETE FROM public.w_edtperso WHERE uid = 'jdupont'")
    await models.apply({Topic.USER: {"jdupont"}})  # only the user topic: the access row did not change
    assert await models.store.read(keys.access(key)) is GONE
    assert await access_reads(reads, key) == [None, None, None]
    assert await models.store.read(keys.access(key)) is GONE  # the read-through stored no grant either


async def test_an_access_change_for_an_owner_without_legacy_row_deletes_its_document(
    models: ReadModels, reads: Reads
) -> None:
    pool, redis, keys = models.services.pool, models.services.redis, models.keys
    key = await insert_access(pool, "nobody")
    await redis.hset(keys.access(key), mapping={"d": b"stale", "v": "stale"})
    report = await models.apply({Topic.ACCESS: {key}})
    assert report.documents_deleted == 1 and await models.store.read(keys.access(key)) is GONE
    assert await access_reads(reads, key) == [None, None, None]


async def test_an_access_of_an_owner_without_legacy_row_is_not_found_on_read_through(
    models: ReadModels, reads: Reads
) -> None:
    key = await insert_access(models.services.pool, "nobody")
    assert await access_reads(reads, key) == [None, None, None]
    # remembered as not found for a short while: the next guess costs no Postgres query
    assert await models.store.read(models.keys.access(key)) is GONE
    assert 0 < await models.services.redis.ttl(models.keys.access(key)) <= NOT_FOUND_TTL


async def test_a_rebuild_drops_the_access_of_an_owner_without_legacy_row(models: ReadModels, reads: Reads) -> None:
    pool, redis, keys = models.services.pool, models.services.redis, models.keys
    orphan, kept = await insert_access(pool, "nobody"), await insert_access(pool, "jdupont")
    await redis.hset(keys.access(orphan), mapping={"d": b"stale", "v": "stale"})
    seen: list[tuple[int, int]] = []
    await models.rebuild_all(lambda done, total: seen.append((done, total)))
    assert await redis.exists(keys.access(orphan)) == 0 and await redis.exists(keys.access(kept)) == 1
    assert seen[-1][0] == seen[-1][1]
    assert await access_feed(reads, orphan) is None


async def test_an_access_comes_back_when_its_owner_gets_a_legacy_row_again(models: ReadModels, reads: Reads) -> None:
    pool = models.services.pool
    key = await insert_access(pool, "mmartin")
    await models.apply({Topic.ACCESS: {key}})
    assert await reads.access_grant(key) is None
    await insert_user(pool, "mmartin", ROOM)
    await models.apply({Topic.USER: {"mmartin"}})
    assert events_of(await reads.access_calendar(key)) == ["191050"]


async def test_the_http_feed_of_an_access_without_legacy_row_is_404_not_an_empty_calendar(
    models: ReadModels, api: AsyncTestClient
) -> None:
    pool = models.services.pool
    orphan = await insert_access(pool, "nobody")
    key = await insert_access(pool, "jdupont")
    await models.rebuild_all()
    await pool.execute("DELETE FROM public.w_edtperso WHERE uid = 'jdupont'")
    await models.apply({Topic.USER: {"jdupont"}})
    for access in (orphan, key):
        for suffix in (".ics", ".json"):
            response = await api.get(f"/api/timetable/{access}{suffix}")
            assert response.status_code == 404, (access, suffix, response.text)
            assert response.json()["code"] == "not_found"


async def test_an_access_follows_its_owners_new_selection(models: ReadModels, reads: Reads) -> None:
    key = await insert_access(models.services.pool, "jdupont")
    await models.rebuild_all()
    assert (await reads.access_grant(key)).selection_hash == Selection.of([GROUP]).hash
    await models.services.pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = 'jdupont'", SUBJECT)
    await models.apply({Topic.USER: {"jdupont"}})
    assert (await reads.access_grant(key)).resources == (SUBJECT,)
    assert events_of(await reads.access_calendar(key)) == ["191051"]


async def test_a_reused_selection_hash_is_rebuilt_when_a_user_picks_it(models: ReadModels, reads: Reads) -> None:
    """A calendar left behind under a hash may be stale: a user choosing it forces a rebuild."""
    redis, keys = models.services.redis, models.keys
    await models.rebuild_all()
    stale_key = keys.calendar(Selection.of([ROOM]).hash)
    await reads.user_calendar("jdupont")  # warm, then plant a stale document under ROOM's hash
    group_calendar = await redis.hget(keys.calendar(Selection.of([GROUP]).hash), "d")
    await redis.hset(stale_key, mapping={"d": group_calendar, "v": "x"})
    await models.services.pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = 'jdupont'", ROOM)
    await models.apply({Topic.USER: {"jdupont"}})
    assert events_of(await reads.user_calendar("jdupont")) == ["191050"]


async def test_a_full_rebuild_drops_stale_documents_but_not_other_keys(models: ReadModels, redis_namespace: str) -> None:
    redis, keys = models.services.redis, models.keys
    someone_else = redis_namespace + "someone-else:key"  # outside the app's prefix
    await redis.hset(keys.user("ghost"), mapping={"d": b"x", "v": "x"})
    await redis.hset(keys.calendar("0" * 32), mapping={"d": b"x", "v": "x"})
    await redis.set(someone_else, "1")
    await redis.set(keys.prefix + "queries:other", "1")
    await models.rebuild_all(lambda done, total: None)
    assert await redis.exists(keys.user("ghost"), keys.calendar("0" * 32)) == 0
    assert await redis.exists(someone_else, keys.prefix + "queries:other") == 2
    assert await redis.exists(keys.user("jdupont"), keys.calendar(Selection.of([GROUP]).hash)) == 2


async def test_rebuild_reports_progress_up_to_the_total(models: ReadModels) -> None:
    seen: list[tuple[int, int]] = []
    await models.rebuild_all(lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


async def test_apply_twice_writes_nothing_the_second_time(models: ReadModels) -> None:
    changes: dict[str, set[str]] = {
        Topic.RESOURCE: {ROOM}, Topic.EVENT: {"191050"}, Topic.TIMETABLE: {GROUP}, Topic.USER: {"jdupont"},
    }
    first = await models.apply(changes)
    second = await models.apply(changes)
    assert first.documents_written > 0
    assert second.documents_written == 0 and second.documents_unchanged == first.documents_written


async def test_a_rebuild_change_rebuilds_everything(models: ReadModels) -> None:
    report = await models.apply({Topic.REBUILD: {"all"}})
    assert report.documents_written > 0
    assert await models.services.redis.exists(models.keys.resource_node(SUBJECT)) == 1


async def test_a_key_of_another_shape_is_replaced_not_fatal(models: ReadModels, reads: Reads) -> None:
    redis, keys = models.services.redis, models.keys
    await redis.set(keys.resource_node("6000"), b"legacy string value")
    assert msgspec.json.decode((await reads.resource_node("6000")).body)["id"] == "6000"
    report = await models.apply({Topic.RESOURCE: {"6000"}})
    assert report.documents_written >= 1
    assert await redis.type(keys.resource_node("6000")) == b"hash"


async def test_a_build_from_an_older_snapshot_never_overwrites_a_newer_one(models: ReadModels, reads: Reads) -> None:
    keys = models.keys
    await models.rebuild_all()
    fresh = await models.store.read(keys.resource_node(ROOM))
    assert isinstance(fresh, StoredDocument)
    stale = msgspec.structs.replace(fresh, body=b'{"stale": true}')
    older = Stamp(1, 0)
    assert await models.store.put(keys.resource_node(ROOM), stale, "stale", older, None) is False
    assert (await reads.resource_node(ROOM)).body == fresh.body


async def test_a_revoked_access_built_from_an_older_snapshot_stays_revoked(models: ReadModels, reads: Reads) -> None:
    """A read-through that read the access just before its DELETE finishes after the projector
    wrote the tombstone: its older stamp loses, the key stays dead."""
    pool, keys = models.services.pool, models.keys
    key = await insert_access(pool, "jdupont")
    async with snapshot(pool) as before_delete:
        pass
    assert await reads.access_grant(key) is not None  # built by read-through
    stale = await models.store.read(keys.access(key))
    assert isinstance(stale, StoredDocument)
    await pool.execute("DELETE FROM schedulesy.access WHERE key = $1::uuid", key)
    await models.apply({Topic.ACCESS: {key}})
    assert await models.store.put(keys.access(key), stale, "stale", before_delete.stamp, None) is False
    assert await reads.access_grant(key) is None


async def test_later_snapshots_have_newer_stamps(models: ReadModels) -> None:
    pool = models.services.pool
    async with snapshot(pool) as first:
        pass
    await pool.execute("UPDATE public.w_edtperso SET ressources = ressources WHERE uid = 'jdupont'")
    async with snapshot(pool) as later:
        pass
    assert later.stamp.newer_than(first.stamp) and not first.stamp.newer_than(later.stamp)
