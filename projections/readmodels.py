"""The read models: which Redis documents a change touches, and how each is (re)built.

Two users of one facade, :class:`ReadModels`:
- the projector worker calls :meth:`ReadModels.apply` with a coalesced batch of changes
  (``{topic: {key, ...}}``) and :meth:`ReadModels.rebuild_all`;
- the query side calls the getters (:meth:`ReadModels.resource_node`, :meth:`ReadModels.user_ics`…),
  which read Redis and, on a miss, build from Postgres with the *same* loaders and builders, store
  the result and answer (one build per key for concurrent misses). Redis down → built from
  Postgres anyway: slower, never an error.

Storage: each document is a Redis hash ``{"d": <msgpack StoredDocument>, "v": <version>}``. The
projector compares versions before writing, so an unchanged document is not rewritten and keeps
its ETag and Last-Modified. Every operation touches one key (Redis Cluster friendly).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Set
from urllib.parse import urlsplit

import msgspec
import structlog
from redis.exceptions import ResponseError

from projections import loaders
from projections.builders import calendar as calendar_builder
from projections.builders import ics as ics_builder
from projections.builders import resources as resource_builder
from projections.builders import selections as selection_builder
from projections.builders.document import Built, StoredDocument, from_wire, to_wire
from projections.builders.selections import AccessGrant, UserSelection
from projections.ics import REDIS_DOWN, FeedPlan, FragmentStore, chunks
from projections.loaders import EventStore
from projections.rows import AccessRow, EventRow, ResourceRow, UserRow, child_ids
from schedulesy.keys import normalise_selection, selection_hash
from schedulesy.services import Services

__all__ = ["AccessGrant", "ApplyReport", "ReadModels", "StoredDocument", "UserSelection"]

log = structlog.get_logger(__name__)

REDIS_RETRY_AFTER = 5.0
"""After a Redis failure, read-through skips Redis for this many seconds (no 2 s timeout per request)."""
WRITE_CHUNK = 500
EMAIL_TTL = 3600
"""Instructor-by-email answers: an email that moves to another resource is picked up within this."""
BUILD_LOCK_MS = 10_000
BUILD_WAIT_STEPS = 40
BUILD_WAIT_SECONDS = 0.05
IDENTITY_READ_THROUGH_TTL = 300
"""User and access documents stored by a read-through expire after this (the projector's copies
do not): a build that read a row just before it was deleted (a revoked key) cannot outlive it long."""
PUT_IF_ABSENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"""
THREAD_GZIP_BYTES = 256 * 1024
MAX_USERNAME = 32
MAX_RESOURCE_ID = 25
REBUILD_SELECTION_CHUNK = 200



class ApplyReport(msgspec.Struct):
    """What one batch did, for the worker's log line and metrics."""

    documents_written: int = 0
    documents_deleted: int = 0
    documents_unchanged: int = 0

    def add(self, other: ApplyReport) -> None:
        self.documents_written += other.documents_written
        self.documents_deleted += other.documents_deleted
        self.documents_unchanged += other.documents_unchanged


class _Writes:
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


@dataclasses.dataclass
class _Plan:
    """The documents one batch of changes touches (see :meth:`ReadModels._plan`)."""

    nodes: set[str] = dataclasses.field(default_factory=set)
    timetables: set[str] = dataclasses.field(default_factory=set)
    """Resources whose events documents are rebuilt."""
    selections: set[tuple[str, ...]] = dataclasses.field(default_factory=set)
    usernames: set[str] = dataclasses.field(default_factory=set)
    users: dict[str, UserRow] = dataclasses.field(default_factory=dict)
    """Changed users and access owners that still have a legacy row."""
    accesses: list[AccessRow] = dataclasses.field(default_factory=list)
    revoked: set[str] = dataclasses.field(default_factory=set)
    emails: set[str] = dataclasses.field(default_factory=set)


class _Batch:
    """Rows loaded for one projector batch, one read-through build, or a whole rebuild.

    ``complete`` (rebuild): everything was loaded up front, so an absent row is a missing row.
    """

    def __init__(self, conn: loaders.Connection, zone: dt.tzinfo) -> None:
        self.conn = conn
        self.complete = False
        self.json = resource_builder.EventJson(zone)
        """Each event's JSON, encoded once for every document of the batch that shows it."""
        self.resources: dict[str, ResourceRow | None] = {}
        self.counts: dict[str, int] = {}
        self._counted: set[str] = set()
        self.timetables: dict[str, list[int]] = {}
        self.events = EventStore()
        self._fragment_ids: dict[int, str] = {}

    async def load_everything(self) -> None:
        self.resources.update(await loaders.fetch_all_resources(self.conn))
        self.counts = await loaders.fetch_event_counts(self.conn, None)
        self.timetables = await loaders.fetch_timetables(self.conn, None)
        await self.events.load_everything(self.conn)
        self.events.add_all_classrooms(r for r in self.resources.values() if r is not None)
        self.complete = True

    async def load_resources(self, ext_ids: Iterable[str]) -> None:
        missing = {i for i in ext_ids if i not in self.resources}
        if missing and not self.complete:
            found = await loaders.fetch_resources(self.conn, missing)
            for ext_id in missing:
                self.resources[ext_id] = found.get(ext_id)

    async def load_counts(self, ext_ids: Iterable[str]) -> None:
        missing = {i for i in ext_ids if i not in self._counted}
        if missing and not self.complete:
            self.counts.update(await loaders.fetch_event_counts(self.conn, missing))
            self._counted |= missing

    async def load_events_of(self, ext_ids: Iterable[str]) -> None:
        """Timetables of these resources and the events in them."""
        wanted = set(ext_ids)
        missing = {i for i in wanted if i not in self.timetables}
        if missing and not self.complete:
            found = await loaders.fetch_timetables(self.conn, missing)
            for ext_id in missing:
                self.timetables[ext_id] = found.get(ext_id, [])
        if not self.complete:
            await self.events.ensure(self.conn, self._event_ids(wanted))

    def resource(self, ext_id: str) -> ResourceRow | None:
        return self.resources.get(ext_id)

    def _event_ids(self, ext_ids: Iterable[str]) -> Iterator[int]:
        for ext_id in ext_ids:
            yield from self.timetables.get(ext_id, ())

    def events_of(self, ext_ids: Iterable[str]) -> list[EventRow]:
        """Distinct events of these resources' timetables, by start time."""
        return self.events.rows(self._event_ids(ext_ids))

    def fragment_id(self, event: EventRow, host: str) -> str:
        """The id of an event's VEVENT fragment, worked out once per batch."""
        fragment_id = self._fragment_ids.get(event.event_id)
        if fragment_id is None:
            vevent = ics_builder.ics_event(event, self.events.classrooms, host)
            fragment_id = self._fragment_ids[event.event_id] = vevent.fragment_id()
        return fragment_id


def _valid_resource_id(ext_id: str, categories: Collection[str]) -> bool:
    return (ext_id.isdigit() and len(ext_id) <= MAX_RESOURCE_ID) or ext_id in categories


def _canonical_access_key(key: str) -> str | None:
    if len(key) != 36:
        return None
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return None


def _valid_username(username: str) -> bool:
    return 0 < len(username) <= MAX_USERNAME and username.isprintable()


class ReadModels:
    """Rebuilds read models from Postgres into Redis (worker) and reads them back (queries)."""

    CACHE_KEY = "projections.readmodels"

    def __init__(self, services: Services, *, fragment_cache_size: int = 50_000) -> None:
        self.services = services
        self.settings = services.settings
        self.keys = services.keys
        self.host = urlsplit(self.settings.public_url).hostname or "schedulesy"
        self.fragments = FragmentStore(services.redis, services.keys, self, fragment_cache_size)
        self._inflight: dict[str, asyncio.Task[StoredDocument | None]] = {}
        self._put_if_absent = services.redis.register_script(PUT_IF_ABSENT)
        self._identity_families = (services.keys.user(""), services.keys.access(""))
        self._redis_down_until = 0.0

    @classmethod
    def for_services(cls, services: Services) -> ReadModels:
        """The process's facade (single-flight and fragment caches are per process)."""
        models = services.cache.get(cls.CACHE_KEY)
        if not isinstance(models, ReadModels):
            models = services.cache[cls.CACHE_KEY] = cls(services)
        return models

    # -----------------------------------------------------------------------------------------
    # Redis availability (read side only: the worker lets errors through and retries its batch)

    def redis_usable(self) -> bool:
        return time.monotonic() >= self._redis_down_until

    def redis_failed(self) -> None:
        if self.redis_usable():
            log.warning("redis_unreachable", retry_after=REDIS_RETRY_AFTER)
        self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER

    # -----------------------------------------------------------------------------------------
    # Worker side

    async def apply(self, changes: Mapping[str, Set[str]]) -> ApplyReport:
        """Rebuild every read model affected by ``changes`` (topic → keys); idempotent."""
        if changes.get("rebuild"):
            return await self.rebuild_all()
        writes = _Writes()
        async with self._snapshot() as conn:
            batch = _Batch(conn, self.settings.zone)
            await self._build_changes(batch, changes, writes)
        return await self._store(writes)

    @contextlib.asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[loaders.Connection]:
        """A connection in a read-only, repeatable-read transaction: every query of one build
        sees the same data. JIT is off: its compilation (~250 ms) dwarfs these short queries,
        whose row estimates over ``= ANY($1)`` would otherwise trigger it."""
        async with self.services.pool.acquire() as conn:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await conn.execute("SET LOCAL jit = off")
                yield conn

    async def _build_changes(self, batch: _Batch, changes: Mapping[str, Set[str]], writes: _Writes) -> None:
        """Work out what the changes touch, then build all of it from one snapshot."""
        plan = await self._plan(batch, changes)
        for username in plan.usernames:
            user = plan.users.get(username)
            writes.set(self.keys.user(username), user and selection_builder.build_user(user))
        for key in plan.revoked:
            writes.set(self.keys.access(key), None)
        for access in plan.accesses:
            owner = plan.users.get(access.username)
            writes.set(self.keys.access(access.key), selection_builder.build_access(access, owner))
        await self._build_nodes(batch, plan.nodes, writes)
        await self._build_events_documents(batch, plan.timetables, writes)
        await self._build_selections(batch, plan.selections, writes)
        for email in plan.emails:
            writes.set(self.keys.instructor_email(email), await self._build_email(batch, email), EMAIL_TTL)

    async def _plan(self, batch: _Batch, changes: Mapping[str, Set[str]]) -> _Plan:
        """Which documents a batch of changes touches (architecture §3).

        - a resource: its node, its parent's node, its events documents, the selections naming it;
          a room also changes every event booking it (its place shows in them);
        - an event: the resources whose timetable shows it, their documents and selections;
        - a timetable: that resource's events documents, its parent's node (``selectable``), the
          selections naming it;
        - a user: their document, their calendar and feed, their access documents;
        - an access: its document (deleted when the key is gone or its owner has no legacy row).
        """
        conn = batch.conn
        plan = _Plan()
        changed_resources = set(changes.get("resource", ()))
        changed_events = {int(k) for k in changes.get("event", ()) if k.isdigit()}
        plan.nodes = set(changed_resources)
        plan.timetables = changed_resources | set(changes.get("timetable", ()))
        await batch.load_resources(plan.timetables)
        rooms: set[str] = set()
        for ext_id in changed_resources:
            row = batch.resource(ext_id)
            if row is None or row.category == resource_builder.CLASSROOM:
                rooms.add(ext_id)
            if row is not None and row.email:
                plan.emails.add(row.email.lower())
        for ext_id in plan.timetables:
            row = batch.resource(ext_id)
            if row is not None and row.parent_ext_id:
                plan.nodes.add(row.parent_ext_id)
        changed_events |= await loaders.fetch_events_booking(conn, rooms)
        plan.timetables |= await loaders.fetch_resources_showing(conn, changed_events)
        plan.selections = await loaders.fetch_selections_containing(conn, plan.timetables)

        plan.usernames = {u for u in changes.get("user", ()) if u}
        plan.users = await loaders.fetch_users(conn, plan.usernames)
        # Rebuilt even when the selection's documents exist: another user may have left a stale
        # document under that hash.
        plan.selections |= {u.resources for u in plan.users.values()}
        accesses = {a.key: a for a in await loaders.fetch_accesses_of(conn, plan.usernames)}
        canonical = {key: _canonical_access_key(key) for key in changes.get("access", ())}
        accesses.update(await loaders.fetch_accesses(conn, {c for c in canonical.values() if c}))
        plan.revoked = {c or key for key, c in canonical.items() if c not in accesses}
        plan.accesses = list(accesses.values())
        owners = {a.username for a in plan.accesses} - plan.users.keys()
        plan.users.update(await loaders.fetch_users(conn, owners))
        return plan

    async def _build_nodes(self, batch: _Batch, ext_ids: Collection[str], writes: _Writes) -> None:
        await batch.load_resources(ext_ids)
        rows = [r for i in ext_ids if (r := batch.resource(i)) is not None]
        await batch.load_counts(c for r in rows for c in child_ids(r))
        for ext_id in ext_ids:
            writes.set(self.keys.resource_node(ext_id), self._node(batch, ext_id))

    def _node(self, batch: _Batch, ext_id: str) -> Built | None:
        row = batch.resource(ext_id)
        if row is None:
            return None
        return resource_builder.build_node(
            row, batch.counts, public_base=self.settings.public_base, max_events=self.settings.max_events
        )

    async def _build_events_documents(self, batch: _Batch, ext_ids: Collection[str], writes: _Writes) -> None:
        await batch.load_resources(ext_ids)
        present = [i for i in ext_ids if batch.resource(i) is not None]
        await batch.load_events_of(present)
        for ext_id in ext_ids:
            full, public = self._events_documents(batch, ext_id) or (None, None)
            writes.set(self.keys.resource_events(ext_id), full)
            writes.set(self.keys.resource_public_events(ext_id), public)

    def _events_documents(self, batch: _Batch, ext_id: str) -> tuple[Built, Built] | None:
        """The authenticated and the anonymous ``/api/events`` documents of a resource."""
        row = batch.resource(ext_id)
        if row is None:
            return None
        events = batch.events_of([ext_id])
        classrooms = batch.events.classrooms
        return (
            resource_builder.build_events_response(row, events, classrooms, batch.json, anonymous=False),
            resource_builder.build_public_events(row, events, classrooms, batch.json),
        )

    async def _build_selections(
        self, batch: _Batch, selections: Collection[tuple[str, ...]], writes: _Writes
    ) -> None:
        members = {ext_id for selection in selections for ext_id in selection}
        await batch.load_resources(members)
        await batch.load_events_of(members)
        plans: dict[str, FeedPlan] = {}
        for selection in selections:
            digest = selection_hash(selection)
            events = batch.events_of(selection)
            writes.set(self.keys.calendar(digest), self._calendar(batch, events))
            plans[digest] = self._ics_plan(batch, selection, events)
        for digest, built in (await self.fragments.assemble(plans)).items():
            writes.set(self.keys.ics(digest), built)

    def _calendar(self, batch: _Batch, events: list[EventRow]) -> Built:
        return calendar_builder.build_calendar(
            events, batch.events.classrooms, batch.json, max_events=self.settings.max_events
        )

    def _ics_plan(self, batch: _Batch, selection: tuple[str, ...], events: list[EventRow]) -> FeedPlan:
        """Header, fragment ids and event count of one selection's feed."""
        names = [row.name for ext_id in selection if (row := batch.resource(ext_id)) is not None]
        header = ics_builder.calendar_header(ics_builder.calendar_name(names), self.settings.timezone)
        if len(events) > self.settings.max_events:
            placeholder = ics_builder.too_many_events_event(
                self.host, self.settings.zone, len(events), self.settings.max_events
            )
            return FeedPlan(header, [placeholder.fragment_id()], len(events), lambda _: placeholder)
        by_fragment = {batch.fragment_id(e, self.host): e for e in events}
        classrooms = batch.events.classrooms

        def content(fragment_id: str) -> ics_builder.IcsEvent:
            return ics_builder.ics_event(by_fragment[fragment_id], classrooms, self.host)

        return FeedPlan(header, list(by_fragment), len(events), content)

    async def _build_email(self, batch: _Batch, email: str) -> Built:
        rows = await loaders.fetch_resources_by_email(batch.conn, email)
        await batch.load_counts(c for r in rows for c in child_ids(r))
        documents = [
            resource_builder.node_document(
                r, batch.counts, public_base=self.settings.public_base, max_events=self.settings.max_events
            )
            for r in rows
        ]
        return resource_builder.build_nodes_list(documents)

    async def _store(self, writes: _Writes) -> ApplyReport:
        """Write changed documents and delete gone ones, one key per command, in pipelines."""
        report = ApplyReport()
        redis = self.services.redis
        for chunk in chunks(writes.put.items(), WRITE_CHUNK):
            pipe = redis.pipeline(transaction=False)
            for key, _ in chunk:
                pipe.hget(key, "v")
            stored_versions = await pipe.execute(raise_on_error=False)
            now = int(time.time())
            pipe = redis.pipeline(transaction=False)
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
        for chunk in chunks(sorted(writes.delete), WRITE_CHUNK):
            pipe = redis.pipeline(transaction=False)
            for key in chunk:
                pipe.delete(key)
            report.documents_deleted += sum(await pipe.execute())
        return report

    async def rebuild_all(self, progress: Callable[[int, int], None] | None = None) -> ApplyReport:
        """Rebuild every read model from Postgres (``schedulesy rebuild``), then drop stale keys.

        Loads the whole mirror once (one consistent snapshot), then builds and writes in chunks.
        Only our key families under our prefix are cleaned; ICS fragments and email answers
        expire on their own.
        """
        phases: dict[str, float] = {}
        clock = time.monotonic()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.monotonic()
            phases[name] = round(now - clock, 1)
            clock = now

        async with self._snapshot() as conn:
            batch = _Batch(conn, self.settings.zone)
            await batch.load_everything()
            users = await loaders.fetch_all_users(conn)
            # An access whose owner has no legacy row gets no document (dropped as stale): 404.
            accesses = [a for a in await loaders.fetch_all_accesses(conn) if a.username in users]
        lap("load")
        resources = sorted(r for r, row in batch.resources.items() if row is not None)
        selections = sorted({u.resources for u in users.values()} | {selection_builder.EMPTY_SELECTION})
        total = 3 * len(resources) + len(users) + len(accesses) + 2 * len(selections)
        done = 0
        report = ApplyReport()
        written: set[str] = set()

        async def flush(writes: _Writes) -> None:
            nonlocal done
            written.update(writes.put)
            report.add(await self._store(writes))
            done += len(writes)
            if progress is not None:
                progress(done, total)

        for chunk in chunks(resources, WRITE_CHUNK):
            writes = _Writes()
            for ext_id in chunk:
                writes.set(self.keys.resource_node(ext_id), self._node(batch, ext_id))
                full, public = self._events_documents(batch, ext_id) or (None, None)
                writes.set(self.keys.resource_events(ext_id), full)
                writes.set(self.keys.resource_public_events(ext_id), public)
            await flush(writes)
        lap("resources")
        for chunk in chunks(selections, REBUILD_SELECTION_CHUNK):
            writes = _Writes()
            await self._build_selections(batch, chunk, writes)
            await flush(writes)
        lap("selections")
        for chunk in chunks(users.values(), WRITE_CHUNK):
            writes = _Writes()
            for user in chunk:
                writes.set(self.keys.user(user.username), selection_builder.build_user(user))
            await flush(writes)
        for chunk in chunks(accesses, WRITE_CHUNK):
            writes = _Writes()
            for access in chunk:
                owner = users[access.username]
                writes.set(self.keys.access(access.key), selection_builder.build_access(access, owner))
            await flush(writes)
        lap("users")
        report.documents_deleted += await self._delete_stale(written)
        lap("cleanup")
        log.info(
            "read_models_rebuilt", seconds=round(sum(phases.values()), 1), phases=phases,
            resources=len(resources), events=len(batch.events.events), users=len(users),
            selections=len(selections), written=report.documents_written,
            unchanged=report.documents_unchanged, deleted=report.documents_deleted,
        )
        return report

    def _rebuilt_families(self) -> tuple[str, ...]:
        """Key prefixes of the documents a full rebuild writes, composed from keys.py's names."""
        k = self.keys
        return (
            k.resource_node(""), k.resource_events(""), k.resource_public_events(""),
            k.calendar(""), k.ics(""), k.user(""), k.access(""),
        )

    async def _delete_stale(self, written: Set[str]) -> int:
        families = self._rebuilt_families()
        stale: list[bytes] = []
        async for raw in self.services.redis.scan_iter(match=self.keys.pattern(), count=1000):
            key = raw.decode()
            if key.startswith(families) and key not in written:
                stale.append(raw)
        deleted = 0
        for chunk in chunks(stale, WRITE_CHUNK):
            pipe = self.services.redis.pipeline(transaction=False)
            for key in chunk:
                pipe.delete(key)
            deleted += sum(await pipe.execute())
        return deleted

    # -----------------------------------------------------------------------------------------
    # Query side: read, or build from Postgres on a miss

    async def resource_node(self, ext_id: str) -> StoredDocument | None:
        """``/api/resource/{ext_id}.json`` (contract §3.3); None for an unknown resource."""
        if not _valid_resource_id(ext_id, self.settings.ade_categories):
            return None

        async def build(batch: _Batch) -> Built | None:
            await self._build_nodes(batch, [ext_id], _Writes())
            return self._node(batch, ext_id)

        return await self._read_through(self.keys.resource_node(ext_id), build)

    async def resource_events(self, ext_id: str, anonymous: bool) -> StoredDocument | None:
        """``/api/events/{ext_id}.json`` (§3.4). Anonymous: a room's events without teachers, or a
        document with ``status`` 403 ("Only classrooms allowed") for other categories.
        ``meta["category"]`` is always set."""
        if not _valid_resource_id(ext_id, self.settings.ade_categories):
            return None
        key = self.keys.resource_public_events(ext_id) if anonymous else self.keys.resource_events(ext_id)

        async def build(batch: _Batch) -> Built | None:
            await batch.load_resources([ext_id])
            row = batch.resource(ext_id)
            if row is None:
                return None
            if anonymous and row.category != resource_builder.CLASSROOM:
                return resource_builder.build_public_refusal(row)
            await batch.load_events_of([ext_id])
            built = self._events_documents(batch, ext_id)
            assert built is not None
            return built[1] if anonymous else built[0]

        return await self._read_through(key, build)

    async def user_selection(self, username: str) -> UserSelection | None:
        """The user's normalised selection and its hash; None when the user has no legacy row."""
        if not _valid_username(username):
            return None

        async def build(batch: _Batch) -> Built | None:
            user = (await loaders.fetch_users(batch.conn, [username])).get(username)
            return user and selection_builder.build_user(user)

        document = await self._read_through(self.keys.user(username), build)
        return None if document is None else selection_builder.decode_user(document.body)

    async def access_grant(self, key: str) -> AccessGrant | None:
        """Whose timetable an access key opens; None when the key is malformed, revoked, or its
        owner has no legacy row (deleted, or uid renamed by another tool)."""
        canonical = _canonical_access_key(key)
        if canonical is None:
            return None

        async def build(batch: _Batch) -> Built | None:
            access = (await loaders.fetch_accesses(batch.conn, [canonical])).get(canonical)
            if access is None:
                return None
            owner = (await loaders.fetch_users(batch.conn, [access.username])).get(access.username)
            return selection_builder.build_access(access, owner)

        document = await self._read_through(self.keys.access(canonical), build)
        return None if document is None else selection_builder.decode_access(document.body)

    async def user_calendar(self, username: str) -> StoredDocument | None:
        """Merged calendar (§3.5): status 200, or 413 with the ``too_much_events`` body."""
        selection = await self.user_selection(username)
        return None if selection is None else await self.selection_calendar(selection.resources)

    async def user_ics(self, username: str) -> StoredDocument | None:
        selection = await self.user_selection(username)
        if selection is None:
            return None
        return _with_username(await self.selection_ics(selection.resources), username)

    async def access_calendar(self, key: str) -> StoredDocument | None:
        grant = await self.access_grant(key)
        return None if grant is None else await self.selection_calendar(grant.resources)

    async def access_ics(self, key: str) -> StoredDocument | None:
        """The feed behind a capability URL; ``meta["username"]`` names the attachment (§3.8)."""
        grant = await self.access_grant(key)
        if grant is None:
            return None
        return _with_username(await self.selection_ics(grant.resources), grant.username)

    async def selection_calendar(self, resources: Iterable[str]) -> StoredDocument:
        """The merged calendar of any selection (shared by every user who made it)."""
        selection = _selection(resources)

        async def build(batch: _Batch) -> Built:
            await batch.load_events_of(selection.resources)
            events = batch.events_of(selection.resources)
            return self._calendar(batch, events)

        document = await self._read_through(self.keys.calendar(selection.selection_hash), build)
        assert document is not None
        return document

    async def selection_ics(self, resources: Iterable[str]) -> StoredDocument:
        selection = _selection(resources)

        async def build(batch: _Batch) -> Built:
            await batch.load_resources(selection.resources)
            await batch.load_events_of(selection.resources)
            plan = self._ics_plan(batch, selection.resources, batch.events_of(selection.resources))
            return (await self.fragments.assemble({selection.selection_hash: plan}))[selection.selection_hash]

        document = await self._read_through(self.keys.ics(selection.selection_hash), build)
        assert document is not None
        return document

    async def instructors_by_email(self, email: str) -> StoredDocument:
        """``/api/instructor.json?email=`` (§3.10): a JSON array of node documents, maybe empty.
        The match ignores case (emails are case-insensitive in practice)."""
        email = email.strip()
        if not email or len(email) > 254:
            return resource_builder.build_nodes_list([]).stored(int(time.time()))

        async def build(batch: _Batch) -> Built:
            return await self._build_email(batch, email)

        document = await self._read_through(self.keys.instructor_email(email), build, ttl=EMAIL_TTL)
        assert document is not None
        return document

    async def _read_through(
        self, key: str, build: Callable[[_Batch], Awaitable[Built | None]], *, ttl: int | None = None
    ) -> StoredDocument | None:
        document = await self._get(key)
        if document is not None:
            return document
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._build_and_store(key, build, ttl))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._forget(key, t))
        # shield: a caller that goes away does not cancel the build the others wait for
        return await asyncio.shield(task)

    def _forget(self, key: str, task: asyncio.Task[StoredDocument | None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every caller left

    async def _get(self, key: str) -> StoredDocument | None:
        if not self.redis_usable():
            return None
        try:
            data = await self.services.redis.hget(key, "d")
        except REDIS_DOWN:
            self.redis_failed()
            return None
        except ResponseError:  # a key of another shape: rebuilt (and replaced by the projector)
            return None
        if data is None:
            return None
        try:
            return from_wire(data)
        except msgspec.DecodeError:
            return None

    async def _build_and_store(
        self, key: str, build: Callable[[_Batch], Awaitable[Built | None]], ttl: int | None
    ) -> StoredDocument | None:
        redis = self.services.redis
        lock = self.keys.build_lock(key)
        locked = False
        if self.redis_usable():
            try:
                locked = bool(await redis.set(lock, "1", nx=True, px=BUILD_LOCK_MS))
                if not locked:  # another process builds it: wait a little for its result
                    for _ in range(BUILD_WAIT_STEPS):
                        await asyncio.sleep(BUILD_WAIT_SECONDS)
                        if (document := await self._get(key)) is not None:
                            return document
                        if not await redis.exists(lock):
                            break  # it finished without storing anything (e.g. no such user)
            except REDIS_DOWN:
                self.redis_failed()
        try:
            async with self._snapshot() as conn:
                built = await build(_Batch(conn, self.settings.zone))
            if built is None:
                return None
            now = int(time.time())
            if len(built.body) > THREAD_GZIP_BYTES:  # zlib releases the GIL: other requests go on
                document = await asyncio.to_thread(built.stored, now)
            else:
                document = built.stored(now)
            await self._store_if_absent(key, document, built.version, ttl)
            return document
        finally:
            await self._release(lock, locked)

    async def _store_if_absent(self, key: str, document: StoredDocument, version: str, ttl: int | None) -> bool:
        """Store a read-through build unless the key exists: what the projector wrote meanwhile
        is newer than this build's snapshot."""
        if not self.redis_usable():
            return False
        if ttl is None and key.startswith(self._identity_families):
            ttl = IDENTITY_READ_THROUGH_TTL
        try:
            stored = await self._put_if_absent(keys=[key], args=[to_wire(document), version, ttl or 0])
        except REDIS_DOWN:
            self.redis_failed()
            return False
        except ResponseError:
            return False  # a key of another shape: the projector replaces it
        return bool(stored)

    async def _release(self, lock: str, locked: bool) -> None:
        if locked and self.redis_usable():
            try:
                await self.services.redis.delete(lock)
            except REDIS_DOWN:
                self.redis_failed()


def _selection(resources: Iterable[str]) -> UserSelection:
    return selection_builder.user_selection(UserRow("", 0, normalise_selection(resources)))


def _with_username(document: StoredDocument, username: str) -> StoredDocument:
    """Feeds are shared by selection; the attachment name is the reader's."""
    return msgspec.structs.replace(document, meta={**document.meta, "username": username})
