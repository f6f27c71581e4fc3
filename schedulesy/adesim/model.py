"""A seedable synthetic university: the data the ADE simulator serves.

The model follows ADE's own (see ``docs/ade.md`` §7.3): a project fixes the slot grid
(week 0 Monday, days per week, slot length, day start); resources form one tree per category; an
activity is a course series and its events are the placed occurrences. An event stores only its
placement (week, day, slot, duration in slots): the date and hours are derived from the project with
the docs/ade.md §3.4 formula, so a move can never leave a stale ``date`` behind.

Structs are frozen and, where they hold no containers of their own, untracked by the garbage
collector (``gc=False``): the ``large`` preset holds a quarter of a million events and GC passes over
them would dominate generation time. Changes replace whole structs (``msgspec.structs.replace``).

The client has its own ``Project`` and ``Event`` (:mod:`schedulesy.ade.models`, what an answer
says); the simulator's are named :class:`GridProject` and :class:`PlacedEvent` after what they store.
The simulator never imports the client: it is the independent oracle the client is tested against,
so it keeps its own model, formats and error names even where they look alike.

Generation lives in :mod:`schedulesy.adesim.generate` (:func:`~schedulesy.adesim.generate.generate`).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec

from schedulesy.adesim.calendar import AcademicCalendar

CATEGORIES: Final = ("trainee", "instructor", "classroom", "equipment", "category5",
                     "category6", "category7", "category8")
"""ADE's category keys in the order a ``tree=true`` answer lists them."""

NO_ID: Final = -1
"""ADE's "unknown / none" numeric value (``nodeOrId``, ``old*``, a root's parent)."""


class GridProject(msgspec.Struct, frozen=True, kw_only=True):
    """An ADE project: one academic year and its slot grid."""

    id: int
    name: str
    uid: int
    """Epoch milliseconds, as ADE reports it."""
    week0: dt.date
    """The Monday of week 0 (a Monday in August for an academic year)."""
    days_per_week: int = 7
    slot_minutes: int = 15
    day_start_minutes: int = 8 * 60
    slots_per_day: int = 56
    weeks: int = 52
    timezone: str = "Europe/Paris"

    def date_of(self, week: int, day: int) -> dt.date:
        return self.week0 + dt.timedelta(days=7 * week + day)

    def minutes_of(self, slot: int) -> int:
        """Minutes after midnight at which ``slot`` starts."""
        return self.day_start_minutes + slot * self.slot_minutes

    def absolute_slot(self, week: int, day: int, slot: int) -> int:
        return (week * self.days_per_week + day) * self.slots_per_day + slot

    def week_of(self, day: dt.date) -> int:
        """Project week holding ``day`` (may be negative or past the last week)."""
        return (day - self.week0).days // 7

    def placement_of(self, day: dt.date, minutes: int) -> tuple[int, int, int]:
        """(week, day, slot) of a local date and a time in minutes after midnight."""
        offset = (day - self.week0).days
        slot, rest = divmod(minutes - self.day_start_minutes, self.slot_minutes)
        if rest:
            raise ValueError(f"{minutes // 60:02d}:{minutes % 60:02d} is not on the {self.slot_minutes}-minute grid")
        return offset // 7, offset % 7, slot

    def check_placement(self, week: int, day: int, slot: int, duration: int) -> None:
        """Raise ``ValueError`` when a placement does not fit the grid."""
        if not 0 <= week < self.weeks:
            raise ValueError(f"week {week} is outside 0..{self.weeks - 1}")
        if not 0 <= day < self.days_per_week:
            raise ValueError(f"day {day} is outside 0..{self.days_per_week - 1}")
        if duration < 1 or slot < 0 or slot + duration > self.slots_per_day:
            raise ValueError(f"slot {slot} + duration {duration} is outside the {self.slots_per_day}-slot day")


class Resource(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A trainee group, instructor, room or subject; ``is_group`` marks a folder (``<branch>``)."""

    id: int
    category: str
    parent_id: int = NO_ID
    is_group: bool = False
    name: str
    code: str = ""
    email: str = ""
    type: str = ""
    url: str = ""
    size: int = 0
    info: str = ""
    color: str = ""
    job_category: str = ""
    telephone: str = ""
    address1: str = ""
    address2: str = ""
    zip_code: str = ""
    city: str = ""
    country: str = ""
    code_x: str = ""
    code_y: str = ""
    code_z: str = ""
    creation: str = ""
    """``MM/dd/yyyy HH:mm`` like every ADE time stamp; may be empty."""
    last_update: str = ""


class Requirement(msgspec.Struct, frozen=True, gc=False):
    """One resource an activity needs; ``node_or_id`` names its "or" alternative node, or -1."""

    node_id: int
    resource_id: int
    node_or_id: int = NO_ID
    quantity: int = 1


class ActivityFolder(msgspec.Struct, frozen=True, gc=False):
    id: int
    name: str


class Activity(msgspec.Struct, frozen=True, kw_only=True):
    """A course series; its events are its repetitions."""

    id: int
    name: str
    type: str
    folder_id: int
    code: str = ""
    color: str = ""
    info: str = ""
    url: str = ""
    size: int = 0
    requirements: tuple[Requirement, ...] = ()
    creation: str = ""
    last_update: str = ""


class Booking(msgspec.Struct, frozen=True, gc=False):
    """A resource booked by an event, through one of its activity's requirement nodes."""

    resource_id: int
    node_id: int
    node_or_id: int = NO_ID
    quantity: int = 1
    from_workflow: bool = False


class PlacedEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A placed occurrence. Date and hours are derived from (week, day, slot, duration)."""

    id: int
    activity_id: int
    repetition: int
    session: int = 0
    week: int
    day: int
    slot: int
    duration: int
    """In slots, not minutes."""
    name: str
    color: str = ""
    note: str = ""
    info: str = ""
    creation: str = ""
    last_update: str = ""
    resources: tuple[Booking, ...] = ()
    old_week: int = NO_ID
    old_day: int = NO_ID
    old_slot: int = NO_ID
    old_duration: int = NO_ID


class University(msgspec.Struct, frozen=True, kw_only=True):
    """A whole generated data set; immutable, so a simulator can always reset to it."""

    preset: str
    seed: int
    project: GridProject
    calendar: AcademicCalendar
    """The year's teaching, exam and resit weeks and its breaks, as the events were laid on them."""
    resources: tuple[Resource, ...]
    activity_folders: tuple[ActivityFolder, ...]
    activities: tuple[Activity, ...]
    events: tuple[PlacedEvent, ...]


# ---------------------------------------------------------------------------------------------
# Formats (docs/ade.md §6): request dates MM/dd/yyyy, event dates dd/MM/yyyy, stamps MM/dd/yyyy HH:mm.

def format_hour(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_stamp(moment: dt.datetime) -> str:
    return f"{moment.month:02d}/{moment.day:02d}/{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}"


def parse_request_date(text: str) -> dt.date:
    """``MM/dd/yyyy``, single-digit month and day accepted (``1/19/2025``)."""
    month, day, year = text.strip().split("/")
    return dt.date(int(year), int(month), int(day))
