"""``schedulesy demo``: the whole service on one machine with no configuration.

Postgres and Redis: the configured URLs, else local servers on the default ports, else embedded
ones. Then: migrations, the ADE simulator with demo data, the worker (projector + ADE poller), the
API, a demo signing key, two demo users — a typical student (their group and the groups above it, up to
their year, chosen for a plain week of 10-35 classes: this week, or the next teaching week when this one
is a break) and a teacher — each with a token and a direct-access link, and the URLs to open.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import cast

import asyncpg
import httpx
import msgspec

from schedulesy import db, embedded, failures
from schedulesy.settings import ENV_PREFIX, TOOL_PREFIXES

DEMO_USER = "demo"
"""A typical student."""
DEMO_TEACHER = "demo-teacher"
DEMO_ADMIN = "demo-admin"
READY_TIMEOUT_SECONDS = 240


def _say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


def _demo_keys(data_dir: Path) -> tuple[Path, Path]:
    """An RSA key pair kept in the data directory, so tokens survive a restart of the demo."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_path, public_path = data_dir / "demo-jwt-private.pem", data_dir / "demo-jwt-public.pem"
    if not private_path.exists() or not public_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        private_path.chmod(0o600)
        public_path.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def _wait_http(url: str, timeout: float, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(cast('list[str]', process.args))} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _wait_ready(api: str, timeout: float, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(cast('list[str]', process.args))} exited with {process.returncode}")
        try:
            response = httpx.get(f"{api}/health/ready", timeout=5)
            if response.status_code == 200:
                return
            failing = [n for n, c in response.json().get("checks", {}).items() if not c.get("ok")]
            if ", ".join(failing) != last:
                last = ", ".join(failing)
                _say(f"waiting for: {last}")
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)
    raise RuntimeError(f"the service was not ready within {timeout:.0f} s (still waiting for: {last})")


STUDENT_WEEK_EVENTS = (10, 35)
"""A typical student's week: between these many events (a teaching week, not a break or exams)."""
LOOKAHEAD_WEEKS = 40


class DemoWeek(msgspec.Struct, frozen=True):
    """The week the demo users' calendars open on, with each trainee leaf's event count that week."""

    monday: dt.date
    this_week: bool
    groups: dict[str, int]


class DemoChoice(msgspec.Struct, frozen=True):
    week: DemoWeek | None
    student: list[str]
    """The student's group and the groups above it, up to their year: two or three resources."""
    teacher: list[str]


def choose_week(counts: Mapping[dt.date, Mapping[str, int]], this_monday: dt.date) -> DemoWeek | None:
    """The first week from this one in which the median group has a student's week of classes."""
    for monday in sorted(m for m in counts if m >= this_monday):
        groups = counts[monday]
        if groups and statistics.median(groups.values()) >= STUDENT_WEEK_EVENTS[0]:
            return DemoWeek(monday=monday, this_week=monday == this_monday, groups=dict(groups))
    return None


def choose_student(week: DemoWeek, parents: Mapping[str, str | None], clashing: Collection[str] = (),
                   above_year: int = 2) -> list[str]:
    """The typical student: the group whose week is nearest the median (10-35 events, none overlapping),
    with its parent groups up to its year (``above_year``: the programme and the faculty are left out)."""
    low, high = STUDENT_WEEK_EVENTS
    fitting = {g: n for g, n in week.groups.items() if low <= n <= high and g not in clashing}
    if not fitting:
        return []
    median = statistics.median(fitting.values())
    leaf = min(fitting, key=lambda g: (abs(fitting[g] - median), g))
    chain = [leaf]
    while (parent := parents.get(chain[-1])) is not None:
        chain.append(parent)
    return chain[: max(1, len(chain) - above_year)]


async def _pick_demo_users(database_url: str, zone: str) -> DemoChoice:
    """A typical student's groups and a teacher, both with classes in the demo week."""
    conn = await db.connect(database_url)
    try:
        this_monday = (await conn.fetchval("SELECT (date_trunc('week', now() AT TIME ZONE $1))::date", zone))
        rows = await conn.fetch(
            """
            SELECT (date_trunc('week', e.starts_at AT TIME ZONE $1))::date AS monday, t.resource_ext_id AS ext_id,
                   count(*) AS n
            FROM schedulesy.timetable t
            JOIN schedulesy.event e ON e.event_id = t.event_id
            JOIN schedulesy.resource r ON r.ext_id = t.resource_ext_id
            WHERE r.category = 'trainee' AND r.fields ->> 'tag' = 'leaf'
              AND e.starts_at >= $2::date AND e.starts_at < $2::date + $3 * interval '7 days'
            GROUP BY 1, 2
            """,
            zone, this_monday, LOOKAHEAD_WEEKS,
        )
        counts: dict[dt.date, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["monday"], {})[row["ext_id"]] = row["n"]
        week = choose_week(counts, this_monday)
        if week is None:
            return DemoChoice(week=None, student=[], teacher=[])
        # The category root (ext_id "trainee") is not a group: a faculty's parent counts as none.
        parents = {r["ext_id"]: r["parent_ext_id"] for r in await conn.fetch(
            "SELECT ext_id, parent_ext_id FROM schedulesy.resource WHERE category = 'trainee' AND ext_id <> 'trainee'")}
        spans = await conn.fetch(
            """
            SELECT t.resource_ext_id AS ext_id, e.starts_at, e.ends_at
            FROM schedulesy.timetable t
            JOIN schedulesy.event e ON e.event_id = t.event_id
            WHERE t.resource_ext_id = ANY($1::text[])
              AND e.starts_at >= $2::date AND e.starts_at < $2::date + interval '7 days'
            ORDER BY 1, 2
            """,
            list(week.groups), week.monday,
        )
        clashing: set[str] = set()
        for group, events in itertools.groupby(spans, key=lambda row: row["ext_id"]):
            ends: dt.datetime | None = None
            for row in events:
                if ends is not None and row["starts_at"] < ends:
                    clashing.add(group)
                ends = row["ends_at"] if ends is None else max(ends, row["ends_at"])
        student = choose_student(week, {k: (v if v in parents else None) for k, v in parents.items()}, clashing)
        teachers = await conn.fetch(
            """
            SELECT t.resource_ext_id AS ext_id, count(*) AS n
            FROM schedulesy.timetable t
            JOIN schedulesy.event e ON e.event_id = t.event_id
            JOIN schedulesy.resource r ON r.ext_id = t.resource_ext_id
            WHERE r.category = 'instructor' AND r.fields ->> 'tag' = 'leaf'
              AND e.starts_at >= $1::date AND e.starts_at < $1::date + interval '7 days'
            GROUP BY 1
            ORDER BY abs(count(*) - 7), 1
            LIMIT 1
            """,
            week.monday,
        )
    finally:
        await conn.close()
    return DemoChoice(week=week, student=student, teacher=[r["ext_id"] for r in teachers])


def _create_user(api: str, token: str, username: str, directory_id: str, selection: list[str]) -> str:
    """Through the public API, as the front end would: create, select resources; the direct-access key."""
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.get(f"{api}/legacy/customization/{username}.json", headers=headers, timeout=10)
    if response.status_code == 404:
        httpx.post(f"{api}/legacy/customization.json", headers=headers, timeout=10,
                   json={"username": username, "directory_id": directory_id}).raise_for_status()
    if selection:
        httpx.patch(f"{api}/legacy/customization/{username}.json", headers=headers, timeout=10,
                    json={"resources": ",".join(selection)}).raise_for_status()
    accesses = httpx.get(f"{api}/api/customization/{username}/uuid.json", headers=headers, timeout=10).json()
    return str(accesses[0]["key"]) if accesses else "<none>"


def _choose_demo_users(database_url: str, zone: str) -> DemoChoice:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    choice = asyncio.run(_pick_demo_users(database_url, zone))
    while not choice.student and time.monotonic() < deadline:
        _say("waiting for the first ADE sync to bring the coming weeks' events")
        time.sleep(2)
        choice = asyncio.run(_pick_demo_users(database_url, zone))
    return choice


def week_summary(week: DemoWeek | None) -> str:
    if week is None:
        return "no teaching week in the coming months (the calendars may look empty)"
    if week.this_week:
        return f"this week (Monday {week.monday.isoformat()})"
    return (f"this week is a break or an exam week: open the week of Monday {week.monday.isoformat()}, "
            "the next teaching week")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def environment_line(env: Mapping[str, str], indent: str = "") -> str:
    """Every ``SCHEDULESY_*`` variable the demo's processes run with, as one ``export`` command:
    a ``sync`` or ``rebuild`` started without one of them would work on other data (another
    database, another key prefix) or write other URLs (another public URL) into the read models."""
    assignments = [f"{name}={shlex.quote(value)}" for name, value in sorted(env.items())
                   if name.startswith(ENV_PREFIX) and not name.startswith(TOOL_PREFIXES)]
    return "export " + f" \\\n{indent}       ".join(assignments)


def _check_servers(database_url: str, redis_url: str) -> None:
    """Both servers answer (the database is created if need be), or one line says which does not."""
    try:
        asyncio.run(db.ensure_database(database_url))
    except (OSError, asyncpg.PostgresError) as exc:
        raise failures.postgres_unavailable(database_url, exc) from exc
    asyncio.run(failures.check_redis(redis_url))


def run_demo(*, host: str, port: int, ade_port: int, preset: str) -> int:
    env = dict(os.environ)
    start_simulator = not env.get(ENV_PREFIX + "ADE_URL")
    # Before anything starts: a busy port would otherwise surface as a child's crash.
    failures.check_port_free(host, port)
    if start_simulator:
        failures.check_port_free("127.0.0.1", ade_port, "--ade-port")
    data_dir = embedded.default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = embedded.resolve_postgres(env.get(ENV_PREFIX + "DATABASE_URL"), data_dir, "schedulesy")
    redis_url = embedded.resolve_redis(env.get(ENV_PREFIX + "REDIS_URL"), data_dir)
    _check_servers(database_url, redis_url)
    _say(f"postgres: {database_url}")
    _say(f"redis:    {redis_url}")
    applied = asyncio.run(db.migrate(database_url))
    _say("migrations applied: " + (", ".join(applied) if applied else "none needed"))

    private_key, public_key = _demo_keys(data_dir)
    api = f"http://{host}:{port}"
    env.update({
        ENV_PREFIX + "DATABASE_URL": database_url,
        ENV_PREFIX + "REDIS_URL": redis_url,
        ENV_PREFIX + "PUBLIC_URL": env.get(ENV_PREFIX + "PUBLIC_URL", api),
        ENV_PREFIX + "JWT_PUBLIC_KEY": env.get(ENV_PREFIX + "JWT_PUBLIC_KEY", str(public_key)),
        ENV_PREFIX + "JWT_PRIVATE_KEY": env.get(ENV_PREFIX + "JWT_PRIVATE_KEY", str(private_key)),
        ENV_PREFIX + "JWT_ALGORITHM": env.get(ENV_PREFIX + "JWT_ALGORITHM", "RS256"),
        ENV_PREFIX + "SUPERUSERS": env.get(ENV_PREFIX + "SUPERUSERS", DEMO_ADMIN),
        ENV_PREFIX + "DEMO_USER": DEMO_USER,  # the landing page links the demo user's pages
    })
    if start_simulator:
        env[ENV_PREFIX + "ADE_URL"] = f"http://127.0.0.1:{ade_port}/jsp/webapi"

    # Also SIGINT: a shell that starts the demo in the background makes it ignore SIGINT by default.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    cli = [sys.executable, "-m", "schedulesy.cli"]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        if start_simulator:
            processes.append(subprocess.Popen(
                [*cli, "ade-simulator", "--host", "127.0.0.1", "--port", str(ade_port), "--preset", preset], env=env))
            _wait_http(f"http://127.0.0.1:{ade_port}/jsp/webapi", 120, processes)
            _say(f"ADE simulator ({preset} preset) on http://127.0.0.1:{ade_port}/jsp/webapi")
        processes.append(subprocess.Popen([*cli, "worker"], env=env))
        processes.append(subprocess.Popen([*cli, "serve", "--host", host, "--port", str(port)], env=env))
        _wait_http(f"{api}/health/live", 60, processes)
        _wait_ready(api, READY_TIMEOUT_SECONDS, processes)

        from schedulesy.auth import mint_token
        from schedulesy.settings import load_settings

        settings = load_settings(env)
        user_token = mint_token(settings, DEMO_USER, directory_id="demo-0001")
        teacher_token = mint_token(settings, DEMO_TEACHER, directory_id="demo-0002")
        admin_token = mint_token(settings, DEMO_ADMIN, superuser=True)
        choice = _choose_demo_users(database_url, settings.timezone)
        key = _create_user(api, user_token, DEMO_USER, "demo-0001", choice.student)
        teacher_key = _create_user(api, teacher_token, DEMO_TEACHER, "demo-0002", choice.teacher)
        public = settings.public_base
        print(f"""
Schedulesy is running (Ctrl-C stops everything).

  Demo user's timetable  {public}/timetable/{key}
  Start page             {public}/
  API documentation      {public}/schema
  Health                 {public}/health/ready
  Demo week              {week_summary(choice.week)}

  '{DEMO_USER}', a student ({", ".join(choice.student) or "no selection found"}):
  Demo user's calendar   {public}/api/calendar/{DEMO_USER}.json   (needs the token below)
  Timetable by key       {public}/api/timetable/{key}.json
  ICS subscription       {public}/api/timetable/{key}.ics
  QR code of the ICS     {public}/api/timetable/{key}/qrcode.svg
  Demo selection         {", ".join(choice.student) or "(none found)"}
  Token for '{DEMO_USER}':
    {user_token}
  Try: curl -H "Authorization: Bearer $TOKEN" {public}/api/calendar/{DEMO_USER}.json

  '{DEMO_TEACHER}', a teacher ({", ".join(choice.teacher) or "no selection found"}):
  Teacher's timetable    {public}/api/timetable/{teacher_key}.json
  Teacher's ICS          {public}/api/timetable/{teacher_key}.ics
  Token for '{DEMO_TEACHER}':
    {teacher_token}

  Superuser token ('{DEMO_ADMIN}'):
    {admin_token}

  Other commands (schedulesy sync, rebuild, token) against this demo need its environment:
    {environment_line(env, indent="    ")}
""", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        _say("a component stopped unexpectedly; stopping the others")
        return 1
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        _say("stopping")
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0
