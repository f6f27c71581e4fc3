"""Every read model a handler serves, in one place: process memory, else Redis, else a build.

- memory: copies dropped the moment Redis says their key changed (:mod:`queries.localcache`),
  kept under the Redis key they came from;
- Redis: the documents the projector keeps there;
- a miss: projection code builds the document from Postgres with the projector's own builders and
  stores it unless present (``ReadModels.on_demand``); concurrent misses in this process share
  one build (single-flight). Redis down: built from Postgres anyway — slower, never an error —
  and Redis is skipped for a few seconds (the process's ``RedisSwitch``).

Ids are checked here before anything is looked up: a malformed one is "not found" without a
Redis or Postgres round trip, and never takes memory.

A user (or an access key) names a selection, whose calendar and feed are documents shared by
everyone who made that selection: a calendar is read user → selection → calendar, one key at a
time. The user and access documents are always read from Redis, never from a copy: they are what
a command changes, and its author's next read — through any process — must see the change
(docs/architecture.md §3.8). A selection's calendar or feed is then read no older than that
document: one built from an earlier snapshot (before the user's change) is rebuilt, so a calendar
reflects at least everything its reader had written when they read it, in any process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import NamedTuple, TypeAlias

from projections.builders.document import NEVER, Stamp, StoredDocument
from projections.builders.selections import AccessGrant, UserSelection, decode_access, decode_user
from projections.readmodels import ReadModels
from projections.readmodels.store import GONE, REDIS_DOWN, Gone
from queries.localcache import LocalCopies
from schedulesy.keys import Keys, canonical_access_key
from schedulesy.usernames import may_own_customization

MAX_RESOURCE_ID = 25
MAX_EMAIL = 254
SMALL_VALUE_BYTES = 512
"""What a copy costs besides its bodies."""

NamedSelection: TypeAlias = UserSelection | AccessGrant
"""What a user or an access key names: a selection and its hash."""
Load: TypeAlias = Callable[[], Awaitable[StoredDocument | None]]


class Pointer(NamedTuple):
    """A user's or an access key's selection, and the snapshot its document was built from: the
    selection's calendar and feed are read no older than that."""

    selection: NamedSelection
    as_of: Stamp


def tracked_prefixes(keys: Keys) -> tuple[str, ...]:
    """The key families :class:`Reads` copies. Not the user and access documents: a command
    rewrites them right before it answers, and a copy in another process could outlive that
    answer by the time the invalidation takes to arrive (read-your-writes, revocation); not the
    ICS fragments, by far the most written keys, whose invalidations nobody here would use."""
    families = keys.families
    return (
        families.resource_node, families.resource_events, families.resource_public_events,
        families.instructor_email, families.calendar, families.ics, families.changes, families.changes_atom,
    )


class Reads:
    """The getters the handlers use; each step cached under the Redis key it reads."""

    def __init__(self, models: ReadModels, copies: LocalCopies) -> None:
        self.models = models
        self.keys = models.keys
        self.categories: Collection[str] = models.settings.ade_categories
        self.copies = copies
        self._inflight: dict[str, asyncio.Task[StoredDocument | None]] = {}

    async def resource_node(self, ext_id: str) -> StoredDocument | None:
        """``/api/resource/{ext_id}.json`` (docs/compatibility.md §3.3); None for an unknown resource."""
        if not _valid_resource_id(ext_id, self.categories):
            return None
        return await self._document(self.keys.resource_node(ext_id),
                                    lambda: self.models.on_demand.resource_node(ext_id))

    async def resource_events(self, ext_id: str, anonymous: bool) -> StoredDocument | None:
        """``/api/events/{ext_id}.json`` (docs/compatibility.md §3.4). Anonymous: a room's events without teachers, or a
        document with ``status`` 403 ("Only classrooms allowed") for other categories.
        ``meta["category"]`` is always set."""
        if not _valid_resource_id(ext_id, self.categories):
            return None
        key = self.keys.resource_public_events(ext_id) if anonymous else self.keys.resource_events(ext_id)
        return await self._document(key, lambda: self.models.on_demand.resource_events(ext_id, anonymous))

    async def instructors_by_email(self, email: str) -> StoredDocument:
        """``/api/instructor.json?email=`` (docs/compatibility.md §3.10): a JSON array of node documents, maybe empty.
        The match ignores case (emails are case-insensitive in practice)."""
        email = email.strip()
        if not email or len(email) > MAX_EMAIL:
            return self.models.on_demand.no_instructors()
        document = await self._document(self.keys.instructor_email(email),
                                        lambda: self.models.on_demand.instructors_by_email(email))
        assert document is not None
        return document

    async def user_selection(self, username: str) -> UserSelection | None:
        """The user's normalised selection and its hash; None when the user has no legacy row."""
        pointer = await self._user(username)
        return None if pointer is None else pointer.selection  # type: ignore[return-value]

    async def access_grant(self, key: str) -> AccessGrant | None:
        """Whose timetable an access key opens; None when the key is malformed, revoked, or its
        owner has no legacy row (deleted, or uid renamed by another tool)."""
        pointer = await self._grant(key)
        return None if pointer is None else pointer.selection  # type: ignore[return-value]

    async def selection_calendar(self, selection: NamedSelection, *, not_before: Stamp = NEVER) -> StoredDocument:
        """The merged calendar of a selection (docs/compatibility.md §3.5): status 200, or 413 with
        the ``too_much_events`` body; built from a snapshot no older than ``not_before``."""
        document = await self._document(self.keys.calendar(selection.selection_hash),
                                        lambda: self.models.on_demand.selection_calendar(selection.selection),
                                        not_before)
        assert document is not None
        return document

    async def selection_ics(self, selection: NamedSelection, *, not_before: Stamp = NEVER) -> StoredDocument:
        """The feed of a selection; the handler names the attachment after its reader
        (docs/compatibility.md §3.8)."""
        document = await self._document(self.keys.ics(selection.selection_hash),
                                        lambda: self.models.on_demand.selection_ics(selection.selection),
                                        not_before)
        assert document is not None
        return document

    async def selection_changes(self, selection: NamedSelection, lang: str, *, atom: bool) -> StoredDocument:
        """The change feed of a selection: what changed in its events (JSON or Atom, ``fr``/``en``).
        Not read "no older than" the user's document: a feed depends on the selection only, and a
        change of selection is not a change of the timetable."""
        digest = selection.selection_hash
        key = self.keys.changes_atom(digest, lang) if atom else self.keys.changes(digest, lang)
        document = await self._document(
            key, lambda: self.models.on_demand.selection_changes(selection.selection, lang, atom=atom))
        assert document is not None
        return document

    async def user_changes(self, username: str, lang: str) -> StoredDocument | None:
        """``/api/changes/{username}.json``; None when the user has no legacy row."""
        pointer = await self._user(username)
        return None if pointer is None else await self.selection_changes(pointer.selection, lang, atom=False)

    async def access_changes(self, key: str, lang: str, *, atom: bool) -> StoredDocument | None:
        """The change feed behind an access key; None for a malformed, unknown or revoked key."""
        pointer = await self._grant(key)
        return None if pointer is None else await self.selection_changes(pointer.selection, lang, atom=atom)

    async def user_calendar(self, username: str) -> StoredDocument | None:
        pointer = await self._user(username)
        if pointer is None:
            return None
        return await self.selection_calendar(pointer.selection, not_before=pointer.as_of)

    async def access_calendar(self, key: str) -> StoredDocument | None:
        pointer = await self._grant(key)
        if pointer is None:
            return None
        return await self.selection_calendar(pointer.selection, not_before=pointer.as_of)

    async def access_timetable(self, key: str) -> tuple[AccessGrant, StoredDocument] | None:
        """The calendar behind a capability key, with the grant (whose owner names the page)."""
        pointer = await self._grant(key)
        if pointer is None:
            return None
        calendar = await self.selection_calendar(pointer.selection, not_before=pointer.as_of)
        return pointer.selection, calendar  # type: ignore[return-value]

    async def access_feed(self, key: str) -> tuple[AccessGrant, StoredDocument] | None:
        """The feed behind a capability key, with the grant (whose owner names the attachment)."""
        pointer = await self._grant(key)
        if pointer is None:
            return None
        feed = await self.selection_ics(pointer.selection, not_before=pointer.as_of)
        return pointer.selection, feed  # type: ignore[return-value]

    async def _user(self, username: str) -> Pointer | None:
        if not may_own_customization(username):
            return None
        document = await self._read_through(self.keys.user(username), lambda: self.models.on_demand.user(username))
        return None if document is None else Pointer(decode_user(document.body), document.as_of)

    async def _grant(self, key: str) -> Pointer | None:
        canonical = canonical_access_key(key)
        if canonical is None:
            return None
        redis_key = self.keys.access(canonical)
        document = await self._read_through(redis_key, lambda: self.models.on_demand.access(canonical))
        return None if document is None else Pointer(decode_access(document.body), document.as_of)

    async def _document(self, key: str, build: Load, not_before: Stamp = NEVER) -> StoredDocument | None:
        def recent(document: StoredDocument | None) -> bool:
            return document is None or not not_before.newer_than(document.as_of)

        return await self.copies.get(key, lambda: self._read_through(key, build, not_before), _document_size,
                                     accept=recent)

    async def _read_through(self, key: str, build: Load, not_before: Stamp = NEVER) -> StoredDocument | None:
        """Redis, else a build; a document older than ``not_before`` (built before the user's own
        change) counts as missing."""
        found = await self._read(key)
        if isinstance(found, StoredDocument) and not not_before.newer_than(found.as_of):
            return found
        if found is GONE:
            return None
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(build())
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._forget(key, t))
        # shield: a caller that goes away does not cancel the build the others wait for
        document = await asyncio.shield(task)
        if document is not None and not_before.newer_than(document.as_of):
            document = await build()  # the build under way had started from an older snapshot
        return document

    def _forget(self, key: str, task: asyncio.Task[StoredDocument | None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every caller left

    async def _read(self, key: str) -> StoredDocument | Gone | None:
        switch = self.models.switch
        if not switch.usable():
            return None
        try:
            return await self.models.store.read(key)
        except REDIS_DOWN:
            switch.failed()
            return None


def _valid_resource_id(ext_id: str, categories: Collection[str]) -> bool:
    return (ext_id.isdigit() and len(ext_id) <= MAX_RESOURCE_ID) or ext_id in categories


def _document_size(document: StoredDocument | None) -> int:
    if document is None:
        return SMALL_VALUE_BYTES
    return len(document.body) + len(document.gzip_body or b"") + SMALL_VALUE_BYTES
