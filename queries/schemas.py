"""The JSON documents the read API serves, as types — for the OpenAPI schema only.

The bodies themselves are built (and encoded) by ``projections/``; these Structs describe them
for API readers (contract §4.3). Nothing decodes into them on the request path.
"""

from __future__ import annotations

import msgspec


class GenealogyEntry(msgspec.Struct):
    id: str
    name: str
    code: str


class ChildRef(msgspec.Struct):
    """A child of a tree node, as served: ``id`` is the absolute URL of its own node document."""

    id: str
    name: str
    code: str
    has_children: bool
    selectable: bool


class ResourceNode(msgspec.Struct, kw_only=True):
    """A node of an ADE resource tree; category roots have ``tag`` = ``"category"``."""

    tag: str
    id: str
    name: str
    category: str
    code: str | None = None
    path: str | None = None
    parent: str | None = None
    genealogy: list[GenealogyEntry] | None = None
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
    color: str
    note: str
    trainees: list[str] | None = None
    instructors: list[str] | None = None
    classrooms: list[str] | None = None
    category5s: list[str] | None = None


class NamedResource(msgspec.Struct, kw_only=True):
    name: str
    genealogy: list[str] | None = None
    geolocation: list[float] | None = None


class EventsDocument(msgspec.Struct, kw_only=True):
    """Events plus the resources they name, looked up by id."""

    events: list[Event]
    trainees: dict[str, NamedResource] | None = None
    instructors: dict[str, NamedResource] | None = None
    classrooms: dict[str, NamedResource] | None = None
    category5s: dict[str, NamedResource] | None = None


class ResourceWithEvents(ResourceNode, kw_only=True):
    """``/api/events/{id}.json``: the node document (children not rewritten) plus its events."""

    events: EventsDocument | None = None


class Calendar(msgspec.Struct):
    """``/api/calendar/{username}.json``: the merged events of the user's selection."""

    events: EventsDocument


class AdeConfig(msgspec.Struct):
    """Where ADE is (credentials never included) and the project used."""

    base_url: str
    params: dict[str, str]
