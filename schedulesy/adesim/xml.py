"""XML answers of the simulated ADE Web API, written by hand for speed and byte stability.

Why not an XML library: ADE's answers have a fixed attribute order per detail level (docs/ade.md §2.4, §3.2), tab
indentation and ``&apos;`` escaping; writing strings directly pins all three, keeps the bytes identical
for unchanged data (SCH fingerprints them with MD5) and renders a week of a large project in
milliseconds. Strings reused across many events (dates, hours, booked-resource tails) are cached per
store version.

This module holds the primitives and the events (``getEvents``); :mod:`schedulesy.adesim.resource_xml`
and :mod:`schedulesy.adesim.activity_xml` write the other answers.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from schedulesy.adesim.controls import Quirks
from schedulesy.adesim.model import GridProject, PlacedEvent, format_hour
from schedulesy.adesim.store import Store

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;",
                          "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def esc(text: str) -> str:
    """Markup characters escaped; other control characters (U+0007 in a note…) stay raw, as real
    ADE writes them, although XML 1.0 forbids them: the client must survive that quirk."""
    return text.translate(_ESCAPES)


def document(body: str) -> bytes:
    return (DECLARATION + body).encode("utf-8")


def error(name: str, trace: str) -> bytes:
    return document(f'<error name="{esc(name)}" trace="{esc(trace)}"/>\n')


def element(tag: str, attrs: Sequence[tuple[str, object]]) -> bytes:
    return document(f"<{tag}{''.join(f' {k}={quoted(v)}' for k, v in attrs)}/>\n")


def quoted(value: object) -> str:
    if isinstance(value, bool):
        return '"true"' if value else '"false"'
    return f'"{esc(str(value))}"'


def stamp_attr(value: str, quirks: Quirks) -> str:
    """A ``lastUpdate``/``creation`` value, blank under the ``empty_dates`` quirk."""
    return "" if quirks.empty_dates else value


class EventWriter:
    """Renders events of one store version; build one per request (cheap) or keep while version holds."""

    def __init__(self, store: Store, quirks: Quirks) -> None:
        self.store, self.quirks = store, quirks
        p: GridProject = store.project
        self.project = p
        self.hours = [format_hour(p.minutes_of(s)) for s in range(p.slots_per_day + 1)]
        self.dates: dict[int, str] = {}
        self.tails: dict[int, str] = {}

    def date(self, offset: int) -> str:
        text = self.dates.get(offset)
        if text is None:
            d = self.project.week0 + dt.timedelta(days=offset)
            text = self.dates[offset] = f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
        return text

    def tail(self, rid: int) -> str:
        text = self.tails.get(rid)
        if text is None:
            r = self.store.resources[rid]
            text = self.tails[rid] = f'category="{r.category}" name="{esc(r.name)}" id="{rid}"/>\n'
        return text

    def event(self, e: PlacedEvent, detail: int, indent: str = "\t") -> str:
        q, p = self.quirks, self.project
        out = [f'{indent}<event id="{e.id}" activityId="{e.activity_id}" session="{e.session}" '
               f'repetition="{e.repetition}"']
        if detail >= 2:
            out.append(f' name="{esc(e.name)}"')
        if detail >= 3:
            absolute = (e.week * p.days_per_week + e.day) * p.slots_per_day + e.slot
            out.append(f' endHour="{self.hours[e.slot + e.duration]}" startHour="{self.hours[e.slot]}" '
                       f'date="{self.date(e.week * 7 + e.day)}" absoluteSlot="{absolute}" slot="{e.slot}" '
                       f'day="{e.day}" week="{e.week}"')
        if detail >= 4:
            out.append(f' additionalResources="0" duration="{e.duration}"')
        if detail >= 5:
            out.append(f' info="{esc(e.info)}" note="{esc(e.note)}" color="{e.color}"')
        if detail >= 6:
            out.append(' isLockPosition="false"')
            if not q.legacy_attributes:
                out.append(f' oldDuration="{e.old_duration}" oldSlot="{e.old_slot}" oldDay="{e.old_day}" '
                           f'oldWeek="{e.old_week}"')
        if detail >= 7:
            out.append(f' lastUpdate="{stamp_attr(e.last_update, q)}" creation="{stamp_attr(e.creation, q)}" '
                       'isLockResources="false" isSoftKeepResources="false"')
            if not q.legacy_attributes:
                out.append(' isNoteLock="false" isStrongLock="false"')
        if detail < 8:
            out.append("/>\n")
            return "".join(out)
        out.append(f">\n{indent}\t<resources>\n")
        for b in e.resources:
            out.append(f'{indent}\t\t<resource fromWorkflow="{"true" if b.from_workflow else "false"}" '
                       f'nodeId="{b.node_id}" nodeOrId="{b.node_or_id}" quantity="{b.quantity}" ')
            out.append(self.tail(b.resource_id))
        out.append(f"{indent}\t</resources>\n{indent}\t<additional/>\n{indent}</event>\n")
        return "".join(out)

    def events(self, ids: Sequence[int], detail: int) -> bytes:
        if not ids:
            return document("<events/>\n")
        if self.quirks.shuffle_events:
            ids = list(ids)
            random.Random(len(ids)).shuffle(ids)
        events = self.store.events
        return document("<events>\n" + "".join([self.event(events[i], detail) for i in ids]) + "</events>\n")
