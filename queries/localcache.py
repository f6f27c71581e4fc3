"""Read models kept in process memory, dropped the moment Redis says they changed.

Why: a Redis round trip through redis-py costs ~75 µs of CPU, more than everything else a read
does; a calendar needs two (user → selection → calendar). Hot documents (a room's public page, a
calendar polled by many phones, a feed refreshed by calendar apps) are served from memory instead.

How it stays correct: Redis *server-assisted client-side caching* (``CLIENT TRACKING``, Redis 6+,
Valkey). One connection subscribes to ``__redis__:invalidate``; a second one turns tracking on in
broadcast mode for the key families we copy, redirected to the first.
Every write, delete, expiry or eviction of such a key — by the projector, a read-through build,
anyone — sends that key's name, and the copy is dropped. Nothing is cached while the invalidation
stream is not established, and everything is dropped when it breaks (a lost message must not
leave a stale copy).

The classic race (a value read just before a write, stored just after the write's invalidation)
is closed by registering each load before it reads: an invalidation of that key, or any flush,
while the load runs cancels its right to store.

On a Redis Cluster the stream follows every master (:class:`InvalidationStream`).

Copies are keyed by the Redis key they came from; :class:`queries.reads.Reads` decides what is
copied (its ``tracked_prefixes``) and reads through them one key at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import structlog
from redis.asyncio.connection import AbstractConnection, ConnectionPool

from schedulesy.services import cluster_seeds, node_address

log = structlog.get_logger(__name__)

T = TypeVar("T")

INVALIDATION_CHANNEL = "__redis__:invalidate"
MAX_BYTES = 64 * 2**20
"""Memory for copies per process (bodies and gzip bodies counted); least recently used go first."""
WATCHDOG_INTERVAL = 1.0
"""How often both connections are pinged; a silent stream for 3 intervals counts as broken."""
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
CONNECT_TIMEOUT = 2.0
STOP_RETRY = 0.1


class LocalCopies:
    """The copies and the bookkeeping that decides whether a load may store its result."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.enabled = False
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._copies: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._loading: dict[str, set[object]] = {}
        self._generation = 0

    def holds(self, key: str) -> bool:
        """A copy of ``key`` is in memory."""
        return key in self._copies

    def enable(self) -> None:
        """The invalidation stream is live: start afresh (anything older may have missed a message)."""
        self.flush()
        self.enabled = self.max_bytes > 0

    def disable(self) -> None:
        self.enabled = False
        self.flush()

    def flush(self) -> None:
        self._copies.clear()
        self._loading.clear()
        self.bytes = 0
        self._generation += 1

    def invalidate(self, keys: list[bytes] | None) -> None:
        """Keys changed in Redis (``None``: the database was flushed)."""
        if keys is None:
            self.flush()
            return
        for raw in keys:
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            self._loading.pop(key, None)
            copy = self._copies.pop(key, None)
            if copy is not None:
                self.bytes -= copy[1]

    async def get(
        self, key: str, load: Callable[[], Awaitable[T]], size: Callable[[T], int],
        accept: Callable[[T], bool] | None = None,
    ) -> T:
        """The copy of ``key`` (unless ``accept`` refuses it), else what ``load`` answers, copied."""
        if not self.enabled:
            return await load()
        copy = self._copies.get(key)
        if copy is not None and (accept is None or accept(copy[0])):
            self._copies.move_to_end(key)
            self.hits += 1
            value: T = copy[0]
            return value
        self.misses += 1
        ticket = object()
        generation = self._generation
        self._loading.setdefault(key, set()).add(ticket)
        try:
            value = await load()
        except BaseException:
            self._release(key, ticket)
            raise
        tickets = self._loading.get(key)
        if self.enabled and generation == self._generation and tickets is not None and ticket in tickets:
            self._store(key, value, size(value))
        self._release(key, ticket)
        return value

    def _release(self, key: str, ticket: object) -> None:
        tickets = self._loading.get(key)
        if tickets is not None:
            tickets.discard(ticket)
            if not tickets:
                del self._loading[key]

    def _store(self, key: str, value: Any, nbytes: int) -> None:
        if nbytes > self.max_bytes // 8:
            return  # one huge feed must not push every other copy out
        old = self._copies.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._copies[key] = (value, nbytes)
        self.bytes += nbytes
        while self.bytes > self.max_bytes and self._copies:
            _, (_, evicted) = self._copies.popitem(last=False)
            self.bytes -= evicted


class InvalidationStream:
    """Keeps ``CLIENT TRACKING ... BCAST PREFIX <p>...`` alive and feeds its messages to the copies.

    A Redis Cluster sends a key's invalidations from the master that holds it only, so the stream
    then holds one listener and one tracker per master (a master redirects to a listener of its
    own), and its watchdog also checks that each one is still a master and that the set of masters
    is unchanged: a failover, a master added or removed ends the session, which drops every copy
    (some invalidations may have been missed) and starts afresh on the new masters.
    """

    def __init__(
        self, redis_url: str, prefixes: tuple[str, ...], copies: LocalCopies, mode: str = "standalone"
    ) -> None:
        self.redis_url = redis_url
        self.prefixes = prefixes
        self.copies = copies
        self.cluster = mode == "cluster"
        self._task: asyncio.Task[None] | None = None
        self._last_message: dict[int, float] = {}
        self._known_nodes: list[Node] = []
        """Every node the last topology named: where to ask next when the configured one is down."""
        self.sessions = 0
        """Sessions established so far (each one started with no copies)."""

    def start(self) -> None:
        """Start the task that owns the connections (at the app's start-up, in its event loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="query-cache-invalidations")

    async def stop(self) -> None:
        """Cancel the task and wait for its end. Cancelled again for as long as it runs: a
        cancellation that lands while redis-py opens a connection can be swallowed there, and the
        task would go on (a stop right after the start, as in a quick restart, hits that window)."""
        task, self._task = self._task, None
        if task is not None:
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=STOP_RETRY)
            if not task.cancelled():
                task.result()
        self.copies.disable()

    async def _run(self) -> None:
        failures = 0
        while True:
            sessions = self.sessions
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away or restarted: serve without copies meanwhile
                if self.sessions > sessions:
                    failures = 0  # it was up: reconnect at once (a failover), back off from there
                if failures == 0:
                    log.warning("query_cache_invalidations_lost", error=f"{type(exc).__name__}: {exc}"[:200])
            finally:
                self.copies.disable()
            await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1

    def _pool(self, node: Node | None) -> ConnectionPool:
        url = cluster_seeds(self.redis_url)[0] if self.cluster else self.redis_url
        pool = ConnectionPool.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                       socket_timeout=CONNECT_TIMEOUT, protocol=2)
        if node is not None:  # the URL's credentials and TLS, another node's address
            pool.connection_kwargs.update(host=node[0], port=node[1], db=0)
        return pool

    async def _masters(self) -> list[Node]:
        """The cluster's masters, asked of the configured nodes, else of any node known before."""
        candidates: list[Node | None] = [node_address(seed) for seed in cluster_seeds(self.redis_url)]
        candidates += self._known_nodes
        error: Exception = ConnectionError("no cluster node answered")
        for candidate in candidates:
            pool = self._pool(candidate)
            connection = pool.make_connection()
            try:
                await connection.connect()
                masters, every_node = _topology(await _command(connection, "CLUSTER", "SLOTS"))
            except Exception as exc:
                error = exc
                continue
            finally:
                with contextlib.suppress(Exception):
                    await connection.disconnect()
                await pool.disconnect()
            if not masters:
                error = ConnectionError("the cluster has no slot assigned")
                continue
            self._known_nodes = every_node
            return masters
        raise error

    async def _session(self) -> None:
        nodes: list[Node | None] = list(await self._masters()) if self.cluster else [None]
        pools = [self._pool(node) for node in nodes]
        pairs = [(pool.make_connection(), pool.make_connection()) for pool in pools]
        try:
            for index, (listener, tracker) in enumerate(pairs):
                await listener.connect()
                await tracker.connect()
                if self.cluster and not await _is_master(tracker):
                    raise ConnectionError(f"{nodes[index]} is no longer a master")
                client_id = await _command(listener, "CLIENT", "ID")
                await _command(listener, "SUBSCRIBE", INVALIDATION_CHANNEL)
                prefixes = [word for prefix in self.prefixes for word in ("PREFIX", prefix)]
                await _command(tracker, "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *prefixes)
                self._last_message[index] = time.monotonic()
            self.copies.enable()
            self.sessions += 1
            async with asyncio.TaskGroup() as tasks:
                for index, (listener, _) in enumerate(pairs):
                    tasks.create_task(self._listen(index, listener))
                tasks.create_task(self._watch(pairs, nodes))
        finally:
            self.copies.disable()
            for connection in (c for pair in pairs for c in pair):
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            for pool in pools:
                await pool.disconnect()

    async def _listen(self, index: int, listener: AbstractConnection) -> None:
        while True:
            message = await listener.read_response(timeout=math.inf)
            self._last_message[index] = time.monotonic()
            if isinstance(message, list) and len(message) == 3 and message[0] in (b"message", "message"):
                self.copies.invalidate(message[2])

    async def _watch(
        self, pairs: list[tuple[AbstractConnection, AbstractConnection]], nodes: list[Node | None]
    ) -> None:
        """Ping every connection: a listener's pong proves messages still flow, a tracker's answer
        proves tracking is still on (it ends silently with that connection). On a cluster, each
        tracker's node must still be a master, and the masters the same ones."""
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL)
            for index, (listener, tracker) in enumerate(pairs):
                await listener.send_command("PING")
                if self.cluster:
                    if not await _is_master(tracker):
                        raise ConnectionError(f"{nodes[index]} is no longer a master")
                else:
                    await _command(tracker, "PING")
                if time.monotonic() - self._last_message[index] > 3 * WATCHDOG_INTERVAL:
                    raise ConnectionError("the invalidation stream went silent")
            if self.cluster:
                masters, _ = _topology(await _command(pairs[0][1], "CLUSTER", "SLOTS"))
                if set(masters) != set(nodes):
                    raise ConnectionError("the cluster's masters changed")


Node: TypeAlias = tuple[str, int]
"""A cluster node's address."""


def _topology(slots: Any) -> tuple[list[Node], list[Node]]:
    """(masters, every node) from a ``CLUSTER SLOTS`` answer: per slot range, its master then replicas."""
    masters: dict[Node, None] = {}
    every: dict[Node, None] = {}
    for entry in slots:
        for position, node in enumerate(entry[2:]):
            host = node[0].decode() if isinstance(node[0], bytes) else str(node[0])
            address = (host, int(node[1]))
            every[address] = None
            if position == 0:
                masters[address] = None
    return list(masters), list(every)


async def _is_master(connection: AbstractConnection) -> bool:
    role = await _command(connection, "ROLE")
    return bool(role) and role[0] in (b"master", "master")


async def _command(connection: AbstractConnection, *args: Any) -> Any:
    await connection.send_command(*args)
    answer = await connection.read_response()
    if isinstance(answer, Exception):
        raise answer
    return answer
