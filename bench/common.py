"""What every benchmark needs: the ``machine:`` line, a free port, memory figures, and a database
and Redis logical db of its own (the test fixtures' locking scheme, so benchmarks and test sessions
never share a logical db)."""

from __future__ import annotations

import os
import platform
import resource
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from redis.asyncio import Redis

from schedulesy.embedded import free_port

__all__ = ["Environment", "free_port", "machine", "peak_rss_mib", "proc_memory_mib", "with_path"]

REDIS_LOCK_PREFIX = "schedulesy-test-lock:"  # the test fixtures' scheme: one session per logical db


def machine() -> str:
    """Platform, Python, CPUs and memory: figures from different machines are never compared blindly."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.platform()} | Python {platform.python_version()} | {os.cpu_count()} CPUs ({model}) | "
            f"{memory:.0f} GiB RAM")


def peak_rss_mib() -> float:
    """This process's RSS high-water mark."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proc_memory_mib(pid: int) -> tuple[float, float]:
    """(current RSS, high-water mark) of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


class Environment:
    """A database and a Redis logical db of our own (both empty, migrated), released at the end."""

    def __init__(self, admin_url: str, redis_base: str, name: str = "schedulesy_bench") -> None:
        self.admin_url = admin_url
        self.redis_base = redis_base
        self.database = f"{name}_{uuid.uuid4().hex[:8]}"
        self.database_url = with_path(admin_url, "/" + self.database)
        self.redis_url = ""
        self._token = uuid.uuid4().hex
        self._index: int | None = None

    async def __aenter__(self) -> Environment:
        from schedulesy import db

        admin = await asyncpg.connect(self.admin_url)
        await admin.execute(f'CREATE DATABASE "{self.database}"')
        await admin.close()
        await db.migrate(self.database_url)
        lock = Redis.from_url(with_path(self.redis_base, "/0"))
        for index in range(1, 16):
            if await lock.set(f"{REDIS_LOCK_PREFIX}{index}", self._token, nx=True, ex=3600):
                self._index = index
                break
        await lock.aclose()
        if self._index is None:
            raise RuntimeError("every Redis logical database is taken")
        self.redis_url = with_path(self.redis_base, f"/{self._index}")
        client = Redis.from_url(self.redis_url)
        await client.flushdb()
        await client.aclose()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._index is not None:
            client = Redis.from_url(self.redis_url)
            await client.flushdb()
            await client.aclose()
            lock = Redis.from_url(with_path(self.redis_base, "/0"))
            if await lock.get(f"{REDIS_LOCK_PREFIX}{self._index}") == self._token.encode():
                await lock.delete(f"{REDIS_LOCK_PREFIX}{self._index}")
            await lock.aclose()
        admin = await asyncpg.connect(self.admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        await admin.close()
