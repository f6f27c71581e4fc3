"""Resource read models: a tree node (docs/compatibility.md §3.3) and a resource's events (§3.4, §4.3.2).

Pure functions: rows in, encoded bytes out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import msgspec

from projections.builders.document import JSON, Built
from projections.rows import UNKNOWN_CLASSROOM, Booking, Classroom, EventRow, ResourceRow
from schedulesy.categories import CLASSROOM, ONLY_CLASSROOMS, open_to_anonymous

ENCODER = msgspec.json.Encoder()
_MapItem: TypeAlias = tuple[str, str, dict[str, Any]]

INSTRUCTORS = "instructors"
STANDARD_MAPS = ("trainees", INSTRUCTORS, "classrooms", "category5s")
"""The maps every events document has, even when empty (docs/compatibility.md §11.8-9)."""


def resource_url(public_base: str, ext_id: str) -> str:
    """The child URL the front end compares string-for-string (docs/compatibility.md §7.2)."""
    return f"{public_base}/api/resource/{ext_id}.json/"


def is_selectable(ext_id: str, event_count: int, max_events: int) -> bool:
    """A resource can be ticked when it has events, not too many, and a numeric id.

    Unlike the original (docs/compatibility.md §11.25) a child of a category root is selectable too when it carries
    events; the numeric-id condition keeps the SPA's "digits before .json" parsing valid (docs/compatibility.md §7.2).
    """
    return ext_id.isdigit() and 1 <= event_count <= max_events


def node_document(
    resource: ResourceRow, event_counts: Mapping[str, int], *, public_base: str, max_events: int
) -> dict[str, Any]:
    """The stored node document with its child refs rewritten into URLs and sorted by name."""
    document = dict(resource.fields)
    children = document.get("children")
    if isinstance(children, list):
        rewritten = []
        for child in children:
            child_id = str(child.get("id", ""))
            entry = dict(child)
            entry["id"] = resource_url(public_base, child_id)
            entry.setdefault("name", "")
            entry["code"] = entry.get("code") or ""
            entry["has_children"] = bool(entry.get("has_children", False))
            entry["selectable"] = is_selectable(child_id, event_counts.get(child_id, 0), max_events)
            rewritten.append(entry)
        rewritten.sort(key=lambda c: str(c["name"]).lower())
        document["children"] = rewritten
    return document


def build_node(
    resource: ResourceRow, event_counts: Mapping[str, int], *, public_base: str, max_events: int
) -> Built:
    document = node_document(resource, event_counts, public_base=public_base, max_events=max_events)
    return Built(ENCODER.encode(document), JSON, meta={"category": resource.category})


def build_nodes_list(documents: Iterable[dict[str, Any]]) -> Built:
    """A JSON array of node documents (the instructor-by-email search, docs/compatibility.md §3.10)."""
    return Built(ENCODER.encode(list(documents)), JSON)


# ---------------------------------------------------------------------------------------------
# Events


class EventJson:
    """Each event's JSON object encoded once per batch, shared by every document that shows it.

    Per-event key order follows the original: scalars first, then one id list per category in
    the order the event books them.
    """

    def __init__(self, zone: dt.tzinfo) -> None:
        self.zone = zone
        self._full: dict[int, msgspec.Raw] = {}
        self._entries: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._items: dict[int, tuple[_MapItem, ...]] = {}

    def _object(self, event: EventRow, *, with_instructors: bool) -> dict[str, Any]:
        last_update = ""
        if event.last_update is not None:
            last_update = event.last_update.astimezone(self.zone).strftime("%m/%d/%Y %H:%M")
        obj: dict[str, Any] = {
            "id": str(event.event_id),
            "activityId": str(event.activity_id),
            "name": event.name,
            "date": event.date,
            "startHour": event.start_hour,
            "endHour": event.end_hour,
            "duration": str(event.duration),
            "lastUpdate": last_update,
            "color": event.color,
            "note": event.note or "",
        }
        for booking in event.bookings:
            plural = booking.category + "s"
            if plural == INSTRUCTORS and not with_instructors:
                continue
            obj.setdefault(plural, []).append(booking.ext_id)
        return obj

    def plain(self, event: EventRow) -> dict[str, Any]:
        """The event's object as every calendar shows it, not kept (a change feed's before/after)."""
        return self._object(event, with_instructors=True)

    def full(self, event: EventRow) -> msgspec.Raw:
        raw = self._full.get(event.event_id)
        if raw is None:
            raw = msgspec.Raw(ENCODER.encode(self._object(event, with_instructors=True)))
            self._full[event.event_id] = raw
        return raw

    def anonymous(self, event: EventRow) -> msgspec.Raw:
        """Not kept: an event shows in few rooms, so this is rarely asked twice."""
        if not any(b.category + "s" == INSTRUCTORS for b in event.bookings):
            return self.full(event)
        return msgspec.Raw(ENCODER.encode(self._object(event, with_instructors=False)))

    def map_items(self, event: EventRow, classrooms: Mapping[str, Classroom]) -> tuple[_MapItem, ...]:
        """(map name, id, entry) of each resource the event books, worked out once per event."""
        items = self._items.get(event.event_id)
        if items is None:
            items = self._items[event.event_id] = tuple(
                (b.category + "s", b.ext_id, self.map_entry(b, classrooms)) for b in event.bookings
            )
        return items

    def map_entry(self, booking: Booking, classrooms: Mapping[str, Classroom]) -> dict[str, Any]:
        """A map entry: ``{"name"}``, plus ``genealogy`` and ``geolocation`` for a room (docs/compatibility.md §4.3.2).
        Shared between documents (never mutated)."""
        key = (booking.category, booking.ext_id, booking.name)
        entry = self._entries.get(key)
        if entry is None:
            if booking.category != CLASSROOM:
                entry = {"name": booking.name}
            else:
                room = classrooms.get(booking.ext_id, UNKNOWN_CLASSROOM)
                entry = {"name": booking.name, "genealogy": list(room.genealogy), "geolocation": list(room.geolocation)}
            self._entries[key] = entry
        return entry


def events_document(
    events: Iterable[EventRow],
    classrooms: Mapping[str, Classroom],
    fragments: EventJson,
    *,
    anonymous: bool = False,
    always_maps: Iterable[str] = (),
) -> dict[str, Any]:
    """``{"events": [...], "<category>s": {id: entry}}`` (docs/compatibility.md §4.3.2).

    ``events`` is always a list. Maps exist for the categories the events book, plus
    ``always_maps`` (every caller passes :data:`STANDARD_MAPS`: one shape whatever the events,
    docs/compatibility.md §11.8-9). An anonymous document has an empty ``instructors`` map and no per-event
    instructor lists.
    """
    listed: list[msgspec.Raw] = []
    maps: dict[str, dict[str, Any]] = {plural: {} for plural in always_maps}
    if anonymous:
        maps.setdefault(INSTRUCTORS, {})
    for event in events:
        listed.append(fragments.anonymous(event) if anonymous else fragments.full(event))
        for plural, ext_id, entry in fragments.map_items(event, classrooms):
            if anonymous and plural == INSTRUCTORS:
                continue
            entries = maps.get(plural)
            if entries is None:
                entries = maps[plural] = {}
            entries.setdefault(ext_id, entry)  # the first occurrence wins (docs/compatibility.md §5.6)
    return {"events": listed, **maps}


def build_events_response(
    resource: ResourceRow,
    events: Iterable[EventRow],
    classrooms: Mapping[str, Classroom],
    fragments: EventJson,
    *,
    anonymous: bool,
) -> Built:
    """``/api/events/{id}.json``: the raw node document plus its events (docs/compatibility.md §3.4), with the four
    standard maps even when the resource has no events (docs/compatibility.md §11.8-9)."""
    document = events_document(events, classrooms, fragments, anonymous=anonymous, always_maps=STANDARD_MAPS)
    body = ENCODER.encode({**resource.fields, "events": document})
    return Built(body, JSON, meta={"category": resource.category})


def build_public_refusal(resource: ResourceRow) -> Built:
    """What an anonymous caller gets for a resource that is not a room: a 403 marker."""
    body = ENCODER.encode({"detail": ONLY_CLASSROOMS, "code": "forbidden"})
    return Built(body, JSON, status=403, meta={"category": resource.category})


def build_public_events(
    resource: ResourceRow,
    events: Iterable[EventRow],
    classrooms: Mapping[str, Classroom],
    fragments: EventJson,
) -> Built:
    """The anonymous variant: rooms only, without teachers' names (docs/compatibility.md §3.4, §11.5)."""
    if not open_to_anonymous(resource.category):
        return build_public_refusal(resource)
    return build_events_response(resource, events, classrooms, fragments, anonymous=True)
