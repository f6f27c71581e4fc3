"""``schedulesy import-original``: the original's keys and settings, imported from a database with
its exact schema (tests/fixtures/original.py), then read back through the HTTP API with no worker
running (read-your-writes), re-imported (a no-op), imported after a crash, dry-run and verified.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from commands.import_original import ImportFailed, import_users, read_source
from commands.import_report import ImportReport
from commands.original_source import SourceUnavailable, run_import, verify
from projections.readmodels import ReadModels
from schedulesy.services import Services
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.mirror import GROUP, ROOM, SUBJECT, insert_access, insert_user, seed_university
from tests.fixtures.original import Original, OriginalAccess, new_key

SCHEDULESY = str(Path(sys.executable).with_name("schedulesy"))
T0 = datetime(2021, 9, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)
ALICE_SETTINGS = {"theme": "dark", "darkMode": True, "weekdays": [1, 2, 3, 4, 5], "displayMode": "week"}


def access(name: str, minutes: int = 0, key: str | None = None) -> OriginalAccess:
    return OriginalAccess(key or new_key(), name, T0 + timedelta(minutes=minutes))


class Case:
    """The original's users, every conflict included, and what an import must leave here."""

    def __init__(self) -> None:
        self.taken_key = new_key()
        self.alice = [access("alice"), access("phone", 1), access("laptop", 2, new_key().upper())]
        self.bob = [access("bob"), access("tablet", 5)]
        self.carol = [access("carol")]
        self.erin = [access("erin"), access("stolen", 1, self.taken_key)]
        self.frank = [access("frank")]
        # no URL of ours carries a UUID spelled without its dashes either
        self.grace = [access("grace"), access("chosen", 1, "my-own-key"), access("bare", 2, new_key().replace("-", ""))]
        self.served = {"alice": self.alice, "bob": self.bob, "carol": self.carol,
                       "erin": self.erin[:1], "grace": self.grace[:1]}


@pytest.fixture
async def case(original: Original, pool: asyncpg.Pool) -> Case:
    """alice (settings, three keys, one in capitals), bob (null settings), carol (settings that are
    a list), dave (no w_edtperso row here), erin (one key already held here by zoe), frank (who
    already has an access named "frank" here), grace (keys that are no UUID of ours, settings a JSON null)."""
    c = Case()
    await seed_university(pool)
    for username, selection in (("alice", SUBJECT), ("bob", ROOM), ("carol", GROUP), ("erin", ROOM),
                                ("frank", ROOM), ("grace", GROUP), ("zoe", ROOM)):
        await insert_user(pool, username, selection)
    await pool.execute("INSERT INTO schedulesy.access (key, username, name) VALUES ($1, 'zoe', 'zoe')",
                       uuid.UUID(c.taken_key))
    await insert_access(pool, "frank")
    await original.add_user("alice", ALICE_SETTINGS, c.alice)
    await original.add_user("bob", None, c.bob)
    await original.add_user("carol", ["not", "an", "object"], c.carol)
    await original.add_user("dave", {"theme": "light"}, [access("dave")])
    await original.add_user("erin", {"theme": "light"}, c.erin)
    await original.add_user("frank", None, c.frank)
    await original.add_user("grace", None, c.grace)
    await original.conn.execute("UPDATE ade_api_localcustomization SET configuration = 'null' WHERE uid = 'grace'")
    return c


async def import_all(original: Original, services: Services, **options: Any) -> ImportReport:
    conn = await asyncpg.connect(original.dsn)
    try:
        users = await read_source(conn)
    finally:
        await conn.close()
    async with services.pool.acquire() as ours:
        return await import_users(ours, users, ReadModels(services), **options)


async def our_rows(pool: asyncpg.Pool) -> tuple[list[Any], list[Any]]:
    accesses = await pool.fetch("SELECT key, username, name, created_at FROM schedulesy.access ORDER BY key")
    configs = await pool.fetch("SELECT username, configuration FROM schedulesy.customization_config ORDER BY 1")
    return [tuple(r) for r in accesses], [tuple(r) for r in configs]


def assert_first_import(report: ImportReport) -> None:
    assert report.users.imported == 5  # alice, bob, carol, erin, grace
    assert report.users.unchanged == 1  # frank: nothing importable
    assert report.users.skipped == {"no_w_edtperso_row": 1}
    assert (report.configurations.imported, report.configurations.null) == (2, 3)  # alice, erin; bob, frank, grace
    assert report.configurations.skipped == {"not_an_object": 1, "no_w_edtperso_row": 1}
    assert report.keys.imported == 8
    assert report.keys.skipped == {"held_by_another_user": 1, "name_taken": 1, "not_a_uuid": 2,
                                   "no_w_edtperso_row": 1}
    reasons = {(c.username, c.what, c.reason) for c in report.conflicts}
    assert reasons == {("dave", "user", "no_w_edtperso_row"), ("carol", "configuration", "not_an_object"),
                       ("erin", "key", "held_by_another_user"), ("frank", "key", "name_taken"),
                       ("grace", "key", "not_a_uuid")}


async def test_every_key_serves_its_owners_calendar_and_settings_come_back(
    case: Case, original: Original, services: Services, api: AsyncTestClient, make_token: TokenFactory
) -> None:
    looked_up_before = case.alice[1].key
    assert (await api.get(f"/api/calendar/{looked_up_before}/export")).status_code == 404  # remembered 30 s

    report = await import_all(original, services, batch_size=2)

    assert_first_import(report)
    for owner, accesses in case.served.items():
        bodies = set()
        for a in accesses:
            response = await api.get(f"/api/calendar/{a.key}/export")
            assert response.status_code == 200, (owner, a.name, response.text)
            assert response.headers["content-type"].startswith("text/calendar")
            bodies.add(response.text)
        assert len(bodies) == 1, owner  # every key of one owner serves the same calendar
    alice_ics = (await api.get(f"/api/calendar/{case.alice[0].key}/export")).text
    bob_ics = (await api.get(f"/api/calendar/{case.bob[0].key}/export")).text
    assert "Cours de biologie" in alice_ics and "Cours de biologie" not in bob_ics
    assert "SUMMARY:M2 GROUPE C1 INTERC" in bob_ics
    for refused in (case.grace[1].key, case.frank[0].key):
        assert (await api.get(f"/api/calendar/{refused}/export")).status_code == 404
    assert (await api.get(f"/api/calendar/{case.taken_key}/export")).status_code == 200  # still zoe's

    listed = await api.get("/api/customization/alice/uuid.json", headers=auth_header(make_token("alice")))
    assert listed.status_code == 200, listed.text
    assert [(a["name"], a["key"]) for a in listed.json()] == [(a.name, str(uuid.UUID(a.key))) for a in case.alice]
    assert datetime.fromisoformat(listed.json()[0]["creation_date"]) == T0
    expected = {"alice": ALICE_SETTINGS, "bob": None, "carol": None, "erin": {"theme": "light"}}
    for username, configuration in expected.items():
        got = await api.get(f"/legacy/customization/{username}.json", headers=auth_header(make_token(username)))
        assert got.status_code == 200 and got.json()["configuration"] == configuration, (username, got.text)


async def test_a_second_run_changes_nothing_and_says_so(
    case: Case, original: Original, services: Services, pool: asyncpg.Pool
) -> None:
    await import_all(original, services)
    rows, changes = await our_rows(pool), await pool.fetchval("SELECT count(*) FROM schedulesy.change")

    again = await import_all(original, services)

    assert (again.users.imported, again.configurations.imported, again.keys.imported) == (0, 0, 0)
    assert (again.users.unchanged, again.configurations.unchanged, again.keys.unchanged) == (6, 2, 8)
    assert await our_rows(pool) == rows
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.change") == changes


async def clean_import_rows(original: Original, services: Services, pool: asyncpg.Pool) -> tuple[list[Any], list[Any]]:
    await import_all(original, services)
    return await our_rows(pool)


async def test_a_run_stopped_after_its_first_batch_then_restarted_ends_the_same(
    case: Case, original: Original, services: Services, pool: asyncpg.Pool
) -> None:
    def crash(index: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await import_all(original, services, batch_size=2, after_batch=crash)
    partial = await our_rows(pool)
    assert {row[1] for row in partial[0]} == {"alice", "bob", "frank", "zoe"}  # the first batch: alice, bob

    await import_all(original, services, batch_size=2)
    resumed = await our_rows(pool)
    await pool.execute("DELETE FROM schedulesy.access WHERE created_at < '2022-01-01'")
    await pool.execute("DELETE FROM schedulesy.customization_config")
    assert await clean_import_rows(original, services, pool) == resumed


async def test_a_failed_batch_writes_nothing_and_a_rerun_finishes_the_job(
    case: Case, original: Original, services: Services, pool: asyncpg.Pool
) -> None:
    await pool.execute("""
        CREATE FUNCTION public.refuse_erin() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN IF NEW.username = 'erin' THEN RAISE EXCEPTION 'disk full (simulated)'; END IF; RETURN NEW; END $$
    """)
    await pool.execute("CREATE TRIGGER refuse_erin BEFORE INSERT ON schedulesy.access "
                       "FOR EACH ROW EXECUTE FUNCTION public.refuse_erin()")
    try:
        with pytest.raises(ImportFailed) as failed:
            await import_all(original, services, batch_size=2)  # batches: alice+bob, carol+dave, erin+frank
    finally:
        await pool.execute("DROP TRIGGER refuse_erin ON schedulesy.access; DROP FUNCTION public.refuse_erin()")
    assert failed.value.report.batches_done == 2
    assert "erin" in str(failed.value) and "disk full" in str(failed.value)
    rows = await our_rows(pool)
    assert {row[1] for row in rows[0]} == {"alice", "bob", "carol", "frank", "zoe"}
    assert "erin" not in {row[0] for row in rows[1]}  # the failed batch's configuration neither

    report = await import_all(original, services, batch_size=2)
    assert report.keys.imported == 2 and report.keys.unchanged == 6  # erin's and grace's
    resumed = await our_rows(pool)
    await pool.execute("DELETE FROM schedulesy.access WHERE created_at < '2022-01-01'")
    await pool.execute("DELETE FROM schedulesy.customization_config")
    assert await clean_import_rows(original, services, pool) == resumed


async def test_a_dry_run_prints_the_same_summary_and_writes_nothing(
    case: Case, original: Original, services: Services, pool: asyncpg.Pool
) -> None:
    before = await our_rows(pool), await pool.fetchval("SELECT count(*) FROM schedulesy.change")

    dry = await import_all(original, services, dry_run=True, batch_size=3)

    assert (await our_rows(pool), await pool.fetchval("SELECT count(*) FROM schedulesy.change")) == before
    assert_first_import(dry)
    assert dry.lines(dry_run=True)[1:] == (await import_all(original, services)).lines()[1:]


async def test_a_username_longer_than_ours_is_reported(
    original: Original, services: Services, pool: asyncpg.Pool
) -> None:
    long_name = "x" * 40
    await original.conn.execute("ALTER TABLE ade_api_localcustomization ALTER COLUMN uid TYPE varchar(64)")
    try:
        await original.add_user(long_name, {"theme": "dark"}, [access(long_name)])
        report = await import_all(original, services)
    finally:
        await original.conn.execute("TRUNCATE ade_api_localcustomization CASCADE; "
                                    "ALTER TABLE ade_api_localcustomization ALTER COLUMN uid TYPE varchar(32)")
    assert report.users.skipped == {"username_too_long": 1}
    assert report.keys.skipped == {"username_too_long": 1}
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access") == 0


async def test_verify_compares_both_databases(case: Case, original: Original, services: Services,
                                              pool: asyncpg.Pool) -> None:
    lines: list[str] = []
    async with services.pool.acquire() as conn:
        assert await verify(original.dsn, conn, print_line=lines.append) == 1  # nothing imported yet
        await import_all(original, services)
        lines.clear()
        assert await verify(original.dsn, conn, print_line=lines.append) == 1  # the conflicts remain
        assert any("'dave': no w_edtperso row here" in line for line in lines)
        assert any(case.erin[1].key in line and "owned here by 'zoe'" in line for line in lines)

        await original.conn.execute("DELETE FROM ade_api_localcustomization WHERE uid IN ('carol', 'dave', 'erin', "
                                    "'frank', 'grace')")
        lines.clear()
        assert await verify(original.dsn, conn, print_line=lines.append) == 0, lines
        assert lines[-1] == "verify: equal"

        await pool.execute("UPDATE schedulesy.access SET name = 'renamed' WHERE key = $1", uuid.UUID(case.bob[1].key))
        lines.clear()
        assert await verify(original.dsn, conn, print_line=lines.append) == 1
        assert any(case.bob[1].key in line and "differ" in line for line in lines)


async def test_an_unreachable_or_foreign_source_is_one_clear_failure(
    services: Services, settings: Settings
) -> None:
    async with services.pool.acquire() as conn:
        with pytest.raises(SourceUnavailable, match=r"127\.0\.0\.1:1 \(--from\)"):
            await run_import("postgresql://postgres@127.0.0.1:1/x", conn, ReadModels(services), dry_run=False)
        with pytest.raises(SourceUnavailable, match="no table ade_api_localcustomization"):
            await run_import(settings.database_url, conn, ReadModels(services), dry_run=False)


def console(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULESY_")}
    env.update({"SCHEDULESY_DATABASE_URL": settings.database_url, "SCHEDULESY_REDIS_URL": settings.redis_url,
                "SCHEDULESY_REDIS_PREFIX": settings.redis_prefix, "SCHEDULESY_LOG_LEVEL": "warning"})
    return subprocess.run([SCHEDULESY, "import-original", *args], env=env, capture_output=True, text=True,
                          timeout=120)


async def test_the_console_script(case: Case, original: Original, settings: Settings, api: AsyncTestClient,
                                  pool: asyncpg.Pool) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return console(settings, *args)

    dry = run("--from", original.dsn, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run, nothing written" in dry.stdout and "keys: 8 imported" in dry.stdout
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access") == 2

    done = run("--from", original.dsn)
    assert done.returncode == 0, done.stderr
    assert "users: 5 imported, 1 unchanged, 1 skipped (no_w_edtperso_row: 1)" in done.stdout
    assert "conflict: key of 'erin': held_by_another_user" in done.stdout
    assert (await api.get(f"/api/calendar/{case.alice[2].key}/export")).status_code == 200

    again = run("--from", original.dsn)
    assert again.returncode == 0 and "keys: 0 imported, 8 unchanged" in again.stdout, again.stdout

    assert run("--from", original.dsn, "--verify").returncode == 1
    unreachable = run("--from", "postgresql://postgres@127.0.0.1:1/x")
    assert unreachable.returncode == 2 and len(unreachable.stderr.strip().splitlines()) == 1, unreachable.stderr
    assert "(--from)" in unreachable.stderr and "Traceback" not in unreachable.stderr
    assert run("--dry-run").returncode == 2  # --from is required
