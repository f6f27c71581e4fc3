"""Superuser maintenance: run an ADE sync, ask for a full rebuild, reconcile our tables with ADE's.

These replace the original's session-only views (docs/compatibility.md §3.13): JSON in and out, 403 for anyone but a
superuser (docs/compatibility.md §11.7). Commands never write Redis: a rebuild is a row in the change log that the
projector acts on.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import structlog

from commands.ade_sync.cycle import run_cycle
from commands.common import ReadModelUpdates, in_transaction
from schedulesy.auth import Identity
from schedulesy.changes import CHANNEL, REBUILD_ALL, Topic
from schedulesy.errors import Conflict, Forbidden, Unavailable
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


async def run_sync(services: Services, actor: Identity, request: SyncRequest) -> dict[str, Any]:
    """One ADE sync cycle, answered with its report (as the original's ``/api/refresh/`` did).

    A failed cycle is a 503 and a cycle skipped because another runner holds the sync lock a 409,
    both carrying the report; a partial one is a 200 whose report lists what failed.
    """
    require_superuser(actor)
    try:
        report = await run_cycle(services, force=request.force, full=request.full)
    except Exception as exc:  # ADE down, bad credentials...: the caller gets a JSON answer, the log the trace
        log.exception("admin_sync_failed", error=type(exc).__name__)
        raise Unavailable(f"The ADE sync failed ({type(exc).__name__}); see the server log") from None
    answer: dict[str, Any] = msgspec.to_builtins(report)
    status = answer.get("status")
    if status == "failed":
        raise Unavailable("The ADE sync failed; the report says why", report=answer)
    if status == "skipped":
        raise Conflict("Another ADE sync is running; try again when it is done", report=answer)
    return answer  # "ok", or "partial" with the failing parts listed in the report


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
