"""A small ADE mirror written with plain SQL (schema sql/004), as the sync would leave it.

Shared by the read-model tests (no tests in here). The university of the original's tests:
room 1616 "BCD Media" in Colmar, teacher 23390 "Gerard Toto", group 32291 "M2 Biotechnologie HD".
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

import asyncpg
import msgspec

from tests.fixtures.mirror import (  # noqa: F401 - the tests import them from here
    GROUP, PARIS, ROOM, ROOM_GEOLOCATION, SUBJECT, TEACHER, TEACHER_EMAIL, Node, categories_and_classrooms,
    insert_access, insert_resources,
)


def university() -> list[Node]:
    """Category roots first, then each tree top-down."""
    return categories_and_classrooms() + [
        Node("5000", "instructor", "enseignants biologie", "instructor"),
        Node(TEACHER, "instructor", "Gerard Toto", "5000", email=TEACHER_EMAIL),
        Node("6000", "trainee", "Master", "trainee"),
        Node(GROUP, "trainee", "M2 Biotechnologie HD", "6000"),
        Node("32292", "trainee", "M2 Biotechnologie Pro", "6000"),
        Node(SUBJECT, "category5", "Biologie cellulaire", "category5"),
    ]


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
