"""Superuser maintenance: start an ADE sync (and read its outcome), ask for a full rebuild, reconcile our tables with ADE's.

These replace the original's session-only views (docs/compatibility.md §3.13): JSON in and out, 403 for anyone but a
superuser (docs/compatibility.md §11.7). Commands never write Redis: a rebuild is a row in the change log that the
projector acts on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any, Literal, TypeAlias

import asyncpg
import msgspec
import structlog

from commands.ade_sync.cycle import run_cycle
from commands.common import ReadModelUpdates, in_transaction
from schedulesy.auth import Identity
from schedulesy.changes import CHANNEL, REBUILD_ALL, Topic
from schedulesy.errors import Forbidden, NotFound
from schedulesy.locks import LockClass
from schedulesy.services import Services

log = structlog.get_logger(__name__)


class SyncRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    force: bool = False  # poll even when the fingerprints say nothing changed
    full: bool = False  # every resource's events, not only the near weeks


class RebuildRequested(msgspec.Struct, kw_only=True):
    requested: bool
    change_id: int


class Reconciled(msgspec.Struct):
    """The original ``/api/sync/`` answer, with its capitalised keys."""

    Created: int
    Deleted: int
    Total: int


def require_superuser(actor: Identity) -> None:
    if not actor.is_superuser:
        raise Forbidden("Superusers only")


SyncRunStatus: TypeAlias = Literal["queued", "running", "ok", "partial", "failed", "skipped", "cancelled"]


class SyncRun(msgspec.Struct, kw_only=True):
    """An ADE sync asked for through the admin API, and (once it ran) its outcome."""

    id: int
    href: str
    """Where this outcome is read (``GET``)."""
    status: SyncRunStatus
    requested_by: str
    force: bool
    full: bool
    requested_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    report: dict[str, Any] | None = None
    """The cycle's report (the shape ``schedulesy sync`` summarises) once it ran."""
    error: str | None = None


_background: set[asyncio.Task[None]] = set()
"""Runs in flight in this process (a reference each, so none is collected mid-way)."""


def _run_of(row: asyncpg.Record, services: Services) -> SyncRun:
    return SyncRun(id=row["id"], href=f"{services.settings.public_base}/api/admin/sync/{row['id']}",
                   status=row["status"], requested_by=row["requested_by"], force=row["force"],
                   full=row["full_pass"], requested_at=row["requested_at"], started_at=row["started_at"],
                   finished_at=row["finished_at"], report=row["report"], error=row["error"])


async def start_sync(services: Services, actor: Identity, request: SyncRequest) -> SyncRun:
    """Record the request and run the cycle in the background: the caller reads the outcome at
    ``href`` (a cycle on a slow or dead ADE must not hold an HTTP request)."""
    require_superuser(actor)
    conn: asyncpg.Connection = await services.pool.acquire()
    try:
        row = await conn.fetchrow(
            "INSERT INTO schedulesy.sync_run (requested_by, force, full_pass) VALUES ($1, $2, $3) RETURNING *",
            actor.username, request.force, request.full)
        # Held by this connection until the run ends: should this process die, the lock goes with it.
        await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", LockClass.SYNC_RUN, str(row["id"]))
    except BaseException:
        await services.pool.release(conn)
        raise
    task = asyncio.create_task(_run(services, conn, row["id"], request), name=f"admin-sync-{row['id']}")
    _background.add(task)
    task.add_done_callback(_background.discard)
    log.info("admin_sync_requested", run=row["id"], force=request.force, full=request.full)
    return _run_of(row, services)


async def _run(services: Services, conn: asyncpg.Connection, run_id: int, request: SyncRequest) -> None:
    try:
        await _record_run(services, conn, run_id, request)
    finally:
        with contextlib.suppress(Exception):
            await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", LockClass.SYNC_RUN, str(run_id))
        await services.pool.release(conn)


async def _record_run(services: Services, conn: asyncpg.Connection, run_id: int, request: SyncRequest) -> None:
    await conn.execute("UPDATE schedulesy.sync_run SET status = 'running', started_at = now() WHERE id = $1", run_id)
    try:
        report = await run_cycle(services, force=request.force, full=request.full)
    except asyncio.CancelledError:
        await conn.execute(
            "UPDATE schedulesy.sync_run SET status = 'cancelled', finished_at = now(), error = $2 WHERE id = $1",
            run_id, "the server stopped before the sync ended")
        raise
    except Exception as exc:  # ADE down, bad credentials...: the outcome says so, the log has the trace
        log.exception("admin_sync_failed", run=run_id, error=type(exc).__name__)
        await conn.execute(
            "UPDATE schedulesy.sync_run SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1",
            run_id, f"The ADE sync failed ({type(exc).__name__}); see the server log")
        return
    messages = {"failed": "The ADE sync failed; the report says why",
                "skipped": "Another ADE sync was running; try again when it is done"}
    await conn.execute(
        "UPDATE schedulesy.sync_run SET status = $2, finished_at = now(), report = $3, error = $4 WHERE id = $1",
        run_id, report.status, msgspec.to_builtins(report), messages.get(report.status))


PROCESS_STOPPED = "the process running this sync stopped before it ended"


async def sync_run(services: Services, actor: Identity, run_id: int) -> SyncRun:
    """A run's outcome. A run still marked queued or running whose process is gone (its lock is free:
    killed, not stopped cleanly) is recorded as cancelled now, so it never reads as running forever."""
    require_superuser(actor)
    async with services.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM schedulesy.sync_run WHERE id = $1", run_id)
        if row is None:
            raise NotFound(f"No ADE sync run {run_id}")
        if row["status"] in ("queued", "running") and await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", LockClass.SYNC_RUN, str(run_id)):
            try:
                row = await conn.fetchrow(
                    """UPDATE schedulesy.sync_run SET status = 'cancelled', finished_at = now(), error = $2
                       WHERE id = $1 AND status IN ('queued', 'running') RETURNING *""",
                    run_id, PROCESS_STOPPED) or await conn.fetchrow(
                    "SELECT * FROM schedulesy.sync_run WHERE id = $1", run_id)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", LockClass.SYNC_RUN, str(run_id))
    return _run_of(row, services)


async def stop_sync_runs() -> None:
    """Cancel this process's runs (each records ``cancelled``) before its services close."""
    tasks = list(_background)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def request_rebuild(
    conn: asyncpg.Connection, actor: Identity, read_models: ReadModelUpdates
) -> RebuildRequested:
    """Ask the projector to rebuild every read model; it answers to the change log, not to us."""
    require_superuser(actor)

    async def work() -> RebuildRequested:
        change_id = await conn.fetchval(
            "INSERT INTO schedulesy.change (topic, key) VALUES ($1, $2) RETURNING id", Topic.REBUILD, REBUILD_ALL
        )
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, Topic.REBUILD)
        return RebuildRequested(requested=True, change_id=change_id)

    return await in_transaction(conn, work, read_models)


async def reconcile(conn: asyncpg.Connection, actor: Identity, read_models: ReadModelUpdates) -> Reconciled:
    """Make our per-user rows agree with ``w_edtperso``, whoever wrote it.

    Configurations and accesses of logins without a ``w_edtperso`` row are deleted (``Deleted``
    counts those logins); logins without any access get their default one (``Created``).
    """
    require_superuser(actor)

    async def work() -> Reconciled:
        deleted = await conn.fetchval(
            """
            WITH gone_config AS (
                DELETE FROM schedulesy.customization_config c
                 WHERE NOT EXISTS (SELECT 1 FROM public.w_edtperso w WHERE w.uid = c.username)
                RETURNING username
            ), gone_access AS (
                DELETE FROM schedulesy.access a
                 WHERE NOT EXISTS (SELECT 1 FROM public.w_edtperso w WHERE w.uid = a.username)
                RETURNING username
            )
            SELECT count(DISTINCT username)
              FROM (SELECT username FROM gone_config UNION ALL SELECT username FROM gone_access) gone
            """
        )
        created = await conn.fetch(
            """
            INSERT INTO schedulesy.access (key, username, name)
            SELECT gen_random_uuid(), u.uid, u.uid
              FROM (SELECT DISTINCT uid FROM public.w_edtperso WHERE uid <> '') u
             WHERE NOT EXISTS (SELECT 1 FROM schedulesy.access a WHERE a.username = u.uid)
            ON CONFLICT DO NOTHING
            RETURNING username
            """
        )
        total = await conn.fetchval("SELECT count(*) FROM public.w_edtperso")
        log.info("reconciled", created=len(created), deleted=deleted, total=total)
        return Reconciled(Created=len(created), Deleted=deleted, Total=total)

    return await in_transaction(conn, work, read_models)
