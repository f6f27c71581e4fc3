"""Benchmark of the ADE simulator: build the ``large`` university, serve it, time getEvents over HTTP.

Run: ``.venv/bin/python bench/bench_simulator.py [--preset large] [--rounds 10] [--tracemalloc]``

What it prints, and why each figure matters:
- generation time and peak memory (RSS high-water mark; ``--tracemalloc`` adds Python's own peak,
  at a 5-10x slowdown): ``schedulesy ade-simulator --preset large`` must start in seconds (target:
  ``large`` built in under 30 s), and the test suite builds ``tiny`` many times (target: under 1 s),
  so ``tiny`` and ``demo`` are always timed too;
- how plausible the preset's timetables are (:func:`schedulesy.adesim.realism.profile`): events per
  weekday, the share starting Monday 08:00, the clash rate, per-group events a year and weekly hours;
- the serving process's start-up time and memory, measured on the real entry point (``serve``,
  granian) in a child process, as the CLI runs it;
- latency over real HTTP of the calls our sync makes: one resource's events (a TP group, the busiest
  group, a room), one week of the whole project, one group for one week, the trainee tree at detail 11
  (the call SCH fingerprints), plus a throughput run of per-group calls at concurrency 4.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import subprocess
import sys
import time
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, machine, peak_rss_mib, proc_memory_mib  # noqa: E402
from schedulesy.adesim.app import create_app  # noqa: E402
from schedulesy.adesim.generate import generate  # noqa: E402
from schedulesy.adesim.realism import profile  # noqa: E402

GENERATION_TARGET_SECONDS = {"tiny": 1.0, "large": 30.0}


def generation_verdict(preset: str, seconds: float) -> str:
    target = GENERATION_TARGET_SECONDS.get(preset)
    if target is None:
        return ""
    return f" (target < {target:g} s) {'OK' if seconds < target else 'MISSED'}"


def bench_generation(preset: str, seed: int, slot_minutes: int, with_tracemalloc: bool,
                     with_realism: bool = False) -> None:
    before = peak_rss_mib()
    started = time.perf_counter()
    university = generate(preset, seed, slot_minutes=slot_minutes)
    generated = time.perf_counter() - started
    after_generation = peak_rss_mib()
    started = time.perf_counter()
    create_app(university)
    indexed = time.perf_counter() - started
    print(f"generate {preset!r}: {generated:.2f} s{generation_verdict(preset, generated)}, "
          f"{len(university.resources):,} resources, "
          f"{len(university.events):,} events, {len(university.activities):,} activities")
    print(f"  peak RSS {after_generation:.0f} MiB (+{after_generation - before:.0f} MiB for the data); "
          f"index + app {indexed:.2f} s, peak RSS then {peak_rss_mib():.0f} MiB")
    if with_realism:
        started = time.perf_counter()
        figures = profile(university).summary()
        print(f"  realism ({time.perf_counter() - started:.1f} s to measure):")
        for name, value in figures.items():
            print(f"    {name}: {value}")
    if with_tracemalloc:
        del university
        tracemalloc.start()
        started = time.perf_counter()
        generate(preset, seed, slot_minutes=slot_minutes)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        elapsed = time.perf_counter() - started
        print(f"  tracemalloc peak {peak / 2**20:.0f} MiB (run under tracemalloc: {elapsed:.1f} s)")


def start_server(preset: str, seed: int, slot_minutes: int) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    code = (f"from schedulesy.adesim.server import serve; "
            f"serve('127.0.0.1', {port}, {preset!r}, {seed}, slot_minutes={slot_minutes})")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the simulator exited during start-up")
        try:
            if httpx.get(f"{base}/admin/health", timeout=1).status_code == 200:
                return process, base, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the simulator did not answer within 180 s")


def timed(client: httpx.Client, rounds: int, **params: object) -> tuple[float, float, float, int, int]:
    """(cold ms, warm median ms, warm max ms, bytes, events) of one Web API call repeated."""
    times, body = [], b""
    for _ in range(rounds + 1):
        started = time.perf_counter()
        body = client.get("/jsp/webapi", params={k: str(v) for k, v in params.items()}).content
        times.append((time.perf_counter() - started) * 1000)
    root = ET.fromstring(body)
    return times[0], statistics.median(times[1:]), max(times[1:]), len(body), len(root)


async def throughput(base: str, session: str, leaves: list[int], concurrency: int) -> tuple[float, float]:
    """Calls per second and p95 ms of per-group getEvents (the sync's pattern) at a concurrency."""
    queue = list(leaves)
    latencies: list[float] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            leaf = queue.pop()
            started = time.perf_counter()
            await client.get("/jsp/webapi", params={"function": "getEvents", "sessionId": session,
                                                    "resources": str(leaf), "detail": "0"})
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return len(leaves) / elapsed, latencies[int(len(latencies) * 0.95) - 1]


def bench_serving(preset: str, seed: int, slot_minutes: int, rounds: int) -> None:
    process, base, startup = start_server(preset, seed, slot_minutes)
    try:
        rss, hwm = proc_memory_mib(process.pid)
        print(f"serve {preset!r} (granian, child process): answering after {startup:.1f} s, RSS {rss:.0f} MiB")
        with httpx.Client(base_url=base, timeout=120) as client:
            project = client.get("/admin/project").json()
            samples = client.get("/admin/summary").json()["samples"]
            session = ET.fromstring(client.get("/jsp/webapi", params={
                "function": "connect", "login": project["login"], "password": project["password"]}).content).get("id")
            client.get("/jsp/webapi", params={"function": "setProject", "sessionId": session,
                                              "projectId": str(project["id"])})
            monday = dt.date.fromisoformat(project["week0"]) + dt.timedelta(weeks=project["current_week"])
            week = {"startDate": monday.strftime("%m/%d/%Y"),
                    "endDate": (monday + dt.timedelta(days=6)).strftime("%m/%d/%Y")}
            cases = [
                ("getEvents, one TP group (year)", {"resources": samples["trainee_leaf"]}),
                ("getEvents, busiest group (year)", {"resources": samples["busiest_trainee"]}),
                ("getEvents, one room (year)", {"resources": samples["classroom"]}),
                ("getEvents, one TP group, one week", {"resources": samples["trainee_leaf"], **week}),
                ("getEvents, whole project, one week", week),
            ]
            print(f"  latency over HTTP, detail=0, {rounds} warm rounds (cold / median / max, size):")
            for label, params in cases:
                cold, median, worst, size, count = timed(client, rounds, function="getEvents", sessionId=session,
                                                         detail=0, **params)
                print(f"    {label:<38} {cold:8.1f} / {median:7.1f} / {worst:7.1f} ms  "
                      f"{size / 2**20:6.2f} MiB, {count:,} events")
            cold, median, worst, size, count = timed(client, max(3, rounds // 3), function="getResources",
                                                     sessionId=session, category="trainee", tree="True",
                                                     detail=11, hash="True")
            print(f"    {'getResources trainee tree, detail 11':<38} {cold:8.1f} / {median:7.1f} / {worst:7.1f} ms  "
                  f"{size / 2**20:6.2f} MiB")
            leaves_xml = client.get("/jsp/webapi", params={"function": "getResources", "sessionId": session,
                                                           "category": "trainee", "folders": "false",
                                                           "detail": "1"}).content
            leaves = [int(e.get("id", 0)) for e in ET.fromstring(leaves_xml)]
            sample = leaves[:: max(1, len(leaves) // 300)]
        rate, p95 = asyncio.run(throughput(base, session or "", sample, 4))
        print(f"  throughput: {len(sample)} per-group getEvents at concurrency 4: {rate:.0f} calls/s, p95 {p95:.1f} ms")
        rss, hwm = proc_memory_mib(process.pid)
        print(f"  server memory after the run: RSS {rss:.0f} MiB, peak {hwm:.0f} MiB")
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large", choices=["tiny", "demo", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--slot-minutes", type=int, default=15, choices=[15, 30])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tracemalloc", action="store_true", help="also measure Python's allocation peak")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for smaller in ("tiny", "demo"):
        if smaller != args.preset:
            bench_generation(smaller, args.seed, args.slot_minutes, False)
    bench_generation(args.preset, args.seed, args.slot_minutes, args.tracemalloc, with_realism=True)
    bench_serving(args.preset, args.seed, args.slot_minutes, args.rounds)


if __name__ == "__main__":
    main()
