"""The ADE sync against the simulator over real HTTP, on a real Postgres.

Shared fixtures of the ``test_ade_sync*`` modules live here (they import them by name).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest

from commands.ade_sync.cycle import run_cycle
from commands.ade_sync.report import SyncReport
from schedulesy.ade.client import AdeClient
from schedulesy.ade.retry import RetryPolicy
from schedulesy.services import Services
from tests.fixtures.ade import AdeSimulatorHandle


def client_for(handle: AdeSimulatorHandle) -> AdeClient:
    """A client with short timeouts and backoff, so fault tests stay quick."""
    return AdeClient(handle.url, handle.login, handle.password, handle.project_id,
                     connect_timeout=2, read_timeout=5, retry=RetryPolicy(retries=2, base_delay=0.01, max_delay=0.05))


@pytest.fixture
async def ade_client(ade: AdeSimulatorHandle) -> AsyncIterator[AdeClient]:
    async with client_for(ade) as client:
        yield client


class Sync:
    """Run cycles the way the poller does, with the clock under the test's control."""

    def __init__(self, services: Services, client: AdeClient) -> None:
        self.services = services
        self.client = client

    async def __call__(self, *, full: bool = False, force: bool = False, **kwargs: Any) -> SyncReport:
        return await run_cycle(self.services, client=self.client, full=full, force=force, **kwargs)


@pytest.fixture
def sync(services: Services, ade_client: AdeClient) -> Sync:
    return Sync(services, ade_client)


async def changes(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    return [(r["topic"], r["key"]) for r in await pool.fetch("SELECT topic, key FROM schedulesy.change ORDER BY id")]


async def clear_changes(pool: asyncpg.Pool) -> None:
    await pool.execute("DELETE FROM schedulesy.change")


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    out = {}
    for table in ("resource", "event", "event_resource", "timetable"):
        out[table] = await pool.fetchval(f"SELECT count(*) FROM schedulesy.{table}")
    return out


# ---------------------------------------------------------------------------------------------


async def test_first_sync_of_tiny_mirrors_every_tree_and_every_event(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    report = await sync()

    assert report.status == "ok", report.errors
    assert report.mode == "full"
    summary = ade.summary()
    university = ade.app.university
    mirrored = {c: sum(1 for r in university.resources if r.category == c)
                for c in ("classroom", "instructor", "trainee", "category5")}
    for category, expected in mirrored.items():
        stored = await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE category = $1 AND ext_id <> $1",
                                     category)
        assert stored == expected, (category, summary)
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event") == len(university.events)
    assert report.events is not None and report.events.new == len(university.events)
    booked = sum(len(e.resources) for e in university.events)
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.event_resource") == booked
    # Every mirrored part says when it last succeeded.
    names = {r["name"] for r in await pool.fetch(
        "SELECT name FROM schedulesy.sync_state WHERE last_success_at IS NOT NULL")}
    assert {"cycle", "tree:classroom", "tree:trainee", "events:full", "events:near"} <= names
    assert msgspec.json.decode(msgspec.json.encode(report))["status"] == "ok"


async def test_a_cycle_that_finds_nothing_new_writes_nothing(sync: Sync, pool: asyncpg.Pool) -> None:
    await sync()
    await clear_changes(pool)

    report = await sync()

    assert report.status == "ok"
    assert report.mode == "near"
    assert await changes(pool) == []
    assert report.events is not None and report.events.details_fetched == 0
    assert all(c.status == "unchanged" for c in report.categories)
    assert report.requests <= 10


async def test_a_full_reconciliation_of_unchanged_data_writes_nothing(sync: Sync, pool: asyncpg.Pool) -> None:
    await sync()
    await clear_changes(pool)

    report = await sync(full=True)

    assert report.status == "ok", report.errors
    assert await changes(pool) == []
    assert report.events is not None and report.events.audited > 0
    assert report.events.audit_mismatches == 0


async def test_the_timetable_of_a_group_includes_the_events_of_its_ancestors(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool, ade_client: AdeClient) -> None:
    await sync()
    sample = ade.summary()["samples"]
    for key in ("trainee_leaf", "trainee_td", "trainee_year", "trainee_component", "instructor", "classroom",
                "busiest_trainee"):
        ext_id = str(sample[key])
        theirs = {e.id for e in (await ade_client.get_events(resources=[ext_id], detail=1)).events}
        ours = {r["event_id"] for r in await pool.fetch(
            "SELECT event_id FROM schedulesy.timetable WHERE resource_ext_id = $1", ext_id)}
        assert ours == theirs, key


async def test_node_documents_follow_the_contract(sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    root = await pool.fetchrow("SELECT * FROM schedulesy.resource WHERE ext_id = 'classroom'")
    assert root["parent_ext_id"] is None
    fields = root["fields"]
    assert {k: fields[k] for k in ("tag", "category", "id", "name")} == {
        "tag": "category", "category": "classroom", "id": "classroom", "name": "classroom"}
    assert set(fields) == {"tag", "category", "id", "name", "children"}
    first = fields["children"][0]
    assert set(first) == {"id", "name", "code", "has_children"}

    room_id = str(ade.summary()["samples"]["classroom"])
    room = await pool.fetchrow("SELECT * FROM schedulesy.resource WHERE ext_id = $1", room_id)
    doc = room["fields"]
    assert doc["tag"] == "leaf" and doc["id"] == room_id and doc["category"] == "classroom"
    assert doc["parent"] == room["parent_ext_id"]
    assert doc["genealogy"][0] == {"id": "classroom", "name": "classroom", "code": ""}
    assert doc["genealogy"][-1]["id"] == doc["parent"]
    assert "children" not in doc
    # Every XML attribute is kept, as a string.
    assert {"path", "isGroup", "size", "lastUpdate", "codeX", "fatherId"} <= set(doc)
    assert all(isinstance(v, str) for k, v in doc.items() if k not in ("genealogy", "children"))
    parent = await pool.fetchrow("SELECT fields FROM schedulesy.resource WHERE ext_id = $1", doc["parent"])
    refs = {c["id"]: c for c in parent["fields"]["children"]}
    assert refs[room_id] == {"id": room_id, "name": room["name"], "code": room["code"], "has_children": False}
