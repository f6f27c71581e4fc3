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
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sync import SIMULATOR_LOG, start_simulator  # noqa: E402
from bench.common import Environment, machine  # noqa: E402
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large", choices=["tiny", "demo", "large"])
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    configure_logging("console", "warning")
    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
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
                print(f"ade_bytes_per_day: {per_day:,} bytes ({per_day / 1e9:.2f} GB), {requests:,} requests "
                      f"({CYCLES_PER_DAY - HOURLY_PER_DAY} near + {HOURLY_PER_DAY - 1} hourly + 1 nightly)")
                if near.events:
                    print(f"audit_per_cycle: {near.events.audited} resources, {near.events.audit_requests} requests, "
                          f"{near.events.audit_bytes:,} bytes (included in the idle near cycle above)")
        finally:
            if process.poll() is not None:
                print("the simulator died; its log ends with:\n" + SIMULATOR_LOG.read_text(errors="replace")[-2000:])
            process.terminate()
            process.wait(10)
    print(f"machine: {machine()}")


if __name__ == "__main__":
    asyncio.run(main())
