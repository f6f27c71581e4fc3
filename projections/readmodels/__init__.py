"""The read models: which Redis documents a change touches, and how each is (re)built and stored.

:class:`ReadModels` is the facade, one per process, built at start-up:

- :meth:`ReadModels.apply` rebuilds what a coalesced batch of changes (``{topic: {key, ...}}``)
  touches — called by the projector worker, and usable by anyone right after a commit: it keeps
  no state between calls; :meth:`ReadModels.rebuild_all` rebuilds everything;
- :attr:`ReadModels.on_demand` builds and stores one document for a read-through miss (the query
  side's ``queries/reads.py``, which owns input checks, single-flight and in-memory copies).

The package, by job:

- :mod:`.plan` — which documents a batch of changes touches;
- :mod:`.batch` — the rows of one build, each loaded once, from one snapshot;
- :mod:`.documents` — every read model built from a batch (the pure builders, wired);
- :mod:`.fragments` — ICS feeds assembled from cached VEVENT fragments;
- :mod:`.store` — the Redis storage: versioned writes, put-if-absent, stale keys, the Redis-down switch;
- :mod:`.ondemand` — one document built and stored now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping, Set

import structlog

from projections import loaders
from projections.builders import selections as selection_builder
from projections.readmodels.batch import Batch, snapshot
from projections.readmodels.documents import Documents, let_others_run
from projections.readmodels.fragments import FragmentStore
from projections.readmodels.ondemand import OnDemand
from projections.readmodels.plan import plan_changes
from projections.readmodels.store import (
    REDIS_DOWN, WRITE_CHUNK, ApplyReport, DocumentStore, RedisSwitch, Writes, chunks,
)
from schedulesy.changes import Topic
from schedulesy.selection import Selection
from schedulesy.services import Services

log = structlog.get_logger(__name__)

REBUILD_SELECTION_CHUNK = 200
INLINE_FAILOVER_SECONDS = 15.0
"""On a cluster, how long a command keeps retrying its inline writes while a master fails over (a
few seconds past ``cluster-node-timeout``): its author's next read then sees the change, instead of
the promoted replica's older document until the projector catches up."""
INLINE_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)


class ReadModels:
    """Builds read models from Postgres into Redis. ``clock`` (seconds since the epoch) dates the
    documents written (their Last-Modified)."""

    def __init__(
        self, services: Services, *, fragment_cache_size: int = 50_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.keys = services.keys
        self.switch = RedisSwitch()
        """One per process: the fragment cache, the read-through and the reads all degrade together."""
        self.store = DocumentStore(services.redis, services.keys, clock)
        self.fragments = FragmentStore(services.redis, services.keys, self.switch, fragment_cache_size)
        self.documents = Documents(services.settings, services.keys, self.fragments)
        self.on_demand = OnDemand(
            services.pool, services.settings.zone, services.keys, self.documents, self.store, self.switch
        )

    async def apply(self, changes: Mapping[str, Set[str]]) -> ApplyReport:
        """Rebuild every read model affected by ``changes`` (topic → keys); idempotent."""
        if changes.get(Topic.REBUILD):
            return await self.rebuild_all()
        recorded = changes.get(Topic.HISTORY)
        if recorded and len(changes) > 1:
            # Change feeds first: a few small documents that users wait for, which must not wait for
            # the calendars the same sync transaction touched (docs/changes.md §2).
            report = await self._apply({Topic.HISTORY: recorded}, selections=True)
            report.add(await self._apply({t: k for t, k in changes.items() if t != Topic.HISTORY}, selections=True))
            return report
        return await self._apply(changes, selections=True)

    async def apply_inline(self, changes: Mapping[str, Set[str]]) -> ApplyReport:
        """What a command runs right after its commit: the user and access documents its changes
        touch, now. Not their calendars and feeds: those are read no older than these documents
        (``queries/reads.py`` rebuilds an older one on read), and the worker rebuilds them too.

        On a cluster, a master failing over is waited for (:data:`INLINE_FAILOVER_SECONDS`)."""
        budget = INLINE_FAILOVER_SECONDS if self.settings.redis_mode == "cluster" else 0.0
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            try:
                return await self._apply(changes, selections=False)
            except REDIS_DOWN:
                delay = INLINE_RETRY_DELAYS[min(attempt, len(INLINE_RETRY_DELAYS) - 1)]
                if time.monotonic() + delay > deadline:
                    raise
                attempt += 1
                await asyncio.sleep(delay)

    async def _apply(self, changes: Mapping[str, Set[str]], *, selections: bool) -> ApplyReport:
        async with snapshot(self.services.pool) as taken:
            batch = Batch(taken.conn, self.settings.zone)
            writes = Writes(taken.stamp)
            plan = await plan_changes(batch, changes)
            if not selections:
                plan.selections.clear()
                plan.feeds.clear()
            await self.documents.build_changes(batch, plan, writes)
        return await self.store.write(writes)

    async def revoke(self, access_keys: Collection[str]) -> None:
        """Make these access keys dead for good before the transaction deleting them commits
        (:meth:`DocumentStore.revoke`); raises when Redis cannot be told."""
        await self.store.revoke(access_keys)

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

        async with snapshot(self.services.pool) as taken:
            conn, stamp = taken
            batch = Batch(conn, self.settings.zone)
            await batch.load_everything()
            users = await loaders.fetch_all_users(conn)
            # An access whose owner has no legacy row gets no document (dropped as stale): 404.
            accesses = [a for a in await loaders.fetch_all_accesses(conn) if a.username in users]
            changes = await loaders.fetch_changes(conn, None, days=self.settings.change_history_days)
        lap("load")
        resources = sorted(r for r, row in batch.resources.items() if row is not None)
        selections = sorted({u.selection for u in users.values()} | {Selection()})
        total = 3 * len(resources) + len(users) + len(accesses) + 6 * len(selections)
        done = 0
        report = ApplyReport()
        written: set[str] = set()

        async def flush(writes: Writes) -> None:
            nonlocal done
            written.update(writes.put)
            report.add(await self.store.write(writes))
            done += len(writes)
            if progress is not None:
                progress(done, total)

        keys, documents = self.keys, self.documents
        for ext_ids in chunks(resources, WRITE_CHUNK):
            writes = Writes(stamp)
            for ext_id in ext_ids:
                await let_others_run()
                writes.set(keys.resource_node(ext_id), documents.node(batch, ext_id))
                full, public = documents.events_documents(batch, ext_id) or (None, None)
                writes.set(keys.resource_events(ext_id), full)
                writes.set(keys.resource_public_events(ext_id), public)
            await flush(writes)
        lap("resources")
        for some_selections in chunks(selections, REBUILD_SELECTION_CHUNK):
            writes = Writes(stamp)
            await documents.build_selections(batch, some_selections, writes)
            for selection in some_selections:
                for lang, (json_feed, atom_feed) in documents.feeds(selection, changes).items():
                    writes.set(keys.changes(selection.hash, lang), json_feed)
                    writes.set(keys.changes_atom(selection.hash, lang), atom_feed)
            await flush(writes)
        lap("selections")
        for some_users in chunks(users.values(), WRITE_CHUNK):
            writes = Writes(stamp)
            for user in some_users:
                writes.set(keys.user(user.username), selection_builder.build_user(user))
            await flush(writes)
        for some_accesses in chunks(accesses, WRITE_CHUNK):
            writes = Writes(stamp)
            for access in some_accesses:
                owner = users[access.username]
                writes.set(keys.access(access.key), selection_builder.build_access(access, owner))
            await flush(writes)
        lap("users")
        report.documents_deleted += await self.store.delete_stale(written)
        lap("cleanup")
        log.info(
            "read_models_rebuilt", seconds=round(sum(phases.values()), 1), phases=phases,
            resources=len(resources), events=len(batch.events.events), users=len(users),
            selections=len(selections), written=report.documents_written,
            unchanged=report.documents_unchanged, deleted=report.documents_deleted,
        )
        return report
