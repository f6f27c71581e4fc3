"""The change feed builders: the summary sentence in French and English, the JSON entry's shape."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import msgspec

from projections.builders.changes import build_changes_atom, build_changes_json, summary
from projections.rows import ChangeRow
from queries.schemas import ChangeEntry
from schedulesy.history import EventSnapshot

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def snapshot(day: int, hour: int, minute: int, room: str, room_id: str = "7") -> EventSnapshot:
    starts = dt.datetime(2026, 9, day, hour, minute, tzinfo=PARIS)
    return EventSnapshot(
        id=100 + day, activity_id=1, repetition=0, session=0, name="TD Algorithmique", starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2), date=f"{day:02d}/09/2026", start_hour=f"{hour:02d}:{minute:02d}",
        end_hour=f"{hour + 2:02d}:{minute:02d}", duration=8, color="#ff0000", note="", last_update=None,
        bookings=[("42", "trainee", "L3 Info TD1"), (room_id, "classroom", room), ("9", "instructor", "Ada L.")])


def change(kind: str, before: EventSnapshot | None, after: EventSnapshot | None) -> ChangeRow:
    return msgspec.convert({"uid": "4b0f7c1e-3f51-4a8e-9a43-7b8e1d2c3f40", "kind": kind,
                            "detected_at": dt.datetime(2026, 9, 1, 8, 15, tzinfo=dt.timezone.utc),
                            "event_id": 110, "before": before, "after": after, "resources": ["42"]},
                           ChangeRow, from_attributes=True)


MOVED = change("moved", snapshot(8, 10, 30, "A1.13"), snapshot(10, 14, 0, "B2.04", "8"))


def test_a_move_with_a_room_change_reads_as_one_sentence_in_each_language() -> None:
    assert summary(MOVED, PARIS, "fr") == (
        "TD Algorithmique du mar. 8 sept. 10:30 déplacé au jeu. 10 sept. 14:00 (salle A1.13 → B2.04)")
    assert summary(MOVED, PARIS, "en") == (
        "TD Algorithmique on Tue 8 Sep 10:30 moved to Thu 10 Sep 14:00 (room A1.13 → B2.04)")


def test_each_kind_has_its_sentence() -> None:
    old = snapshot(8, 10, 30, "A1.13")
    renamed = msgspec.structs.replace(old, name="TD Algorithmique avancée")
    assert summary(change("removed", old, None), PARIS, "fr") == "TD Algorithmique du mar. 8 sept. 10:30 annulé"
    assert summary(change("added", None, old), PARIS, "en") == "TD Algorithmique added on Tue 8 Sep 10:30"
    rooms = change("rooms", old, snapshot(8, 10, 30, "B2.04", "8"))
    assert summary(rooms, PARIS, "fr") == "TD Algorithmique du mar. 8 sept. 10:30 : salle A1.13 → B2.04"
    assert summary(change("renamed", old, renamed), PARIS, "en") == (
        "TD Algorithmique on Tue 8 Sep 10:30 renamed to TD Algorithmique avancée")


def test_an_entry_has_the_documented_shape_with_calendar_events() -> None:
    [entry] = msgspec.json.decode(build_changes_json([MOVED], PARIS, "fr").body, type=list[ChangeEntry],
                                  strict=True)
    assert entry.kind == "moved" and entry.detected_at == "2026-09-01T08:15:00Z"
    assert entry.before is not None and entry.before.classrooms == ["7"] and entry.before.startHour == "10:30"
    assert entry.after is not None and entry.after.date == "10/09/2026" and entry.after.instructors == ["9"]


def test_the_atom_feed_escapes_text_and_keeps_its_bytes_for_the_same_changes() -> None:
    tricky = change("renamed", snapshot(8, 10, 30, "A1.13"),
                    msgspec.structs.replace(snapshot(8, 10, 30, "A1.13"), name="R&D <labo>"))
    body = build_changes_atom([tricky], PARIS, "fr", "abc").body
    assert b"R&amp;D &lt;labo&gt;" in body
    assert build_changes_atom([tricky], PARIS, "fr", "abc").body == body
    assert b"<updated>1970-01-01T00:00:00Z</updated>" in build_changes_atom([], PARIS, "en", "abc").body
