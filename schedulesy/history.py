"""The recorded changes of events (``schedulesy.event_history``): what the ADE sync writes and the
change feeds read (docs/changes.md)."""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypeAlias

import msgspec

from schedulesy.categories import CLASSROOM, INSTRUCTOR

ChangeKind: TypeAlias = Literal["added", "removed", "moved", "rooms", "instructors", "renamed"]
Lang: TypeAlias = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")

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


# ---------------------------------------------------------------------------------------------
# Sentences (the change feeds and the alert mails say the same)

_FR_DAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
_FR_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
_EN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

WORDS: dict[Lang, dict[str, str]] = {
    "fr": {"room": "salle", "instructor": "enseignant", "none": "aucun",
           "moved": "{name} du {before} déplacé au {after}", "removed": "{name} du {before} annulé",
           "added": "{name} ajouté le {after}", "rooms": "{name} du {before} : {detail}",
           "instructors": "{name} du {before} : {detail}", "renamed": "{old} du {before} renommé en {name}",
           "title": "Changements de l'emploi du temps"},
    "en": {"room": "room", "instructor": "instructor", "none": "none",
           "moved": "{name} on {before} moved to {after}", "removed": "{name} on {before} cancelled",
           "added": "{name} added on {after}", "rooms": "{name} on {before}: {detail}",
           "instructors": "{name} on {before}: {detail}", "renamed": "{old} on {before} renamed to {name}",
           "title": "Timetable changes"},
}


def when(moment: dt.datetime, zone: dt.tzinfo, lang: Lang) -> str:
    """``mar. 8 sept. 10:30`` / ``Tue 8 Sep 10:30``, in the timetable's time zone."""
    local = moment.astimezone(zone)
    days, months = (_FR_DAYS, _FR_MONTHS) if lang == "fr" else (_EN_DAYS, _EN_MONTHS)
    return f"{days[local.weekday()]} {local.day} {months[local.month - 1]} {local:%H:%M}"


def _names(snapshot: EventSnapshot | None, category: str) -> list[str]:
    return [] if snapshot is None else snapshot.names_in(category)


def _transition(before: EventSnapshot | None, after: EventSnapshot | None, category: str, lang: Lang) -> str | None:
    """``salle A1.13 → B2.04`` when the resources of ``category`` changed, else None."""
    old, new = _names(before, category), _names(after, category)
    if old == new:
        return None
    words = WORDS[lang]
    label = words["room" if category == CLASSROOM else "instructor"]
    return f"{label} {', '.join(old) or words['none']} → {', '.join(new) or words['none']}"


def describe(kind: ChangeKind, before: EventSnapshot | None, after: EventSnapshot | None, zone: dt.tzinfo,
             lang: Lang) -> str:
    """One sentence, e.g. "TD Algorithmique du mar. 8 sept. 10:30 déplacé au jeu. 10 sept. 14:00
    (salle A1.13 → B2.04)"."""
    current = after or before
    assert current is not None
    words = WORDS[lang]
    fields = {
        "name": current.name, "old": before.name if before else current.name,
        "before": when(before.starts_at, zone, lang) if before else "",
        "after": when(after.starts_at, zone, lang) if after else "",
    }
    details = [t for category in (CLASSROOM, INSTRUCTOR) if (t := _transition(before, after, category, lang))]
    if kind == "rooms" or kind == "instructors":
        fields["detail"] = "; ".join(details)
        return words[kind].format(**fields)
    sentence = words[kind].format(**fields)
    if kind in ("moved", "renamed") and details:
        sentence += f" ({'; '.join(details)})"
    return sentence
