"""The shared handles of a running process, created once by the app's lifespan (or a CLI tool)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias
from urllib.parse import urlsplit

import asyncpg
from litestar.di import NamedDependency
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisClusterException, RedisError

from schedulesy.db import create_pool
from schedulesy.keys import Keys
from schedulesy.settings import Settings

REDIS_TIMEOUT_SECONDS = 2.0
CLUSTER_RETRIES = 2
"""A cluster command that met a dead node or a moved slot is retried this often, the slots
rediscovered in between, then fails: a read falls back to Postgres within a few hundred
milliseconds instead of waiting for a failover to finish (redis-py's default retries for seconds)."""

RedisClient: TypeAlias = Redis | RedisCluster
"""One Redis server, or a Redis Cluster (``SCHEDULESY_REDIS_MODE``): every read-model operation
touches one key, so the same calls work on both; a cluster client routes each to its slot's master
and splits pipelines per node."""


def cluster_seeds(url: str) -> list[str]:
    """The node URLs of a cluster's ``SCHEDULESY_REDIS_URL``: one, or several separated by commas
    (any of them may be down when a process starts; the first gives the credentials and TLS)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def node_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def create_redis(url: str, mode: str = "standalone") -> RedisClient:
    """A Redis client that fails fast, so a dead Redis degrades answers instead of hanging them.

    ``cluster``: ``url`` names any node; the others are discovered. A master that dies answers
    connection errors (reads then come from Postgres) until its replica is promoted; the client
    rediscovers the slots on the first error, and serves the slots still covered meanwhile."""
    if mode == "cluster":
        first, *others = cluster_seeds(url)
        return RedisCluster.from_url(
            first,
            startup_nodes=[ClusterNode(*node_address(other)) for other in others],
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            health_check_interval=30,
            require_full_coverage=False,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=CLUSTER_RETRIES),
        )
    return Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


class Services:
    """A plain class, not a dataclass: handlers receive it as a dependency, and Litestar would
    otherwise inspect its fields (a union of two client classes it cannot model)."""

    __slots__ = ("settings", "pool", "redis", "keys")

    def __init__(self, settings: Settings, pool: asyncpg.Pool, redis: RedisClient, keys: Keys) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self.keys = keys

    def with_settings(self, settings: Settings) -> Services:
        """The same connections under other settings (tests and tools that vary one setting)."""
        return Services(settings=settings, pool=self.pool, redis=self.redis, keys=self.keys)


ServicesDep: TypeAlias = NamedDependency[Services]
"""Annotate a handler parameter named ``services`` with this to receive the process's Services."""


@asynccontextmanager
async def open_services(settings: Settings, *, pool_size: int = 10) -> AsyncIterator[Services]:
    pool = await create_pool(settings.database_url, max_size=pool_size)
    redis = create_redis(settings.redis_url, settings.redis_mode)
    if isinstance(redis, RedisCluster):
        # Learn every node now: should the configured one die later, a first command still finds the others.
        with contextlib.suppress(RedisError, RedisClusterException, OSError):
            await redis.initialize()
    try:
        yield Services(settings=settings, pool=pool, redis=redis, keys=Keys(settings.redis_prefix))
    finally:
        await redis.aclose()
        await pool.close()
