"""One read model built from Postgres now, and stored unless a newer build got there first.

What a read-through miss calls (``queries/reads.py``): the document is built by the projector's
own code (:class:`Documents`) from one snapshot, so it is the document the projector would write.
It is stored unless Redis meanwhile got a build from a newer snapshot; nothing to build (an unknown
id) is remembered briefly as a tombstone. Concurrent misses in several processes make one build:
a short Redis lock, the others wait a little for its result. Redis down (:class:`RedisSwitch`):
built from Postgres anyway, slower, never an error.

Callers pass ids they have checked (the query side's input checks); keys are derived here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import asyncpg

from projections import loaders
from projections.builders import resources as resource_builder
from projections.builders import selections as selection_builder
from projections.builders.document import Built, Stamp, StoredDocument
from projections.readmodels.batch import Batch, access_known, snapshot
from projections.readmodels.documents import Documents
from projections.readmodels.store import EMAIL_TTL, REDIS_DOWN, DocumentStore, RedisSwitch
from schedulesy.categories import open_to_anonymous
from schedulesy.keys import Keys
from schedulesy.selection import Selection

BUILD_WAIT_STEPS = 40
BUILD_WAIT_SECONDS = 0.05
THREAD_GZIP_BYTES = 256 * 1024

Build: TypeAlias = Callable[[Batch], Awaitable[Built | None]]


class OnDemand:
    """Builds and stores single documents; each method answers what it stored (or would have)."""

    def __init__(
        self, pool: asyncpg.Pool, zone: dt.tzinfo, keys: Keys, documents: Documents, store: DocumentStore,
        switch: RedisSwitch,
    ) -> None:
        self.pool = pool
        self.zone = zone
        self.keys = keys
        self.documents = documents
        self.store = store
        self.switch = switch

    async def resource_node(self, ext_id: str) -> StoredDocument | None:
        """A resource's node document; None for an unknown resource."""

        async def build(batch: Batch) -> Built | None:
            await self.documents.load_nodes(batch, [ext_id])
            return self.documents.node(batch, ext_id)

        return await self._build_and_store(self.keys.resource_node(ext_id), build)

    async def resource_events(self, ext_id: str, anonymous: bool) -> StoredDocument | None:
        """A resource's events document; anonymous and not a room: the 403 refusal document."""
        key = self.keys.resource_public_events(ext_id) if anonymous else self.keys.resource_events(ext_id)

        async def build(batch: Batch) -> Built | None:
            await batch.load_resources([ext_id])
            row = batch.resource(ext_id)
            if row is None:
                return None
            if anonymous and not open_to_anonymous(row.category):
                return resource_builder.build_public_refusal(row)
            await batch.load_events_of([ext_id])
            built = self.documents.events_documents(batch, ext_id)
            assert built is not None
            return built[1] if anonymous else built[0]

        return await self._build_and_store(key, build)

    async def user(self, username: str) -> StoredDocument | None:
        """The user's selection document; None when the user has no legacy row."""

        async def build(batch: Batch) -> Built | None:
            user = (await loaders.fetch_users(batch.conn, [username])).get(username)
            return None if user is None else selection_builder.build_user(user)

        return await self._build_and_store(self.keys.user(username), build, shared=False)

    async def access(self, key: str) -> StoredDocument | None:
        """The document of a canonical access key; None when revoked or its owner has no legacy row."""

        stamp, known = await access_known(self.pool, key)
        if not known:
            await self._remember_missing(self.keys.access(key), stamp)
            return None

        async def build(batch: Batch) -> Built | None:
            access = (await loaders.fetch_accesses(batch.conn, [key])).get(key)
            if access is None:
                return None
            owner = (await loaders.fetch_users(batch.conn, [access.username])).get(access.username)
            return selection_builder.build_access(access, owner)

        return await self._build_and_store(self.keys.access(key), build, shared=False)

    async def selection_calendar(self, selection: Selection) -> StoredDocument:
        """The merged calendar of a selection (shared by every user who made it)."""
        selection = selection.canonical()

        async def build(batch: Batch) -> Built:
            await batch.load_events_of(selection.ids)
            return self.documents.calendar(batch, batch.events_of(selection.ids))

        document = await self._build_and_store(self.keys.calendar(selection.hash), build)
        assert document is not None
        return document

    async def selection_ics(self, selection: Selection) -> StoredDocument:
        """The feed of a selection (shared by every user who made it)."""
        selection = selection.canonical()
        digest = selection.hash

        async def build(batch: Batch) -> Built:
            await batch.load_resources(selection.ids)
            await batch.load_events_of(selection.ids)
            plan = self.documents.ics_plan(batch, selection, batch.events_of(selection.ids))
            return (await self.documents.fragments.assemble({digest: plan}))[digest]

        document = await self._build_and_store(self.keys.ics(digest), build)
        assert document is not None
        return document

    async def selection_changes(self, selection: Selection, lang: str, *, atom: bool) -> StoredDocument:
        """The change feed of a selection (JSON or Atom, in ``lang``: ``fr`` or ``en``)."""
        selection = selection.canonical()
        digest = selection.hash
        key = self.keys.changes_atom(digest, lang) if atom else self.keys.changes(digest, lang)

        async def build(batch: Batch) -> Built:
            changes = await loaders.fetch_changes(batch.conn, selection.ids,
                                                  days=self.documents.settings.change_history_days)
            return self.documents.feeds(selection, changes)[lang][1 if atom else 0]

        document = await self._build_and_store(key, build)
        assert document is not None
        return document

    async def instructors_by_email(self, email: str) -> StoredDocument:
        """The instructors with this email (ignoring case): a JSON array of node documents."""

        async def build(batch: Batch) -> Built:
            return await self.documents.email(batch, email)

        document = await self._build_and_store(self.keys.instructor_email(email), build, ttl=EMAIL_TTL)
        assert document is not None
        return document

    def no_instructors(self) -> StoredDocument:
        """The answer of an instructor search that cannot match anything (never stored)."""
        return resource_builder.build_nodes_list([]).stored(self.store.now())

    async def _build_and_store(
        self, key: str, build: Build, ttl: int | None = None, *, shared: bool = True
    ) -> StoredDocument | None:
        """``shared``: concurrent misses in several processes wait for one build (a Redis lock). Not
        for user and access documents: one row each, cheaper to build than the lock's round trips, so
        that a guessed access key costs about what a revoked one does."""
        locked = False
        if shared and self.switch.usable():
            try:
                locked = await self.store.lock_build(key)
                if not locked:  # another process builds it: wait a little for its result
                    for _ in range(BUILD_WAIT_STEPS):
                        await asyncio.sleep(BUILD_WAIT_SECONDS)
                        found = await self.store.read(key)
                        if isinstance(found, StoredDocument):
                            return found
                        if found is not None:
                            return None  # it found nothing either
                        if not await self.store.build_locked(key):
                            break  # it finished without storing anything (e.g. no such user)
            except REDIS_DOWN:
                self.switch.failed()
        try:
            async with snapshot(self.pool) as taken:
                built = await build(Batch(taken.conn, self.zone))
            if built is None:
                await self._remember_missing(key, taken.stamp)
                return None
            now = self.store.now()
            if len(built.body) > THREAD_GZIP_BYTES:  # zlib releases the GIL: other requests go on
                document = await asyncio.to_thread(built.stored, now, taken.stamp)
            else:
                document = built.stored(now, taken.stamp)
            await self._store(key, document, built.version, taken.stamp, ttl)
            return document
        finally:
            if locked:
                await self._unlock(key)

    async def _store(self, key: str, document: StoredDocument, version: str, stamp: Stamp, ttl: int | None) -> None:
        if not self.switch.usable():
            return
        try:
            await self.store.put(key, document, version, stamp, ttl)
        except REDIS_DOWN:
            self.switch.failed()

    async def _remember_missing(self, key: str, stamp: Stamp) -> None:
        if not self.switch.usable():
            return
        try:
            await self.store.mark_missing(key, stamp)
        except REDIS_DOWN:
            self.switch.failed()

    async def _unlock(self, key: str) -> None:
        if self.switch.usable():
            try:
                await self.store.unlock_build(key)
            except REDIS_DOWN:
                self.switch.failed()
