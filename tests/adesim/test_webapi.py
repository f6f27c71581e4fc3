"""The simulator speaks the ADE Web API as ``docs/ade.md`` describes it, over real HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import re
import xml.etree.ElementTree as ET
import zoneinfo
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fixtures.ade import AdeSimulatorHandle


@pytest.fixture
async def client(ade: AdeSimulatorHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ade.url, timeout=10) as http:
        yield http


async def raw(client: httpx.AsyncClient, **params: object) -> httpx.Response:
    return await client.get("", params={k: str(v) for k, v in params.items()})


async def xml(client: httpx.AsyncClient, **params: object) -> ET.Element:
    response = await raw(client, **params)
    assert response.status_code == 200
    return ET.fromstring(response.content)


async def session(client: httpx.AsyncClient, ade: AdeSimulatorHandle, *, project: bool = True) -> str:
    root = await xml(client, function="connect", login=ade.login, password=ade.password)
    sid = root.get("id")
    assert sid
    if project:
        await xml(client, function="setProject", sessionId=sid, projectId=ade.project_id)
    return sid


def error_name(root: ET.Element) -> str | None:
    return root.get("name") if root.tag == "error" else None


# -- sessions ----------------------------------------------------------------------------------------

async def test_connect_returns_a_short_hex_session_id(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    root = await xml(client, function="connect", login="schedulesy", password="schedulesy")
    assert root.tag == "session"
    assert re.fullmatch(r"[0-9a-f]{10,12}", root.get("id", ""))


async def test_wrong_password_is_an_invalid_login_error_with_http_200(client: httpx.AsyncClient) -> None:
    response = await raw(client, function="connect", login="schedulesy", password="nope")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert error_name(root) == "com.adesoft.errors.InvalidLogin"
    assert root.get("trace") == "Invalid login."


async def test_basic_auth_and_data_token_also_connect(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    token = base64.b64encode(b"schedulesy:schedulesy").decode()
    response = await client.get("", params={"function": "connect"}, headers={"Authorization": f"Basic {token}"})
    assert ET.fromstring(response.content).tag == "session"
    assert (await xml(client, data=ade.data_token)).tag == "session"
    assert error_name(await xml(client, data="00,1")) == "com.adesoft.errors.InvalidLogin"


async def test_data_token_answers_without_session_given_a_project(client: httpx.AsyncClient,
                                                                  ade: AdeSimulatorHandle) -> None:
    root = await xml(client, function="getResources", data=ade.data_token, projectId=ade.project_id,
                     category="instructor", tree="false", detail=2)
    assert root.tag == "instructors" and len(root) > 0


async def test_set_project_echoes_the_session_and_the_project(client: httpx.AsyncClient,
                                                              ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade, project=False)
    root = await xml(client, function="setProject", sessionId=sid, projectId=ade.project_id)
    assert (root.tag, root.get("sessionId"), root.get("projectId")) == ("setProject", sid, str(ade.project_id))
    missing = await xml(client, function="setProject", sessionId=sid, projectId=99)
    assert error_name(missing) == "com.adesoft.errors.ProjectNotFoundException"


async def test_calls_before_set_project_answer_a_null_pointer_exception(client: httpx.AsyncClient,
                                                                        ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade, project=False)
    for function in ("getResources", "getEvents", "getActivities", "getDate"):
        assert error_name(await xml(client, function=function, sessionId=sid)) == "java.lang.NullPointerException"


async def test_unknown_or_missing_session_is_a_session_error(client: httpx.AsyncClient) -> None:
    assert error_name(await xml(client, function="getEvents", sessionId="deadbeef")) == \
        "com.adesoft.errors.InvalidSessionException"
    assert error_name(await xml(client, function="getProjects")) == "com.adesoft.errors.InvalidSessionException"


async def test_a_session_expires_after_the_idle_ttl(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    import asyncio

    ade.set_config(session_ttl=0.3)
    sid = await session(client, ade)
    await asyncio.sleep(0.15)
    assert (await xml(client, function="getDate", sessionId=sid)).tag == "date"  # use refreshes the session
    await asyncio.sleep(0.45)
    assert error_name(await xml(client, function="getDate", sessionId=sid)) == \
        "com.adesoft.errors.InvalidSessionException"


async def test_disconnect_ends_the_session(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    root = await xml(client, function="disconnect", sessionId=sid)
    assert (root.tag, root.get("sessionId")) == ("disconnected", sid)
    assert error_name(await xml(client, function="getDate", sessionId=sid)) is not None


async def test_projects_by_detail_level(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade, project=False)
    plain = await xml(client, function="getProjects", sessionId=sid)
    assert [p.attrib for p in plain][0] == {"id": str(ade.project_id)}
    assert len(plain) == 3
    two = (await xml(client, function="getProjects", sessionId=sid, detail=2))[0]
    assert set(two.attrib) == {"id", "name", "uid"}
    assert re.fullmatch(r"\d{4}-\d{4}", two.get("name", ""))
    four = (await xml(client, function="getProjects", sessionId=sid, detail=4))[0]
    assert four.get("loaded") == "true" and "version" in four.attrib


async def test_unknown_function_answers_an_empty_200(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    response = await raw(client, function="getEverything", sessionId=sid)
    assert (response.status_code, response.content) == (200, b"")


# -- encoding and stability ----------------------------------------------------------------------

async def test_answers_are_utf8_xml_with_declaration_tabs_apos_and_no_charset(client: httpx.AsyncClient,
                                                                             ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    response = await raw(client, function="getResources", sessionId=sid, tree="true", detail=11)
    assert response.headers["content-type"] == "text/xml"
    body = response.content
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<tree>\n\t<category')
    assert b"&apos;" in body and b"'" not in body.split(b"\n", 1)[1]
    text = body.decode("utf-8")
    assert "é" in text
    names = [e.get("name", "") for e in ET.fromstring(body).iter() if e.get("name")]
    assert any("'" in n for n in names) and any("é" in n for n in names)


async def test_the_same_query_gives_byte_identical_answers(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    for params in ({"function": "getResources", "category": "trainee", "tree": "True", "detail": 11, "hash": "True"},
                   {"function": "getEvents", "detail": 0}):
        first = (await raw(client, sessionId=sid, **params)).content
        again = (await raw(client, sessionId=await session(client, ade), **params)).content
        assert first == again and len(first) > 200


async def test_booleans_ignore_case_and_unknown_parameters_are_ignored(client: httpx.AsyncClient,
                                                                       ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    bodies = {(await raw(client, function="getResources", sessionId=sid, category="classroom", tree=value,
                         detail=3)).content for value in ("true", "True", "TRUE")}
    assert len(bodies) == 1
    plain = await client.get("", params={"function": "getEvents", "sessionId": sid, "detail": "0"})
    noisy = await client.get("", params=[("function", "getEvents"), ("sessionId", sid), ("detail", "0"),
                                         ("hash", "True"), ("attribute_filter", "id"),
                                         ("attribute_filter", "name")])
    assert plain.content == noisy.content


# -- resources -----------------------------------------------------------------------------------

async def test_resource_tree_has_paths_categories_and_building_codes(client: httpx.AsyncClient,
                                                                     ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    tree = await xml(client, function="getResources", sessionId=sid, category="classroom", tree="True",
                     detail=11)
    assert tree.tag == "tree"
    assert [c.get("category") for c in tree] == ["classroom"]
    site = tree[0][0]
    assert (site.tag, site.get("path")) == ("branch", "")
    building = site.find("branch")
    assert building is not None and building.get("code", "").isdigit()
    assert building.get("path") == site.get("name", "") + "."
    leaf = next(tree.iter("leaf"))
    assert leaf.get("path", "").endswith(".") and leaf.get("category") == "classroom"
    whole = await xml(client, function="getResources", sessionId=sid, tree="true", detail=3)
    assert [c.get("category") for c in whole] == ["trainee", "instructor", "classroom", "category5"]


async def test_flat_lists_name_their_elements_after_the_category(client: httpx.AsyncClient,
                                                                 ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    expected = {"classroom": ("rooms", "room"), "instructor": ("instructors", "instructor"),
                "trainee": ("trainees", "trainee"), "category5": ("category5s", "category5")}
    for category, (container, tag) in expected.items():
        root = await xml(client, function="getResources", sessionId=sid, category=category, tree="false", detail=4)
        assert root.tag == container and {child.tag for child in root} == {tag}
    everything = await xml(client, function="getResources", sessionId=sid, tree="false", detail=1)
    assert everything.tag == "resources" and len(everything) == sum(ade.summary()["resources"].values())


async def test_resource_filters(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    samples = ade.summary()["samples"]
    td, leaf, year = samples["trainee_td"], samples["trainee_leaf"], samples["trainee_year"]
    by_id = await xml(client, function="getResources", sessionId=sid, id=f"{leaf}|{td}", detail=2)
    assert sorted(int(r.get("id", 0)) for r in by_id) == sorted([leaf, td])
    name = by_id[0].get("name")
    by_name = await xml(client, function="getResources", sessionId=sid, name=name, detail=2)
    assert [r.get("name") for r in by_name] == [name]
    children = await xml(client, function="getResources", sessionId=sid, fatherIds=year, tree="false", detail=4)
    assert td in [int(r.get("id", 0)) for r in children]
    assert all(r.get("isGroup") == "true" for r in children)
    folders = await xml(client, function="getResources", sessionId=sid, category="trainee", leaves="false",
                        detail=4)
    assert folders and all(r.get("isGroup") == "true" for r in folders)
    pruned = await xml(client, function="getResources", sessionId=sid, tree="true", id=leaf, detail=2)
    assert [int(e.get("id", 0)) for e in pruned.iter("leaf")] == [leaf]
    code = ade.resource(td)["code"] or ade.resource(samples["classroom"])["code"]
    assert len(await xml(client, function="getResources", sessionId=sid, code=code, detail=2)) >= 1


async def test_resource_detail_levels_are_cumulative(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    teacher = ade.summary()["samples"]["instructor"]

    async def attrs(detail: int) -> list[str]:
        root = await xml(client, function="getResources", sessionId=sid, id=teacher, detail=detail)
        return list(root[0].attrib)

    assert await attrs(1) == ["id"]
    assert await attrs(3) == ["id", "name", "path", "category"]
    assert (await attrs(4))[-1] == "isGroup"
    six = await attrs(6)
    assert six[-1] == "email"
    eleven = await attrs(11)
    assert eleven[:len(six)] == six and {"fatherId", "code", "nbEventsPlaced", "lastUpdate"} <= set(eleven)
    assert await attrs(0) == eleven
    full = await xml(client, function="getResources", sessionId=sid, id=teacher, detail=13)
    assert [child.tag for child in full[0]] == ["allMembers", "memberships", "constraints", "rights"]


async def test_instructors_have_email_addresses(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    root = await xml(client, function="getResources", sessionId=sid, category="instructor", tree="true", detail=11)
    emails = [leaf.get("email", "") for leaf in root.iter("leaf")]
    assert sum("@" in e for e in emails) >= len(emails) * 0.8


# -- events --------------------------------------------------------------------------------------

async def test_a_group_sees_the_events_booked_on_every_folder_above_it(client: httpx.AsyncClient,
                                                                       ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    samples = ade.summary()["samples"]
    leaf, td, year = samples["trainee_leaf"], samples["trainee_td"], samples["trainee_year"]
    events = await xml(client, function="getEvents", sessionId=sid, resources=leaf, detail=8)
    booked_on = {int(r.get("id", 0)) for e in events for r in e.iter("resource") if r.get("category") == "trainee"}
    assert {leaf, td, year} <= booked_on
    year_only = await xml(client, function="getEvents", sessionId=sid, resources=year, detail=1)
    assert {e.get("id") for e in year_only} < {e.get("id") for e in events}
    both = await xml(client, function="getEvents", sessionId=sid, resources=f"{leaf}|{year}", detail=1)
    assert [e.get("id") for e in both] == [e.get("id") for e in events]


async def test_event_detail_levels_and_element_shape(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    leaf = ade.summary()["samples"]["trainee_leaf"]
    one = (await xml(client, function="getEvents", sessionId=sid, resources=leaf, detail=1))[0]
    assert list(one.attrib) == ["id", "activityId", "session", "repetition"] and len(one) == 0
    full = (await xml(client, function="getEvents", sessionId=sid, resources=leaf, detail=0))[0]
    assert list(full.attrib)[:12] == ["id", "activityId", "session", "repetition", "name", "endHour", "startHour",
                                      "date", "absoluteSlot", "slot", "day", "week"]
    assert {"lastUpdate", "creation", "color", "note", "duration", "oldWeek", "isNoteLock"} <= set(full.attrib)
    assert [child.tag for child in full] == ["resources", "additional"]
    booked = full[0][0]
    assert list(booked.attrib) == ["fromWorkflow", "nodeId", "nodeOrId", "quantity", "category", "name", "id"]
    eight = (await xml(client, function="getEvents", sessionId=sid, resources=leaf, detail=8))[0]
    assert ET.tostring(eight) == ET.tostring(full)


async def test_dates_and_hours_derive_from_the_placement(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    project = ade.project()
    week0 = dt.date.fromisoformat(project["week0"])
    assert week0.weekday() == 0 and week0.month == 8
    events = await xml(client, function="getEvents", sessionId=sid, detail=7)
    for e in list(events)[::7]:
        week, day, slot, duration = (int(e.get(k, -1)) for k in ("week", "day", "slot", "duration"))
        assert e.get("date") == (week0 + dt.timedelta(days=7 * week + day)).strftime("%d/%m/%Y")
        start = 8 * 60 + slot * 15
        assert e.get("startHour") == f"{start // 60:02d}:{start % 60:02d}"
        end = start + duration * 15
        assert e.get("endHour") == f"{end // 60:02d}:{end % 60:02d}"
        assert int(e.get("absoluteSlot", -1)) == (week * 7 + day) * project["slots_per_day"] + slot
        assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", e.get("lastUpdate", ""))
        assert re.fullmatch(r"\d{1,3},\d{1,3},\d{1,3}", e.get("color", ""))


async def test_date_filters_take_us_dates_inclusive(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    week0 = dt.date.fromisoformat(ade.project()["week0"])
    monday = week0 + dt.timedelta(weeks=ade.project()["current_week"])
    friday = monday + dt.timedelta(days=4)
    week = await xml(client, function="getEvents", sessionId=sid, detail=3,
                     startDate=monday.strftime("%m/%d/%Y"), endDate=friday.strftime("%m/%d/%Y"))
    days = {e.get("date") for e in week}
    assert len(week) > 0 and days <= {(monday + dt.timedelta(days=d)).strftime("%d/%m/%Y") for d in range(5)}
    short = f"{friday.month}/{friday.day}/{friday.year}"
    one_day = await xml(client, function="getEvents", sessionId=sid, detail=3, date=short)
    assert {e.get("date") for e in one_day} <= {friday.strftime("%d/%m/%Y")}
    assert len(one_day) == sum(1 for e in week if e.get("date") == friday.strftime("%d/%m/%Y"))
    by_weeks = await xml(client, function="getEvents", sessionId=sid, detail=1,
                         weeks=ade.project()["current_week"], days="0,1,2,3,4")
    assert {e.get("id") for e in by_weeks} == {e.get("id") for e in week}


async def test_a_malformed_date_is_a_parse_exception(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    root = await xml(client, function="getEvents", sessionId=sid, date="2026-11-30")
    assert error_name(root) == "java.text.ParseException"
    assert error_name(await xml(client, function="getEvents", sessionId=sid, detail="x")) == \
        "java.lang.NumberFormatException"


async def test_event_id_and_activity_filters(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    some = list(await xml(client, function="getEvents", sessionId=sid, detail=1))[5:8]
    ids = [e.get("id", "") for e in some]
    picked = await xml(client, function="getEvents", sessionId=sid, eventId="|".join(ids), detail=1)
    assert [e.get("id") for e in picked] == sorted(ids, key=int)
    activity = some[0].get("activityId")
    series = await xml(client, function="getEvents", sessionId=sid, activities=activity, detail=1)
    assert len(series) > 1 and {e.get("activityId") for e in series} == {activity}
    nothing = await raw(client, function="getEvents", sessionId=sid, resources=999999)
    assert nothing.content.endswith(b"<events/>\n")


async def test_activities_flat_and_tree(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    flat = await xml(client, function="getActivities", sessionId=sid, detail=9)
    assert flat.tag == "activities" and len(flat) == ade.summary()["activities"]
    assert {"id", "name", "type", "folderId", "nbEventsPlaced", "color"} <= set(flat[0].attrib)
    tree = await xml(client, function="getActivities", sessionId=sid, tree="true", detail=2)
    assert tree.tag == "treeActivities" and tree[0].tag == "folder" and tree[0][0].tag == "activity"
    rich = await xml(client, function="getActivities", sessionId=sid, id=flat[0].get("id"), detail=17)
    assert [child.tag for child in rich[0]] == ["resources", "events"]
    assert rich[0].find("events/event/eventParticipants/eventParticipant") is not None


async def test_get_date_gives_epoch_ms_of_local_time(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    week0 = dt.date.fromisoformat(ade.project()["week0"])
    root = await xml(client, function="getDate", sessionId=sid, week=12, day=2, slot=4)
    expected = dt.datetime.combine(week0 + dt.timedelta(days=7 * 12 + 2), dt.time(9, 0),
                                   tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert int(root.get("time", 0)) == int(expected.timestamp() * 1000)


async def test_a_thirty_minute_project_counts_durations_in_half_hours(ade_30min: AdeSimulatorHandle) -> None:
    async with httpx.AsyncClient(base_url=ade_30min.url, timeout=10) as client:
        sid = await session(client, ade_30min)
        assert ade_30min.project()["slot_minutes"] == 30
        for e in list(await xml(client, function="getEvents", sessionId=sid, detail=4))[::5]:
            start = dt.datetime.strptime(e.get("startHour", ""), "%H:%M")
            end = dt.datetime.strptime(e.get("endHour", ""), "%H:%M")
            assert (end - start).seconds // 60 == int(e.get("duration", 0)) * 30
            assert start.minute in (0, 30)


async def test_quirks_switch_legacy_attributes_empty_dates_and_charset(client: httpx.AsyncClient,
                                                                       ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    ade.set_quirks(legacy_attributes=True, empty_dates=True, content_type_charset=True)
    response = await raw(client, function="getEvents", sessionId=sid, detail=0)
    assert response.headers["content-type"] == "text/xml;charset=UTF-8"
    event = ET.fromstring(response.content)[0]
    assert "oldWeek" not in event.attrib and "isNoteLock" not in event.attrib
    assert event.get("lastUpdate") == "" and event.get("creation") == ""


async def test_stub_functions_answer_like_ade(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    sid = await session(client, ade)
    assert (await xml(client, function="getCosts", sessionId=sid)).tag == "costs"
    missing = await xml(client, function="getCosts", sessionId=sid, id=10)
    assert (error_name(missing), missing.get("trace")) == ("com.adesoft.errors.NotFoundException",
                                                           "Cost not found. Id=10")
    assert (await xml(client, function="getCaracteristics", sessionId=sid)).tag == "caracteristics"
    image = await raw(client, function="imageET", sessionId=sid, resources=1, weeks=3, days="0,1,2,3,4")
    assert image.headers["content-type"] == "image/gif" and image.content.startswith(b"GIF89a")


async def test_a_post_form_is_read_like_a_query(client: httpx.AsyncClient, ade: AdeSimulatorHandle) -> None:
    response = await client.post("", data={"function": "connect", "login": ade.login, "password": ade.password})
    assert ET.fromstring(response.content).tag == "session"
