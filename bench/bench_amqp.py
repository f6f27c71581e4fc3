"""Benchmark: an ADE change message published to RabbitMQ → the user's calendar and ICS feed changed.

Run: ``.venv/bin/python bench/bench_amqp.py [--preset demo] [--rounds 60] [--layout worker|one-process]``

It starts the simulator (``demo`` by default), syncs it into a database of its own and creates a user who
selected a group with events in the near term. Then, as deployed (``--layout worker``, the default), a
worker process runs what ``schedulesy worker`` runs for this path with ``SCHEDULESY_AMQP_URL`` set — the
projector and the AMQP consumer, each with its own services as there (the ADE poller is left out: its
cycles would land at random in the rounds) — while the API runs in this process, apart from both as
``schedulesy serve`` is. ``--layout one-process`` runs all three in this process, as the first version
of this bench did. RabbitMQ is ``SCHEDULESY_BENCH_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``),
on an exchange and a queue named for this run (deleted at the end).

Each round renames one of the user's events in the simulator, publishes the original's message naming
it, and reads the calendar JSON and the ICS feed through the API until both show the new name. The
worker stamps each step of the path (message consumed, refresh committed, NOTIFY heard, projector batch
start and end), so the figures split the total into stages. Target: publish → visible p99 < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import msgspec
from litestar.testing import AsyncTestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sync import start_simulator  # noqa: E402
from bench.common import Environment, machine  # noqa: E402
from commands.ade_sync.amqp import ChangeFeed  # noqa: E402
from commands.ade_sync.cycle import run_cycle  # noqa: E402
from projections import changelog  # noqa: E402
from projections.readmodels.store import ApplyReport  # noqa: E402
from projections.worker import Projector, read_models  # noqa: E402
from schedulesy.ade.client import AdeClient  # noqa: E402
from schedulesy.app import create_app  # noqa: E402
from schedulesy.auth import mint_token  # noqa: E402
from schedulesy.changes import Projection  # noqa: E402
from schedulesy.logging import configure_logging  # noqa: E402
from schedulesy.services import Services, open_services  # noqa: E402
from schedulesy.settings import Settings, load_settings  # noqa: E402

SECRET = "bench-secret-" + "s" * 40
USER = "bench.amqp"
TARGET_P99_SECONDS = 2.0
ROUND_TIMEOUT_SECONDS = 60.0
READ_EVERY_SECONDS = 0.02
STAMP = "STAMP "


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


# -- the worker side: the projector and the consumer, stamping each step ---------------------------

Stamps = list[tuple[str, float, dict[str, Any]]]


class Stamper:
    """Where the worker's steps go: printed for the bench (worker process) or kept in a list."""

    def __init__(self, sink: Stamps | None = None) -> None:
        self.sink = sink

    def __call__(self, step: str, **data: Any) -> None:
        at = time.time()
        if self.sink is not None:
            self.sink.append((step, at, data))
        else:
            print(STAMP + json.dumps([step, at, data]), flush=True)


class TimedFeed(ChangeFeed):
    def __init__(self, *args: Any, stamp: Stamper, **kwargs: Any) -> None:
        super().__init__(*args, on_refresh=lambda messages, report: stamp(
            "committed", ops=[m.operation_id for m in messages]), **kwargs)
        self.stamp = stamp

    async def _handle(self, burst: list[Any]) -> None:
        ops = [json.loads(m.body).get("operation_id") for m in burst]
        self.stamp("consumed", ops=ops)
        await super()._handle(burst)


class TimedApplier:
    def __init__(self, inner: Any, stamp: Stamper) -> None:
        self.inner, self.stamp = inner, stamp

    async def apply(self, changes: Mapping[str, Set[str]]) -> ApplyReport:
        self.stamp("batch_start", topics={t: len(k) for t, k in changes.items()})
        report: ApplyReport = await self.inner.apply(changes)
        self.stamp("batch_end", written=report.documents_written, unchanged=report.documents_unchanged)
        return report


class TimedProjector(Projector):
    def __init__(self, *args: Any, stamp: Stamper, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stamp = stamp

    def _on_notify(self, *args: Any) -> None:
        self.stamp("notify")
        super()._on_notify(*args)


async def run_worker(settings: Settings, stamp: Stamper) -> None:
    """What ``schedulesy worker`` runs for this path (``run_projector`` and ``run_change_feed``: own
    services each, the feed with a pool of 4 and its own ADE session), stamped."""

    async def projector() -> None:
        async with open_services(settings) as services:
            await TimedProjector(services, TimedApplier(read_models(services), stamp), stamp=stamp).run()

    async def feed() -> None:
        async with open_services(settings, pool_size=4) as services, AdeClient.from_settings(settings) as ade:
            await TimedFeed(services, ade, stamp=stamp).run()

    async def stalls() -> None:
        """The worker's event loop held by a synchronous stretch (a heartbeat waits as long)."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.05)
            late = time.monotonic() - before - 0.05
            if late > 0.25:
                stamp("stall", seconds=late)

    await asyncio.gather(projector(), feed(), stalls())


async def worker_main() -> None:
    configure_logging("console", "warning")
    settings = load_settings(dict(os.environ))
    print(STAMP + json.dumps(["started", time.time(), {}]), flush=True)
    await run_worker(settings, Stamper())


# -- the bench --------------------------------------------------------------------------------------


class WorkerProcess:
    """``bench_amqp.py --worker`` in a process of its own; its stamps are collected as they come."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.stamps: Stamps = []
        self.started = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--worker", env={**{k: v for k, v in os.environ.items() if not k.startswith("SCHEDULESY_")}, **self.env}, stdout=asyncio.subprocess.PIPE)
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self.started.wait(), 60)

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode()
            if line.startswith(STAMP):
                step, at, data = json.loads(line[len(STAMP):])
                if step == "started":
                    self.started.set()
                else:
                    self.stamps.append((step, at, data))

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 15)
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


def stages(stamps: Stamps, op: str, published: float, visible: float) -> dict[str, float] | None:
    """The round's steps, in seconds after publishing: consumed, committed, then the first NOTIFY and
    the first projector batch to start after it, and the end of the last batch before the read that
    showed the change. ``committed`` is stamped once the refresh is committed and its message acknowledged."""
    mine = [(s, at) for s, at, d in stamps if op in (d.get("ops") or ())]
    consumed = next((at for s, at in mine if s == "consumed"), None)
    committed = next((at for s, at in mine if s == "committed"), None)
    if consumed is None or committed is None:
        return None
    after = [(s, at) for s, at, _ in stamps if at >= committed - 0.5 and at <= visible]
    notify = next((at for s, at in after if s == "notify"), None)
    start = next((at for s, at in after if s == "batch_start" and at >= (notify or committed) - 0.5), None)
    # The batch that made it visible: the last one to end before the read that showed it.
    end = max((at for s, at in after if s == "batch_end"), default=None)
    return {"consumed": consumed - published, "committed": committed - published,
            "notify": (notify or float("nan")) - published, "batch_start": (start or float("nan")) - published,
            "batch_end": (end or float("nan")) - published, "visible": visible - published}


async def projector_caught_up(services: Services) -> float:
    """Wait until the projector has applied the whole change log (the initial sync's, above all): the
    rounds measure the steady state, not a message queued behind the first projection of a university."""
    started = time.monotonic()
    while time.monotonic() - started < 600:
        report = await changelog.leader_report(services.pool, Projection.READ_MODELS)
        if report is not None and await changelog.oldest_change_after(services.pool, report.position) is None:
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise SystemExit("the projector did not catch up within 10 minutes")


def summary(name: str, values: list[float]) -> str:
    values = sorted(v for v in values if v == v)
    if not values:
        return f"{name}: no samples"
    return (f"{name}: p50 {statistics.median(values) * 1000:,.0f} ms, p99 {percentile(values, 0.99) * 1000:,.0f} ms, "
            f"max {values[-1] * 1000:,.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--layout", default="worker", choices=["worker", "one-process"])
    args = parser.parse_args()
    configure_logging("console", "warning")
    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    amqp_url = os.environ.get("SCHEDULESY_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    name = f"schedulesy-bench-{uuid.uuid4().hex[:10]}"
    async with Environment(admin_url, redis_base, "schedulesy_bench_amqp") as env:
        process, base = start_simulator(args.preset, args.seed)
        http = httpx.Client(base_url=base, timeout=30)
        worker: WorkerProcess | None = None
        local: asyncio.Task[None] | None = None
        try:
            project = http.get("/admin/project").json()
            variables = {
                "SCHEDULESY_DATABASE_URL": env.database_url, "SCHEDULESY_REDIS_URL": env.redis_url,
                "SCHEDULESY_ADE_URL": base + "/jsp/webapi", "SCHEDULESY_ADE_LOGIN": project["login"],
                "SCHEDULESY_ADE_PASSWORD": project["password"], "SCHEDULESY_ADE_PROJECT_ID": str(project["id"]),
                "SCHEDULESY_TIMEZONE": project["timezone"], "SCHEDULESY_LOG_LEVEL": "warning",
                "SCHEDULESY_JWT_ALGORITHM": "HS256", "SCHEDULESY_JWT_PUBLIC_KEY": SECRET,
                "SCHEDULESY_JWT_PRIVATE_KEY": SECRET, "SCHEDULESY_AMQP_URL": amqp_url,
                "SCHEDULESY_AMQP_EXCHANGE": name, "SCHEDULESY_AMQP_QUEUE": name,
            }
            settings = load_settings(variables)
            async with open_services(settings) as services, AdeClient.from_settings(settings) as ade:
                report = await run_cycle(services, client=ade, full=True)
                if report.status != "ok":
                    raise SystemExit(f"sync failed: {report.errors}")
                busiest = await services.pool.fetchrow(
                    """SELECT t.resource_ext_id AS group_id, array_agg(t.event_id ORDER BY t.event_id) AS events
                       FROM schedulesy.timetable t JOIN schedulesy.event e USING (event_id)
                       JOIN schedulesy.resource r ON r.ext_id = t.resource_ext_id
                       WHERE r.category = 'trainee' AND e.starts_at > now() AND e.starts_at < now() + interval '14 days'
                       GROUP BY t.resource_ext_id ORDER BY count(*) DESC LIMIT 1""")
                group, events = busiest["group_id"], list(busiest["events"])
                print(f"university: {args.preset}; user selection: group {group} with {len(events)} near events; "
                      f"layout: {args.layout}")

            stamps: Stamps
            if args.layout == "worker":
                worker = WorkerProcess(variables)
                await worker.start()
                stamps = worker.stamps
            else:
                stamps = []
                local = asyncio.create_task(run_worker(settings, Stamper(stamps)))

            async with open_services(settings) as services:
                headers = {"Authorization": "Bearer " + mint_token(settings, USER, directory_id="4242")}
                async with AsyncTestClient(app=create_app(settings), base_url="https://bench.local") as api:
                    created = await api.post("/legacy/customization.json",
                                             json={"username": USER, "directory_id": "4242", "resources": group},
                                             headers=headers)
                    assert created.status_code == 201, created.text
                    key = await services.pool.fetchval("SELECT key::text FROM schedulesy.access WHERE username = $1",
                                                       USER)
                    connection = await aio_pika.connect(amqp_url)
                    channel = await connection.channel()
                    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
                    # The consumer is ready once its queue is bound: a message published now reaches it.
                    deadline = time.monotonic() + 60
                    while True:
                        with contextlib.suppress(aio_pika.exceptions.ChannelClosed):
                            probe = await connection.channel()
                            await probe.declare_queue(name, passive=True)
                            await probe.close()
                            break
                        if time.monotonic() > deadline:
                            raise SystemExit("the consumer never declared its queue")
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(1.0)  # the binding follows the queue declaration
                    caught_up = await projector_caught_up(services)
                    held = [d["seconds"] for s, _, d in stamps if s == "stall"]
                    print(f"projector caught up with the initial sync in {caught_up:.1f} s (worker loop held "
                          f"{len(held)} times > 0.25 s, longest {max(held, default=0):.1f} s); rounds start")
                    stamps.clear()

                    async def shows(label: str) -> bool:
                        calendar = await api.get(f"/api/calendar/{USER}.json", headers=headers)
                        ics = await api.get(f"/api/calendar/{key}/export")
                        return label in calendar.text and label in ics.text

                    rows: list[dict[str, float]] = []
                    totals: list[float] = []
                    for round_ in range(args.rounds):
                        event_id = events[round_ % len(events)]
                        label = f"Renamed {round_} {uuid.uuid4().hex[:6]}"
                        op = str(uuid.uuid4())
                        http.patch(f"/admin/events/{event_id}", json={"name": label}).raise_for_status()
                        body = msgspec.json.encode({"operation_id": op,
                                                    "events": [{"id": str(event_id), "resources": [int(group)]}]})
                        published = time.time()
                        await exchange.publish(aio_pika.Message(body), routing_key="schedulesy.sync.ade.event")
                        while not await shows(label):
                            if time.time() - published > ROUND_TIMEOUT_SECONDS:
                                stored = await services.pool.fetchval(
                                    "SELECT name FROM schedulesy.event WHERE event_id = $1", event_id)
                                raise SystemExit(f"round {round_}: event {event_id} not visible within "
                                                 f"{ROUND_TIMEOUT_SECONDS} s (mirror: {stored!r})")
                            await asyncio.sleep(READ_EVERY_SECONDS)
                        visible = time.time()
                        totals.append(visible - published)
                        await asyncio.sleep(0.3)  # late stamps of this round arrive
                        row = stages(stamps, op, published, visible)
                        if row is not None:
                            rows.append(row)
                            if row["visible"] > TARGET_P99_SECONDS:
                                print("  slow round " + str(round_) + ": " + ", ".join(
                                    f"{k} {v * 1000:,.0f} ms" for k, v in row.items()))
                    await channel.queue_delete(name)
                    await channel.exchange_delete(name)
                    await connection.close()
            held = [d["seconds"] for s, _, d in stamps if s == "stall"]
            written = [d.get("written", 0) for s, _, d in stamps if s == "batch_end"]
            print(f"during the rounds: worker loop held {len(held)} times > 0.25 s (longest "
                  f"{max(held, default=0):.2f} s); {len(written)} projector batches, documents written per batch "
                  f"median {statistics.median(written) if written else 0:.0f}")
            print("stages (after publishing):")
            for step in ("consumed", "committed", "notify", "batch_start", "batch_end"):
                print("  " + summary(f"amqp_publish_to_{step}", [r[step] for r in rows]))
            print("  " + summary("amqp_batch_duration", [r["batch_end"] - r["batch_start"] for r in rows]))
            print("  " + summary("amqp_batch_end_to_visible", [r["visible"] - r["batch_end"] for r in rows]))
            ordered = sorted(totals)
            p99 = percentile(ordered, 0.99)
            print(f"amqp_publish_to_calendar_and_ics: p50 {statistics.median(ordered) * 1000:,.0f} ms, "
                  f"p99 {p99 * 1000:,.0f} ms, max {ordered[-1] * 1000:,.0f} ms over {len(totals)} messages  "
                  f"target p99 < {TARGET_P99_SECONDS:g} s: {'OK' if p99 < TARGET_P99_SECONDS else 'MISSED'}")
        finally:
            if worker is not None:
                await worker.stop()
            if local is not None:
                local.cancel()
                await asyncio.gather(local, return_exceptions=True)
            http.close()
            process.terminate()
            process.wait(10)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (1 min) at the end")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        asyncio.run(worker_main())
    else:
        asyncio.run(main())
