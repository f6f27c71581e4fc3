"""ADE's three date formats, kept apart on purpose (docs/ade.md §6).

- request parameters ``date``, ``startDate``, ``endDate``: ``MM/dd/yyyy`` (US order);
- an event's ``date`` attribute: ``dd/MM/yyyy`` (the opposite order);
- ``lastUpdate`` and ``creation``: ``MM/dd/yyyy HH:mm``, local wall-clock time, often empty.

Hours are ``HH:mm`` local time with no offset anywhere: :func:`local_instant` attaches the
institution's time zone, and returns an aware datetime that converts to the right UTC instant
on both sides of a daylight-saving change.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo


def format_request_date(day: dt.date) -> str:
    """``MM/dd/yyyy`` for ``date``, ``startDate`` and ``endDate`` parameters."""
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def parse_event_date(text: str) -> dt.date | None:
    """An event's ``date`` (``dd/MM/yyyy``); ``None`` when empty or malformed."""
    parts = text.strip().split("/")
    if len(parts) != 3:
        return None
    try:
        day, month, year = (int(p) for p in parts)
        return dt.date(year, month, day)
    except ValueError:
        return None


def format_event_date(day: dt.date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def parse_stamp(text: str) -> dt.datetime | None:
    """``lastUpdate`` / ``creation`` (``MM/dd/yyyy HH:mm``) as a naive local datetime, or ``None``.

    ADE 2025.1 sends these empty (EMARG issue #49); an empty or malformed stamp is simply unknown.
    """
    text = text.strip()
    if not text:
        return None
    date_part, _, time_part = text.partition(" ")
    parts = date_part.split("/")
    if len(parts) != 3:
        return None
    try:
        month, day, year = (int(p) for p in parts)
        hour, minute = parse_hour(time_part) if time_part else (0, 0)
        return dt.datetime(year, month, day, hour, minute)
    except ValueError:
        return None


def format_stamp(moment: dt.datetime) -> str:
    return f"{moment.month:02d}/{moment.day:02d}/{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}"


def parse_hour(text: str) -> tuple[int, int]:
    """``HH:mm`` as (hour, minute); ``24:00`` is allowed (the end of a day). Raises ValueError."""
    hour_text, sep, minute_text = text.strip().partition(":")
    if not sep:
        raise ValueError(f"not an HH:mm hour: {text!r}")
    hour, minute = int(hour_text), int(minute_text)
    if not (0 <= minute < 60 and (0 <= hour < 24 or (hour == 24 and minute == 0))):
        raise ValueError(f"not an HH:mm hour: {text!r}")
    return hour, minute


def local_instant(day: dt.date, hour: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The aware instant of a local ``date`` + ``HH:mm`` in ``zone`` (``24:00`` = next midnight).

    A wall time that does not exist (the spring-forward gap) resolves like ``fold=0`` does in
    zoneinfo: the offset before the change. A repeated time (autumn) takes its first occurrence.
    """
    h, m = parse_hour(hour)
    if h == 24:
        day, h = day + dt.timedelta(days=1), 0
    local = dt.datetime(day.year, day.month, day.day, h, m, tzinfo=zone)
    # Normalise through UTC so arithmetic and comparisons use the real offset.
    return local.astimezone(dt.timezone.utc)


def local_stamp(moment: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """A naive ADE stamp read as wall-clock time in ``zone``, as an aware UTC datetime."""
    if moment is None:
        return None
    return moment.replace(tzinfo=zone).astimezone(dt.timezone.utc)


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())
