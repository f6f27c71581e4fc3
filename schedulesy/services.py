"""The shared handles of a running process, created once by the app's lifespan (or a CLI tool)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from litestar.di import NamedDependency
from redis.asyncio import Redis, RedisCluster

from schedulesy.db import create_pool
from schedulesy.keys import Keys
from schedulesy.settings import Settings

REDIS_TIMEOUT_SECONDS = 2.0

RedisClient: TypeAlias = Redis | RedisCluster
"""One Redis server, or a Redis Cluster (``SCHEDULESY_REDIS_MODE``): every read-model operation
touches one key, so the same calls work on both; a cluster client routes each to its slot's master
and splits pipelines per node."""


def create_redis(url: str, mode: str = "standalone") -> RedisClient:
    """A Redis client that fails fast, so a dead Redis degrades answers instead of hanging them.

    ``cluster``: ``url`` names any node; the others are discovered. A master that dies answers
    connection errors (reads then come from Postgres) until its replica is promoted; the client
    rediscovers the slots on the first error, and serves the slots still covered meanwhile."""
    if mode == "cluster":
        return RedisCluster.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            health_check_interval=30,
            require_full_coverage=False,
        )
    return Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    redis: RedisClient
    keys: Keys


ServicesDep: TypeAlias = NamedDependency[Services]
"""Annotate a handler parameter named ``services`` with this to receive the process's Services."""


@asynccontextmanager
async def open_services(settings: Settings, *, pool_size: int = 10) -> AsyncIterator[Services]:
    pool = await create_pool(settings.database_url, max_size=pool_size)
    redis = create_redis(settings.redis_url, settings.redis_mode)
    try:
        yield Services(settings=settings, pool=pool, redis=redis, keys=Keys(settings.redis_prefix))
    finally:
        await redis.aclose()
        await pool.close()
