"""The projector loop: listen, catch up from the change log, apply to Redis, checkpoint, lead.

One :class:`Projector` per process (``schedulesy worker``). Its life, per connection to Postgres:

1. open a dedicated connection (never a pool one: it holds LISTEN and the leader lock);
2. stand by until ``pg_try_advisory_lock`` succeeds on it — one leader per projection; the lock is
   session-level, so it is released the moment that connection dies and a standby takes over;
3. LISTEN on ``schedulesy_change`` (NOTIFY is only a wake-up), then loop: read the next batch of
   committed changes after the checkpoint (gap-safe, see :mod:`projections.changelog`), coalesce it
   by (topic, key), hand it to the applier (which rebuilds the read models into Redis), and only then
   advance the checkpoint — at-least-once delivery over idempotent builders;
4. wake on a notification or every ``poll_interval`` seconds, whichever comes first, so a lost
   notification costs seconds, never a change; beat every ``heartbeat_interval`` on the same
   connection (that write is the keepalive query too); prune applied log rows now and then.

Two positions, on purpose. The durable checkpoint (``projector_checkpoint``) only ever moves to the
last change of a *finished* transaction — the frontier — so no row below it can appear later. But a
long transaction (an ADE sync) would hold every user's change back behind that frontier, so the loop
also *reads ahead*: it applies committed changes above the frontier at once and remembers, in memory
(:class:`changelog.Ahead`), which transactions it has covered. Forgetting that (a restart) only means
replaying them: at-least-once either way. ``read_ahead=False`` gives the frontier-only loop.

Any trouble with the connection — terminated backend, failed keepalive, timeout — abandons the batch
in flight (its checkpoint does not move), reconnects with backoff and catches up from the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Set
from datetime import datetime, timezone
from typing import Any, Literal, Protocol, TypeAlias

import asyncpg
import msgspec
import structlog

from projections import changelog
from projections.changelog import Position
from projections.readmodels import ReadModels
from projections.readmodels.store import ApplyReport
from schedulesy.changes import CHANNEL, Projection
from schedulesy.db import connect
from schedulesy.progress import ProgressBar
from schedulesy.services import Services, open_services
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

SESSION_RESETS_BACKOFF_AFTER = 30.0
"""A connection that lasted this long (seconds) before failing starts the reconnect backoff afresh."""
ProjectorState: TypeAlias = Literal["stopped", "connecting", "standby", "leading"]


class Applier(Protocol):
    """What the loop hands a coalesced batch to (``ReadModels`` in production)."""

    async def apply(self, changes: Mapping[str, Set[str]]) -> ApplyReport: ...


class Rebuilder(Protocol):
    async def rebuild_all(self, progress: Callable[[int, int], None] | None = None) -> ApplyReport: ...


class ConnectionLost(Exception):
    """The listening connection died: the leader lock went with it."""


class ApplyFailed(Exception):
    """The applier raised: keep the lead, retry the same batch after a pause."""


def read_models(services: Services) -> ReadModels:
    """The production applier."""
    return ReadModels(services)


class Projector:
    """The projector loop for one projection. ``await run()`` runs until cancelled.

    Intervals are parameters so tests and benchmarks can drive the loop fast.
    """

    def __init__(
        self,
        services: Services,
        applier: Applier | None = None,
        *,
        projection: str = Projection.READ_MODELS,
        channel: str = CHANNEL,
        batch_size: int = 5000,
        poll_interval: float = 2.0,
        heartbeat_interval: float = 5.0,
        keepalive_timeout: float = 5.0,
        query_timeout: float = 60.0,
        standby_interval: float = 1.0,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 15.0,
        retry_delay: float = 1.0,
        # Short: a failed apply is mostly Redis away (a failover takes seconds); the read models should
        # follow within seconds of its return, and a retry is one cheap batch.
        max_retry_delay: float = 5.0,
        prune_interval: float = 600.0,
        prune_after: float = 86400.0,
        prune_batch: int = 5000,
        read_ahead: bool = True,
        name: str | None = None,
    ) -> None:
        self.services = services
        self.applier: Applier = applier if applier is not None else read_models(services)
        self.projection = projection
        self.channel = channel
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.keepalive_timeout = keepalive_timeout
        self.query_timeout = query_timeout
        self.standby_interval = standby_interval
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.prune_interval = prune_interval
        self.prune_after = prune_after
        self.prune_batch = prune_batch
        self.read_ahead = read_ahead
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.position = Position()
        self.leading = asyncio.Event()
        """Set while this projector holds the lead (tests and the demo wait on it)."""
        self.state: ProjectorState = "stopped"
        """Where the loop is (logs, tests)."""
        self.backend_pid: int | None = None
        self.batches = 0
        self.rounds = 0
        """Completed catch-up rounds (a round ends when the log has nothing more to give)."""
        self.pending_since: datetime | None = None
        """created_at of the oldest committed change not yet applied, as last seen (health's lag)."""
        self._ahead: changelog.Ahead | None = None
        self._overflow_until: Position | None = None
        self._checkpoint_moved = False
        self._rebuilt_at: datetime | None = None
        self._wake = asyncio.Event()
        self._conn_lock = asyncio.Lock()
        # A logger of its own, made now: it follows the logging configuration of its creation.
        self._log = structlog.get_logger(__name__).bind(projection=projection, worker=self.name)

    # -- the outer loop: one iteration per connection ------------------------------------------

    async def run(self) -> None:
        """Lead or stand by, forever; reconnect (with backoff) whenever the connection fails."""
        delay = self.reconnect_delay
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure of a session is survivable: reconnect
                if time.monotonic() - started > SESSION_RESETS_BACKOFF_AFTER:
                    delay = self.reconnect_delay  # it worked for a while: a fresh failure, not a streak
                self._log.warning("projector.disconnected", error=_describe(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_reconnect_delay)

    async def _session(self) -> None:
        self.state = "connecting"
        async with asyncio.timeout(self.query_timeout):
            conn = await connect(self.services.settings.database_url)
        self.backend_pid = conn.get_server_pid()
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_termination(_: Any) -> None:
            if not lost.done():
                lost.set_result(None)

        conn.add_termination_listener(on_termination)
        self._conn_lock = asyncio.Lock()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._watch(lost))
                tasks.create_task(self._lead(conn, tasks))
        finally:
            self.leading.clear()
            self.state = "stopped"
            await _close(conn)

    async def _watch(self, lost: asyncio.Future[None]) -> None:
        """Turn the connection's death into an error that cancels whatever is in flight."""
        await lost
        raise ConnectionLost("the listening connection was closed")

    async def _query(self, operation: Callable[..., Any], conn: asyncpg.Connection, *args: Any,
                     timeout: float | None = None) -> Any:
        """One statement on the listening connection (the heartbeat and the loop share it)."""
        async with self._conn_lock, asyncio.timeout(timeout or self.query_timeout):
            return await operation(conn, *args)

    # -- leadership ----------------------------------------------------------------------------

    async def _lead(self, conn: asyncpg.Connection, tasks: asyncio.TaskGroup) -> None:
        announced_standby = False
        while not await self._query(changelog.try_lead, conn, self.projection, timeout=self.keepalive_timeout):
            if not announced_standby:
                self.state = "standby"
                self._log.info("projector.standby", retry_every_s=self.standby_interval)
                announced_standby = True
            await asyncio.sleep(self.standby_interval)
        stored = await self._query(changelog.ensure_checkpoint, conn, self.projection)
        self.position, self._rebuilt_at = stored.position, stored.rebuilt_at
        self._ahead, self._overflow_until, self._checkpoint_moved = None, None, False
        await self._query(changelog.beat, conn, self.projection, self.name)
        await conn.add_listener(self.channel, self._on_notify)
        self._log.info("projector.leading", checkpoint_xid=self.position.xid, checkpoint_id=self.position.id)
        self.state = "leading"
        self.leading.set()
        tasks.create_task(self._heartbeat(conn))
        await self._project(conn)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _heartbeat(self, conn: asyncpg.Connection) -> None:
        """Write heartbeat_at on the listening connection: health sees it, and it proves the link."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            async with self._conn_lock, asyncio.timeout(self.keepalive_timeout):
                stored = await changelog.beat(conn, self.projection, self.name, self.pending_since)
                if stored is not None and (stored.position, stored.rebuilt_at) != (self.position, self._rebuilt_at):
                    self._checkpoint_moved = True  # by `schedulesy rebuild`: see _reload
                    self._wake.set()

    # -- the projection loop -------------------------------------------------------------------

    async def _project(self, conn: asyncpg.Connection) -> None:
        retry = self.retry_delay
        next_prune = time.monotonic() + min(self.prune_interval, 10.0)
        while True:
            # Cleared before reading: a notification that arrives mid-batch wakes the next round.
            self._wake.clear()
            try:
                while await self._process_batch(conn):
                    pass  # a backlog: keep going, batch after batch
            except ApplyFailed as exc:
                self._log.error("projector.apply_failed", error=_describe(exc.__cause__ or exc),
                                retry_in_s=retry, exc_info=exc.__cause__)
                await asyncio.sleep(retry)
                retry = min(retry * 2, self.max_retry_delay)
                continue
            retry = self.retry_delay
            self.rounds += 1
            if time.monotonic() >= next_prune:
                await self._prune(conn)
                next_prune = time.monotonic() + self.prune_interval
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()

    async def _process_batch(self, conn: asyncpg.Connection) -> bool:
        """Apply the next batch, then advance the checkpoint; True when there is more to read now."""
        started = time.perf_counter()
        if self._checkpoint_moved:
            await self._reload(conn)
        reading_ahead = self.read_ahead and (self._overflow_until is None or self.position >= self._overflow_until)
        if reading_ahead:
            self._overflow_until = None
            batch = await self._query(changelog.read_visible, conn, self.position, self._ahead, self.batch_size)
        else:
            batch = await self._query(changelog.read_finished, conn, self.position, self.batch_size)
        grouped = changelog.coalesce(batch.changes)
        report = ApplyReport()
        if batch.changes:  # until applied, these are the oldest pending (and stay so if apply fails)
            self.pending_since = min(c.created_at for c in batch.changes)
        if grouped:
            try:
                report = await self.applier.apply(grouped)
            except Exception as exc:
                raise ApplyFailed(str(exc)) from exc
        self.pending_since = batch.pending_since
        checkpoint = batch.safe
        if reading_ahead:
            if batch.complete:
                self._ahead = changelog.Ahead(below=batch.snapshot.xmax, running=batch.snapshot.running)
            else:
                # Cut short: the prefix up to the last change of a finished transaction is applied.
                finished = [c for c in batch.changes if c.xid < batch.snapshot.frontier]
                checkpoint = finished[-1].position if finished else None
                if batch.changes[-1].xid >= batch.snapshot.frontier:
                    # More committed changes wait above an open transaction than a batch holds.
                    # Reading ahead would read the same batch again and again: read only finished
                    # transactions until the checkpoint has passed these changes.
                    self._overflow_until = batch.changes[-1].position
                    self._ahead = None
                    self._log.warning("projector.read_ahead_overflow", frontier_xid=batch.snapshot.frontier)
        if checkpoint is not None and checkpoint > self.position:
            await self._advance(conn, checkpoint)
        if batch.changes:
            self.batches += 1
            self._log.info(
                "projector.batch",
                changes=len(batch.changes),
                keys=changelog.count_keys(grouped),
                topics=sorted(grouped),
                documents_written=report.documents_written,
                documents_deleted=report.documents_deleted,
                documents_unchanged=report.documents_unchanged,
                documents_superseded=report.documents_superseded,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                lag_s=round((datetime.now(timezone.utc) - min(c.created_at for c in batch.changes)).total_seconds(), 3),
                checkpoint_held=checkpoint is None or checkpoint != batch.changes[-1].position,
            )
        return not batch.complete

    async def _advance(self, conn: asyncpg.Connection, checkpoint: Position) -> None:
        """Compare-and-set the checkpoint (under the connection lock, so the heartbeat's view agrees)."""
        async with self._conn_lock, asyncio.timeout(self.query_timeout):
            moved = await changelog.advance_checkpoint(
                conn, self.projection, self.position, checkpoint, self.name, self.pending_since
            )
            if moved:
                self.position = checkpoint
                return
        self._checkpoint_moved = True
        await self._reload(conn)

    async def _reload(self, conn: asyncpg.Connection) -> None:
        """``schedulesy rebuild`` set the checkpoint: continue from there, forgetting what was read
        ahead (the rebuild may have written older data over it), and replay right away."""
        async with self._conn_lock, asyncio.timeout(self.query_timeout):
            stored = await changelog.load_stored(conn, self.projection)
            self.position, self._rebuilt_at = stored.position, stored.rebuilt_at
            self._checkpoint_moved = False
        self._ahead = None
        self._overflow_until = None
        self._wake.set()
        self._log.warning("projector.checkpoint_moved", checkpoint_xid=self.position.xid,
                          checkpoint_id=self.position.id)

    async def _prune(self, conn: asyncpg.Connection, max_rounds: int = 20) -> int:
        """Delete applied change rows older than ``prune_after``, a small batch at a time."""
        pruned = 0
        for _ in range(max_rounds):
            deleted = await self._query(changelog.prune, conn, self.position, self.prune_after, self.prune_batch)
            pruned += deleted
            if deleted < self.prune_batch:
                break
        if pruned:
            self._log.info("projector.pruned", rows=pruned)
        return pruned


async def _close(conn: asyncpg.Connection) -> None:
    """Close politely when possible; a dead or stuck connection is simply dropped."""
    try:
        async with asyncio.timeout(2.0):
            await conn.close()
    except asyncio.CancelledError:
        conn.terminate()
        raise
    except Exception:
        conn.terminate()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return _describe(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}"[:300]


# -- `schedulesy worker` -------------------------------------------------------------------------


async def run_projector(settings: Settings, **options: Any) -> None:
    """The projector of ``schedulesy worker``: runs until cancelled; SIGTERM stops it like Ctrl-C."""
    with _sigterm_as_interrupt():
        async with open_services(settings) as services:
            projector = Projector(services, **options)
            log.info("projector.start", worker=projector.name, poll_interval_s=projector.poll_interval)
            try:
                await projector.run()
            finally:
                log.info("projector.stop", worker=projector.name)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Give SIGTERM (a container stop) the path Ctrl-C takes: the batch in flight is abandoned, the
    lock released, the connections closed, and ``schedulesy worker`` exits 0."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, _interrupt_like_ctrl_c)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _interrupt_like_ctrl_c() -> None:
    """Hand over to asyncio.run's own SIGINT handler (it cancels the main task and then raises
    KeyboardInterrupt); where it is not installed — SIGINT ignored, as in a background job — raise
    KeyboardInterrupt here: asyncio.run then cancels every task before it returns."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler is not signal.default_int_handler:
        handler(signal.SIGINT, None)
        return
    raise KeyboardInterrupt


# -- `schedulesy rebuild` ------------------------------------------------------------------------


class RebuildResult(msgspec.Struct, frozen=True):
    report: ApplyReport
    checkpoint: Position | None
    seconds: float


async def rebuild(
    services: Services,
    rebuilder: Rebuilder,
    progress: Callable[[int, int], None] | None = None,
    *,
    projection: str = Projection.READ_MODELS,
) -> RebuildResult:
    """Rebuild every read model, then set the checkpoint to where the rebuild started from.

    The frontier is taken *before* the rebuild reads anything, so every change up to it is in what
    the rebuild wrote; changes after it are replayed by the worker (at most the rebuild's duration of
    them). The checkpoint is set unconditionally, with ``rebuilt_at``: a running leader notices
    (failed compare-and-set, or its heartbeat), forgets what it read ahead and replays from there,
    so a rebuild never leaves older data over newer.
    """
    started = time.perf_counter()
    async with services.pool.acquire() as conn:
        start = await changelog.frontier(conn)
    report = await rebuilder.rebuild_all(progress)
    await changelog.set_checkpoint(services.pool, projection, start)
    return RebuildResult(report=report, checkpoint=start, seconds=time.perf_counter() - started)


async def run_rebuild_command(settings: Settings) -> int:
    """``schedulesy rebuild``: every read model rebuilt from Postgres; 0 on success."""
    bar = ProgressBar()
    async with open_services(settings) as services:
        try:
            result = await rebuild(services, read_models(services), bar.step("rebuilding read models"))
        except NotImplementedError:
            bar.finish()
            print("schedulesy rebuild: the read models are not available in this version", file=sys.stderr)
            return 1
        except Exception as exc:
            bar.finish()
            log.error("rebuild.failed", error=_describe(exc), exc_info=exc)
            print(f"schedulesy rebuild: failed: {_describe(exc)}", file=sys.stderr)
            return 1
    bar.finish()
    where = "unchanged" if result.checkpoint is None else f"({result.checkpoint.xid}, {result.checkpoint.id})"
    print(
        f"rebuilt read models in {result.seconds:.1f} s: {result.report.documents_written} documents written, "
        f"{result.report.documents_deleted} deleted; checkpoint {where}",
        file=sys.stderr,
    )
    return 0
