"""``SCHEDULESY_TIMETABLE_SOURCE=ade``: timetables stored as ADE answers them, the original's way.

For a deployment whose ADE disagrees with the derivation rule (events booked on a resource or an
ancestor, :mod:`commands.ade_sync.timetables`), each resource's timetable is ADE's own answer to
``getEvents(resources=<id>, detail=1)``, limited to the events the mirror holds. It is asked for the
resources a change touched and all their descendants (the original's "lineage"), and for every
resource in the nightly pass (one request per resource: the original's cost). Resources of a category
whose tree is refused are left as they are (see :mod:`commands.ade_sync.writes`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import asyncpg
import structlog

from commands.ade_sync.events import gather_all
from commands.ade_sync.timetables import _apply_timetable
from schedulesy.ade.client import AdeClient

log = structlog.get_logger(__name__)

CHUNK = 200
"""Resources fetched (concurrently, within the client's bound) and written per transaction."""


async def lineage(pool: asyncpg.Pool, ext_ids: Iterable[str], frozen: Collection[str]) -> list[str]:
    rows = await pool.fetch(
        """
        WITH RECURSIVE lineage (ext_id) AS (
            SELECT ext_id FROM schedulesy.resource WHERE ext_id = ANY($1::text[])
            UNION
            SELECT r.ext_id FROM lineage l JOIN schedulesy.resource r ON r.parent_ext_id = l.ext_id
        )
        SELECT l.ext_id FROM lineage l JOIN schedulesy.resource r USING (ext_id)
        WHERE r.category <> r.ext_id AND NOT (r.category = ANY($2::text[])) ORDER BY 1
        """, sorted(set(ext_ids)), list(frozen))
    return [r["ext_id"] for r in rows]


async def every_resource(pool: asyncpg.Pool, frozen: Collection[str]) -> list[str]:
    rows = await pool.fetch(
        "SELECT ext_id FROM schedulesy.resource WHERE category <> ext_id AND NOT (category = ANY($1::text[])) "
        "ORDER BY ext_id", list(frozen))
    return [r["ext_id"] for r in rows]


async def refresh_from_ade(pool: asyncpg.Pool, ade: AdeClient, ext_ids: list[str]) -> int:
    """Store ADE's answer as the timetable of each of ``ext_ids``; answers the resources refreshed."""
    for start in range(0, len(ext_ids), CHUNK):
        chunk = ext_ids[start:start + CHUNK]

        async def answer(ext_id: str) -> list[tuple[str, int]]:
            events = await ade.get_events(resources=[ext_id], detail=1)
            return [(ext_id, e.id) for e in events.events]

        pairs = [p for found in await gather_all(answer(r) for r in chunk) for p in found]
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("CREATE TEMP TABLE sync_desired (resource_ext_id text, event_id bigint) ON COMMIT DROP")
            await conn.copy_records_to_table("sync_desired", records=pairs, columns=("resource_ext_id", "event_id"))
            # Only events the mirror holds (the rest are outside every window we keep, or not yet seen).
            await conn.execute("DELETE FROM sync_desired d WHERE NOT EXISTS "
                               "(SELECT 1 FROM schedulesy.event e WHERE e.event_id = d.event_id)")
            await conn.execute("CREATE TEMP TABLE sync_scope_ade ON COMMIT DROP AS SELECT unnest($1::text[]) AS ext_id",
                               chunk)
            await _apply_timetable(conn, "t.resource_ext_id IN (SELECT ext_id FROM sync_scope_ade)")
    if ext_ids:
        log.info("timetables stored from ADE's answers", resources=len(ext_ids))
    return len(ext_ids)
