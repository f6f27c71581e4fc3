"""The front end's write calls (docs/compatibility.md §7.1), in the order the SPA makes them."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from tests.fixtures.auth import TokenFactory, auth_header


async def add_resources(pool: asyncpg.Pool, *ext_ids: str) -> None:
    await pool.executemany(
        "INSERT INTO schedulesy.resource (ext_id, category, name, fields) VALUES ($1, 'trainee', $2, '{}')",
        [(ext_id, f"Group {ext_id}") for ext_id in ext_ids],
    )


async def test_the_front_end_first_visit_sequence_works(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, "1616", "23390")
    headers = auth_header(make_token("jdupont", directory_id="12345678"))

    missing = await api.get("/legacy/customization/jdupont.json", headers=headers)
    assert missing.status_code == 404

    created = await api.post(
        "/legacy/customization.json", json={"username": "jdupont", "directory_id": "12345678"}, headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"]
    assert body["username"] == "jdupont"
    assert body["directory_id"] == "12345678"
    assert body["configuration"] is None
    assert body["resources"] == ""

    selected = await api.patch(
        "/legacy/customization/jdupont.json", json={"resources": "23390,1616"}, headers=headers
    )
    assert selected.status_code == 200, selected.text
    assert selected.json()["resources"] == "23390,1616"

    settings = {"theme": "pastel", "displayMode": "week", "weekdays": [1, 2, 3, 4, 5], "darkMode": False}
    configured = await api.patch(
        "/legacy/customization/jdupont.json/", json={"configuration": settings}, headers=headers
    )
    assert configured.status_code == 200, configured.text
    assert configured.json()["configuration"] == settings
    assert configured.json()["resources"] == "23390,1616"

    keys = await api.get("/api/customization/jdupont/uuid.json", headers=headers)
    assert keys.status_code == 200, keys.text
    assert keys.json()[0]["name"] == "jdupont"
    assert len(keys.json()[0]["key"]) == 36

    again = await api.get("/legacy/customization/jdupont.json", headers=headers)
    assert again.json() == {k: v for k, v in configured.json().items() if k != "ignored_resources"}
