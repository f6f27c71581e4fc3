"""Outages: Redis unreachable → answers from Postgres; ADE unreachable → the last good data."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from commands.ade_sync.cycle import run_cycle
from projections.readmodels import ReadModels
from schedulesy.ade.client import AdeClient
from schedulesy.ade.retry import RetryPolicy
from schedulesy.app import create_app
from schedulesy.services import Services
from schedulesy.settings import Settings
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.infra import replace_settings
from tests.fixtures.mirror import ROOM, insert_access, insert_user
from tests.fixtures.seeded import Seeded

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_ADE = "http://127.0.0.1:1/jsp/webapi"


def read_paths(seeded: Seeded) -> list[tuple[str, dict[str, str]]]:
    auth = seeded.owner_headers
    return [
        ("/api/resource/classroom.json", auth),
        (f"/api/resource/{ROOM}.json/", auth),
        (f"/api/events/{ROOM}.json", {}),
        (f"/api/events/{ROOM}.json", auth),
        (f"/api/calendar/{seeded.owner}.json", auth),
        (f"/api/calendar/{seeded.key}/export", {}),
        (f"/api/timetable/{seeded.key}.json", {}),
        (f"/api/timetable/{seeded.key}.ics", {}),
        (f"/api/timetable/{seeded.key}/qrcode.svg", {}),
        ("/api/instructor.json?email=gerard.toto@example.edu", auth),
    ]


async def test_with_redis_unreachable_every_read_endpoint_answers_from_postgres(
    api: AsyncTestClient, settings: Settings, seeded: Seeded
) -> None:
    healthy = {}
    for path, headers in read_paths(seeded):
        response = await api.get(path, headers=headers)
        assert response.status_code == 200, path
        healthy[(path, tuple(headers))] = response
    broken = replace_settings(settings, redis_url=DEAD_REDIS)
    async with AsyncTestClient(app=create_app(broken), base_url="https://testserver") as client:
        for path, headers in read_paths(seeded):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, path
            expected = healthy[(path, tuple(headers))]
            assert response.content == expected.content, path
            assert response.headers["etag"] == expected.headers["etag"], path  # same bytes, same tag


async def test_with_redis_unreachable_errors_stay_errors(settings: Settings, seeded: Seeded) -> None:
    broken = replace_settings(settings, redis_url=DEAD_REDIS)
    async with AsyncTestClient(app=create_app(broken), base_url="https://testserver") as client:
        assert (await client.get("/api/resource/999999.json", headers=seeded.owner_headers)).status_code == 404
        assert (await client.get("/api/events/23390.json")).status_code == 403
        assert (await client.get("/api/timetable/00000000-0000-4000-8000-000000000000.ics")).status_code == 404


@pytest.fixture
async def synced(pool: asyncpg.Pool, services: Services, ade: AdeSimulatorHandle) -> str:
    """One real sync from the simulator; returns a trainee group that has events."""
    async with AdeClient(ade.url, ade.login, ade.password, ade.project_id,
                         connect_timeout=2, read_timeout=5,
                         retry=RetryPolicy(retries=1, base_delay=0.01, max_delay=0.05)) as client:
        report = await run_cycle(services, client=client, full=True)
    assert report.status == "ok", report.errors
    group = await pool.fetchval(
        """SELECT t.resource_ext_id FROM schedulesy.timetable t JOIN schedulesy.resource r
           ON r.ext_id = t.resource_ext_id WHERE r.category = 'trainee'
           GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""")
    assert group is not None
    return group


async def test_with_ade_unreachable_the_last_good_timetable_is_served(
    api: AsyncTestClient, pool: asyncpg.Pool, services: Services, synced: str
) -> None:
    await insert_user(pool, "student", synced)
    key = await insert_access(pool, "student")
    models = ReadModels(services)
    await models.rebuild_all()
    before_ics = await api.get(f"/api/timetable/{key}.ics")
    before_json = await api.get(f"/api/timetable/{key}.json")
    assert before_ics.status_code == before_json.status_code == 200
    assert before_ics.content.count(b"BEGIN:VEVENT") >= 1

    async with AdeClient(DEAD_ADE, "x", "y", 1, connect_timeout=0.5, read_timeout=0.5,
                         retry=RetryPolicy(retries=1, base_delay=0.01, max_delay=0.02)) as dead:
        report = await run_cycle(services, client=dead, full=True)
    assert report.status == "failed"
    changed: dict[str, set[str]] = {}
    for row in await pool.fetch("SELECT topic, key FROM schedulesy.change"):
        changed.setdefault(row["topic"], set()).add(row["key"])
    await models.apply(changed)  # whatever the failed cycle logged

    after_ics = await api.get(f"/api/timetable/{key}.ics")
    after_json = await api.get(f"/api/timetable/{key}.json")
    assert after_ics.status_code == after_json.status_code == 200
    assert after_ics.content == before_ics.content
    assert after_json.content == before_json.content
    again = await api.get(f"/api/timetable/{key}.ics", headers={"If-None-Match": before_ics.headers["etag"]})
    assert again.status_code == 304  # calendar apps keep their copy
