"""What a timetable page shows, worked out from a stored events document (pure: bytes in, values out).

The calendar JSON (``/api/calendar``, ``/api/timetable/<key>.json``) and a room's public events
document (``/api/events/<id>.json``) share one events object (docs/compatibility.md §7.4): each
event's ``date``, ``startHour`` and ``endHour`` are already wall-clock times in
``SCHEDULESY_TIMEZONE``, so a page places them as they are, whatever the browser's zone and on
either side of a DST change. Nothing here reads Redis or Postgres: the handlers pass the document
the read facade returned, so pages and JSON always show the same data.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, TypeAlias
from urllib.parse import quote

import msgspec

View: TypeAlias = Literal["week", "day", "month", "list"]
VIEWS: tuple[View, ...] = ("week", "day", "month", "list")

DAY_START_MINUTES = 8 * 60
DAY_END_MINUTES = 18 * 60
"""The grid shows at least 08:00-18:00, widened to the events of the period."""
MONTH_CELL_EVENTS = 4
"""Events listed in a month cell before "+n more"."""


class _Event(msgspec.Struct):
    id: str = ""
    name: str = ""
    date: str = ""
    startHour: str = ""  # noqa: N815 — the stored document's own field names
    endHour: str = ""  # noqa: N815
    color: str = ""
    note: str = ""
    trainees: list[str] = []
    instructors: list[str] = []
    classrooms: list[str] = []
    category5s: list[str] = []


class _Entry(msgspec.Struct):
    name: str = ""
    genealogy: list[str] = []
    geolocation: list[float] = []


class _Events(msgspec.Struct):
    events: list[_Event] = []
    trainees: dict[str, _Entry] = {}
    instructors: dict[str, _Entry] = {}
    classrooms: dict[str, _Entry] = {}
    category5s: dict[str, _Entry] = {}


class _GenealogyItem(msgspec.Struct):
    id: str = ""
    name: str = ""


class _Document(msgspec.Struct):
    """A calendar (``{"events": {...}}``) or a resource's events document (node fields + ``events``)."""

    events: _Events = msgspec.field(default_factory=_Events)
    id: str | int = ""
    name: str = ""
    category: str = ""
    genealogy: list[_GenealogyItem | str] = []


_DECODER = msgspec.json.Decoder(_Document)


class Room(msgspec.Struct, frozen=True):
    name: str
    place: str
    """ "site – building", or "" when the room's building is unknown."""
    map_url: str | None
    """OpenStreetMap at the building, when it has coordinates."""


class Event(msgspec.Struct, frozen=True):
    id: str
    name: str
    day: dt.date
    start: int
    """Minutes since midnight, wall-clock time in ``SCHEDULESY_TIMEZONE``."""
    end: int
    start_text: str
    end_text: str
    color: str
    text_color: str
    rooms: tuple[Room, ...]
    groups: tuple[str, ...]
    instructors: tuple[str, ...]
    subjects: tuple[str, ...]
    note: str


class Timetable(msgspec.Struct, frozen=True):
    """Every event of a document by day, in start order; the name and room of a resource page."""

    by_day: Mapping[dt.date, tuple[Event, ...]]
    title: str = ""
    place: Room | None = None


def decode(body: bytes, *, resource_id: str | None = None) -> Timetable:
    """The events of a stored calendar or resource events document. Events whose date or hours do
    not parse are left out (the document is ADE's data: a page must show what it can)."""
    document = _DECODER.decode(body)
    maps = document.events
    days: dict[dt.date, list[Event]] = {}
    rooms: dict[str, Room] = {}
    for raw in maps.events:
        event = _event(raw, maps, rooms)
        if event is not None:
            days.setdefault(event.day, []).append(event)
    by_day = {day: tuple(sorted(events, key=lambda e: (e.start, e.end, e.name))) for day, events in days.items()}
    place = None
    if resource_id is not None:
        entry = maps.classrooms.get(resource_id)
        place = _room(resource_id, entry) if entry is not None else _room_from_node(document)
    return Timetable(by_day=by_day, title=document.name, place=place)


def _event(raw: _Event, maps: _Events, rooms: dict[str, Room]) -> Event | None:
    try:
        day = _day(raw.date)
        start, end = _minutes(raw.startHour), _minutes(raw.endHour)
    except ValueError:
        return None
    end = max(end, start)
    room_list = []
    for ext_id in raw.classrooms:
        room = rooms.get(ext_id)
        if room is None:
            room = rooms[ext_id] = _room(ext_id, maps.classrooms.get(ext_id))
        room_list.append(room)
    color = raw.color if _COLOR.fullmatch(raw.color or "") else "#ffffff"
    return Event(
        id=raw.id, name=raw.name, day=day, start=start, end=end,
        start_text=raw.startHour, end_text=raw.endHour, color=color, text_color=text_on(color),
        rooms=tuple(room_list),
        groups=_names(raw.trainees, maps.trainees),
        instructors=_names(raw.instructors, maps.instructors),
        subjects=_names(raw.category5s, maps.category5s),
        note=note_text(raw.note),
    )


def _day(text: str) -> dt.date:
    """``DD/MM/YYYY`` (sliced: strptime costs ten times more, once per event of a calendar)."""
    if len(text) != 10 or text[2] != "/" or text[5] != "/":
        raise ValueError(text)
    return dt.date(int(text[6:]), int(text[3:5]), int(text[:2]))


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= 24 * 60:
        raise ValueError(text)
    return value


def _names(ids: Sequence[str], entries: Mapping[str, _Entry]) -> tuple[str, ...]:
    if not ids:
        return ()
    return tuple([entry.name for ext_id in ids if (entry := entries.get(ext_id)) is not None and entry.name])


def _room(ext_id: str, entry: _Entry | None) -> Room:
    if entry is None:
        return Room(name=ext_id, place="", map_url=None)
    return Room(name=entry.name or ext_id, place=place_of(entry.genealogy),
                map_url=map_url(entry.geolocation))


def _room_from_node(document: _Document) -> Room:
    names = [item.name if isinstance(item, _GenealogyItem) else item for item in document.genealogy
             if not (isinstance(item, _GenealogyItem) and item.id == document.category)]
    return Room(name=document.name, place=place_of(names), map_url=None)


def place_of(genealogy: Sequence[str]) -> str:
    """ "site – building": the first two ancestors below the category root (docs/compatibility.md §7.4)."""
    return " – ".join(name for name in genealogy[:2] if name)


def map_url(geolocation: Sequence[float]) -> str | None:
    """OpenStreetMap centred on the building, marker included; None without coordinates."""
    if len(geolocation) < 2:
        return None
    lat, lon = float(geolocation[0]), float(geolocation[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"


_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\s*/?\s*>", re.IGNORECASE)
_BLANKS = re.compile(r"[ \t\r\f\v]+")


def note_text(note: str) -> str:
    """An ADE note (free HTML) as plain text: line breaks kept, tags dropped, entities decoded.
    The template escapes the result: a note never injects markup."""
    if not note:
        return ""
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", note)))
    lines = (_BLANKS.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


@functools.lru_cache(maxsize=1024)
def text_on(color: str) -> str:
    """Black or white, whichever contrasts more with ``color`` (WCAG relative luminance)."""
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


# ---------------------------------------------------------------------------------------------
# Periods


class Period(msgspec.Struct, frozen=True):
    """The days a view shows, and where previous/next lead."""

    view: View
    anchor: dt.date
    first: dt.date
    last: dt.date
    previous: dt.date
    next: dt.date

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def period(view: View, anchor: dt.date) -> Period:
    if view == "day":
        one = dt.timedelta(days=1)
        return Period(view, anchor, anchor, anchor, anchor - one, anchor + one)
    if view == "month":
        first_of_month = anchor.replace(day=1)
        next_month = (first_of_month + dt.timedelta(days=32)).replace(day=1)
        previous_month = (first_of_month - dt.timedelta(days=1)).replace(day=1)
        first = first_of_month - dt.timedelta(days=first_of_month.weekday())
        last_of_month = next_month - dt.timedelta(days=1)
        last = last_of_month + dt.timedelta(days=6 - last_of_month.weekday())
        return Period(view, first_of_month, first, last, previous_month, next_month)
    monday = anchor - dt.timedelta(days=anchor.weekday())
    week = dt.timedelta(days=7)
    return Period(view, monday, monday, monday + dt.timedelta(days=6), monday - week, monday + week)


class Placed(msgspec.Struct, frozen=True):
    """An event in a day column: top and height in percent of the grid, lane among overlaps."""

    event: Event
    top: float
    height: float
    left: float
    width: float


class Column(msgspec.Struct, frozen=True):
    day: dt.date
    events: tuple[Placed, ...]


class Grid(msgspec.Struct, frozen=True):
    """A day or week grid: the hours shown and one column per day."""

    start: int
    end: int
    hours: tuple[int, ...]
    columns: tuple[Column, ...]


def events_between(timetable: Timetable, days: Iterable[dt.date]) -> list[tuple[dt.date, tuple[Event, ...]]]:
    return [(day, timetable.by_day.get(day, ())) for day in days]


def grid(timetable: Timetable, days: Sequence[dt.date], *, keep_weekend: bool = False) -> Grid:
    """Columns for ``days`` (Saturday and Sunday only when they have events, unless ``keep_weekend``)."""
    shown = [day for day in days if keep_weekend or day.weekday() < 5 or timetable.by_day.get(day)]
    events = [event for day in shown for event in timetable.by_day.get(day, ())]
    start = min([DAY_START_MINUTES, *(e.start for e in events)]) // 60 * 60
    end = -(-max([DAY_END_MINUTES, *(e.end for e in events)]) // 60) * 60
    span = max(end - start, 60)
    columns = tuple(Column(day, tuple(_place(timetable.by_day.get(day, ()), start, span))) for day in shown)
    return Grid(start=start, end=end, hours=tuple(range(start // 60, end // 60)), columns=columns)


def _place(events: Sequence[Event], start: int, span: int) -> list[Placed]:
    """Overlapping events share the column's width, each in the first free lane of its cluster."""
    placed: list[Placed] = []
    cluster: list[tuple[Event, int]] = []
    cluster_end = -1

    def flush() -> None:
        lanes = max((lane for _, lane in cluster), default=-1) + 1
        for event, lane in cluster:
            placed.append(Placed(
                event=event,
                top=round((event.start - start) * 100 / span, 3),
                height=round(max(event.end - event.start, 15) * 100 / span, 3),
                left=round(lane * 100 / lanes, 3),
                width=round(100 / lanes, 3),
            ))
        cluster.clear()

    lane_ends: list[int] = []
    for event in events:
        if event.start >= cluster_end:
            flush()
            lane_ends = []
        for lane, lane_end in enumerate(lane_ends):
            if lane_end <= event.start:
                lane_ends[lane] = event.end
                break
        else:
            lane = len(lane_ends)
            lane_ends.append(event.end)
        cluster.append((event, lane))
        cluster_end = max(cluster_end, event.end)
    flush()
    return placed


def month_weeks(timetable: Timetable, span: Period) -> list[list[tuple[dt.date, tuple[Event, ...]]]]:
    days = events_between(timetable, span.days)
    return [days[i:i + 7] for i in range(0, len(days), 7)]


def quoted(value: str) -> str:
    return quote(value, safe="")
