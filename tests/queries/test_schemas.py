"""queries/schemas.py describes, for the OpenAPI document, the JSON the builders store and the read
API serves as is. Nothing else decodes into those types, so nothing else would notice a field renamed
in a builder and not in its schema.

Every JSON builder runs here on the test university's rows. Each body is decoded strictly into its
schema type, and that value, encoded back, must be the body: a field the schema lacks, misnames or
types differently fails. (A real ADE node carries more attributes than the test university's, verbatim;
the schema names those the service relies on. User and access documents stay inside the service: no
schema describes them.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec
import pytest

from projections import loaders
from projections.builders.calendar import build_calendar
from projections.builders.document import Built
from projections.builders.resources import (
    EventJson,
    build_events_response,
    build_node,
    build_nodes_list,
    build_public_events,
    node_document,
)
from projections.readmodels.batch import EventStore
from projections.rows import EventRow, ResourceRow
from queries.schemas import Calendar, ResourceNode, ResourceWithEvents, TooManyEventsBody
from schedulesy.errors import ErrorBody
from schedulesy.settings import Settings
from tests.fixtures.mirror import GROUP, ROOM, SUBJECT, TEACHER, TEACHER_EMAIL, seed_university


@dataclass
class Rows:
    """The university's rows, loaded as a full rebuild loads them."""

    resources: dict[str, ResourceRow]
    counts: dict[str, int]
    timetables: dict[str, list[int]]
    events: EventStore

    def events_of(self, ext_ids: Iterable[str]) -> list[EventRow]:
        return self.events.rows(i for ext_id in ext_ids for i in self.timetables.get(ext_id, ()))


@pytest.fixture
async def rows(pool: asyncpg.Pool) -> Rows:
    await seed_university(pool)
    async with pool.acquire() as conn:
        resources = await loaders.fetch_all_resources(conn)
        events = EventStore()
        await events.load_everything(conn)
        events.add_all_classrooms(resources.values())
        counts = await loaders.fetch_event_counts(conn, None)
        timetables = await loaders.fetch_timetables(conn, None)
    return Rows(resources, counts, timetables, events)


def without_nulls(value: Any) -> Any:
    """The schemas' optional fields come back as null when the body leaves them out."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def assert_described(built: Built, schema: Any, status: int = 200) -> None:
    assert built.status == status
    typed = msgspec.json.decode(built.body, type=schema, strict=True)
    assert without_nulls(msgspec.to_builtins(typed)) == msgspec.json.decode(built.body)


async def test_every_node_document_is_a_resource_node(rows: Rows, settings: Settings) -> None:
    for row in rows.resources.values():
        built = build_node(row, rows.counts, public_base=settings.public_base, max_events=settings.max_events)
        assert_described(built, ResourceNode)


async def test_the_instructor_search_is_a_list_of_resource_nodes(rows: Rows, settings: Settings) -> None:
    found = [row for row in rows.resources.values() if row.email == TEACHER_EMAIL]
    assert [row.ext_id for row in found] == [TEACHER]
    for matches in (found, []):
        documents = [
            node_document(row, rows.counts, public_base=settings.public_base, max_events=settings.max_events)
            for row in matches
        ]
        assert_described(build_nodes_list(documents), list[ResourceNode])


async def test_every_events_document_is_a_resource_with_events(rows: Rows, settings: Settings) -> None:
    fragments = EventJson(settings.zone)
    for ext_id, row in rows.resources.items():
        events = rows.events_of([ext_id])
        assert_described(
            build_events_response(row, events, rows.events.classrooms, fragments, anonymous=False),
            ResourceWithEvents,
        )


async def test_public_events_documents_and_refusals_match_their_schemas(rows: Rows, settings: Settings) -> None:
    fragments = EventJson(settings.zone)
    for ext_id, row in rows.resources.items():
        built = build_public_events(row, rows.events_of([ext_id]), rows.events.classrooms, fragments)
        if row.category == "classroom":
            assert_described(built, ResourceWithEvents)
        else:
            assert_described(built, ErrorBody, status=403)


@pytest.mark.parametrize(
    "selection", [(), (ROOM,), ("1617",), (ROOM, GROUP), (GROUP, SUBJECT, TEACHER)], ids=repr
)
async def test_calendars_are_calendars(rows: Rows, settings: Settings, selection: tuple[str, ...]) -> None:
    built = build_calendar(
        rows.events_of(selection), rows.events.classrooms, EventJson(settings.zone), max_events=settings.max_events
    )
    assert_described(built, Calendar)


async def test_a_calendar_above_the_limit_is_the_too_many_events_body(rows: Rows, settings: Settings) -> None:
    events = rows.events_of([ROOM, GROUP])
    built = build_calendar(events, rows.events.classrooms, EventJson(settings.zone), max_events=len(events) - 1)
    assert_described(built, TooManyEventsBody, status=413)
