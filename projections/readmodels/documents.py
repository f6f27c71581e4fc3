"""Every read model built from a :class:`Batch`'s rows: the pure builders, given what they need.

Used the same way by a projector batch (:meth:`Documents.build_changes`), a full rebuild and a
single read-through build, so all three produce byte-identical documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from urllib.parse import urlsplit

from projections import loaders
from projections.builders import calendar as calendar_builder
from projections.builders import changes as changes_builder
from projections.builders import ics as ics_builder
from projections.builders import resources as resource_builder
from projections.builders import selections as selection_builder
from projections.builders.document import Built
from projections.readmodels.batch import Batch
from projections.readmodels.fragments import FeedPlan, FragmentStore
from projections.readmodels.plan import Plan
from projections.readmodels.store import EMAIL_TTL, Writes
from projections.rows import ChangeRow, EventRow, child_ids
from schedulesy.keys import Keys
from schedulesy.selection import Selection
from schedulesy.settings import Settings


async def let_others_run() -> None:
    """Hand the event loop over between two documents. A batch of many documents is CPU work in
    one task: without a pause, the worker's projector heartbeat (whose timeout then drops the
    session and the batch in flight) and its AMQP consumer wait for the whole batch."""
    await asyncio.sleep(0)


class Documents:
    """The read models of a batch, written to :class:`Writes` under their keys."""

    def __init__(self, settings: Settings, keys: Keys, fragments: FragmentStore) -> None:
        self.settings = settings
        self.keys = keys
        self.fragments = fragments
        self.host = urlsplit(settings.public_url).hostname or "schedulesy"

    async def build_changes(self, batch: Batch, plan: Plan, writes: Writes) -> None:
        """Build everything a batch of changes touches, from one snapshot."""
        for username in plan.usernames:
            user = plan.users.get(username)
            writes.set(self.keys.user(username), None if user is None else selection_builder.build_user(user))
        for key in plan.revoked:
            writes.set(self.keys.access(key), None)
        for access in plan.accesses:
            owner = plan.users.get(access.username)
            writes.set(self.keys.access(access.key), selection_builder.build_access(access, owner))
        await self.build_nodes(batch, plan.nodes, writes)
        await self.build_events_documents(batch, plan.timetables, writes)
        await self.build_selections(batch, plan.selections, writes)
        await self.build_feeds(batch, plan.feeds, writes)
        for email in plan.emails:
            writes.set(self.keys.instructor_email(email), await self.email(batch, email), EMAIL_TTL)

    async def build_nodes(self, batch: Batch, ext_ids: Collection[str], writes: Writes) -> None:
        await self.load_nodes(batch, ext_ids)
        for ext_id in ext_ids:
            await let_others_run()
            writes.set(self.keys.resource_node(ext_id), self.node(batch, ext_id))

    async def load_nodes(self, batch: Batch, ext_ids: Collection[str]) -> None:
        """The rows :meth:`node` needs: the resources and their children's event counts."""
        await batch.load_resources(ext_ids)
        rows = [r for i in ext_ids if (r := batch.resource(i)) is not None]
        await batch.load_counts(c for r in rows for c in child_ids(r))

    def node(self, batch: Batch, ext_id: str) -> Built | None:
        row = batch.resource(ext_id)
        if row is None:
            return None
        return resource_builder.build_node(
            row, batch.counts, public_base=self.settings.public_base, max_events=self.settings.max_events
        )

    async def build_events_documents(self, batch: Batch, ext_ids: Collection[str], writes: Writes) -> None:
        await batch.load_resources(ext_ids)
        present = [i for i in ext_ids if batch.resource(i) is not None]
        await batch.load_events_of(present)
        for ext_id in ext_ids:
            await let_others_run()
            full, public = self.events_documents(batch, ext_id) or (None, None)
            writes.set(self.keys.resource_events(ext_id), full)
            writes.set(self.keys.resource_public_events(ext_id), public)

    def events_documents(self, batch: Batch, ext_id: str) -> tuple[Built, Built] | None:
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

    async def build_selections(
        self, batch: Batch, selections: Collection[Selection], writes: Writes
    ) -> None:
        """The merged calendar and the feed of each selection."""
        members = {ext_id for selection in selections for ext_id in selection.ids}
        await batch.load_resources(members)
        await batch.load_events_of(members)
        plans: dict[str, FeedPlan] = {}
        for selection in selections:
            await let_others_run()
            digest = selection.hash
            events = batch.events_of(selection.ids)
            writes.set(self.keys.calendar(digest), self.calendar(batch, events))
            plans[digest] = self.ics_plan(batch, selection, events)
        for digest, built in (await self.fragments.assemble(plans)).items():
            writes.set(self.keys.ics(digest), built)

    async def build_feeds(self, batch: Batch, selections: Collection[Selection], writes: Writes) -> None:
        """The change feeds (JSON and Atom, each language) of each selection."""
        if not selections:
            return
        members = {ext_id for selection in selections for ext_id in selection.ids}
        changes = await loaders.fetch_changes(
            batch.conn, None if batch.complete else members, days=self.settings.change_history_days)
        for selection in selections:
            for lang, built in self.feeds(selection, changes).items():
                writes.set(self.keys.changes(selection.hash, lang), built[0])
                writes.set(self.keys.changes_atom(selection.hash, lang), built[1])

    def feeds(self, selection: Selection, changes: list[ChangeRow]) -> dict[str, tuple[Built, Built]]:
        """``{lang: (json, atom)}`` of one selection, from changes of (at least) its resources."""
        ids = set(selection.ids)
        mine = [c for c in changes if not ids.isdisjoint(c.resources)]
        zone = self.settings.zone
        return {
            lang: (changes_builder.build_changes_json(mine, zone, lang),
                   changes_builder.build_changes_atom(mine, zone, lang, selection.hash))
            for lang in changes_builder.LANGS
        }

    def calendar(self, batch: Batch, events: list[EventRow]) -> Built:
        return calendar_builder.build_calendar(
            events, batch.events.classrooms, batch.json, max_events=self.settings.max_events
        )

    def ics_plan(self, batch: Batch, selection: Selection, events: list[EventRow]) -> FeedPlan:
        """Header, fragment ids and event count of one selection's feed."""
        names = [row.name for ext_id in selection.ids if (row := batch.resource(ext_id)) is not None]
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

    async def email(self, batch: Batch, email: str) -> Built:
        """The node documents of the instructors with this email (case-insensitive), maybe none."""
        rows = await loaders.fetch_resources_by_email(batch.conn, email)
        await batch.load_counts(c for r in rows for c in child_ids(r))
        documents = [
            resource_builder.node_document(
                r, batch.counts, public_base=self.settings.public_base, max_events=self.settings.max_events
            )
            for r in rows
        ]
        return resource_builder.build_nodes_list(documents)
