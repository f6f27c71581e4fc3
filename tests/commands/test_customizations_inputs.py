"""Inputs Postgres cannot hold (NUL, bad UTF-8) and ``ressources`` rows written by other tools."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.fixtures.auth import TokenFactory, auth_header

KEY = "0b6f6e0a-8a49-4d0c-9b5e-7d0f3f1f2a11"
IMPOSSIBLE_USERNAMES = ["%00", "jean%00dupont", "%01", "a" * 33, "%ED%A0%80"]


async def insert_row(pool: asyncpg.Pool, uid: str, resources: str) -> int:
    """A w_edtperso row written by another tool, straight SQL."""
    return await pool.fetchval(
        """INSERT INTO public.w_edtperso (ressources, uds_directory_id, uid, date_creation, date_personnalisation)
           VALUES ($1, $2, $2, '2021-09-01 10:00', '2021-09-01 10:00') RETURNING id""",
        resources, uid,
    )


async def add_resources(pool: asyncpg.Pool, *ext_ids: str) -> None:
    await pool.executemany(
        "INSERT INTO schedulesy.resource (ext_id, category, name, fields) VALUES ($1, 'trainee', $2, '{}')",
        [(ext_id, f"Group {ext_id}") for ext_id in ext_ids],
    )


# --- path usernames no w_edtperso.uid can be ---------------------------------------------------


@pytest.mark.parametrize("username", IMPOSSIBLE_USERNAMES)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/legacy/customization/{}.json"),
        ("PATCH", "/legacy/customization/{}.json"),
        ("PUT", "/legacy/customization/{}.json"),
        ("DELETE", "/legacy/customization/{}.json"),
        ("GET", "/api/info/{}.json"),
        ("GET", "/api/customization/{}/uuid.json"),
        ("POST", "/api/customization/{}/uuid.json"),
        ("DELETE", "/api/customization/{}/uuid/" + KEY + ".json"),
    ],
)
async def test_a_superuser_naming_an_impossible_login_gets_a_json_404(
    api: AsyncTestClient, make_token: TokenFactory, method: str, path: str, username: str
) -> None:
    body = {"name": "phone"} if "uuid.json" in path else {"username": "x", "directory_id": "1"}
    response = await api.request(
        method, path.format(username), json=body if method in ("POST", "PUT", "PATCH") else None,
        headers=auth_header(make_token("admin", superuser=True)),
    )
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/legacy/customization/%00.json"),
        ("DELETE", "/legacy/customization/%00.json"),
        ("GET", "/api/info/%00.json"),
        ("GET", "/api/customization/%00/uuid.json"),
        ("DELETE", "/api/customization/%00/uuid/" + KEY + ".json"),
    ],
)
async def test_a_plain_user_naming_an_impossible_login_is_refused_before_anything_is_looked_up(
    api: AsyncTestClient, make_token: TokenFactory, method: str, path: str
) -> None:
    response = await api.request(method, path, headers=auth_header(make_token("jdupont")))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"


# --- bodies that are not UTF-8 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/customization/jdupont/uuid.json"),
        ("POST", "/legacy/customization.json"),
        ("PATCH", "/legacy/customization/jdupont.json"),
        ("PUT", "/legacy/customization/jdupont.json"),
    ],
)
async def test_a_body_that_is_not_utf8_is_a_400_and_writes_nothing(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory, method: str, path: str
) -> None:
    await insert_row(pool, "jdupont", "")
    before = await pool.fetch("SELECT * FROM public.w_edtperso")
    field = "name" if "uuid" in path else "rh_id"
    response = await api.request(
        method, path, content=b'{"%s":"\xff\xfe"}' % field.encode(),
        headers={**auth_header(make_token("jdupont", directory_id="jdupont")), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("Malformed JSON body")
    assert await pool.fetch("SELECT * FROM public.w_edtperso") == before
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access") == 0


# --- one reading of the ressources column ---------------------------------------------------


async def test_a_selection_written_with_spaces_reads_trimmed_in_the_row_order(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, "4", "35")
    await insert_row(pool, "jdupont", "35, 4 ,,999, 35")
    headers = auth_header(make_token("jdupont"))
    single = await api.get("/legacy/customization/jdupont.json", headers=headers)
    assert single.status_code == 200, single.text
    assert single.json()["resources"] == "35,4,999"
    listed = await api.get("/legacy/customization.json", headers=headers)
    assert [item["resources"] for item in listed.json()] == ["35,4,999"]


async def test_the_info_endpoint_knows_the_ids_of_a_selection_written_with_spaces(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, "4", "35")
    await insert_row(pool, "jdupont", "4, 35 ,999")
    response = await api.get("/api/info/jdupont.json", headers=auth_header(make_token("admin", superuser=True)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["resources"]] == ["4", "35"]
    assert body["unknown_resources"] == ["999"]
    assert body["ade"]["resources"] == "4,35,999"
