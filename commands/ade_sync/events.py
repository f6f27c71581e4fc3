"""Events: detect what changed in ADE cheaply, fetch details only for that, write set-based.

Change detection (ADE has no "modified since", docs/ade.md §5.1):

1. *Probe* a date window with ``getEvents(startDate, endDate, detail=7)``: every event of the window
   with its ids, stable key, name, placement, colour, note and ``lastUpdate`` — but no resources.
   One request per window, whatever the number of resources.
2. Compare with the mirror: an unknown id is new; a known id whose probed fields differ from the
   stored ones is changed (moved, renamed, recoloured, re-noted, or touched: ``lastUpdate``).
3. Fetch details (``detail=8``, with the booked resources) only for those, by ``eventId=a|b|c``
   batches — or the whole window at detail 8 when most of it changed or the mirror has nothing there.
4. A mirror event that no probe saw either moved outside the probed windows or was deleted: one
   ``eventId`` lookup per batch tells which. An id replaced by a new id with the same stable key
   (ADE re-placed it) needs no lookup.

Freshness is tiered by the caller: near term every cycle, the rest of the year when due, and a
nightly full pass that fetches every window at detail 8 (so even a change of booked resources that
left ``lastUpdate`` alone is caught) — slower while ADE's change feed is trusted
(:mod:`commands.ade_sync.feed`), when a probe also counts the changes the feed should have announced.
Each chunk of writes is one short transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import asyncpg
import msgspec
import structlog

from commands.ade_sync.report import EventsReport, SyncMode
from commands.ade_sync.timetables import lineage_size
from commands.ade_sync.windows import Window
from commands.ade_sync.writes import delete_events, event_row, write_events
from schedulesy.ade.client import AdeClient
from schedulesy.ade.dates import format_event_date, local_stamp
from schedulesy.ade.models import Event, StableKey
from schedulesy.progress import Progress

log = structlog.get_logger(__name__)
T = TypeVar("T")

PROBE_DETAIL = 7
"""The lowest level that carries ``lastUpdate`` (docs/ade.md §3.3); no resources yet."""
FULL_DETAIL = 8
DETAIL_BATCH = 100
"""Event ids per ``eventId=a|b|…`` request (about 1 kB of URL)."""
WINDOW_REFETCH_FRACTION = 0.3
"""Refetch a whole window at detail 8 rather than in batches when this share of it changed."""
WINDOWS_IN_FLIGHT = 3
"""Windows fetched and parsed at once: bounds the memory of a full pass (a window of the large
preset at detail 8 is ~20 MB of XML)."""
SHRINK_FLOOR = 50
"""Below this many events in the probed range, deletions are never refused as implausible."""


async def gather_all(coroutines: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest and raise that failure itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as group_error:
        first = group_error.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]


class Summary(msgspec.Struct, frozen=True, gc=False):
    """What a detail-7 probe tells about an event, in the mirror's terms."""

    name: str
    date: str
    start_hour: str
    end_hour: str
    duration: int
    color: str
    note: str
    last_update: dt.datetime | None


def summary_of(event: Event, zone: zoneinfo.ZoneInfo) -> Summary | None:
    if event.date is None:
        return None
    return Summary(name=event.name, date=format_event_date(event.date), start_hour=event.start_hour,
                   end_hour=event.end_hour, duration=event.duration or 0, color=event.color_hex,
                   note=event.note, last_update=local_stamp(event.last_update, zone))
# ---------------------------------------------------------------------------------------------
# Fetching

def _fetch_bounds(window: Window) -> tuple[dt.date, dt.date]:
    """Whether ADE's ``endDate`` is inclusive is unknown (docs/ade.md §3.1): ask one day more and
    keep only the window's days, so the answer is right either way."""
    return window.start, window.end + dt.timedelta(days=1)


async def fetch_window(client: AdeClient, window: Window, detail: int) -> list[Event]:
    start, end = _fetch_bounds(window)
    answer = await client.get_events(start_date=start, end_date=end, detail=detail)
    return [e for e in answer.events if e.date is not None and window.contains(e.date)]


async def fetch_ids(client: AdeClient, ids: Sequence[int]) -> list[Event]:
    """Details of ``ids`` in ``eventId`` batches; ids ADE no longer has are simply absent."""
    if not ids:
        return []
    batches = [ids[i:i + DETAIL_BATCH] for i in range(0, len(ids), DETAIL_BATCH)]
    answers = await gather_all(client.get_events(event_ids=b, detail=FULL_DETAIL) for b in batches)
    wanted = set(ids)
    return [e for answer in answers for e in answer.events if e.id in wanted]


# ---------------------------------------------------------------------------------------------
# The events step

class MirrorEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: int
    key: StableKey
    day: dt.date
    summary: Summary


async def load_mirror(pool: asyncpg.Pool, start: dt.date, end: dt.date, zone: zoneinfo.ZoneInfo) -> list[MirrorEvent]:
    low = dt.datetime.combine(start, dt.time(), tzinfo=zone)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    rows = await pool.fetch(
        """
        SELECT event_id, activity_id, repetition, session, name, date, start_hour, end_hour, duration,
               color, note, last_update, starts_at
        FROM schedulesy.event WHERE starts_at >= $1 AND starts_at < $2
        """, low, high)
    return [
        MirrorEvent(
            event_id=r["event_id"], key=(r["activity_id"], r["repetition"], r["session"]),
            day=r["starts_at"].astimezone(zone).date(),
            summary=Summary(name=r["name"], date=r["date"], start_hour=r["start_hour"], end_hour=r["end_hour"],
                            duration=r["duration"], color=r["color"], note=r["note"], last_update=r["last_update"]),
        )
        for r in rows
    ]


class EventSync:
    """One events step: probes, detail fetches and writes, with its counters in ``report``."""

    def __init__(self, pool: asyncpg.Pool, client: AdeClient, zone: zoneinfo.ZoneInfo, *, mode: SyncMode,
                 windows: Sequence[Window], max_shrink: float, force: bool,
                 recheck: Iterable[int] = (), progress: Progress | None = None,
                 frozen: Iterable[str] = (), derive: bool = True,
                 announced_between: tuple[dt.datetime, dt.datetime] | None = None) -> None:
        self.pool = pool
        self.client = client
        self.zone = zone
        self.full = mode == "full"
        self.windows = list(windows)
        self.max_shrink = max_shrink
        self.force = force
        self.progress = progress
        self.report = EventsReport(mode=mode, windows=len(self.windows))
        self._write_lock = asyncio.Lock()
        self._window_slots = asyncio.Semaphore(WINDOWS_IN_FLIGHT)
        self._seen_ids: set[int] = set()
        self._seen_keys: set[StableKey] = set()
        self._pending: set[int] = set()
        self._recheck = set(recheck)
        self._done_windows = 0
        self._affected: set[str] = set()
        self.frozen = frozenset(frozen)
        """Categories whose tree was refused: their bookings are neither taken away nor deleted."""
        self.derive = derive
        self.announced_between = announced_between
        """While ADE's change feed is trusted: a change stamped within these should have been announced."""
        self.unannounced: list[int] = []

    @property
    def affected(self) -> set[str]:
        """The resources whose events this step wrote or deleted (before and after the change)."""
        return self._affected

    def _show_progress(self, step: str) -> None:
        if self.progress:
            self.progress(step, self._done_windows, len(self.windows))

    async def run(self) -> EventsReport:
        if not self.windows:
            return self.report
        start = min(w.start for w in self.windows)
        end = max(w.end for w in self.windows)
        # The full pass fetches everything at full detail: it needs no summaries to compare with.
        mirror = [] if self.full else await load_mirror(self.pool, start, end, self.zone)
        by_window: dict[Window, list[MirrorEvent]] = {w: [] for w in self.windows}
        for m in mirror:
            for w in self.windows:
                if w.contains(m.day):
                    by_window[w].append(m)
                    break
        self._show_progress("events")
        # Every window is fetched before anything is deleted: a failure leaves the mirror intact.
        await gather_all(self._window(w, by_window[w]) for w in self.windows)

        known_in_range = {m.event_id for m in mirror if any(w.contains(m.day) for w in self.windows)}
        if self.full:
            # The full pass covered the whole timeline: whatever it did not see is gone.
            everything = {r["event_id"] for r in await self.pool.fetch("SELECT event_id FROM schedulesy.event")}
            gone = sorted(everything - self._seen_ids)
            known_in_range = everything
        else:
            # Not seen in its window, and its stable key not seen under a new id: moved away or gone.
            missing = {m.event_id for m in mirror if m.event_id in known_in_range
                       and m.event_id not in self._seen_ids and m.key not in self._seen_keys}
            # One batched eventId pass serves changed events, vanished ones, and the events that
            # booked a resource ADE deleted (ADE may not have re-stamped those).
            found = await fetch_ids(self.client, sorted(self._pending | missing | self._recheck))
            found_ids = {e.id for e in found}
            self.report.moved_out = len(missing & found_ids)
            await self._write(found)
            gone = sorted((missing | self._recheck) - found_ids - self._seen_ids)
        await self._delete(gone, len(known_in_range))
        self.report.legacy_requests = await lineage_size(self.pool, self._affected)
        return self.report

    async def _window(self, window: Window, mirrored: list[MirrorEvent]) -> None:
        async with self._window_slots:
            await self._check_window(window, mirrored)
        self._done_windows += 1
        self._show_progress("events")

    async def _check_window(self, window: Window, mirrored: list[MirrorEvent]) -> None:
        if self.full or not mirrored:
            events = await fetch_window(self.client, window, FULL_DETAIL)
            self._see(events)
            await self._write(events)
        else:
            probe = await fetch_window(self.client, window, PROBE_DETAIL)
            self._see(probe)
            stored = {m.event_id: m.summary for m in mirrored}
            changed = []
            for event in probe:
                summary = summary_of(event, self.zone)
                if stored.get(event.id) is None or stored[event.id] != summary:
                    changed.append(event.id)
                    if self._unannounced(event, summary):
                        self.unannounced.append(event.id)
            self.report.unannounced = len(self.unannounced)
            # Known events that changed may also be stored in another window (they moved here).
            if len(changed) > DETAIL_BATCH and len(changed) > WINDOW_REFETCH_FRACTION * len(probe):
                wanted = set(changed)
                events = await fetch_window(self.client, window, FULL_DETAIL)
                await self._write([e for e in events if e.id in wanted])
            else:
                self._pending.update(changed)

    def _unannounced(self, event: Event, summary: Summary | None) -> bool:
        stamp = summary.last_update if summary is not None else None
        if self.announced_between is None or stamp is None:
            return False
        since, before = self.announced_between
        # An event we cannot store (unreadable hours) differs at every probe: not the feed's fault.
        return since <= stamp < before and event_row(event, self.zone) is not None

    def _see(self, events: Iterable[Event]) -> None:
        for e in events:
            self._seen_ids.add(e.id)
            self._seen_keys.add(e.stable_key)
        self.report.probed = len(self._seen_ids)

    async def _write(self, events: Sequence[Event]) -> None:
        if not events:
            return
        rows = []
        for event in events:
            row = event_row(event, self.zone)
            if row is None:
                self.report.invalid += 1
                log.warning("ade event with an unreadable date or hour skipped", event_id=event.id,
                            date=event.attributes.get("date"), start=event.start_hour, end=event.end_hour)
                continue
            rows.append(row)
        self.report.details_fetched += len(events)
        async with self._write_lock:
            self._affected |= await write_events(self.pool, rows, self.report, self.frozen, derive=self.derive)

    async def _delete(self, ids: Sequence[int], in_range: int) -> None:
        if not ids:
            return
        if (not self.force and in_range >= SHRINK_FLOOR and len(ids) > self.max_shrink * in_range):
            self.report.deletions_refused = len(ids)
            self.report.status = "refused"
            self.report.error = (f"{len(ids)} of {in_range} events vanished from ADE at once (more than "
                                 f"{self.max_shrink:.0%}); kept them — run with --force to accept")
            log.warning("ade event deletions refused", vanished=len(ids), of=in_range)
            return
        async with self._write_lock:
            self._affected |= await delete_events(self.pool, ids, self.report, self.frozen)