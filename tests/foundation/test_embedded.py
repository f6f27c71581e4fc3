"""The servers a machine without Postgres or Redis gets (demo and tests)."""

from __future__ import annotations

import asyncpg
import pytest
from redis.asyncio import Redis

from schedulesy import db, embedded

pytestmark = pytest.mark.slow


async def test_embedded_postgres_starts_and_takes_the_migrations(tmp_path) -> None:
    url = embedded.start_embedded_postgres(tmp_path, "postgres")
    await db.ensure_database(url.replace("/postgres?", "/schedulesy?"))
    target = url.replace("/postgres?", "/schedulesy?")
    assert await db.migrate(target)
    conn = await asyncpg.connect(target)
    try:
        assert await conn.fetchval("SELECT count(*) FROM public.w_edtperso") == 0
    finally:
        await conn.close()


async def test_embedded_redis_evicts_like_production(tmp_path) -> None:
    client = Redis.from_url(embedded.start_embedded_redis(tmp_path))
    try:
        assert await client.ping()
        assert (await client.config_get("maxmemory-policy"))["maxmemory-policy"] == "allkeys-lru"
    finally:
        await client.aclose()


def test_configured_urls_win_over_local_and_embedded_servers(tmp_path) -> None:
    assert embedded.resolve_postgres("postgresql://db.example/x", tmp_path, "x") == "postgresql://db.example/x"
    assert embedded.resolve_redis("redis://cache.example/0", tmp_path) == "redis://cache.example/0"
