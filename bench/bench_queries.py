"""Benchmark of the read API: each endpoint against a same-size in-memory baseline, same server.

Run: ``.venv/bin/python bench/bench_queries.py [--duration 4] [--connections 8] [--rounds 1]``
or, for scale-out figures, ``.venv/bin/python bench/bench_queries.py --scale-out``: req/s of the calendar
JSON and a room's public events with 1 and 2 API processes (``schedulesy serve`` each, the load split
between them as a load balancer would), against standalone Redis and against a local 3+3 Redis Cluster
(``schedulesy/devcluster.py``, needs ``redis-server`` and ``redis-cli``).

What it does:
- creates a database and a Redis logical db of its own (``SCHEDULESY_TEST_DATABASE_URL`` /
  ``SCHEDULESY_TEST_REDIS_URL``, default the local servers), migrates, writes a mirror with plain
  SQL (a student group's year: a 400-event calendar, a 250-event room, a 40-child tree node),
  and builds the read models into Redis with the projector's own code (``ReadModels.rebuild_all``);
- serves the real app (``create_app``) with granian on 127.0.0.1, one worker, as ``schedulesy serve``
  does — plus one route that exists only in this benchmark app: ``/bench/baseline/{size}``, which
  answers ``size`` bytes held in process memory through the same middleware (the cheapest possible
  answer of that size);
- loads each endpoint, then the baseline with the same number of bytes (and the same request
  headers), with ``wrk`` in a separate process (or, without wrk, a small asyncio HTTP/1.1 client in
  a separate process, bounded in requests);
- prints requests per second, p50/p99 latency, the ratio to the baseline (target ≥ 0.7) and the
  per-request overhead in microseconds, for identity bodies, gzip bodies and 304 answers.

The request log runs at ``warning`` level here, so the per-request log line (the same cost on both
sides) does not dilute the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from litestar import Litestar, Response, get  # noqa: E402
from bench.common import Environment, free_port, machine  # noqa: E402
from queries.delivery import BytesResponse  # noqa: E402

TARGET_RATIO = 0.7
PARIS = dt.timezone(dt.timedelta(hours=1))
BASELINE_PATH = "/bench/baseline/{size:int}"
LITESTAR_RESPONSE_PATH = "/bench/litestar-response/{size:int}"

# ---------------------------------------------------------------------------------------------
# The benchmark app: the real one plus a baseline route that production never has


_BLOBS: dict[int, bytes] = {}


def bench_app() -> Litestar:
    """``granian --factory bench_queries:bench_app``: settings come from the environment."""
    from schedulesy.app import create_app

    @get(BASELINE_PATH, include_in_schema=False)
    async def baseline(size: int) -> BytesResponse:
        body = _BLOBS.get(size)
        if body is None:
            body = _BLOBS[size] = b"x" * size
        headers = [(b"content-type", b"application/json"), (b"content-length", str(size).encode())]
        return BytesResponse(200, headers, body)

    @get(LITESTAR_RESPONSE_PATH, include_in_schema=False)
    async def litestar_response(size: int) -> Response[bytes]:
        """The same bytes through Litestar's own ``Response``, to measure what an ASGI-level answer saves."""
        body = _BLOBS.get(size)
        if body is None:
            body = _BLOBS[size] = b"x" * size
        return Response(content=body, media_type="application/json")

    if os.environ.get("BENCH_NO_LOCAL_COPIES"):
        from queries import localcache

        localcache.MAX_BYTES = 0  # every read goes to Redis through the facade
    app = create_app()
    app.register(baseline)
    app.register(litestar_response)
    return app


# ---------------------------------------------------------------------------------------------
# Data


GROUP, SUBGROUP, ROOM, BRANCH = "3001", "3002", "2001", "2000"
ROOMS = [str(2001 + i) for i in range(40)]
TEACHERS = [str(4001 + i) for i in range(30)]


def _node(ext_id: str, category: str, name: str, parent: str | None, children: list[tuple[str, str, bool]],
          genealogy: list[tuple[str, str]]) -> dict[str, object]:
    refs = [{"id": c, "name": n, "code": "", "has_children": h} for c, n, h in children]
    if parent is None:
        return {"tag": "category", "category": category, "id": ext_id, "name": name, "children": refs}
    fields: dict[str, object] = {
        "id": ext_id, "name": name, "category": category, "tag": "branch" if refs else "leaf", "parent": parent,
        "path": ".".join(n for _, n in genealogy[1:]),
        "genealogy": [{"id": i, "name": n, "code": ""} for i, n in genealogy],
    }
    if refs:
        fields["children"] = refs
    return fields


async def seed(database_url: str) -> None:
    """A group's year (300 events) and its sub-group's (100), spread over 40 rooms and 30 teachers."""
    from schedulesy.db import create_pool

    pool = await create_pool(database_url, max_size=2)
    rows: list[tuple[str, str, str | None, str, str, dict[str, object], list[float] | None]] = []
    room_names = {r: f"Salle {i:03d} - Bâtiment Le Bel" for i, r in enumerate(ROOMS)}
    teacher_names = {t: f"Enseignant{i} Nom{i}" for i, t in enumerate(TEACHERS)}
    for category in ("classroom", "instructor", "trainee", "category5"):
        children = {"classroom": [(BRANCH, "STR  -SITE ESPLANADE", True)],
                    "instructor": [(t, teacher_names[t], False) for t in TEACHERS],
                    "trainee": [(GROUP, "L3 Biologie", True)], "category5": []}[category]
        rows.append((category, category, None, category, "", _node(category, category, category, None, children, []),
                     None))
    site = [("classroom", "classroom"), (BRANCH, "STR  -SITE ESPLANADE")]
    rows.append((BRANCH, "classroom", "classroom", "STR  -SITE ESPLANADE", "",
                 _node(BRANCH, "classroom", "STR  -SITE ESPLANADE", "classroom",
                       [(r, room_names[r], False) for r in ROOMS], site[:1]), None))
    for room in ROOMS:
        rows.append((room, "classroom", BRANCH, room_names[room], "",
                     _node(room, "classroom", room_names[room], BRANCH, [], site), [48.58, 7.76, 0.0]))
    for teacher in TEACHERS:
        rows.append((teacher, "instructor", "instructor", teacher_names[teacher], "",
                     _node(teacher, "instructor", teacher_names[teacher], "instructor", [],
                           [("instructor", "instructor")]), None))
    rows.append((GROUP, "trainee", "trainee", "L3 Biologie", "",
                 _node(GROUP, "trainee", "L3 Biologie", "trainee", [(SUBGROUP, "L3 Biologie TP1", False)],
                       [("trainee", "trainee")]), None))
    rows.append((SUBGROUP, "trainee", GROUP, "L3 Biologie TP1", "",
                 _node(SUBGROUP, "trainee", "L3 Biologie TP1", GROUP, [],
                       [("trainee", "trainee"), (GROUP, "L3 Biologie")]), None))
    await pool.executemany(
        """INSERT INTO schedulesy.resource (ext_id, category, parent_ext_id, name, code, fields, geolocation)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""", rows)

    start = dt.datetime(2025, 9, 1, 8, 0, tzinfo=PARIS)
    events, bookings, timetable = [], [], []
    for n in range(400):
        event_id = 500_000 + n
        group = GROUP if n < 300 else SUBGROUP
        room = ROOM if n % 8 < 5 else ROOMS[n % len(ROOMS)]  # 250 of them in the busiest room
        teacher = TEACHERS[n % len(TEACHERS)]
        starts = start + dt.timedelta(days=n // 3 * 7 // 5, hours=2 * (n % 3))
        ends = starts + dt.timedelta(hours=2)
        events.append((event_id, event_id, 0, 0, f"Cours {n % 17} - Biologie cellulaire et moléculaire", starts,
                       ends, starts.strftime("%d/%m/%Y"), starts.strftime("%H:%M"), ends.strftime("%H:%M"), 8,
                       "#6699ff", "", starts - dt.timedelta(days=30), f"h{n}", 0))
        for position, (ext_id, category, name) in enumerate(
                [(room, "classroom", room_names[room]), (teacher, "instructor", teacher_names[teacher]),
                 (group, "trainee", "L3 Biologie" if group == GROUP else "L3 Biologie TP1")]):
            bookings.append((event_id, ext_id, category, name, position))
            timetable.append((ext_id, event_id))
    await pool.executemany(
        """INSERT INTO schedulesy.event (event_id, activity_id, repetition, session, name, starts_at, ends_at,
               date, start_hour, end_hour, duration, color, note, last_update, content_hash, sequence)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)""", events)
    await pool.executemany(
        """INSERT INTO schedulesy.event_resource (event_id, resource_ext_id, category, name, position)
           VALUES ($1, $2, $3, $4, $5)""", bookings)
    await pool.executemany(
        "INSERT INTO schedulesy.timetable (resource_ext_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        timetable)
    await pool.execute(
        """INSERT INTO public.w_edtperso (id, ressources, uds_directory_id, uid, date_creation, date_personnalisation)
           VALUES (1, $1, 'dir-student', 'student', now(), now())""", f"{GROUP},{SUBGROUP}")
    await pool.close()


async def prepare(env: Environment, settings_env: dict[str, str]) -> str:
    """Seed, build every read model into Redis; return the student's access key."""
    await seed(env.database_url)
    key = str(uuid.uuid4())
    conn = await asyncpg.connect(env.database_url)
    await conn.execute("INSERT INTO schedulesy.access (key, username, name) VALUES ($1::uuid, 'student', 'ics')", key)
    await conn.close()
    await rebuild(settings_env)
    return key


async def rebuild(settings_env: dict[str, str]) -> None:
    """Every read model into the Redis (or cluster) these settings name."""
    from projections.readmodels import ReadModels
    from schedulesy.services import open_services
    from schedulesy.settings import load_settings

    async with open_services(load_settings(settings_env), pool_size=2) as services:
        await ReadModels(services).rebuild_all()


# ---------------------------------------------------------------------------------------------
# Load generation


class Figures:
    def __init__(self, rps: float, p50_ms: float, p99_ms: float, requests: int, bad: int) -> None:
        self.rps, self.p50_ms, self.p99_ms, self.requests, self.bad = rps, p50_ms, p99_ms, requests, bad


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _found(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}")
    return match


def _ms(text: str) -> float:
    number, unit = _found(r"^([\d.]+)(us|ms|s)$", text).groups()
    return float(number) * _UNITS[unit]


def run_wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> Figures:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rps = float(_found(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(_found(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(_found(r"\s99%\s+(\S+)", out).group(1))
    total = int(_found(r"(\d+) requests in", out).group(1))
    bad_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = (int(bad_match.group(1)) if bad_match else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return Figures(rps, p50, p99, total, bad)


LoadResult: TypeAlias = tuple[float, list[float], int]
"""(elapsed seconds, latencies in seconds, non-2xx/3xx answers) of one load run."""


async def _python_load(host: str, port: int, request: bytes, total: int, connections: int) -> LoadResult:
    """A minimal HTTP/1.1 keep-alive client: enough to load one URL without becoming the bottleneck."""
    latencies: list[float] = []
    bad = 0
    remaining = total

    async def one_connection() -> None:
        nonlocal remaining, bad
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if match:
                    await reader.readexactly(int(match.group(1)))
                latencies.append(time.perf_counter() - started)
                if status >= 400:
                    bad += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return time.perf_counter() - started, latencies, bad


def _python_load_process(args: tuple[str, int, bytes, int, int], queue: multiprocessing.Queue[LoadResult]) -> None:
    queue.put(asyncio.run(_python_load(*args)))


def run_python(url: str, headers: dict[str, str], requests: int, connections: int) -> Figures:
    parts = urlsplit(url)
    lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}"] + [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    queue: multiprocessing.Queue[LoadResult] = multiprocessing.Queue()
    worker = multiprocessing.Process(target=_python_load_process,
                                     args=((parts.hostname, parts.port, request, requests, connections), queue))
    worker.start()
    elapsed, latencies, bad = queue.get(timeout=600)
    worker.join(30)
    latencies.sort()
    return Figures(len(latencies) / elapsed, latencies[len(latencies) // 2] * 1000,
                   latencies[int(len(latencies) * 0.99) - 1] * 1000, len(latencies), bad)


# ---------------------------------------------------------------------------------------------
# Scenarios


class Scenario:
    def __init__(self, label: str, path: str, headers: dict[str, str], status: int) -> None:
        self.label, self.path, self.headers, self.status = label, path, headers, status


def scenarios(key: str, token: str, etags: dict[str, str]) -> list[Scenario]:
    auth = {"Authorization": f"Bearer {token}"}
    identity, gzip = {"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip"}
    calendar, ics = "/api/calendar/student.json", f"/api/timetable/{key}.ics"
    node, events = f"/api/resource/{BRANCH}.json/", f"/api/events/{ROOM}.json"
    return [
        Scenario("calendar JSON (authenticated)", calendar, {**auth, **identity}, 200),
        Scenario("ICS feed (by key)", ics, identity, 200),
        Scenario("resource node (authenticated)", node, {**auth, **identity}, 200),
        Scenario("public events (anonymous)", events, identity, 200),
        Scenario("calendar JSON, gzip", calendar, {**auth, **gzip}, 200),
        Scenario("ICS feed, gzip", ics, gzip, 200),
        Scenario("public events, gzip", events, gzip, 200),
        Scenario("calendar JSON, 304", calendar, {**auth, **identity, "If-None-Match": etags[calendar]}, 304),
        Scenario("ICS feed, 304", ics, {**identity, "If-None-Match": etags[ics]}, 304),
        Scenario("public events, 304", events, {**identity, "If-None-Match": etags[events]}, 304),
    ]


def start_server(settings_env: dict[str, str], port: int, log_path: Path, local_copies: bool
                 ) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings_env, "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)])}
    if not local_copies:
        env["BENCH_NO_LOCAL_COPIES"] = "1"
    command = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--no-access-log", "bench_queries:bench_app"]
    log = log_path.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"granian exited during start-up; see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"granian did not answer within 60 s; see {log_path}")


def load_split(bases: list[str], scenario: Scenario, args: argparse.Namespace) -> float:
    """Total req/s of one scenario with the load split evenly over several API processes."""
    from concurrent.futures import ThreadPoolExecutor

    connections = max(1, args.connections // len(bases))
    requests = args.requests // len(bases)
    with ThreadPoolExecutor(len(bases)) as pool:
        runs = list(pool.map(lambda base: run_python(base + scenario.path, scenario.headers, requests, connections),
                             bases))
    if any(run.bad for run in runs):
        raise RuntimeError(f"{scenario.label}: {sum(run.bad for run in runs)} bad answers")
    return sum(run.rps for run in runs)


def scale_out(args: argparse.Namespace, env: Environment, settings_env: dict[str, str], key: str) -> None:
    """req/s for 1 and 2 API processes, standalone Redis vs a local Redis Cluster."""
    from schedulesy.auth import mint_token
    from schedulesy.devcluster import LocalCluster, cluster_binaries
    from schedulesy.settings import load_settings

    binaries = cluster_binaries()
    if binaries is None:
        raise RuntimeError("--scale-out needs redis-server and redis-cli for the cluster")
    token = mint_token(load_settings(settings_env), "student", lifetime_seconds=3600)
    chosen = [s for s in scenarios(key, token, {"/api/calendar/student.json": "", f"/api/timetable/{key}.ics": "",
                                                f"/api/events/{ROOM}.json": ""})
              if s.label in ("calendar JSON (authenticated)", "public events (anonymous)")]
    cluster = LocalCluster(*binaries).start()
    try:
        cluster_env = {**settings_env, "SCHEDULESY_REDIS_URL": cluster.seeds, "SCHEDULESY_REDIS_MODE": "cluster"}
        asyncio.run(rebuild(cluster_env))
        for mode, mode_env in (("standalone", settings_env), ("cluster", cluster_env)):
            for processes in (1, 2):
                servers = []
                try:
                    ports = [free_port() for _ in range(processes)]
                    for port in ports:
                        log_path = Path(tempfile.mkdtemp(prefix="bench-queries-")) / "granian.log"
                        servers.append(start_server(mode_env, port, log_path, not args.no_local_copies))
                    bases = [f"http://127.0.0.1:{port}" for port in ports]
                    for scenario in chosen:
                        load_split(bases, scenario, args)  # warm-up
                        rps = sorted(load_split(bases, scenario, args) for _ in range(args.rounds))[args.rounds // 2]
                        print(f"scale-out, {scenario.label}, Redis {mode}, {processes} API process"
                              f"{'es' if processes > 1 else ''}: {rps:.0f} req/s")
                finally:
                    for server in servers:
                        server.terminate()
                        server.wait(10)
    finally:
        cluster.stop()


def measure(base: str, scenario: Scenario, args: argparse.Namespace, baseline_prefix: str = "/bench/baseline/"
            ) -> tuple[Figures, Figures, int]:
    """(endpoint figures, baseline figures, body bytes) of one scenario: the pair with the median ratio."""
    with httpx.Client(base_url=base, timeout=30) as client:
        probe = client.get(scenario.path, headers=scenario.headers)
        if probe.status_code != scenario.status:
            raise RuntimeError(f"{scenario.label}: expected {scenario.status}, got {probe.status_code}")
        size = len(probe.read()) if scenario.status == 200 else 0
        if scenario.headers.get("Accept-Encoding") == "gzip":
            with client.stream("GET", scenario.path, headers=scenario.headers) as raw:
                assert raw.headers.get("content-encoding") == "gzip", scenario.label
                size = sum(len(chunk) for chunk in raw.iter_raw())
    baseline_path = f"{baseline_prefix}{size}"
    load: Callable[[str], Figures] = (lambda path: run_wrk(base + path, scenario.headers, args.duration, args.connections)) if args.wrk \
        else (lambda path: run_python(base + path, scenario.headers, args.requests, args.connections))
    load(scenario.path)  # warm-up (connections, caches)
    load(baseline_path)
    pairs = []
    for _ in range(args.rounds):  # adjacent runs form a pair: background load drifts less within one
        endpoint, baseline = load(scenario.path), load(baseline_path)
        pairs.append((endpoint.rps / baseline.rps, endpoint, baseline))
    pairs.sort(key=lambda pair: pair[0])
    _, endpoint, baseline = pairs[len(pairs) // 2]  # the median pair
    return endpoint, baseline, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run")
    parser.add_argument("--requests", type=int, default=20000, help="requests per run without wrk")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3,
                        help="measured (endpoint, baseline) pairs per scenario; the median pair is printed")
    parser.add_argument("--no-wrk", dest="wrk", action="store_false", help="use the Python load generator")
    parser.add_argument("--no-local-copies", action="store_true",
                        help="serve every read from Redis (disable queries/localcache.py) to see its effect")
    parser.add_argument("--scale-out", action="store_true",
                        help="req/s with 1 and 2 API processes, standalone Redis vs a local Redis Cluster")
    args = parser.parse_args()
    if args.scale_out:
        args.wrk = False  # one load generator per API process
    if args.wrk and shutil.which("wrk") is None:
        print("wrk not found (apt-get install wrk): using the Python load generator")
        args.wrk = False

    from schedulesy.auth import mint_token
    from schedulesy.settings import load_settings

    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="bench-queries-")) / "granian.log"

    async def setup(env: Environment) -> tuple[dict[str, str], str]:
        await env.__aenter__()
        settings_env = {
            "SCHEDULESY_DATABASE_URL": env.database_url, "SCHEDULESY_REDIS_URL": env.redis_url,
            "SCHEDULESY_REDIS_PREFIX": "bench:", "SCHEDULESY_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SCHEDULESY_JWT_PUBLIC_KEY": public_pem, "SCHEDULESY_JWT_PRIVATE_KEY": private_pem,
            "SCHEDULESY_LOG_LEVEL": "warning", "SCHEDULESY_LOG_FORMAT": "json",
        }
        return settings_env, await prepare(env, settings_env)

    env = Environment(admin_url, redis_base)
    print(f"load generator: {'wrk, 1 thread' if args.wrk else 'asyncio HTTP/1.1 client (separate process)'}, "
          f"{args.connections} connections, "
          f"{f'{args.duration:g} s per run' if args.wrk else f'{args.requests} requests per run'}, "
          f"median of {args.rounds} pairs; server: granian, 1 worker, asyncio loop; in-memory copies "
          f"{'off' if args.no_local_copies else 'on'}")
    settings_env, key = asyncio.run(setup(env))
    server = None
    if args.scale_out:
        try:
            scale_out(args, env, settings_env, key)
            print(f"machine: {machine()}")
            return 0
        finally:
            asyncio.run(env.__aexit__(None, None, None))
    try:
        token = mint_token(load_settings(settings_env), "student", lifetime_seconds=3600)
        server = start_server(settings_env, port, log_path, not args.no_local_copies)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            etags = {}
            for path, headers in (("/api/calendar/student.json", {"Authorization": f"Bearer {token}"}),
                                  (f"/api/timetable/{key}.ics", {}), (f"/api/events/{ROOM}.json", {})):
                response = client.get(path, headers={**headers, "Accept-Encoding": "identity"})
                etags[path] = response.headers["etag"]
        missed = 0
        for scenario in scenarios(key, token, etags):
            endpoint, baseline, size = measure(base, scenario, args)
            ratio = endpoint.rps / baseline.rps
            verdict = "OK" if ratio >= TARGET_RATIO else "MISSED"
            missed += verdict == "MISSED"
            bad = f" ({endpoint.bad + baseline.bad} bad answers!)" if endpoint.bad or baseline.bad else ""
            print(f"{scenario.label}, {size} bytes: {endpoint.rps:.0f} req/s (p50 {endpoint.p50_ms:.2f} ms, "
                  f"p99 {endpoint.p99_ms:.2f} ms); baseline {baseline.rps:.0f} req/s (p50 {baseline.p50_ms:.2f} ms, "
                  f"p99 {baseline.p99_ms:.2f} ms); ratio {ratio:.2f} (target >= {TARGET_RATIO}) {verdict}; "
                  f"{(1 / endpoint.rps - 1 / baseline.rps) * 1e6:+.0f} us/request{bad}")
        calendar_size = int(httpx.get(f"{base}/api/calendar/student.json", headers={
            "Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}).headers["content-length"])
        framework = Scenario("Litestar Response(bytes) instead of an ASGI bytes answer",
                             f"/bench/litestar-response/{calendar_size}", {"Accept-Encoding": "identity"}, 200)
        slow, fast, size = measure(base, framework, args)
        print(f"{framework.label}, {size} bytes: {slow.rps:.0f} req/s vs {fast.rps:.0f} req/s "
              f"(ratio {slow.rps / fast.rps:.2f}, {(1 / slow.rps - 1 / fast.rps) * 1e6:+.0f} us/request)")
        print(f"summary: {missed} of {len(scenarios(key, token, etags))} scenarios below {TARGET_RATIO} x baseline")
        print(f"machine: {machine()}")
        return 1 if missed else 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        asyncio.run(env.__aexit__(None, None, None))


if __name__ == "__main__":
    sys.exit(main())
