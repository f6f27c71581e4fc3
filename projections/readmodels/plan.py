"""Which documents a batch of changes (``{topic: {key, ...}}``) touches."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Set

from projections import loaders
from projections.readmodels.batch import Batch
from projections.rows import AccessRow, UserRow
from schedulesy.categories import CLASSROOM
from schedulesy.changes import Topic
from schedulesy.keys import canonical_access_key
from schedulesy.selection import Selection


@dataclasses.dataclass
class Plan:
    """The documents one batch of changes touches (see :func:`plan_changes`)."""

    nodes: set[str] = dataclasses.field(default_factory=set)
    timetables: set[str] = dataclasses.field(default_factory=set)
    """Resources whose events documents are rebuilt."""
    selections: set[Selection] = dataclasses.field(default_factory=set)
    usernames: set[str] = dataclasses.field(default_factory=set)
    users: dict[str, UserRow] = dataclasses.field(default_factory=dict)
    """Changed users and access owners that still have a legacy row."""
    accesses: list[AccessRow] = dataclasses.field(default_factory=list)
    revoked: set[str] = dataclasses.field(default_factory=set)
    emails: set[str] = dataclasses.field(default_factory=set)
    feeds: set[Selection] = dataclasses.field(default_factory=set)
    """Selections whose change feeds are rebuilt: they name a resource showing a changed event, or a
    changed user has them."""


async def plan_changes(batch: Batch, changes: Mapping[str, Set[str]]) -> Plan:
    """Which documents a batch of changes touches (docs/architecture.md §3).

    - a resource: its node, its parent's node, its events documents, the selections naming it;
      a room also changes every event booking it (its place shows in them);
    - an event: the resources whose timetable shows it, their documents and selections;
    - a timetable: that resource's events documents, its parent's node (``selectable``), the
      selections naming it;
    - a user: their document, their calendar and feed, their access documents;
    - an access: its document (deleted when the key is gone or its owner has no legacy row);
    - a history change: the change feeds of the selections naming the resource.
    """
    conn = batch.conn
    plan = Plan()
    changed_resources = set(changes.get(Topic.RESOURCE, ()))
    changed_events = {int(k) for k in changes.get(Topic.EVENT, ()) if k.isdigit()}
    plan.nodes = set(changed_resources)
    plan.timetables = changed_resources | set(changes.get(Topic.TIMETABLE, ()))
    await batch.load_resources(plan.timetables)
    rooms: set[str] = set()
    for ext_id in changed_resources:
        row = batch.resource(ext_id)
        if row is None or row.category == CLASSROOM:
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
    plan.feeds = await loaders.fetch_selections_containing(conn, set(changes.get(Topic.HISTORY, ())))

    plan.usernames = {u for u in changes.get(Topic.USER, ()) if u}
    plan.users = await loaders.fetch_users(conn, plan.usernames)
    # Rebuilt even when the selection's documents exist: another user may have left a stale
    # document under that hash.
    plan.selections |= {u.selection for u in plan.users.values()}
    # Their change feeds too: a feed is rebuilt on history only while some user names its selection,
    # so one left under that hash may miss what changed since, and reads do not check its age.
    plan.feeds |= {u.selection for u in plan.users.values()}
    accesses = {a.key: a for a in await loaders.fetch_accesses_of(conn, plan.usernames)}
    canonical = {key: canonical_access_key(key) for key in changes.get(Topic.ACCESS, ())}
    accesses.update(await loaders.fetch_accesses(conn, {c for c in canonical.values() if c}))
    plan.revoked = {c or key for key, c in canonical.items() if c not in accesses}
    plan.accesses = list(accesses.values())
    owners = {a.username for a in plan.accesses} - plan.users.keys()
    plan.users.update(await loaders.fetch_users(conn, owners))
    return plan
