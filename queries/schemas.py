"""The JSON documents the read API serves, as types — for the OpenAPI schema only.

The bodies themselves are built (and encoded) by ``projections/``; these Structs describe them
for API readers (docs/compatibility.md §4.3). Nothing decodes into them on the request path.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class GenealogyEntry(msgspec.Struct):
    id: str
    name: str
    code: str


class StoredChildRef(msgspec.Struct):
    """A child of a tree node as the mirror stores it: ``id`` is the child's ADE id."""

    id: str
    name: str
    code: str
    has_children: bool


class ChildRef(StoredChildRef):
    """A child of a tree node, as ``/api/resource`` serves it: ``id`` is the absolute URL of its own
    node document, and ``selectable`` says whether the front end may offer it for a selection."""

    selectable: bool


class NodeFields(msgspec.Struct, kw_only=True):
    """What a node of an ADE resource tree says about itself; category roots have ``tag`` =
    ``"category"``. Besides these fields a node carries the other attributes ADE gives it, verbatim,
    as strings.
    """

    tag: str
    id: str
    name: str
    category: str
    code: str | None = None
    path: str | None = None
    email: str | None = None
    """An instructor's address, which the instructor search matches."""
    parent: str | None = None
    genealogy: list[GenealogyEntry] | None = None


class ResourceNode(NodeFields, kw_only=True):
    """``/api/resource/{id}.json``: a node with its children rewritten for the front end."""

    children: list[ChildRef] | None = None


class Event(msgspec.Struct, kw_only=True):
    """One event; the resource lists exist only for categories the event books."""

    id: str
    activityId: str
    name: str
    date: str
    startHour: str
    endHour: str
    duration: str
    lastUpdate: str
    """ADE's last change, ``MM/DD/YYYY HH:MM`` in the service's time zone; empty when ADE gave none."""
    color: str
    note: str
    trainees: list[str] | None = None
    instructors: list[str] | None = None
    classrooms: list[str] | None = None
    category5s: list[str] | None = None


class NamedResource(msgspec.Struct, kw_only=True):
    """An entry of a resource map; a room adds its ``genealogy`` (site down to its parent) and its
    ``geolocation`` (``[lat, lon, alt]``, empty when the building is unknown)."""

    name: str
    genealogy: list[str] | None = None
    geolocation: list[float] | None = None


class EventsDocument(msgspec.Struct, kw_only=True):
    """Events plus the resources they name, looked up by id. The four maps are always present,
    empty when no event books that category (an anonymous caller's ``instructors`` is always empty);
    another configured ADE category adds its own map when an event books it."""

    events: list[Event]
    trainees: dict[str, NamedResource]
    instructors: dict[str, NamedResource]
    classrooms: dict[str, NamedResource]
    category5s: dict[str, NamedResource]


class ResourceWithEvents(NodeFields, kw_only=True):
    """``/api/events/{id}.json``: the node document as stored (children keep their ADE ids and
    have no ``selectable``) plus its events."""

    children: list[StoredChildRef] | None = None
    events: EventsDocument


class Calendar(msgspec.Struct):
    """``/api/calendar/{username}.json``: the merged events of the user's selection."""

    events: EventsDocument


class TooManyEventsBody(msgspec.Struct):
    """The 413 of a calendar above the event limit (the front end shows its own message)."""

    code: str
    detail: str
    nb_events: int


class ChangeEntry(msgspec.Struct, kw_only=True):
    """One change of an event in a change feed (``/api/timetable/{key}/changes.json``,
    ``/api/changes/{username}.json``), newest first."""

    id: str
    """The change's own id (a UUID), stable: the Atom entry's ``urn:uuid:`` id."""
    kind: Literal["added", "removed", "moved", "rooms", "instructors", "renamed"]
    detected_at: str
    """When the sync saw it, UTC (``2026-09-07T08:15:00Z``)."""
    event_id: str
    """ADE's id of the event after the change (before it, for a removal)."""
    before: Event | None
    after: Event | None
    summary: str
    """One sentence in French (English with ``?lang=en``)."""


class AdeConfig(msgspec.Struct):
    """Where ADE is (credentials never included) and the project used."""

    base_url: str
    params: dict[str, str]
