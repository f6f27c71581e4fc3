"""The ICS feed of one selection (docs/compatibility.md §6, docs/ics.md §2), assembled from per-event fragments.

Choices:
- Times are UTC with ``Z`` (no TZID, hence no VTIMEZONE to get wrong: docs/ics.md §2.2).
- ``UID`` = ADE's stable key ``{activity}-{repetition}-{session}@{host}``: it survives syncs,
  rebuilds and re-placements that give the event a new id (docs/compatibility.md §11.11).
- ``DTSTAMP`` = ``LAST-MODIFIED`` = ADE's ``lastUpdate`` (else the row's ``updated_at``): a feed
  rebuilt from unchanged data is byte-identical, so its ETag (a digest of the body) is stable.
- ``SEQUENCE`` comes from the mirror, which bumps it when the event's content changes.
- icalendar renders one VEVENT at a time (≈0.16 ms each). A :class:`IcsEvent` names everything a
  fragment shows; its :meth:`IcsEvent.fragment_id` is a digest of that, so a fragment is rendered
  once and re-used, and a calendar is *assembled*: header + fragments + footer. Each fragment is a
  complete, folded, CRLF-terminated content-line block, so concatenation keeps RFC 5545 intact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence

import msgspec
from icalendar import Calendar, Event
from icalendar.prop import vDatetime, vDuration, vGeo, vInt, vText

from projections.builders.document import CALENDAR, Built
from projections.rows import Classroom, EventRow
from schedulesy.categories import CLASSROOM

PRODID = "-//Schedulesy//Schedulesy//FR"
CALENDAR_END = b"END:VCALENDAR\r\n"
NAME_PREFIX = "Emploi du temps"
NAME_MAX_CHARS = 120
REFRESH = dt.timedelta(hours=1)
RENDER_VERSION = b"ics-1"
"""Part of every fragment id: bump it when the rendering changes, old fragments then go unused."""

TOO_MANY_SUMMARY = "Votre calendrier dépasse le nombre d'événements autorisé"


class IcsEvent(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Everything one VEVENT shows, nothing else."""

    uid: str
    stamp: dt.datetime
    sequence: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    summary: str
    location: str = ""
    geo: tuple[float, float] | None = None
    description: str = ""

    def fragment_id(self) -> str:
        """Stable key + digest of the content: same content, same fragment, in every process."""
        digest = hashlib.blake2b(RENDER_VERSION + _FRAGMENT_ENCODER.encode(self), digest_size=12)
        return f"{self.uid.partition('@')[0]}.{digest.hexdigest()}"


_FRAGMENT_ENCODER = msgspec.msgpack.Encoder()


_UTC = dt.timezone.utc
_DESCRIPTION_LABELS = (("trainee", "Filières"), ("instructor", "Intervenants"), ("category5", "Matières"))


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not _UTC:
        moment = moment.astimezone(_UTC)
    return moment.replace(microsecond=0) if moment.microsecond else moment


def ics_event(event: EventRow, classrooms: Mapping[str, Classroom], host: str) -> IcsEvent:
    """The VEVENT content of one event (docs/compatibility.md §6.2, with stable UID and real end time)."""
    locations: list[str] = []
    geo: tuple[float, float] | None = None
    people: dict[str, list[str]] = {}
    for booking in event.bookings:
        if booking.category != CLASSROOM:
            people.setdefault(booking.category, []).append(booking.name)
            continue
        room = classrooms.get(booking.ext_id)
        if room and room.genealogy:
            locations.append(f"{booking.name} ({', '.join(room.genealogy)})")
        else:
            locations.append(booking.name)
        if geo is None and room and len(room.geolocation) >= 2:
            geo = (round(room.geolocation[0], 6), round(room.geolocation[1], 6))
    lines = [f"{label} : {','.join(people[category])}" for category, label in _DESCRIPTION_LABELS if category in people]
    return IcsEvent(
        uid=f"{event.stable_key}@{host}",
        stamp=_utc(event.last_update or event.updated_at),
        sequence=event.sequence,
        starts_at=_utc(event.starts_at),
        ends_at=_utc(event.ends_at),
        summary=event.name,
        location=";".join(locations),
        geo=geo,
        description="\n".join(lines),
    )


class _Geo(vGeo):
    """GEO with six decimals, as the original wrote it (``48.072084;7.352045``)."""

    def to_ical(self) -> str:
        return f"{self.latitude:.6f};{self.longitude:.6f}"


def render_event(event: IcsEvent) -> bytes:
    """One VEVENT, folded and CRLF-terminated, by icalendar (the slow part: cache the result)."""
    component = Event()
    component["UID"] = vText(event.uid)
    component["DTSTAMP"] = vDatetime(event.stamp)
    component["LAST-MODIFIED"] = vDatetime(event.stamp)
    component["SEQUENCE"] = vInt(event.sequence)
    component["DTSTART"] = vDatetime(event.starts_at)
    component["DTEND"] = vDatetime(event.ends_at)
    component["SUMMARY"] = vText(event.summary)
    if event.location:
        component["LOCATION"] = vText(event.location)
    if event.geo is not None:
        component["GEO"] = _Geo(event.geo)
    if event.description:
        component["DESCRIPTION"] = vText(event.description)
    ical: bytes = component.to_ical()
    return ical


def calendar_name(resource_names: Sequence[str]) -> str:
    """``Emploi du temps – <names>``: the feed is shared by a selection, so no username in it.
    Names are joined with `` / `` rather than commas, which TEXT values must escape."""
    if not resource_names:
        return NAME_PREFIX
    name = f"{NAME_PREFIX} – {' / '.join(resource_names)}"
    return name if len(name) <= NAME_MAX_CHARS else name[: NAME_MAX_CHARS - 1].rstrip() + "…"


def calendar_header(name: str, timezone: str) -> bytes:
    """``BEGIN:VCALENDAR`` and the calendar's properties, up to (not including) its end line."""
    calendar = Calendar()
    calendar["VERSION"] = vText("2.0")
    calendar["PRODID"] = vText(PRODID)
    calendar["CALSCALE"] = vText("GREGORIAN")
    calendar["METHOD"] = vText("PUBLISH")
    calendar["NAME"] = vText(name)
    calendar["X-WR-CALNAME"] = vText(name)
    calendar.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    calendar["X-PUBLISHED-TTL"] = vDuration(REFRESH)
    calendar["X-WR-TIMEZONE"] = vText(timezone)  # display hint only: every time is in UTC
    text: bytes = calendar.to_ical()
    assert text.endswith(CALENDAR_END)
    return text[: -len(CALENDAR_END)]


def assemble(header: bytes, fragments: Iterable[bytes]) -> bytes:
    return b"".join((header, *fragments, CALENDAR_END))


def build_ics(header: bytes, fragments: Sequence[bytes], nb_events: int) -> Built:
    return Built(assemble(header, fragments), CALENDAR, meta={"nb_events": str(nb_events)})


def too_many_events_event(host: str, zone: dt.tzinfo, nb_events: int, max_events: int) -> IcsEvent:
    """The original's single placeholder event for a selection above the limit (docs/compatibility.md §6.3)."""
    return IcsEvent(
        uid=f"too-many-events@{host}",
        stamp=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
        sequence=0,
        starts_at=_utc(dt.datetime(2000, 1, 1, tzinfo=zone)),
        ends_at=_utc(dt.datetime(2100, 1, 1, tzinfo=zone)),
        summary=TOO_MANY_SUMMARY,
        description=f"{nb_events} événements, la limite est de {max_events}.",
    )
