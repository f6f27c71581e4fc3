"""GET /api/events/{id}.json: the public classroom page and its authenticated variant (docs/compatibility.md §3.4)."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from tests.fixtures.mirror import GROUP, ROOM, SUBJECT, TEACHER
from tests.fixtures.seeded import Seeded

pytestmark = pytest.mark.cluster_too


async def test_anyone_may_read_a_classroom_without_its_instructors(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get(f"/api/events/{ROOM}.json")
    assert response.status_code == 200
    document = response.json()
    assert document["id"] == ROOM and document["category"] == "classroom"
    events = document["events"]
    assert [e["id"] for e in events["events"]] == ["191050"]
    assert events["instructors"] == {}
    assert all("instructors" not in event for event in events["events"])
    assert "Gerard Toto" not in response.text
    assert events["trainees"] == {GROUP: {"name": "M2 Biotechnologie HD"}}
    assert events["classrooms"][ROOM]["geolocation"] == [48.607508, 7.708025, 0.0]


async def test_an_anonymous_answer_may_be_shared_briefly_but_not_with_authenticated_callers(
    api: AsyncTestClient, seeded: Seeded
) -> None:
    response = await api.get(f"/api/events/{ROOM}.json")
    assert response.headers["cache-control"] == "public, max-age=60"
    assert "Authorization" in response.headers["vary"]


async def test_anonymous_callers_may_not_read_other_categories(api: AsyncTestClient, seeded: Seeded) -> None:
    for ext_id in (TEACHER, GROUP, SUBJECT, "instructor"):
        response = await api.get(f"/api/events/{ext_id}.json")
        assert response.status_code == 403, ext_id
        assert response.json()["detail"] == "Only classrooms allowed"


async def test_a_room_branch_is_public_too(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get("/api/events/1111.json")
    assert response.status_code == 200
    assert response.json()["events"]["events"] == []


async def test_authenticated_callers_read_everything_unmodified(api: AsyncTestClient, seeded: Seeded) -> None:
    room = await api.get(f"/api/events/{ROOM}.json", headers=seeded.owner_headers)
    assert room.status_code == 200
    assert room.headers["cache-control"] == "private, no-cache"
    events = room.json()["events"]
    assert events["instructors"] == {TEACHER: {"name": "Gerard Toto"}}
    assert events["events"][0]["instructors"] == [TEACHER]
    teacher = await api.get(f"/api/events/{TEACHER}.json", headers=seeded.owner_headers)
    assert teacher.status_code == 200
    assert teacher.json()["category"] == "instructor"


async def test_the_node_document_is_raw_on_the_events_endpoint(api: AsyncTestClient, seeded: Seeded) -> None:
    branch = (await api.get("/api/events/1111.json", headers=seeded.owner_headers)).json()
    assert {child["id"] for child in branch["children"]} == {ROOM, "1617"}
    assert all("selectable" not in child for child in branch["children"])


async def test_an_unknown_resource_is_a_404_for_everyone(api: AsyncTestClient, seeded: Seeded) -> None:
    assert (await api.get("/api/events/424242.json")).status_code == 404
    assert (await api.get("/api/events/424242.json", headers=seeded.owner_headers)).status_code == 404
