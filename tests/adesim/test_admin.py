"""The admin API changes what the Web API answers, injects faults and counts requests."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.fixtures.ade import AdeSimulatorHandle, AdminError


def events_of(ade: AdeSimulatorHandle, sid: str, **params: object) -> ET.Element:
    return ET.fromstring(ade.webapi(function="getEvents", sessionId=sid, **params))


def tree(ade: AdeSimulatorHandle, sid: str, category: str) -> ET.Element:
    return ET.fromstring(ade.webapi(function="getResources", sessionId=sid, category=category, tree="True",
                                    detail=11))


# -- events --------------------------------------------------------------------------------------

def test_moving_an_event_changes_its_placement_old_fields_and_last_update(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    leaf = ade.summary()["samples"]["trainee_leaf"]
    first = events_of(ade, sid, resources=leaf, detail=0)[0]
    eid = int(first.get("id", 0))
    ade.freeze_clock("2026-11-30T09:41:27")
    moved = ade.move_event(eid, week=int(first.get("week", 0)) + 1, day=4, slot=4)
    assert (moved["day"], moved["slot"], moved["start_hour"]) == (4, 4, "09:00")
    again = events_of(ade, sid, eventId=eid, detail=0)[0]
    assert (again.get("day"), again.get("startHour"), again.get("lastUpdate")) == ("4", "09:00", "11/30/2026 09:41")
    assert (again.get("oldWeek"), again.get("oldDay"), again.get("oldSlot")) == \
        (first.get("week"), first.get("day"), first.get("slot"))
    assert again.get("creation") == first.get("creation")


def test_the_clock_takes_an_instant_as_the_projects_wall_clock_then(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    eid = int(events_of(ade, sid, resources=ade.summary()["samples"]["trainee_leaf"], detail=0)[0].get("id", 0))
    ade.freeze_clock("2026-11-30T09:41:27+00:00")  # 10:41 in Paris
    ade.update_event(eid, note="stamped")
    assert events_of(ade, sid, eventId=eid, detail=7)[0].get("lastUpdate") == "11/30/2026 10:41"


def test_moving_with_a_new_id_keeps_the_business_key(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    first = events_of(ade, sid, detail=1)[10]
    eid = int(first.get("id", 0))
    moved = ade.move_event(eid, date=ade.event(eid)["date"], start="14:00", new_id=True)
    assert moved["id"] != eid and moved["start_hour"] == "14:00"
    assert len(events_of(ade, sid, eventId=eid)) == 0
    new = events_of(ade, sid, eventId=moved["id"], detail=1)[0]
    assert [new.get(k) for k in ("activityId", "repetition", "session")] == \
        [first.get(k) for k in ("activityId", "repetition", "session")]


def test_renaming_deleting_and_adding_events(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    samples = ade.summary()["samples"]
    eid = int(events_of(ade, sid, resources=samples["trainee_leaf"], detail=1)[0].get("id", 0))
    ade.update_event(eid, name="Cours d'essai & test", note="ligne 1\nligne 2")
    raw = ade.webapi(function="getEvents", sessionId=sid, eventId=eid, detail=5)
    assert b'name="Cours d&apos;essai &amp; test"' in raw and b'note="ligne 1&#10;ligne 2"' in raw
    ade.delete_event(eid)
    assert len(events_of(ade, sid, eventId=eid)) == 0
    added = ade.add_event(name="Soutenance", week=ade.project()["current_week"], day=2, slot=8, duration=4,
                          resources=[samples["trainee_year"], samples["classroom"]])
    under = events_of(ade, sid, resources=samples["trainee_leaf"], detail=8)
    mine = [e for e in under if e.get("id") == str(added["id"])]
    assert mine and [r.get("id") for r in mine[0].iter("resource")] == \
        [str(samples["trainee_year"]), str(samples["classroom"])]


def test_admin_errors_are_json_with_status(ade: AdeSimulatorHandle) -> None:
    with pytest.raises(AdminError) as missing:
        ade.move_event(1, week=3)
    assert missing.value.status == 404 and missing.value.body["code"] == "event_not_found"
    eid = int(events_of(ade, ade.session(), detail=1)[0].get("id", 0))
    with pytest.raises(AdminError) as bad:
        ade.move_event(eid, slot=500)
    assert bad.value.status == 400
    other = int(events_of(ade, ade.session(), detail=1)[1].get("id", 0))
    with pytest.raises(AdminError) as taken:
        ade.move_event(eid, new_id=other)
    assert taken.value.status == 409


# -- resources -----------------------------------------------------------------------------------

def test_renaming_a_folder_renames_the_paths_below_and_stamps_it(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    samples = ade.summary()["samples"]
    before = ET.tostring(events_of(ade, sid, resources=samples["trainee_leaf"], detail=7))
    ade.freeze_clock("2026-12-01T08:05")
    ade.update_resource(samples["trainee_year"], name="L1 Maths d'été")
    trainees = tree(ade, sid, "trainee")
    year = next(e for e in trainees.iter("branch") if e.get("id") == str(samples["trainee_year"]))
    assert year.get("name") == "L1 Maths d'été" and year.get("lastUpdate") == "12/01/2026 08:05"
    leaf = next(e for e in trainees.iter("leaf") if e.get("id") == str(samples["trainee_leaf"]))
    assert "L1 Maths d'été." in leaf.get("path", "")
    after = ET.tostring(events_of(ade, sid, resources=samples["trainee_leaf"], detail=7))
    assert after == before  # a rename does not touch the events' own lastUpdate


def test_a_deleted_resource_id_can_come_back_in_another_category(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    samples = ade.summary()["samples"]
    room = samples["classroom"]
    booked = {e.get("id") for e in events_of(ade, sid, resources=room, detail=1)}
    result = ade.delete_resource(room)
    assert result["deleted"] == [room] and result["events_touched"] == len(booked)
    assert len(events_of(ade, sid, resources=room)) == 0
    reborn = ade.add_resource(id=room, category="instructor", name="NOUVEL Zoé", email="zoe.nouvel@univ.example",
                              parent_id=None)
    assert reborn["category"] == "instructor"
    flat = ET.fromstring(ade.webapi(function="getResources", sessionId=sid, id=room, detail=6))
    assert flat[0].get("category") == "instructor" and flat[0].get("email") == "zoe.nouvel@univ.example"
    with pytest.raises(AdminError) as taken:
        ade.add_resource(id=room, category="classroom", name="x")
    assert taken.value.status == 409


def test_reset_restores_the_seeded_data(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    before = ade.webapi(function="getEvents", sessionId=sid, detail=0)
    eid = int(ET.fromstring(before)[0].get("id", 0))
    ade.delete_event(eid)
    ade.delete_resource(ade.summary()["samples"]["instructor"])
    ade.reset(keep_sessions=True)
    assert ade.webapi(function="getEvents", sessionId=sid, detail=0) == before
    ade.reset()
    assert ET.fromstring(ade.webapi(function="getEvents", sessionId=sid)).tag == "error"


def test_project_settings_are_readable(ade: AdeSimulatorHandle) -> None:
    project = ade.project()
    assert project["slot_minutes"] == 15 and project["day_start"] == "08:00" and project["days_per_week"] == 7
    assert project["login"] == ade.login and project["id"] == ade.project_id
    assert 0 <= project["current_week"] < project["weeks"]


# -- faults and counters -------------------------------------------------------------------------

def test_down_answers_503_and_the_admin_api_keeps_working(ade: AdeSimulatorHandle) -> None:
    ade.set_faults(down="503")
    response = ade.http.get("/jsp/webapi", params={"function": "connect"})
    assert response.status_code == 503
    assert ade.project()["id"] == ade.project_id
    ade.clear_faults()
    assert ET.fromstring(ade.webapi(function="connect", login=ade.login, password=ade.password)).tag == "session"


def test_drop_breaks_the_connection_and_empty_answers_nothing(ade: AdeSimulatorHandle) -> None:
    ade.set_faults(down="drop")
    with pytest.raises(httpx.TransportError):
        httpx.get(ade.url, params={"function": "connect"}, timeout=5)
    ade.set_faults(down="empty")
    assert ade.http.get("/jsp/webapi", params={"function": "connect"}).content == b""
    assert ade.stats()["dropped"] == 1


def test_errors_for_the_next_calls_of_chosen_functions(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    ade.set_faults(error_next=2, error_functions=["getEvents"], error_name="java.lang.NullPointerException")
    assert ET.fromstring(ade.webapi(function="getDate", sessionId=sid)).tag == "date"
    for _ in range(2):
        root = ET.fromstring(ade.webapi(function="getEvents", sessionId=sid, eventId=1))
        assert (root.tag, root.get("name")) == ("error", "java.lang.NullPointerException")
    assert ET.fromstring(ade.webapi(function="getEvents", sessionId=sid, eventId=1)).tag == "events"
    ade.set_faults(error_fraction=1.0)
    assert ET.fromstring(ade.webapi(function="getDate", sessionId=sid)).tag == "error"
    assert ade.stats()["errors_injected"] == 3


def test_slow_answers_take_the_injected_delay(ade: AdeSimulatorHandle) -> None:
    ade.set_faults(delay_ms=150)
    started = time.perf_counter()
    ade.webapi(function="connect", login=ade.login, password=ade.password)
    assert time.perf_counter() - started >= 0.15


def test_counters_per_function_read_and_reset(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    for _ in range(3):
        ade.webapi(function="getEvents", sessionId=sid, eventId=1)
    stats = ade.stats()
    assert stats["functions"] == {"connect": 1, "setProject": 1, "getEvents": 3} and stats["total"] == 5
    ade.reset_stats()
    assert ade.stats()["total"] == 0


async def test_concurrency_is_measured_and_can_be_capped(ade: AdeSimulatorHandle) -> None:
    ade.set_faults(delay_ms=100)
    async with httpx.AsyncClient(base_url=ade.url, timeout=10) as client:
        await asyncio.gather(*(client.get("", params={"function": "getEverything"}) for _ in range(6)))
        assert ade.stats()["max_in_flight"] == 6
        ade.reset_stats()
        ade.set_config(max_concurrency=2)
        await asyncio.gather(*(client.get("", params={"function": "getEverything"}) for _ in range(6)))
    assert ade.stats()["max_in_flight"] == 2


def test_sessions_can_be_listed_and_expired(ade: AdeSimulatorHandle) -> None:
    sid = ade.session()
    assert [s["id"] for s in ade.admin("GET", "sessions")] == [sid]
    assert ade.expire_sessions() == 1
    root = ET.fromstring(ade.webapi(function="getDate", sessionId=sid))
    assert root.get("name") == "com.adesoft.errors.InvalidSessionException"


def test_the_renumber_quirk_gives_every_moved_event_a_new_id(ade: AdeSimulatorHandle) -> None:
    eid = int(events_of(ade, ade.session(), detail=1)[3].get("id", 0))
    ade.set_quirks(renumber_on_move=True)
    moved = ade.move_event(eid, day=1)
    assert moved["id"] != eid and moved["old_day"] == ade.app.university.events[3].day
