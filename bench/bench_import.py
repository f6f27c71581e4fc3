"""Benchmark of ``schedulesy import-original``: 50,000 users and 60,000 keys from the original's database.
Run: ``.venv/bin/python bench/bench_import.py [--users 50000] [--keys 60000]``

In a database and Redis logical db of its own (every user has a ``w_edtperso`` row there) and a second
database with the original's schema (half the users have display settings), it times the import
(each batch projected into Redis at once, no worker), a second run (everything unchanged) and
``--verify``. Target: the import in under 2 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Environment, machine, peak_rss_mib, with_path  # noqa: E402
from commands.original_source import run_import, verify  # noqa: E402
from projections.readmodels import ReadModels  # noqa: E402
from schedulesy.logging import configure_logging  # noqa: E402
from schedulesy.services import open_services  # noqa: E402
from schedulesy.settings import load_settings  # noqa: E402
from tests.fixtures.original import ORIGINAL_SCHEMA  # noqa: E402

TARGET_SECONDS = 120.0


async def fill_original(dsn: str, users: int, keys: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(ORIGINAL_SCHEMA)
        await conn.execute(
            """INSERT INTO ade_api_localcustomization (customization_id, uds_directory_id, uid, configuration)
               SELECT i, 'dir' || i, 'user' || lpad(i::text, 6, '0'),
                      CASE WHEN i % 2 = 0 THEN jsonb_build_object('theme', 'dark', 'weekdays', '[1,2,3,4,5]'::jsonb)
                      END
                 FROM generate_series(1, $1) AS i""", users)
        await conn.execute(
            """INSERT INTO ade_api_access (key, creation_date, name, customization_id)
               SELECT gen_random_uuid()::text, now() - i * interval '1 minute',
                      CASE WHEN i <= $1 THEN 'user' || lpad(i::text, 6, '0') ELSE 'phone ' || i END,
                      ((i - 1) % $1) + 1
                 FROM generate_series(1, $2) AS i""", users, keys)
    finally:
        await conn.close()


async def fill_ours(dsn: str, users: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """INSERT INTO public.w_edtperso (id, ressources, uds_directory_id, uid, date_creation)
               SELECT i, '', 'dir' || i, 'user' || lpad(i::text, 6, '0'), now() FROM generate_series(1, $1) AS i""",
            users)
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--keys", type=int, default=60_000)
    args = parser.parse_args()
    configure_logging("console", "warning")
    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    source_name = f"schedulesy_bench_original_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{source_name}"')
    source_dsn = with_path(admin_url, "/" + source_name)
    try:
        async with Environment(admin_url, redis_base, "schedulesy_bench_import") as env:
            await fill_original(source_dsn, args.users, args.keys)
            await fill_ours(env.database_url, args.users)
            settings = load_settings({"SCHEDULESY_DATABASE_URL": env.database_url,
                                      "SCHEDULESY_REDIS_URL": env.redis_url, "SCHEDULESY_LOG_LEVEL": "warning"})
            async with open_services(settings, pool_size=4) as services, services.pool.acquire() as conn:
                read_models = ReadModels(services)
                figures = {}
                for label in ("import", "second run (unchanged)"):
                    lines: list[str] = []
                    started = time.perf_counter()
                    status = await run_import(source_dsn, conn, read_models, dry_run=False, print_line=lines.append)
                    figures[label] = time.perf_counter() - started
                    assert status == 0, lines
                    print("\n".join(f"  {line}" for line in lines[:4]))
                started = time.perf_counter()
                verified = await verify(source_dsn, conn, print_line=lambda line: None)
                figures["verify"] = time.perf_counter() - started
                assert verified == 0
                documents = await services.redis.dbsize()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{source_name}" WITH (FORCE)')
        await admin.close()
    print(f"users: {args.users}, keys: {args.keys}, Redis keys after the import: {documents}")
    for label, seconds in figures.items():
        target = (f"  target < {TARGET_SECONDS:.0f} s: {'OK' if seconds < TARGET_SECONDS else 'MISSED'}"
                  if label == "import" else "")
        print(f"{label}: {seconds:.1f} s{target}")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")
    print("machine:", machine())


if __name__ == "__main__":
    asyncio.run(main())
