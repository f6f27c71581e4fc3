"""The continuous audit: never trust the mirror blindly.

Timetables are *derived* (events booked on a resource or an ancestor, :mod:`commands.ade_sync.timetables`),
a rule checked on the simulator and on the original's recorded answers only. So every cycle compares a
few resources' timetables with ADE's own per-resource answer (``getEvents(resources=<id>, detail=1)``:
ids only), rotating through every resource in ext id order so that each is audited within a week at the
configured poll interval (:func:`batch_size`; at most :data:`MAX_PER_CYCLE` requests a cycle). A resource
found differing is checked again at every cycle until it agrees. The ``audit`` row of ``sync_state``
keeps the rotation's cursor (``fingerprint``), the resources that currently differ (``figures.differing_ids``)
and the counters that ``/metrics`` shows; ``/health/ready`` names the differing resources (a warning);
each difference is logged with the event ids.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import asyncpg
import msgspec
import structlog

from commands.ade_sync.report import record_state
from schedulesy import syncstate
from schedulesy.ade.client import AdeClient
from schedulesy.ade.errors import AdeError
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

WEEK_SECONDS = 7 * 24 * 3600
MAX_PER_CYCLE = 50
SHOWN_IDS = 20


class AuditResult(msgspec.Struct, kw_only=True):
    audited: int = 0
    differing: list[str] = []
    """Resources whose timetable differs from ADE's answer now (rechecked ones included)."""
    requests: int = 0
    bytes: int = 0


def batch_size(resources: int, poll_interval: float) -> int:
    """Resources per cycle so that all of them are audited within a week of cycles."""
    cycles_per_week = max(1, int(WEEK_SECONDS // poll_interval))
    return min(MAX_PER_CYCLE, max(1, math.ceil(resources / cycles_per_week)))


async def _next_resources(pool: asyncpg.Pool, cursor: str, count: int) -> list[str]:
    rows = await pool.fetch(
        """
        (SELECT ext_id, 0 AS lap FROM schedulesy.resource WHERE category <> ext_id AND ext_id > $1
         ORDER BY ext_id LIMIT $2)
        UNION ALL
        (SELECT ext_id, 1 AS lap FROM schedulesy.resource WHERE category <> ext_id AND ext_id <= $1
         ORDER BY ext_id LIMIT $2)
        ORDER BY lap, ext_id LIMIT $2
        """, cursor, count)
    return [r["ext_id"] for r in rows]


async def audit_resource(pool: asyncpg.Pool, ade: AdeClient, ext_id: str) -> tuple[set[int], set[int]]:
    """(ids ADE lists that the mirror's timetable lacks, ids the mirror has that ADE does not list)."""
    answer = await ade.get_events(resources=[ext_id], detail=1)
    theirs = {e.id for e in answer.events}
    ours = {r["event_id"] for r in await pool.fetch(
        "SELECT event_id FROM schedulesy.timetable WHERE resource_ext_id = $1", ext_id)}
    return theirs - ours, ours - theirs


async def run_audit(pool: asyncpg.Pool, ade: AdeClient, settings: Settings, *, now: dt.datetime) -> AuditResult:
    """This cycle's share of the audit: the resources still differing, then the next ones in the rotation."""
    state = await pool.fetchrow("SELECT fingerprint, figures FROM schedulesy.sync_state WHERE name = $1",
                                syncstate.AUDIT)
    cursor = (state["fingerprint"] if state else None) or ""
    figures: dict[str, Any] = dict(state["figures"]) if state else {}
    previous = [str(r) for r in figures.get("differing_ids", [])][:MAX_PER_CYCLE]
    total = await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE category <> ext_id")
    chosen = await _next_resources(pool, cursor, batch_size(total, settings.poll_interval)) if total else []
    before = ade.stats.snapshot()
    result = AuditResult()
    differing: list[str] = []
    for ext_id in dict.fromkeys([*previous, *chosen]):
        try:
            missing, extra = await audit_resource(pool, ade, ext_id)
        except AdeError as exc:
            log.warning("timetable audit skipped a resource", ext_id=ext_id, error=exc.message)
            if ext_id in previous:
                differing.append(ext_id)
            continue
        result.audited += 1
        if missing or extra:
            differing.append(ext_id)
            log.warning("timetable audit: the mirror differs from ADE", ext_id=ext_id,
                        missing=sorted(missing)[:SHOWN_IDS], extra=sorted(extra)[:SHOWN_IDS],
                        missing_count=len(missing), extra_count=len(extra))
    spent = ade.stats.since(before)
    result.requests = sum(s.requests for s in spent.values())
    result.bytes = sum(s.bytes for s in spent.values())
    result.differing = differing
    figures.update({
        "audited": int(figures.get("audited", 0)) + result.audited,
        "differences_found": int(figures.get("differences_found", 0)) + len(differing),
        "differing": len(differing),
        "differing_ids": differing,
        "last_cycle_audited": result.audited,
        "last_cycle_requests": result.requests,
        "last_cycle_bytes": result.bytes,
        "resources": total,
    })
    await record_state(pool, syncstate.AUDIT, ok=not differing, at=now, figures=figures,
                       fingerprint=chosen[-1] if chosen else cursor,
                       error=f"{len(differing)} timetables differ from ADE's own answer" if differing else "")
    return result
