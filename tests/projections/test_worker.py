"""The projector loop's guarantees, with a small real applier that writes markers to Redis.

Every test runs real Postgres (triggers, NOTIFY, advisory locks) and real Redis. Waits are guards
against a hung loop (generous timeouts), never timing assertions; intervals are passed in short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, MutableMapping, Set
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import pytest
import structlog.testing

from projections import changelog
from projections.changelog import Position
from projections.readmodels.store import ApplyReport
from projections.worker import Projector, rebuild
from queries.health import projection_lag_seconds
from schedulesy.changes import Projection, Topic
from schedulesy.db import connect
from schedulesy.locks import LockClass
from schedulesy.services import Services
from tests.fixtures.projector import FAST, last_change, stop_task
from tests.fixtures.waiting import GUARD_SECONDS, eventually

pytestmark = pytest.mark.cluster_too


class RecordingApplier:
    """Records every batch it is given and counts each (topic, key) applied in Redis.

    ``hold_first`` makes the first call wait until ``release`` is set, so a test can kill the
    worker while a batch is in flight; ``fail_first`` makes the first call raise.
    """

    def __init__(self, services: Services, *, hold_first: bool = False, fail_first: bool = False) -> None:
        self.redis = services.redis
        self.prefix = services.keys.prefix + "test-applied:"
        self.calls: list[dict[str, set[str]]] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = 0
        self.hold_first = hold_first
        self.fail_first = fail_first
        self._attempts = 0

    async def apply(self, changes: Mapping[str, Set[str]]) -> ApplyReport:
        self._attempts += 1
        first = self._attempts == 1
        self.entered.set()
        if first and self.fail_first:
            raise RuntimeError("the read models are having a bad day")
        if first and self.hold_first:
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        self.calls.append({topic: set(keys) for topic, keys in changes.items()})  # before the markers a test waits on
        async with self.redis.pipeline(transaction=False) as pipe:
            for topic, keys in changes.items():
                for key in keys:
                    pipe.incr(self.marker(topic, key))
            await pipe.execute()
        return ApplyReport(documents_written=sum(len(keys) for keys in changes.values()))

    def marker(self, topic: str, key: str) -> str:
        return f"{self.prefix}{topic}:{key}"

    async def times_applied(self, topic: str, key: str) -> int:
        return int(await self.redis.get(self.marker(topic, key)) or 0)

    async def wait_applied(self, topic: str, key: str) -> None:
        async def applied() -> bool:
            return await self.times_applied(topic, key) > 0

        await eventually(applied, f"{topic}:{key} applied")

    def given(self, topic: str) -> set[str]:
        return {key for call in self.calls for key in call.get(topic, ())}


class Running:
    def __init__(self, projector: Projector, task: asyncio.Task[None]) -> None:
        self.projector = projector
        self.task = task

    async def stop(self) -> None:
        """Cancel the loop; it must end (a swallowed cancellation would leave a worker running)."""
        await stop_task(self.task)


StartProjector: TypeAlias = Callable[..., Running]


@pytest.fixture
async def start(services: Services) -> AsyncIterator[StartProjector]:
    """Start projectors as tasks (fast intervals); every one still running is cancelled at the end."""
    running: list[Running] = []

    def start_projector(applier: RecordingApplier, **options: Any) -> Running:
        projector = Projector(services, applier, **{**FAST, **options})
        handle = Running(projector, asyncio.create_task(projector.run()))
        running.append(handle)
        return handle

    yield start_projector
    for handle in running:
        await handle.stop()


async def choose(pool: asyncpg.Pool | asyncpg.Connection, uid: str, ressources: str = "1,2") -> None:
    """What an existing tool does: write ADE's personal-timetable table directly."""
    await pool.execute("INSERT INTO public.w_edtperso (uid, ressources) VALUES ($1, $2)", uid, ressources)


async def checkpoint_row(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT last_xid, last_id, updated_at, heartbeat_at, leader, pending_since FROM schedulesy.projector_checkpoint "
        "WHERE projection = $1", Projection.READ_MODELS,
    )
    assert row is not None
    return row


async def pending_since_set(services: Services, expected: bool) -> bool:
    """Whether the leader's heartbeat says a committed change waits (its own measure of lag)."""
    row = await checkpoint_row(services.pool)
    return (row["pending_since"] is not None) == expected


# -- delivery ----------------------------------------------------------------------------------


async def test_a_direct_sql_write_to_w_edtperso_reaches_the_applier(services: Services, start: StartProjector) -> None:
    applier = RecordingApplier(services)
    running = start(applier)
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)

    await choose(services.pool, "alice")

    await applier.wait_applied(Topic.USER, "alice")
    assert applier.given(Topic.USER) == {"alice"}


async def test_a_change_committed_while_no_worker_listens_is_picked_up_on_start(
    services: Services, start: StartProjector
) -> None:
    await choose(services.pool, "bob")
    applier = RecordingApplier(services)

    start(applier)

    await applier.wait_applied(Topic.USER, "bob")


async def test_a_lost_notification_is_still_processed_by_the_fallback_poll(
    services: Services, start: StartProjector
) -> None:
    applier = RecordingApplier(services)
    running = start(applier, channel="a_channel_nobody_notifies")
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)
    await eventually(lambda: running.projector.rounds >= 1, "the first catch-up round")

    await choose(services.pool, "carol")

    await applier.wait_applied(Topic.USER, "carol")


async def test_the_checkpoint_row_tells_health_where_the_leader_is(services: Services, start: StartProjector) -> None:
    applier = RecordingApplier(services)
    running = start(applier)
    await choose(services.pool, "dave")
    await applier.wait_applied(Topic.USER, "dave")
    last = await last_change(services.pool)

    async def checkpoint_reached() -> bool:
        row = await checkpoint_row(services.pool)
        return Position(row["last_xid"], row["last_id"]) == last

    await eventually(checkpoint_reached, "the checkpoint at the last change")
    row = await checkpoint_row(services.pool)
    assert row["leader"] == running.projector.name
    assert row["heartbeat_at"] is not None
    assert await projection_lag_seconds(services) == 0.0


async def test_the_leader_keeps_beating_while_idle(services: Services, start: StartProjector) -> None:
    running = start(RecordingApplier(services))
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)
    first = (await checkpoint_row(services.pool))["heartbeat_at"]

    async def beat_again() -> bool:
        return (await checkpoint_row(services.pool))["heartbeat_at"] > first

    await eventually(beat_again, "a newer heartbeat")


@contextlib.contextmanager
def info_logs_captured() -> Iterator[list[MutableMapping[str, Any]]]:
    """Info lines captured whatever level the app configured (its tests log at warning only)."""
    config = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        with structlog.testing.capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(wrapper_class=config["wrapper_class"])


async def test_each_batch_logs_one_line_with_its_figures(services: Services, start: StartProjector) -> None:
    applier = RecordingApplier(services)
    with info_logs_captured() as logs:
        start(applier)
        await choose(services.pool, "olivia", "0")
        await services.pool.execute("UPDATE public.w_edtperso SET ressources = '1' WHERE uid = 'olivia'")
        await applier.wait_applied(Topic.USER, "olivia")
        await eventually(lambda: any(e["event"] == "projector.batch" for e in logs), "the batch's log line")

    line = next(e for e in logs if e["event"] == "projector.batch")
    assert line["changes"] in (1, 2) and line["keys"] == 1 and line["topics"] == [Topic.USER]
    assert line["documents_written"] == 1
    assert line["duration_ms"] >= 0 and line["lag_s"] >= 0


# -- gap safety --------------------------------------------------------------------------------


@pytest.mark.parametrize("read_ahead", [True, False], ids=["reading-ahead", "finished-only"])
async def test_a_transaction_that_commits_late_after_a_newer_one_was_processed_is_still_applied(
    services: Services, start: StartProjector, database_url: str, read_ahead: bool
) -> None:
    """The case a checkpoint on id alone gets wrong: the late row has the *smaller* change id."""
    applier = RecordingApplier(services)
    running = start(applier, read_ahead=read_ahead)
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)
    early, late = await connect(database_url), await connect(database_url)
    try:
        early_tx, late_tx = early.transaction(), late.transaction()
        await early_tx.start()
        await early.fetchval("SELECT pg_current_xact_id()")  # the early one gets the older xid
        await late_tx.start()
        await late.execute("INSERT INTO public.w_edtperso (uid, ressources) VALUES ('late', '1')")  # id 1
        await early.execute("INSERT INTO public.w_edtperso (uid, ressources) VALUES ('early', '1')")  # id 2
        await early_tx.commit()
        late_xid, late_id = await late.fetchrow("SELECT xid, id FROM schedulesy.change WHERE key = 'late'")
        early_row = await services.pool.fetchrow("SELECT xid, id FROM schedulesy.change WHERE key = 'early'")
        assert late_id < early_row["id"] and late_xid > early_row["xid"]  # the premise of this test

        await applier.wait_applied(Topic.USER, "early")
        assert await applier.times_applied(Topic.USER, "late") == 0
        await late_tx.commit()

        await applier.wait_applied(Topic.USER, "late")
    finally:
        await early.close()
        await late.close()


async def test_an_open_transaction_holds_the_finished_only_read_back_as_visible_lag_and_loses_nothing(
    services: Services, start: StartProjector, database_url: str
) -> None:
    applier = RecordingApplier(services)
    running = start(applier, read_ahead=False)
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)
    slow = await connect(database_url)
    try:
        slow_tx = slow.transaction()
        await slow_tx.start()
        await slow.fetchval("SELECT pg_current_xact_id()")  # older than the write below, still running
        await choose(services.pool, "held")
        rounds = running.projector.rounds
        await eventually(lambda: running.projector.rounds >= rounds + 3, "three more catch-up rounds")

        assert await applier.times_applied(Topic.USER, "held") == 0
        await eventually(lambda: pending_since_set(services, True), "the leader reporting a pending change")
        assert await projection_lag_seconds(services) > 0
        await slow_tx.rollback()  # finishing, even by rolling back, releases the frontier

        await applier.wait_applied(Topic.USER, "held")
    finally:
        await slow.close()


async def test_a_change_committed_while_an_older_transaction_is_open_is_applied_without_waiting_for_it(
    services: Services, start: StartProjector, database_url: str
) -> None:
    """pg_snapshot_xmin is cluster-wide: a long ADE sync, or any other database's batch job, would
    otherwise hold every user's change back. The checkpoint, though, waits for it."""
    applier = RecordingApplier(services)
    running = start(applier)
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)
    slow = await connect(database_url)
    try:
        slow_tx = slow.transaction()
        await slow_tx.start()
        await slow.fetchval("SELECT pg_current_xact_id()")
        await choose(services.pool, "not-held")

        await applier.wait_applied(Topic.USER, "not-held")
        assert (await changelog.load_stored(services.pool, Projection.READ_MODELS)).position == Position()
        await eventually(lambda: pending_since_set(services, False), "the leader reporting nothing pending")
        await slow.execute("INSERT INTO public.w_edtperso (uid, ressources) VALUES ('slow', '1')")
        await slow_tx.commit()

        await applier.wait_applied(Topic.USER, "slow")
    finally:
        await slow.close()
    last = await last_change(services.pool)
    await eventually(lambda: running.projector.position == last, "the checkpoint at the last change")
    assert await applier.times_applied(Topic.USER, "not-held") == 1


async def test_a_long_transaction_in_another_database_does_not_hold_the_checkpoint_back(
    services: Services, start: StartProjector, server_urls: tuple[str, str]
) -> None:
    applier = RecordingApplier(services)
    running = start(applier)
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)
    elsewhere = await asyncpg.connect(server_urls[0])  # the server's admin database, not ours
    try:
        async with elsewhere.transaction():
            await elsewhere.fetchval("SELECT pg_current_xact_id()")
            await choose(services.pool, "unrelated")
            last = await last_change(services.pool)

            await eventually(lambda: running.projector.position == last, "the checkpoint at the change")
            assert await projection_lag_seconds(services) == 0.0
    finally:
        await elsewhere.close()


async def test_more_changes_above_an_open_transaction_than_a_batch_holds_are_all_applied_once_it_ends(
    services: Services, start: StartProjector, database_url: str
) -> None:
    applier = RecordingApplier(services)
    running = start(applier, batch_size=5)
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)
    users = [f"above{n:02}" for n in range(12)]
    slow = await connect(database_url)
    try:
        slow_tx = slow.transaction()
        await slow_tx.start()
        await slow.fetchval("SELECT pg_current_xact_id()")
        async with services.pool.acquire() as writer, writer.transaction():
            for uid in users:
                await choose(writer, uid)
        await applier.wait_applied(Topic.USER, users[0])
        await slow_tx.rollback()

        for uid in users:
            await applier.wait_applied(Topic.USER, uid)
    finally:
        await slow.close()
    last = await last_change(services.pool)
    await eventually(lambda: running.projector.position == last, "the checkpoint at the last change")


# -- batches -----------------------------------------------------------------------------------


async def test_a_hundred_updates_of_one_key_are_applied_once_per_batch(
    services: Services, start: StartProjector
) -> None:
    await choose(services.pool, "erin", "0")
    for n in range(1, 100):
        await services.pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = 'erin'", str(n))
    assert await services.pool.fetchval("SELECT count(*) FROM schedulesy.change") == 100
    applier = RecordingApplier(services)

    start(applier)

    await applier.wait_applied(Topic.USER, "erin")
    assert applier.calls == [{Topic.USER: {"erin"}}]
    assert await applier.times_applied(Topic.USER, "erin") == 1


async def test_a_backlog_is_applied_in_bounded_batches_in_log_order(services: Services, start: StartProjector) -> None:
    users = [f"user{n:02}" for n in range(25)]
    for uid in users:
        await choose(services.pool, uid)
    applier = RecordingApplier(services)

    start(applier, batch_size=10)

    await applier.wait_applied(Topic.USER, users[-1])
    assert [sorted(call[Topic.USER]) for call in applier.calls] == [users[0:10], users[10:20], users[20:25]]


async def test_a_failing_applier_keeps_the_batch_and_gets_it_again(services: Services, start: StartProjector) -> None:
    await choose(services.pool, "frank")
    applier = RecordingApplier(services, fail_first=True)

    start(applier)

    await applier.wait_applied(Topic.USER, "frank")
    assert applier.given(Topic.USER) == {"frank"}


# -- crashes and restarts ----------------------------------------------------------------------


async def test_a_worker_killed_mid_batch_and_restarted_loses_nothing(services: Services, start: StartProjector) -> None:
    await choose(services.pool, "grace")
    stuck = RecordingApplier(services, hold_first=True)
    first = start(stuck)
    await asyncio.wait_for(stuck.entered.wait(), GUARD_SECONDS)

    await first.stop()  # killed while the batch is being applied

    assert stuck.cancelled == 1
    assert (await changelog.load_stored(services.pool, Projection.READ_MODELS)).position == Position()
    applier = RecordingApplier(services)
    start(applier)
    await applier.wait_applied(Topic.USER, "grace")


async def test_a_worker_whose_connection_dies_mid_batch_reconnects_and_applies_the_batch_again(
    services: Services, start: StartProjector
) -> None:
    await choose(services.pool, "heidi")
    applier = RecordingApplier(services, hold_first=True)
    running = start(applier)
    await asyncio.wait_for(applier.entered.wait(), GUARD_SECONDS)
    dead_pid = running.projector.backend_pid

    await services.pool.execute("SELECT pg_terminate_backend($1)", dead_pid)

    await applier.wait_applied(Topic.USER, "heidi")
    assert applier.cancelled == 1  # the batch in flight was abandoned with its connection...
    assert running.projector.backend_pid != dead_pid  # ...and done again on a new one
    last = await last_change(services.pool)
    await eventually(lambda: running.projector.position == last, "the checkpoint at the last change")
    assert (await changelog.load_stored(services.pool, Projection.READ_MODELS)).position == last


async def test_one_of_two_workers_leads_and_the_standby_takes_over_when_the_leader_stops(
    services: Services, start: StartProjector
) -> None:
    leader_applier, standby_applier = RecordingApplier(services), RecordingApplier(services)
    leader = start(leader_applier)
    await asyncio.wait_for(leader.projector.leading.wait(), GUARD_SECONDS)
    standby = start(standby_applier)
    await eventually(lambda: standby.projector.state == "standby", "the second worker standing by")

    await choose(services.pool, "ivan")
    await leader_applier.wait_applied(Topic.USER, "ivan")
    assert standby_applier.calls == []

    await leader.stop()
    await asyncio.wait_for(standby.projector.leading.wait(), GUARD_SECONDS)
    await choose(services.pool, "judy")

    await standby_applier.wait_applied(Topic.USER, "judy")
    assert "judy" not in leader_applier.given(Topic.USER)
    assert (await checkpoint_row(services.pool))["leader"] == standby.projector.name


async def test_the_standby_takes_over_when_the_leaders_backend_is_terminated(
    services: Services, start: StartProjector
) -> None:
    leader_applier, standby_applier = RecordingApplier(services), RecordingApplier(services)
    leader = start(leader_applier, reconnect_delay=60.0)  # the old leader stays away: the standby must win
    await asyncio.wait_for(leader.projector.leading.wait(), GUARD_SECONDS)
    standby = start(standby_applier)
    await eventually(lambda: standby.projector.state == "standby", "the second worker standing by")

    await services.pool.execute("SELECT pg_terminate_backend($1)", leader.projector.backend_pid)

    await asyncio.wait_for(standby.projector.leading.wait(), GUARD_SECONDS)
    assert not leader.projector.leading.is_set()
    await choose(services.pool, "mallory")
    await standby_applier.wait_applied(Topic.USER, "mallory")


@pytest.mark.parametrize("sigint", [signal.SIG_DFL, signal.SIG_IGN], ids=["foreground", "background-job"])
async def test_schedulesy_worker_stops_cleanly_on_sigterm_and_releases_the_lead(
    services: Services, database_url: str, redis_url: str, sigint: signal.Handlers
) -> None:
    """A shell starts background jobs with SIGINT ignored: SIGTERM must not depend on SIGINT."""
    env = {
        **os.environ,
        "SCHEDULESY_DATABASE_URL": database_url,
        "SCHEDULESY_REDIS_URL": redis_url,
        "SCHEDULESY_REDIS_PREFIX": services.settings.redis_prefix,
        "SCHEDULESY_LOG_FORMAT": "json",
        "SCHEDULESY_LOG_LEVEL": "info",
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("schedulesy")), "worker", "--no-poll",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )
    try:
        async def leading() -> bool:
            return await services.pool.fetchval(
                "SELECT leader IS NOT NULL FROM schedulesy.projector_checkpoint WHERE projection = $1",
                Projection.READ_MODELS,
            ) is True

        await eventually(leading, "the worker process leading")
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), GUARD_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, stderr.decode()
    assert b"projector.stop" in stderr
    lock_free = await services.pool.fetchval(
        "SELECT count(*) = 0 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        LockClass.PROJECTOR_LEADER,
    )
    assert lock_free


# -- pruning and rebuild -----------------------------------------------------------------------


async def test_applied_change_rows_older_than_the_retention_are_pruned_and_recent_ones_kept(
    services: Services, start: StartProjector
) -> None:
    for uid in ("old1", "old2", "recent"):
        await choose(services.pool, uid)
    await services.pool.execute(
        "UPDATE schedulesy.change SET created_at = now() - interval '2 days' WHERE key LIKE 'old%'"
    )
    applier = RecordingApplier(services)

    start(applier, prune_interval=0.05, prune_batch=1)

    async def pruned() -> bool:
        keys = await services.pool.fetch("SELECT key FROM schedulesy.change ORDER BY id")
        return [r["key"] for r in keys] == ["recent"]

    await eventually(pruned, "the old applied rows deleted")


async def test_pruning_never_deletes_a_change_not_yet_applied(services: Services) -> None:
    for uid in ("applied", "pending"):
        await choose(services.pool, uid)
    await services.pool.execute("UPDATE schedulesy.change SET created_at = now() - interval '2 days'")
    row = await services.pool.fetchrow("SELECT xid, id FROM schedulesy.change WHERE key = 'applied'")
    applied = Position(row["xid"], row["id"])

    deleted = await changelog.prune(services.pool, applied, older_than_seconds=86400, limit=100)

    assert deleted == 1
    assert await services.pool.fetchval("SELECT array_agg(key) FROM schedulesy.change") == ["pending"]


class ScriptedRebuilder:
    """A rebuild during which another change commits (after the frontier was taken)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.progress: list[tuple[int, int]] = []

    async def rebuild_all(self, progress: Callable[[int, int], None] | None = None) -> ApplyReport:
        await choose(self.services.pool, "during-rebuild")
        for done in range(3):
            self.progress.append((done + 1, 3))
            if progress is not None:
                progress(done + 1, 3)
        return ApplyReport(documents_written=3)


async def test_a_rebuild_checkpoints_where_it_started_so_changes_during_it_are_replayed(
    services: Services, start: StartProjector
) -> None:
    await choose(services.pool, "before-rebuild")
    before = await last_change(services.pool)
    rebuilder = ScriptedRebuilder(services)

    result = await rebuild(services, rebuilder)

    assert result.checkpoint == before
    assert (await changelog.load_stored(services.pool, Projection.READ_MODELS)).position == before
    assert rebuilder.progress[-1] == (3, 3)
    applier = RecordingApplier(services)
    start(applier)
    await applier.wait_applied(Topic.USER, "during-rebuild")
    assert applier.given(Topic.USER) == {"during-rebuild"}


async def test_a_rebuild_while_a_leader_runs_makes_the_leader_continue_from_the_rebuild_checkpoint(
    services: Services, start: StartProjector
) -> None:
    applier = RecordingApplier(services)
    running = start(applier)
    await choose(services.pool, "first")
    await applier.wait_applied(Topic.USER, "first")

    await rebuild(services, ScriptedRebuilder(services))  # checkpoint set back to just after "first"
    await choose(services.pool, "after-rebuild")

    await applier.wait_applied(Topic.USER, "after-rebuild")
    assert await applier.times_applied(Topic.USER, "during-rebuild") >= 1
    last = await last_change(services.pool)
    await eventually(lambda: running.projector.position == last, "the checkpoint at the last change")


class NoopRebuilder:
    async def rebuild_all(self, progress: Callable[[int, int], None] | None = None) -> ApplyReport:
        return ApplyReport()


async def test_a_rebuild_makes_a_leader_forget_what_it_read_ahead_even_when_the_checkpoint_stays(
    services: Services, start: StartProjector, database_url: str
) -> None:
    """The rebuild may have written older data over what was read ahead: that must be applied again."""
    applier = RecordingApplier(services)
    running = start(applier)
    await asyncio.wait_for(running.projector.leading.wait(), GUARD_SECONDS)
    slow = await connect(database_url)
    try:
        async with slow.transaction():
            await slow.fetchval("SELECT pg_current_xact_id()")  # holds the checkpoint where it is
            await choose(services.pool, "read-ahead")
            await applier.wait_applied(Topic.USER, "read-ahead")

            result = await rebuild(services, NoopRebuilder())

            assert result.checkpoint is None
            assert (await changelog.load_stored(services.pool, Projection.READ_MODELS)).position == Position()

            async def applied_again() -> bool:
                return await applier.times_applied(Topic.USER, "read-ahead") == 2

            await eventually(applied_again, "the change read ahead applied again after the rebuild")
    finally:
        await slow.close()
