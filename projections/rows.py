"""The rows the builders read: what :mod:`projections.loaders` fetches, as typed values (no I/O)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import msgspec

from schedulesy.history import ChangeKind, EventSnapshot
from schedulesy.selection import Selection


class ResourceRow(msgspec.Struct, frozen=True):
    """A node of an ADE tree; ``fields`` is its stored node document (docs/compatibility.md §4.3.1)."""

    ext_id: str
    category: str
    parent_ext_id: str | None
    name: str
    code: str
    email: str | None
    fields: dict[str, Any]
    geolocation: list[float] | None
    updated_at: dt.datetime


class Booking(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A resource an event books, as the event names it (display lists and maps)."""

    ext_id: str
    category: str
    name: str


class EventRow(msgspec.Struct, frozen=True, gc=False):
    event_id: int
    activity_id: int
    repetition: int
    session: int
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    date: str
    start_hour: str
    end_hour: str
    duration: int
    color: str
    note: str
    last_update: dt.datetime | None
    sequence: int
    updated_at: dt.datetime
    bookings: tuple[Booking, ...]

    @property
    def stable_key(self) -> str:
        """ADE's business key: survives a re-placement that changes ``event_id``."""
        return f"{self.activity_id}-{self.repetition}-{self.session}"


class ChangeRow(msgspec.Struct, frozen=True, gc=False):
    """A recorded change of an event (``schedulesy.event_history``)."""

    uid: str
    kind: ChangeKind
    detected_at: dt.datetime
    event_id: int
    before: EventSnapshot | None
    after: EventSnapshot | None
    resources: frozenset[str]
    """The resources whose timetables showed the event before or after the change."""


class Classroom(msgspec.Struct, frozen=True, gc=False):
    """What a room contributes to events besides its name: where it is."""

    genealogy: tuple[str, ...]
    """Ancestor names from the site down to the direct parent (category root excluded)."""
    geolocation: tuple[float, ...]
    """``(lat, lon, alt)`` or ``()`` when the building is unknown."""


UNKNOWN_CLASSROOM = Classroom((), ())


class UserRow(msgspec.Struct, frozen=True):
    username: str
    customization_id: int
    selection: Selection
    """In canonical order (:meth:`Selection.canonical`): users who picked the same resources compare equal."""


class AccessRow(msgspec.Struct, frozen=True):
    key: str
    username: str
    name: str
    created_at: dt.datetime


def child_ids(resource: ResourceRow) -> list[str]:
    """The ext_ids named by a node document's child refs."""
    children = resource.fields.get("children") or []
    return [str(c["id"]) for c in children if isinstance(c, dict) and "id" in c]


def classroom_of(fields: dict[str, Any] | None, geolocation: list[float] | None) -> Classroom:
    """Genealogy names without the category root (docs/compatibility.md §5.4) and the stored coordinates."""
    genealogy = (fields or {}).get("genealogy") or []
    names = tuple(sys.intern(str(g.get("name", ""))) for g in genealogy[1:] if isinstance(g, dict))
    return Classroom(names, tuple(float(x) for x in geolocation or ()))
