"""The ADE → Postgres sync: the only writer of the ADE mirror (resource, event, event_resource,
timetable) and of ``sync_state``.

A *cycle* (:func:`run_cycle`) runs under a Postgres advisory lock (one runner across workers):

1. every configured category tree is fetched (``getResources(tree, detail=11)``); a tree whose
   fingerprint is unchanged is skipped, any other is reconciled (:mod:`commands.ade_sync.trees`);
2. events are checked (:mod:`commands.ade_sync.events`): the near term every cycle, the rest of the
   year when ``sync_far_interval`` has passed, and everything — at full detail, with an audit of a
   sample of timetables — once a night after ``sync_nightly_hour`` (or with ``full=True``);
3. the figures go to ``sync_state`` (one row per tree, per events tier, and ``cycle``).

ADE failing (down, slow, ``<error>``, an implausibly small answer) never deletes anything: the step
keeps the last good data, records ``last_error``, and the poller backs off.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TextIO

import asyncpg
import msgspec
import structlog

from commands.ade_sync.buildings import load_buildings
from commands.ade_sync.events import (
    AUDIT_SAMPLE,
    EventsOutcome,
    EventSync,
    Progress,
    Window,
    audit_timetables,
    far_windows,
    full_windows,
    near_windows,
    project_week0,
)
from commands.ade_sync.trees import TreeOutcome, fingerprint, flatten, tree_ids, write_category
from commands.ade_sync.writes import ANALYZE_AFTER_ROWS, timetable_for_resources
from schedulesy.ade.client import AdeClient, FunctionStats
from schedulesy.ade.errors import AdeError, AdeLoginError, AdeUnavailable
from schedulesy.ade.models import ResourceNode, ResourceTree
from schedulesy.services import Services, open_services
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

SYNC_LOCK = 0x5C_AD_E5_1C
"""Advisory lock id: one sync runner at a time across every worker."""
TREE_DETAIL = 11
MAX_BACKOFF_SECONDS = 3600.0


class CategoryReport(msgspec.Struct, kw_only=True):
    category: str
    status: str
    """``unchanged`` | ``modified`` | ``refused`` | ``failed``."""
    nodes: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    recycled: int = 0
    selections_cleaned: int = 0
    fingerprint: str = ""
    error: str = ""


class SyncReport(msgspec.Struct, kw_only=True):
    """What one cycle did; JSON-encodable (``msgspec.json.encode(report)``)."""

    status: str
    """``ok`` | ``partial`` (some step failed or was refused) | ``failed`` | ``skipped`` (another runner)."""
    mode: str = "near"
    """``near`` | ``far`` | ``full``: how much of the year the events step covered."""
    started_at: dt.datetime
    duration_seconds: float = 0.0
    categories: list[CategoryReport] = []
    events: EventsOutcome | None = None
    ade_requests: dict[str, int] = {}
    """HTTP requests by ADE function (retries included)."""
    ade_bytes: int = 0
    ade: dict[str, FunctionStats] = {}
    errors: list[str] = []
    warnings: list[str] = []

    @property
    def requests(self) -> int:
        return sum(self.ade_requests.values())


class CyclePlan(msgspec.Struct, frozen=True):
    mode: str
    far: bool
    full: bool


# ---------------------------------------------------------------------------------------------
# Planning

async def _states(pool: asyncpg.Pool) -> dict[str, asyncpg.Record]:
    return {r["name"]: r for r in await pool.fetch("SELECT * FROM schedulesy.sync_state")}


def _last(states: dict[str, Any], name: str, column: str) -> dt.datetime | None:
    row = states.get(name)
    return None if row is None else row[column]


def plan_cycle(settings: Settings, states: dict[str, Any], now: dt.datetime, *, full: bool) -> CyclePlan:
    """Near term always; the rest of the year when due; everything once a night (and at first).

    A tier that failed is retried after ``sync_far_interval``, not at every cycle: a nightly pass
    that keeps failing (or keeps being refused) must not turn every cycle into a full one.
    """
    retry = dt.timedelta(seconds=settings.sync_far_interval)
    local = now.astimezone(settings.zone)
    nightly_today = local.replace(hour=settings.sync_nightly_hour, minute=0, second=0, microsecond=0)
    last_nightly_slot = nightly_today if local >= nightly_today else nightly_today - dt.timedelta(days=1)
    full_done = _last(states, "events:full", "last_success_at")
    full_tried = _last(states, "events:full", "last_attempt_at")
    if full or (
        (full_done is None or full_done < last_nightly_slot)
        and (full_tried is None or full_tried < last_nightly_slot or now - full_tried >= retry)
    ):
        return CyclePlan(mode="full", far=True, full=True)
    far_tried = _last(states, "events:far", "last_attempt_at")
    if far_tried is None or now - far_tried >= retry:
        return CyclePlan(mode="far", far=True, full=False)
    return CyclePlan(mode="near", far=False, full=False)


# ---------------------------------------------------------------------------------------------
# sync_state

async def _record_state(conn: asyncpg.Connection | asyncpg.Pool, name: str, *, ok: bool, error: str = "",
                        figures: dict[str, Any] | None = None, fingerprint_value: str | None = None,
                        at: dt.datetime) -> None:
    """One row per part; a failure keeps the last success time and the last good fingerprint."""
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
        name, fingerprint_value, at, ok, error, figures,
    )


@asynccontextmanager
async def _sync_lock(pool: asyncpg.Pool) -> AsyncIterator[bool]:
    async with pool.acquire() as conn:
        acquired = await conn.fetchval("SELECT pg_try_advisory_lock($1)", SYNC_LOCK)
        try:
            yield bool(acquired)
        finally:
            if acquired:
                await conn.execute("SELECT pg_advisory_unlock($1)", SYNC_LOCK)


# ---------------------------------------------------------------------------------------------
# The cycle

async def run_cycle(
    services: Services,
    *,
    force: bool = False,
    full: bool = False,
    client: AdeClient | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    near_first: bool = False,
) -> SyncReport:
    """One sync cycle. ``force`` accepts trees (and event deletions) beyond ``sync_max_shrink``;
    ``full`` reconciles every event of the year now instead of waiting for the night;
    ``near_first`` makes a mirror that never had its near term start with it (this week is
    served within seconds of a first start; the whole year follows in the next cycle)."""
    settings = services.settings
    started = now or dt.datetime.now(dt.timezone.utc)
    own_client = client is None
    ade = client or AdeClient.from_settings(settings)
    before = ade.stats.snapshot()
    clock = time.perf_counter()
    try:
        async with _sync_lock(services.pool) as acquired:
            if not acquired:
                log.info("ade sync skipped: another runner holds the lock")
                return SyncReport(status="skipped", started_at=started)
            report = await _cycle(services, ade, force=force, full=full, now=started, progress=progress,
                                  near_first=near_first)
    finally:
        if own_client:
            await ade.aclose()
    spent = ade.stats.since(before)
    report.duration_seconds = round(time.perf_counter() - clock, 3)
    report.ade = spent
    report.ade_requests = {name: s.requests for name, s in spent.items()}
    report.ade_bytes = sum(s.bytes for s in spent.values())
    await _record_cycle(services.pool, report)
    log.info("ade sync cycle", status=report.status, mode=report.mode, seconds=report.duration_seconds,
             requests=report.requests, bytes=report.ade_bytes,
             events_new=report.events.new if report.events else 0,
             events_changed=report.events.changed if report.events else 0,
             events_deleted=report.events.deleted if report.events else 0,
             errors=len(report.errors))
    return report


async def _cycle(services: Services, ade: AdeClient, *, force: bool, full: bool, now: dt.datetime,
                 progress: Progress | None, near_first: bool = False) -> SyncReport:
    settings = services.settings
    pool = services.pool
    states = await _states(pool)
    plan = plan_cycle(settings, states, now, full=full)
    if near_first and not full and _last(states, "events:near", "last_success_at") is None:
        plan = CyclePlan(mode="near", far=False, full=False)
    report = SyncReport(status="ok", mode=plan.mode, started_at=now)

    # 1. Trees, every cycle.
    buildings = load_buildings(settings.buildings_file)
    if buildings.warning:
        report.warnings.append(buildings.warning)
    if progress:
        progress("trees", 0, len(settings.ade_categories))
    answers = await asyncio.gather(
        *(ade.get_resource_tree(category=c, detail=TREE_DETAIL) for c in settings.ade_categories),
        return_exceptions=True,
    )
    claimed: set[str] = set()
    outcomes: list[TreeOutcome] = []
    stored = {r["name"]: r["fingerprint"]
              for r in await pool.fetch("SELECT name, fingerprint FROM schedulesy.sync_state")}
    for index, (key, answer) in enumerate(zip(settings.ade_categories, answers, strict=True)):
        outcome = await _sync_tree(pool, key, answer, claimed, stored.get(f"tree:{key}"), buildings,
                                   settings=settings, force=force, now=now)
        outcomes.append(outcome)
        report.categories.append(CategoryReport(**{f: getattr(outcome, f) for f in CategoryReport.__struct_fields__}))
        if outcome.error:
            report.errors.append(f"tree {key}: {outcome.error}")
        if progress:
            progress("trees", index + 1, len(settings.ade_categories))

    # 2. Events: near term always, the rest when due; and every event that booked a resource ADE
    #    just deleted, wherever it is in the year.
    gone = [ext_id for o in outcomes for ext_id in o.removed]
    recheck = [r["event_id"] for r in await pool.fetch(
        "SELECT DISTINCT event_id FROM schedulesy.event_resource WHERE resource_ext_id = ANY($1::text[])", gone)
    ] if gone else []
    unreachable = [a for a in answers if isinstance(a, (AdeUnavailable, AdeLoginError))]
    # ADE down or refusing us for every tree: do not spend the events' requests (and retries) too.
    down = unreachable[0].message if unreachable and len(unreachable) == len(answers) else None
    report.events = await _sync_events(services, ade, plan, force=force, now=now, progress=progress,
                                       recheck=recheck, ade_down=down)
    if report.events.error:
        report.errors.append(f"events: {report.events.error}")
    if report.errors:
        report.status = "partial"
        if all(c.status == "failed" for c in report.categories) and report.events.status == "failed":
            report.status = "failed"
    return report


async def _sync_tree(pool: asyncpg.Pool, key: str, answer: ResourceTree | BaseException, claimed: set[str],
                     stored_fingerprint: str | None, buildings: Any, *, settings: Settings, force: bool,
                     now: dt.datetime) -> TreeOutcome:
    state = f"tree:{key}"
    if isinstance(answer, BaseException):
        if not isinstance(answer, AdeError):
            raise answer
        outcome = TreeOutcome(category=key, status="failed", error=answer.message)
        log.warning("ade tree fetch failed; keeping the previous tree", category=key, error=answer.message)
        await _record_state(pool, state, ok=False, error=answer.message, at=now)
        return outcome
    node = answer.category(key) or ResourceNode(tag="category", attributes={"category": key})
    ids = tree_ids(node)
    conflicts = frozenset(ids & claimed)
    if conflicts:
        log.warning("ade ids present in two categories; the earlier category keeps them",
                    category=key, ids=sorted(conflicts)[:20], count=len(conflicts))
    claimed |= ids
    digest = fingerprint(answer, key, buildings, conflicts)
    outcome = TreeOutcome(category=key, fingerprint=digest, nodes=len(ids - conflicts))
    figures = {"nodes": outcome.nodes, "bytes": len(answer.raw)}
    if digest == stored_fingerprint:
        await _record_state(pool, state, ok=True, figures={**figures, "unchanged": 1}, at=now)
        return outcome
    rows = flatten(node, key, buildings, claimed=conflicts, position=settings.ade_categories.index(key))
    async with pool.acquire() as conn, conn.transaction():
        await write_category(conn, key, rows, max_shrink=settings.sync_max_shrink, force=force, outcome=outcome)
        if outcome.status == "refused":
            await _record_state(conn, state, ok=False, error=outcome.error, at=now,
                                figures={**figures, "refused": 1})
            return outcome
        added, removed = await timetable_for_resources(conn, outcome.restructured)
        await _record_state(
            conn, state, ok=True, fingerprint_value=digest, at=now,
            figures={**figures, "unchanged": 0, "created": outcome.created, "updated": outcome.updated,
                     "deleted": outcome.deleted, "recycled": outcome.recycled,
                     "selections_cleaned": outcome.selections_cleaned,
                     "timetable_rows_added": added, "timetable_rows_removed": removed})
    if outcome.created >= ANALYZE_AFTER_ROWS // 4:
        await pool.execute("ANALYZE schedulesy.resource")
    log.info("ade tree synced", category=key, nodes=outcome.nodes, created=outcome.created,
             updated=outcome.updated, deleted=outcome.deleted)
    return outcome


async def _sync_events(services: Services, ade: AdeClient, plan: CyclePlan, *, force: bool, now: dt.datetime,
                       progress: Progress | None, recheck: list[int], ade_down: str | None) -> EventsOutcome:
    settings = services.settings
    zone = settings.zone
    today = now.astimezone(zone).date()
    try:
        if ade_down:
            raise AdeUnavailable("getResources", f"skipped, ADE is unreachable: {ade_down}")
        windows: list[Window] = near_windows(today, settings.sync_near_weeks)
        if plan.far or plan.full:
            week0 = await project_week0(ade, zone, today)
            if plan.full:
                windows = full_windows(week0)
            else:
                windows += far_windows(today, settings.sync_near_weeks, week0)
        step = EventSync(services.pool, ade, zone, mode=plan.mode, windows=windows,
                         max_shrink=settings.sync_max_shrink, force=force, recheck=recheck,
                         progress=progress)
        outcome = await step.run()
        if plan.full and outcome.status == "ok":
            outcome.audited, outcome.audit_mismatches = await audit_timetables(
                services.pool, ade, sample=AUDIT_SAMPLE)
    except AdeError as exc:
        log.warning("ade events step failed; keeping the previous events", error=exc.message)
        outcome = EventsOutcome(mode=plan.mode, status="failed", error=exc.message)
    ok = outcome.status == "ok"
    figures = {k: v for k, v in msgspec.structs.asdict(outcome).items() if isinstance(v, int)}
    tiers = ["near"] + (["far"] if plan.far else []) + (["full"] if plan.full else [])
    for tier in tiers:
        await _record_state(services.pool, f"events:{tier}", ok=ok, error=outcome.error, at=now,
                            figures=figures if tier == plan.mode else None)
    return outcome


async def _record_cycle(pool: asyncpg.Pool, report: SyncReport) -> None:
    events = report.events or EventsOutcome(mode=report.mode)
    figures: dict[str, Any] = {
        "requests": report.requests,
        "bytes": report.ade_bytes,
        "seconds": report.duration_seconds,
        "errors": len(report.errors),
        "full": 1 if report.mode == "full" else 0,
        "events_probed": events.probed,
        "events_new": events.new,
        "events_changed": events.changed,
        "events_deleted": events.deleted,
        "events_details_fetched": events.details_fetched,
        "legacy_requests": events.legacy_requests,
        "resources_created": sum(c.created for c in report.categories),
        "resources_updated": sum(c.updated for c in report.categories),
        "resources_deleted": sum(c.deleted for c in report.categories),
    }
    for function, count in report.ade_requests.items():
        figures[f"requests_{function}"] = count
    await _record_state(pool, "cycle", ok=report.status == "ok", error="; ".join(report.errors)[:2000],
                        figures=figures, at=report.started_at)


# ---------------------------------------------------------------------------------------------
# `schedulesy sync` and the worker's poller

class TerminalProgress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self._last: tuple[str, int] | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.tty:
            filled = int(self.width * done / total) if total else self.width
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r{step:<7} [{bar}] {done}/{total}")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
        elif done >= total and self._last != (step, total):
            self._last = (step, total)
            print(f"{step}: {done}/{total} done", file=self.stream)


def format_report(report: SyncReport) -> str:
    lines = [f"ADE sync {report.status} ({report.mode}) in {report.duration_seconds:.1f} s: "
             f"{report.requests} ADE requests, {report.ade_bytes / 1e6:.2f} MB"]
    for c in report.categories:
        lines.append(f"  tree {c.category:<11} {c.status:<9} {c.nodes:>6} nodes  +{c.created} ~{c.updated} -{c.deleted}"
                     + (f"  ({c.error})" if c.error else ""))
    if report.events:
        e = report.events
        lines.append(f"  events ({e.mode}, {e.windows} windows): {e.probed} seen, +{e.new} ~{e.changed} -{e.deleted},"
                     f" {e.details_fetched} fetched in detail" + (f"  ({e.error})" if e.error else ""))
        if e.audited:
            lines.append(f"  audit: {e.audited} timetables checked, {e.audit_mismatches} differ")
    lines.append("  requests: " + ", ".join(f"{k} {v}" for k, v in sorted(report.ade_requests.items())))
    lines.extend(f"  warning: {w}" for w in report.warnings)
    return "\n".join(lines)


async def run_sync_command(settings: Settings, force: bool, full: bool) -> int:
    """``schedulesy sync``: one cycle now. Exit 0 when it went well, 1 when a step failed,
    75 (EX_TEMPFAIL) when another runner holds the lock."""
    try:
        async with open_services(settings, pool_size=4) as services:
            report = await run_cycle(services, force=force, full=full, progress=TerminalProgress())
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"schedulesy sync: cannot reach the database: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    return {"ok": 0, "skipped": 75}.get(report.status, 1)


def next_delay(interval: float, failures: int, rng: random.Random | None = None) -> float:
    """The poll interval with ±10 % jitter; doubled per consecutive failure, capped at an hour."""
    rng = rng or random.Random()
    base = min(interval * 2 ** min(failures, 10), max(interval, MAX_BACKOFF_SECONDS))
    return base * rng.uniform(0.9, 1.1)


async def run_poller(settings: Settings) -> None:
    """Runs forever inside ``schedulesy worker``: a cycle every ``poll_interval`` (with jitter),
    backing off while ADE or Postgres fail. One ADE session is reused across cycles."""
    failures = 0
    first = True
    async with open_services(settings, pool_size=4) as services, AdeClient.from_settings(settings) as ade:
        while True:
            try:
                report = await run_cycle(services, client=ade, near_first=first)
                ok = report.status in ("ok", "skipped")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ade sync cycle crashed")
                ok = False
            failures = 0 if ok else failures + 1
            delay = next_delay(settings.poll_interval, failures)
            if first and ok and report.mode == "near":
                delay = 0  # the near term is in; fetch the rest of the year right away
            first = False
            if failures:
                log.warning("ade sync backing off", failures=failures, retry_in=round(delay))
            await asyncio.sleep(delay)
