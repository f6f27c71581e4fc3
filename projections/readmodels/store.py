"""How read models are kept in Redis: the only code that writes them there.

Each document is a Redis hash ``{"d": <msgpack StoredDocument>, "v": <version>, "x", "r": <stamp>}``;
a document known to be gone is a *tombstone* ``{"g": 1, "x", "r"}`` that expires. Every write is
one Lua call that compares stamps (:class:`~projections.builders.document.Stamp`, where the build's
snapshot stands in time): whoever writes a key — the projector, a read-through, a command right
after its commit — an older build never overwrites a newer one, so a read model never goes back in
time, whatever the order in which concurrent builds finish. An unchanged version only renews the
stamp, so the document keeps its ETag and Last-Modified. A tombstone answers "not found" without a
build; a revoked access key's tombstone carries :data:`~projections.builders.document.REVOKED`, which
no build can overwrite. Every operation touches one key, so a Redis Cluster needs no hash tag: a
pipeline of them is split per master by the cluster client. On a cluster, a write batch ends with
``WAIT`` on every master: what the projector checkpoints, or a command answers after, is on the
replica that a failover would promote (Redis replicates asynchronously otherwise).

Redis connection failures reach the caller (:data:`REDIS_DOWN`): the projector retries its batch,
the read side flips its :class:`RedisSwitch` and answers from Postgres.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from typing import Final, TypeVar

import msgspec
import structlog
from redis.asyncio import RedisCluster
from redis.exceptions import ClusterError, NoScriptError, ReadOnlyError, RedisClusterException, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import TryAgainError

from projections.builders.document import NEVER, REVOKED, Built, Stamp, StoredDocument, from_wire, to_wire
from schedulesy.keys import Keys
from schedulesy.services import RedisClient

log = structlog.get_logger(__name__)

T = TypeVar("T")

REDIS_DOWN = (
    RedisConnectionError, RedisTimeoutError, OSError, TimeoutError,
    ClusterError, RedisClusterException, TryAgainError, ReadOnlyError,
)
"""What a Redis outage raises (refused, reset or timed-out connections); on a cluster also a failover
under way: slots not covered (``CLUSTERDOWN``), a resharding's ``TRYAGAIN``, a demoted master's
``READONLY``."""
REDIS_RETRY_AFTER = 5.0
"""After a Redis failure, reads skip Redis for this many seconds (no 2 s timeout per request)."""
WRITE_CHUNK = 500
EMAIL_TTL = 3600
"""Instructor-by-email answers: an email that moves to another resource is picked up within this."""
TOMBSTONE_TTL = 24 * 3600
"""A deleted document's tombstone: far longer than any build that could still bring it back."""
NOT_FOUND_TTL = 30
"""What a read-through found missing (an unknown key) is remembered this long: a guess costs Postgres
once, not at every request. A creation is written over it at once (its stamp is newer)."""
BUILD_LOCK_MS = 10_000
REPLICA_WAIT_MS = 100
"""On a cluster, how long a write batch waits for each master's replica to confirm it: a master
without a live replica (its replica just promoted, say) costs this much per batch, not a failure."""

WRITE_IF_NEWER = """
local held = redis.call('HMGET', KEYS[1], 'x', 'r', 'v', 'g')
local xmax, running = tonumber(ARGV[1]), tonumber(ARGV[2])
if held[1] then
  local held_xmax, held_running = tonumber(held[1]), tonumber(held[2])
  if held_xmax > xmax or (held_xmax == xmax and held_running < running) then return 0 end
end
local result
if ARGV[3] == '' then
  if held[4] then
    result = 2
  else
    if redis.call('EXISTS', KEYS[1]) == 1 then result = 4 else result = 5 end
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'g', '1')
  end
elseif held[3] == ARGV[3] then
  result = 2
elseif ARGV[4] == '' then
  return 3
else
  if held[4] then redis.call('DEL', KEYS[1]) end
  redis.call('HSET', KEYS[1], 'd', ARGV[4], 'v', ARGV[3])
  result = 1
end
redis.call('HSET', KEYS[1], 'x', ARGV[1], 'r', ARGV[2])
if tonumber(ARGV[5]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[5]) else redis.call('PERSIST', KEYS[1]) end
return result
"""
"""KEYS[1]: the document. ARGV: the build's stamp (xmax, running); its version ('' writes a
tombstone); the encoded document ('' to only confirm an unchanged version); a ttl (0: none).
Answers one of the ``_`` codes below."""

_OLDER: Final = 0
"""Redis holds a newer build: nothing done."""
_WRITTEN: Final = 1
_UNCHANGED: Final = 2
"""Same version (or already a tombstone): only the stamp and the ttl renewed."""
_NEEDS_BODY: Final = 3
"""The version differs and no document was sent: send it."""
_BURIED: Final = 4
"""A tombstone replaced a document."""
_TOMBSTONE: Final = 5
"""A tombstone where nothing was."""


class Gone:
    """What :meth:`DocumentStore.read` answers for a tombstone: known not to exist."""

    def __repr__(self) -> str:
        return "GONE"


GONE: Final = Gone()


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class ApplyReport(msgspec.Struct):
    """What one batch did, for the worker's log line and metrics."""

    documents_written: int = 0
    documents_deleted: int = 0
    documents_unchanged: int = 0
    documents_superseded: int = 0
    """Not written: Redis already held a build from a newer snapshot."""

    def add(self, other: ApplyReport) -> None:
        self.documents_written += other.documents_written
        self.documents_deleted += other.documents_deleted
        self.documents_unchanged += other.documents_unchanged
        self.documents_superseded += other.documents_superseded

    def count(self, answer: int) -> None:
        if answer == _WRITTEN:
            self.documents_written += 1
        elif answer == _BURIED:
            self.documents_deleted += 1
        elif answer == _OLDER:
            self.documents_superseded += 1
        else:
            self.documents_unchanged += 1


class Writes:
    """Documents to put and keys to delete, gathered while a batch built from one snapshot."""

    def __init__(self, stamp: Stamp) -> None:
        self.stamp = stamp
        self.put: dict[str, Built] = {}
        self.ttl: dict[str, int] = {}
        self.delete: set[str] = set()

    def set(self, key: str, built: Built | None, ttl: int | None = None) -> None:
        if built is None:
            self.delete.add(key)
            self.put.pop(key, None)
            return
        self.put[key] = built
        self.delete.discard(key)
        if ttl:
            self.ttl[key] = ttl

    def __len__(self) -> int:
        return len(self.put) + len(self.delete)


class RedisSwitch:
    """Whether reads (and the caches around builds) try Redis: off for a while after a failure.

    The projector does not consult it for its own writes: it lets errors through and retries."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._down_until = 0.0

    def usable(self) -> bool:
        return self.clock() >= self._down_until

    def failed(self) -> None:
        if self.usable():
            log.warning("redis_unreachable", retry_after=REDIS_RETRY_AFTER)
        self._down_until = self.clock() + REDIS_RETRY_AFTER


class DocumentStore:
    """Read models in Redis. ``clock`` (seconds since the epoch) dates what is written: the
    documents' Last-Modified."""

    def __init__(self, redis: RedisClient, keys: Keys, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self._write_if_newer = redis.register_script(WRITE_IF_NEWER)
        families = keys.families
        self._rebuilt_families = (
            families.resource_node, families.resource_events, families.resource_public_events,
            families.calendar, families.ics, families.user, families.access, families.changes,
            families.changes_atom,
        )
        """The documents a full rebuild writes; ICS fragments and email answers expire on their own."""

    def now(self) -> int:
        return int(self.clock())

    async def read(self, key: str) -> StoredDocument | Gone | None:
        """The stored document, :data:`GONE` for a tombstone, None when absent (or not one of ours:
        the projector replaces it)."""
        try:
            data, gone, xmax, running = await self.redis.hmget(key, ["d", "g", "x", "r"])
        except ResponseError as exc:  # a key of another shape (unless the cluster is failing over)
            if isinstance(exc, REDIS_DOWN):
                raise
            return None
        if gone is not None:
            return GONE
        if not isinstance(data, bytes):
            return None
        try:
            return from_wire(data, NEVER if xmax is None else Stamp(int(xmax), int(running or 0)))
        except msgspec.DecodeError:
            return None

    async def write(self, writes: Writes) -> ApplyReport:
        """Write a batch's documents and tombstones, each unless Redis holds a newer build.

        Per chunk, a first round confirms the unchanged documents; only the changed ones are then
        encoded (compressed) and sent."""
        report = ApplyReport()
        stamp = writes.stamp
        for chunk in chunks(writes.put.items(), WRITE_CHUNK):
            probes = [(key, built.version, b"", writes.ttl.get(key, 0)) for key, built in chunk]
            answers = await self._run(stamp, probes)
            now = self.now()
            changed = [
                (key, built.version, to_wire(built.stored(now)), writes.ttl.get(key, 0))
                for (key, built), answer in zip(chunk, answers, strict=True) if answer == _NEEDS_BODY
            ]
            for answer in answers:
                if answer != _NEEDS_BODY:
                    report.count(answer)
            for answer in await self._run(stamp, changed):
                report.count(answer)
        for gone in chunks(sorted(writes.delete), WRITE_CHUNK):
            for answer in await self._run(stamp, [(key, "", b"", TOMBSTONE_TTL) for key in gone]):
                report.count(answer)
        if writes:
            await self.replicated()
        return report

    async def put(self, key: str, document: StoredDocument, version: str, stamp: Stamp, ttl: int | None) -> bool:
        """Store a read-through build unless Redis holds a newer one; True when it was written."""
        [answer] = await self._run(stamp, [(key, version, to_wire(document), ttl or 0)])
        return answer == _WRITTEN

    async def mark_missing(self, key: str, stamp: Stamp) -> None:
        """A read-through found nothing to build: remember it briefly (unless something newer is there)."""
        await self._run(stamp, [(key, "", b"", NOT_FOUND_TTL)])

    async def revoke(self, access_keys: Iterable[str]) -> None:
        """Tombstones no build can overwrite, for access keys deleted by a transaction that has not
        committed yet: once it commits, no process can serve a grant of theirs again."""
        keys = [self.keys.access(key) for key in access_keys]
        for chunk in chunks(keys, WRITE_CHUNK):
            await self._run(REVOKED, [(key, "", b"", TOMBSTONE_TTL) for key in chunk])
        if keys:
            await self.replicated()

    async def replicated(self) -> None:
        """On a cluster: wait until each master's replica has what was written so far (``WAIT``,
        bounded by :data:`REPLICA_WAIT_MS`). Standalone: nothing to wait for."""
        if isinstance(self.redis, RedisCluster):
            await self.redis.execute_command("WAIT", 1, REPLICA_WAIT_MS, target_nodes=RedisCluster.PRIMARIES)

    async def _run(self, stamp: Stamp, calls: Sequence[tuple[str, str, bytes, int]]) -> list[int]:
        """One script call per (key, version, document, ttl), pipelined; a key of another shape
        (WRONGTYPE) is replaced."""
        if not calls:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for key, version, wire, ttl in calls:
            # redis-py queues a script in a cluster pipeline too; its type hint leaves that out.
            await self._write_if_newer(
                keys=[key], args=[stamp.xmax, stamp.running, version, wire, ttl], client=pipe,  # type: ignore[arg-type]
            )
        answers = await pipe.execute(raise_on_error=False)
        results: list[int] = []
        for (key, version, wire, ttl), answer in zip(calls, answers, strict=True):
            if isinstance(answer, NoScriptError):
                # A cluster pipeline sends EVALSHA only: a master that never saw the script (a
                # promoted replica, a new node) learns it from this one-key call.
                answer = await self._write_if_newer(keys=[key], args=[stamp.xmax, stamp.running, version, wire, ttl])
            if isinstance(answer, ResponseError) and "WRONGTYPE" in str(answer):
                log.warning("read_model_key_replaced", key=key, error=str(answer))
                await self.redis.delete(key)
                answer = await self._write_if_newer(keys=[key], args=[stamp.xmax, stamp.running, version, wire, ttl])
            elif isinstance(answer, Exception):
                raise answer
            results.append(int(answer))
        return results

    async def delete_stale(self, written: Set[str]) -> int:
        """After a full rebuild: delete our documents it did not write (under our prefix only)."""
        stale: list[bytes] = []
        async for raw in self.redis.scan_iter(match=self.keys.pattern(), count=1000):
            key = raw.decode()
            if key.startswith(self._rebuilt_families) and key not in written:
                stale.append(raw)
        deleted = 0
        for chunk in chunks(stale, WRITE_CHUNK):
            pipe = self.redis.pipeline(transaction=False)
            for key in chunk:
                pipe.delete(key)
            deleted += sum(await pipe.execute())
        return deleted

    async def lock_build(self, key: str) -> bool:
        """Take the short-lived lock that makes concurrent misses in several processes one build."""
        return bool(await self.redis.set(self.keys.build_lock(key), "1", nx=True, px=BUILD_LOCK_MS))

    async def build_locked(self, key: str) -> bool:
        return bool(await self.redis.exists(self.keys.build_lock(key)))

    async def unlock_build(self, key: str) -> None:
        await self.redis.delete(self.keys.build_lock(key))
