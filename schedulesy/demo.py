"""``schedulesy demo``: the whole service on one machine with no configuration.

Postgres and Redis: the configured URLs, else local servers on the default ports, else embedded
ones. Then: migrations, the ADE simulator with demo data, the worker (projector + ADE poller), the
API, a demo signing key, a demo user with a selection — and the URLs to open.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import asyncpg
import httpx

from schedulesy import db, embedded, failures
from schedulesy.settings import ENV_PREFIX, TOOL_PREFIXES

DEMO_USER = "demo"
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


async def _pick_demo_selection(database_url: str) -> list[str]:
    """A trainee group and a room that have events this week, so the first screen is not empty."""
    conn = await db.connect(database_url)
    try:
        rows = await conn.fetch(
            """
            SELECT DISTINCT ON (r.category) r.ext_id
            FROM schedulesy.timetable t
            JOIN schedulesy.event e ON e.event_id = t.event_id
            JOIN schedulesy.resource r ON r.ext_id = t.resource_ext_id
            WHERE r.category IN ('trainee', 'classroom')
              AND r.fields ->> 'tag' = 'leaf'
              AND e.starts_at >= date_trunc('week', now()) AND e.starts_at < date_trunc('week', now()) + interval '7 days'
            GROUP BY r.category, r.ext_id
            ORDER BY r.category, count(*) DESC
            """
        )
    finally:
        await conn.close()
    return [r["ext_id"] for r in rows]


def _create_demo_user(api: str, token: str, database_url: str) -> list[str]:
    """Through the public API, as the front end would: create, then select resources."""
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.get(f"{api}/legacy/customization/{DEMO_USER}.json", headers=headers, timeout=10)
    if response.status_code == 404:
        httpx.post(f"{api}/legacy/customization.json", headers=headers, timeout=10,
                   json={"username": DEMO_USER, "directory_id": "demo-0001"}).raise_for_status()
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    selection = asyncio.run(_pick_demo_selection(database_url))
    while not selection and time.monotonic() < deadline:
        _say("waiting for the first ADE sync to bring this week's events")
        time.sleep(2)
        selection = asyncio.run(_pick_demo_selection(database_url))
    if selection:
        httpx.patch(f"{api}/legacy/customization/{DEMO_USER}.json", headers=headers, timeout=10,
                    json={"resources": ",".join(selection)}).raise_for_status()
    return selection


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
        admin_token = mint_token(settings, DEMO_ADMIN, superuser=True)
        selection = _create_demo_user(api, user_token, database_url)
        accesses = httpx.get(f"{api}/api/customization/{DEMO_USER}/uuid.json",
                             headers={"Authorization": f"Bearer {user_token}"}, timeout=10).json()
        key = accesses[0]["key"] if accesses else "<none>"
        public = settings.public_base
        print(f"""
Schedulesy is running (Ctrl-C stops everything).

  Demo user's timetable  {public}/timetable/{key}
  Start page             {public}/
  API documentation      {public}/schema
  Health                 {public}/health/ready
  Demo user's calendar   {public}/api/calendar/{DEMO_USER}.json   (needs the token below)
  Timetable by key       {public}/api/timetable/{key}.json
  ICS subscription       {public}/api/timetable/{key}.ics
  QR code of the ICS     {public}/api/timetable/{key}/qrcode.svg
  Demo selection         {", ".join(selection) or "(none found)"}

  Token for '{DEMO_USER}':
    {user_token}
  Try: curl -H "Authorization: Bearer $TOKEN" {public}/api/calendar/{DEMO_USER}.json
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
