"""The ADE client against the simulator over real HTTP: every function, dates, errors, faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import zoneinfo
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog

from schedulesy.ade import client as client_module
from schedulesy.ade.client import AdeClient
from schedulesy.ade.dates import format_request_date
from schedulesy.ade.errors import (
    AdeBusinessError,
    AdeEmptyAnswer,
    AdeLoginError,
    AdeSessionError,
    AdeUnavailable,
    AdeUnreachable,
)
from schedulesy.ade.models import ResourceNode
from schedulesy.ade.retry import RetryPolicy
from schedulesy.settings import Settings
from tests.fixtures.ade import AdeSimulatorHandle

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def make_client(handle: AdeSimulatorHandle, **options: Any) -> AdeClient:
    defaults: dict[str, Any] = dict(connect_timeout=2, read_timeout=5,
                                       retry=RetryPolicy(retries=2, base_delay=0.01, max_delay=0.05))
    defaults.update(options)
    return AdeClient(handle.url, handle.login, handle.password, handle.project_id, **defaults)


@pytest.fixture
async def client(ade: AdeSimulatorHandle) -> AsyncIterator[AdeClient]:
    async with make_client(ade) as c:
        yield c


def week_of(ade: AdeSimulatorHandle) -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(PARIS).date()
    monday = today - dt.timedelta(days=today.weekday())
    return monday, monday + dt.timedelta(days=6)


# -- sessions ----------------------------------------------------------------------------------

async def test_the_first_call_logs_in_and_selects_the_project_once(client: AdeClient,
                                                                   ade: AdeSimulatorHandle) -> None:
    await client.get_resource_tree(category="trainee", detail=2)
    await client.get_resource_tree(category="instructor", detail=2)

    functions = ade.stats()["functions"]
    assert functions["connect"] == 1 and functions["setProject"] == 1 and functions["getResources"] == 2
    assert client.session_id is not None
    assert client.stats.of("getResources").requests == 2


async def test_connect_set_project_and_disconnect_speak_the_protocol(client: AdeClient) -> None:
    session = await client.connect()
    selection = await client.set_project(client.project_id or 1)
    assert selection.session_id == session and selection.project_id == client.project_id
    await client.disconnect()
    assert client.session_id is None


async def test_a_wrong_password_is_a_login_error(ade: AdeSimulatorHandle) -> None:
    async with AdeClient(ade.url, ade.login, "wrong", ade.project_id, retry=RetryPolicy(retries=0)) as c:
        with pytest.raises(AdeLoginError) as caught:
            await c.get_resource_tree(category="trainee")
    assert "InvalidLogin" in caught.value.name
    assert "wrong" not in str(caught.value)


async def test_an_expired_session_logs_in_again_and_retries_once(client: AdeClient,
                                                                 ade: AdeSimulatorHandle) -> None:
    await client.get_projects()
    first = client.session_id
    ade.expire_sessions()

    tree = await client.get_resource_tree(category="classroom", detail=3)

    assert tree.category("classroom") is not None
    assert client.session_id != first
    assert client.stats.of("getResources").errors == 1


async def test_concurrent_calls_on_a_dead_session_log_in_only_once(client: AdeClient,
                                                                   ade: AdeSimulatorHandle) -> None:
    await client.get_projects()
    ade.expire_sessions()
    ade.reset_stats()

    await asyncio.gather(*(client.get_resource_tree(category=c, detail=2)
                           for c in ("trainee", "instructor", "classroom", "category5")))

    assert ade.stats()["functions"]["connect"] == 1


async def test_a_session_error_that_persists_after_a_new_login_is_raised(client: AdeClient,
                                                                         ade: AdeSimulatorHandle) -> None:
    ade.set_faults(error_fraction=1.0, error_functions=["getEvents"])
    with pytest.raises(AdeSessionError) as caught:
        await client.get_events(date=dt.date.today(), detail=1)
    assert caught.value.name == "java.lang.NullPointerException"
    assert client.stats.of("getEvents").requests == 2


async def test_a_business_error_is_not_retried(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    await client.get_projects()
    with pytest.raises(AdeBusinessError) as caught:
        await client.set_project(999)
    assert caught.value.name.endswith("ProjectNotFoundException")
    assert ade.stats()["functions"]["setProject"] == 1


async def test_an_unknown_function_answers_an_empty_body_which_is_an_error(client: AdeClient) -> None:
    await client.get_projects()
    with pytest.raises(AdeEmptyAnswer):
        await client._call_raw("noSuchFunction", {})


# -- resources ---------------------------------------------------------------------------------

async def test_a_resource_tree_keeps_every_attribute_and_the_child_order(client: AdeClient,
                                                                         ade: AdeSimulatorHandle) -> None:
    tree = await client.get_resource_tree(category="classroom", detail=11)

    root = tree.category("classroom")
    assert root is not None and root.tag == "category" and root.id == "classroom"
    nodes = [n for n in root.walk() if n.tag != "category"]
    store = ade.app.store
    assert {n.id for n in nodes} == {str(r.id) for r in store.resources.values() if r.category == "classroom"}
    for node in nodes:
        expected_children = [str(c) for c in store.children.get(int(node.id), [])]
        assert [c.id for c in node.children] == expected_children
        assert node.tag == ("branch" if store.resources[int(node.id)].is_group else "leaf")
        assert {"id", "name", "path", "category", "isGroup", "lastUpdate", "fatherId", "code", "codeX"} \
            <= set(node.attributes)
    # Accents and apostrophes (&apos;) come through as text, from the raw bytes.
    names = {n.name for n in nodes}
    assert names == {r.name for r in store.resources.values() if r.category == "classroom"}
    assert any("'" in n for n in names) or any(c in "".join(names) for c in "éèàç")


async def test_a_tree_answer_is_byte_stable_for_unchanged_data(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    first = await client.get_resource_tree(category="trainee", detail=11)
    second = await client.get_resource_tree(category="trainee", detail=11)
    assert first.raw == second.raw
    assert first.raw_digest == hashlib.sha256(second.raw).hexdigest()
    assert first.canonical_digest() == second.canonical_digest()

    leaf = ade.summary()["samples"]["trainee_leaf"]
    ade.update_resource(leaf, name="Renamed")
    third = await client.get_resource_tree(category="trainee", detail=11)
    assert third.canonical_digest() != first.canonical_digest()


async def test_flat_resource_lists_by_id_father_and_leaves(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    samples = ade.summary()["samples"]
    room, instructor = samples["classroom"], samples["instructor"]

    by_id = await client.get_resources(ids=[room, instructor], detail=4)
    assert {r.id for r in by_id.resources} == {str(room), str(instructor)}
    assert {r.tag for r in by_id.resources} <= {"resource", "room", "instructor", "leaf"}

    td = samples["trainee_td"]
    children = await client.get_resources(category="trainee", father_ids=[td], detail=10)
    assert {r.id for r in children.resources} == {str(c) for c in ade.app.store.children[td]}
    assert all(r.attributes["fatherId"] == str(td) for r in children.resources)

    folders = await client.get_resources(category="trainee", leaves=False, detail=4)
    assert folders.resources and all(r.attributes["isGroup"] == "true" for r in folders.resources)


async def test_a_tree_filtered_by_id_keeps_the_folders_above(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    leaf = ade.summary()["samples"]["trainee_leaf"]
    tree = await client.get_resource_tree(ids=[leaf], detail=3)
    nodes = [n for c in tree.categories for n in c.walk()]
    assert str(leaf) in {n.id for n in nodes}
    depth_of_leaf = len(ade.app.store.ancestors(leaf))
    assert sum(1 for n in nodes if n.tag == "branch") == depth_of_leaf


# -- events ------------------------------------------------------------------------------------

async def test_events_of_a_week_carry_their_resources_and_parse_every_date_format(
        client: AdeClient, ade: AdeSimulatorHandle) -> None:
    monday, sunday = week_of(ade)
    answer = await client.get_events(start_date=monday, end_date=sunday, detail=8)

    store = ade.app.store
    p = store.project
    expected = {e.id for e in store.events.values() if monday <= p.date_of(e.week, e.day) <= sunday}
    assert {e.id for e in answer.events} == expected
    for event in answer.events:
        truth = store.events[event.id]
        assert event.date == p.date_of(truth.week, truth.day)            # dd/MM/yyyy
        assert event.stable_key == (truth.activity_id, truth.repetition, truth.session)
        assert event.duration == truth.duration
        assert event.resources is not None
        assert [r.id for r in event.resources] == [str(b.resource_id) for b in truth.resources]
        if truth.last_update:
            assert event.last_update == dt.datetime.strptime(truth.last_update, "%m/%d/%Y %H:%M")
        assert event.color_hex.startswith("#") and len(event.color_hex) == 7
        start = event.starts_at(PARIS)
        assert start is not None and start.astimezone(PARIS).strftime("%H:%M") == event.start_hour


async def test_the_request_date_goes_out_in_us_order(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    # The 5th of a month after the 12th day: a day/month swap would be refused or be another day.
    store = ade.app.store
    p = store.project
    day = next(p.date_of(e.week, e.day) for e in sorted(store.events.values(), key=lambda e: e.id)
               if p.date_of(e.week, e.day).day > 12)
    answer = await client.get_events(date=day, detail=3)
    assert answer.events and all(e.date == day for e in answer.events)
    assert format_request_date(day) == f"{day.month:02d}/{day.day:02d}/{day.year}"


async def test_low_detail_events_have_no_resource_list(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    monday, sunday = week_of(ade)
    answer = await client.get_events(start_date=monday, end_date=sunday, detail=7)
    assert answer.events
    assert all(e.resources is None and e.last_update is not None for e in answer.events)


async def test_events_by_id_list_and_by_resource_including_ancestors(client: AdeClient,
                                                                     ade: AdeSimulatorHandle) -> None:
    store = ade.app.store
    ids = sorted(store.events)[:5]
    by_id = await client.get_events(event_ids=[*ids, 999_999_999], detail=8)
    assert sorted(e.id for e in by_id.events) == ids

    leaf = ade.summary()["samples"]["trainee_leaf"]
    by_resource = await client.get_events(resources=[leaf], detail=1)
    inherited = {e for r in [leaf, *store.ancestors(leaf)] for e in store.direct.get(r, ())}
    assert {e.id for e in by_resource.events} == inherited


async def test_events_by_weeks_and_days(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    store = ade.app.store
    answer = await client.get_events(weeks=[10, 11], days=[0, 1], detail=3)
    expected = {e.id for e in store.events.values() if e.week in (10, 11) and e.day in (0, 1)}
    assert {e.id for e in answer.events} == expected
    assert all(e.week in (10, 11) and e.day in (0, 1) for e in answer.events)


async def test_empty_last_update_is_unknown(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    ade.set_quirks(empty_dates=True)
    monday, sunday = week_of(ade)
    answer = await client.get_events(start_date=monday, end_date=sunday, detail=8)
    assert answer.events and all(e.last_update is None and e.creation is None for e in answer.events)


async def test_names_with_apostrophes_and_accents_survive_a_charsetless_content_type(
        client: AdeClient, ade: AdeSimulatorHandle) -> None:
    event_id = sorted(ade.app.store.events)[0]
    ade.update_event(event_id, name="Éco-conception d'été & co", note="ligne 1\nligne 2")
    answer = await client.get_events(event_ids=[event_id], detail=8)
    assert answer.events[0].name == "Éco-conception d'été & co"
    assert answer.events[0].note == "ligne 1\nligne 2"
    assert b"&apos;" in answer.raw


async def test_a_control_character_in_a_note_does_not_make_the_answer_unreadable(
        client: AdeClient, ade: AdeSimulatorHandle) -> None:
    """Real ADE (and the simulator) writes U+0007 raw, which XML 1.0 forbids: the client drops it."""
    first, second = sorted(ade.app.store.events)[:2]
    ade.update_event(first, note="a\u0007b", name="TP\u001f chimie")
    await client.get_projects()  # logged in outside the capture (loggers cache their first use)
    with structlog.testing.capture_logs() as logs:
        answer = await client.get_events(event_ids=[first, second], detail=8)
    assert b"a\x07b" in answer.raw  # the raw bytes (and their fingerprint) are ADE's
    by_id = {e.id: e for e in answer.events}
    assert sorted(by_id) == [first, second]
    assert by_id[first].note == "ab" and by_id[first].name == "TP chimie"
    dropped = [entry for entry in logs if entry["event"] == "ade answer had forbidden xml characters"]
    assert [(d["function"], d["dropped"]) for d in dropped] == [("getEvents", 2)]


# -- projects and dates ------------------------------------------------------------------------

async def test_projects_and_get_date(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    projects = await client.get_projects(detail=4)
    live = next(p for p in projects if p.id == ade.project_id)
    assert live.name == ade.project()["name"] and live.uid and live.attributes["loaded"] == "true"

    when = await client.get_date(0, 0, 0)
    assert when.instant.astimezone(PARIS).date().isoformat() == ade.project()["week0"]
    later = await client.get_date(0, 0, 1)
    assert (later.time_ms - when.time_ms) // 60000 == ade.project()["slot_minutes"]


# -- faults, limits, counters ------------------------------------------------------------------

async def test_a_503_is_retried_with_backoff_then_reported_unavailable(ade: AdeSimulatorHandle) -> None:
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    policy = RetryPolicy(retries=3, base_delay=0.5, max_delay=1.5, jitter=0)
    async with make_client(ade, retry=policy, sleep=record) as client:
        await client.get_projects()
        ade.set_faults(down="503")
        with pytest.raises(AdeUnavailable) as caught:
            await client.get_resource_tree(category="trainee")
    assert "503" in str(caught.value) and "after 4 attempts" in str(caught.value)
    stats = client.stats.of("getResources")
    assert stats.requests == 4 and stats.retries == 3 and stats.errors == 4
    assert waited == [0.5, 1.0, 1.5]  # doubling, capped at max_delay


def test_the_retry_policy_doubles_caps_and_jitters_its_delays() -> None:
    assert [RetryPolicy(base_delay=0.5, max_delay=3, jitter=0).delay(n) for n in range(5)] == [0.5, 1, 2, 3, 3]
    rng = random.Random(7)
    spread = [RetryPolicy(base_delay=1, jitter=0.25).delay(0, rng) for _ in range(200)]
    assert all(0.75 <= d <= 1.25 for d in spread) and len(set(spread)) > 100


async def test_production_retries_three_times_from_half_a_second() -> None:
    assert RetryPolicy() == RetryPolicy(retries=3, base_delay=0.5, max_delay=30.0, jitter=0.25)
    async with AdeClient.from_settings(Settings()) as default:
        assert default.retry == RetryPolicy()
    async with AdeClient.from_settings(Settings(ade_retries=5)) as configured:
        assert configured.retry == RetryPolicy(retries=5)


async def test_a_dropped_connection_is_retried_and_recovers(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    await client.get_projects()
    ade.set_faults(down="drop")
    with pytest.raises(AdeUnavailable):
        await client.get_resource_tree(category="trainee")
    ade.clear_faults()
    tree = await client.get_resource_tree(category="trainee", detail=2)
    assert tree.category("trainee") is not None


async def test_a_slow_answer_hits_the_read_timeout(ade: AdeSimulatorHandle) -> None:
    ade.set_faults(delay_ms=800)
    async with make_client(ade, read_timeout=0.2, retry=RetryPolicy(retries=1, base_delay=0.01)) as c:
        with pytest.raises(AdeUnavailable) as caught:
            await c.get_projects()
    assert "Timeout" in str(caught.value)


async def test_one_injected_error_is_cured_by_the_single_relogin(client: AdeClient, ade: AdeSimulatorHandle) -> None:
    await client.get_projects()
    ade.set_faults(error_next=1, error_functions=["getResources"])
    tree = await client.get_resource_tree(category="instructor", detail=2)
    assert tree.category("instructor") is not None


async def test_concurrency_stays_within_the_bound(ade: AdeSimulatorHandle) -> None:
    ade.set_faults(delay_ms=50)
    async with make_client(ade, concurrency=2) as c:
        await c.get_projects()
        ade.reset_stats()
        await asyncio.gather(*(c.get_events(weeks=[w], detail=1) for w in range(10)))
    assert ade.stats()["max_in_flight"] <= 2


async def test_counters_measure_requests_bytes_and_latency_per_function(client: AdeClient) -> None:
    before = client.stats.snapshot()
    answer = await client.get_events(weeks=[5], detail=8)
    spent = client.stats.since(before)
    assert spent["getEvents"].requests == 1
    assert spent["getEvents"].bytes == len(answer.raw)
    assert spent["getEvents"].seconds > 0
    assert "connect" in spent and "setProject" in spent


async def test_the_password_never_reaches_a_log_line(ade: AdeSimulatorHandle,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-Pa55"
    # A fresh module logger: the shared one may have cached the app's configuration on first use
    # (cache_logger_on_first_use), which capture_logs cannot intercept.
    monkeypatch.setattr(client_module, "log", structlog.get_logger(client_module.__name__))
    with structlog.testing.capture_logs() as logs:
        async with AdeClient(ade.url, ade.login, secret, ade.project_id,
                             retry=RetryPolicy(retries=1, base_delay=0.01)) as c:
            with pytest.raises(AdeLoginError):
                await c.get_projects()
            assert secret not in repr(c)
        ade.set_faults(down="503")
        async with AdeClient(ade.url, ade.login, ade.password, ade.project_id,
                             retry=RetryPolicy(retries=1, base_delay=0.01)) as c:
            with pytest.raises(AdeUnavailable):
                await c.get_projects()
    assert logs
    assert secret not in repr(logs)
    assert not any("password=" in str(value) and "password=***" not in str(value)
                   for event in logs for value in event.values())


def test_resource_nodes_walk_in_ade_order() -> None:
    leaf = ResourceNode(tag="leaf", attributes={"id": "3"})
    tree = ResourceNode(tag="category", attributes={"category": "x"}, children=(
        ResourceNode(tag="branch", attributes={"id": "1"}, children=(leaf,)),
        ResourceNode(tag="leaf", attributes={"id": "2"})))
    assert [n.id for n in tree.walk()] == ["x", "1", "3", "2"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/jsp/webapi", "http://ade.invalid/jsp/webapi"],
                         ids=["refused", "unknown-host"])
async def test_an_unreachable_ade_fails_at_the_first_connection_and_stays_failed_until_reset(url: str) -> None:
    async with AdeClient(url, "login", "password", 1, retry=RetryPolicy(retries=3, base_delay=5)) as c:
        with pytest.raises(AdeUnreachable) as caught:
            await c.get_resource_tree(category="trainee")
        assert "cannot connect to ADE" in caught.value.message
        assert isinstance(caught.value, AdeUnavailable)  # callers that keep data on "unavailable" still do
        # No retry (its 5 s backoff would have shown), and later calls send nothing.
        assert c.stats.requests == 1 and c.stats.of("connect").retries == 0
        assert c.unreachable is not None
        with pytest.raises(AdeUnreachable):
            await c.get_events(weeks=[1], detail=7)
        assert c.stats.requests == 1
        c.reset_reachability()
        with pytest.raises(AdeUnreachable):
            await c.get_events(weeks=[1], detail=7)
        assert c.stats.requests == 2
