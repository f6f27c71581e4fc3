"""The front end's whole call sequence (docs/compatibility.md §7.1) on data synced from the ADE simulator,
projected into Redis by the real projector worker, read through the real API.

ADE (simulator, HTTP) → sync → Postgres → change log → projector → Redis → API → "browser".
No read waits for the projector: every read follows the write before it at once (read-your-writes).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import asyncpg
import icalendar
import pytest
from litestar.testing import AsyncTestClient

from commands.ade_sync.cycle import run_cycle
from projections.worker import Projector
from schedulesy.ade.client import AdeClient
from schedulesy.ade.retry import RetryPolicy
from schedulesy.services import Services
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.projector import FAST, stop_task
from tests.fixtures.waiting import GUARD_SECONDS

API = "https://testserver/api"
SPA_ID = re.compile(r"(\d+)\.json")
CATEGORIES = ("trainee", "instructor", "classroom", "category5")


@pytest.fixture
async def synced(services: Services, ade: AdeSimulatorHandle) -> None:
    async with AdeClient(ade.url, ade.login, ade.password, ade.project_id, connect_timeout=2, read_timeout=10,
                         retry=RetryPolicy(retries=2, base_delay=0.01, max_delay=0.05)) as client:
        report = await run_cycle(services, client=client, full=True)
    assert report.status == "ok", report.errors


@pytest.fixture
async def worker(services: Services, synced: None) -> AsyncIterator[Projector]:
    projector = Projector(services, **FAST)
    task = asyncio.create_task(projector.run())
    await asyncio.wait_for(projector.leading.wait(), GUARD_SECONDS)
    yield projector
    await stop_task(task)


def path_of(url: str) -> str:
    assert url.startswith(API + "/"), url
    return url[len("https://testserver"):]


async def find_selectable(api: AsyncTestClient, headers: dict[str, str], category: str, wanted: int) -> list[str]:
    """Walk a tree the way the SPA does (lazy expansion through the child URLs) to tickable ids."""
    root = await api.get(f"/api/resource/{category}.json", headers=headers)
    assert root.status_code == 200
    assert root.json()["category"] == category
    queue = [child for child in root.json()["children"] if child["has_children"] or child["selectable"]]
    found: list[str] = []
    while queue and len(found) < wanted:
        child = queue.pop(0)
        match = SPA_ID.search(child["id"])
        assert match is not None and child["id"] == f"{API}/resource/{match.group(1)}.json/"
        if child["selectable"]:
            found.append(match.group(1))
        if child["has_children"]:
            node = await api.get(path_of(child["id"]), headers=headers)
            assert node.status_code == 200
            assert f"{API}/resource/{node.json()['id']}.json/" == child["id"]  # how the SPA attaches children
            queue.extend(c for c in node.json().get("children", []) if c["has_children"] or c["selectable"])
    return found


async def test_the_front_ends_call_sequence_works_end_to_end(
    api: AsyncTestClient, pool: asyncpg.Pool, worker: Projector, make_token: TokenFactory
) -> None:
    user = auth_header(make_token("etudiant", directory_id="87654321"))

    # App load: no customization yet → the SPA creates it.
    assert (await api.get("/legacy/customization/etudiant.json", headers=user)).status_code == 404
    created = await api.post("/legacy/customization.json",
                             json={"username": "etudiant", "directory_id": "87654321"}, headers=user)
    assert created.status_code == 201, created.text

    # Config page: the access key.
    keys = await api.get("/api/customization/etudiant/uuid.json", headers=user)
    assert keys.status_code == 200, keys.text
    key = keys.json()[0]["key"]

    # Schedule page before any selection: an events array, empty (read right after the creation).
    empty = await api.get("/api/calendar/etudiant.json", headers=user)
    assert empty.status_code == 200, empty.text
    assert empty.json()["events"]["events"] == []

    # Resource selector: the four roots, then lazy expansion to selectable groups.
    for category in CATEGORIES:
        root = await api.get(f"/api/resource/{category}.json", headers=user)
        assert root.status_code == 200, category
    groups = await find_selectable(api, user, "trainee", 2)
    assert groups, "the simulator's trainee tree has selectable groups"

    # Ticking resources: ids from the URLs, joined with commas.
    selected = await api.patch("/legacy/customization/etudiant.json",
                               json={"resources": ",".join(groups)}, headers=user)
    assert selected.status_code == 200, selected.text

    # Listing the selected resources.
    for ext_id in groups:
        node = (await api.get(f"/api/resource/{ext_id}.json/", headers=user)).json()
        assert node["id"] == ext_id and node["name"]
        assert node["genealogy"][0]["id"] == "trainee"

    # The schedule page shows the selection's events at once (the PATCH answered after they were built).
    expected = await pool.fetchval(
        "SELECT count(DISTINCT event_id) FROM schedulesy.timetable WHERE resource_ext_id = ANY($1::text[])", groups)
    assert expected > 0
    calendar = (await api.get("/api/calendar/etudiant.json", headers=user)).json()["events"]
    assert len(calendar["events"]) == expected
    for event in calendar["events"]:
        assert isinstance(event["note"], str)
        for room in event.get("classrooms", []):
            assert "genealogy" in calendar["classrooms"][room] and "geolocation" in calendar["classrooms"][room]
        for teacher in event.get("instructors", []):
            assert calendar["instructors"][teacher]["name"]

    # The ICS link and its short form: the same feed, parseable, one VEVENT per event.
    feed = await api.get(f"/api/calendar/{key}/export")
    assert feed.status_code == 200
    assert feed.headers["content-disposition"] == 'attachment; filename="etudiant.ics"'
    assert (await api.get(f"/api/timetable/{key}.ics")).content == feed.content
    assert len(icalendar.Calendar.from_ical(feed.content).walk("VEVENT")) == expected
    assert (await api.get(f"/api/timetable/{key}/qrcode.svg")).status_code == 200

    # Public page of a room the student has lessons in: anonymous, without instructors.
    room = next(r for e in calendar["events"] for r in e.get("classrooms", []))
    public = await api.get(f"/api/events/{room}.json")
    assert public.status_code == 200
    assert public.json()["events"]["instructors"] == {}
    assert all("instructors" not in e for e in public.json()["events"]["events"])

    # Revoking the access key (a second one first: the last access cannot go).
    spare = await api.post("/api/customization/etudiant/uuid.json", json={"name": "phone"}, headers=user)
    assert spare.status_code == 201, spare.text
    revoked = await api.delete(f"/api/customization/etudiant/uuid/{key}.json", headers=user)
    assert revoked.status_code == 204, revoked.text

    assert (await api.get(f"/api/timetable/{key}.ics")).status_code == 404  # dead the moment the DELETE answered
    assert (await api.get(f"/api/timetable/{spare.json()['key']}.ics")).status_code == 200
