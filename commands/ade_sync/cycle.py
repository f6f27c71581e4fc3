"""The ADE → Postgres sync: the only writer of the ADE mirror (resource, event, event_resource,
timetable) and of ``sync_state``.

A *cycle* (:func:`run_cycle`) runs under a Postgres advisory lock (one runner across workers):

1. the category trees, on their own cadence (``sync_tree_interval``, at once when an event books an
   unknown resource): each is probed cheaply (:mod:`commands.ade_sync.treecheck`) and fetched at
   detail 11 only when its probe changed (all of them nightly); a tree whose fingerprint is unchanged is
   skipped, any other is reconciled (:mod:`commands.ade_sync.trees`);
2. events are checked (:mod:`commands.ade_sync.events`): the near term every cycle, the rest of the
   year when ``sync_far_interval`` has passed, and everything — at full detail — once a night after
   ``sync_nightly_hour`` (or with ``full=True``); each on a slower cadence while ADE's change feed is
   trusted to announce changes (:mod:`commands.ade_sync.feed`);
3. a few resources' timetables are audited against ADE's own answer (:mod:`commands.ade_sync.audit`);
4. the figures go to ``sync_state`` (one row per tree, per events tier, and ``cycle``; see
   :mod:`commands.ade_sync.report`).

ADE failing (down, slow, ``<error>``, an implausibly small answer) never deletes anything: the step
keeps the last good data, records ``last_error``, and the poller backs off.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
import structlog

from commands.ade_sync.buildings import Buildings, load_buildings
from commands.ade_sync.events import EventSync, fetch_ids
from commands.ade_sync.feed import OFF, FeedTrust, announced_between, distrust, feed_trust, record_trust
from commands.ade_sync.report import EventsReport, SyncMode, SyncReport, TreeReport, record_cycle, record_state
from commands.ade_sync.ade_timetables import every_resource, lineage, refresh_from_ade
from commands.ade_sync.audit import run_audit
from commands.ade_sync.timetables import timetable_for_resources
from commands.ade_sync.treecheck import probe_digest, probe_tree
from commands.ade_sync.trees import fingerprint, flatten, tree_ids, write_category
from commands.ade_sync.windows import windows_to_check
from commands.ade_sync.writes import ANALYZE_AFTER_ROWS, delete_events, event_row, write_events
from schedulesy import syncstate
from schedulesy.ade.client import AdeClient
from schedulesy.ade.errors import AdeError, AdeLoginError, AdeUnavailable
from schedulesy.ade.models import ResourceNode, ResourceTree
from schedulesy.categories import CLASSROOM
from schedulesy.locks import LockId
from schedulesy.progress import Progress
from schedulesy.services import Services
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

TREE_DETAIL = 11
NIGHT = dt.timedelta(hours=6)
"""How long after ``sync_nightly_hour`` a nightly pass may still start when the feed, trusted lately, is not."""
ASKED_FOR = FeedTrust(trusted=False, reason="asked for: probed as without the change feed")


class CyclePlan(msgspec.Struct, frozen=True):
    mode: SyncMode
    far: bool
    full: bool
    near: bool = True
    """Probe the near term (always, unless the trusted change feed leads and it is not due)."""
    feed: FeedTrust = OFF


# ---------------------------------------------------------------------------------------------
# Planning

async def _states(pool: asyncpg.Pool) -> dict[str, asyncpg.Record]:
    return {r["name"]: r for r in await pool.fetch("SELECT * FROM schedulesy.sync_state")}


def _last(states: dict[str, Any], name: str, column: str) -> dt.datetime | None:
    row = states.get(name)
    return None if row is None else row[column]


def plan_cycle(settings: Settings, states: dict[str, Any], now: dt.datetime, *, full: bool,
               feed: FeedTrust = OFF) -> CyclePlan:
    """Near term always; the rest of the year when due; everything once a night (and at first).
    While ADE's change feed is trusted (``feed``), each of the three on its slower cadence.

    A tier that failed is retried after ``sync_far_interval``, not at every cycle: a nightly pass
    that keeps failing (or keeps being refused) must not turn every cycle into a full one.
    """
    retry = dt.timedelta(seconds=settings.sync_far_interval)
    local = now.astimezone(settings.zone)
    nightly_today = local.replace(hour=settings.sync_nightly_hour, minute=0, second=0, microsecond=0)
    last_nightly_slot = nightly_today if local >= nightly_today else nightly_today - dt.timedelta(days=1)
    full_done = _last(states, syncstate.events_row("full"), "last_success_at")
    full_tried = _last(states, syncstate.events_row("full"), "last_attempt_at")
    due_by_feed = full_done is None or full_done < last_nightly_slot - dt.timedelta(days=settings.sync_feed_full_days - 1)
    if feed.trusted:
        full_due = due_by_feed
    elif settings.amqp_url and not due_by_feed:
        # The feed led until lately: the pass it did not need yet waits for the night, not the afternoon.
        full_due = full_done is not None and full_done < last_nightly_slot and now - last_nightly_slot < NIGHT
    else:
        full_due = full_done is None or full_done < last_nightly_slot
    if full or (full_due and (full_tried is None or full_tried < last_nightly_slot or now - full_tried >= retry)):
        return CyclePlan(mode="full", far=True, full=True, feed=feed)
    far_done = _last(states, syncstate.events_row("far"), "last_success_at")
    far_tried = _last(states, syncstate.events_row("far"), "last_attempt_at")
    far_failed = far_tried is not None and (far_done is None or far_done < far_tried)
    far_every = retry if far_failed or not feed.trusted else dt.timedelta(seconds=settings.sync_feed_far_interval)
    if far_tried is None or now - far_tried >= far_every:
        return CyclePlan(mode="far", far=True, full=False, feed=feed)
    near_done = _last(states, syncstate.events_row("near"), "last_success_at")
    near = (not feed.trusted or near_done is None
            or (now - near_done).total_seconds() >= settings.sync_feed_near_interval)
    return CyclePlan(mode="near", far=False, full=False, near=near, feed=feed)


@asynccontextmanager
async def sync_lock(pool: asyncpg.Pool) -> AsyncIterator[bool]:
    async with pool.acquire() as conn:
        acquired = await conn.fetchval("SELECT pg_try_advisory_lock($1)", LockId.ADE_SYNC)
        try:
            yield bool(acquired)
        finally:
            if acquired:
                await conn.execute("SELECT pg_advisory_unlock($1)", LockId.ADE_SYNC)


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
    feed_may_lead: bool = False,
) -> SyncReport:
    """One sync cycle. ``force`` accepts trees (and event deletions) beyond ``sync_max_shrink``;
    ``full`` reconciles every event of the year now instead of waiting for the night;
    ``near_first`` makes a mirror that never had its near term start with it (this week is
    served within seconds of a first start; the whole year follows in the next cycle);
    ``feed_may_lead`` (the poller's cycles) lets a trusted change feed slow the probes down — a sync
    asked for (the CLI, the admin endpoint) probes as without it."""
    settings = services.settings
    started = now or dt.datetime.now(dt.timezone.utc)
    own_client = client is None
    ade = client or AdeClient.from_settings(settings)
    ade.reset_reachability()
    before = ade.stats.snapshot()
    clock = time.perf_counter()
    try:
        async with sync_lock(services.pool) as acquired:
            if not acquired:
                log.info("ade sync skipped: another runner holds the lock")
                return SyncReport(status="skipped", started_at=started)
            report = await _cycle(services, ade, force=force, full=full, now=started, progress=progress,
                                  near_first=near_first, feed_may_lead=feed_may_lead)
    finally:
        if own_client:
            await ade.aclose()
    spent = ade.stats.since(before)
    report.duration_seconds = round(time.perf_counter() - clock, 3)
    report.ade = spent
    report.ade_requests = {name: s.requests for name, s in spent.items()}
    report.ade_bytes = sum(s.bytes for s in spent.values())
    await record_cycle(services.pool, report)
    log.info("ade sync cycle", status=report.status, mode=report.mode, seconds=report.duration_seconds,
             requests=report.requests, bytes=report.ade_bytes,
             events_new=report.events.new if report.events else 0,
             events_changed=report.events.changed if report.events else 0,
             events_deleted=report.events.deleted if report.events else 0,
             errors=len(report.errors))
    return report


async def _cycle(services: Services, ade: AdeClient, *, force: bool, full: bool, now: dt.datetime,
                 progress: Progress | None, near_first: bool = False, feed_may_lead: bool = False) -> SyncReport:
    settings = services.settings
    pool = services.pool
    states = await _states(pool)
    trust = feed_trust(settings, states, now) if feed_may_lead else ASKED_FOR
    plan = plan_cycle(settings, states, now, full=full, feed=trust)
    if near_first and not full and _last(states, syncstate.events_row("near"), "last_success_at") is None:
        plan = CyclePlan(mode="near", far=False, full=False, feed=trust)
    report = SyncReport(status="ok", mode=plan.mode, started_at=now, feed=trust.reason)
    if settings.amqp_url and feed_may_lead:
        await record_trust(pool, trust)

    # 1. Trees, on their own cadence (``sync_tree_interval``), or all of them at full detail nightly.
    failures: list[BaseException] = []
    gone: list[str] = []
    # A new buildings map re-geolocates rooms at once, even though no tree changed.
    new_map = load_buildings(settings.buildings_file).version != _last(states, syncstate.BUILDINGS, "fingerprint")
    trees_checked = plan.full or force or new_map or trees_due(settings, states, now)
    if trees_checked:
        failures, gone = await sync_trees(services, ade, report, states=states, force=force, now=now,
                                          progress=progress, check=not plan.full)

    # 2. Events: near term always, the rest when due; and every event that booked a resource ADE
    #    just deleted, wherever it is in the year.
    recheck = [r["event_id"] for r in await pool.fetch(
        "SELECT DISTINCT event_id FROM schedulesy.event_resource WHERE resource_ext_id = ANY($1::text[])", gone)
    ] if gone else []
    report.frozen = await frozen_categories(pool, settings.ade_categories)
    if report.frozen:
        log.warning("ade bookings frozen: a tree is refused", categories=report.frozen)
    unreachable = [a for a in failures if isinstance(a, (AdeUnavailable, AdeLoginError))]
    # ADE down or refusing us for every tree, or not even accepting connections: do not spend the
    # events' requests (and retries) too.
    down = unreachable[0].message if unreachable and len(unreachable) == len(settings.ade_categories) else None
    down = ade.unreachable.message if ade.unreachable is not None else down
    touched = [r for c in report.categories for r in c.restructured]
    report.events = await _sync_events(services, ade, plan, force=force, now=now, progress=progress,
                                       recheck=recheck, ade_down=down, frozen=report.frozen, touched=touched)
    if report.events.error:
        report.errors.append(f"events: {report.events.error}")
    if report.events.unannounced:
        report.feed = "distrusted: this cycle's probe found changes the feed did not announce"
    # An event books a resource no tree has: a tree changed, look at once (not again for the same ones).
    unknown = await unknown_booked(services) if report.events.status != "failed" else []
    marker = hashlib.sha256(",".join(unknown).encode()).hexdigest() if unknown else None
    if unknown and not trees_checked and marker != _last(states, syncstate.TREES, "fingerprint"):
        log.info("ade events book resources no tree has; checking the trees now", resources=unknown[:20],
                 count=len(unknown))
        _, gone = await sync_trees(services, ade, report, states=await _states(pool), force=force, now=now)
        await recheck_events(services, ade, gone, report.events)
        unknown = await unknown_booked(services)
    if unknown:
        await pool.execute("UPDATE schedulesy.sync_state SET fingerprint = $2 WHERE name = $1", syncstate.TREES,
                           hashlib.sha256(",".join(unknown).encode()).hexdigest())
    if report.errors:
        report.status = "partial"
        if all(c.status == "failed" for c in report.categories) and report.events.status == "failed":
            report.status = "failed"
    return report


async def sync_trees(services: Services, ade: AdeClient, report: SyncReport, *, states: dict[str, Any],
                     force: bool, now: dt.datetime, progress: Progress | None = None, check: bool = True
                     ) -> tuple[list[BaseException], list[str]]:
    """Reconcile the category trees (the caller holds the sync lock); each tree's report goes to
    ``report``. With ``check``, each category is first probed cheaply (:mod:`commands.ade_sync.treecheck`)
    and only those whose probe changed are fetched at detail 11; without, all of them are.
    Answers ADE's failures and the resources ADE deleted."""
    settings = services.settings
    pool = services.pool
    categories = settings.ade_categories
    buildings = load_buildings(settings.buildings_file)
    if buildings.warning:
        report.warnings.append(buildings.warning)
    if progress:
        progress("trees", 0, len(categories))
    probes: dict[str, ResourceTree | BaseException] = {}
    wanted = list(categories)
    if check:
        answers = await asyncio.gather(*(probe_tree(ade, c) for c in categories), return_exceptions=True)
        probes = dict(zip(categories, answers, strict=True))
        wanted = [c for c in categories if _changed(probes[c], c, states, _extra(c, buildings))]
    fetched = await asyncio.gather(
        *(ade.get_resource_tree(category=c, detail=TREE_DETAIL) for c in wanted if c not in _failed(probes)),
        return_exceptions=True)
    full_answers = dict(zip([c for c in wanted if c not in _failed(probes)], fetched, strict=True))
    claimed: set[str] = set()
    gone: list[str] = []
    failures: list[BaseException] = []
    for index, key in enumerate(categories):
        answer: ResourceTree | BaseException | None = probes[key] if key in _failed(probes) else full_answers.get(key)
        if answer is None:
            # The probe says unchanged: keep the tree; its ids still claim their place for later categories.
            kept = probes[key]
            assert isinstance(kept, ResourceTree)
            claimed |= {r["ext_id"] for r in await pool.fetch(
                "SELECT ext_id FROM schedulesy.resource WHERE category = $1 AND ext_id <> $1", key)}
            tree = TreeReport(category=key, status="unchanged", bytes=len(kept.raw),
                              nodes=len(tree_ids(kept.category(key) or _empty(key))))
            await record_state(pool, syncstate.tree_row(key), ok=True, figures=tree.figures(), at=now)
        else:
            tree, removed = await _sync_tree(pool, key, answer, claimed, states.get(syncstate.tree_row(key)),
                                             buildings, settings=settings, force=force, now=now)
            gone += removed
            if isinstance(answer, BaseException):
                failures.append(answer)
            probe = probes.get(key)
            if isinstance(probe, ResourceTree):
                tree.bytes += len(probe.raw)
            if isinstance(answer, ResourceTree) and tree.status in ("unchanged", "modified"):
                # The full answer's digest is the probe's: the next check fetches nothing if nothing moved.
                await record_state(pool, syncstate.tree_probe_row(key), ok=True,
                                   fingerprint=probe_digest(answer, key, _extra(key, buildings)), at=now)
        report.categories.append(tree)
        if tree.error:
            report.errors.append(f"tree {key}: {tree.error}")
        if progress:
            progress("trees", index + 1, len(categories))
    ok = not any(c.status in ("failed", "refused") for c in report.categories)
    await record_state(pool, syncstate.TREES, ok=ok, at=now, error="" if ok else "a tree failed or was refused",
                       figures={"fetched": len(full_answers), "probed": len(probes)})
    await record_state(pool, syncstate.BUILDINGS, ok=True, fingerprint=buildings.version, at=now)
    return failures, gone


def _changed(probe: ResourceTree | BaseException, key: str, states: dict[str, Any], extra: str) -> bool:
    if isinstance(probe, BaseException):
        return True
    return probe_digest(probe, key, extra) != _last(states, syncstate.tree_probe_row(key), "fingerprint")


def _extra(key: str, buildings: Buildings) -> str:
    return buildings.version if key == CLASSROOM else ""


def _empty(key: str) -> ResourceNode:
    return ResourceNode(tag="category", attributes={"category": key})


def _failed(probes: dict[str, ResourceTree | BaseException]) -> set[str]:
    return {c for c, p in probes.items() if isinstance(p, BaseException)}


async def recheck_events(services: Services, ade: AdeClient, gone: Sequence[str], report: EventsReport) -> None:
    """Refetch the events that booked resources ADE just deleted (outside a cycle's events step)."""
    if not gone:
        return
    ids = [r["event_id"] for r in await services.pool.fetch(
        "SELECT DISTINCT event_id FROM schedulesy.event_resource WHERE resource_ext_id = ANY($1::text[])", list(gone))]
    frozen = await frozen_categories(services.pool, services.settings.ade_categories)
    derive = services.settings.timetable_source == "derived"
    found = await fetch_ids(ade, ids)
    rows = [row for row in (event_row(e, services.settings.zone) for e in found) if row is not None]
    affected = await write_events(services.pool, rows, report, frozen, derive=derive)
    affected |= await delete_events(services.pool, sorted(set(ids) - {e.id for e in found}), report, frozen)
    if not derive:
        await refresh_from_ade(services.pool, ade, await lineage(services.pool, affected, frozen))


def trees_due(settings: Settings, states: dict[str, Any], now: dt.datetime) -> bool:
    """The trees' own cadence: never checked, asked for (a ``NULL`` success), or older than the interval."""
    last = _last(states, syncstate.TREES, "last_success_at")
    return last is None or (now - last).total_seconds() >= settings.sync_tree_interval


async def unknown_booked(services: Services) -> list[str]:
    """Mirrored-category resources that events book but no tree has (a tree changed since we looked)."""
    rows = await services.pool.fetch(
        """
        SELECT DISTINCT er.resource_ext_id FROM schedulesy.event_resource er
        WHERE er.category = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM schedulesy.resource r WHERE r.ext_id = er.resource_ext_id)
        ORDER BY 1 LIMIT 1000
        """, list(services.settings.ade_categories))
    return [r["resource_ext_id"] for r in rows]


async def frozen_categories(pool: asyncpg.Pool, categories: Sequence[str]) -> list[str]:
    """Categories whose last tree answer was refused (kept until a tree of theirs is accepted, even
    through cycles that could not fetch it): their bookings are frozen."""
    rows = await pool.fetch(
        "SELECT name FROM schedulesy.sync_state WHERE name = ANY($1::text[]) AND (figures->>'refused') = '1'",
        [syncstate.tree_row(c) for c in categories])
    refused = {r["name"] for r in rows}
    return [c for c in categories if syncstate.tree_row(c) in refused]


async def _sync_tree(pool: asyncpg.Pool, key: str, answer: ResourceTree | BaseException, claimed: set[str],
                     state: asyncpg.Record | None, buildings: Buildings, *, settings: Settings, force: bool,
                     now: dt.datetime) -> tuple[TreeReport, list[str]]:
    """One category: skipped when its fingerprint is the stored one, else written in one transaction.
    Answers its report and the resources ADE deleted from it."""
    name = syncstate.tree_row(key)
    if isinstance(answer, BaseException):
        if not isinstance(answer, AdeError):
            raise answer
        log.warning("ade tree fetch failed; keeping the previous tree", category=key, error=answer.message)
        report = TreeReport(category=key, status="failed", error=answer.message)
        await record_state(pool, name, ok=False, error=answer.message, figures=report.figures(), at=now)
        return report, []
    node = answer.category(key) or ResourceNode(tag="category", attributes={"category": key})
    ids = tree_ids(node)
    conflicts = frozenset(ids & claimed)
    if conflicts:
        log.warning("ade ids present in two categories; the earlier category keeps them",
                    category=key, ids=sorted(conflicts)[:20], count=len(conflicts))
    claimed |= ids
    digest = fingerprint(answer, key, buildings, conflicts)
    report = TreeReport(category=key, fingerprint=digest, nodes=len(ids - conflicts), bytes=len(answer.raw))
    if state is not None and digest == state["fingerprint"]:
        await record_state(pool, name, ok=True, figures=report.figures(), at=now)
        return report, []
    rows = flatten(node, key, buildings, claimed=conflicts, position=settings.ade_categories.index(key))
    async with pool.acquire() as conn, conn.transaction():
        changes = await write_category(conn, key, rows, max_shrink=settings.sync_max_shrink, force=force,
                                       report=report)
        if report.status == "refused":
            await record_state(conn, name, ok=False, error=report.error, figures=report.figures(), at=now)
            return report, []
        if settings.timetable_source == "derived":
            report.timetable_rows_added, report.timetable_rows_removed = await timetable_for_resources(
                conn, changes.restructured)
        else:
            report.restructured = changes.restructured  # their timetables are asked from ADE after the events
        await record_state(conn, name, ok=True, fingerprint=digest, figures=report.figures(), at=now)
    if report.created >= ANALYZE_AFTER_ROWS // 4:
        await pool.execute("ANALYZE schedulesy.resource")
    log.info("ade tree synced", category=key, nodes=report.nodes, created=report.created,
             updated=report.updated, deleted=report.deleted)
    return report, changes.removed


async def _sync_events(services: Services, ade: AdeClient, plan: CyclePlan, *, force: bool, now: dt.datetime,
                       progress: Progress | None, recheck: list[int], ade_down: str | None,
                       frozen: list[str], touched: Sequence[str] = ()) -> EventsReport:
    settings = services.settings
    if recheck or touched:  # events that booked a deleted or moved resource: the events step fetches them
        plan = msgspec.structs.replace(plan, near=True)
    probing = plan.near or plan.far or plan.full
    try:
        if ade_down:
            raise AdeUnavailable("getResources", f"skipped, ADE is unreachable: {ade_down}")
        if probing:
            report = await _probe_events(services, ade, plan, force=force, now=now, progress=progress,
                                         recheck=recheck, frozen=frozen, touched=touched)
        else:  # the trusted change feed leads: this cycle only audits
            report = EventsReport(mode=plan.mode)
        if report.status == "ok":
            audit = await run_audit(services.pool, ade, settings, now=now)
            report.audited, report.audit_mismatches = audit.audited, len(audit.differing)
            report.audit_requests, report.audit_bytes = audit.requests, audit.bytes
    except AdeError as exc:
        log.warning("ade events step failed; keeping the previous events", error=exc.message)
        report = EventsReport(mode=plan.mode, status="failed", error=exc.message)
    tiers = (["near"] if probing else []) + (["far"] if plan.far else []) + (["full"] if plan.full else [])
    for tier in tiers:
        await record_state(services.pool, syncstate.events_row(tier), ok=report.status == "ok", error=report.error,
                           at=now, figures=report.figures() if tier == plan.mode else None)
    return report


async def _probe_events(services: Services, ade: AdeClient, plan: CyclePlan, *, force: bool, now: dt.datetime,
                        progress: Progress | None, recheck: list[int], frozen: list[str],
                        touched: Iterable[str]) -> EventsReport:
    """The events step proper; a trusted feed that missed a change this probe found is distrusted."""
    settings = services.settings
    windows = await windows_to_check(ade, settings.zone, now.astimezone(settings.zone).date(),
                                     settings.sync_near_weeks, far=plan.far, full=plan.full, near=plan.near)
    derive = settings.timetable_source == "derived"
    step = EventSync(services.pool, ade, settings.zone, mode=plan.mode, windows=windows,
                     max_shrink=settings.sync_max_shrink, force=force, recheck=recheck,
                     progress=progress, frozen=frozen, derive=derive,
                     announced_between=announced_between(plan.feed, now))
    report = await step.run()
    if step.unannounced:
        await distrust(services.pool, now, step.unannounced)
    if not derive and report.status == "ok":
        empty = not await services.pool.fetchval("SELECT EXISTS (SELECT 1 FROM schedulesy.timetable)")
        targets = (await every_resource(services.pool, frozen) if plan.full or empty
                   else await lineage(services.pool, step.affected | set(touched), frozen))
        report.timetables_from_ade = await refresh_from_ade(services.pool, ade, targets)
    return report
