"""Benchmark of the change history and feeds: what they add to a sync cycle, and how fast a change
reaches the feeds.

Run: ``.venv/bin/python bench/bench_changes.py [--preset demo] [--moved 0.01] [--rounds 5] [--users 300]``

On a simulated university (the simulator in a child process, as in ``bench_sync.py``) and a
database of its own: the initial sync, then ``--users`` users with 1–3 resources each and their read
models. Each round moves ``--moved`` of the near-term events in ADE and runs a near-term cycle:

1. without the projector, alternately with and without recording the history: the cycle's wall time
   (medians), and the time spent inside the history code (observing, comparing, inserting);
2. with the projector running in this process: change detected → feed updated, from the end of the
   cycle (every write committed) until the JSON feed of each affected selection in Redis lists that
   selection's newest change, polled every 5 ms — p50, p99, max; target p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sync import SIMULATOR_LOG, apply_moves, pick_events, start_simulator  # noqa: E402
from bench.common import Environment, machine  # noqa: E402
from commands.ade_sync import history  # noqa: E402
from commands.ade_sync.cycle import run_cycle  # noqa: E402
from projections.builders.document import StoredDocument  # noqa: E402
from projections.readmodels import ReadModels  # noqa: E402
from projections.worker import Projector  # noqa: E402
from schedulesy.ade.client import AdeClient  # noqa: E402
from schedulesy.logging import configure_logging  # noqa: E402
from schedulesy.selection import Selection  # noqa: E402
from schedulesy.services import Services, open_services  # noqa: E402
from schedulesy.settings import load_settings  # noqa: E402

FEED_TARGET_SECONDS = 1.0
POLL_SECONDS = 0.005
GIVE_UP_SECONDS = 30.0


class timed_history:  # noqa: N801 (used like a context, reads as what it measures)
    """Wraps the history entry points of the writes: seconds spent inside them; ``enabled = False``
    turns recording off (the cycle then writes the mirror only)."""

    def __init__(self) -> None:
        self.enabled = True
        self.seconds = 0.0
        recording = history.recording

        async def maybe(conn: Any) -> bool:
            return self.enabled and await recording(conn)

        history.recording = maybe
        for name in ("observe_before", "record_changes", "record_removals"):
            setattr(history, name, self._timed(getattr(history, name)))

    def _timed(self, function: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return wrapper


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def add_users(services: Services, count: int, rng: random.Random) -> list[Selection]:
    resources = [r["resource_ext_id"] for r in await services.pool.fetch(
        "SELECT DISTINCT resource_ext_id FROM schedulesy.timetable ORDER BY 1")]
    selections = []
    for n in range(count):
        ids = rng.sample(resources, rng.randint(1, 3))
        selections.append(Selection.of(ids).canonical())
        await services.pool.execute(
            """INSERT INTO public.w_edtperso (ressources, uds_directory_id, uid, date_creation, date_personnalisation)
               VALUES ($1, $2, $3, now(), now())""", ",".join(ids), f"dir-{n}", f"user{n}")
    return selections


async def newest_change_by_selection(services: Services, selections: list[Selection], since: int) -> dict[str, str]:
    """For each selection touched by changes with id > ``since``: the uid of its newest one."""
    rows = await services.pool.fetch(
        "SELECT id, uid::text, resources FROM schedulesy.event_history WHERE id > $1 ORDER BY detected_at, id", since)
    newest: dict[str, str] = {}
    for selection in set(selections):
        ids = set(selection.ids)
        for row in rows:
            if not ids.isdisjoint(row["resources"]):
                newest[selection.hash] = row["uid"]
    return newest


async def wait_for_feeds(services: Services, models: ReadModels, wanted: dict[str, str], started: float) -> list[float]:
    """Seconds from ``started`` until each selection's feed lists its newest change."""
    pending = dict(wanted)
    latencies: list[float] = []
    while pending and time.perf_counter() - started < GIVE_UP_SECONDS:
        for digest, uid in list(pending.items()):
            document = await models.store.read(services.keys.changes(digest, "fr"))
            if isinstance(document, StoredDocument):
                entries = msgspec.json.decode(document.body)
                if entries and entries[0]["id"] == uid:
                    latencies.append(time.perf_counter() - started)
                    del pending[digest]
        await asyncio.sleep(POLL_SECONDS)
    if pending:
        print(f"  WARNING: {len(pending)} feeds not updated within {GIVE_UP_SECONDS:.0f} s")
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--moved", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each kind")
    parser.add_argument("--users", type=int, default=300)
    args = parser.parse_args()
    configure_logging("console", "warning")
    rng = random.Random(args.seed)
    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    async with Environment(admin_url, redis_base, "schedulesy_bench_changes") as env:
        process, base = start_simulator(args.preset, args.seed)
        try:
            project: dict[str, Any] = httpx.get(base + "/admin/project").json()
            settings = load_settings({
                "SCHEDULESY_DATABASE_URL": env.database_url, "SCHEDULESY_REDIS_URL": env.redis_url,
                "SCHEDULESY_ADE_URL": base + "/jsp/webapi", "SCHEDULESY_ADE_LOGIN": project["login"],
                "SCHEDULESY_ADE_PASSWORD": project["password"], "SCHEDULESY_ADE_PROJECT_ID": str(project["id"]),
                "SCHEDULESY_TIMEZONE": project["timezone"], "SCHEDULESY_LOG_LEVEL": "warning",
            })
            async with open_services(settings) as services, AdeClient.from_settings(settings) as ade:
                first = await run_cycle(services, client=ade)
                print(f"initial_sync: {first.duration_seconds:.1f} s, "
                      f"{await services.pool.fetchval('SELECT count(*) FROM schedulesy.event'):,} events")
                selections = await add_users(services, args.users, rng)
                models = ReadModels(services)
                await models.rebuild_all()
                today = dt.datetime.now(settings.zone).date()
                monday = today - dt.timedelta(days=today.weekday())
                near_end = monday + dt.timedelta(weeks=settings.sync_near_weeks, days=-1)

                async def moved_cycle() -> tuple[float, int, int]:
                    moves = await pick_events(base, start=monday, end=near_end, share=args.moved, rng=rng,
                                              project=project)
                    apply_moves(base, moves)
                    since = await services.pool.fetchval("SELECT coalesce(max(id), 0) FROM schedulesy.event_history")
                    started = time.perf_counter()
                    await run_cycle(services, client=ade)
                    return time.perf_counter() - started, len(moves), since

                # 1. The cycle alone (no projector competing for this process), with and without history.
                spent = timed_history()
                times: dict[bool, list[float]] = {True: [], False: []}
                history_seconds: list[float] = []
                for round_number in range(2 * args.rounds):
                    with_history = round_number % 2 == 0
                    spent.enabled = with_history
                    spent.seconds = 0.0
                    seconds, _, _ = await moved_cycle()
                    times[with_history].append(seconds)
                    if with_history:
                        history_seconds.append(spent.seconds)
                spent.enabled = True
                with_median, without_median = statistics.median(times[True]), statistics.median(times[False])
                print(f"near_term_cycle_{args.moved:.0%}_moved: with history {with_median:.3f} s, without "
                      f"{without_median:.3f} s (medians of {args.rounds} rounds each); inside the history code: "
                      f"median {statistics.median(history_seconds) * 1000:.0f} ms, "
                      f"max {max(history_seconds) * 1000:.0f} ms per cycle")

                # 2. Change detected → feed updated, the projector running.
                await models.rebuild_all()
                await services.pool.execute("DELETE FROM schedulesy.change")
                projector = asyncio.create_task(Projector(services, poll_interval=0.5).run())
                latencies: list[float] = []
                try:
                    await asyncio.sleep(1)
                    for _ in range(args.rounds):
                        seconds, moved, since = await moved_cycle()
                        ended = time.perf_counter()
                        wanted = await newest_change_by_selection(services, selections, since)
                        latencies += await wait_for_feeds(services, models, wanted, ended)
                        print(f"  {moved} moved, {len(wanted)} feeds to update")
                        await asyncio.sleep(2)  # let the projector finish the calendars before the next round
                finally:
                    projector.cancel()
                    await asyncio.gather(projector, return_exceptions=True)
                if latencies:
                    p99 = percentile(latencies, 0.99)
                    print(f"change_to_feed: {len(latencies)} feeds, p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                          f"p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms  target p99 < "
                          f"{FEED_TARGET_SECONDS:.0f} s: {'OK' if p99 < FEED_TARGET_SECONDS else 'MISSED'}")
        finally:
            if process.poll() is not None:
                print("the simulator died; its log ends with:\n" + SIMULATOR_LOG.read_text(errors="replace")[-2000:])
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    print(f"machine: {machine()}")


if __name__ == "__main__":
    asyncio.run(main())
