"""Parsing ADE answers from raw bytes.

Only bytes are parsed: the XML declaration decides the encoding, so a missing charset in the HTTP
``Content-Type`` cannot turn "é" into "Ã©" (docs/ade.md §6). ``<error>`` roots and empty bodies
become exceptions here, whatever the HTTP status was.

ADE writes control characters typed into notes and names raw (U+0007 pasted from a word
processor…), which XML 1.0 forbids: one of them would make a whole answer unreadable, and every
later sync fail. :func:`tolerant` drops them before parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import cast

import structlog

from schedulesy.ade.dates import parse_event_date, parse_stamp
from schedulesy.ade.errors import (
    AdeEmptyAnswer,
    AdeProtocolError,
    classify_error,
)
from schedulesy.ade.models import (
    AdeDate,
    BookedResource,
    Event,
    Project,
    ProjectSelection,
    ResourceNode,
)

TREE_NODE_TAGS = frozenset({"branch", "leaf"})

FORBIDDEN_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
"""C0 controls XML 1.0 forbids (tab, LF and CR are allowed). In UTF-8 and the ISO-8859 family
(what ADE answers in) these bytes never occur inside a multi-byte character."""
FORBIDDEN_REFERENCE = re.compile(
    rb"&#(?:0*(?:[0-8]|1[124-9]|2[0-9]|3[01])|[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]));"
)
"""``&#7;`` / ``&#x1F;``: character references to the same forbidden characters."""


def tolerant(function: str, body: bytes) -> bytes:
    """``body`` without the characters XML 1.0 forbids, raw or as references; logs how many were
    dropped (once per answer). The common clean answer costs one ``bytes.translate`` and is
    returned as is."""
    cleaned = body.translate(None, FORBIDDEN_BYTES)
    dropped = len(body) - len(cleaned)
    if b"&#" in cleaned:
        cleaned, references = FORBIDDEN_REFERENCE.subn(b"", cleaned)
        dropped += references
    if not dropped:
        return body
    # A fresh logger (a rare path): a module-level one caches the configuration of its first use.
    structlog.get_logger(__name__).warning("ade answer had forbidden xml characters", function=function,
                                           dropped=dropped)
    return cleaned


def parse_root(function: str, body: bytes) -> ET.Element:
    """The document element of an answer; raises the typed error an ``<error>`` root stands for."""
    if not body.strip():
        raise AdeEmptyAnswer(function, "ADE answered with an empty body (unknown function or dead session?)")
    body = tolerant(function, body)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise AdeProtocolError(function, f"unreadable XML: {exc}") from None
    if root.tag == "error":
        raise classify_error(function, root.get("name", ""), root.get("trace", ""))
    return root


def expect_root(function: str, root: ET.Element, *tags: str) -> None:
    if root.tag not in tags:
        raise AdeProtocolError(function, f"expected <{'|'.join(tags)}>, got <{root.tag}>")


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _int_or(value: str | None, default: int) -> int:
    number = _int(value)
    return default if number is None else number


# ---------------------------------------------------------------------------------------------
# Sessions and projects

def parse_session(root: ET.Element) -> str:
    expect_root("connect", root, "session")
    session_id = root.get("id", "")
    if not session_id:
        raise AdeProtocolError("connect", "<session> without an id")
    return session_id


def parse_project_selection(root: ET.Element) -> ProjectSelection:
    expect_root("setProject", root, "setProject")
    project = _int(root.get("projectId"))
    if project is None:
        raise AdeProtocolError("setProject", "<setProject> without a numeric projectId")
    return ProjectSelection(session_id=root.get("sessionId", ""), project_id=project)


def parse_projects(root: ET.Element) -> list[Project]:
    expect_root("getProjects", root, "projects", "project")
    elements = [root] if root.tag == "project" else root.iter("project")
    projects = []
    for element in elements:
        project_id = _int(element.get("id"))
        if project_id is None:
            continue
        attributes = dict(element.attrib)
        projects.append(Project(id=project_id, name=attributes.get("name", ""),
                                uid=_int(attributes.get("uid")), attributes=attributes))
    return projects


def parse_date(root: ET.Element) -> AdeDate:
    time_ms = _int(root.get("time"))
    if time_ms is None:
        raise AdeProtocolError("getDate", f"<{root.tag}> without a numeric time")
    return AdeDate(time_ms=time_ms, attributes=dict(root.attrib))


# ---------------------------------------------------------------------------------------------
# Resources

def _tree_node(element: ET.Element) -> ResourceNode:
    children = tuple(_tree_node(child) for child in element if child.tag in TREE_NODE_TAGS)
    return ResourceNode(tag=element.tag, attributes=dict(element.attrib), children=children)


def parse_resource_tree(root: ET.Element) -> tuple[ResourceNode, ...]:
    """``<tree><category category=…><branch …>…<leaf …/>`` → one node per ``<category>``."""
    expect_root("getResources", root, "tree")
    return tuple(_tree_node(element) for element in root if element.tag == "category")


def parse_resource_list(root: ET.Element) -> tuple[ResourceNode, ...]:
    """Flat answers change element names with the category filter (``<rooms><room>``,
    ``<instructors><instructor>``, ``<resources><resource>`` …): take every element with an id."""
    if root.tag == "tree":
        return tuple(node for category in parse_resource_tree(root) for node in category.walk()
                     if node.tag != "category")
    found = []
    for element in root.iter():
        if element is root and "id" not in element.attrib:
            continue
        if "id" in element.attrib and element.tag not in ("member",):
            found.append(ResourceNode(tag=element.tag, attributes=dict(element.attrib)))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# Events

def _booked(element: ET.Element) -> BookedResource:
    a = element.attrib
    return BookedResource(
        id=a.get("id", ""),
        category=a.get("category", ""),
        name=a.get("name", ""),
        quantity=_int_or(a.get("quantity"), 1),
        node_id=_int_or(a.get("nodeId"), -1),
        node_or_id=_int_or(a.get("nodeOrId"), -1),
        from_workflow=a.get("fromWorkflow", "").lower() == "true",
    )


def _event(element: ET.Element) -> Event | None:
    a = element.attrib
    event_id = _int(a.get("id"))
    if event_id is None:
        return None
    resources: tuple[BookedResource, ...] | None = None
    for child in element:
        if child.tag in ("resources", "eventParticipants"):
            resources = tuple(_booked(r) for r in child if r.get("id"))
    return Event(
        id=event_id,
        activity_id=_int_or(a.get("activityId"), 0),
        repetition=_int_or(a.get("repetition"), 0),
        session=_int_or(a.get("session"), 0),
        name=a.get("name", ""),
        date=parse_event_date(a.get("date", "")),
        start_hour=a.get("startHour", ""),
        end_hour=a.get("endHour", ""),
        week=_int(a.get("week")),
        day=_int(a.get("day")),
        slot=_int(a.get("slot")),
        absolute_slot=_int(a.get("absoluteSlot")),
        duration=_int(a.get("duration")),
        color=a.get("color", ""),
        note=a.get("note", ""),
        info=a.get("info", ""),
        last_update=parse_stamp(a.get("lastUpdate", "")),
        creation=parse_stamp(a.get("creation", "")),
        resources=resources,
        attributes=dict(a),
    )


STREAM_CHUNK = 1 << 20


def parse_events_bytes(function: str, body: bytes) -> tuple[Event, ...]:
    """``getEvents`` straight from bytes, streaming: each ``<event>`` is dropped from the tree once
    read, so a 25 MB answer never becomes a 250 MB element tree. Errors as :func:`parse_root`."""
    if not body.strip():
        raise AdeEmptyAnswer(function, "ADE answered with an empty body (unknown function or dead session?)")
    body = tolerant(function, body)
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    found: list[Event] = []
    try:
        for offset in range(0, len(body), STREAM_CHUNK):
            parser.feed(body[offset:offset + STREAM_CHUNK])
            # Only "start" and "end" are asked for: each event carries its element.
            for kind, element in cast(Iterator[tuple[str, ET.Element]], parser.read_events()):
                if root is None:
                    root = element
                    if root.tag == "error":
                        raise classify_error(function, root.get("name", ""), root.get("trace", ""))
                    expect_root(function, root, "events", "event")
                    continue
                if kind == "end" and element.tag == "event":
                    event = _event(element)
                    if event is not None:
                        found.append(event)
                    if element is not root:
                        root.clear()
        parser.close()
    except ET.ParseError as exc:
        raise AdeProtocolError(function, f"unreadable XML: {exc}") from None
    return tuple(found)


def parse_events(root: ET.Element) -> tuple[Event, ...]:
    """``<events><event …>`` (or a bare ``<event>`` root, seen on ``eventId`` queries)."""
    expect_root("getEvents", root, "events", "event")
    elements: Iterable[ET.Element] = [root] if root.tag == "event" else root.iter("event")
    return tuple(e for e in (_event(el) for el in elements) if e is not None)
