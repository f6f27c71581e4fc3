"""A command's author reads its change at once, and a revoked key is dead at once — whatever the
projector worker is doing (docs/architecture.md §3.8).

Each test runs twice: with no worker at all, and with the real worker applying the same changes
from the change log at the same time. No test waits between a write and the read that follows it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from projections.readmodels import ReadModels
from projections.readmodels.store import ApplyReport, Writes
from projections.worker import Projector
from schedulesy.app import create_app
from schedulesy.services import Services
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.infra import replace_settings
from tests.fixtures.mirror import EMPTY_GROUP, GROUP, ROOM, SUBJECT, seed_university
from tests.fixtures.projector import FAST, last_change, stop_task
from tests.fixtures.waiting import GUARD_SECONDS, eventually

pytestmark = pytest.mark.cluster_too

USER = "jdupont"
DIRECTORY_ID = "12345678"
ROUNDS = 50
DELETE_PARTS = 5
SELECTIONS: dict[str, list[str]] = {
    ROOM: ["191050"],
    GROUP: ["191051", "191050"],
    SUBJECT: ["191051"],
    EMPTY_GROUP: [],
    f"{SUBJECT},{ROOM}": ["191051", "191050"],
}
"""Selections (the ``resources`` column) and the events of their calendars, by start time; each
one's calendar differs from the next one's."""


@pytest.fixture(params=["worker stopped", "worker running"])
async def worker(request: pytest.FixtureRequest, services: Services) -> AsyncIterator[str]:
    """Nothing, or the real projector applying the change log meanwhile."""
    if request.param == "worker stopped":
        yield request.param
        return
    projector = Projector(services, **FAST)
    task = asyncio.create_task(projector.run())
    await asyncio.wait_for(projector.leading.wait(), GUARD_SECONDS)
    yield request.param
    await stop_task(task)


@pytest.fixture
async def user(api: AsyncTestClient, pool: asyncpg.Pool, make_token: TokenFactory) -> dict[str, str]:
    """The test university and a customization created through the API; its author's headers."""
    await seed_university(pool)
    headers = auth_header(make_token(USER, directory_id=DIRECTORY_ID))
    created = await api.post("/legacy/customization.json", json={"username": USER, "directory_id": DIRECTORY_ID},
                             headers=headers)
    assert created.status_code == 201, created.text
    return headers


def events_of(response: object) -> list[str]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    return [event["id"] for event in response.json()["events"]["events"]]  # type: ignore[attr-defined]


def key_urls(key: str) -> list[str]:
    return [f"/api/calendar/{key}/export", f"/api/timetable/{key}.json", f"/api/timetable/{key}.ics",
            f"/api/timetable/{key}/qrcode.svg", f"/api/timetable/{key}/qrcode.png"]


async def test_the_calendar_read_right_after_a_patch_shows_the_new_selection(
    api: AsyncTestClient, user: dict[str, str], worker: str
) -> None:
    stale = 0
    for round_ in range(ROUNDS):
        resources = list(SELECTIONS)[round_ % len(SELECTIONS)]
        patched = await api.patch(f"/legacy/customization/{USER}.json", json={"resources": resources}, headers=user)
        assert patched.status_code == 200, patched.text
        calendar = await api.get(f"/api/calendar/{USER}.json", headers=user)
        stale += events_of(calendar) != SELECTIONS[resources]
    assert stale == 0, f"{stale} of {ROUNDS} reads showed another selection ({worker})"


@pytest.mark.parametrize("part", range(DELETE_PARTS))
async def test_every_url_of_a_deleted_key_is_404_right_after_the_delete(
    api: AsyncTestClient, user: dict[str, str], worker: str, part: int
) -> None:
    """:data:`ROUNDS` keys in all, in parts that each stay short."""
    await api.patch(f"/legacy/customization/{USER}.json", json={"resources": GROUP}, headers=user)
    served = 0
    rounds = ROUNDS // DELETE_PARTS
    for round_ in range(rounds):
        created = await api.post(f"/api/customization/{USER}/uuid.json", json={"name": f"phone {round_}"},
                                 headers=user)
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        for url in key_urls(key)[:3]:  # the key's documents are now in Redis (and in memory where copied)
            assert (await api.get(url)).status_code == 200, url
        deleted = await api.delete(f"/api/customization/{USER}/uuid/{key}.json", headers=user)
        assert deleted.status_code == 204, deleted.text
        for url in key_urls(key):
            answer = await api.get(url)
            served += answer.status_code != 404
    assert served == 0, f"{served} reads of {rounds * 5} still served a revoked key ({worker})"


async def test_deleting_a_customization_kills_its_keys_and_calendar_at_once(
    api: AsyncTestClient, user: dict[str, str], worker: str
) -> None:
    await api.patch(f"/legacy/customization/{USER}.json", json={"resources": ROOM}, headers=user)
    keys = (await api.get(f"/api/customization/{USER}/uuid.json", headers=user)).json()
    assert events_of(await api.get(f"/api/timetable/{keys[0]['key']}.json")) == ["191050"]
    assert (await api.delete(f"/legacy/customization/{USER}.json", headers=user)).status_code == 204
    assert (await api.get(f"/api/calendar/{USER}.json", headers=user)).status_code == 404
    for url in key_urls(keys[0]["key"]):
        assert (await api.get(url)).status_code == 404, url


async def test_after_a_login_change_the_next_reads_use_the_new_login(
    api: AsyncTestClient, user: dict[str, str], worker: str, make_token: TokenFactory
) -> None:
    await api.patch(f"/legacy/customization/{USER}.json", json={"resources": GROUP}, headers=user)
    key = (await api.get(f"/api/customization/{USER}/uuid.json", headers=user)).json()[0]["key"]
    assert events_of(await api.get(f"/api/calendar/{USER}.json", headers=user)) == SELECTIONS[GROUP]
    renamed = auth_header(make_token("jdupont2", directory_id=DIRECTORY_ID))
    moved = await api.post("/legacy/customization.json", json={"username": "jdupont2", "directory_id": DIRECTORY_ID},
                           headers=renamed)
    assert moved.status_code == 201, moved.text
    assert events_of(await api.get("/api/calendar/jdupont2.json", headers=renamed)) == SELECTIONS[GROUP]
    assert (await api.get(f"/api/calendar/{USER}.json", headers=user)).status_code == 404
    assert events_of(await api.get(f"/api/timetable/{key}.json")) == SELECTIONS[GROUP]  # the key moved along
    assert 'filename="jdupont2' in (await api.get(f"/api/calendar/{key}/export")).headers["content-disposition"]


@pytest.fixture
async def other_api(settings: Settings, api: AsyncTestClient) -> AsyncIterator[AsyncTestClient]:
    """A second API process: its own app, its own in-process caches, the same Postgres and Redis."""
    async with AsyncTestClient(app=create_app(settings), base_url="https://testserver") as client:
        yield client


async def test_a_write_through_one_api_process_is_read_at_once_through_another(
    api: AsyncTestClient, other_api: AsyncTestClient, user: dict[str, str], worker: str
) -> None:
    await api.patch(f"/legacy/customization/{USER}.json", json={"resources": ROOM}, headers=user)
    key = (await api.get(f"/api/customization/{USER}/uuid.json", headers=user)).json()[0]["key"]
    for _ in range(3):  # the other process now holds everything it may copy
        assert events_of(await other_api.get(f"/api/calendar/{USER}.json", headers=user)) == ["191050"]
        assert (await other_api.get(f"/api/calendar/{key}/export")).status_code == 200
    for resources in (GROUP, SUBJECT, ROOM):
        await api.patch(f"/legacy/customization/{USER}.json", json={"resources": resources}, headers=user)
        assert events_of(await other_api.get(f"/api/calendar/{USER}.json", headers=user)) == SELECTIONS[resources]
    phone = (await api.post(f"/api/customization/{USER}/uuid.json", json={"name": "phone"}, headers=user)).json()
    assert (await other_api.get(f"/api/timetable/{phone['key']}.ics")).status_code == 200
    assert (await api.delete(f"/api/customization/{USER}/uuid/{phone['key']}.json", headers=user)).status_code == 204
    for url in key_urls(phone["key"]):
        assert (await other_api.get(url)).status_code == 404, url


async def test_a_delete_that_cannot_reach_redis_changes_nothing_and_says_so(
    api: AsyncTestClient, user: dict[str, str], settings: Settings, unused_tcp_port: int
) -> None:
    phone = (await api.post(f"/api/customization/{USER}/uuid.json", json={"name": "phone"}, headers=user)).json()
    cut_off = replace_settings(settings, redis_url=f"redis://127.0.0.1:{unused_tcp_port}/0")
    async with AsyncTestClient(app=create_app(cut_off), base_url="https://testserver") as without_redis:
        refused = await without_redis.delete(f"/api/customization/{USER}/uuid/{phone['key']}.json", headers=user)
        assert refused.status_code == 503, refused.text
        assert "nothing was changed" in refused.json()["detail"]
        gone_too = await without_redis.delete(f"/legacy/customization/{USER}.json", headers=user)
        assert gone_too.status_code == 503, gone_too.text
    keys = [access["key"] for access in (await api.get(f"/api/customization/{USER}/uuid.json", headers=user)).json()]
    assert phone["key"] in keys
    assert (await api.get(f"/api/timetable/{phone['key']}.json")).status_code == 200
    deleted = await api.delete(f"/api/customization/{USER}/uuid/{phone['key']}.json", headers=user)
    assert deleted.status_code == 204
    assert (await api.get(f"/api/timetable/{phone['key']}.json")).status_code == 404


class PausedBeforeWriting(ReadModels):
    """The real read models, stopping each batch between its build and its write to Redis."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.built = asyncio.Event()
        self.release = asyncio.Event()
        self.reports: list[ApplyReport] = []
        write = self.store.write

        async def paused(writes: Writes) -> ApplyReport:
            self.built.set()
            await self.release.wait()
            report = await write(writes)
            self.reports.append(report)
            return report

        self.store.write = paused  # type: ignore[method-assign]


async def user_stamp(services: Services) -> tuple[int, int]:
    xmax, running = await services.redis.hmget(services.keys.user(USER), ["x", "r"])
    return int(xmax), -int(running)


async def test_a_batch_built_before_a_command_and_a_worker_crash_never_take_a_read_model_back(
    api: AsyncTestClient, user: dict[str, str], services: Services
) -> None:
    """The worker builds from a snapshot taken before the command commits, writes after it: its
    older build is refused. Then a worker dies mid-batch and another replays: still never older."""
    calendar = f"/api/calendar/{USER}.json"
    await api.patch(f"/legacy/customization/{USER}.json", json={"resources": ROOM}, headers=user)
    stamps = [await user_stamp(services)]
    slow = PausedBeforeWriting(services)
    projector = Projector(services, applier=slow, **FAST)
    first = asyncio.create_task(projector.run())

    async def caught_up() -> bool:
        return projector.position >= await last_change(services.pool)

    slow.release.set()
    await eventually(caught_up, "the backlog applied")
    slow.built.clear()
    slow.release.clear()
    slow.reports.clear()
    # another tool writes w_edtperso: the worker builds GROUP, then waits before writing
    await services.pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = $2", GROUP, USER)
    await asyncio.wait_for(slow.built.wait(), GUARD_SECONDS)
    # meanwhile the user picks SUBJECT: answered, and read at once
    await api.patch(f"/legacy/customization/{USER}.json", json={"resources": SUBJECT}, headers=user)
    assert events_of(await api.get(calendar, headers=user)) == SELECTIONS[SUBJECT]
    stamps.append(await user_stamp(services))
    slow.release.set()  # the older build reaches Redis last
    await eventually(lambda: bool(slow.reports), "the paused batch written")
    assert slow.reports[0].documents_superseded > 0
    assert events_of(await api.get(calendar, headers=user)) == SELECTIONS[SUBJECT]
    stamps.append(await user_stamp(services))

    # the worker dies in the middle of its next batch, before writing anything
    await eventually(caught_up, "the batch checkpointed")
    slow.built.clear()
    slow.release.clear()
    await services.pool.execute("UPDATE public.w_edtperso SET ressources = $1 WHERE uid = $2", ROOM, USER)
    await asyncio.wait_for(slow.built.wait(), GUARD_SECONDS)
    await stop_task(first)
    assert events_of(await api.get(calendar, headers=user)) == SELECTIONS[SUBJECT]  # not applied yet, not older
    stamps.append(await user_stamp(services))

    # a new worker replays the unfinished batch from the checkpoint
    second = asyncio.create_task(Projector(services, **FAST).run())
    try:
        async def shows_room() -> bool:
            return events_of(await api.get(calendar, headers=user)) == SELECTIONS[ROOM]

        await eventually(shows_room, "the replayed change applied")
        stamps.append(await user_stamp(services))
    finally:
        await stop_task(second)
    assert stamps == sorted(stamps), stamps
