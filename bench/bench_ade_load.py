"""What the ADE sync costs ADE when nothing changes, per cycle and per simulated day (``large`` by default).

Run: ``.venv/bin/python bench/bench_ade_load.py [--preset large]``

After the initial sync it measures, in requests and bytes received from ADE (the client's counters):

1. an idle near-term cycle (what runs every ``SCHEDULESY_POLL_INTERVAL``) — target ≤ 1 MB, ≤ 6 requests;
2. an idle cycle where every other periodic part is due too (the far term, and the trees on their own
   cadence): what runs once an hour;
3. an idle nightly full reconciliation;

and the bytes of a steady-state day at the default settings: 288 cycles of 5 minutes, of which 24 are the
hourly ones (one of those the nightly). The figure to compare with the run before the change (recorded in
bench/README.md) must be at least 20× lower. The continuous audit's cost per cycle is printed on its own.

Then the same with ADE's change feed leading (docs/ade.md §5.9): a real consumer connected to RabbitMQ
(``SCHEDULESY_BENCH_AMQP_URL``, default ``amqp://guest:guest@127.0.0.1:5672/``, a queue of the bench's own)
keeps the feed trusted; it measures

4. an idle cycle while the feed leads (no probe: the audit only);
5. an idle cycle where only the trees are due;

and composes a day at the default feed settings from those and the cycles above, whose work is the
same with or without the feed (a near-term probe every 2 h, the rest of the year once a day, the full
pass every 7 nights, averaged).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import aio_pika
import httpx
import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sync import SIMULATOR_LOG, start_simulator  # noqa: E402
from bench.common import Environment, machine  # noqa: E402
from commands.ade_sync.amqp import ChangeFeed  # noqa: E402
from commands.ade_sync.cycle import run_cycle  # noqa: E402
from commands.ade_sync.report import SyncReport  # noqa: E402
from schedulesy.ade.client import AdeClient  # noqa: E402
from schedulesy.logging import configure_logging  # noqa: E402
from schedulesy.services import Services, open_services  # noqa: E402
from schedulesy.settings import load_settings  # noqa: E402

CYCLES_PER_DAY = 288
HOURLY_PER_DAY = 24
IDLE_BYTES_TARGET = 1_000_000
IDLE_REQUESTS_TARGET = 6
BEFORE_BYTES_PER_DAY = 9_160_000_000
"""A steady-state day on ``large`` before the trees got their own cadence (bench/README.md)."""
DAY_TARGET_FACTOR = 20
BENCH_QUEUE = "schedulesy.bench.ade_load"


def line(label: str, report: SyncReport) -> None:
    by_function = ", ".join(f"{k} {v}" for k, v in sorted(report.ade_requests.items()))
    audit = report.events.audited if report.events else 0
    print(f"{label}: {report.ade_bytes:,} bytes, {report.requests} requests ({by_function}), "
          f"{report.duration_seconds:.2f} s, status {report.status} ({report.mode}), audited {audit}")


async def age_periodic_parts(services: Services) -> None:
    """Make every periodic part but the nightly one due, as if two hours had passed."""
    await services.pool.execute(
        """UPDATE schedulesy.sync_state
           SET last_attempt_at = last_attempt_at - interval '2 hours',
               last_success_at = last_success_at - interval '2 hours'
           WHERE name NOT IN ('events:full', 'cycle')""")


async def age_trees(services: Services) -> None:
    await services.pool.execute(
        "UPDATE schedulesy.sync_state SET last_success_at = last_success_at - interval '2 hours' WHERE name = 'trees'")


def day_line(label: str, per_day: int, requests: int, parts: str) -> None:
    factor = BEFORE_BYTES_PER_DAY / per_day
    print(f"{label}: {per_day:,} bytes ({per_day / 1e9:.2f} GB), {requests:,} requests ({parts}); "
          f"{factor:.1f}x below the {BEFORE_BYTES_PER_DAY / 1e9:.2f} GB before: "
          f"{'OK' if factor >= DAY_TARGET_FACTOR else 'MISSED'} (target {DAY_TARGET_FACTOR}x)")


async def feed_led(services: Services, ade: AdeClient, near: SyncReport, hourly: SyncReport,
                   nightly: SyncReport) -> None:
    """Items 4 and 5 with a real consumer connected, and the composed day."""
    settings = services.settings
    feed = ChangeFeed(services, ade)
    consumer = asyncio.create_task(feed.run())
    try:
        await asyncio.wait_for(feed.ready.wait(), 30)
        await asyncio.sleep(1.1)  # beating; a probe in the second the consumer connected would not count
        baseline = await run_cycle(services, client=ade, feed_may_lead=True)
        if baseline.feed == "trusted":
            raise SystemExit(f"the feed should not lead before a probe after it connected: {baseline.feed}")
        led = await run_cycle(services, client=ade, feed_may_lead=True)
        line("feed_led_idle_cycle", led)
        audit_requests = led.events.audit_requests if led.events else 0
        audit_bytes = led.events.audit_bytes if led.events else 0
        ok = led.ade_bytes <= IDLE_BYTES_TARGET and led.requests - audit_requests <= IDLE_REQUESTS_TARGET
        print(f"  feed: {led.feed}; target <= {IDLE_BYTES_TARGET:,} bytes and <= {IDLE_REQUESTS_TARGET} requests "
              f"besides the audit's {audit_requests} ({audit_bytes:,} bytes): {'OK' if ok else 'MISSED'}")
        await age_trees(services)
        trees = await run_cycle(services, client=ade, feed_may_lead=True)
        line("feed_led_trees_cycle", trees)
        if led.feed != "trusted" or trees.feed != "trusted":
            raise SystemExit("the feed did not lead; is the broker up?")
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(BENCH_QUEUE)
            await channel.exchange_delete(BENCH_QUEUE)
    near_probes = round(86400 / settings.sync_feed_near_interval)  # one of them is the daily far cycle
    far_cycles = 86400 / settings.sync_feed_far_interval
    tree_checks = round(86400 / settings.sync_tree_interval)
    tree_only = tree_checks - near_probes
    idle = CYCLES_PER_DAY - tree_checks
    full_share = 1 / settings.sync_feed_full_days
    parts = [(idle, led), (tree_only, trees), (near_probes - far_cycles, near), (far_cycles, hourly)]
    per_day = round(sum(n * r.ade_bytes for n, r in parts) + full_share * (nightly.ade_bytes - hourly.ade_bytes))
    requests = round(sum(n * r.requests for n, r in parts) + full_share * (nightly.requests - hourly.requests))
    day_line("feed_led_ade_bytes_per_day", per_day, requests,
             f"{idle} idle + {tree_only} trees only + {near_probes - far_cycles:g} near probes + {far_cycles:g} far "
             f"+ 1/{settings.sync_feed_full_days} of a nightly full pass")
    heaviest = per_day + round((1 - full_share) * (nightly.ade_bytes - hourly.ade_bytes))
    print(f"  the night of the full pass: {heaviest:,} bytes ({heaviest / 1e9:.2f} GB); without the audit "
          f"{per_day - CYCLES_PER_DAY * audit_bytes:,} bytes a day")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large", choices=["tiny", "demo", "large"])
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    configure_logging("console", "warning")
    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    amqp_url = os.environ.get("SCHEDULESY_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    async with Environment(admin_url, redis_base, "schedulesy_bench_ade_load") as env:
        started = time.perf_counter()
        process, base = start_simulator(args.preset, args.seed)
        print(f"simulator: {args.preset} preset up in {time.perf_counter() - started:.1f} s")
        try:
            project = httpx.get(base + "/admin/project").json()
            settings = load_settings({
                "SCHEDULESY_DATABASE_URL": env.database_url, "SCHEDULESY_REDIS_URL": env.redis_url,
                "SCHEDULESY_ADE_URL": base + "/jsp/webapi", "SCHEDULESY_ADE_LOGIN": project["login"],
                "SCHEDULESY_ADE_PASSWORD": project["password"], "SCHEDULESY_ADE_PROJECT_ID": str(project["id"]),
                "SCHEDULESY_TIMEZONE": project["timezone"], "SCHEDULESY_LOG_LEVEL": "warning",
            })
            led_settings = msgspec.structs.replace(settings, amqp_url=amqp_url, amqp_exchange=BENCH_QUEUE,
                                                   amqp_queue=BENCH_QUEUE)
            async with open_services(settings) as services, AdeClient.from_settings(settings) as ade:
                line("initial_sync", await run_cycle(services, client=ade))
                await run_cycle(services, client=ade)  # the first near cycle after it
                near = await run_cycle(services, client=ade)
                ok = near.ade_bytes <= IDLE_BYTES_TARGET and near.requests <= IDLE_REQUESTS_TARGET
                line("idle_near_cycle", near)
                print(f"  target <= {IDLE_BYTES_TARGET:,} bytes and <= {IDLE_REQUESTS_TARGET} requests: "
                      f"{'OK' if ok else 'MISSED'}")
                await age_periodic_parts(services)
                hourly = await run_cycle(services, client=ade)
                line("idle_hourly_cycle", hourly)
                nightly = await run_cycle(services, client=ade, full=True)
                line("idle_nightly_cycle", nightly)
                per_day = ((CYCLES_PER_DAY - HOURLY_PER_DAY) * near.ade_bytes
                           + (HOURLY_PER_DAY - 1) * hourly.ade_bytes + nightly.ade_bytes)
                requests = ((CYCLES_PER_DAY - HOURLY_PER_DAY) * near.requests
                            + (HOURLY_PER_DAY - 1) * hourly.requests + nightly.requests)
                day_line("ade_bytes_per_day", per_day, requests,
                         f"{CYCLES_PER_DAY - HOURLY_PER_DAY} near + {HOURLY_PER_DAY - 1} hourly + 1 nightly")
                if near.events:
                    print(f"audit_per_cycle: {near.events.audited} resources, {near.events.audit_requests} requests, "
                          f"{near.events.audit_bytes:,} bytes (included in the idle near cycle above)")
                await feed_led(services.with_settings(led_settings), ade, near, hourly, nightly)
        finally:
            if process.poll() is not None:
                print("the simulator died; its log ends with:\n" + SIMULATOR_LOG.read_text(errors="replace")[-2000:])
            process.terminate()
            process.wait(10)
    print(f"machine: {machine()}")


if __name__ == "__main__":
    asyncio.run(main())
