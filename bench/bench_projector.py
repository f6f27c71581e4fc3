"""Commit-to-Redis latency of the projector: single changes and a 1,000-change burst.

Run: ``.venv/bin/python bench/bench_projector.py [--scale 0.1] [--singles 100] [--burst 1000]``

What it does:
- creates a database and a Redis logical db of its own (``SCHEDULESY_TEST_DATABASE_URL`` /
  ``SCHEDULESY_TEST_REDIS_URL``, default the local servers), migrates, and generates a university
  mirror with ``bench_rebuild.generate`` (at ``--scale``: groups, events, users with shared selections),
  then builds every read model with ``schedulesy rebuild``'s code, which checkpoints the worker;
- runs the projector in a separate process, exactly as ``schedulesy worker`` does (LISTEN, default
  intervals: a 2 s fallback poll), around an applier that, once the batch's documents are in Redis,
  records the time each (topic, key) got there;
- from this process, commits changes through plain SQL as other tools would, notes the time each
  ``COMMIT`` returned, and reports commit-to-Redis latency (p50, p99, max):
    * single changes, one at a time: a user changing selection (w_edtperso), an ADE event changing;
    * a burst: 1,000 users changing selection, one transaction each, from 8 connections at once —
      into 10 popular selections (a year joining its groups: changes share calendars), and spread
      over every selection of the university (the worst case: nearly every change its own calendar);
    * single changes while an older transaction stays open for 1 s (an ADE sync, say): with the
      loop's read-ahead (default) and with the frontier-only read (``read_ahead=False``);
  each with the real read models (``ReadModels``: user document, merged calendar and ICS rebuilt) and,
  for comparison, with a trivial applier (one Redis write per key: the loop's own cost).

Target: p99 < 1 s. Figures print as ``name: value unit``, then a ``machine:`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Set
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from bench.common import Environment, machine  # noqa: E402
from schedulesy.changes import Topic  # noqa: E402
from schedulesy.services import RedisClient  # noqa: E402

if TYPE_CHECKING:
    from projections.readmodels.store import ApplyReport
    from projections.worker import Applier
    from schedulesy.services import Services
    from schedulesy.settings import Settings

TARGET_P99_MS = 1000.0
APPLIED = "bench:applied"
READY = "bench:ready"
WAIT_SECONDS = 60.0
# The personalisation date always moves, so the write is a real change even when the user picks
# the selection they already had (the trigger ignores writes that change nothing).
CHANGE_SELECTION = """
UPDATE public.w_edtperso SET ressources = $1, date_personnalisation = clock_timestamp() WHERE uid = $2
"""


def bench_settings(database_url: str, redis_url: str) -> Settings:
    from schedulesy.settings import load_settings

    return load_settings({
        "SCHEDULESY_DATABASE_URL": database_url, "SCHEDULESY_REDIS_URL": redis_url,
        "SCHEDULESY_REDIS_PREFIX": "sch:", "SCHEDULESY_PUBLIC_URL": "https://edt.example.edu",
        "SCHEDULESY_LOG_LEVEL": "warning",
    })


# ---------------------------------------------------------------------------------------------
# The worker process


class TrivialApplier:
    """One Redis write per key in a pipeline: what the loop costs without building anything."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def apply(self, changes: Mapping[str, Set[str]]) -> ApplyReport:
        from projections.readmodels.store import ApplyReport

        pipe = self.services.redis.pipeline(transaction=False)
        for topic, keys in changes.items():
            for key in keys:
                pipe.set(f"{self.services.keys.prefix}bench-trivial:{topic}:{key}", "1")
        await pipe.execute()
        return ApplyReport(documents_written=sum(len(keys) for keys in changes.values()))


class TimedApplier:
    """Delegates, then records when each (topic, key) reached Redis (after the documents did)."""

    def __init__(self, inner: Applier, redis: RedisClient) -> None:
        self.inner = inner
        self.redis = redis

    async def apply(self, changes: Mapping[str, Set[str]]) -> ApplyReport:
        report = await self.inner.apply(changes)
        now = repr(time.time())
        await self.redis.hset(APPLIED, mapping={f"{t}:{k}": now for t, keys in changes.items() for k in keys})
        return report


def worker_process(database_url: str, redis_url: str, applier_kind: str, read_ahead: bool) -> None:
    """``schedulesy worker``'s projector, with the timing applier around the chosen one."""
    from projections.readmodels import ReadModels
    from projections.worker import Projector
    from schedulesy.logging import configure_logging
    from schedulesy.services import open_services

    configure_logging("console", "warning")

    async def main() -> None:
        async with open_services(bench_settings(database_url, redis_url)) as services:
            inner = ReadModels(services) if applier_kind == "real" else TrivialApplier(services)
            projector = Projector(services, TimedApplier(inner, services.redis), read_ahead=read_ahead)
            task = asyncio.create_task(projector.run())
            await projector.leading.wait()
            await services.redis.set(READY, projector.name)
            await task

    asyncio.run(main())


class Worker:
    def __init__(self, env: Environment, applier_kind: str, read_ahead: bool = True) -> None:
        self.process = multiprocessing.get_context("spawn").Process(
            target=worker_process, args=(env.database_url, env.redis_url, applier_kind, read_ahead), daemon=True
        )
        self.redis = Redis.from_url(env.redis_url)

    async def __aenter__(self) -> Worker:
        await self.redis.delete(READY, APPLIED)
        self.process.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while not await self.redis.get(READY):
            if time.monotonic() > deadline or not self.process.is_alive():
                raise RuntimeError("the worker did not start leading")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.process.terminate()  # its connection drops, and the leader lock with it
        self.process.join(10)
        await self.redis.aclose()

    async def applied_at(self, field: str) -> float | None:
        value = await self.redis.hget(APPLIED, field)
        return None if value is None else float(value)

    async def wait_applied(self, fields: list[str]) -> dict[str, float]:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            values = await self.redis.hmget(APPLIED, fields)
            if all(v is not None for v in values):
                return {f: float(v) for f, v in zip(fields, values, strict=True) if v is not None}
            if time.monotonic() > deadline:
                missing = sum(v is None for v in values)
                raise RuntimeError(f"{missing} changes never reached Redis within {WAIT_SECONDS:g} s")
            await asyncio.sleep(0.002)


# ---------------------------------------------------------------------------------------------
# Scenarios


class Latencies:
    def __init__(self, name: str, milliseconds: list[float]) -> None:
        self.name = name
        self.ms = sorted(milliseconds)

    def percentile(self, p: float) -> float:
        index = min(len(self.ms) - 1, max(0, round(p / 100 * len(self.ms) + 0.5) - 1))
        return self.ms[index]

    def print(self, target: bool = True) -> None:
        p50, p99 = self.percentile(50), self.percentile(99)
        verdict = f" (target < {TARGET_P99_MS:.0f} ms) {'OK' if p99 < TARGET_P99_MS else 'MISSED'}" if target else ""
        print(f"{self.name}, commit-to-Redis p50: {p50:.1f} ms")
        print(f"{self.name}, commit-to-Redis p99: {p99:.1f} ms{verdict}")
        print(f"{self.name}, commit-to-Redis max: {self.ms[-1]:.1f} ms (n={len(self.ms)}, "
              f"mean {statistics.fmean(self.ms):.1f} ms)")


async def one_at_a_time(
    worker: Worker, conn: asyncpg.Connection, count: int,
    change: Callable[[asyncpg.Connection, int], Awaitable[str]], pause: float = 0.02,
) -> list[float]:
    """Commit one change, wait until it is in Redis, note the latency; ``count`` times."""
    latencies = []
    for n in range(count):
        async with conn.transaction():
            field = await change(conn, n)
        committed = time.time()
        applied = (await worker.wait_applied([field]))[field]
        latencies.append((applied - committed) * 1000)
        await asyncio.sleep(pause)
    return latencies


class Data:
    """What the generated mirror offers to change."""

    def __init__(self, users: list[str], selections: list[str], tutorials: list[int]) -> None:
        self.users = users
        self.selections = selections
        self.tutorials = tutorials
        self._next_user = 0

    @classmethod
    async def load(cls, conn: asyncpg.Connection) -> Data:
        users = [r["uid"] for r in await conn.fetch("SELECT uid FROM public.w_edtperso ORDER BY id")]
        selections = [r["ressources"] for r in await conn.fetch(
            "SELECT DISTINCT ressources FROM public.w_edtperso ORDER BY 1")]
        tutorials = [r["event_id"] for r in await conn.fetch(
            "SELECT event_id FROM schedulesy.event ORDER BY event_id DESC LIMIT 1000")]
        return cls(users, selections, tutorials)

    def fresh_users(self, count: int) -> list[str]:
        """Users not changed yet in this run (each change gets its own key, so times never mix)."""
        start = self._next_user
        self._next_user += count
        if self._next_user > len(self.users):
            raise SystemExit(f"not enough users for this run: raise --scale (have {len(self.users)})")
        return self.users[start:self._next_user]

    def other_selection(self, n: int) -> str:
        """Spread over every selection of the university: each change its own calendar, nearly."""
        return self.selections[(n * 7919) % len(self.selections)]

    def popular_selection(self, n: int) -> str:
        """One of ten selections (a whole year joining its groups): changes share calendars."""
        return self.selections[(n * 7919) % min(10, len(self.selections))]


async def user_changes(worker: Worker, conn: asyncpg.Connection, data: Data, count: int) -> list[float]:
    users = data.fresh_users(count)

    async def change(c: asyncpg.Connection, n: int) -> str:
        await c.execute(CHANGE_SELECTION, data.other_selection(n), users[n])
        return f"{Topic.USER}:{users[n]}"

    return await one_at_a_time(worker, conn, count, change)


async def event_changes(worker: Worker, conn: asyncpg.Connection, data: Data, count: int) -> list[float]:
    events = data.tutorials[:count]

    async def change(c: asyncpg.Connection, n: int) -> str:
        await c.execute("UPDATE schedulesy.event SET name = name || ' *', sequence = sequence + 1 "
                        "WHERE event_id = $1", events[n])
        return f"event:{events[n]}"

    return await one_at_a_time(worker, conn, count, change)


async def burst(
    worker: Worker, pool: asyncpg.Pool, data: Data, count: int, selection: Callable[[int], str], writers: int = 8
) -> tuple[list[float], float]:
    """``count`` users change selection at once, one transaction each, from ``writers`` connections."""
    users = data.fresh_users(count)
    committed: dict[str, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def writer() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                n = queue.get_nowait()
                await conn.execute(CHANGE_SELECTION, selection(n), users[n])
                committed[f"{Topic.USER}:{users[n]}"] = time.time()

    started = time.time()
    await asyncio.gather(*(writer() for _ in range(writers)))
    applied = await worker.wait_applied(list(committed))
    finished = max(applied.values())
    return [(applied[f] - committed[f]) * 1000 for f in committed], finished - started


async def behind_an_open_transaction(
    worker: Worker, conn: asyncpg.Connection, holder: asyncpg.Connection, data: Data, count: int, hold: float
) -> list[float]:
    """Each change commits while an older transaction (it took its xid first) stays open ``hold`` s."""
    users = data.fresh_users(count)
    latencies = []
    for n in range(count):
        transaction = holder.transaction()
        await transaction.start()
        await holder.fetchval("SELECT pg_current_xact_id()")
        opened = time.monotonic()
        await conn.execute(CHANGE_SELECTION, data.other_selection(n), users[n])
        committed = time.time()
        await asyncio.sleep(max(0.0, hold - (time.monotonic() - opened)))
        await transaction.rollback()
        label = f"{Topic.USER}:{users[n]}"
        applied = (await worker.wait_applied([label]))[label]
        latencies.append((applied - committed) * 1000)
    return latencies


# ---------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    from bench import bench_rebuild
    from projections.readmodels import ReadModels
    from projections.worker import rebuild
    from schedulesy.db import create_pool
    from schedulesy.services import open_services

    async with Environment(args.database_url, args.redis_url, "schedulesy_bench_projector") as env:
        started = time.perf_counter()
        counts = await bench_rebuild.generate(env.database_url, args.scale)
        print(f"mirror (bench_rebuild.generate, scale {args.scale}): {counts['resources']} resources, "
              f"{counts['events']} events, {counts['users']} users, {counts['distinct_selections']} distinct "
              f"selections, generated in {time.perf_counter() - started:.1f} s")
        async with open_services(bench_settings(env.database_url, env.redis_url)) as services:
            result = await rebuild(services, ReadModels(services))
        print(f"rebuild: {result.seconds:.1f} s ({result.report.documents_written} documents); "
              f"checkpoint {result.checkpoint}")

        pool = await create_pool(env.database_url, max_size=10)
        try:
            async with pool.acquire() as conn, pool.acquire() as holder:
                data = await Data.load(conn)
                for kind, label in (("real", "real ReadModels"), ("trivial", "trivial applier")):
                    print(f"-- applier: {label}")
                    async with Worker(env, kind) as worker:
                        await asyncio.sleep(0.5)
                        Latencies(f"single user change ({label})",
                                  await user_changes(worker, conn, data, args.singles)).print()
                        if kind == "real":
                            Latencies(f"single event change ({label})",
                                      await event_changes(worker, conn, data, min(args.singles, 50))).print()
                        for shape, selection in (("into 10 selections", data.popular_selection),
                                                 ("spread over every selection", data.other_selection)):
                            name = f"burst of {args.burst} user changes {shape} ({label})"
                            latencies, seconds = await burst(worker, pool, data, args.burst, selection)
                            Latencies(name, latencies).print()
                            print(f"{name}, all in Redis after: {seconds * 1000:.0f} ms "
                                  f"({args.burst / seconds:.0f} changes/s)")
                print(f"-- single changes while an older transaction stays open {args.hold:g} s (real ReadModels)")
                for read_ahead, label in ((True, "read-ahead"), (False, "finished-only")):
                    async with Worker(env, "real", read_ahead=read_ahead) as worker:
                        await asyncio.sleep(0.5)
                        Latencies(f"behind an open transaction ({label})",
                                  await behind_an_open_transaction(worker, conn, holder, data, args.held, args.hold)
                                  ).print(target=read_ahead)
        finally:
            await pool.close()
    print(f"machine: {machine()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get(
        "SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="an admin URL: the benchmark creates (and drops) a database of its own")
    parser.add_argument("--redis-url", default=os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--scale", type=float, default=0.1, help="bench_rebuild's mirror scale (1.0 = 50,000 users)")
    parser.add_argument("--singles", type=int, default=100, help="single changes measured one at a time")
    parser.add_argument("--burst", type=int, default=1000, help="changes committed at once")
    parser.add_argument("--held", type=int, default=10, help="changes measured behind an open transaction")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds the older transaction stays open")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
