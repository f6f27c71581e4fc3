"""E-mail alerts end to end: opt-in, confirmation, a coalesced alert of a real sync's changes sent to
a real SMTP server (with failures injected), one-click unsubscribe; bad input stores nothing; a
worker killed between building and sending mails exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from commands.alerts.outbox import build_alerts, send_due, smtp_mailer
from commands.alerts.runner import run_alerts
from schedulesy.settings import Settings
from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.mirror import insert_user
from tests.fixtures.infra import replace_settings
from tests.fixtures.smtp import PrivateCA, Recorder, accept_login, running_smtp, with_mail
from tests.fixtures.sync import PARIS, Sync, near_event
from tests.fixtures.waiting import eventually

LINK = re.compile(r"https://testserver(/api/notifications/\w+)\?token=([\w-]+)")


@pytest.fixture
def settings(base_settings: Settings, smtp_server: Recorder) -> Settings:
    return with_mail(base_settings, smtp_server)


def free_day_in_near_term() -> dt.date:
    today = dt.datetime.now(PARIS).date()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=13)


def body(message: Any) -> str:
    return str(message.get_content())


async def count(pool: asyncpg.Pool, table: str) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM schedulesy.{table}"))


async def subscribe(api: AsyncTestClient[Any], make_token: TokenFactory, username: str, **wanted: Any) -> Any:
    return await api.put(f"/api/customization/{username}/notifications.json",
                         json={"email": f"{username}@example.org", "horizon_days": 30, **wanted},
                         headers=auth_header(make_token(username)))


async def deliver(pool: asyncpg.Pool, settings: Settings) -> int:
    return await send_due(pool, settings, smtp_mailer(settings))


async def due_alert(pool: asyncpg.Pool) -> None:
    """A confirmed subscriber (dora) and a change of her timetable not mailed yet: one alert is due."""
    await insert_user(pool, "dora", "1616")
    await pool.execute(
        """INSERT INTO schedulesy.alert_subscription (username, email, horizon_days, unsubscribe_token, confirmed_at)
           VALUES ('dora', 'dora@example.org', 14, $1, now() - interval '1 hour')""", "u" * 43)
    before = {"id": 7, "activity_id": 1, "repetition": 0, "session": 0, "name": "CM Analyse",
              "starts_at": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat(),
              "ends_at": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2, hours=2)).isoformat(),
              "date": "01/01/2030", "start_hour": "08:00", "end_hour": "10:00", "duration": 8, "color": "",
              "note": "", "last_update": None, "bookings": []}
    await pool.execute(
        """INSERT INTO schedulesy.event_history (kind, event_id, activity_id, repetition, session, starts_at,
                                                 before, resources)
           VALUES ('removed', 7, 1, 0, 0, now() + interval '2 days', $1::jsonb, '{1616}')""",
        before)


async def confirmed_subscriber(api: AsyncTestClient[Any], make_token: TokenFactory, pool: asyncpg.Pool,
                               settings: Settings, smtp_server: Recorder, username: str, ext_id: str,
                               lang: str = "fr") -> None:
    await insert_user(pool, username, ext_id)
    assert (await subscribe(api, make_token, username, lang=lang)).status_code == 200
    assert await deliver(pool, settings) == 1
    path, token = LINK.findall(body(smtp_server.messages.pop()))[0]
    assert path == "/api/notifications/confirm"
    assert (await api.get(path, params={"token": token})).status_code == 200


async def test_opt_in_confirm_coalesced_alert_with_smtp_failures_and_unsubscribe(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool, api: AsyncTestClient[Any],
        make_token: TokenFactory, settings: Settings, smtp_server: Recorder) -> None:
    await sync()
    moved, cancelled = near_event(ade), near_event(ade, skip=4)
    shown = {r["resource_ext_id"] for r in await pool.fetch(
        "SELECT resource_ext_id FROM schedulesy.timetable WHERE event_id = $1", moved)}
    both = await pool.fetchval(
        """SELECT resource_ext_id FROM schedulesy.timetable WHERE event_id = $1
           AND resource_ext_id = ANY($2::text[]) LIMIT 1""", cancelled, list(shown))
    ext_id = both or sorted(shown)[0]
    await insert_user(pool, "alice", ext_id)

    answer = await subscribe(api, make_token, "alice")
    assert answer.status_code == 200 and answer.json() == {
        "email": "alice@example.org", "horizon_days": 30, "lang": "fr", "confirmed": False}
    # Not confirmed yet: a change is not mailed.
    ade.delete_event(near_event(ade, skip=8))
    await sync()
    assert await build_alerts(pool, settings) == 0
    assert await deliver(pool, settings) == 1
    [confirmation] = smtp_server.messages
    assert confirmation["To"] == "alice@example.org"
    path, token = LINK.findall(body(confirmation))[0]
    assert (await api.get("/api/notifications/unsubscribe", params={"token": token})).status_code == 404
    assert (await api.get(path, params={"token": token})).status_code == 200
    assert (await api.get(path, params={"token": token})).status_code == 404  # once
    mine = await api.get("/api/customization/alice/notifications.json", headers=auth_header(make_token("alice")))
    assert mine.json()["confirmed"] is True
    smtp_server.messages.clear()

    name = ade.event(moved)["name"]
    ade.move_event(moved, date=free_day_in_near_term().isoformat(), start="14:00")
    ade.delete_event(cancelled)
    await sync()
    expected = await pool.fetchval(
        "SELECT count(*) FROM schedulesy.event_history WHERE resources && $1::text[] AND detected_at >= "
        "(SELECT confirmed_at FROM schedulesy.alert_subscription)", [ext_id])
    assert await build_alerts(pool, settings) == expected >= 1
    assert await build_alerts(pool, settings) == 0  # coalesced: one mail per delay, each change once

    smtp_server.refuse = True
    assert await deliver(pool, settings) == 0
    failed = await pool.fetchrow("SELECT attempts, next_attempt_at > now() AS later FROM schedulesy.alert_outbox "
                                 "WHERE purpose = 'alert'")
    assert failed["attempts"] == 1 and failed["later"]
    metrics = (await api.get("/metrics")).text
    assert "schedulesy_alert_outbox_unsent 1.0" in metrics
    assert "schedulesy_alert_outbox_oldest_unsent_age_seconds" in metrics
    assert await deliver(pool, settings) == 0  # not due yet
    smtp_server.refuse = False
    await pool.execute("UPDATE schedulesy.alert_outbox SET next_attempt_at = now()")  # the backoff has passed
    assert await deliver(pool, settings) == 1
    assert await deliver(pool, settings) == 0

    [alert] = smtp_server.messages
    text = body(alert)
    assert f"- {name} du " in text and " déplacé au " in text and "14:00" in text
    assert alert["Subject"].startswith("Votre emploi du temps a changé")
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = alert["List-Unsubscribe"].strip("<>")
    assert unsubscribe in text
    path, token = LINK.findall(unsubscribe)[0]
    assert (await api.get("/api/notifications/confirm", params={"token": token})).status_code == 404
    assert (await api.post(path, params={"token": token})).status_code == 200
    assert await count(pool, "alert_subscription") == 0
    assert (await api.post(path, params={"token": token})).status_code == 404


async def test_an_english_alert_speaks_english(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool, api: AsyncTestClient[Any],
        make_token: TokenFactory, settings: Settings, smtp_server: Recorder) -> None:
    await sync()
    cancelled = near_event(ade)
    ext_id = await pool.fetchval("SELECT resource_ext_id FROM schedulesy.timetable WHERE event_id = $1", cancelled)
    await confirmed_subscriber(api, make_token, pool, settings, smtp_server, "bob", ext_id, lang="en")
    ade.delete_event(cancelled)
    await sync()

    assert await build_alerts(pool, settings) == 1
    assert await deliver(pool, settings) == 1

    [alert] = smtp_server.messages
    assert alert["Subject"] == "Your timetable changed (1 change)"
    assert body(alert).count(" cancelled") == 1


async def test_a_worker_killed_between_built_and_sent_mails_exactly_once(
        sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool, api: AsyncTestClient[Any],
        make_token: TokenFactory, settings: Settings, smtp_server: Recorder, database_url: str) -> None:
    await sync()
    moved = near_event(ade)
    ext_id = await pool.fetchval("SELECT resource_ext_id FROM schedulesy.timetable WHERE event_id = $1", moved)
    await confirmed_subscriber(api, make_token, pool, settings, smtp_server, "carol", ext_id)
    ade.move_event(moved, date=free_day_in_near_term().isoformat(), start="14:00")
    await sync()

    # The first worker builds the mail on its own connections, then dies before sending.
    first = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert await build_alerts(first, settings) == 1
    first.terminate()

    # After the restart, two workers race: the mail goes once, and is never built again.
    sent = await asyncio.gather(deliver(pool, settings), deliver(pool, settings))
    assert sum(sent) == 1
    assert await build_alerts(pool, settings) == 0
    assert await deliver(pool, settings) == 0
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize("wanted", [
    {"email": "not-an-address", "horizon_days": 14},
    {"email": "a@example.org", "horizon_days": 0},
    {"email": "a@example.org", "horizon_days": 61},
    {"email": "a@example.org", "horizon_days": "14"},
    {"email": "a@example.org"},
    {"email": "a@example.org", "horizon_days": 14, "lang": "de"},
    {"email": "a@example.org", "horizon_days": 14, "extra": 1},
])
async def test_bad_input_is_a_400_and_stores_nothing(
        pool: asyncpg.Pool, api: AsyncTestClient[Any], make_token: TokenFactory, wanted: dict[str, Any]) -> None:
    await insert_user(pool, "alice", "1")
    answer = await api.put("/api/customization/alice/notifications.json", json=wanted,
                           headers=auth_header(make_token("alice")))
    assert answer.status_code == 400 and answer.json()["detail"]
    assert await count(pool, "alert_subscription") == 0 and await count(pool, "alert_outbox") == 0


async def test_only_the_owner_of_a_known_login_subscribes(
        pool: asyncpg.Pool, api: AsyncTestClient[Any], make_token: TokenFactory) -> None:
    await insert_user(pool, "alice", "1")
    wanted = {"email": "a@example.org", "horizon_days": 14}
    url = "/api/customization/alice/notifications.json"
    assert (await api.put(url, json=wanted, headers=auth_header(make_token("bob")))).status_code == 403
    admin = auth_header(make_token("admin", superuser=True))
    assert (await api.put(url, json=wanted, headers=admin)).status_code == 403
    assert (await api.put(url, json=wanted)).status_code == 403
    unknown = await api.put("/api/customization/nobody/notifications.json", json=wanted,
                            headers=auth_header(make_token("nobody")))
    assert unknown.status_code == 404
    assert (await api.get("/api/notifications/confirm", params={"token": "x" * 43})).status_code == 404
    assert await count(pool, "alert_subscription") == 0 and await count(pool, "alert_outbox") == 0


async def test_alerts_are_off_without_smtp(pool: asyncpg.Pool, base_settings: Settings,
                                           make_token: TokenFactory) -> None:
    from schedulesy.app import create_app

    await insert_user(pool, "alice", "1")
    async with AsyncTestClient(app=create_app(base_settings), base_url="https://testserver") as client:
        answer = await client.put("/api/customization/alice/notifications.json",
                                  json={"email": "a@example.org", "horizon_days": 14},
                                  headers=auth_header(make_token("alice")))
    assert answer.status_code == 503
    assert await count(pool, "alert_subscription") == 0


async def test_the_workers_mailer_leads_alone_and_sends_each_due_mail_once(
        pool: asyncpg.Pool, settings: Settings, smtp_server: Recorder) -> None:
    await due_alert(pool)

    workers = [asyncio.create_task(run_alerts(settings, tick=0.05)) for _ in range(2)]
    try:
        await eventually(lambda: len(smtp_server.messages) >= 1, "the alert is mailed")
        await eventually(lambda: pool.fetchval(
            "SELECT bool_and(sent_at IS NOT NULL) FROM schedulesy.alert_outbox"), "the outbox is marked sent")
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    assert len(smtp_server.messages) == 1
    assert "CM Analyse du " in body(smtp_server.messages[0])


async def test_without_smtp_the_mailer_does_not_run(base_settings: Settings) -> None:
    await asyncio.wait_for(run_alerts(base_settings), timeout=5)


async def test_the_owner_reads_and_stops_their_alerts(
        pool: asyncpg.Pool, api: AsyncTestClient[Any], make_token: TokenFactory) -> None:
    await insert_user(pool, "alice", "1")
    headers = auth_header(make_token("alice"))
    url = "/api/customization/alice/notifications.json"
    assert (await api.get(url, headers=headers)).status_code == 404
    assert (await subscribe(api, make_token, "alice", lang="en", horizon_days=7)).status_code == 200
    assert (await api.get(url, headers=headers)).json() == {
        "email": "alice@example.org", "horizon_days": 7, "lang": "en", "confirmed": False}
    assert (await api.delete(url, headers=auth_header(make_token("bob")))).status_code == 403
    assert (await api.delete(url, headers=headers)).status_code == 204
    assert await count(pool, "alert_subscription") == 0
    assert (await api.delete(url, headers=headers)).status_code == 404


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_credentials_come_from_the_url_percent_decoded(
        pool: asyncpg.Pool, base_settings: Settings, smtp_server: Recorder) -> None:
    no_tls = {"auth_required": True, "auth_require_tls": False}  # AUTH in clear: only the decoding is tested here
    with running_smtp(smtp_server, authenticator=accept_login("mailer", "p@ss word"), **no_tls) as port:
        await pool.execute(
            """INSERT INTO schedulesy.alert_outbox (username, purpose, recipient, message)
               VALUES ('alice', 'confirm', 'alice@example.org', $1)""",
            b"From: a@example.org\r\nTo: alice@example.org\r\nSubject: hi\r\n\r\nhello\r\n")
        right = relay(base_settings, f"smtp://mailer:p%40ss%20word@127.0.0.1:{port}")
        assert await deliver(pool, right) == 1
    [message] = smtp_server.messages
    assert message["Subject"] == "hi" and message["Message-ID"].startswith("<alert-")


def relay(settings: Settings, url: str) -> Settings:
    return replace_settings(settings, smtp_url=url, mail_from="Schedulesy <alerts@example.org>")


def tls_options(ca: PrivateCA, scheme: str) -> dict[str, Any]:
    """The server side of ``scheme``: STARTTLS offered (AUTH only once encrypted), or TLS from the start
    (aiosmtpd only offers AUTH there when told not to wait for a STARTTLS that will not come)."""
    if scheme == "smtps":
        return {"ssl_context": ca.server_context(), "auth_require_tls": False}
    return {"tls_context": ca.server_context()}


async def outbox_row(pool: asyncpg.Pool) -> Any:
    return await pool.fetchrow(
        """SELECT attempts, last_error, sent_at IS NULL AS unsent, message IS NOT NULL AS kept,
                  next_attempt_at - now() AS wait FROM schedulesy.alert_outbox""")


async def backoff_passes(pool: asyncpg.Pool) -> None:
    await pool.execute("UPDATE schedulesy.alert_outbox SET next_attempt_at = now()")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("url", ["smtp://mailer:s3cret@127.0.0.1:{port}",
                                 "smtp://mailer:s3cret@127.0.0.1:{port}?starttls=require",
                                 "smtps://mailer:s3cret@127.0.0.1:{port}"])
async def test_an_alert_goes_encrypted_to_a_relay_signed_by_a_private_ca_the_operator_trusts(
        pool: asyncpg.Pool, base_settings: Settings, test_ca: PrivateCA, trust_test_ca: None, url: str) -> None:
    server = Recorder()
    options = tls_options(test_ca, url.partition(":")[0])
    with running_smtp(server, authenticator=accept_login("mailer", "s3cret"), auth_required=True, **options) as port:
        settings = relay(base_settings, url.format(port=port))
        await due_alert(pool)
        assert await build_alerts(pool, settings) == 1
        assert await deliver(pool, settings) == 1
    [alert] = server.messages
    assert server.encrypted == [True]
    assert alert["To"] == "dora@example.org" and "CM Analyse du " in body(alert)


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
async def test_a_relay_whose_certificate_is_not_trusted_gets_nothing_and_the_mail_waits(
        pool: asyncpg.Pool, base_settings: Settings, test_ca: PrivateCA, monkeypatch: pytest.MonkeyPatch,
        scheme: str) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # the system's CAs only: ours is not among them
    server = Recorder()
    with running_smtp(server, **tls_options(test_ca, scheme)) as port:
        settings = relay(base_settings, f"{scheme}://127.0.0.1:{port}")
        await due_alert(pool)
        assert await build_alerts(pool, settings) == 1
        assert await deliver(pool, settings) == 0  # no fallback to clear text either
    row = await outbox_row(pool)
    assert row["attempts"] == 1 and row["unsent"] and row["kept"] and "certificate" in row["last_error"].lower()
    assert server.messages == []


async def test_starttls_required_from_a_relay_without_it_is_a_failed_attempt_and_the_mail_waits(
        pool: asyncpg.Pool, base_settings: Settings, smtp_server: Recorder, test_ca: PrivateCA,
        trust_test_ca: None) -> None:
    plain = relay(base_settings, f"smtp://127.0.0.1:{smtp_server.port}?starttls=require")
    await due_alert(pool)
    assert await build_alerts(pool, plain) == 1
    assert await deliver(pool, plain) == 0
    row = await outbox_row(pool)
    assert row["attempts"] == 1 and row["unsent"] and row["kept"] and row["wait"] > dt.timedelta(seconds=20)
    assert "STARTTLS" in row["last_error"]
    assert smtp_server.messages == []
    assert await deliver(pool, plain) == 0  # not due yet

    # The relay gets its certificate: the waiting mail goes, encrypted.
    with running_smtp(smtp_server, **tls_options(test_ca, "smtp")) as port:
        await backoff_passes(pool)
        assert await deliver(pool, relay(base_settings, f"smtp://127.0.0.1:{port}?starttls=require")) == 1
    assert smtp_server.encrypted == [True]


async def test_a_refused_login_is_a_failed_attempt_retried_with_a_growing_delay(
        pool: asyncpg.Pool, base_settings: Settings, test_ca: PrivateCA, trust_test_ca: None) -> None:
    server = Recorder()
    options = tls_options(test_ca, "smtp")
    with running_smtp(server, authenticator=accept_login("mailer", "s3cret"), auth_required=True, **options) as port:
        wrong = relay(base_settings, f"smtp://mailer:wrong@127.0.0.1:{port}")
        await due_alert(pool)
        assert await build_alerts(pool, wrong) == 1
        assert await deliver(pool, wrong) == 0
        first = await outbox_row(pool)
        assert first["attempts"] == 1 and first["unsent"] and first["kept"] and "535" in first["last_error"]
        await backoff_passes(pool)
        assert await deliver(pool, wrong) == 0
        second = await outbox_row(pool)
        assert second["attempts"] == 2 and second["wait"] > first["wait"] > dt.timedelta(seconds=20)

        # The password is fixed: the mail that waited goes.
        await backoff_passes(pool)
        assert await deliver(pool, relay(base_settings, f"smtp://mailer:s3cret@127.0.0.1:{port}")) == 1
    assert len(server.messages) == 1 and "CM Analyse du " in body(server.messages[0])
