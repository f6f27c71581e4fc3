"""Legacy customizations (docs/compatibility.md §3.1, §3.2) and the §11 holes they had."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from schedulesy.changes import Topic
from tests.fixtures.auth import TokenFactory, auth_header

DETAIL = "/legacy/customization/{}.json"
LIST = "/legacy/customization.json"


async def add_resources(pool: asyncpg.Pool, *ext_ids: str) -> None:
    await pool.executemany(
        "INSERT INTO schedulesy.resource (ext_id, category, name, fields) VALUES ($1, 'trainee', $2, '{}')",
        [(ext_id, f"Group {ext_id}") for ext_id in ext_ids],
    )


async def create(api: AsyncTestClient, make_token: TokenFactory, username: str, directory_id: str) -> dict:
    response = await api.post(
        LIST,
        json={"username": username, "directory_id": directory_id},
        headers=auth_header(make_token(username, directory_id=directory_id)),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def insert_row(pool: asyncpg.Pool, uid: str | None, directory_id: str | None, resources: str = "") -> int:
    """A w_edtperso row written by another tool, straight SQL."""
    return await pool.fetchval(
        """INSERT INTO public.w_edtperso (ressources, uds_directory_id, uid, date_creation, date_personnalisation)
           VALUES ($1, $2, $3, '2021-09-01 10:00', '2021-09-01 10:00') RETURNING id""",
        resources, directory_id, uid,
    )


async def row_count(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM public.w_edtperso")


# --- creation -------------------------------------------------------------------------------


async def test_creating_answers_the_contract_object_with_local_dates(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    body = await create(api, make_token, "jdupont", "12345678")
    assert set(body) == {
        "id", "configuration", "display_configuration", "resources", "directory_id", "rh_id",
        "creation_date", "customization_date", "username", "ignored_resources",
    }
    assert body["display_configuration"] == "" and body["rh_id"] == "" and body["ignored_resources"] == []
    created = datetime.fromisoformat(body["creation_date"])
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() in (3600, 7200)
    stored = await pool.fetchrow("SELECT date_creation, uid FROM public.w_edtperso WHERE id = $1", body["id"])
    assert stored["uid"] == "jdupont"
    assert stored["date_creation"] == created.replace(tzinfo=None)  # local wall-clock time in the column


async def test_creating_makes_the_default_access_named_after_the_user(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await create(api, make_token, "jdupont", "1")
    names = await pool.fetch("SELECT name FROM schedulesy.access WHERE username = 'jdupont'")
    assert [r["name"] for r in names] == ["jdupont"]


async def test_a_body_naming_someone_else_is_refused_and_nothing_is_written(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    response = await api.post(
        LIST, json={"username": "victim", "directory_id": "1"}, headers=auth_header(make_token("mallory"))
    )
    assert response.status_code == 403
    assert response.json()["field"] == "username"
    assert await row_count(pool) == 0


async def test_the_username_defaults_to_the_token_login(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    response = await api.post(LIST, json={}, headers=auth_header(make_token("jdupont", directory_id="7")))
    assert response.status_code == 201, response.text
    assert (response.json()["username"], response.json()["directory_id"]) == ("jdupont", "7")


async def test_a_directory_id_other_than_the_tokens_is_refused(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    response = await api.post(
        LIST,
        json={"username": "jdupont", "directory_id": "999"},
        headers=auth_header(make_token("jdupont", directory_id="42")),
    )
    assert response.status_code == 403
    assert response.json()["field"] == "directory_id"
    assert await row_count(pool) == 0


async def test_the_body_directory_id_is_used_when_the_token_has_none_even_as_a_number(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    response = await api.post(
        LIST, json={"username": "owner", "directory_id": 1}, headers=auth_header(make_token("owner"))
    )
    assert response.status_code == 201, response.text
    assert response.json()["directory_id"] == "1"


async def test_a_missing_directory_id_is_a_400_not_a_500(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    response = await api.post(LIST, json={"username": "owner"}, headers=auth_header(make_token("owner")))
    assert response.status_code == 400
    assert response.json()["field"] == "directory_id"
    assert await row_count(pool) == 0


async def test_a_superuser_may_create_a_customization_for_someone_else(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    response = await api.post(
        LIST,
        json={"username": "jdupont", "directory_id": "5"},
        headers=auth_header(make_token("admin", superuser=True, directory_id="1")),
    )
    assert response.status_code == 201, response.text
    assert (response.json()["username"], response.json()["directory_id"]) == ("jdupont", "5")


async def test_creating_twice_answers_409(api: AsyncTestClient, make_token: TokenFactory) -> None:
    await create(api, make_token, "jdupont", "1")
    response = await api.post(
        LIST, json={"username": "jdupont", "directory_id": "1"}, headers=auth_header(make_token("jdupont", directory_id="1"))
    )
    assert response.status_code == 409
    assert response.json()["detail"] == "Object already exists"


async def test_two_concurrent_creates_give_one_201_and_one_409(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = auth_header(make_token("jdupont", directory_id="1"))
    responses = await asyncio.gather(
        *(api.post(LIST, json={"username": "jdupont", "directory_id": "1"}, headers=headers) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert await row_count(pool) == 1
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access") == 1


async def test_a_configuration_sent_with_the_create_is_stored(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    response = await api.post(
        LIST,
        json={"username": "jdupont", "directory_id": "1", "configuration": {"theme": "pastel"}},
        headers=auth_header(make_token("jdupont")),
    )
    assert response.status_code == 201, response.text
    assert response.json()["configuration"] == {"theme": "pastel"}
    stored = await pool.fetchval("SELECT configuration FROM schedulesy.customization_config WHERE username = 'jdupont'")
    assert stored == {"theme": "pastel"}


async def test_a_create_reuses_nothing_left_by_a_deleted_customization_of_that_login(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await pool.execute(
        "INSERT INTO schedulesy.access (key, username, name) VALUES (gen_random_uuid(), 'jdupont', 'old phone')"
    )
    await pool.execute(
        "INSERT INTO schedulesy.customization_config (username, configuration) VALUES ('jdupont', '{\"a\": 1}')"
    )
    body = await create(api, make_token, "jdupont", "1")
    assert body["configuration"] is None
    names = await pool.fetch("SELECT name FROM schedulesy.access WHERE username = 'jdupont'")
    assert [r["name"] for r in names] == ["jdupont"]


async def test_a_username_longer_than_the_uid_column_cannot_create(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    response = await api.post(LIST, json={"directory_id": "1"}, headers=auth_header(make_token("x" * 33)))
    assert response.status_code == 400
    assert response.json()["field"] == "username" and response.json()["limit"] == 32
    assert await row_count(pool) == 0


async def test_a_superuser_cannot_create_for_what_is_not_a_username(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    admin = auth_header(make_token("admin", superuser=True))
    for username in ("", "  ", "a/b", "a\x01b"):
        response = await api.post(LIST, json={"username": username, "directory_id": "1"}, headers=admin)
        assert response.status_code == 400, username
        assert response.json()["field"] == "username"
    assert await row_count(pool) == 0


async def test_any_username_that_fits_the_uid_column_creates_its_customization(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    """One username rule everywhere (docs/compatibility.md §1.2): the token's login is the user's,
    e-mail logins included, as long as ADE's table can hold it."""
    body = await create(api, make_token, "jean.dupont@unistra.fr", "1")
    assert body["username"] == "jean.dupont@unistra.fr"


# --- login change (docs/compatibility.md §3.1 step 2, §11.16) -------------------------------------------------------


async def test_a_new_login_with_a_known_directory_id_takes_over_the_row_its_config_and_accesses(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, "1616")
    old = await create(api, make_token, "old_id", "1")
    await api.patch(
        DETAIL.format("old_id"), json={"resources": "1616", "configuration": {"theme": "pastel"}},
        headers=auth_header(make_token("old_id")),
    )
    await api.post("/api/customization/old_id/uuid.json", json={"name": "phone"}, headers=auth_header(make_token("old_id")))
    # Someone else's access that happens to be named like the old login must not move (docs/compatibility.md §11.16).
    await create(api, make_token, "neighbour", "2")
    await api.post("/api/customization/neighbour/uuid.json", json={"name": "old_id"}, headers=auth_header(make_token("neighbour")))

    response = await api.post(
        LIST, json={"username": "owner", "directory_id": "1"}, headers=auth_header(make_token("owner", directory_id="1"))
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["username"], body["resources"]) == (old["id"], "owner", "1616")
    assert body["configuration"] == {"theme": "pastel"}
    assert await pool.fetchval("SELECT count(*) FROM public.w_edtperso WHERE uid = 'old_id'") == 0
    moved = await pool.fetch("SELECT name FROM schedulesy.access WHERE username = 'owner' ORDER BY created_at")
    assert [r["name"] for r in moved] == ["owner", "phone"]
    neighbours = await pool.fetch("SELECT name FROM schedulesy.access WHERE username = 'neighbour' ORDER BY created_at")
    assert [r["name"] for r in neighbours] == ["neighbour", "old_id"]
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access WHERE username = 'old_id'") == 0
    again = await api.get(DETAIL.format("owner"), headers=auth_header(make_token("owner")))
    assert again.status_code == 200


async def test_a_login_change_of_a_row_written_by_sql_gives_the_new_login_a_default_access(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    row_id = await insert_row(pool, "old_id", "1")
    response = await api.post(LIST, json={"directory_id": "1"}, headers=auth_header(make_token("owner", directory_id="1")))
    assert response.status_code == 201, response.text
    assert response.json()["id"] == row_id
    names = await pool.fetch("SELECT name FROM schedulesy.access WHERE username = 'owner'")
    assert [r["name"] for r in names] == ["owner"]


async def test_a_directory_id_typed_in_the_body_cannot_take_over_a_strangers_customization(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    victim = await create(api, make_token, "victim", "1")
    response = await api.post(LIST, json={"directory_id": "1"}, headers=auth_header(make_token("mallory")))
    assert response.status_code == 409
    assert response.json()["field"] == "directory_id"
    assert await pool.fetchval("SELECT uid FROM public.w_edtperso WHERE id = $1", victim["id"]) == "victim"
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access WHERE username = 'mallory'") == 0


async def test_a_superuser_may_move_a_customization_to_a_new_login(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    old = await create(api, make_token, "old_id", "1")
    response = await api.post(
        LIST, json={"username": "new_id", "directory_id": "1"}, headers=auth_header(make_token("admin", superuser=True))
    )
    assert response.status_code == 201, response.text
    assert (response.json()["id"], response.json()["username"]) == (old["id"], "new_id")


# --- reading ----------------------------------------------------------------------------------


async def test_the_list_shows_only_the_callers_rows_and_everything_to_a_superuser(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    await create(api, make_token, "alice", "1")
    await create(api, make_token, "bob", "2")
    own = await api.get(LIST, headers=auth_header(make_token("alice")))
    assert [c["username"] for c in own.json()] == ["alice"]
    everything = await api.get(LIST, headers=auth_header(make_token("admin", superuser=True)))
    assert [c["username"] for c in everything.json()] == ["alice", "bob"]
    nobody = await api.get(LIST, headers=auth_header(make_token("carol")))
    assert nobody.status_code == 200 and nobody.json() == []


async def test_reading_a_row_inserted_by_sql_works_with_a_null_configuration(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    row_id = await insert_row(pool, "jdupont", "42", resources="1616")
    await pool.execute(
        "INSERT INTO public.w_edtperso (uid) VALUES ('sparse')"  # every optional column NULL
    )
    response = await api.get(DETAIL.format("jdupont"), headers=auth_header(make_token("jdupont")))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == row_id and body["configuration"] is None and body["resources"] == "1616"
    assert body["creation_date"] == "2021-09-01T10:00:00+02:00"
    assert "ignored_resources" not in body
    sparse = await api.get(DETAIL.format("sparse"), headers=auth_header(make_token("sparse")))
    assert sparse.status_code == 200, sparse.text
    assert sparse.json()["directory_id"] is None and sparse.json()["creation_date"] is None


async def test_reading_has_no_side_effect(api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory) -> None:
    await insert_row(pool, "jdupont", "42")
    await api.get(DETAIL.format("jdupont"), headers=auth_header(make_token("jdupont")))
    await api.get(LIST, headers=auth_header(make_token("jdupont")))
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access") == 0


async def test_several_rows_with_one_uid_answer_the_latest_instead_of_a_500(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await insert_row(pool, "jdupont", "1", resources="1")
    newer = await pool.fetchval(
        """INSERT INTO public.w_edtperso (ressources, uds_directory_id, uid, date_personnalisation)
           VALUES ('2', '2', 'jdupont', '2023-01-01 00:00') RETURNING id"""
    )
    response = await api.get(DETAIL.format("jdupont"), headers=auth_header(make_token("jdupont")))
    assert response.status_code == 200
    assert response.json()["id"] == newer
    patched = await api.patch(DETAIL.format("jdupont"), json={"rh_id": "X"}, headers=auth_header(make_token("jdupont")))
    assert patched.status_code == 200 and patched.json()["id"] == newer


async def test_usernames_with_dots_are_found(api: AsyncTestClient, make_token: TokenFactory) -> None:
    await create(api, make_token, "jean.dupont", "1")
    response = await api.get("/legacy/customization/jean.dupont.json", headers=auth_header(make_token("jean.dupont")))
    assert response.status_code == 200
    assert response.json()["username"] == "jean.dupont"


async def test_a_path_without_the_json_suffix_is_a_404(api: AsyncTestClient, make_token: TokenFactory) -> None:
    await create(api, make_token, "jdupont", "1")
    response = await api.get("/legacy/customization/jdupont", headers=auth_header(make_token("jdupont")))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_another_users_customization_is_403_whether_or_not_it_exists(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    await create(api, make_token, "alice", "1")
    mallory = auth_header(make_token("mallory"))
    for name in ("alice", "nobody"):
        for method in ("GET", "PATCH", "PUT", "DELETE"):
            response = await api.request(method, DETAIL.format(name), json={"resources": ""}, headers=mallory)
            assert response.status_code == 403, (method, name, response.text)


async def test_a_superuser_reads_and_edits_any_customization(api: AsyncTestClient, make_token: TokenFactory) -> None:
    await create(api, make_token, "alice", "1")
    admin = auth_header(make_token("admin", superuser=True))
    assert (await api.get(DETAIL.format("alice"), headers=admin)).status_code == 200
    patched = await api.patch(DETAIL.format("alice"), json={"rh_id": "H1"}, headers=admin)
    assert patched.status_code == 200 and patched.json()["rh_id"] == "H1"
    assert (await api.get(DETAIL.format("nobody"), headers=admin)).status_code == 404


# --- PATCH / PUT ------------------------------------------------------------------------------


async def test_resources_keep_the_request_order_without_duplicates_and_list_the_unknown_ids(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, "26908", "1616", "23390")
    await create(api, make_token, "jdupont", "1")
    response = await api.patch(
        DETAIL.format("jdupont"), json={"resources": "23390,28135,1616,23390,99"},
        headers=auth_header(make_token("jdupont")),
    )
    assert response.status_code == 200, response.text
    assert response.json()["resources"] == "23390,1616"
    assert response.json()["ignored_resources"] == ["28135", "99"]
    assert await pool.fetchval("SELECT ressources FROM public.w_edtperso") == "23390,1616"


async def test_an_empty_resources_string_clears_the_selection(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, "1616")
    await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    await api.patch(DETAIL.format("jdupont"), json={"resources": "1616"}, headers=headers)
    response = await api.patch(DETAIL.format("jdupont"), json={"resources": ""}, headers=headers)
    assert response.status_code == 200 and response.json()["resources"] == ""


async def test_malformed_resources_are_a_400_naming_the_bad_items_and_nothing_is_written(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, "1616")
    await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    before = await pool.fetchrow("SELECT * FROM public.w_edtperso")
    for bad, named in [
        ("1616,,2", ""), ("1616, 2", " 2"), ("1616,abc", "abc"), ("1616,", ""),
        ("1616;DROP TABLE public.w_edtperso", "1616;DROP TABLE public.w_edtperso"), ("١٢", "١٢"),
    ]:
        response = await api.patch(DETAIL.format("jdupont"), json={"resources": bad}, headers=headers)
        assert response.status_code == 400, bad
        assert response.json()["field"] == "resources"
        assert named in response.json()["invalid"]
    assert await pool.fetchrow("SELECT * FROM public.w_edtperso") == before


async def test_a_selection_longer_than_the_legacy_column_is_a_400_never_a_truncation(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    ids = [str(100000 + i) for i in range(60)]  # 60 × 7 − 1 = 419 characters
    await add_resources(pool, *ids)
    await create(api, make_token, "jdupont", "1")
    response = await api.patch(
        DETAIL.format("jdupont"), json={"resources": ",".join(ids)}, headers=auth_header(make_token("jdupont"))
    )
    assert response.status_code == 400
    assert "300" in response.json()["detail"]
    assert response.json()["length"] == 419
    assert await pool.fetchval("SELECT ressources FROM public.w_edtperso") == ""


async def test_unknown_ids_do_not_count_against_the_length_limit(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, "1616")
    await create(api, make_token, "jdupont", "1")
    unknown = ",".join(str(500000 + i) for i in range(100))
    response = await api.patch(
        DETAIL.format("jdupont"), json={"resources": f"1616,{unknown}"}, headers=auth_header(make_token("jdupont"))
    )
    assert response.status_code == 200
    assert response.json()["resources"] == "1616"
    assert len(response.json()["ignored_resources"]) == 100


async def test_the_configuration_is_replaced_whole_and_null_keeps_it(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    await api.patch(DETAIL.format("jdupont"), json={"configuration": {"theme": "pastel", "darkMode": True}}, headers=headers)
    replaced = await api.patch(DETAIL.format("jdupont"), json={"configuration": {"displayMode": "week"}}, headers=headers)
    assert replaced.json()["configuration"] == {"displayMode": "week"}
    kept = await api.patch(DETAIL.format("jdupont"), json={"configuration": None}, headers=headers)
    assert kept.status_code == 200 and kept.json()["configuration"] == {"displayMode": "week"}


async def test_a_configuration_that_is_not_an_object_is_a_400(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    for value in ([1, 2], "dark", 3, True):
        response = await api.patch(DETAIL.format("jdupont"), json={"configuration": value}, headers=headers)
        assert response.status_code == 400, value
        assert response.json()["field"] == "configuration"
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.customization_config") == 0


async def test_an_oversized_deep_or_nul_bearing_configuration_is_a_400(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["a"] = {}
        node = node["a"]
    for value in ({"blob": "x" * 20000}, deep, {"note": "a\u0000b"}, {"a\u0000": 1}):
        response = await api.patch(DETAIL.format("jdupont"), json={"configuration": value}, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "configuration"
    hostile = b'{"configuration": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    response = await api.patch(
        DETAIL.format("jdupont"), content=hostile, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.customization_config") == 0


async def test_username_and_directory_id_are_read_only_after_creation(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    for change in ({"username": "victim"}, {"directory_id": "2"}, {"directory_id": 2}):
        response = await api.patch(DETAIL.format("jdupont"), json=change, headers=headers)
        assert response.status_code == 400, change
        assert response.json()["field"] == next(iter(change))
    assert await pool.fetchval("SELECT uid || '/' || uds_directory_id FROM public.w_edtperso") == "jdupont/1"
    same = await api.patch(DETAIL.format("jdupont"), json={"username": "jdupont", "directory_id": 1}, headers=headers)
    assert same.status_code == 200


async def test_put_needs_the_identity_fields_and_accepts_the_object_it_read(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    created = await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    incomplete = await api.put(DETAIL.format("jdupont"), json={"rh_id": "H"}, headers=headers)
    assert incomplete.status_code == 400
    whole = {**created, "rh_id": "H2", "display_configuration": "week"}
    response = await api.put(DETAIL.format("jdupont"), json=whole, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["rh_id"], response.json()["display_configuration"]) == ("H2", "week")


async def test_each_write_bumps_the_customization_date_and_logs_a_user_change(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await create(api, make_token, "jdupont", "1")
    await pool.execute("UPDATE public.w_edtperso SET date_personnalisation = '2020-01-01 00:00'")
    await pool.execute("DELETE FROM schedulesy.change")
    response = await api.patch(
        DETAIL.format("jdupont"), json={"configuration": {"theme": "pastel"}}, headers=auth_header(make_token("jdupont"))
    )
    assert not response.json()["customization_date"].startswith("2020-")  # bumped to now
    changes = await pool.fetch("SELECT DISTINCT topic, key FROM schedulesy.change")
    assert {(c["topic"], c["key"]) for c in changes} == {(Topic.USER, "jdupont")}


async def test_many_concurrent_patches_of_one_row_all_succeed(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await add_resources(pool, *(str(i) for i in range(1, 21)))
    await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    responses = await asyncio.gather(
        *(
            api.patch(
                DETAIL.format("jdupont"),
                json={"resources": str(i)} if i % 2 else {"configuration": {"n": i}},
                headers=headers,
            )
            for i in range(1, 21)
        )
    )
    assert [r.status_code for r in responses] == [200] * 20
    assert await row_count(pool) == 1


# --- bad input --------------------------------------------------------------------------------


async def test_bad_bodies_are_400_json_naming_the_problem_and_write_nothing(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    headers = auth_header(make_token("jdupont", directory_id="1"))
    json_headers = {**headers, "Content-Type": "application/json"}
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"content": b"{not json", "headers": json_headers}, None),
        ({"content": b"", "headers": json_headers}, None),
        ({"content": b"[]", "headers": json_headers}, None),
        ({"json": {"username": "jdupont", "directory_id": "1", "is_superuser": True}, "headers": headers}, "is_superuser"),
        ({"json": {"username": 5}, "headers": headers}, "username"),
        ({"json": {"resources": ["1616"]}, "headers": headers}, "resources"),
        ({"json": {"display_configuration": "x" * 61}, "headers": headers}, "display_configuration"),
        ({"json": {"rh_id": "a\nb"}, "headers": headers}, "rh_id"),
        ({"json": {"directory_id": "1" * 33}, "headers": auth_header(make_token("jdupont"))}, "directory_id"),
        ({"content": b'{"username": "\\ud800"}', "headers": json_headers}, None),
    ]
    for request, field in cases:
        response = await api.post(LIST, **request)
        assert response.status_code == 400, (request, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["code"] == "bad_request"
        if field:
            assert response.json()["field"] == field, response.json()
    # form-encoded (docs/compatibility.md §11.15): not JSON, whatever it holds
    form = await api.post(LIST, data={"username": "jdupont", "directory_id": "1"}, headers=headers)
    assert (form.status_code, form.json()["code"]) == (415, "unsupported_media_type")
    assert await row_count(pool) == 0


async def test_hostile_but_valid_text_is_stored_verbatim(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await create(api, make_token, "jdupont", "1")
    sneaky = "'); DROP TABLE public.w_edtperso; --"
    response = await api.patch(
        DETAIL.format("jdupont"), json={"display_configuration": sneaky}, headers=auth_header(make_token("jdupont"))
    )
    assert response.status_code == 200
    assert await pool.fetchval("SELECT configuration_affichage FROM public.w_edtperso") == sneaky


async def test_a_body_over_the_size_limit_is_a_413_json(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    response = await api.post(
        LIST,
        content=b'{"display_configuration": "' + b"x" * 70000 + b'"}',
        headers={**auth_header(make_token("jdupont", directory_id="1")), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert await row_count(pool) == 0


async def test_unsupported_methods_answer_405_json(api: AsyncTestClient, make_token: TokenFactory) -> None:
    headers = auth_header(make_token("jdupont"))
    for method, path in (("POST", DETAIL.format("jdupont")), ("DELETE", LIST), ("PATCH", LIST)):
        response = await api.request(method, path, headers=headers)
        assert response.status_code == 405, (method, path)
        assert response.json()["code"] == "method_not_allowed"


# --- DELETE -----------------------------------------------------------------------------------


async def test_deleting_removes_the_row_its_configuration_and_its_accesses(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await create(api, make_token, "jdupont", "1")
    headers = auth_header(make_token("jdupont"))
    await api.patch(DETAIL.format("jdupont"), json={"configuration": {"a": 1}}, headers=headers)
    response = await api.delete(DETAIL.format("jdupont"), headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert await row_count(pool) == 0
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access") == 0
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.customization_config") == 0
    assert (await api.delete(DETAIL.format("jdupont"), headers=headers)).status_code == 404
    assert (await api.get(DETAIL.format("jdupont"), headers=headers)).status_code == 404
