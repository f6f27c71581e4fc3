import asyncio

import asyncpg
import pytest

from schedulesy import cli, db
from schedulesy.changes import CHANNEL, Topic


async def test_migrations_applied_twice_change_nothing(database_url: str) -> None:
    assert await db.migrate(database_url) == []
    conn = await asyncpg.connect(database_url)
    try:
        before = await conn.fetch("SELECT name, checksum FROM schedulesy.migration ORDER BY name")
        default = await conn.fetchval(
            "SELECT column_default FROM information_schema.columns WHERE table_name = 'w_edtperso' AND column_name = 'id'"
        )
        assert await db.migrate(database_url) == []
        after = await conn.fetch("SELECT name, checksum FROM schedulesy.migration ORDER BY name")
    finally:
        await conn.close()
    assert before == after
    assert "w_edtperso_id_seq" in default


async def test_an_edited_applied_migration_is_refused(database_url: str, tmp_path) -> None:
    for migration in db.migration_files():
        (tmp_path / migration.name).write_text(migration.sql)
    (tmp_path / "001_legacy_w_edtperso.sql").write_text("-- edited\n" + db.migration_files()[0].sql)
    try:
        await db.migrate(database_url, tmp_path)
    except db.MigrationError as exc:
        assert "001_legacy_w_edtperso.sql" in str(exc)
    else:
        raise AssertionError("an edited migration was accepted")


async def test_no_migration_file_at_all_is_an_error_not_up_to_date(database_url: str, tmp_path) -> None:
    with pytest.raises(db.MigrationError, match="no migration files"):
        await db.migrate(database_url, tmp_path)


def test_migrate_without_migration_files_exits_with_one_line(database_url: str, tmp_path, monkeypatch, capsys) -> None:
    from schedulesy import settings as settings_module

    monkeypatch.setattr(db, "bundled_migrations", lambda: tmp_path)
    # Logs configured now would keep writing to this test's captured stderr, closed after it.
    monkeypatch.setattr("schedulesy.logging.configure_logging", lambda *args: None)
    monkeypatch.setenv("SCHEDULESY_DATABASE_URL", database_url)
    settings_module.get_settings.cache_clear()
    try:
        assert cli.main(["migrate"]) != 0
    finally:
        settings_module.get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert "up to date" not in out
    assert err.strip().splitlines() == [f"schedulesy migrate: no migration files (*.sql) found in {tmp_path}"]


def test_the_checkout_bundles_the_top_level_sql_folder() -> None:
    from pathlib import Path

    top_level = Path(db.__file__).resolve().parents[1] / "sql"
    assert [m.name for m in db.migration_files()] == sorted(p.name for p in top_level.glob("*.sql"))


async def test_sequence_fixup_places_ids_after_existing_rows(pool: asyncpg.Pool, database_url: str) -> None:
    await pool.execute("INSERT INTO w_edtperso (id, uid, uds_directory_id) VALUES (90000041, 'legacy', 'd41')")
    await db.migrate(database_url)
    new_id = await pool.fetchval(
        "INSERT INTO w_edtperso (uid, uds_directory_id) VALUES ('fresh', 'd42') RETURNING id"
    )
    assert new_id == 90000042


async def test_sql_update_by_another_tool_logs_a_change_and_notifies(pool: asyncpg.Pool, database_url: str) -> None:
    await pool.execute("INSERT INTO w_edtperso (uid, ressources, uds_directory_id) VALUES ('jdupont', '1616', 'd1')")
    listener = await asyncpg.connect(database_url)
    received: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: received.put_nowait(args[3]))
    try:
        before = await pool.fetchval("SELECT count(*) FROM schedulesy.change")
        await pool.execute("UPDATE w_edtperso SET ressources = '1616,23390' WHERE uid = 'jdupont'")
        assert await asyncio.wait_for(received.get(), 5) == Topic.USER
    finally:
        await listener.close()
    rows = await pool.fetch("SELECT topic, key FROM schedulesy.change ORDER BY id OFFSET $1", before)
    assert [(r["topic"], r["key"]) for r in rows] == [(Topic.USER, "jdupont")]


async def test_a_write_that_changes_nothing_logs_nothing(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO w_edtperso (uid, ressources, uds_directory_id) VALUES ('a', '1', 'd1')")
    before = await pool.fetchval("SELECT count(*) FROM schedulesy.change")
    await pool.execute("UPDATE w_edtperso SET ressources = '1' WHERE uid = 'a'")
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.change") == before


async def test_bulk_writes_log_only_rows_that_really_changed(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO schedulesy.resource (ext_id, category, name, fields) VALUES "
        "('1', 'trainee', 'A', '{}'), ('2', 'trainee', 'B', '{}'), ('3', 'trainee', 'C', '{}')"
    )
    before = await pool.fetchval("SELECT max(id) FROM schedulesy.change")
    await pool.execute("UPDATE schedulesy.resource SET name = 'B'")
    rows = await pool.fetch("SELECT topic, key FROM schedulesy.change WHERE id > $1 ORDER BY key", before)
    assert [(r["topic"], r["key"]) for r in rows] == [(Topic.RESOURCE, "1"), (Topic.RESOURCE, "3")]


async def test_a_login_rename_logs_the_old_and_the_new_user(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO w_edtperso (uid, uds_directory_id) VALUES ('old', 'd1')")
    before = await pool.fetchval("SELECT max(id) FROM schedulesy.change")
    await pool.execute("UPDATE w_edtperso SET uid = 'new' WHERE uid = 'old'")
    rows = await pool.fetch("SELECT key FROM schedulesy.change WHERE id > $1 ORDER BY key", before)
    assert [r["key"] for r in rows] == ["new", "old"]


async def test_a_login_renamed_by_another_tool_keeps_its_accesses_and_configuration(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO w_edtperso (uid, uds_directory_id) VALUES ('spauser', 'd1')")
    await pool.execute(
        "INSERT INTO schedulesy.access (key, username, name) VALUES (gen_random_uuid(), 'spauser', 'spauser')"
    )
    await pool.execute(
        "INSERT INTO schedulesy.customization_config (username, configuration) VALUES ('spauser', '{\"theme\": \"pastel\"}')"
    )
    await pool.execute("UPDATE w_edtperso SET uid = 'renamed' WHERE uid = 'spauser'")
    assert await pool.fetchval("SELECT username FROM schedulesy.access") == "renamed"
    assert await pool.fetchval("SELECT username FROM schedulesy.customization_config") == "renamed"
    changes = await pool.fetch("SELECT topic, key FROM schedulesy.change WHERE topic = $1", Topic.ACCESS)
    assert changes, "moving the access must reach the projector"


async def test_a_rename_onto_a_login_that_has_rows_never_fails_the_other_tools_write(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO w_edtperso (uid, uds_directory_id) VALUES ('a', 'd1')")
    for user in ("a", "b"):
        await pool.execute(
            "INSERT INTO schedulesy.access (key, username, name) VALUES (gen_random_uuid(), $1, 'phone')", user
        )
        await pool.execute(
            "INSERT INTO schedulesy.customization_config (username, configuration) VALUES ($1, '{}')", user
        )
    await pool.execute("UPDATE w_edtperso SET uid = 'b' WHERE uid = 'a'")
    assert await pool.fetchval("SELECT count(*) FROM schedulesy.access WHERE username = 'a'") == 1
