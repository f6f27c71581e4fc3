"""The recorded changes of events (``schedulesy.event_history``): what the ADE sync writes and the
change feeds read (docs/changes.md)."""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypeAlias

import msgspec

ChangeKind: TypeAlias = Literal["added", "removed", "moved", "rooms", "instructors", "renamed"]

RECENT_PAST = dt.timedelta(days=7)
"""Changes of events that ended further back than this are not recorded: nobody needs telling."""


class EventSnapshot(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """An event as the mirror held it, with what it books (names as on the event)."""

    id: int
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
    bookings: list[tuple[str, str, str]]
    """(ext_id, category, name) in the event's order."""

    def names_in(self, category: str) -> list[str]:
        return [name for _, booked_category, name in self.bookings if booked_category == category]

    def ids_in(self, category: str) -> list[str]:
        return [ext_id for ext_id, booked_category, _ in self.bookings if booked_category == category]
