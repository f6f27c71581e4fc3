"""A small ADE mirror written with plain SQL (schema sql/004), as the sync would leave it.

Shared by the read-model tests (no tests in here). The university of the original's tests:
room 1616 "BCD Media" in Colmar, teacher 23390 "Gerard Toto", group 32291 "M2 Biotechnologie HD".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

PARIS = ZoneInfo("Europe/Paris")
ROOM, TEACHER, GROUP, SUBJECT = "1616", "23390", "32291", "40001"
ROOM_GEOLOCATION = [48.607508, 7.708025, 0.0]
TEACHER_EMAIL = "Gerard.Toto@example.edu"


class Node(msgspec.Struct):
    ext_id: str
    category: str
    name: str
    parent: str | None
    code: str = ""
    email: str | None = None
    geolocation: list[float] | None = None


def university() -> list[Node]:
    """Category roots first, then each tree top-down."""
    return [
        Node("classroom", "classroom", "classroom", None),
        Node("instructor", "instructor", "instructor", None),
        Node("trainee", "trainee", "trainee", None),
        Node("category5", "category5", "category5", None),
        Node("30622", "classroom", "COL  -SITE COLMAR", "classroom"),
        Node("30618", "classroom", "SCH  -SITE SCHILTIGHEIM", "classroom"),
        Node("30628", "classroom", "ESPE COLMAR BATIMENT PRINCIPAL", "30622", code="1059240"),
        Node("1111", "classroom", "ADDITIONAL BRANCH", "30628"),
        Node(ROOM, "classroom", "BCD Media", "1111", geolocation=ROOM_GEOLOCATION),
        Node("1617", "classroom", "amphi sans cours", "1111"),
        Node("5000", "instructor", "enseignants biologie", "instructor"),
        Node(TEACHER, "instructor", "Gerard Toto", "5000", email=TEACHER_EMAIL),
        Node("6000", "trainee", "Master", "trainee"),
        Node(GROUP, "trainee", "M2 Biotechnologie HD", "6000"),
        Node("32292", "trainee", "M2 Biotechnologie Pro", "6000"),
        Node(SUBJECT, "category5", "Biologie cellulaire", "category5"),
    ]


def node_fields(node: Node, by_id: dict[str, Node], children: Sequence[Node], has_children: set[str]) -> dict[str, Any]:
    """The node document of contract §4.3.1, as the sync's Flatten would record it."""
    if node.parent is None:
        fields: dict[str, Any] = {"tag": "category", "category": node.category, "id": node.ext_id, "name": node.name}
    else:
        chain: list[Node] = []
        cursor = by_id.get(node.parent)
        while cursor is not None:
            chain.insert(0, cursor)
            cursor = by_id.get(cursor.parent) if cursor.parent else None
        fields = {
            "tag": "branch" if node.ext_id in has_children else "leaf",
            "id": node.ext_id, "name": node.name, "category": node.category,
            "path": ".".join(n.name for n in chain[1:]),
        }
        if node.code:
            fields["code"] = node.code
        if node.email:
            fields["email"] = node.email
        fields["parent"] = node.parent
        fields["genealogy"] = [{"id": n.ext_id, "name": n.name, "code": n.code} for n in chain]
    if children:
        fields["children"] = [
            {"id": c.ext_id, "name": c.name, "code": c.code, "has_children": c.ext_id in has_children}
            for c in children
        ]
    return fields


async def insert_resources(conn: asyncpg.Connection | asyncpg.Pool, nodes: Iterable[Node]) -> None:
    nodes = list(nodes)
    by_id = {n.ext_id: n for n in nodes}
    children: dict[str, list[Node]] = {}
    for n in nodes:
        if n.parent:
            children.setdefault(n.parent, []).append(n)
    has_children = set(children)
    await conn.executemany(
        """INSERT INTO schedulesy.resource
               (ext_id, category, parent_ext_id, name, code, email, fields, geolocation, position)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (ext_id) DO UPDATE SET category = EXCLUDED.category,
               parent_ext_id = EXCLUDED.parent_ext_id, name = EXCLUDED.name, code = EXCLUDED.code,
               email = EXCLUDED.email, fields = EXCLUDED.fields, geolocation = EXCLUDED.geolocation,
               updated_at = now()""",
        [
            (n.ext_id, n.category, n.parent, n.name, n.code, n.email,
             node_fields(n, by_id, children.get(n.ext_id, []), has_children), n.geolocation, i)
            for i, n in enumerate(nodes)
        ],
    )


class Ev(msgspec.Struct):
    """One mirrored event: when, what it books, whose timetables show it."""

    event_id: int
    start: dt.datetime
    """Local (Europe/Paris) naive start."""
    slots: int = 8
    name: str = "M2 GROUPE C1 INTERC"
    activity_id: int = 65849
    repetition: int = 0
    session: int = 0
    books: tuple[tuple[str, str, str], ...] = (
        (TEACHER, "instructor", "Gerard Toto"), (ROOM, "classroom", "BCD Media"),
        (GROUP, "trainee", "M2 Biotechnologie HD"),
    )
    shown_on: tuple[str, ...] = (ROOM, TEACHER, GROUP)
    color: str = "#6699ff"
    note: str = ""
    last_update: dt.datetime | None = dt.datetime(2019, 9, 23, 12, 51, tzinfo=dt.timezone.utc)
    sequence: int = 0


async def insert_events(conn: asyncpg.Connection | asyncpg.Pool, events: Iterable[Ev]) -> None:
    events = list(events)
    rows = []
    for e in events:
        start = e.start.replace(tzinfo=PARIS)
        end = start + dt.timedelta(minutes=15 * e.slots)
        content = hashlib.sha1(msgspec.json.encode(e)).hexdigest()
        rows.append((
            e.event_id, e.activity_id, e.repetition, e.session, e.name, start, end,
            start.strftime("%d/%m/%Y"), start.strftime("%H:%M"), end.strftime("%H:%M"), e.slots,
            e.color, e.note, e.last_update, content, e.sequence,
        ))
    await conn.executemany(
        """INSERT INTO schedulesy.event (event_id, activity_id, repetition, session, name, starts_at,
               ends_at, date, start_hour, end_hour, duration, color, note, last_update, content_hash, sequence)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)""",
        rows,
    )
    await conn.executemany(
        """INSERT INTO schedulesy.event_resource (event_id, resource_ext_id, category, name, position)
           VALUES ($1, $2, $3, $4, $5)""",
        [(e.event_id, ext_id, cat, name, i) for e in events for i, (ext_id, cat, name) in enumerate(e.books)],
    )
    await conn.executemany(
        "INSERT INTO schedulesy.timetable (resource_ext_id, event_id) VALUES ($1, $2)",
        [(ext_id, e.event_id) for e in events for ext_id in e.shown_on],
    )


async def insert_user(conn: asyncpg.Connection | asyncpg.Pool, username: str, resources: str) -> None:
    await conn.execute(
        """INSERT INTO public.w_edtperso (ressources, uds_directory_id, uid, date_creation, date_personnalisation)
           VALUES ($1, $2, $3, now(), now())""",
        resources, f"dir-{username}", username,
    )


async def insert_access(conn: asyncpg.Connection | asyncpg.Pool, username: str, name: str | None = None) -> str:
    key = uuid.uuid4()
    await conn.execute(
        "INSERT INTO schedulesy.access (key, username, name) VALUES ($1, $2, $3)", key, username, name or username
    )
    return str(key)


async def standard_mirror(pool: asyncpg.Pool) -> None:
    """The university, two events in January 2020 and one user selecting the group."""
    await insert_resources(pool, university())
    await insert_events(pool, [
        Ev(191050, dt.datetime(2020, 1, 14, 10, 30)),
        Ev(191051, dt.datetime(2020, 1, 13, 8, 0), name="Cours de biologie", activity_id=65850,
           books=((TEACHER, "instructor", "Gerard Toto"), (SUBJECT, "category5", "Biologie cellulaire"),
                  (GROUP, "trainee", "M2 Biotechnologie HD")),
           shown_on=(TEACHER, GROUP, SUBJECT)),
    ])
