"""Timetables are derived, not fetched: ADE returns for resource R the events booked on R or on any
ancestor of R, so timetable(R) = events booked on R's ancestors-or-self, computed in SQL from
``event_resource`` and the resource tree. The continuous audit (:mod:`commands.ade_sync.audit`)
compares a few of them with ADE's own per-resource answer at every cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg
import structlog


log = structlog.get_logger(__name__)


async def _apply_timetable(conn: asyncpg.Connection, scope_filter: str, *, remove: bool = True) -> tuple[int, int]:
    """Make ``timetable`` match the ``sync_desired`` temp table within ``scope_filter``."""
    await conn.execute("ANALYZE sync_desired")
    removed = await conn.execute(
        f"""
        DELETE FROM schedulesy.timetable t
        WHERE {scope_filter}
          AND NOT EXISTS (SELECT 1 FROM sync_desired d
                          WHERE d.resource_ext_id = t.resource_ext_id AND d.event_id = t.event_id)
        """
    ) if remove else "DELETE 0"
    added = await conn.execute(
        """
        INSERT INTO schedulesy.timetable (resource_ext_id, event_id)
        SELECT resource_ext_id, event_id FROM sync_desired
        ON CONFLICT DO NOTHING
        """
    )
    await conn.execute("DROP TABLE sync_desired")
    return int(added.split()[-1]), int(removed.split()[-1])


async def timetable_for_events(conn: asyncpg.Connection, *, only_new: bool = False) -> tuple[int, int]:
    """Timetable rows of the events in ``sync_event``: each resource they book (``sync_event_resource``,
    their new state) and every descendant of it."""
    await conn.execute(
        """
        CREATE TEMP TABLE sync_desired ON COMMIT DROP AS
        WITH RECURSIVE below (ancestor, descendant) AS (
            SELECT DISTINCT resource_ext_id, resource_ext_id FROM sync_event_resource
            UNION
            SELECT b.ancestor, r.ext_id FROM below b JOIN schedulesy.resource r ON r.parent_ext_id = b.descendant
        )
        SELECT DISTINCT b.descendant AS resource_ext_id, x.event_id
        FROM sync_event_resource x JOIN below b ON b.ancestor = x.resource_ext_id
        """
    )
    return await _apply_timetable(conn, "t.event_id IN (SELECT event_id FROM sync_event)", remove=not only_new)


async def timetable_for_resources(conn: asyncpg.Connection, ext_ids: Sequence[str]) -> tuple[int, int]:
    """Timetable rows of resources whose place in a tree changed, and of all their descendants:
    the events booked on their ancestors-or-self."""
    if not ext_ids:
        return 0, 0
    await conn.execute(
        """
        CREATE TEMP TABLE sync_scope_resources ON COMMIT DROP AS
        WITH RECURSIVE scope (ext_id) AS (
            SELECT unnest($1::text[])
            UNION
            SELECT r.ext_id FROM scope s JOIN schedulesy.resource r ON r.parent_ext_id = s.ext_id
        ) SELECT ext_id FROM scope
        """, list(ext_ids))
    await conn.execute("ANALYZE sync_scope_resources")
    await conn.execute(
        """
        CREATE TEMP TABLE sync_desired ON COMMIT DROP AS
        WITH RECURSIVE up (resource, ancestor) AS (
            SELECT ext_id, ext_id FROM sync_scope_resources
            UNION
            SELECT u.resource, r.parent_ext_id FROM up u JOIN schedulesy.resource r ON r.ext_id = u.ancestor
            WHERE r.parent_ext_id IS NOT NULL
        )
        SELECT DISTINCT u.resource AS resource_ext_id, er.event_id
        FROM up u JOIN schedulesy.event_resource er ON er.resource_ext_id = u.ancestor
        """
    )
    result = await _apply_timetable(
        conn, "t.resource_ext_id IN (SELECT ext_id FROM sync_scope_resources)")
    await conn.execute("DROP TABLE sync_scope_resources")
    return result


async def lineage_size(pool: asyncpg.Pool, ext_ids: Iterable[str]) -> int:
    """How many resources the original refreshed for these: each one and all its descendants."""
    ids = list(ext_ids)
    if not ids:
        return 0
    size: int = await pool.fetchval(
        """
        WITH RECURSIVE lineage (ext_id) AS (
            SELECT unnest($1::text[])
            UNION
            SELECT r.ext_id FROM lineage l JOIN schedulesy.resource r ON r.parent_ext_id = l.ext_id
        ) SELECT count(*) FROM lineage
        """, ids)
    return size
