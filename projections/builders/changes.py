"""The change feed of a selection: what changed in its events, newest first (docs/changes.md).

Pure functions: change rows in, encoded bytes out. Two forms of the same entries: JSON for the SPA
and scripts, Atom (RFC 4287) for feed readers; each in French or English (the summary sentence).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias
from xml.sax.saxutils import escape

from projections.builders.document import JSON, Built
from projections.builders.resources import ENCODER, EventJson
from projections.rows import Booking, ChangeRow, EventRow
from schedulesy.categories import CLASSROOM, INSTRUCTOR
from schedulesy.history import EventSnapshot

Lang: TypeAlias = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")
ATOM = "application/atom+xml; charset=utf-8"
FEED_ENTRIES = 200
"""Entries per feed at most (the newest): a feed reader or a script polls, it does not archive."""
FEED_NAMESPACE = uuid.UUID("6c5b7c52-4f0e-4b8e-9d7e-2f5a2b7d3c11")
"""Names each selection's Atom feed id (``urn:uuid:``, RFC 4122 version 5): stable across builds."""

_FR_DAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
_FR_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
_EN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_WORDS: dict[Lang, dict[str, str]] = {
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
    words = _WORDS[lang]
    label = words["room" if category == CLASSROOM else "instructor"]
    return f"{label} {', '.join(old) or words['none']} → {', '.join(new) or words['none']}"


def summary(change: ChangeRow, zone: dt.tzinfo, lang: Lang) -> str:
    """One sentence, e.g. "TD Algorithmique du mar. 8 sept. 10:30 déplacé au jeu. 10 sept. 14:00
    (salle A1.13 → B2.04)"."""
    before, after = change.before, change.after
    current = after or before
    assert current is not None
    words = _WORDS[lang]
    fields = {
        "name": current.name, "old": before.name if before else current.name,
        "before": when(before.starts_at, zone, lang) if before else "",
        "after": when(after.starts_at, zone, lang) if after else "",
    }
    details = [t for category in (CLASSROOM, INSTRUCTOR) if (t := _transition(before, after, category, lang))]
    if change.kind == "rooms" or change.kind == "instructors":
        fields["detail"] = "; ".join(details)
        return words[change.kind].format(**fields)
    sentence = words[change.kind].format(**fields)
    if change.kind in ("moved", "renamed") and details:
        sentence += f" ({'; '.join(details)})"
    return sentence


def _event_row(snapshot: EventSnapshot) -> EventRow:
    return EventRow(
        event_id=snapshot.id, activity_id=snapshot.activity_id, repetition=snapshot.repetition,
        session=snapshot.session, name=snapshot.name, starts_at=snapshot.starts_at, ends_at=snapshot.ends_at,
        date=snapshot.date, start_hour=snapshot.start_hour, end_hour=snapshot.end_hour,
        duration=snapshot.duration, color=snapshot.color, note=snapshot.note, last_update=snapshot.last_update,
        sequence=0, updated_at=snapshot.starts_at,
        bookings=tuple(Booking(ext_id, category, name) for ext_id, category, name in snapshot.bookings),
    )


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry(change: ChangeRow, fragments: EventJson, zone: dt.tzinfo, lang: Lang) -> dict[str, Any]:
    """One JSON entry; ``before``/``after`` are shaped like the calendar JSON's events."""
    return {
        "id": change.uid,
        "kind": change.kind,
        "detected_at": _utc(change.detected_at),
        "event_id": str(change.event_id),
        "before": None if change.before is None else fragments.plain(_event_row(change.before)),
        "after": None if change.after is None else fragments.plain(_event_row(change.after)),
        "summary": summary(change, zone, lang),
    }


def build_changes_json(changes: Sequence[ChangeRow], zone: dt.tzinfo, lang: Lang) -> Built:
    """A JSON array of entries, newest first (``changes`` come newest first)."""
    fragments = EventJson(zone)
    return Built(ENCODER.encode([entry(c, fragments, zone, lang) for c in changes[:FEED_ENTRIES]]), JSON)


def feed_id(selection_hash: str) -> str:
    return f"urn:uuid:{uuid.uuid5(FEED_NAMESPACE, selection_hash)}"


def build_changes_atom(changes: Sequence[ChangeRow], zone: dt.tzinfo, lang: Lang, selection_hash: str) -> Built:
    """The same entries as an Atom feed (RFC 4287): ids ``urn:uuid:<change uid>``, never reused;
    ``updated`` is the newest change's detection (the epoch for an empty feed, so that an
    unchanged feed keeps its bytes and its ETag)."""
    shown = changes[:FEED_ENTRIES]
    updated = _utc(shown[0].detected_at) if shown else "1970-01-01T00:00:00Z"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">\n',
        f"  <id>{feed_id(selection_hash)}</id>\n",
        f"  <title>{escape(_WORDS[lang]['title'])}</title>\n",
        f"  <updated>{updated}</updated>\n",
        "  <author><name>Schedulesy</name></author>\n",
        "  <generator>Schedulesy</generator>\n",
    ]
    for change in shown:
        sentence = escape(summary(change, zone, lang))
        stamp = _utc(change.detected_at)
        parts.append(
            "  <entry>\n"
            f"    <id>urn:uuid:{change.uid}</id>\n"
            f"    <title>{sentence}</title>\n"
            f"    <updated>{stamp}</updated>\n"
            f'    <category term="{change.kind}"/>\n'
            f'    <content type="text">{sentence}</content>\n'
            "  </entry>\n"
        )
    parts.append("</feed>\n")
    return Built("".join(parts).encode(), ATOM)
