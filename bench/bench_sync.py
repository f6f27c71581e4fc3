"""Benchmark of the ADE → Postgres sync on a simulated university (``large`` by default).

Run: ``.venv/bin/python bench/bench_sync.py [--preset large] [--moved 0.01] [--skip-nightly]``

It starts the simulator in a child process (``schedulesy ade-simulator``, as in production the sync
and ADE do not share a CPU), creates a database of its own on the server of
``SCHEDULESY_TEST_DATABASE_URL`` (default: the local Postgres), and measures, each with the ADE
requests by function, the bytes received and the wall time:

1. the initial sync (empty mirror: trees, then every event of the year at full detail);
2. a no-change cycle (near term) — target: at most 10 ADE requests and no event details;
3. a cycle after 1 % of the near-term events moved — details should cost about N/batch requests;
4. a cycle after 1 % of the rest of the year's events moved (the hourly far-term check), beside
   what the original would have spent on the same change: one getEvents per resource that booked a
   moved event, before or after, and per descendant of those (SCH ``lineage``);
5. unless ``--skip-nightly``: the nightly full reconciliation of unchanged data.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Environment, free_port, machine, peak_rss_mib  # noqa: E402
from commands.ade_sync.cycle import run_cycle  # noqa: E402
from commands.ade_sync.report import SyncReport  # noqa: E402
from schedulesy.ade.client import AdeClient  # noqa: E402
from schedulesy.logging import configure_logging  # noqa: E402
from schedulesy.services import open_services  # noqa: E402
from schedulesy.settings import load_settings  # noqa: E402

NO_CHANGE_TARGET = 10


SIMULATOR_LOG = Path("/tmp/bench_sync_simulator.log")


def start_simulator(preset: str, seed: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    # A file, not a pipe: nobody reads a pipe while the benchmark runs, and a full one blocks the server.
    log_file = SIMULATOR_LOG.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "schedulesy.cli", "ade-simulator", "--preset", preset, "--seed", str(seed),
         "--port", str(port)],
        cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the simulator exited:\n" + SIMULATOR_LOG.read_text(errors="replace")[-2000:])
        try:
            if httpx.get(base + "/admin/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the simulator did not start in time")


def show(label: str, report: SyncReport, *, target: str = "") -> None:
    events = report.events
    by_function = ", ".join(f"{k} {v}" for k, v in sorted(report.ade_requests.items()))
    print(f"{label}:")
    print(f"  status: {report.status} ({report.mode})" + (f"  errors: {report.errors}" if report.errors else ""))
    print(f"  time: {report.duration_seconds:.2f} s")
    print(f"  ade_requests: {report.requests} requests ({by_function}){target}")
    print(f"  ade_bytes: {report.ade_bytes / 1e6:.2f} MB")
    waited = ", ".join(f"{k} {v.seconds:.1f}" for k, v in sorted(report.ade.items()))
    print(f"  ade_seconds: {waited} (summed over concurrent requests)")
    trees = ", ".join(f"{c.category} {c.status} {c.nodes}" for c in report.categories)
    print(f"  trees: {trees}")
    if events:
        print(f"  events: {events.probed} seen in {events.windows} windows, +{events.new} ~{events.changed} "
              f"-{events.deleted}, {events.details_fetched} fetched in detail, moved out {events.moved_out}")
        print(f"  timetable_rows: +{events.timetable_rows_added} -{events.timetable_rows_removed}")


async def pick_events(base: str, *, start: dt.date, end: dt.date, share: float, rng: random.Random,
                      project: dict[str, Any]) -> list[tuple[int, dt.date]]:
    """``share`` of the events dated in [start, end], each with a new date 1-6 days later or earlier."""
    week0 = dt.date.fromisoformat(project["week0"])
    last = week0 + dt.timedelta(weeks=project["weeks"], days=-1)
    async with AdeClient(base + "/jsp/webapi", project["login"], project["password"], project["id"]) as ade:
        answer = await ade.get_events(start_date=start, end_date=end, detail=3)
    chosen = rng.sample(answer.events, max(1, round(share * len(answer.events))))
    moves = []
    for event in chosen:
        assert event.date is not None
        for _ in range(10):
            target = event.date + dt.timedelta(days=rng.choice([-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6]))
            if start <= target <= min(end, last):
                break
        else:
            continue
        moves.append((event.id, target))
    return moves


def apply_moves(base: str, moves: list[tuple[int, dt.date]]) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=30) as http:
        for event_id, target in moves:
            response = http.post(f"/admin/events/{event_id}/move", json={"date": target.isoformat()})
            response.raise_for_status()
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large", choices=["tiny", "demo", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--moved", type=float, default=0.01, help="share of events moved (default 0.01)")
    parser.add_argument("--skip-nightly", action="store_true")
    args = parser.parse_args()
    configure_logging("console", "warning")
    rng = random.Random(args.seed)

    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    async with Environment(admin_url, redis_base, "schedulesy_bench_sync") as env:
        started = time.perf_counter()
        process, base = start_simulator(args.preset, args.seed)
        print(f"simulator: {args.preset} preset up in {time.perf_counter() - started:.1f} s")
        try:
            database_url, redis_url = env.database_url, env.redis_url
            project = httpx.get(base + "/admin/project").json()
            summary = httpx.get(base + "/admin/summary").json()
            print(f"university: {sum(summary['resources'].values()):,} resources, {summary['events']:,} events")
            settings = load_settings({
                "SCHEDULESY_DATABASE_URL": database_url, "SCHEDULESY_REDIS_URL": redis_url,
                "SCHEDULESY_ADE_URL": base + "/jsp/webapi", "SCHEDULESY_ADE_LOGIN": project["login"],
                "SCHEDULESY_ADE_PASSWORD": project["password"], "SCHEDULESY_ADE_PROJECT_ID": str(project["id"]),
                "SCHEDULESY_TIMEZONE": project["timezone"], "SCHEDULESY_LOG_LEVEL": "warning",
            })
            async with open_services(settings) as services, AdeClient.from_settings(settings) as ade:
                first = await run_cycle(services, client=ade)
                show("initial_sync", first)
                rows = {t: await services.pool.fetchval(f"SELECT count(*) FROM schedulesy.{t}")
                        for t in ("resource", "event", "event_resource", "timetable")}
                print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
                print(f"  peak_rss: {peak_rss_mib():.0f} MiB")

                await services.pool.execute("DELETE FROM schedulesy.change")
                quiet = await run_cycle(services, client=ade)
                ok = (quiet.requests <= NO_CHANGE_TARGET and quiet.events is not None
                      and quiet.events.details_fetched == 0)
                show("no_change_cycle", quiet,
                     target=f"  target <= {NO_CHANGE_TARGET} requests and no details: {'OK' if ok else 'MISSED'}")
                written = await services.pool.fetchval("SELECT count(*) FROM schedulesy.change")
                print(f"  change_rows: {written}  target 0: {'OK' if written == 0 else 'MISSED'}")

                today = dt.datetime.now(settings.zone).date()
                monday = today - dt.timedelta(days=today.weekday())
                near_end = monday + dt.timedelta(weeks=settings.sync_near_weeks, days=-1)
                moves = await pick_events(base, start=monday, end=near_end, share=args.moved, rng=rng, project=project)
                spent = apply_moves(base, moves)
                near = await run_cycle(services, client=ade)
                detail_requests = near.events.details_fetched if near.events else 0
                show(f"near_term_{args.moved:.0%}_moved", near)
                print(f"  moved: {len(moves)} events (admin calls took {spent:.1f} s); "
                      f"changed seen: {near.events.changed if near.events else 0}")
                print(f"  original_requests: {near.events.legacy_requests if near.events else 0} "
                      f"(one getEvents per affected resource and its descendants)  ours: {near.requests}")
                del detail_requests

                week0 = dt.date.fromisoformat(project["week0"])
                year_end = week0 + dt.timedelta(weeks=project["weeks"], days=-1)
                moves = await pick_events(base, start=near_end + dt.timedelta(days=1), end=year_end, share=args.moved,
                                          rng=rng, project=project)
                apply_moves(base, moves)
                await services.pool.execute(
                    "UPDATE schedulesy.sync_state SET last_success_at = now() - interval '1 day' "
                    "WHERE name = 'events:far'")
                far = await run_cycle(services, client=ade)
                show(f"far_term_{args.moved:.0%}_moved", far)
                batches = -(-len(moves) // 100)
                print(f"  moved: {len(moves)} events; eventId detail requests expected ≈ {batches} (N/100)")
                print(f"  original_requests: {far.events.legacy_requests if far.events else 0} "
                      f"(one getEvents per affected resource and its descendants)  ours: {far.requests}")

                if not args.skip_nightly:
                    nightly = await run_cycle(services, client=ade, full=True)
                    show("nightly_full_reconciliation", nightly)
                    if nightly.events:
                        print(f"  audit: {nightly.events.audited} timetables checked, "
                              f"{nightly.events.audit_mismatches} differ")
                    resources = await services.pool.fetchval(
                        "SELECT count(*) FROM schedulesy.resource WHERE category <> ext_id")
                    print(f"  original_nightly_requests: {resources:,} (one getEvents per resource)")
                print(f"peak_rss_total: {peak_rss_mib():.0f} MiB")
        finally:
            if process.poll() is not None:
                print(f"the simulator died (exit {process.returncode}); its log ends with:\n"
                      + SIMULATOR_LOG.read_text(errors="replace")[-2000:])
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    print(f"machine: {machine()}")


if __name__ == "__main__":
    asyncio.run(main())
