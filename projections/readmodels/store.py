"""How read models are kept in Redis: the only code that writes them there.

Each document is a Redis hash ``{"d": <msgpack StoredDocument>, "v": <version>}``. The projector
compares versions before writing, so an unchanged document is not rewritten and keeps its ETag and
Last-Modified. A read-through build is stored only where nothing is yet (what the projector wrote
meanwhile is newer than that build's snapshot). Every operation touches one key (Redis Cluster
friendly).

Redis connection failures reach the caller (:data:`REDIS_DOWN`): the projector retries its batch,
the read side flips its :class:`RedisSwitch` and answers from Postgres.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Set
from typing import TypeVar

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.builders.document import Built, StoredDocument, from_wire, to_wire
from schedulesy.keys import Keys

log = structlog.get_logger(__name__)

T = TypeVar("T")

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
"""What a Redis outage raises (refused, reset or timed-out connections)."""
REDIS_RETRY_AFTER = 5.0
"""After a Redis failure, reads skip Redis for this many seconds (no 2 s timeout per request)."""
WRITE_CHUNK = 500
EMAIL_TTL = 3600
"""Instructor-by-email answers: an email that moves to another resource is picked up within this."""
IDENTITY_READ_THROUGH_TTL = 300
"""User and access documents stored by a read-through expire after this (the projector's copies
do not): a build that read a row just before it was deleted (a revoked key) cannot outlive it long."""
BUILD_LOCK_MS = 10_000
PUT_IF_ABSENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"""


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class ApplyReport(msgspec.Struct):
    """What one batch did, for the worker's log line and metrics."""

    documents_written: int = 0
    documents_deleted: int = 0
    documents_unchanged: int = 0

    def add(self, other: ApplyReport) -> None:
        self.documents_written += other.documents_written
        self.documents_deleted += other.documents_deleted
        self.documents_unchanged += other.documents_unchanged


class Writes:
    """Documents to put and keys to delete, gathered while a batch is built."""

    def __init__(self) -> None:
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

    def __init__(self, redis: Redis, keys: Keys, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self._put_if_absent = redis.register_script(PUT_IF_ABSENT)
        families = keys.families
        self._identity_families = (families.user, families.access)
        self._rebuilt_families = (
            families.resource_node, families.resource_events, families.resource_public_events,
            families.calendar, families.ics, families.user, families.access,
        )
        """The documents a full rebuild writes; ICS fragments and email answers expire on their own."""

    def now(self) -> int:
        return int(self.clock())

    async def read(self, key: str) -> StoredDocument | None:
        """The stored document; None when absent or not one of ours (the projector replaces it)."""
        try:
            data = await self.redis.hget(key, "d")
        except ResponseError:  # a key of another shape
            return None
        if not isinstance(data, bytes):  # absent
            return None
        try:
            return from_wire(data)
        except msgspec.DecodeError:
            return None

    async def write(self, writes: Writes) -> ApplyReport:
        """Write changed documents and delete gone ones, one key per command, in pipelines."""
        report = ApplyReport()
        for chunk in chunks(writes.put.items(), WRITE_CHUNK):
            pipe = self.redis.pipeline(transaction=False)
            for key, _ in chunk:
                pipe.hget(key, "v")
            stored_versions = await pipe.execute(raise_on_error=False)
            now = self.now()
            pipe = self.redis.pipeline(transaction=False)
            for (key, built), stored in zip(chunk, stored_versions, strict=True):
                version = built.version
                ttl = writes.ttl.get(key)
                if isinstance(stored, ResponseError):  # not one of our hashes (WRONGTYPE): replace it
                    log.warning("read_model_key_replaced", key=key, error=str(stored))
                    pipe.delete(key)
                    stored = None
                elif isinstance(stored, Exception):
                    raise stored
                if stored is not None and stored.decode() == version:
                    report.documents_unchanged += 1
                    if ttl:
                        pipe.expire(key, ttl)
                    elif key.startswith(self._identity_families):
                        pipe.persist(key)  # confirmed from a fresh snapshot: keep it for good
                    continue
                pipe.hset(key, mapping={"d": to_wire(built.stored(now)), "v": version})
                if ttl:
                    pipe.expire(key, ttl)
                elif key.startswith(self._identity_families):
                    pipe.persist(key)
                report.documents_written += 1
            await pipe.execute()
        for gone in chunks(sorted(writes.delete), WRITE_CHUNK):
            pipe = self.redis.pipeline(transaction=False)
            for key in gone:
                pipe.delete(key)
            report.documents_deleted += sum(await pipe.execute())
        return report

    async def put_if_absent(self, key: str, document: StoredDocument, version: str, ttl: int | None) -> bool:
        """Store a read-through build unless the key exists: what the projector wrote meanwhile
        is newer than this build's snapshot."""
        if ttl is None and key.startswith(self._identity_families):
            ttl = IDENTITY_READ_THROUGH_TTL
        try:
            stored = await self._put_if_absent(keys=[key], args=[to_wire(document), version, ttl or 0])
        except ResponseError:
            return False  # a key of another shape: the projector replaces it
        return bool(stored)

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
