"""What a sync cycle did: one report, with a part per category tree and one for the events step.

The same figures serve three readers: the ``schedulesy sync`` summary, the admin endpoint's JSON
answer (``msgspec.to_builtins(report)``), and ``sync_state``, one row per tree (``tree:<category>``),
per events tier (``events:<tier>``) and for the ``cycle``, whose numeric ``figures`` the health
check and the metrics page read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeAlias

import asyncpg
import msgspec

from commands.ade_sync.feed import TRUSTED
from schedulesy import syncstate
from schedulesy.ade.client import FunctionStats

SyncMode: TypeAlias = Literal["near", "far", "full"]
"""How much of the year the events step covers."""
SyncStatus: TypeAlias = Literal["ok", "partial", "failed", "skipped"]
"""A cycle's outcome: ``partial`` when some step failed or was refused, ``skipped`` when another runner
held the lock."""
TreeStatus: TypeAlias = Literal["unchanged", "modified", "refused", "failed"]
EventsStatus: TypeAlias = Literal["ok", "refused", "failed"]


class TreeReport(msgspec.Struct, kw_only=True):
    """What the step of one category tree did."""

    category: str
    status: TreeStatus = "unchanged"
    nodes: int = 0
    bytes: int = 0
    """Size of ADE's answer."""
    created: int = 0
    updated: int = 0
    deleted: int = 0
    recycled: int = 0
    selections_cleaned: int = 0
    timetable_rows_added: int = 0
    timetable_rows_removed: int = 0
    fingerprint: str = ""
    error: str = ""
    restructured: list[str] = msgspec.field(default_factory=list)
    """New or moved resources (with ``timetable_source=ade``, their timetables are asked from ADE)."""

    def figures(self) -> dict[str, int] | None:
        """The ``tree:<category>`` figures; ``None`` (keep the last ones) when ADE's answer failed."""
        if self.status == "failed":
            return None
        seen = {"nodes": self.nodes, "bytes": self.bytes}
        if self.status == "unchanged":
            return {**seen, "unchanged": 1}
        if self.status == "refused":
            return {**seen, "refused": 1}
        return {**seen, "unchanged": 0, "created": self.created, "updated": self.updated,
                "deleted": self.deleted, "recycled": self.recycled, "selections_cleaned": self.selections_cleaned,
                "timetable_rows_added": self.timetable_rows_added,
                "timetable_rows_removed": self.timetable_rows_removed}


class EventsReport(msgspec.Struct, kw_only=True):
    """What the events step did; its writes add their figures here as they go."""

    mode: SyncMode
    windows: int = 0
    probed: int = 0
    new: int = 0
    changed: int = 0
    deleted: int = 0
    moved_out: int = 0
    details_fetched: int = 0
    invalid: int = 0
    deletions_refused: int = 0
    bookings_kept_frozen: int = 0
    """Bookings of a refused tree's resources that ADE's answer left out, kept (see ``frozen``)."""
    deletions_deferred: int = 0
    """Vanished events kept because they book a resource of a refused tree."""
    timetable_rows_added: int = 0
    timetable_rows_removed: int = 0
    legacy_requests: int = 0
    """What the original would have spent: one getEvents per resource affected, and descendants."""
    audited: int = 0
    audit_mismatches: int = 0
    audit_requests: int = 0
    audit_bytes: int = 0
    timetables_from_ade: int = 0
    """With ``timetable_source=ade``: resources whose timetable was stored from ADE's answer."""
    history_recorded: int = 0
    """Changes users see (added, removed, moved, …) recorded in the change history."""
    unannounced: int = 0
    """While the change feed is trusted: changes a probe found that the feed should have announced."""
    status: EventsStatus = "ok"
    error: str = ""

    def figures(self) -> dict[str, int]:
        """The ``events:<mode>`` figures: every count above."""
        return {name: value for name, value in msgspec.structs.asdict(self).items() if isinstance(value, int)}


class SyncReport(msgspec.Struct, kw_only=True):
    """What one cycle did; JSON-encodable (``msgspec.json.encode(report)``)."""

    status: SyncStatus
    mode: SyncMode = "near"
    started_at: dt.datetime
    duration_seconds: float = 0.0
    categories: list[TreeReport] = []
    events: EventsReport | None = None
    ade_requests: dict[str, int] = {}
    """HTTP requests by ADE function (retries included)."""
    ade_bytes: int = 0
    ade: dict[str, FunctionStats] = {}
    errors: list[str] = []
    warnings: list[str] = []
    frozen: list[str] = []
    """Categories whose tree is refused: the events pass keeps their resources' bookings as they are."""
    feed: str = ""
    """Whether ADE's change feed led this cycle (``trusted``) or why not (docs/ade.md §5.9)."""

    @property
    def requests(self) -> int:
        return sum(self.ade_requests.values())

    def figures(self) -> dict[str, Any]:
        """The ``cycle`` figures: requests (in all and per ADE function), time, and what changed."""
        events = self.events or EventsReport(mode=self.mode)
        figures: dict[str, Any] = {
            "requests": self.requests,
            "bytes": self.ade_bytes,
            "seconds": self.duration_seconds,
            "errors": len(self.errors),
            "full": 1 if self.mode == "full" else 0,
            "feed_trusted": 1 if self.feed == TRUSTED else 0,
            "events_probed": events.probed,
            "events_new": events.new,
            "events_changed": events.changed,
            "events_deleted": events.deleted,
            "events_details_fetched": events.details_fetched,
            "legacy_requests": events.legacy_requests,
            "resources_created": sum(c.created for c in self.categories),
            "resources_updated": sum(c.updated for c in self.categories),
            "resources_deleted": sum(c.deleted for c in self.categories),
        }
        for function, count in self.ade_requests.items():
            figures[f"requests_{function}"] = count
        return figures


async def record_state(conn: asyncpg.Connection | asyncpg.Pool, name: str, *, ok: bool, error: str = "",
                       figures: dict[str, Any] | None = None, fingerprint: str | None = None,
                       at: dt.datetime) -> None:
    """One ``sync_state`` row per part; a failure keeps the last success time and the last good
    fingerprint, and ``figures=None`` the last figures."""
    await conn.execute(
        """
        INSERT INTO schedulesy.sync_state AS s
            (name, fingerprint, last_attempt_at, last_success_at, last_error, figures, updated_at)
        VALUES ($1::text, $2::text, $3::timestamptz, CASE WHEN $4::boolean THEN $3::timestamptz END,
                nullif($5::text, ''), coalesce($6::jsonb, '{}'::jsonb), now())
        ON CONFLICT (name) DO UPDATE SET
            fingerprint = coalesce(excluded.fingerprint, s.fingerprint),
            last_attempt_at = excluded.last_attempt_at,
            last_success_at = CASE WHEN $4::boolean THEN excluded.last_attempt_at ELSE s.last_success_at END,
            last_error = excluded.last_error,
            figures = CASE WHEN $6::jsonb IS NULL THEN s.figures ELSE excluded.figures END,
            updated_at = now()
        """,
        name, fingerprint, at, ok, error, figures,
    )


async def record_cycle(pool: asyncpg.Pool, report: SyncReport) -> None:
    await record_state(pool, syncstate.CYCLE, ok=report.status == "ok", error="; ".join(report.errors)[:2000],
                       figures=report.figures(), at=report.started_at)


async def add_figures(pool: asyncpg.Pool, name: str, increments: dict[str, int], *, at: dt.datetime,
                      ok: bool = True, error: str = "") -> None:
    """Add ``increments`` to the row's numeric figures (counters shared by every worker)."""
    await pool.execute(
        """
        INSERT INTO schedulesy.sync_state AS s (name, last_attempt_at, last_success_at, last_error, figures)
        VALUES ($1::text, $2::timestamptz, CASE WHEN $3::boolean THEN $2::timestamptz END, nullif($4::text, ''),
                $5::jsonb)
        ON CONFLICT (name) DO UPDATE SET
            last_attempt_at = excluded.last_attempt_at,
            last_success_at = CASE WHEN $3::boolean THEN excluded.last_attempt_at ELSE s.last_success_at END,
            last_error = excluded.last_error,
            figures = s.figures || (
                SELECT coalesce(jsonb_object_agg(k, coalesce((s.figures->>k)::bigint, 0) + v::bigint), '{}'::jsonb)
                FROM jsonb_each_text($5::jsonb) AS i(k, v)),
            updated_at = now()
        """, name, at, ok, error, increments)


async def request_trees(pool: asyncpg.Pool) -> None:
    """Make the trees due at once (an unknown resource was seen)."""
    await pool.execute("UPDATE schedulesy.sync_state SET last_success_at = NULL WHERE name = $1", syncstate.TREES)
