"""A small ADE mirror written with plain SQL (schema sql/004), as the sync command would leave it.

The university of the original's tests: room 1616 "BCD Media" in Colmar (geolocated), teacher
23390 "Gerard Toto", group 32291 "M2 Biotechnologie HD", subject 40001 "Biologie cellulaire".
Users live in ``w_edtperso`` (the legacy table) and accesses in ``schedulesy.access``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence

import asyncpg
import msgspec

from tests.fixtures.mirror import (  # noqa: F401 - the tests import them from here
    GROUP, PARIS, ROOM, ROOM_GEOLOCATION, SUBJECT, TEACHER, TEACHER_EMAIL, Node, categories_and_classrooms,
    insert_access, insert_resources,
)

SLOT_MINUTES = 15


def university() -> list[Node]:
    """Category roots first, then each tree top-down."""
    return categories_and_classrooms() + [
        Node("5000", "instructor", "Enseignants biologie", "instructor"),
        Node(TEACHER, "instructor", "Gerard Toto", "5000", email=TEACHER_EMAIL),
        Node("6000", "trainee", "Master", "trainee"),
        Node(GROUP, "trainee", "M2 Biotechnologie HD", "6000"),
        Node(SUBJECT, "category5", "Biologie cellulaire", "category5"),
    ]


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
