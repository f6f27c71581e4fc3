"""Resource trees: ADE's ``getResources(tree, detail=11)`` → ``schedulesy.resource``.

Per category, one transaction: flatten the tree into node rows (docs/compatibility.md §4.3.1 documents), load
them into a temporary table, then upsert only the rows that differ and delete the rows of this
category that ADE no longer has. A deleted resource (and every descendant, which left ADE with it)
also leaves users' selections in ``w_edtperso`` in the same transaction. An id that ADE re-used in
another category (docs/compatibility.md §5.2, SCH commit 28a369e) is treated as a deletion followed by a creation.

Safety: a tree that shrank by more than ``sync_max_shrink`` is refused unless forced; nothing is
deleted because ADE answered badly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
import msgspec
import structlog

from commands.ade_sync.buildings import Buildings, Geolocation, geolocate
from commands.ade_sync.report import TreeReport
from schedulesy.ade.models import ResourceNode, ResourceTree
from schedulesy.categories import CLASSROOM

log = structlog.get_logger(__name__)

FLATTEN_VERSION = "1"
"""Part of every tree fingerprint: bump it when the node documents change shape."""


class ResourceRow(msgspec.Struct, frozen=True, kw_only=True):
    ext_id: str
    category: str
    parent_ext_id: str | None
    name: str
    code: str
    email: str | None
    fields: dict[str, Any]
    geolocation: Geolocation | None
    position: int


class TreeChanges(msgspec.Struct, frozen=True):
    """What writing a category leaves for the later steps to act on."""

    restructured: list[str]
    """Resources whose place in a tree is new or moved: their timetables must be recomputed."""
    removed: list[str]
    """Resources ADE deleted or re-used in another category: events that booked them are rechecked."""


NO_CHANGES = TreeChanges(restructured=[], removed=[])


def _child_ref(node: ResourceNode) -> dict[str, Any]:
    return {"id": node.id, "name": node.name, "code": node.code, "has_children": bool(node.children)}


def flatten(category: ResourceNode, key: str, buildings: Buildings, *,
            claimed: frozenset[str] = frozenset(), position: int = 0) -> list[ResourceRow]:
    """The rows of one category tree: the category root first, then every node in ADE order.

    A node's ``genealogy`` runs from the category root to its direct parent, each entry
    ``{id, name, code}``; ``children`` (only when it has some) lists child refs in ADE order.
    Duplicate ids keep the first one met in post-order, as the original did (docs/compatibility.md §5.2);
    ids in ``claimed`` belong to another category this cycle and are left out. ``position`` places
    the category root among the roots (the configured order).
    """
    root_fields: dict[str, Any] = {"tag": "category", "category": key, "id": key, "name": key}
    root_children = [c for c in category.children if c.id and c.id not in claimed]
    if root_children:
        root_fields["children"] = [_child_ref(c) for c in root_children]
    rows: dict[str, ResourceRow] = {}
    root_entry = {"id": key, "name": key, "code": ""}

    # Post-order walk so that "first recorded wins" matches the original on duplicate ids.
    def visit(node: ResourceNode, parent: str, genealogy: list[dict[str, str]], position: int) -> None:
        children = [c for c in node.children if c.id and c.id not in claimed]
        below = genealogy + [{"id": node.id, "name": node.name, "code": node.code}]
        for index, child in enumerate(children):
            visit(child, node.id, below, index)
        if node.id in rows:
            log.warning("duplicate id in ADE tree, first one kept", category=key, ext_id=node.id)
            return
        fields: dict[str, Any] = dict(node.attributes)
        fields["tag"] = node.tag
        fields["parent"] = parent
        fields["genealogy"] = genealogy
        if children:
            fields["children"] = [_child_ref(c) for c in children]
        email = node.attributes.get("email", "").strip() or None
        rows[node.id] = ResourceRow(
            ext_id=node.id,
            category=key,
            parent_ext_id=parent,
            name=node.name,
            code=node.code,
            email=email,
            fields=fields,
            geolocation=geolocate(genealogy, buildings) if key == CLASSROOM else None,
            position=position,
        )

    for index, child in enumerate(root_children):
        visit(child, key, [root_entry], index)
    root = ResourceRow(ext_id=key, category=key, parent_ext_id=None, name=key, code="", email=None,
                       fields=root_fields, geolocation=None, position=position)
    # Parents before children (the reverse of post-order), the root first.
    return [root, *reversed(list(rows.values()))]


def tree_ids(category: ResourceNode) -> set[str]:
    return {n.id for n in category.walk() if n.tag != "category" and n.id}


def fingerprint(tree: ResourceTree, key: str, buildings: Buildings, claimed: Iterable[str]) -> str:
    """What decides "unchanged": the canonical tree, plus everything else that shapes the rows."""
    hasher = hashlib.sha256()
    hasher.update(tree.canonical_digest().encode())
    extra = [FLATTEN_VERSION, key, buildings.version if key == CLASSROOM else "", *sorted(claimed)]
    hasher.update(msgspec.json.encode(extra))
    return hasher.hexdigest()


_RESOURCE_COLUMNS = ("ext_id", "category", "parent_ext_id", "name", "code", "email", "fields", "geolocation",
                     "position")


def _records(rows: Sequence[ResourceRow]) -> list[tuple[Any, ...]]:
    encode = msgspec.json.encode
    return [
        (r.ext_id, r.category, r.parent_ext_id, r.name, r.code, r.email, encode(r.fields).decode(),
         None if r.geolocation is None else encode(r.geolocation).decode(), r.position)
        for r in rows
    ]


async def write_category(conn: asyncpg.Connection, key: str, rows: Sequence[ResourceRow], *,
                         max_shrink: float, force: bool, report: TreeReport) -> TreeChanges:
    """Reconcile one category with ``rows`` in the caller's transaction; the counts go to ``report``."""
    node_count = len(rows) - 1  # the root is ours, not ADE's
    previous = await conn.fetchval(
        "SELECT count(*) FROM schedulesy.resource WHERE category = $1 AND ext_id <> $1", key)
    report.nodes = node_count
    if previous and not force and node_count < previous * (1 - max_shrink):
        report.status = "refused"
        report.error = (f"tree {key!r} shrank from {previous} to {node_count} nodes (more than "
                        f"{max_shrink:.0%}); kept the previous tree — run with --force to accept it")
        log.warning("ade tree refused", category=key, previous=previous, now=node_count)
        return NO_CHANGES

    await conn.execute(
        """
        CREATE TEMP TABLE sync_resource (
            ext_id text PRIMARY KEY, category text, parent_ext_id text, name text, code text,
            email text, fields text, geolocation text, position integer
        ) ON COMMIT DROP
        """
    )
    await conn.copy_records_to_table("sync_resource", records=_records(rows), columns=_RESOURCE_COLUMNS)

    # Ids ADE re-used in this category while we still hold them under another one.
    recycled = [r["ext_id"] for r in await conn.fetch(
        """
        SELECT r.ext_id FROM schedulesy.resource r JOIN sync_resource s USING (ext_id)
        WHERE r.category <> s.category
        """)]
    # New nodes and nodes whose parent changed: their timetables (ancestors' events) change.
    restructured = [r["ext_id"] for r in await conn.fetch(
        """
        SELECT s.ext_id FROM sync_resource s LEFT JOIN schedulesy.resource r USING (ext_id)
        WHERE r.ext_id IS NULL OR r.parent_ext_id IS DISTINCT FROM s.parent_ext_id
           OR r.category <> s.category
        """)]
    renamed = await conn.fetch(
        """
        SELECT s.ext_id, s.name FROM sync_resource s JOIN schedulesy.resource r USING (ext_id)
        WHERE r.name <> s.name
        """)
    written = await conn.fetch(
        """
        INSERT INTO schedulesy.resource AS r
            (ext_id, category, parent_ext_id, name, code, email, fields, geolocation, position, updated_at)
        SELECT ext_id, category, parent_ext_id, name, code, email, fields::jsonb, geolocation::jsonb,
               position, now()
        FROM sync_resource
        ON CONFLICT (ext_id) DO UPDATE SET
            category = excluded.category, parent_ext_id = excluded.parent_ext_id, name = excluded.name,
            code = excluded.code, email = excluded.email, fields = excluded.fields,
            geolocation = excluded.geolocation, position = excluded.position, updated_at = now()
        WHERE (r.category, r.parent_ext_id, r.name, r.code, r.email, r.fields, r.geolocation, r.position)
              IS DISTINCT FROM
              (excluded.category, excluded.parent_ext_id, excluded.name, excluded.code, excluded.email,
               excluded.fields, excluded.geolocation, excluded.position)
        RETURNING ext_id, (xmax = 0) AS inserted
        """)
    deleted = [r["ext_id"] for r in await conn.fetch(
        """
        DELETE FROM schedulesy.resource r
        WHERE r.category = $1 AND NOT EXISTS (SELECT 1 FROM sync_resource s WHERE s.ext_id = r.ext_id)
        RETURNING r.ext_id
        """, key)]
    gone = deleted + recycled
    if gone:
        report.selections_cleaned = await remove_from_selections(conn, gone)
    if deleted:
        await conn.execute("DELETE FROM schedulesy.timetable WHERE resource_ext_id = ANY($1::text[])", deleted)
    if renamed:
        # Events name their resources as ADE does now; a rename reaches them without a refetch.
        await conn.execute(
            """
            UPDATE schedulesy.event_resource er SET name = u.name
            FROM unnest($1::text[], $2::text[]) AS u(ext_id, name)
            WHERE er.resource_ext_id = u.ext_id AND er.category = $3 AND er.name <> u.name
            """, [r["ext_id"] for r in renamed], [r["name"] for r in renamed], key)

    inserted = sum(1 for r in written if r["inserted"])
    # A re-used id is an upsert of an existing row, but means "old one deleted, new one created".
    report.created = inserted + len(recycled)
    report.updated = len(written) - inserted - len(recycled)
    report.deleted = len(deleted) + len(recycled)
    report.recycled = len(recycled)
    report.status = "modified"
    return TreeChanges(restructured=restructured, removed=gone)


async def remove_from_selections(conn: asyncpg.Connection, ext_ids: Sequence[str]) -> int:
    """Drop ids from users' legacy selection strings, keeping the legacy format (``1,2,3``).

    The order of the remaining ids is kept. Only rows that contain one of the ids are written
    (the GIN index on ``string_to_array(ressources, ',')`` finds them; strings with spaces, which
    only other tools write, are found by a scan and come back without the spaces).
    """
    status = await conn.execute(
        """
        UPDATE public.w_edtperso w
        SET ressources = coalesce((
            SELECT string_agg(btrim(item), ',' ORDER BY ord)
            FROM unnest(string_to_array(w.ressources, ',')) WITH ORDINALITY AS t(item, ord)
            WHERE btrim(item) <> '' AND NOT (btrim(item) = ANY($1::text[]))
        ), '')
        WHERE string_to_array(w.ressources, ',') && $1::text[]
           -- Another tool may have written "12, 34": match those too (rare: a scan, not the index).
           OR (strpos(w.ressources, ' ') > 0
               AND string_to_array(replace(w.ressources, ' ', ''), ',') && $1::text[])
        """, list(ext_ids))
    return int(status.split()[-1])
