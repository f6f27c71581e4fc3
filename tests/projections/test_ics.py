"""The ICS feed, parsed back with icalendar and checked property by property."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from icalendar import Calendar

from projections.builders import ics as ics_builder
from projections.readmodels import ReadModels
from queries.reads import Reads
from schedulesy.changes import Topic
from schedulesy.services import Services
from tests.fixtures.infra import delete_keys, replace_settings
from tests.fixtures.mirror import (
    GROUP, ROOM, SUBJECT, TEACHER, Ev, insert_access, insert_events, insert_user, seed_university,
)
from tests.fixtures.reads import access_feed, reads_over, user_feed

UTC = dt.timezone.utc


@pytest.fixture
async def models(services: Services) -> ReadModels:
    await seed_university(services.pool)
    await insert_user(services.pool, "jdupont", f"{GROUP},{ROOM}")
    return ReadModels(services)


@pytest.fixture
def reads(models: ReadModels) -> Reads:
    return reads_over(models)


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def vevents(body: bytes) -> dict[str, Any]:
    return {str(e["UID"]): e for e in parse(body).walk("VEVENT")}


async def test_feed_has_publish_method_name_and_refresh_hints(reads: Reads) -> None:
    document = await user_feed(reads, "jdupont")
    calendar = parse(document.body)
    assert calendar["VERSION"] == "2.0" and calendar["METHOD"] == "PUBLISH"
    assert calendar["PRODID"] == ics_builder.PRODID
    assert str(calendar["X-WR-CALNAME"]) == "Emploi du temps – BCD Media / M2 Biotechnologie HD"
    assert str(calendar["NAME"]) == str(calendar["X-WR-CALNAME"])
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in document.body
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in document.body
    assert document.media_type == "text/calendar; charset=utf-8"


async def test_each_event_carries_stable_uid_times_place_and_people(reads: Reads) -> None:
    events = vevents((await user_feed(reads, "jdupont")).body)
    assert set(events) == {"65849-0-0@testserver", "65850-0-0@testserver"}
    lesson = events["65849-0-0@testserver"]
    assert lesson["SUMMARY"] == "M2 GROUPE C1 INTERC"
    # 14/01/2020 10:30-12:30 in Paris (UTC+1)
    assert lesson.decoded("DTSTART") == dt.datetime(2020, 1, 14, 9, 30, tzinfo=UTC)
    assert lesson.decoded("DTEND") == dt.datetime(2020, 1, 14, 11, 30, tzinfo=UTC)
    last_update = dt.datetime(2019, 9, 23, 12, 51, tzinfo=UTC)
    assert lesson.decoded("DTSTAMP") == last_update and lesson.decoded("LAST-MODIFIED") == last_update
    assert lesson["SEQUENCE"] == 0
    assert str(lesson["LOCATION"]) == "BCD Media (COL  -SITE COLMAR, ESPE COLMAR BATIMENT PRINCIPAL, ADDITIONAL BRANCH)"
    assert (lesson["GEO"].latitude, lesson["GEO"].longitude) == (48.607508, 7.708025)
    assert str(lesson["DESCRIPTION"]) == "Filières : M2 Biotechnologie HD\nIntervenants : Gerard Toto"
    course = events["65850-0-0@testserver"]
    assert "LOCATION" not in course and "GEO" not in course
    assert str(course["DESCRIPTION"]) == (
        "Filières : M2 Biotechnologie HD\nIntervenants : Gerard Toto\nMatières : Biologie cellulaire"
    )


async def test_times_are_utc_instants_on_both_sides_of_a_dst_change(models: ReadModels, reads: Reads) -> None:
    pool = models.services.pool
    # Europe/Paris leaves winter time on 2020-03-29 at 02:00 (UTC+1 → UTC+2).
    await insert_events(pool, [
        Ev(500001, dt.datetime(2020, 3, 28, 8, 0), activity_id=80001, shown_on=(GROUP,)),
        Ev(500002, dt.datetime(2020, 3, 30, 8, 0), activity_id=80002, shown_on=(GROUP,)),
    ])
    events = vevents((await user_feed(reads, "jdupont")).body)
    assert events["80001-0-0@testserver"].decoded("DTSTART") == dt.datetime(2020, 3, 28, 7, 0, tzinfo=UTC)
    assert events["80002-0-0@testserver"].decoded("DTSTART") == dt.datetime(2020, 3, 30, 6, 0, tzinfo=UTC)
    assert events["80002-0-0@testserver"].decoded("DTEND") == dt.datetime(2020, 3, 30, 8, 0, tzinfo=UTC)
    assert b"DTSTART:20200330T060000Z\r\n" in (await user_feed(reads, "jdupont")).body


async def test_feed_lines_end_with_crlf_and_are_folded_at_75_octets(reads: Reads) -> None:
    body = (await user_feed(reads, "jdupont")).body
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    lines = body.split(b"\r\n")
    assert lines[-1] == b"" and all(b"\n" not in line and b"\r" not in line for line in lines)
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # the long LOCATION was folded


async def test_an_empty_selection_is_a_valid_empty_calendar(models: ReadModels, reads: Reads) -> None:
    await insert_user(models.services.pool, "empty", "")
    document = await user_feed(reads, "empty")
    calendar = parse(document.body)
    assert calendar["METHOD"] == "PUBLISH" and list(calendar.walk("VEVENT")) == []
    assert str(calendar["X-WR-CALNAME"]) == "Emploi du temps"


async def test_too_many_events_give_the_single_placeholder_event(services: Services) -> None:
    await seed_university(services.pool)
    await insert_user(services.pool, "jdupont", GROUP)
    services.settings = replace_settings(services.settings, max_events=1)
    events = list(parse((await user_feed(reads_over(ReadModels(services)), "jdupont")).body).walk("VEVENT"))
    assert len(events) == 1
    assert str(events[0]["SUMMARY"]) == "Votre calendrier dépasse le nombre d'événements autorisé"
    assert events[0].decoded("DTSTART") == dt.datetime(1999, 12, 31, 23, 0, tzinfo=UTC)
    assert events[0].decoded("DTEND") == dt.datetime(2099, 12, 31, 23, 0, tzinfo=UTC)


async def test_access_key_feed_is_named_after_its_owner(models: ReadModels, reads: Reads) -> None:
    key = await insert_access(models.services.pool, "jdupont", "téléphone")
    assert (await reads.access_grant(key)).username == "jdupont"
    document = await access_feed(reads, key)
    assert document.body == (await user_feed(reads, "jdupont")).body
    assert await access_feed(reads, key.upper()) is not None
    for bad in ("not-a-key", "", "0" * 36, key + "x"):
        assert await access_feed(reads, bad) is None


async def test_uids_and_etag_survive_a_full_rebuild(models: ReadModels, reads: Reads) -> None:
    before = await user_feed(reads, "jdupont")
    await delete_keys(models.services.redis, models.services.keys.prefix)
    await models.rebuild_all()
    after = await user_feed(reads, "jdupont")
    assert set(vevents(after.body)) == set(vevents(before.body))
    assert after.etag == before.etag and after.body == before.body


async def test_a_replaced_event_keeps_its_uid_and_gets_a_higher_sequence(models: ReadModels, reads: Reads) -> None:
    pool = models.services.pool
    await models.rebuild_all()
    old = vevents((await user_feed(reads, "jdupont")).body)["65849-0-0@testserver"]
    # ADE re-placed the event: new id, same (activity, repetition, session), moved one hour later.
    await pool.execute("DELETE FROM schedulesy.event WHERE event_id = 191050")
    await insert_events(pool, [Ev(291050, dt.datetime(2020, 1, 14, 11, 30), sequence=1)])
    await models.apply({Topic.EVENT: {"191050", "291050"}, Topic.TIMETABLE: {ROOM, TEACHER, GROUP}})
    new = vevents((await user_feed(reads, "jdupont")).body)["65849-0-0@testserver"]
    assert new["SEQUENCE"] > old["SEQUENCE"]
    assert new.decoded("DTSTART") == old.decoded("DTSTART") + dt.timedelta(hours=1)


async def test_an_assembled_feed_equals_one_rendered_from_scratch(services: Services) -> None:
    await seed_university(services.pool)
    await insert_user(services.pool, "jdupont", f"{GROUP},{ROOM},{SUBJECT}")
    models = ReadModels(services)
    await models.rebuild_all()
    await services.pool.execute("UPDATE schedulesy.event SET name = 'Renamed', sequence = 1 WHERE event_id = 191051")
    await models.apply({Topic.EVENT: {"191051"}})
    assembled = await user_feed(reads_over(models), "jdupont")
    await delete_keys(services.redis, services.keys.prefix)
    fresh = await user_feed(reads_over(ReadModels(services)), "jdupont")  # new process: no fragment in memory or Redis
    assert assembled.body == fresh.body and assembled.etag == fresh.etag
    assert str(vevents(fresh.body)["65850-0-0@testserver"]["SUMMARY"]) == "Renamed"


async def test_a_moved_room_changes_the_location_of_its_events(models: ReadModels, reads: Reads) -> None:
    pool = models.services.pool
    await models.rebuild_all()
    await pool.execute(
        """UPDATE schedulesy.resource
           SET fields = jsonb_set(fields, '{genealogy}', '[{"id": "classroom", "name": "classroom", "code": ""},
                                                         {"id": "30618", "name": "SCH  -SITE SCHILTIGHEIM", "code": ""}]'),
               parent_ext_id = '30618', geolocation = NULL
           WHERE ext_id = $1""",
        ROOM,
    )
    await models.apply({Topic.RESOURCE: {ROOM}})
    lesson = vevents((await user_feed(reads, "jdupont")).body)["65849-0-0@testserver"]
    assert str(lesson["LOCATION"]) == "BCD Media (SCH  -SITE SCHILTIGHEIM)"
    assert "GEO" not in lesson
