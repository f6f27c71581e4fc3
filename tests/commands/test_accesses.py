"""Direct accesses (docs/compatibility.md §3.6, §3.7): owner-only capability keys, server-generated."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import asyncpg
from litestar.testing import AsyncTestClient

from commands.accesses import MAX_ACCESSES_PER_USER
from schedulesy.changes import Topic
from tests.fixtures.auth import TokenFactory, auth_header

LIST = "/api/customization/{}/uuid.json"
ONE = "/api/customization/{}/uuid/{}.json"


async def customization(api: AsyncTestClient, make_token: TokenFactory, username: str) -> dict[str, str]:
    """Create ``username``'s customization; return that user's headers."""
    headers = auth_header(make_token(username, directory_id=f"dir-{username}"))
    response = await api.post("/legacy/customization.json", json={}, headers=headers)
    assert response.status_code == 201, response.text
    return headers


async def keys_of(pool: asyncpg.Pool, username: str) -> list[str]:
    rows = await pool.fetch("SELECT key FROM schedulesy.access WHERE username = $1 ORDER BY created_at", username)
    return [str(r["key"]) for r in rows]


async def test_the_list_is_ordered_by_creation_with_the_default_access_first(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    for name in ("zeta", "alpha", "access1"):
        assert (await api.post(LIST.format("owner"), json={"name": name}, headers=headers)).status_code == 201
    response = await api.get(LIST.format("owner"), headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert [a["name"] for a in body] == ["owner", "zeta", "alpha", "access1"]
    assert set(body[0]) == {"key", "creation_date", "name"}
    assert datetime.fromisoformat(body[0]["creation_date"]).utcoffset() is not None


async def test_creating_an_access_answers_201_with_a_fresh_uuid4_key(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    response = await api.post(LIST.format("owner"), json={"name": "testing"}, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "testing"
    assert uuid.UUID(body["key"]).version == 4
    assert body["key"] in await keys_of(pool, "owner")


async def test_a_client_supplied_key_is_refused(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    chosen = str(uuid.uuid4())
    response = await api.post(LIST.format("owner"), json={"name": "mine", "key": chosen}, headers=headers)
    assert response.status_code == 400
    assert response.json()["field"] == "key"
    assert len(await keys_of(pool, "owner")) == 1


async def test_a_duplicate_name_is_a_400_not_a_500(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    assert (await api.post(LIST.format("owner"), json={"name": "phone"}, headers=headers)).status_code == 201
    response = await api.post(LIST.format("owner"), json={"name": "phone"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["field"] == "name"
    default = await api.post(LIST.format("owner"), json={"name": "owner"}, headers=headers)
    assert default.status_code == 400
    assert len(await keys_of(pool, "owner")) == 2


async def test_bad_names_and_bodies_are_400_and_write_nothing(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 257}, {"name": "a\x00b"}, {"name": 3}, {}, {"label": "x"}):
        response = await api.post(LIST.format("owner"), json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
    form = await api.post(LIST.format("owner"), data={"name": "form"}, headers=headers)
    assert form.status_code == 415
    assert len(await keys_of(pool, "owner")) == 1
    longest = await api.post(LIST.format("owner"), json={"name": "é" * 256}, headers=headers)
    assert longest.status_code == 201


async def test_another_users_accesses_can_be_neither_listed_nor_created_nor_revoked(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await customization(api, make_token, "victim")
    await api.post(LIST.format("victim"), json={"name": "second"}, headers=auth_header(make_token("victim")))
    mallory = auth_header(make_token("mallory"))
    assert (await api.get(LIST.format("victim"), headers=mallory)).status_code == 403
    assert (await api.post(LIST.format("victim"), json={"name": "x"}, headers=mallory)).status_code == 403
    victim_keys = await keys_of(pool, "victim")
    assert (await api.delete(ONE.format("victim", victim_keys[1]), headers=mallory)).status_code == 403
    assert await keys_of(pool, "victim") == victim_keys
    # and the unknown-user case leaks nothing either
    assert (await api.get(LIST.format("nobody"), headers=mallory)).status_code == 403


async def test_anonymous_callers_get_403(api: AsyncTestClient, make_token: TokenFactory) -> None:
    await customization(api, make_token, "owner")
    assert (await api.get(LIST.format("owner"))).status_code == 403
    assert (await api.post(LIST.format("owner"), json={"name": "x"})).status_code == 403


async def test_a_superuser_manages_anyones_accesses(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await customization(api, make_token, "owner")
    admin = auth_header(make_token("admin", superuser=True))
    created = await api.post(LIST.format("owner"), json={"name": "from support"}, headers=admin)
    assert created.status_code == 201
    assert len((await api.get(LIST.format("owner"), headers=admin)).json()) == 2
    assert (await api.delete(ONE.format("owner", created.json()["key"]), headers=admin)).status_code == 204


async def test_a_user_without_customization_is_a_404(api: AsyncTestClient, make_token: TokenFactory) -> None:
    headers = auth_header(make_token("newcomer"))
    assert (await api.get(LIST.format("newcomer"), headers=headers)).status_code == 404
    assert (await api.post(LIST.format("newcomer"), json={"name": "x"}, headers=headers)).status_code == 404
    admin = auth_header(make_token("admin", superuser=True))
    assert (await api.get(LIST.format("nobody"), headers=admin)).status_code == 404


async def test_revoking_an_access_answers_204_and_logs_the_change(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    created = (await api.post(LIST.format("owner"), json={"name": "phone"}, headers=headers)).json()
    await pool.execute("DELETE FROM schedulesy.change")
    response = await api.delete(ONE.format("owner", created["key"]), headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert created["key"] not in await keys_of(pool, "owner")
    changes = await pool.fetch("SELECT topic, key FROM schedulesy.change")
    assert [(c["topic"], c["key"]) for c in changes] == [(Topic.ACCESS, created["key"])]


async def test_the_last_access_cannot_be_revoked(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    (only,) = await keys_of(pool, "owner")
    response = await api.delete(ONE.format("owner", only), headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "A customization must always have at least one access"
    assert await keys_of(pool, "owner") == [only]


async def test_two_concurrent_revocations_of_the_last_two_keys_leave_one(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    await api.post(LIST.format("owner"), json={"name": "phone"}, headers=headers)
    first, second = await keys_of(pool, "owner")
    responses = await asyncio.gather(
        api.delete(ONE.format("owner", first), headers=headers),
        api.delete(ONE.format("owner", second), headers=headers),
    )
    assert sorted(r.status_code for r in responses) == [204, 403]
    assert len(await keys_of(pool, "owner")) == 1


async def test_unknown_malformed_or_foreign_keys_are_404(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    await api.post(LIST.format("owner"), json={"name": "phone"}, headers=headers)
    await customization(api, make_token, "other")
    (foreign,) = await keys_of(pool, "other")
    for key in (str(uuid.uuid4()), "not-a-uuid", "'; DELETE FROM schedulesy.access; --", foreign):
        response = await api.delete(ONE.format("owner", key), headers=headers)
        assert response.status_code == 404, key
    assert (await api.delete(f"/api/customization/owner/uuid/{foreign}", headers=headers)).status_code == 404
    assert len(await keys_of(pool, "owner")) == 2 and await keys_of(pool, "other") == [foreign]


async def test_a_customization_holds_at_most_the_documented_number_of_accesses(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = await customization(api, make_token, "owner")
    await pool.executemany(
        "INSERT INTO schedulesy.access (key, username, name) VALUES (gen_random_uuid(), 'owner', $1)",
        [(f"device {i}",) for i in range(MAX_ACCESSES_PER_USER - 1)],
    )
    response = await api.post(LIST.format("owner"), json={"name": "one too many"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["limit"] == MAX_ACCESSES_PER_USER


async def test_a_customization_written_by_sql_gets_its_default_access_when_its_keys_are_listed(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await pool.execute("INSERT INTO public.w_edtperso (uid, uds_directory_id) VALUES ('legacy', '9')")
    headers = auth_header(make_token("legacy"))
    listed = await asyncio.gather(*(api.get(LIST.format("legacy"), headers=headers) for _ in range(3)))
    assert [r.status_code for r in listed] == [200] * 3
    assert {r.json()[0]["key"] for r in listed} == set(await keys_of(pool, "legacy"))
    assert [a["name"] for a in listed[0].json()] == ["legacy"]
