"""An external piece that fails ends every command with one or two lines, never a traceback.

Each case runs the real ``schedulesy`` console script, pointed at a closed local port (refused at
once) rather than a black-holed address, so each stays fast.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from schedulesy.cli import EXIT_UNAVAILABLE
from schedulesy.embedded import free_port

SCHEDULESY = str(Path(sys.executable).with_name("schedulesy"))


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


SIGNED_TOKENS = {"SCHEDULESY_JWT_ALGORITHM": "HS256", "SCHEDULESY_JWT_PUBLIC_KEY": "s" * 48}
"""A valid verification key: ``serve`` checks it before what these tests are about."""


def run(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULESY_")}
    env.update({"XDG_DATA_HOME": str(tmp_path), "SCHEDULESY_LOG_LEVEL": "warning", **SIGNED_TOKENS, **variables})
    return subprocess.run([SCHEDULESY, *args], env=env, capture_output=True, text=True, timeout=60)


def assert_explained(result: subprocess.CompletedProcess[str], *names: str) -> str:
    lines = [line for line in result.stderr.splitlines() if "unknown_variable" not in line]
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr, result.stderr
    assert 1 <= len(lines) <= 2, result.stderr
    for name in names:
        assert name in lines[0], result.stderr
    return lines[0]


def test_migrate_with_postgres_unreachable(tmp_path: Path) -> None:
    port = free_port()
    result = run(["migrate"], tmp_path, SCHEDULESY_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/x")
    line = assert_explained(result, f"127.0.0.1:{port}", "SCHEDULESY_DATABASE_URL", "connection refused")
    assert result.returncode == EXIT_UNAVAILABLE, line


def test_migrate_with_an_unknown_database_host(tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path, SCHEDULESY_DATABASE_URL="postgresql://postgres@no-such-host.invalid:5432/x")
    assert_explained(result, "no-such-host.invalid:5432", "SCHEDULESY_DATABASE_URL", "resolve")


def test_serve_with_a_missing_database(tmp_path: Path, database_url: str, busy_port: int) -> None:
    missing = database_url.rsplit("/", 1)[0] + "/schedulesy_no_such_database"
    result = run(["serve", "--port", str(free_port()), "--workers", "2"], tmp_path, SCHEDULESY_DATABASE_URL=missing)
    line = assert_explained(result, "schedulesy_no_such_database", "SCHEDULESY_DATABASE_URL")
    assert "migrate" in result.stderr, line


@pytest.mark.parametrize("command", ["worker", "rebuild"])
def test_commands_that_write_redis_with_redis_unreachable(
    command: str, tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    result = run([command], tmp_path, SCHEDULESY_DATABASE_URL=database_url,
                 SCHEDULESY_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert_explained(result, f"127.0.0.1:{port}", "SCHEDULESY_REDIS_URL")


def test_rebuild_with_no_cluster_node_reachable(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    result = run(["rebuild"], tmp_path, SCHEDULESY_DATABASE_URL=database_url, SCHEDULESY_REDIS_MODE="cluster",
                 SCHEDULESY_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert_explained(result, f"127.0.0.1:{port}", "SCHEDULESY_REDIS_URL")


def test_a_redis_url_that_is_no_redis_url(tmp_path: Path, database_url: str) -> None:
    result = run(["rebuild"], tmp_path, SCHEDULESY_DATABASE_URL=database_url,
                 SCHEDULESY_REDIS_URL="http://127.0.0.1:6379/0")
    assert_explained(result, "SCHEDULESY_REDIS_URL", "redis://")


def test_rebuild_with_an_unknown_redis_host(tmp_path: Path, database_url: str) -> None:
    result = run(["rebuild"], tmp_path, SCHEDULESY_DATABASE_URL=database_url,
                 SCHEDULESY_REDIS_URL="redis://no-such-host.invalid:6379/0")
    assert_explained(result, "no-such-host.invalid:6379", "SCHEDULESY_REDIS_URL")


def test_sync_with_ade_unreachable(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    result = run(["sync"], tmp_path, SCHEDULESY_DATABASE_URL=database_url,
                 SCHEDULESY_ADE_URL=f"http://127.0.0.1:{port}/jsp/webapi")
    assert_explained(result, f"127.0.0.1:{port}", "SCHEDULESY_ADE_URL")


def test_sync_with_postgres_unreachable(tmp_path: Path) -> None:
    port = free_port()
    result = run(["sync"], tmp_path, SCHEDULESY_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/x")
    assert_explained(result, f"127.0.0.1:{port}", "SCHEDULESY_DATABASE_URL")


@pytest.mark.parametrize("command", ["serve", "ade-simulator", "demo"])
def test_a_busy_port(command: str, tmp_path: Path, database_url: str, redis_url: str, busy_port: int) -> None:
    result = run([command, "--port", str(busy_port)], tmp_path,
                 SCHEDULESY_DATABASE_URL=database_url, SCHEDULESY_REDIS_URL=redis_url)
    assert_explained(result, f"127.0.0.1:{busy_port}", "--port")


def test_demo_with_a_busy_ade_port(tmp_path: Path, database_url: str, redis_url: str, busy_port: int) -> None:
    result = run(["demo", "--port", str(free_port()), "--ade-port", str(busy_port)], tmp_path,
                 SCHEDULESY_DATABASE_URL=database_url, SCHEDULESY_REDIS_URL=redis_url)
    assert_explained(result, f"127.0.0.1:{busy_port}", "--ade-port")


def test_demo_with_redis_unreachable_starts_nothing(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    result = run(["demo", "--port", str(free_port()), "--ade-port", str(free_port())], tmp_path,
                 SCHEDULESY_DATABASE_URL=database_url, SCHEDULESY_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert_explained(result, f"127.0.0.1:{port}", "SCHEDULESY_REDIS_URL")


def test_the_traceback_is_shown_at_debug_level(tmp_path: Path) -> None:
    port = free_port()
    result = run(["migrate"], tmp_path, SCHEDULESY_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/x",
                 SCHEDULESY_LOG_LEVEL="debug")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "Traceback" in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr.splitlines()[-2]
