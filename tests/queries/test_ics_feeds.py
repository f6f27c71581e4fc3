"""ICS feeds: /api/calendar/{key}/export and /api/timetable/{key}.ics, parsed back with icalendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import icalendar
import pytest
from litestar.testing import AsyncTestClient

from projections.readmodels import ReadModels
from schedulesy.changes import Topic
from tests.fixtures.mirror import COURSE_NAME, GROUP, ROOM, TEACHER, Ev, insert_access, insert_events, insert_user
from tests.fixtures.seeded import Seeded
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.cluster_too

UTC = dt.UTC


def vevents(body: bytes) -> dict[str, Any]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


async def test_the_export_url_serves_an_utf8_calendar_attachment_named_after_the_owner(
    api: AsyncTestClient, seeded: Seeded
) -> None:
    response = await api.get(f"/api/calendar/{seeded.key}/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="jdupont.ics"'
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"] and response.headers["last-modified"]
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")
    assert response.content.endswith(b"END:VCALENDAR\r\n")


async def test_the_short_url_serves_the_same_feed(api: AsyncTestClient, seeded: Seeded) -> None:
    export = await api.get(f"/api/calendar/{seeded.key}/export", headers={"Accept-Encoding": "identity"})
    short = await api.get(f"/api/timetable/{seeded.key}.ics", headers={"Accept-Encoding": "identity"})
    assert short.status_code == 200
    assert short.content == export.content
    assert short.headers["etag"] == export.headers["etag"]
    assert short.headers["content-disposition"] == export.headers["content-disposition"]


async def test_an_uppercase_key_opens_the_same_feed(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get(f"/api/timetable/{seeded.key.upper()}.ics")
    assert response.status_code == 200


async def test_the_calendar_declares_itself_a_published_feed(api: AsyncTestClient, seeded: Seeded) -> None:
    calendar = icalendar.Calendar.from_ical((await api.get(f"/api/timetable/{seeded.key}.ics")).content)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["PRODID"])
    assert "BCD Media" in str(calendar["X-WR-CALNAME"])


async def test_every_event_field_survives_a_round_trip_through_icalendar(
    api: AsyncTestClient, seeded: Seeded
) -> None:
    events = vevents((await api.get(f"/api/timetable/{seeded.key}.ics")).content)
    assert set(events) == {"65850-0-0@testserver", "65849-0-0@testserver"}

    before = events["65850-0-0@testserver"]
    assert str(before["SUMMARY"]) == COURSE_NAME  # escaped in the file, intact once parsed
    # Friday 25 October 2019, 10:30 in Paris, still summer time (UTC+2)
    assert before.decoded("DTSTART") == dt.datetime(2019, 10, 25, 8, 30, tzinfo=UTC)
    assert before.decoded("DTEND") == dt.datetime(2019, 10, 25, 10, 0, tzinfo=UTC)
    assert int(before["SEQUENCE"]) == 3
    assert "LOCATION" not in before and "GEO" not in before  # no room booked
    assert str(before["DESCRIPTION"]) == (
        "Filières : M2 Biotechnologie HD\nIntervenants : Gerard Toto\nMatières : Biologie cellulaire")
    assert isinstance(before.decoded("DTSTAMP"), dt.datetime)  # ADE gave no lastUpdate

    after = events["65849-0-0@testserver"]
    assert str(after["SUMMARY"]) == "M2 GROUPE C1 INTERC"
    # Tuesday 14 January 2020, 10:30 in Paris, winter time (UTC+1): the same wall time, one hour later in UTC
    assert after.decoded("DTSTART") == dt.datetime(2020, 1, 14, 9, 30, tzinfo=UTC)
    assert after.decoded("DTEND") == dt.datetime(2020, 1, 14, 11, 30, tzinfo=UTC)
    assert after.decoded("DTSTAMP") == dt.datetime(2019, 9, 23, 12, 51, tzinfo=UTC)  # ADE's lastUpdate
    assert after.decoded("LAST-MODIFIED") == after.decoded("DTSTAMP")
    assert int(after["SEQUENCE"]) == 0
    assert str(after["LOCATION"]) == (
        "BCD Media (COL  -SITE COLMAR, ESPE COLMAR BATIMENT PRINCIPAL, ADDITIONAL BRANCH)")
    geo = after["GEO"]
    assert (round(geo.latitude, 6), round(geo.longitude, 6)) == (48.607508, 7.708025)
    assert str(after["DESCRIPTION"]) == "Filières : M2 Biotechnologie HD\nIntervenants : Gerard Toto"


async def test_uids_survive_a_change_of_event_id(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool, read_models: ReadModels
) -> None:
    """ADE gives a re-placed event a new id; its stable key (activity, repetition, session) stays."""
    before = set(vevents((await api.get(f"/api/timetable/{seeded.key}.ics")).content))
    await pool.execute("DELETE FROM schedulesy.event WHERE event_id = 191050")
    await insert_events(pool, [Ev(291050, dt.datetime(2020, 1, 14, 11, 30), sequence=1,
                                  last_update=dt.datetime(2019, 10, 1, 6, 0, tzinfo=UTC))])
    await read_models.apply({Topic.EVENT: {"191050", "291050"}, Topic.TIMETABLE: {ROOM, TEACHER, GROUP}})

    async def replaced() -> bool:
        feed = vevents((await api.get(f"/api/timetable/{seeded.key}.ics")).content)
        return int(feed["65849-0-0@testserver"]["SEQUENCE"]) == 1

    await eventually(replaced, "the feed shows the re-placed event")
    events = vevents((await api.get(f"/api/timetable/{seeded.key}.ics")).content)
    assert set(events) == before
    moved = events["65849-0-0@testserver"]
    assert int(moved["SEQUENCE"]) == 1
    assert moved.decoded("DTSTART") == dt.datetime(2020, 1, 14, 10, 30, tzinfo=UTC)


async def test_an_access_of_a_user_without_a_selection_gets_an_empty_feed(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool
) -> None:
    await insert_user(pool, "idle", "")
    key = await insert_access(pool, "idle")
    response = await api.get(f"/api/calendar/{key}/export")
    assert response.status_code == 200  # the original answered 404 (docs/compatibility.md §11.10)
    assert vevents(response.content) == {}
    assert response.headers["content-disposition"] == 'attachment; filename="idle.ics"'
