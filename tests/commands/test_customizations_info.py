"""``GET /api/info/{username}.json`` (docs/compatibility.md §3.9) without the original's 500s (§11.19)."""

from __future__ import annotations

import asyncpg
from litestar.testing import AsyncTestClient

from tests.fixtures.auth import TokenFactory, auth_header

GENEALOGY = (
    '{"genealogy": [{"id": "classroom", "name": "classroom", "code": ""},'
    ' {"id": "30622", "name": "COL  -SITE COLMAR", "code": ""},'
    ' {"id": "1111", "name": "ADDITIONAL BRANCH", "code": ""}]}'
)


async def seed(pool: asyncpg.Pool) -> None:
    await pool.execute(
        f"""INSERT INTO schedulesy.resource (ext_id, category, name, fields) VALUES
            ('1616', 'classroom', 'BCD Media', '{GENEALOGY}'),
            ('classroom', 'classroom', 'classroom', '{{"tag": "category"}}')"""
    )
    await pool.execute(
        """INSERT INTO schedulesy.event (event_id, activity_id, repetition, session, name, starts_at, ends_at,
                                         date, start_hour, end_hour, duration, content_hash)
           VALUES (1, 1, 0, 0, 'A', now(), now(), '01/01/2024', '08:00', '09:00', 4, 'h'),
                  (2, 2, 0, 0, 'B', now(), now(), '01/01/2024', '09:00', '10:00', 4, 'h')"""
    )
    await pool.execute(
        "INSERT INTO schedulesy.timetable (resource_ext_id, event_id) VALUES ('1616', 1), ('1616', 2), ('classroom', 2)"
    )
    await pool.execute(
        """INSERT INTO public.w_edtperso (id, uid, uds_directory_id, ressources)
           VALUES (4242, 'no_auth', '42', '1616,classroom,777')"""
    )


async def test_a_superuser_gets_the_full_payload_even_with_odd_resources(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await seed(pool)
    response = await api.get("/api/info/no_auth.json", headers=auth_header(make_token("admin", superuser=True)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"id", "customization_id", "directory_id", "username", "configuration", "nb_events", "ade", "resources"}
    assert (body["directory_id"], body["username"], body["customization_id"]) == ("42", "no_auth", 4242)
    assert body["nb_events"] == 2
    assert body["ade"]["resources"] == "1616,classroom,777" and "configuration" not in body["ade"]
    assert body["resources"] == [
        {"id": "1616", "name": "BCD Media", "path": "classroom - COL  -SITE COLMAR - ADDITIONAL BRANCH"},
        {"id": "classroom", "name": "classroom", "path": "classroom"},
    ]
    assert body["unknown_resources"] == ["777"]


async def test_info_is_refused_to_everyone_but_superusers(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory
) -> None:
    await seed(pool)
    assert (await api.get("/api/info/no_auth.json")).status_code == 403
    own = await api.get("/api/info/no_auth.json", headers=auth_header(make_token("no_auth")))
    assert own.status_code == 403


async def test_info_about_an_unknown_user_is_a_404(api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory) -> None:
    response = await api.get("/api/info/ghost.json", headers=auth_header(make_token("admin", superuser=True)))
    assert response.status_code == 404
