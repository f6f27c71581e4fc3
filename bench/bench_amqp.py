"""Benchmark: an ADE change message published to RabbitMQ → the user's calendar and ICS feed changed.

Run: ``.venv/bin/python bench/bench_amqp.py [--preset demo] [--rounds 60]``

It starts the simulator (``demo`` by default), syncs it into a database of its own, creates a user who
selected a group with events in the near term, and runs in this process what ``schedulesy worker`` runs
with ``SCHEDULESY_AMQP_URL`` set — the projector and the AMQP consumer — against the RabbitMQ of
``SCHEDULESY_BENCH_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``), on an exchange and a queue
named for this run (deleted at the end). Each round renames one of the user's events in the simulator,
publishes the original's message naming it, and reads the calendar JSON and the ICS feed through the API
(in process) until both show the new name. Target: p99 < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

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
from projections.worker import run_projector  # noqa: E402
from schedulesy.ade.client import AdeClient  # noqa: E402
from schedulesy.app import create_app  # noqa: E402
from schedulesy.auth import mint_token  # noqa: E402
from schedulesy.logging import configure_logging  # noqa: E402
from schedulesy.services import open_services  # noqa: E402
from schedulesy.settings import load_settings  # noqa: E402

SECRET = "bench-secret-" + "s" * 40
USER = "bench.amqp"
TARGET_P99_SECONDS = 2.0
ROUND_TIMEOUT_SECONDS = 60.0


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    configure_logging("console", "warning")
    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    amqp_url = os.environ.get("SCHEDULESY_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    name = f"schedulesy-bench-{uuid.uuid4().hex[:10]}"
    async with Environment(admin_url, redis_base, "schedulesy_bench_amqp") as env:
        process, base = start_simulator(args.preset, args.seed)
        http = httpx.Client(base_url=base, timeout=30)
        tasks: list[asyncio.Task[None]] = []
        try:
            project = http.get("/admin/project").json()
            settings = load_settings({
                "SCHEDULESY_DATABASE_URL": env.database_url, "SCHEDULESY_REDIS_URL": env.redis_url,
                "SCHEDULESY_ADE_URL": base + "/jsp/webapi", "SCHEDULESY_ADE_LOGIN": project["login"],
                "SCHEDULESY_ADE_PASSWORD": project["password"], "SCHEDULESY_ADE_PROJECT_ID": str(project["id"]),
                "SCHEDULESY_TIMEZONE": project["timezone"], "SCHEDULESY_LOG_LEVEL": "warning",
                "SCHEDULESY_JWT_ALGORITHM": "HS256", "SCHEDULESY_JWT_PUBLIC_KEY": SECRET,
                "SCHEDULESY_JWT_PRIVATE_KEY": SECRET, "SCHEDULESY_AMQP_URL": amqp_url,
                "SCHEDULESY_AMQP_EXCHANGE": name, "SCHEDULESY_AMQP_QUEUE": name,
            })
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
                print(f"university: {args.preset}; user selection: group {group} with {len(events)} near events")

                committed: list[float] = []
                feed = ChangeFeed(services, ade, on_refresh=lambda messages, report: committed.append(time.perf_counter()))
                tasks.append(asyncio.create_task(run_projector(settings)))
                tasks.append(asyncio.create_task(feed.run()))
                headers = {"Authorization": "Bearer " + mint_token(settings, USER, directory_id="4242")}
                async with AsyncTestClient(app=create_app(settings), base_url="https://bench.local") as api:
                    created = await api.post("/legacy/customization.json",
                                             json={"username": USER, "directory_id": "4242", "resources": group},
                                             headers=headers)
                    assert created.status_code == 201, created.text
                    key = await services.pool.fetchval("SELECT key::text FROM schedulesy.access WHERE username = $1",
                                                       USER)
                    await asyncio.wait_for(feed.ready.wait(), 30)
                    connection = await aio_pika.connect(amqp_url)
                    channel = await connection.channel()
                    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)

                    async def shows(label: str) -> bool:
                        calendar = await api.get(f"/api/calendar/{USER}.json", headers=headers)
                        ics = await api.get(f"/api/calendar/{key}/export")
                        return label in calendar.text and label in ics.text

                    samples: list[float] = []
                    to_mirror: list[float] = []
                    for round_ in range(args.rounds):
                        event_id = events[round_ % len(events)]
                        label = f"Renamed {round_} {uuid.uuid4().hex[:6]}"
                        http.patch(f"/admin/events/{event_id}", json={"name": label}).raise_for_status()
                        body = msgspec.json.encode({"operation_id": str(uuid.uuid4()),
                                                    "events": [{"id": str(event_id), "resources": [int(group)]}]})
                        started = time.perf_counter()
                        committed.clear()
                        await exchange.publish(aio_pika.Message(body), routing_key="schedulesy.sync.ade.event")
                        while not await shows(label):
                            if time.perf_counter() - started > ROUND_TIMEOUT_SECONDS:
                                stored = await services.pool.fetchval(
                                    "SELECT name FROM schedulesy.event WHERE event_id = $1", event_id)
                                calendar = await api.get(f"/api/calendar/{USER}.json", headers=headers)
                                ics = await api.get(f"/api/calendar/{key}/export")
                                raise SystemExit(f"round {round_}: event {event_id} not visible within "
                                                 f"{ROUND_TIMEOUT_SECONDS} s (mirror: {stored!r}, calendar: "
                                                 f"{label in calendar.text}, ics: {label in ics.text})")
                            await asyncio.sleep(0.05)  # the API, the projector and the consumer share this loop
                        samples.append(time.perf_counter() - started)
                        if committed:
                            to_mirror.append(committed[0] - started)
                    await channel.queue_delete(name)
                    await channel.exchange_delete(name)
                    await connection.close()
                if to_mirror:
                    mirrored = sorted(to_mirror)
                    print(f"amqp_publish_to_mirror_committed: p50 {statistics.median(mirrored) * 1000:.0f} ms, "
                          f"p99 {percentile(mirrored, 0.99) * 1000:.0f} ms")
                ordered = sorted(samples)
                p99 = percentile(ordered, 0.99)
                print(f"amqp_publish_to_calendar_and_ics: p50 {statistics.median(ordered) * 1000:.0f} ms, "
                      f"p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms over {len(samples)} messages  "
                      f"target p99 < {TARGET_P99_SECONDS:g} s: {'OK' if p99 < TARGET_P99_SECONDS else 'MISSED'}")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            http.close()
            process.terminate()
            process.wait(10)
    print(f"machine: {machine()}")


if __name__ == "__main__":
    asyncio.run(main())
