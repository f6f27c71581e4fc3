"""The ADE sync against the simulator over real HTTP, on a real Postgres (helpers in tests/fixtures/sync.py)."""

from __future__ import annotations

import asyncpg
import msgspec

from schedulesy.ade.client import AdeClient
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.sync import Sync, changes, clear_changes


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
