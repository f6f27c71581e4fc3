"""GET /api/resource/{id}.json[/] and the instructor search (docs/compatibility.md §3.3, §3.10, §7.2)."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.mirror import ROOM, TEACHER
from tests.fixtures.seeded import Seeded

pytestmark = pytest.mark.cluster_too

SPA_ID_RULE = re.compile(r"(\d+)\.json")
"""The front end's rule: the run of digits immediately preceding `.json` (docs/compatibility.md §7.2)."""


@pytest.mark.parametrize("category", ["classroom", "instructor", "trainee", "category5"])
async def test_each_category_root_is_served_with_absolute_child_urls(
    api: AsyncTestClient, seeded: Seeded, category: str
) -> None:
    response = await api.get(f"/api/resource/{category}.json", headers=seeded.owner_headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    root = response.json()
    assert root["tag"] == "category"
    assert root["id"] == category and root["category"] == category and root["name"] == category
    for child in root["children"]:
        assert re.fullmatch(r"https://testserver/api/resource/\d+\.json/", child["id"]), child["id"]
        assert set(child) >= {"id", "name", "code", "has_children", "selectable"}


async def test_children_are_sorted_by_name_case_insensitively(api: AsyncTestClient, seeded: Seeded) -> None:
    node = (await api.get("/api/resource/1111.json/", headers=seeded.owner_headers)).json()
    names = [child["name"] for child in node["children"]]
    assert names == ["amphi sans cours", "BCD Media"]


async def test_a_child_is_selectable_only_when_it_has_events(api: AsyncTestClient, seeded: Seeded) -> None:
    node = (await api.get("/api/resource/1111.json/", headers=seeded.owner_headers)).json()
    selectable = {child["name"]: child["selectable"] for child in node["children"]}
    assert selectable == {"amphi sans cours": False, "BCD Media": True}


async def test_the_front_end_can_parse_every_child_url_back_to_its_id(api: AsyncTestClient, seeded: Seeded) -> None:
    for parent in ("classroom", "30622", "30628", "1111", "instructor", "5000"):
        node = (await api.get(f"/api/resource/{parent}.json/", headers=seeded.owner_headers)).json()
        for child in node.get("children", []):
            match = SPA_ID_RULE.search(child["id"])
            assert match is not None
            assert child["id"] == f"https://testserver/api/resource/{match.group(1)}.json/"
            fetched = await api.get(child["id"], headers=seeded.owner_headers)
            assert fetched.status_code == 200
            assert fetched.json()["id"] == match.group(1)  # the node's own id stays raw (docs/compatibility.md §7.2)


async def test_a_leaf_has_its_genealogy_from_the_category_root(api: AsyncTestClient, seeded: Seeded) -> None:
    leaf = (await api.get(f"/api/resource/{ROOM}.json/", headers=seeded.owner_headers)).json()
    assert leaf["id"] == ROOM
    assert leaf["tag"] == "leaf"
    assert leaf["name"] == "BCD Media"
    assert leaf["parent"] == "1111"
    assert [g["id"] for g in leaf["genealogy"]] == ["classroom", "30622", "30628", "1111"]
    assert leaf["genealogy"][2] == {"id": "30628", "name": "ESPE COLMAR BATIMENT PRINCIPAL", "code": "1059240"}


async def test_with_and_without_trailing_slash_the_answer_is_the_same(api: AsyncTestClient, seeded: Seeded) -> None:
    bare = await api.get(f"/api/resource/{ROOM}.json", headers=seeded.owner_headers)
    slashed = await api.get(f"/api/resource/{ROOM}.json/", headers=seeded.owner_headers)
    assert bare.status_code == slashed.status_code == 200
    assert bare.content == slashed.content
    assert bare.headers["etag"] == slashed.headers["etag"]


async def test_an_unknown_resource_is_a_json_404(api: AsyncTestClient, seeded: Seeded) -> None:
    for missing in ("999999", "category9"):
        response = await api.get(f"/api/resource/{missing}.json", headers=seeded.owner_headers)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


async def test_instructors_are_found_by_email_whatever_its_case(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get("/api/instructor.json", params={"email": "gerard.toto@EXAMPLE.edu"},
                             headers=seeded.owner_headers)
    assert response.status_code == 200
    found = response.json()
    assert [doc["id"] for doc in found] == [TEACHER]
    assert found[0]["category"] == "instructor"


async def test_an_email_nobody_has_gives_an_empty_list(
    api: AsyncTestClient, seeded: Seeded, make_token: TokenFactory
) -> None:
    response = await api.get("/api/instructor.json/", params={"email": "nobody@example.edu"},
                             headers=auth_header(make_token("someone")))
    assert response.status_code == 200
    assert response.json() == []
