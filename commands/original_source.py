"""The original's database as ``import-original`` sees it: reached once, checked, read, and compared
with ours (``--verify``).

A source that cannot be reached or is not the original's database is an :class:`SourceUnavailable`,
one line naming ``--from`` and its host:port (the CLI's exit code 2), before anything is written.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import asyncpg

from commands.common import ReadModelUpdates
from commands.import_original import (
    BATCH_USERS,
    SOURCE_TABLES,
    ImportFailed,
    SourceAccess,
    SourceUser,
    import_users,
    parse_key,
    read_source,
)
from schedulesy.failures import CONNECT_TIMEOUT_SECONDS, endpoint

VERIFY_SAMPLE = 1000
DIFFERENCES_SHOWN = 20


class SourceUnavailable(Exception):
    """The original's database cannot be used: ``str()`` is the one line to print."""


def _where(dsn: str) -> str:
    try:
        return endpoint(dsn)
    except Exception:
        return "?"


async def open_source(dsn: str) -> asyncpg.Connection:
    """A connection to the original's database, whose two tables exist, or :class:`SourceUnavailable`."""
    where = _where(dsn)
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise SourceUnavailable(f"cannot reach the original's database at {where} (--from): {reason}") from exc
    for table in SOURCE_TABLES:
        if await conn.fetchval("SELECT to_regclass($1)", table) is None:
            await conn.close()
            raise SourceUnavailable(
                f"the database at {where} (--from) has no table {table}: is it the original's database?")
    return conn


async def run_import(
    source_dsn: str, conn: asyncpg.Connection, read_models: ReadModelUpdates, *, dry_run: bool,
    print_line: Callable[[str], None] = print, batch_size: int = BATCH_USERS,
) -> int:
    """The command: 0 done, 1 a batch failed (the ones before it stay), :class:`SourceUnavailable` else."""
    users = await _read(source_dsn)
    try:
        report = await import_users(conn, users, read_models, dry_run=dry_run, batch_size=batch_size)
    except ImportFailed as failed:
        for line in failed.report.lines():
            print_line(line)
        print_line(f"import-original failed: {failed}; run it again once the cause is fixed "
                   "(committed batches count as unchanged)")
        return 1
    for line in report.lines(dry_run=dry_run):
        print_line(line)
    return 0


async def _read(source_dsn: str) -> list[SourceUser]:
    source = await open_source(source_dsn)
    try:
        return await read_source(source)
    finally:
        await source.close()


async def verify(
    source_dsn: str, conn: asyncpg.Connection, *, sample: int = VERIFY_SAMPLE,
    print_line: Callable[[str], None] = print, rng: random.Random | None = None,
) -> int:
    """Compare both databases: 0 when every user, configuration and key of the original is here
    as it is there (counts over everything, field by field on a sample of keys), 1 otherwise."""
    users = await _read(source_dsn)
    differences: list[str] = []
    names = [u.username for u in users]
    customizations = {row["uid"] for row in await conn.fetch(
        "SELECT DISTINCT uid FROM public.w_edtperso WHERE uid = ANY($1::text[])", names)}
    differences += [f"user {name!r}: no w_edtperso row here" for name in names if name not in customizations]

    objects = [u for u in users if u.configuration_kind == "object"]
    equal = {row["username"] for row in await conn.fetch(
        """SELECT c.username FROM unnest($1::text[], $2::text[]) AS s(username, configuration)
             JOIN schedulesy.customization_config c
               ON c.username = s.username AND c.configuration = s.configuration::jsonb""",
        [u.username for u in objects], [u.configuration for u in objects])}
    differences += [f"configuration of {u.username!r}: not here or different" for u in objects
                    if u.username not in equal]
    differences += [f"configuration of {u.username!r}: a JSON {u.configuration_kind} in the original, "
                    "not importable" for u in users if u.configuration_kind not in (None, "object")]

    accesses = [(u.username, a) for u in users for a in u.accesses]
    keys = [k for _, a in accesses if (k := parse_key(a.key)) is not None]
    owners = {row["key"]: row["username"] for row in await conn.fetch(
        "SELECT key, username FROM schedulesy.access WHERE key = ANY($1::uuid[])", keys)}
    for username, access in accesses:
        key = parse_key(access.key)
        if key is None or owners.get(key) != username:
            differences.append(f"key {access.key} of {username!r}: "
                               + ("missing here" if key is None or key not in owners else f"owned here by {owners[key]!r}"))
    picked = (rng or random.Random()).sample(accesses, min(sample, len(accesses)))
    differences += await _compare_sample(conn, picked)

    print_line(f"verify: users {len(users)} in the original, {len(customizations)} with a selection here")
    print_line(f"verify: configurations {len(objects)} in the original, {len(equal)} equal here")
    same_owner = sum(1 for username, access in accesses
                     if (key := parse_key(access.key)) is not None and owners.get(key) == username)
    print_line(f"verify: keys {len(accesses)} in the original, {same_owner} here with the same owner; "
               f"{len(picked)} compared field by field")
    for line in differences[:DIFFERENCES_SHOWN]:
        print_line(f"  difference: {line}")
    if len(differences) > DIFFERENCES_SHOWN:
        print_line(f"  ... and {len(differences) - DIFFERENCES_SHOWN} more differences")
    print_line("verify: equal" if not differences else f"verify: {len(differences)} differences")
    return 0 if not differences else 1


async def _compare_sample(conn: asyncpg.Connection, picked: Sequence[tuple[str, SourceAccess]]) -> list[str]:
    wanted = {k: (username, access) for username, access in picked
              if (k := parse_key(access.key)) is not None}
    rows = {row["key"]: row for row in await conn.fetch(
        "SELECT key, username, name, created_at FROM schedulesy.access WHERE key = ANY($1::uuid[])", list(wanted))}
    found: list[str] = []
    for key, (username, access) in wanted.items():
        row = rows.get(key)
        if row is None or row["username"] != username:
            continue  # already counted above
        if row["name"] != access.name or row["created_at"] != access.created_at:
            found.append(f"key {access.key} of {username!r}: name or creation date differ here")
    return found
