"""GET /api/calendar/{username}.json: owner or superuser, 404 unknown, 413 above the limit
(docs/compatibility.md §3.5)."""

from __future__ import annotations

from urllib.parse import quote

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from schedulesy.app import create_app
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.infra import replace_settings
from tests.fixtures.mirror import GROUP, ROOM, insert_user
from tests.fixtures.seeded import Seeded

pytestmark = pytest.mark.cluster_too

STANDARD_MAPS = {"trainees", "instructors", "classrooms", "category5s"}


async def test_the_owner_gets_the_merged_events_of_the_selection(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get(f"/api/calendar/{seeded.owner}.json", headers=seeded.owner_headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-cache"
    merged = response.json()["events"]
    assert [e["id"] for e in merged["events"]] == ["191051", "191050"]  # each once
    assert set(merged) == {"events"} | STANDARD_MAPS
    assert merged["instructors"]["23390"] == {"name": "Gerard Toto"}
    assert merged["classrooms"][ROOM]["genealogy"] == [
        "COL  -SITE COLMAR", "ESPE COLMAR BATIMENT PRINCIPAL", "ADDITIONAL BRANCH"]
    assert all(isinstance(e["note"], str) for e in merged["events"])


async def test_a_username_with_dots_keeps_them(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await insert_user(pool, "jean.dupont", GROUP)
    response = await api.get("/api/calendar/jean.dupont.json/", headers=auth_header(make_token("jean.dupont")))
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["events"]["events"]] == ["191051", "191050"]


async def test_any_username_that_fits_the_uid_column_reads_its_calendar(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    """One username rule everywhere (docs/compatibility.md §1.2): an e-mail login, or a login with a
    space that another tool wrote, reads its calendar like any other."""
    for username in ("jean.dupont@unistra.fr", "jean dupont"):
        await insert_user(pool, username, GROUP)
        response = await api.get(f"/api/calendar/{quote(username)}.json", headers=auth_header(make_token(username)))
        assert response.status_code == 200, username
        assert [e["id"] for e in response.json()["events"]["events"]] == ["191051", "191050"]


async def test_an_empty_selection_still_has_an_events_array(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await insert_user(pool, "newcomer", "")
    response = await api.get("/api/calendar/newcomer.json", headers=auth_header(make_token("newcomer")))
    assert response.status_code == 200
    assert response.json() == {"events": {"events": [], "trainees": {}, "instructors": {}, "classrooms": {},
                                          "category5s": {}}}


async def test_a_superuser_reads_anyones_calendar(
    api: AsyncTestClient, seeded: Seeded, make_token: TokenFactory
) -> None:
    admin = auth_header(make_token("admin", superuser=True))
    response = await api.get(f"/api/calendar/{seeded.owner}.json", headers=admin)
    assert response.status_code == 200
    owners = await api.get(f"/api/calendar/{seeded.owner}.json", headers=seeded.owner_headers)
    assert response.content == owners.content


async def test_another_user_is_refused_whether_or_not_the_calendar_exists(
    api: AsyncTestClient, seeded: Seeded, make_token: TokenFactory
) -> None:
    intruder = auth_header(make_token("mallory"))
    existing = await api.get(f"/api/calendar/{seeded.owner}.json", headers=intruder)
    missing = await api.get("/api/calendar/nobody.json", headers=intruder)
    assert existing.status_code == missing.status_code == 403
    assert existing.json() == missing.json()


async def test_an_unknown_user_is_a_404(api: AsyncTestClient, seeded: Seeded, make_token: TokenFactory) -> None:
    own = await api.get("/api/calendar/ghost.json", headers=auth_header(make_token("ghost")))
    assert own.status_code == 404
    assert own.json()["code"] == "not_found"
    admin = await api.get("/api/calendar/ghost.json", headers=auth_header(make_token("admin", superuser=True)))
    assert admin.status_code == 404


async def test_above_the_event_limit_the_answer_is_413_with_the_contract_body(
    settings: Settings, seeded: Seeded
) -> None:
    limited = replace_settings(settings, max_events=1)
    async with AsyncTestClient(app=create_app(limited), base_url="https://testserver") as client:
        response = await client.get(f"/api/calendar/{seeded.owner}.json", headers=seeded.owner_headers)
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_much_events"
    assert body["nb_events"] == 2
    assert "1 events" in body["detail"]
    assert "etag" not in response.headers


async def test_exactly_at_the_limit_the_calendar_is_served(settings: Settings, seeded: Seeded) -> None:
    limited = replace_settings(settings, max_events=2)
    async with AsyncTestClient(app=create_app(limited), base_url="https://testserver") as client:
        response = await client.get(f"/api/calendar/{seeded.owner}.json", headers=seeded.owner_headers)
    assert response.status_code == 200
