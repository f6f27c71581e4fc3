"""The change feed of a selection: what changed in its events, newest first (docs/changes.md).

Pure functions: change rows in, encoded bytes out. Two forms of the same entries: JSON for the SPA
and scripts, Atom (RFC 4287) for feed readers; each in French or English (the summary sentence).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from projections.builders.document import JSON, Built
from projections.builders.resources import ENCODER, EventJson
from projections.rows import Booking, ChangeRow, EventRow
from schedulesy.history import LANGS, WORDS, EventSnapshot, Lang, describe

__all__ = ["LANGS", "Lang", "build_changes_atom", "build_changes_json", "summary"]
ATOM = "application/atom+xml; charset=utf-8"
FEED_ENTRIES = 200
"""Entries per feed at most (the newest): a feed reader or a script polls, it does not archive."""
FEED_NAMESPACE = uuid.UUID("6c5b7c52-4f0e-4b8e-9d7e-2f5a2b7d3c11")
"""Names each selection's Atom feed id (``urn:uuid:``, RFC 4122 version 5): stable across builds."""

def summary(change: ChangeRow, zone: dt.tzinfo, lang: Lang) -> str:
    return describe(change.kind, change.before, change.after, zone, lang)


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
        f"  <title>{escape(WORDS[lang]['title'])}</title>\n",
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
