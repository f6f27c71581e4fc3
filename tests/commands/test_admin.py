"""Superuser maintenance commands: JSON in and out, 403 for everyone else (docs/compatibility.md §3.13, §11.7)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from schedulesy.app import create_app
from schedulesy.changes import CHANNEL, REBUILD_ALL, Topic
from schedulesy.locks import LockClass
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.infra import replace_settings
from tests.fixtures.waiting import eventually

ADMIN_PATHS = ("/api/admin/sync", "/api/admin/rebuild", "/api/admin/reconcile")


@pytest.fixture
def admin(make_token: TokenFactory) -> dict[str, str]:
    return auth_header(make_token("admin", superuser=True))


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_admin_commands_are_403_for_users_and_anonymous_callers(
    api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory, path: str
) -> None:
    await pool.execute("INSERT INTO public.w_edtperso (uid, uds_directory_id) VALUES ('legacy', '1')")
    for headers in ({}, auth_header(make_token("jdupont"))):
        response = await api.post(path, json={}, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access") == 0
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.change WHERE topic = $1", Topic.REBUILD) == 0


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_a_strangers_malformed_body_is_a_403_not_a_400(
    api: AsyncTestClient, make_token: TokenFactory, path: str
) -> None:
    headers = {**auth_header(make_token("jdupont")), "Content-Type": "application/json"}
    response = await api.post(path, content=b"{not json", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_reconcile_gives_sql_written_customizations_their_access_and_drops_orphans(
    api: AsyncTestClient, pool: asyncpg.Pool, admin: dict[str, str], make_token: TokenFactory
) -> None:
    created = await api.post(
        "/legacy/customization.json", json={}, headers=auth_header(make_token("kept", directory_id="1"))
    )
    assert created.status_code == 201
    await pool.execute(
        "INSERT INTO public.w_edtperso (uid, uds_directory_id) VALUES ('by_sql', '2'), ('by_sql_too', '3'), (NULL, '4')"
    )
    await pool.execute(
        """INSERT INTO schedulesy.access (key, username, name)
           VALUES (gen_random_uuid(), 'gone', 'gone'), (gen_random_uuid(), 'gone', 'phone')"""
    )
    await pool.execute(
        """INSERT INTO schedulesy.customization_config (username, configuration)
           VALUES ('gone', '{}'), ('also_gone', '{}')"""
    )
    kept_key = await pool.fetchval("SELECT key FROM schedulesy.access WHERE username = 'kept'")

    response = await api.post("/api/admin/reconcile", headers=admin)

    assert response.status_code == 200, response.text
    assert response.json() == {"Created": 2, "Deleted": 2, "Total": 4}
    rows = await pool.fetch("SELECT username, name, key FROM schedulesy.access ORDER BY username")
    assert [(r["username"], r["name"]) for r in rows] == [
        ("by_sql", "by_sql"), ("by_sql_too", "by_sql_too"), ("kept", "kept"),
    ]
    assert rows[2]["key"] == kept_key
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.customization_config") == 0
    again = await api.post("/api/admin/reconcile", json={}, headers=admin)
    assert again.json() == {"Created": 0, "Deleted": 0, "Total": 4}


async def test_rebuild_is_a_change_log_row_for_the_projector(
    api: AsyncTestClient, pool: asyncpg.Pool, admin: dict[str, str]
) -> None:
    response = await api.post("/api/admin/rebuild", headers=admin)
    assert response.status_code == 202, response.text
    body = response.json()
    row = await pool.fetchrow("SELECT id, topic, key FROM schedulesy.change WHERE id = $1", body["change_id"])
    assert (row["topic"], row["key"]) == (Topic.REBUILD, REBUILD_ALL)
    assert body["requested"] is True


async def test_rebuild_wakes_the_projector_with_a_notification(
    api: AsyncTestClient, pool: asyncpg.Pool, admin: dict[str, str], database_url: str
) -> None:
    listener = await asyncpg.connect(database_url)
    heard: list[str] = []
    await listener.add_listener(CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        await api.post("/api/admin/rebuild", headers=admin)
        await listener.execute("SELECT 1")  # let the notification arrive
    finally:
        await listener.close()
    assert Topic.REBUILD in heard


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_admin_bodies_with_unknown_fields_are_400(
    api: AsyncTestClient, admin: dict[str, str], path: str
) -> None:
    response = await api.post(path, json={"drop_everything": True}, headers=admin)
    assert response.status_code == 400
    assert response.json()["field"] == "drop_everything"


async def outcome(client: AsyncTestClient, href: str, admin: dict[str, str]) -> dict[str, Any]:
    """The run's outcome once it ended (polled as a caller would)."""
    path = href.removeprefix("http://127.0.0.1:8000")
    answers: list[dict[str, Any]] = []

    async def ended() -> bool:
        response = await client.get(path, headers=admin)
        assert response.status_code == 200, response.text
        answers.append(response.json())
        return answers[-1]["status"] not in ("queued", "running")

    await eventually(ended, "the admin sync run ended")
    return answers[-1]


async def test_sync_with_ade_unreachable_answers_202_at_once_and_its_outcome_says_failed(
    settings: Settings, pool: asyncpg.Pool, admin: dict[str, str]
) -> None:
    unreachable = replace_settings(settings, ade_url="http://127.0.0.1:9/jsp/webapi")
    async with AsyncTestClient(app=create_app(unreachable), base_url="https://testserver") as client:
        response = await client.post("/api/admin/sync", json={"force": True}, headers=admin)
        assert response.status_code == 202, response.text
        started = response.json()
        assert started["status"] == "queued" and started["force"] is True and started["requested_by"] == "admin"
        assert response.headers["location"] == started["href"]
        assert started["href"].endswith(f"/api/admin/sync/{started['id']}")
        ended = await outcome(client, started["href"], admin)
    assert ended["status"] == "failed" and ended["finished_at"]
    assert ended["report"]["status"] == "failed" and sum(ended["report"]["ade_requests"].values()) == 1  # one failed connection
    assert "cannot connect to ADE" in " ".join(ended["report"]["errors"])
    assert "password" not in str(ended)


async def test_sync_runs_one_cycle_against_ade_in_the_background_and_reports_it(
    settings: Settings, pool: asyncpg.Pool, admin: dict[str, str], make_token: TokenFactory,
    request: pytest.FixtureRequest
) -> None:
    ade = request.getfixturevalue("ade")
    simulated = replace_settings(
        settings, ade_url=ade.url, ade_login=ade.login, ade_password=ade.password, ade_project_id=ade.project_id
    )
    async with AsyncTestClient(app=create_app(simulated), base_url="https://testserver") as client:
        response = await client.post("/api/admin/sync", json={"force": True, "full": True}, headers=admin)
        assert response.status_code == 202, response.text
        ended = await outcome(client, response.json()["href"], admin)
        user = auth_header(make_token("someone"))
        assert (await client.get(response.headers["location"].removeprefix("http://127.0.0.1:8000"),
                                 headers=user)).status_code == 403
        missing = await client.get("/api/admin/sync/999999999", headers=admin)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert ended["status"] == "ok" and ended["full"] is True and ended["report"]["mode"] == "full"
    assert ended["started_at"] and ended["finished_at"]
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.resource") > 0


async def test_a_run_whose_process_was_killed_reads_as_cancelled_not_running_forever(
    api: AsyncTestClient, pool: asyncpg.Pool, admin: dict[str, str]
) -> None:
    # What a killed API process leaves: the row says running, and nobody holds the run's lock any more.
    run_id = await pool.fetchval("""INSERT INTO schedulesy.sync_run (requested_by, status, started_at)
                                    VALUES ('admin', 'running', now()) RETURNING id""")
    answer = await api.get(f"/api/admin/sync/{run_id}", headers=admin)
    assert answer.status_code == 200, answer.text
    ended = answer.json()
    assert ended["status"] == "cancelled" and ended["finished_at"]
    assert ended["error"] == "the process running this sync stopped before it ended"
    assert await pool.fetchval("SELECT status FROM schedulesy.sync_run WHERE id = $1", run_id) == "cancelled"


async def test_a_run_in_flight_in_another_process_keeps_reading_as_running(
    api: AsyncTestClient, pool: asyncpg.Pool, admin: dict[str, str]
) -> None:
    run_id = await pool.fetchval("""INSERT INTO schedulesy.sync_run (requested_by, status, started_at)
                                    VALUES ('admin', 'running', now()) RETURNING id""")
    async with pool.acquire() as other_process:  # holds the run's lock, as the process running it does
        await other_process.execute("SELECT pg_advisory_lock($1, hashtext($2))", LockClass.SYNC_RUN, str(run_id))
        try:
            answer = await api.get(f"/api/admin/sync/{run_id}", headers=admin)
        finally:
            await other_process.execute("SELECT pg_advisory_unlock($1, hashtext($2))", LockClass.SYNC_RUN,
                                        str(run_id))
    assert answer.status_code == 200 and answer.json()["status"] == "running", answer.text
    assert answer.json()["finished_at"] is None
