"""The Postgres pool and the migration runner."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

import asyncpg
import msgspec

from schedulesy.locks import LockId

ALWAYS_SUFFIX = ".always.sql"


class MigrationError(RuntimeError):
    """The database disagrees with the migration files (an applied file was edited), or there are none."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=lambda v: msgspec.json.encode(v).decode(), decoder=msgspec.json.decode,
            schema="pg_catalog",
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections encode/decode json and jsonb with msgspec."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=120,
        # JIT compilation costs ~250 ms on the read-model loaders and never pays off on our short queries.
        server_settings={"jit": "off"},
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection configured like the pool's (for listeners and CLI tools)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def always(self) -> bool:
        return self.name.endswith(ALWAYS_SUFFIX)


def bundled_migrations() -> Traversable:
    """The package's ``migrations`` folder: in a checkout, a link to the top-level ``sql/``;
    in a wheel, a copy of its files (so an installed package finds them too)."""
    return files("schedulesy") / "migrations"


def migration_files(directory: Traversable | None = None) -> list[Migration]:
    """The ``*.sql`` files of ``directory`` (default: the bundled ones), in name order."""
    directory = bundled_migrations() if directory is None else directory
    if not directory.is_dir():
        return []
    found = sorted((p for p in directory.iterdir() if p.name.endswith(".sql") and p.is_file()), key=lambda p: p.name)
    return [Migration(p.name, p.read_text(encoding="utf-8")) for p in found]


async def migrate(dsn: str, directory: Traversable | None = None) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return their names.

    Applied files are recorded with a checksum: editing one afterwards is an error, not a
    silent divergence. ``*.always.sql`` files (idempotent fix-ups) run every time, unrecorded.
    No migration file at all is an error too: a package built without them must not report
    an empty database as up to date.
    """
    migrations = migration_files(directory)
    if not migrations:
        where = bundled_migrations() if directory is None else directory
        raise MigrationError(f"no migration files (*.sql) found in {where}")
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LockId.MIGRATION)
        await conn.execute(
            """
            CREATE SCHEMA IF NOT EXISTS schedulesy;
            CREATE TABLE IF NOT EXISTS schedulesy.migration (
                name       text PRIMARY KEY,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            """
        )
        recorded = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schedulesy.migration")}
        for migration in migrations:
            if migration.always:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                continue
            if migration.name in recorded:
                if recorded[migration.name] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} was edited after it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schedulesy.migration (name, checksum) VALUES ($1, $2)",
                    migration.name, migration.checksum,
                )
            applied_now.append(migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LockId.MIGRATION)
        await conn.close()
    return applied_now


async def ensure_database(dsn: str) -> bool:
    """Create the database named in ``dsn`` when it does not exist (dev, demo, tests)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not name:
        return False
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()
