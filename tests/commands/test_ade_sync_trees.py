"""Resource changes in ADE reach the mirror: renamed, moved, deleted (selections cleaned), added,
re-used ids, and room geolocation from the buildings file."""

from __future__ import annotations

import asyncpg
import msgspec
import pytest

from commands.ade_sync.cycle import run_cycle
from commands.ade_sync.buildings import Buildings, geolocate, load_buildings, parse_buildings
from schedulesy.ade.client import AdeClient
from schedulesy.changes import Topic
from schedulesy.services import Services
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.infra import replace_settings
from tests.fixtures.sync import Sync, changes, clear_changes, client_for


async def resource(pool: asyncpg.Pool, ext_id: object) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM schedulesy.resource WHERE ext_id = $1", str(ext_id))


async def add_user(pool: asyncpg.Pool, uid: str, ressources: str) -> None:
    await pool.execute(
        "INSERT INTO public.w_edtperso (id, uid, ressources, uds_directory_id) VALUES "
        "((SELECT coalesce(max(id), 0) + 1 FROM public.w_edtperso), $1, $2, $1)", uid, ressources)


async def selection(pool: asyncpg.Pool, uid: str) -> str:
    return await pool.fetchval("SELECT ressources FROM public.w_edtperso WHERE uid = $1", uid)


async def test_a_renamed_resource_updates_its_node_its_parent_and_the_events_naming_it(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    instructor = ade.summary()["samples"]["instructor"]
    before = await resource(pool, instructor)
    await clear_changes(pool)

    ade.update_resource(instructor, name="DUPONT-L'ÉCUYER Zoé")
    report = await sync()

    instructors = next(c for c in report.categories if c.category == "instructor")
    assert instructors.status == "modified" and instructors.updated >= 1 and instructors.deleted == 0
    after = await resource(pool, instructor)
    assert after["name"] == "DUPONT-L'ÉCUYER Zoé"
    assert after["fields"]["name"] == "DUPONT-L'ÉCUYER Zoé"
    parent = await resource(pool, before["parent_ext_id"])
    assert {"id": str(instructor), "name": "DUPONT-L'ÉCUYER Zoé", "code": after["code"],
            "has_children": False} in parent["fields"]["children"]
    names = {r["name"] for r in await pool.fetch(
        "SELECT DISTINCT name FROM schedulesy.event_resource WHERE resource_ext_id = $1", str(instructor))}
    assert names == {"DUPONT-L'ÉCUYER Zoé"}
    logged = await changes(pool)
    assert (Topic.RESOURCE, str(instructor)) in logged and (Topic.RESOURCE, before["parent_ext_id"]) in logged
    # Other trees did not change, so nothing else was written.
    assert {k for t, k in logged if t == Topic.RESOURCE} == {str(instructor), before["parent_ext_id"]}


async def test_a_deleted_resource_goes_with_its_descendants_and_leaves_selections_clean(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    samples = ade.summary()["samples"]
    td, leaf, other = samples["trainee_td"], samples["trainee_leaf"], samples["instructor"]
    await add_user(pool, "alice", f"{other},{td},{leaf},12345")
    await add_user(pool, "bob", f"{leaf}")
    await add_user(pool, "carol", f"{other}")
    await add_user(pool, "erin", f"{other}, {td}")  # written by another tool, with a space

    deleted = ade.delete_resource(td)["deleted"]
    report = await sync()

    assert report.status == "ok", report.errors
    for ext_id in deleted:
        assert await resource(pool, ext_id) is None
        assert await pool.fetchval(
            "SELECT count(*) FROM schedulesy.timetable WHERE resource_ext_id = $1", str(ext_id)) == 0
    # Legacy format kept: comma-separated, no spaces, the other ids in their order.
    assert await selection(pool, "alice") == f"{other},12345"
    assert await selection(pool, "bob") == ""
    assert await selection(pool, "carol") == f"{other}"
    assert await selection(pool, "erin") == f"{other}"
    trainees = next(c for c in report.categories if c.category == "trainee")
    assert trainees.deleted == len(deleted) and trainees.selections_cleaned == 3
    parent = await resource(pool, ade.summary()["samples"]["trainee_year"])
    assert str(td) not in {c["id"] for c in parent["fields"].get("children", [])}
    # The events that booked it lost the booking (ADE stamped them).
    # The events that booked it, wherever they are in the year, were re-read: they lost the booking.
    assert report.mode == "near"
    assert await pool.fetchval(
        "SELECT count(*) FROM schedulesy.event_resource WHERE resource_ext_id = ANY($1::text[])",
        [str(d) for d in deleted]) == 0


async def test_an_added_resource_appears_with_the_timetable_of_its_ancestors(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool, ade_client: AdeClient) -> None:
    await sync()
    td = ade.summary()["samples"]["trainee_td"]

    added = ade.add_resource(category="trainee", name="TP 9 — groupe d'été", parent_id=td, code="TP9")
    await sync()

    row = await resource(pool, added["id"])
    assert row["category"] == "trainee" and row["parent_ext_id"] == str(td)
    assert row["fields"]["tag"] == "leaf" and row["fields"]["genealogy"][-1]["id"] == str(td)
    parent = await resource(pool, td)
    assert {"id": str(added["id"]), "name": "TP 9 — groupe d'été", "code": "TP9", "has_children": False} \
        in parent["fields"]["children"]
    theirs = {e.id for e in (await ade_client.get_events(resources=[added["id"]], detail=1)).events}
    ours = {r["event_id"] for r in await pool.fetch(
        "SELECT event_id FROM schedulesy.timetable WHERE resource_ext_id = $1", str(added["id"]))}
    assert theirs and ours == theirs


async def test_a_group_moved_elsewhere_takes_its_new_ancestors_events(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool, ade_client: AdeClient) -> None:
    await sync()
    samples = ade.summary()["samples"]
    leaf = samples["trainee_leaf"]
    store = ade.app.store
    other_td = next(r.id for r in store.resources.values()
                    if r.category == "trainee" and r.is_group and r.id not in (samples["trainee_td"],)
                    and r.parent_id != samples["trainee_td"] and store.children.get(r.id)
                    and not store.resources[store.children[r.id][0]].is_group)

    ade.update_resource(leaf, parent_id=other_td)
    await sync()

    row = await resource(pool, leaf)
    assert row["parent_ext_id"] == str(other_td)
    theirs = {e.id for e in (await ade_client.get_events(resources=[leaf], detail=1)).events}
    ours = {r["event_id"] for r in await pool.fetch(
        "SELECT event_id FROM schedulesy.timetable WHERE resource_ext_id = $1", str(leaf))}
    assert ours == theirs


async def test_an_id_ade_reused_in_another_category_replaces_the_old_resource(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    room = ade.summary()["samples"]["classroom"]
    await add_user(pool, "dave", f"{room}")
    instructors_root = next(r.id for r in ade.app.store.resources.values()
                            if r.category == "instructor" and r.is_group)

    ade.delete_resource(room)
    ade.add_resource(id=room, category="instructor", name="NOUVEAU Prof", parent_id=instructors_root,
                     email="prof@example.org")
    report = await sync()

    assert report.status == "ok", report.errors
    row = await resource(pool, room)
    assert row["category"] == "instructor" and row["email"] == "prof@example.org"
    assert row["geolocation"] is None
    assert await selection(pool, "dave") == ""
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE ext_id = $1", str(room)) == 1


async def test_a_tree_that_shrank_too_much_is_refused_unless_forced(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool) -> None:
    await sync()
    component = ade.summary()["samples"]["trainee_component"]
    before = await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE category = 'trainee'")
    deleted = ade.delete_resource(component)["deleted"]
    assert len(deleted) > 0.2 * before

    report = await sync()

    trainees = next(c for c in report.categories if c.category == "trainee")
    assert trainees.status == "refused" and report.status == "partial"
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE category = 'trainee'") == before
    state = await pool.fetchrow("SELECT * FROM schedulesy.sync_state WHERE name = 'tree:trainee'")
    assert "shrank" in state["last_error"]

    forced = await sync(force=True)

    assert next(c for c in forced.categories if c.category == "trainee").status == "modified"
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.resource WHERE category = 'trainee'") == \
        before - len(deleted)
    state = await pool.fetchrow("SELECT * FROM schedulesy.sync_state WHERE name = 'tree:trainee'")
    assert state["last_error"] is None


async def test_rooms_get_the_coordinates_of_their_deepest_known_building(
        services: Services, ade: AdeSimulatorHandle, pool: asyncpg.Pool, tmp_path) -> None:
    store = ade.app.store
    room = ade.summary()["samples"]["classroom"]
    building = next(a for a in store.ancestors(room) if store.resources[a].code)
    code = store.resources[building].code
    path = tmp_path / "buildings.json"
    path.write_bytes(msgspec.json.encode([{"id": int(code) if code.isdigit() else code,
                                           "geolocation": [48.607508, 7.708025]}]))
    settings = replace_settings(services.settings, buildings_file=str(path))
    services.settings = settings

    async with client_for(ade) as client:
        report = await run_cycle(services, client=client)
        assert report.status == "ok" and report.warnings == []
        row = await resource(pool, room)
        assert row["geolocation"] == [48.607508, 7.708025, 0.0]
        assert [g["id"] for g in row["fields"]["genealogy"]][:1] == ["classroom"]
        assert str(building) in [g["id"] for g in row["fields"]["genealogy"]]

        # A new map re-geolocates rooms even though ADE's tree did not change.
        path.write_bytes(msgspec.json.encode({code: [1.5, 2.5, 3.0]}))
        await run_cycle(services, client=client)
        assert (await resource(pool, room))["geolocation"] == [1.5, 2.5, 3.0]

        # A broken file is a warning, never a failed sync.
        path.write_text("{not json")
        report = await run_cycle(services, client=client)
        assert report.status == "ok" and report.warnings
        assert (await resource(pool, room))["geolocation"] is None


def test_the_buildings_file_accepts_both_shapes_and_skips_bad_entries() -> None:
    assert parse_buildings({"0123": [1, 2], "x": [1, 2, 3], "bad": [1]}) == (
        {"123": [1.0, 2.0, 0.0], "x": [1.0, 2.0, 3.0]}, 1)
    assert parse_buildings([{"id": 5, "geolocation": [48.6, 7.7, 0]}, {"id": 6}, "junk"]) == (
        {"5": [48.6, 7.7, 0.0]}, 2)
    with pytest.raises(ValueError):
        parse_buildings("nope")
    assert load_buildings("/nonexistent/buildings.json").warning


def test_the_deepest_building_level_code_wins_and_the_site_is_skipped() -> None:
    buildings = Buildings(coordinates={"1": [1.0, 1.0, 0.0], "2": [2.0, 2.0, 0.0], "3": [3.0, 3.0, 0.0]},
                          version="t")
    genealogy = [{"id": "classroom", "name": "classroom", "code": ""}, {"id": "s", "name": "site", "code": "1"},
                 {"id": "b", "name": "building", "code": "2"}, {"id": "f", "name": "floor", "code": "3"}]
    assert geolocate(genealogy, buildings) == [3.0, 3.0, 0.0]
    assert geolocate(genealogy[:3], buildings) == [2.0, 2.0, 0.0]
    assert geolocate(genealogy[:2], buildings) is None
    genealogy[3]["code"] = "unknown"
    assert geolocate(genealogy, buildings) == [2.0, 2.0, 0.0]
