"""Refreshing exactly what ADE's change messages name (:mod:`commands.ade_sync.messages`).

For a burst of messages (their union, each id once):

1. the named events are fetched by id at full detail, in ``eventId`` batches (as the cycle's detail
   fetch); each one found is written with its bookings and timetable rows — so the resources that held
   it before and those that hold it now are rebuilt by the projector — and each one ADE no longer has
   is deleted (frozen categories respected, see :mod:`commands.ade_sync.writes`);
2. a named resource we do not know, or one that a refreshed event books, means a tree changed: the
   trees are refreshed at once under the sync lock (waiting a little for a running cycle), or, when
   the lock stays busy, marked due so that the next cycle refreshes them.

The figures of every refresh add up in the ``amqp`` row of ``sync_state`` (and so in ``/metrics``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection
from typing import Any

import msgspec
import structlog

from commands.ade_sync.ade_timetables import lineage, refresh_from_ade
from commands.ade_sync.cycle import _states, frozen_categories, recheck_events, sync_lock, sync_trees
from commands.ade_sync.events import fetch_ids
from commands.ade_sync.report import EventsReport, SyncReport, request_trees
from commands.ade_sync.writes import delete_events, event_row, write_events
from schedulesy.ade.client import AdeClient
from schedulesy.services import Services

log = structlog.get_logger(__name__)

TREE_LOCK_WAIT_SECONDS = 30.0
"""How long a refresh waits for a running cycle before leaving the trees to the next one."""


class RefreshReport(msgspec.Struct, kw_only=True):
    events_named: int = 0
    resources_named: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    deleted: int = 0
    deletions_deferred: int = 0
    unknown_resources: int = 0
    trees_refreshed: int = 0
    trees_deferred: int = 0
    requests: int = 0
    bytes: int = 0
    resources_affected: int = 0

    def figures(self) -> dict[str, int]:
        return {f"refresh_{k}": v for k, v in msgspec.structs.asdict(self).items()}


async def refresh_named(services: Services, ade: AdeClient, event_ids: Collection[int],
                        resource_ids: Collection[str]) -> RefreshReport:
    """Fetch and write the named events, delete those ADE no longer has, refresh trees for unknown
    resources. Raises :class:`~schedulesy.ade.errors.AdeError` (nothing is half-written: each write is
    one transaction, and a retry of the same message converges)."""
    settings, pool = services.settings, services.pool
    ade.reset_reachability()
    before = ade.stats.snapshot()
    report = RefreshReport(events_named=len(event_ids), resources_named=len(resource_ids))
    frozen = await frozen_categories(pool, settings.ade_categories)
    events = EventsReport(mode="near")
    found = await fetch_ids(ade, sorted(event_ids))
    rows = [row for row in (event_row(e, settings.zone) for e in found) if row is not None]
    derive = settings.timetable_source == "derived"
    affected = await write_events(pool, rows, events, frozen, derive=derive)
    vanished = sorted(set(event_ids) - {e.id for e in found})
    if vanished:
        known = [r["event_id"] for r in await pool.fetch(
            "SELECT event_id FROM schedulesy.event WHERE event_id = ANY($1::bigint[])", vanished)]
        affected |= await delete_events(pool, known, events, frozen)
    if not derive:
        await refresh_from_ade(pool, ade, await lineage(pool, affected, frozen))
    booked = {ext_id for row in rows for ext_id, _, _, _ in row.resources}
    unknown = await unknown_resources(services, set(resource_ids) | booked)
    report.fetched, report.new, report.changed = len(found), events.new, events.changed
    report.deleted, report.deletions_deferred = events.deleted, events.deletions_deferred
    report.unknown_resources = len(unknown)
    report.resources_affected = len(affected)
    if unknown:
        log.info("ade message names resources we do not know; refreshing the trees",
                 resources=sorted(unknown)[:20], count=len(unknown))
        if await refresh_trees(services, ade):
            report.trees_refreshed = 1
        else:
            report.trees_deferred = 1
    spent = ade.stats.since(before)
    report.requests = sum(s.requests for s in spent.values())
    report.bytes = sum(s.bytes for s in spent.values())
    return report


async def unknown_resources(services: Services, ext_ids: set[str]) -> set[str]:
    if not ext_ids:
        return set()
    known = {r["ext_id"] for r in await services.pool.fetch(
        "SELECT ext_id FROM schedulesy.resource WHERE ext_id = ANY($1::text[])", sorted(ext_ids))}
    return ext_ids - known


async def refresh_trees(services: Services, ade: AdeClient, *, wait: float = TREE_LOCK_WAIT_SECONDS) -> bool:
    """Refresh every tree now (and recheck the events that booked resources ADE deleted); ``False``
    when a cycle held the lock all along: the trees are then marked due for the next cycle."""
    await request_trees(services.pool)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        async with sync_lock(services.pool) as acquired:
            if acquired:
                await _refresh_trees_locked(services, ade)
                return True
        if loop.time() >= deadline:
            log.info("ade trees left to the next cycle: a cycle holds the sync lock")
            return False
        await asyncio.sleep(0.5)


async def _refresh_trees_locked(services: Services, ade: AdeClient) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    report = SyncReport(status="ok", started_at=now)
    states: dict[str, Any] = dict(await _states(services.pool))
    _, gone = await sync_trees(services, ade, report, states=states, force=False, now=now)
    if services.settings.timetable_source == "ade":
        touched = [r for c in report.categories for r in c.restructured]
        frozen_now = await frozen_categories(services.pool, services.settings.ade_categories)
        await refresh_from_ade(services.pool, ade, await lineage(services.pool, touched, frozen_now))
    await recheck_events(services, ade, gone, EventsReport(mode="near"))
