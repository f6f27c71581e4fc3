"""When an external piece (Postgres, Redis, ADE, a port) fails: one line an operator can act on.

The CLI's ``main`` hands every exception a command raises to :func:`explain`. Known failures to
reach or use a dependency become an :class:`Unavailable` — what failed, naming the setting and the
host:port, and what to do — printed as two lines without a traceback; anything else is a bug and
keeps its traceback. The ``check_*`` functions let a command find such a failure before it starts
work (before granian forks its workers, say), where the error would otherwise surface much later.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import redis.exceptions

from schedulesy.ade.errors import AdeUnavailable
from schedulesy.settings import Settings, env_name

CONNECT_TIMEOUT_SECONDS = 10.0
DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379, "http": 80, "https": 443}


class Unavailable(Exception):
    """An external piece cannot be reached or used: ``str()`` says what, ``hint`` what to do."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.hint = hint


def endpoint(url: str) -> str:
    """``host:port`` of a URL (or the socket path), as an operator would look it up."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    query = parse_qs(parts.query)  # asyncpg also takes ?host=/socket/dir&port=5433
    host = query.get("host", [parts.hostname or "localhost"])[0]
    try:
        port = query.get("port", [None])[0] or parts.port or DEFAULT_PORTS.get(parts.scheme, "")
    except ValueError:  # a port that is not a number
        port = parts.netloc.rpartition(":")[2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: BaseException) -> str:
    """The root network cause in a few words (``connection refused``), else the message."""
    for cause in _chain(exc):
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve the host name ({cause.strerror})"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, TimeoutError):
            return "no answer in time"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:]
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _what_to_do(exc: BaseException, variable: str) -> str:
    if any(isinstance(cause, socket.gaierror) for cause in _chain(exc)):
        return f"correct the host name in {variable}"
    return f"start the server, or correct {variable}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _raised_in(tb: TracebackType | None) -> str:
    """The library the deepest frame of a traceback belongs to (asyncpg raises bare OSErrors)."""
    library = ""
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "").partition(".")[0]
        if module in ("asyncpg", "redis", "httpx", "httpcore"):
            library = module
        tb = tb.tb_next
    return library


def postgres_unavailable(url: str, exc: BaseException) -> Unavailable:
    where, variable = endpoint(url), env_name("database_url")
    name = urlsplit(url).path.lstrip("/")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return Unavailable(f"the database {name!r} does not exist on Postgres at {where} ({variable})",
                           f"run `schedulesy migrate` (it creates the database), or correct {variable}")
    if isinstance(exc, (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
        return Unavailable(f"Postgres at {where} refused the login of {variable}: {_reason(exc)}",
                           f"correct the user or password in {variable}")
    if isinstance(exc, (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError)):
        return Unavailable(f"the database {name!r} on Postgres at {where} ({variable}) has no Schedulesy tables",
                           "run `schedulesy migrate` first")
    return Unavailable(f"cannot reach Postgres at {where} ({variable}): {_reason(exc)}", _what_to_do(exc, variable))


def redis_unavailable(url: str, exc: BaseException) -> Unavailable:
    where, variable = endpoint(url), env_name("redis_url")
    if isinstance(exc, redis.exceptions.AuthenticationError):
        return Unavailable(f"Redis at {where} refused the credentials of {variable}: {_reason(exc)}",
                           f"correct the user or password in {variable}")
    return Unavailable(f"cannot reach Redis at {where} ({variable}): {_reason(exc)}", _what_to_do(exc, variable))


def http_unavailable(ade_url: str, url: str, exc: BaseException) -> Unavailable:
    where, variable = endpoint(url), env_name("ade_url")
    if where == endpoint(ade_url):
        return Unavailable(f"cannot reach ADE at {where} ({variable}): {_reason(exc)}",
                           f"check that ADE answers there, or correct {variable}")
    return Unavailable(f"cannot reach {url}: {_reason(exc)}", "check that the server answers there")


def explain(exc: BaseException, settings: Settings) -> Unavailable | None:
    """The operator's explanation of ``exc`` when it is a known infrastructure failure, else None."""
    for leaf in _leaves(exc):
        explained = _explain_one(leaf, settings)
        if explained is not None:
            return explained
    return None


_POSTGRES_ERRORS = (
    asyncpg.InvalidCatalogNameError, asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError, asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError, asyncpg.PostgresConnectionError, asyncpg.ConnectionDoesNotExistError,
)


def _explain_one(exc: BaseException, settings: Settings) -> Unavailable | None:
    if isinstance(exc, Unavailable):
        return exc
    if isinstance(exc, _POSTGRES_ERRORS):
        return postgres_unavailable(settings.database_url, exc)
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                        redis.exceptions.RedisClusterUnreachableError)):
        return redis_unavailable(settings.redis_url, exc)
    if isinstance(exc, httpx.TransportError):
        try:
            url = str(exc.request.url)
        except RuntimeError:  # no request attached
            url = settings.ade_url
        return http_unavailable(settings.ade_url, url, exc)
    if isinstance(exc, AdeUnavailable):
        return http_unavailable(settings.ade_url, settings.ade_url, exc)
    if isinstance(exc, OSError):
        library = _raised_in(exc.__traceback__)
        if library == "asyncpg":
            return postgres_unavailable(settings.database_url, exc)
        if library == "redis":
            return redis_unavailable(settings.redis_url, exc)
    return None


async def check_postgres(url: str, *, migrated: bool = True) -> None:
    """Connect once (and, with ``migrated``, look for our tables) or raise :class:`Unavailable`."""
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise postgres_unavailable(url, exc) from exc
    try:
        if migrated and await conn.fetchval("SELECT to_regclass('schedulesy.change')") is None:
            raise postgres_unavailable(url, asyncpg.UndefinedTableError("schedulesy.change"))
    finally:
        await conn.close()


async def check_redis(url: str, mode: str = "standalone") -> None:
    """One PING (on a cluster: its slots discovered, then a PING), or :class:`Unavailable`."""
    from schedulesy.services import create_redis

    client = create_redis(url, mode)
    try:
        await client.ping()
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError) as exc:
        raise redis_unavailable(url, exc) from exc
    finally:
        await client.aclose()


async def check_ade(url: str, timeout: float) -> None:
    """A TCP connection to ADE's host and port, or :class:`Unavailable` (no login: that is the sync's)."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(parts.hostname, port)
    except (OSError, TimeoutError) as exc:
        raise http_unavailable(url, url, exc) from exc
    writer.close()


def check_port_free(host: str, port: int, port_option: str = "--port") -> None:
    """Bind ``host:port`` for a moment: a server that cannot listen there says so in one line
    (granian itself ends with a Rust backtrace that never names the port)."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except OSError as exc:
        raise Unavailable(f"cannot listen on {where} (--host): {_reason(exc)}", "correct --host") from exc
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise Unavailable(f"cannot listen on {where} ({port_option}): {_reason(exc)}",
                          f"stop what listens there, or choose another {port_option}") from exc
