"""The change feeds: changes of a real sync against the simulator (move, renumbered move, cancel,
room change), projected per selection, served as JSON and Atom; each change appears once in the
feed of every selection it touches and in no other."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from projections.readmodels import ReadModels
from schedulesy.selection import Selection
from schedulesy.services import Services
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.mirror import insert_access, insert_user
from tests.fixtures.sync import PARIS, Sync, near_event

ATOM = "{http://www.w3.org/2005/Atom}"


def free_day_in_near_term() -> dt.date:
    today = dt.datetime.now(PARIS).date()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=13)


async def project(models: ReadModels, pool: asyncpg.Pool) -> None:
    """What the projector does with the change log: apply it (coalesced), then forget it."""
    batch: dict[str, set[str]] = defaultdict(set)
    for row in await pool.fetch("SELECT topic, key FROM schedulesy.change"):
        batch[row["topic"]].add(row["key"])
    await models.apply(batch)
    await pool.execute("DELETE FROM schedulesy.change")


async def shown_in(pool: asyncpg.Pool, event_id: int) -> set[str]:
    rows = await pool.fetch("SELECT resource_ext_id FROM schedulesy.timetable WHERE event_id = $1", event_id)
    return {r["resource_ext_id"] for r in rows}


async def resource_without(pool: asyncpg.Pool, event_ids: list[int]) -> str:
    """A resource with events, none of them ``event_ids``."""
    return await pool.fetchval(
        """SELECT resource_ext_id FROM schedulesy.timetable GROUP BY resource_ext_id
           HAVING NOT bool_or(event_id = ANY($1::bigint[])) ORDER BY resource_ext_id LIMIT 1""", event_ids)


def other_room(ade: AdeSimulatorHandle, event: dict[str, Any]) -> tuple[int, int]:
    booked = [r["id"] for r in event["resources"] if r["category"] == "classroom"]
    store = ade.app.store
    rooms = [r.id for r in store.resources.values() if r.category == "classroom" and not r.is_group and r.id not in booked]
    return booked[0], min(rooms, key=lambda r: (len(store.direct.get(r, ())), r))


async def test_each_change_is_in_the_feeds_of_every_selection_it_touches_and_no_other(
        sync: Sync, ade: AdeSimulatorHandle, services: Services, api: AsyncTestClient[Any],
        make_token: TokenFactory) -> None:
    pool = services.pool
    models = ReadModels(services)
    await sync()
    moved, renumbered, cancelled, rerooomed = (near_event(ade, skip=i) for i in (0, 3, 6, 9))
    changed = [moved, renumbered, cancelled, rerooomed]
    event = ade.event(rerooomed)
    old_room, new_room = other_room(ade, event)
    before = {e: await shown_in(pool, e) for e in changed}
    users = {
        "alice": sorted(before[moved])[0],
        "bruno": sorted(before[cancelled])[0],
        "carol": str(new_room),
        "denis": await resource_without(pool, changed),
    }
    keys = {}
    for username, ext_id in users.items():
        await insert_user(pool, username, ext_id)
        keys[username] = await insert_access(pool, username)
    await project(models, pool)
    empty = await api.get(f"/api/timetable/{keys['alice']}/changes.json")
    assert empty.status_code == 200 and empty.json() == []

    target = free_day_in_near_term()
    ade.move_event(moved, date=target.isoformat(), start="14:00")
    new_id = ade.move_event(renumbered, date=target.isoformat(), start="16:00", new_id=True)["id"]
    ade.delete_event(cancelled)
    ade.update_event(rerooomed, resources=[new_room if r["id"] == old_room else r["id"] for r in event["resources"]])
    await sync()
    await project(models, pool)

    after = {moved: await shown_in(pool, moved), renumbered: await shown_in(pool, new_id), cancelled: set(),
             rerooomed: await shown_in(pool, rerooomed)}
    kinds = {moved: "moved", renumbered: "moved", cancelled: "removed", rerooomed: "rooms"}
    for username, ext_id in users.items():
        # Stored by the projection, not built on this read.
        digest = Selection.of([ext_id]).hash
        stored = await models.store.read(services.keys.changes(digest, "fr"))
        assert stored is not None, username
        response = await api.get(f"/api/timetable/{keys[username]}/changes.json")
        assert response.status_code == 200
        entries = response.json()
        assert response.content == stored.body  # type: ignore[union-attr]
        expected = {e for e in changed if ext_id in before[e] | after[e]}
        original = {int(x["before"]["id"]) if x["before"] else int(x["after"]["id"]) for x in entries}
        assert original == expected, username
        assert len(entries) == len(expected), f"{username}: each change once"
        for entry in entries:
            first = int(entry["before"]["id"]) if entry["before"] else int(entry["after"]["id"])
            assert entry["kind"] == kinds[first]
        atom = await api.get(f"/api/timetable/{keys[username]}/changes.atom")
        assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
        feed = ET.fromstring(atom.content)
        assert sorted(e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")) == sorted(
            f"urn:uuid:{x['id']}" for x in entries)
    assert {u for u in users if users[u] in before[moved] | after[moved]} >= {"alice"}
    assert "carol" in {u for u in users if users[u] in after[rerooomed]}

    token = make_token("alice")
    mine = await api.get("/api/changes/alice.json", headers=auth_header(token))
    assert mine.status_code == 200
    assert mine.json() == (await api.get(f"/api/timetable/{keys['alice']}/changes.json")).json()
    assert (await api.get("/api/changes/bruno.json", headers=auth_header(token))).status_code == 403
    assert (await api.get("/api/changes/alice.json")).status_code == 403
    admin = await api.get("/api/changes/alice.json", headers=auth_header(make_token("admin", superuser=True)))
    assert admin.status_code == 200


async def test_a_users_own_selection_change_is_not_a_timetable_change(
        sync: Sync, ade: AdeSimulatorHandle, services: Services, api: AsyncTestClient[Any]) -> None:
    pool = services.pool
    models = ReadModels(services)
    await sync()
    moved = near_event(ade)
    ext_id = sorted(await shown_in(pool, moved))[0]
    other = await resource_without(pool, [moved])
    await insert_user(pool, "alice", other)
    key = await insert_access(pool, "alice")
    ade.move_event(moved, date=free_day_in_near_term().isoformat(), start="14:00")
    await sync()
    await project(models, pool)
    assert (await api.get(f"/api/timetable/{key}/changes.json")).json() == []

    await pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = 'alice'", f"{other},{ext_id}")
    await project(models, pool)

    entries = (await api.get(f"/api/timetable/{key}/changes.json")).json()
    # The timetable's real change shows; the events the new resource brought in are no "added".
    assert [e["kind"] for e in entries] == ["moved"]


async def test_a_feed_left_while_nobody_named_its_selection_is_rebuilt_when_a_user_names_it_again(
        sync: Sync, ade: AdeSimulatorHandle, services: Services, api: AsyncTestClient[Any]) -> None:
    pool = services.pool
    models = ReadModels(services)
    await sync()
    moved = near_event(ade)
    ext_id = sorted(await shown_in(pool, moved))[0]
    other = await resource_without(pool, [moved])
    await insert_user(pool, "alice", ext_id)
    key = await insert_access(pool, "alice")
    await project(models, pool)
    assert (await api.get(f"/api/timetable/{key}/changes.json")).json() == []
    await pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = 'alice'", other)
    await project(models, pool)

    ade.move_event(moved, date=free_day_in_near_term().isoformat(), start="14:00")
    await sync()
    await project(models, pool)  # nobody names ext_id now: no history rebuilds its feed
    await pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = 'alice'", ext_id)
    await project(models, pool)

    entries = (await api.get(f"/api/timetable/{key}/changes.json")).json()
    assert [(e["kind"], e["event_id"]) for e in entries] == [("moved", str(moved))]


async def test_feeds_answer_304_speak_english_on_request_and_refuse_other_languages(
        sync: Sync, ade: AdeSimulatorHandle, services: Services, api: AsyncTestClient[Any]) -> None:
    pool = services.pool
    await sync()
    cancelled = near_event(ade)
    ext_id = sorted(await shown_in(pool, cancelled))[0]
    await insert_user(pool, "alice", ext_id)
    key = await insert_access(pool, "alice")
    ade.delete_event(cancelled)
    await sync()

    french = await api.get(f"/api/timetable/{key}/changes.json")
    english = await api.get(f"/api/timetable/{key}/changes.json", params={"lang": "en"})
    assert french.json()[0]["summary"].endswith(" annulé")
    assert english.json()[0]["summary"].endswith(" cancelled")
    assert french.json()[0]["id"] == english.json()[0]["id"]
    again = await api.get(f"/api/timetable/{key}/changes.json", headers={"If-None-Match": french.headers["etag"]})
    assert again.status_code == 304
    atom = await api.get(f"/api/timetable/{key}/changes.atom")
    assert (await api.get(f"/api/timetable/{key}/changes.atom",
                          headers={"If-None-Match": atom.headers["etag"]})).status_code == 304
    bad = await api.get(f"/api/timetable/{key}/changes.json", params={"lang": "de"})
    assert bad.status_code == 400 and "lang" in msgspec.json.encode(bad.json()).decode()
    unknown = await api.get("/api/timetable/00000000-0000-4000-8000-000000000000/changes.json")
    assert unknown.status_code == 404


async def test_atom_entry_ids_are_stable_across_a_full_rebuild(
        sync: Sync, ade: AdeSimulatorHandle, services: Services, api: AsyncTestClient[Any]) -> None:
    pool = services.pool
    await sync()
    moved = near_event(ade)
    await insert_user(pool, "alice", sorted(await shown_in(pool, moved))[0])
    key = await insert_access(pool, "alice")
    ade.move_event(moved, date=free_day_in_near_term().isoformat(), start="14:00")
    await sync()
    first = await api.get(f"/api/timetable/{key}/changes.atom")

    await ReadModels(services).rebuild_all()

    second = await api.get(f"/api/timetable/{key}/changes.atom", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 304
    feed = ET.fromstring(first.content)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None, required
    [entry] = feed.findall(f"{ATOM}entry")
    for required in ("id", "title", "updated", "content"):
        assert entry.find(f"{ATOM}{required}") is not None, required
    assert entry.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
