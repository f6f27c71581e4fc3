"""The JSON read models against the contract's shapes (docs/compatibility.md §3.3, §3.4, §3.5, §4.3.2), read through
the query side's facade from a mirror written with SQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from projections.readmodels import ReadModels
from queries.reads import Reads
from schedulesy.services import Services
from tests.fixtures.infra import replace_settings
from tests.fixtures.mirror import (
    GROUP, ROOM, ROOM_GEOLOCATION, SUBJECT, TEACHER, TEACHER_EMAIL, Ev, Node, insert_events, insert_resources,
    insert_user, seed_university, university,
)
from tests.fixtures.reads import reads_over

URL = "https://testserver/api/resource/{}.json/"
ROOM_EVENT = {
    "id": "191050", "activityId": "65849", "name": "M2 GROUPE C1 INTERC", "date": "14/01/2020",
    "startHour": "10:30", "endHour": "12:30", "duration": "8", "lastUpdate": "09/23/2019 14:51",
    "color": "#6699ff", "note": "", "instructors": [TEACHER], "classrooms": [ROOM], "trainees": [GROUP],
}
ROOM_ENTRY = {
    "name": "BCD Media",
    "genealogy": ["COL  -SITE COLMAR", "ESPE COLMAR BATIMENT PRINCIPAL", "ADDITIONAL BRANCH"],
    "geolocation": ROOM_GEOLOCATION,
}


@pytest.fixture
async def reads(services: Services) -> Reads:
    await seed_university(services.pool)
    return reads_over(ReadModels(services))


def body(document) -> Any:
    assert document is not None
    return msgspec.json.decode(document.body)


async def test_category_root_lists_its_children_as_absolute_urls_sorted_by_name(reads: Reads) -> None:
    document = await reads.resource_node("classroom")
    assert body(document) == {
        "tag": "category", "category": "classroom", "id": "classroom", "name": "classroom",
        "children": [
            {"id": URL.format("30622"), "name": "COL  -SITE COLMAR", "code": "", "has_children": True, "selectable": False},
            {"id": URL.format("30618"), "name": "SCH  -SITE SCHILTIGHEIM", "code": "", "has_children": False, "selectable": False},
        ],
    }
    assert document.media_type == "application/json" and document.status == 200
    assert document.etag.startswith('"') and document.etag.endswith('"')


async def test_leaf_node_keeps_its_raw_id_parent_and_genealogy(reads: Reads) -> None:
    document = body(await reads.resource_node(ROOM))
    assert document["id"] == ROOM and document["tag"] == "leaf" and document["parent"] == "1111"
    assert [g["id"] for g in document["genealogy"]] == ["classroom", "30622", "30628", "1111"]
    assert document["genealogy"][2] == {"id": "30628", "name": "ESPE COLMAR BATIMENT PRINCIPAL", "code": "1059240"}
    assert "children" not in document


async def test_children_are_sorted_by_name_ignoring_case(services: Services) -> None:
    await insert_resources(services.pool, university() + [
        Node("7001", "trainee", "beta", "trainee"), Node("7002", "trainee", "Alpha", "trainee"),
        Node("7003", "trainee", "gamma", "trainee"),
    ])
    children = body(await reads_over(ReadModels(services)).resource_node("trainee"))["children"]
    assert [c["name"] for c in children] == ["Alpha", "beta", "gamma", "Master"]
    assert children[3]["id"] == URL.format("6000")


async def test_a_child_with_events_is_selectable_and_one_without_is_not(reads: Reads) -> None:
    children = {c["name"]: c for c in body(await reads.resource_node("6000"))["children"]}
    assert children["M2 Biotechnologie HD"]["selectable"] is True
    assert children["M2 Biotechnologie Pro"]["selectable"] is False


async def test_a_child_of_a_category_root_is_selectable_when_it_has_events(reads: Reads) -> None:
    """The original never let a root's child be ticked (docs/compatibility.md §11.25); with events it now can."""
    children = body(await reads.resource_node("category5"))["children"]
    assert children == [
        {"id": URL.format(SUBJECT), "name": "Biologie cellulaire", "code": "", "has_children": False, "selectable": True}
    ]


async def test_a_child_with_more_events_than_the_limit_is_not_selectable(services: Services) -> None:
    await seed_university(services.pool)
    services.settings = replace_settings(services.settings, max_events=1)
    reads = reads_over(ReadModels(services))
    children = {c["name"]: c for c in body(await reads.resource_node("6000"))["children"]}
    assert children["M2 Biotechnologie HD"]["selectable"] is False


async def test_unknown_and_malformed_resource_ids_have_no_document(reads: Reads) -> None:
    assert await reads.resource_node("999999") is None
    for bad in ("abc", "../1616", "1" * 40, "", "16 16", "classroom.json"):
        assert await reads.resource_node(bad) is None
        assert await reads.resource_events(bad, anonymous=True) is None


async def test_events_document_has_the_contract_shape(reads: Reads) -> None:
    document = await reads.resource_events(ROOM, anonymous=False)
    response = body(document)
    assert response["id"] == ROOM and response["tag"] == "leaf"
    assert response["events"] == {
        "events": [ROOM_EVENT],
        "instructors": {TEACHER: {"name": "Gerard Toto"}},
        "classrooms": {ROOM: ROOM_ENTRY},
        "trainees": {GROUP: {"name": "M2 Biotechnologie HD"}},
        "category5s": {},
    }
    assert document.meta["category"] == "classroom"


async def test_events_of_a_group_are_sorted_by_start_and_list_only_booked_categories(reads: Reads) -> None:
    events = body(await reads.resource_events(GROUP, anonymous=False))["events"]
    assert [e["id"] for e in events["events"]] == ["191051", "191050"]
    assert "classrooms" not in events["events"][0] and events["events"][0]["category5s"] == [SUBJECT]
    assert set(events) == {"events", "instructors", "classrooms", "trainees", "category5s"}


async def test_anonymous_events_of_a_room_hide_teachers_but_keep_groups(reads: Reads) -> None:
    document = await reads.resource_events(ROOM, anonymous=True)
    events = body(document)["events"]
    expected_event = {k: v for k, v in ROOM_EVENT.items() if k != "instructors"}
    assert events["events"] == [expected_event]
    assert events["instructors"] == {}
    assert events["trainees"] == {GROUP: {"name": "M2 Biotechnologie HD"}}
    assert document.status == 200 and document.meta["category"] == "classroom"


async def test_anonymous_events_of_a_non_room_are_refused(reads: Reads) -> None:
    document = await reads.resource_events(TEACHER, anonymous=True)
    assert document is not None and document.status == 403
    assert body(document)["detail"] == "Only classrooms allowed"
    assert document.meta["category"] == "instructor"
    assert (await reads.resource_events(TEACHER, anonymous=False)).status == 200


EMPTY_EVENTS: dict[str, Any] = {"events": [], "trainees": {}, "instructors": {}, "classrooms": {}, "category5s": {}}


async def test_a_resource_without_events_has_the_same_shape_as_one_with_events(reads: Reads) -> None:
    for ext_id in ("1617", "classroom"):
        for anonymous in (False, True):
            events = body(await reads.resource_events(ext_id, anonymous=anonymous))["events"]
            assert events == EMPTY_EVENTS and list(events) == list(EMPTY_EVENTS), (ext_id, anonymous)


async def test_events_documents_list_the_standard_maps_first_in_both_variants(reads: Reads) -> None:
    for anonymous in (False, True):
        events = body(await reads.resource_events(ROOM, anonymous=anonymous))["events"]
        assert list(events)[:5] == list(EMPTY_EVENTS)


async def test_calendar_merges_selected_resources_without_duplicates_in_start_order(reads: Reads) -> None:
    await insert_user(reads.models.services.pool, "jdupont", f"{ROOM},{GROUP}")
    document = await reads.user_calendar("jdupont")
    merged = body(document)["events"]
    assert [e["id"] for e in merged["events"]] == ["191051", "191050"]
    assert merged["events"][1] == ROOM_EVENT
    assert merged["classrooms"] == {ROOM: ROOM_ENTRY}
    assert merged["category5s"] == {SUBJECT: {"name": "Biologie cellulaire"}}
    assert list(merged) == ["events", "trainees", "instructors", "classrooms", "category5s"]
    assert document.meta["nb_events"] == "2"


@pytest.mark.parametrize("resources", ["", ROOM, "1617", f"{ROOM},{GROUP}"])
async def test_calendar_has_the_same_shape_for_any_number_of_resources(reads: Reads, resources: str) -> None:
    """docs/compatibility.md §11.8/§11.9: never `{}`, always the list and the four maps."""
    await insert_user(reads.models.services.pool, "jdupont", resources)
    merged = body(await reads.user_calendar("jdupont"))["events"]
    assert isinstance(merged["events"], list)
    assert {"trainees", "instructors", "classrooms", "category5s"} <= set(merged)


async def test_users_with_the_same_selection_share_one_calendar(reads: Reads) -> None:
    await insert_user(reads.models.services.pool, "alice", f"{GROUP},{ROOM}")
    await insert_user(reads.models.services.pool, "bob", f"{ROOM},{GROUP},{ROOM}")
    alice, bob = await reads.user_selection("alice"), await reads.user_selection("bob")
    assert alice.selection_hash == bob.selection_hash and alice.resources == (ROOM, GROUP)
    assert (await reads.user_calendar("alice")).body == (await reads.user_calendar("bob")).body


async def test_calendar_above_the_limit_is_a_413_marker_with_the_count(services: Services) -> None:
    await seed_university(services.pool)
    await insert_events(services.pool, [Ev(191052, dt.datetime(2020, 1, 15, 8, 0), activity_id=65851)])
    await insert_user(services.pool, "jdupont", GROUP)
    services.settings = replace_settings(services.settings, max_events=2)
    document = await reads_over(ReadModels(services)).user_calendar("jdupont")
    assert document.status == 413
    assert body(document) == {"code": "too_much_events", "detail": "Exceeded limit of 2 events", "nb_events": 3}


async def test_exactly_the_limit_is_allowed(services: Services) -> None:
    await seed_university(services.pool)
    await insert_user(services.pool, "jdupont", GROUP)
    services.settings = replace_settings(services.settings, max_events=2)
    assert (await reads_over(ReadModels(services)).user_calendar("jdupont")).status == 200


async def test_an_unknown_user_has_no_calendar(reads: Reads) -> None:
    assert await reads.user_calendar("nobody") is None
    assert await reads.user_calendar("x" * 100) is None


async def test_instructors_are_found_by_email_ignoring_case(reads: Reads) -> None:
    found = body(await reads.instructors_by_email(TEACHER_EMAIL.upper()))
    assert [d["id"] for d in found] == [TEACHER]
    assert found[0]["email"] == TEACHER_EMAIL
    assert body(await reads.instructors_by_email("nobody@example.edu")) == []


async def test_large_documents_carry_a_gzip_copy_of_the_body(services: Services) -> None:
    import gzip

    await seed_university(services.pool)
    await insert_events(services.pool, [
        Ev(300000 + i, dt.datetime(2020, 2, 1, 8, 0) + dt.timedelta(days=i), activity_id=70000 + i) for i in range(20)
    ])
    reads = reads_over(ReadModels(services))
    document = await reads.resource_events(GROUP, anonymous=False)
    assert len(document.body) > 1024 and gzip.decompress(document.gzip_body) == document.body
    again = await reads.resource_events(GROUP, anonymous=False)  # now from Redis
    assert again.body == document.body and again.etag == document.etag
    small = await reads.resource_node(ROOM)
    assert small.gzip_body is None
