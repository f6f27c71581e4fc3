"""The one console script, ``schedulesy``. Its command names are a public interface.

The CLI is a composition root, like the app factory: it may import commands/ and projections/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from schedulesy.settings import Settings, SettingsError, get_settings

EXIT_UNAVAILABLE = 69
"""sysexits' EX_UNAVAILABLE: a dependency (Postgres, Redis, ADE, a port) failed."""
METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        raise SystemExit(f"schedulesy: invalid configuration: {exc}") from None


def _configure_logs(settings: Settings) -> None:
    from schedulesy.logging import configure_logging

    configure_logging(settings.log_format, settings.log_level)


def cmd_migrate(args: argparse.Namespace) -> int:
    from schedulesy import db

    settings = _settings()
    _configure_logs(settings)

    async def run() -> list[str]:
        await db.ensure_database(settings.database_url)
        return await db.migrate(settings.database_url)

    try:
        applied = asyncio.run(run())
    except db.MigrationError as exc:
        print(f"schedulesy migrate: {exc}", file=sys.stderr)
        return 2
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


@contextlib.contextmanager
def _shared_metrics_directory() -> Iterator[None]:
    """granian's workers are processes: they write their HTTP metrics to files in one directory,
    which every scrape adds up (prometheus-client's multiprocess mode, see schedulesy/metrics.py).
    An operator's ``PROMETHEUS_MULTIPROC_DIR`` is emptied of the last run's files; else a temporary
    directory serves this run. Set before anything imports prometheus-client."""
    configured = os.environ.get(METRICS_DIRECTORY_VARIABLE)
    if configured:
        for stale in Path(configured).glob("*.db"):
            stale.unlink()
        yield
        return
    directory = tempfile.mkdtemp(prefix="schedulesy-metrics-")
    os.environ[METRICS_DIRECTORY_VARIABLE] = directory
    try:
        yield
    finally:
        del os.environ[METRICS_DIRECTORY_VARIABLE]
        shutil.rmtree(directory, ignore_errors=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    from schedulesy import failures
    from schedulesy.errors import StartupError
    from schedulesy.jwtkeys import load_verification_key
    from schedulesy.logging import granian_log_config

    settings = _settings()  # validate before forking workers
    try:
        load_verification_key(settings)
        settings.spa_shell()
    except (StartupError, SettingsError) as exc:
        print(f"schedulesy serve: {exc}", file=sys.stderr)
        return 2
    failures.check_port_free(args.host, args.port)
    asyncio.run(failures.check_postgres(settings.database_url))
    try:
        asyncio.run(failures.check_redis(settings.redis_url, settings.redis_mode))
    except failures.Unavailable as exc:  # not fatal: reads are answered from Postgres meanwhile
        from schedulesy.logging import standalone_logger

        standalone_logger(settings.log_format, settings.log_level).warning(
            "serve.redis_unavailable", detail=str(exc), effect="reads come from Postgres until Redis answers")
    with _shared_metrics_directory():
        Server(
            "schedulesy.app:create_app",
            address=args.host,
            port=args.port,
            workers=args.workers,
            interface=Interfaces.ASGI,
            factory=True,
            log_access=False,
            log_level=LogLevels(settings.log_level),
            log_dictconfig=granian_log_config(settings.log_format),
        ).serve()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from commands.ade_sync.poller import run_poller
    from commands.alerts.runner import run_alerts
    from projections.worker import run_projector

    settings = _settings()
    _configure_logs(settings)

    async def run() -> None:
        await _check_stores(settings)
        tasks = [run_projector(settings), run_alerts(settings)]
        if not args.no_poll:
            tasks.append(run_poller(settings))
            if settings.amqp_url:
                from commands.ade_sync.amqp import run_change_feed

                tasks.append(run_change_feed(settings))
        await asyncio.gather(*tasks)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from commands.ade_sync.cli import run_sync_command
    from schedulesy import failures

    settings = _settings()
    _configure_logs(settings)

    async def run() -> int:
        await failures.check_postgres(settings.database_url)
        await failures.check_ade(settings.ade_url, settings.ade_connect_timeout)
        return await run_sync_command(settings, force=args.force, full=args.full)

    return asyncio.run(run())


def cmd_rebuild(args: argparse.Namespace) -> int:
    from projections.worker import run_rebuild_command

    settings = _settings()
    _configure_logs(settings)

    async def run() -> int:
        await _check_stores(settings)
        return await run_rebuild_command(settings)

    return asyncio.run(run())


async def _check_stores(settings: Settings) -> None:
    """Postgres and Redis answer: a command that needs both says so now, in one line."""
    from schedulesy import failures

    await failures.check_postgres(settings.database_url)
    await failures.check_redis(settings.redis_url, settings.redis_mode)


def cmd_import_original(args: argparse.Namespace) -> int:
    from commands.original_source import SourceUnavailable, run_import, verify
    from projections.readmodels import ReadModels
    from schedulesy.services import open_services

    settings = _settings()
    _configure_logs(settings)

    async def run() -> int:
        await _check_stores(settings)
        async with open_services(settings, pool_size=2) as services, services.pool.acquire() as conn:
            if args.verify:
                return await verify(args.source, conn)
            return await run_import(args.source, conn, ReadModels(services), dry_run=args.dry_run)

    try:
        return asyncio.run(run())
    except SourceUnavailable as exc:
        print(f"schedulesy import-original: {exc}", file=sys.stderr)
        return 2


def cmd_ade_simulator(args: argparse.Namespace) -> int:
    from schedulesy import failures
    from schedulesy.adesim.server import serve

    failures.check_port_free(args.host, args.port)
    serve(args.host, args.port, args.preset, args.seed, slot_minutes=args.slot_minutes)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from schedulesy.demo import run_demo

    return run_demo(host=args.host, port=args.port, ade_port=args.ade_port, preset=args.preset)


def cmd_token(args: argparse.Namespace) -> int:
    from schedulesy.auth import mint_token
    from schedulesy.errors import StartupError

    settings = _settings()
    try:
        print(mint_token(settings, args.username, superuser=args.superuser,
                         directory_id=args.directory_id, lifetime_seconds=args.lifetime))
    except (ValueError, StartupError) as exc:
        print(f"schedulesy token: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="schedulesy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    add("migrate", cmd_migrate, "apply the SQL migrations (idempotent)")
    p = add("serve", cmd_serve, "run the HTTP API with granian")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p = add("worker", cmd_worker, "run the projector, the ADE poller and the e-mail alert mailer")
    p.add_argument("--no-poll", action="store_true", help="project only; do not poll ADE")
    p = add("sync", cmd_sync, "run one ADE sync cycle now and print a summary")
    p.add_argument("--force", action="store_true", help="accept a tree that shrank beyond the safety limit")
    p.add_argument("--full", action="store_true", help="reconcile every event of the year, not only the near term")
    add("rebuild", cmd_rebuild, "rebuild every read model in Redis")
    p = add("import-original", cmd_import_original,
            "import the original service's direct accesses and display settings (idempotent)")
    p.add_argument("--from", dest="source", required=True, metavar="DSN", help="the original's Postgres database")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the summary; write nothing")
    mode.add_argument("--verify", action="store_true", help="compare both databases; exit 1 on any difference")
    p = add("ade-simulator", cmd_ade_simulator, "serve the built-in ADE Web API simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--preset", default="demo", choices=["tiny", "demo", "large"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--slot-minutes", type=int, default=15, choices=[15, 30])
    p = add("demo", cmd_demo, "run everything with embedded defaults and demo data")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--ade-port", type=int, default=8090)
    p.add_argument("--preset", default="demo", choices=["tiny", "demo", "large"])
    p = add("token", cmd_token, "print a JWT signed with the configured private key (dev/demo)")
    p.add_argument("username")
    p.add_argument("--superuser", action="store_true",
                   help="mark the token as a superuser's (grants nothing unless USERNAME is in SCHEDULESY_SUPERUSERS)")
    p.add_argument("--directory-id", default=None)
    p.add_argument("--lifetime", type=int, default=7 * 24 * 3600, help="seconds (default: a week)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except Exception as exc:
        return _fail(args.command, exc)


def _fail(command: str, exc: Exception) -> int:
    """A known infrastructure failure is two lines (the traceback too at debug level); a bug keeps
    its traceback."""
    from schedulesy.failures import explain

    try:
        settings = get_settings()
    except SettingsError:
        raise exc from None
    explained = explain(exc, settings)
    if explained is None:
        raise exc
    if settings.log_level == "debug":
        traceback.print_exception(exc)
    print(f"schedulesy {command}: {explained}\n  {explained.hint}", file=sys.stderr)
    return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
