"""A small ADE mirror written with plain SQL (schema sql/004), as the sync command would leave it.

The university of the original's tests: room 1616 "BCD Media" in Colmar (geolocated), teacher
23390 "Gerard Toto", group 32291 "M2 Biotechnologie HD", subject 40001 "Biologie cellulaire".
Users live in ``w_edtperso`` (the legacy table) and accesses in ``schedulesy.access``.
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
SLOT_MINUTES = 15

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
    leaf: bool = False
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
        Node(ROOM, "classroom", "BCD Media", "1111", leaf=True, geolocation=ROOM_GEOLOCATION),
        Node("1617", "classroom", "amphi sans cours", "1111", leaf=True),
        Node("5000", "instructor", "Enseignants biologie", "instructor"),
        Node(TEACHER, "instructor", "Gerard Toto", "5000", leaf=True, email=TEACHER_EMAIL),
        Node("6000", "trainee", "Master", "trainee"),
        Node(GROUP, "trainee", "M2 Biotechnologie HD", "6000", leaf=True),
        Node(SUBJECT, "category5", "Biologie cellulaire", "category5", leaf=True),
    ]


def _fields(node: Node, by_id: dict[str, Node], children: list[Node]) -> dict[str, Any]:
    refs = [
        {"id": c.ext_id, "name": c.name, "code": c.code, "has_children": not c.leaf and c.ext_id in _parents(by_id)}
        for c in children
    ]
    if node.parent is None:
        return {"tag": "category", "category": node.category, "id": node.ext_id, "name": node.name,
                "children": refs}
    lineage: list[Node] = []
    parent = by_id.get(node.parent)
    while parent is not None:
        lineage.insert(0, parent)
        parent = by_id.get(parent.parent) if parent.parent else None
    fields: dict[str, Any] = {
        "id": node.ext_id, "name": node.name, "category": node.category,
        "path": ".".join(n.name for n in lineage[1:]),
        "tag": "leaf" if node.leaf else "branch", "parent": node.parent,
        "genealogy": [{"id": n.ext_id, "name": n.name, "code": n.code} for n in lineage],
    }
    if node.code:
        fields["code"] = node.code
    if node.email:
        fields["email"] = node.email
    if refs:
        fields["children"] = refs
    return fields


def _parents(by_id: dict[str, Node]) -> set[str]:
    return {n.parent for n in by_id.values() if n.parent}


async def insert_resources(pool: asyncpg.Pool, nodes: Sequence[Node]) -> None:
    by_id = {n.ext_id: n for n in nodes}
    rows = []
    for position, node in enumerate(nodes):
        children = [c for c in nodes if c.parent == node.ext_id]
        rows.append((node.ext_id, node.category, node.parent, node.name, node.code, node.email,
                     _fields(node, by_id, children), node.geolocation, position))
    await pool.executemany(
        """INSERT INTO schedulesy.resource
               (ext_id, category, parent_ext_id, name, code, email, fields, geolocation, position)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        rows,
    )


class Booking(msgspec.Struct):
    ext_id: str
    category: str
    name: str


ROOM_BOOKING = Booking(ROOM, "classroom", "BCD Media")
TEACHER_BOOKING = Booking(TEACHER, "instructor", "Gerard Toto")
GROUP_BOOKING = Booking(GROUP, "trainee", "M2 Biotechnologie HD")
SUBJECT_BOOKING = Booking(SUBJECT, "category5", "Biologie cellulaire")


async def insert_event(
    pool: asyncpg.Pool,
    event_id: int,
    *,
    starts: dt.datetime,
    slots: int = 8,
    name: str = "M2 GROUPE C1 INTERC",
    activity_id: int | None = None,
    repetition: int = 0,
    session: int = 0,
    bookings: Sequence[Booking] = (ROOM_BOOKING, TEACHER_BOOKING, GROUP_BOOKING),
    shown_on: Iterable[str] | None = None,
    sequence: int = 0,
    note: str = "",
    color: str = "#6699ff",
    last_update: dt.datetime | None = None,
) -> None:
    """One event (``starts`` is aware), the resources it books, and the timetables showing it."""
    local = starts.astimezone(PARIS)
    ends = starts + dt.timedelta(minutes=slots * SLOT_MINUTES)
    content_hash = hashlib.sha256(f"{event_id}{name}{starts}{slots}{sequence}".encode()).hexdigest()
    await pool.execute(
        """INSERT INTO schedulesy.event (event_id, activity_id, repetition, session, name, starts_at, ends_at,
               date, start_hour, end_hour, duration, color, note, last_update, content_hash, sequence)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)""",
        event_id, activity_id if activity_id is not None else event_id * 10, repetition, session, name, starts,
        ends, local.strftime("%d/%m/%Y"), local.strftime("%H:%M"), ends.astimezone(PARIS).strftime("%H:%M"),
        slots, color, note, last_update, content_hash, sequence,
    )
    await pool.executemany(
        """INSERT INTO schedulesy.event_resource (event_id, resource_ext_id, category, name, position)
           VALUES ($1, $2, $3, $4, $5)""",
        [(event_id, b.ext_id, b.category, b.name, i) for i, b in enumerate(bookings)],
    )
    shown = list(shown_on) if shown_on is not None else [b.ext_id for b in bookings]
    await pool.executemany(
        "INSERT INTO schedulesy.timetable (resource_ext_id, event_id) VALUES ($1, $2)",
        [(ext_id, event_id) for ext_id in shown],
    )


async def insert_user(pool: asyncpg.Pool, username: str, resources: Sequence[str], *, row_id: int | None = None) -> int:
    """A legacy ``w_edtperso`` row; returns its id."""
    return await pool.fetchval(
        """INSERT INTO public.w_edtperso (id, ressources, uds_directory_id, uid, date_creation,
               date_personnalisation)
           VALUES (coalesce($1, (SELECT coalesce(max(id), 0) + 1 FROM public.w_edtperso)), $2, $3, $4,
                   now(), now())
           RETURNING id""",
        row_id, ",".join(resources), f"dir-{username}"[:32], username,
    )


async def insert_access(pool: asyncpg.Pool, username: str, name: str | None = None) -> str:
    """A direct access (capability key); returns the key as canonical text."""
    key = str(uuid.uuid4())
    await pool.execute(
        "INSERT INTO schedulesy.access (key, username, name) VALUES ($1::uuid, $2, $3)",
        key, username, name or username,
    )
    return key


def paris(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=PARIS)


BEFORE_DST_END = paris(2025, 10, 24, 10, 30)
"""Friday before the change to winter time (CEST, UTC+2): 08:30Z."""
AFTER_DST_END = paris(2025, 10, 27, 10, 30)
"""Monday after it (CET, UTC+1): 09:30Z."""


async def seed_university(pool: asyncpg.Pool) -> None:
    """The tree, two events around the October 2025 DST change, and one subject-only event."""
    await insert_resources(pool, university())
    await insert_event(pool, 191050, starts=BEFORE_DST_END, slots=8, sequence=0,
                       note="<b>Salle</b> changée", last_update=paris(2025, 9, 23, 14, 51))
    await insert_event(pool, 191051, starts=AFTER_DST_END, slots=6, sequence=3, name="M2 TP, Groupe; C2",
                       bookings=(ROOM_BOOKING, TEACHER_BOOKING, GROUP_BOOKING, SUBJECT_BOOKING),
                       last_update=paris(2025, 10, 20, 9, 0))
    await insert_event(pool, 191052, starts=paris(2025, 11, 3, 14, 0), slots=4, name="Cours sans salle",
                       bookings=(GROUP_BOOKING, SUBJECT_BOOKING))
