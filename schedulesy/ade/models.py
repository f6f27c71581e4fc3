"""Typed answers of the ADE Web API.

Resource nodes keep every XML attribute verbatim (``attributes``, in document order), because the
contract's node document (docs/compatibility.md §4.3.1) is "all attributes as strings". Events get typed fields for what
the sync needs, plus the attributes as sent. Answers that the sync fingerprints keep their raw bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from typing import TypeAlias

import msgspec

from schedulesy.ade.dates import local_instant

StableKey: TypeAlias = tuple[int, int, int]
"""ADE's stable business key of an event: (activityId, repetition, session)."""


class ResourceNode(msgspec.Struct, frozen=True, kw_only=True):
    """A ``<category>``, ``<branch>`` or ``<leaf>`` (or a flat-list element), with its sub-nodes.

    ``children`` holds only ``<branch>``/``<leaf>`` sub-elements, in ADE order. The detail-13
    sub-elements (``<allMembers>``, ``<constraints>``, ``<rights>`` …) are not resources and are left out.
    """

    tag: str
    attributes: dict[str, str]
    children: tuple[ResourceNode, ...] = ()

    @property
    def id(self) -> str:
        if self.tag == "category":
            return self.attributes.get("category", "")
        return self.attributes.get("id", "")

    @property
    def name(self) -> str:
        if self.tag == "category":
            return self.attributes.get("category", "")
        return self.attributes.get("name", "")

    @property
    def category(self) -> str:
        return self.attributes.get("category", "")

    @property
    def code(self) -> str:
        return self.attributes.get("code", "")

    def walk(self) -> list[ResourceNode]:
        """This node and every descendant, depth-first pre-order (ADE order)."""
        out: list[ResourceNode] = []
        stack = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


class ResourceTree(msgspec.Struct, frozen=True, kw_only=True):
    """A ``getResources(tree=true)`` answer: one ``<category>`` node per category, and the raw bytes."""

    raw: bytes
    categories: tuple[ResourceNode, ...]

    def category(self, key: str) -> ResourceNode | None:
        return next((c for c in self.categories if c.id == key), None)

    @property
    def raw_digest(self) -> str:
        """SHA-256 of the bytes as received (unchanged data → same bytes on a faithful server)."""
        return hashlib.sha256(self.raw).hexdigest()

    def canonical_digest(self) -> str:
        """SHA-256 of the parsed tree: insensitive to whitespace, attribute order and encoding.

        Child order is kept: it is ADE's order and the node documents record it.
        """
        hasher = hashlib.sha256()
        encoder = msgspec.msgpack.Encoder()

        def feed(node: ResourceNode, depth: int) -> None:
            hasher.update(encoder.encode((depth, node.tag, sorted(node.attributes.items()))))
            for child in node.children:
                feed(child, depth + 1)

        for category in self.categories:
            feed(category, 0)
        return hasher.hexdigest()


class ResourceList(msgspec.Struct, frozen=True, kw_only=True):
    """A ``getResources(tree=false)`` answer: every element carrying an ``id``, whatever its tag."""

    raw: bytes
    resources: tuple[ResourceNode, ...]


class BookedResource(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A ``<resource>`` inside an event: what the event books, as ADE names it on the event."""

    id: str
    category: str
    name: str
    quantity: int = 1
    node_id: int = -1
    node_or_id: int = -1
    from_workflow: bool = False


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """An ``<event>``. Fields beyond the detail level asked for keep their defaults.

    ``resources`` is ``None`` when the answer had no resource list (detail < 8), and a tuple
    (possibly empty) when it did.
    """

    id: int
    activity_id: int
    repetition: int
    session: int
    name: str = ""
    date: dt.date | None = None
    start_hour: str = ""
    end_hour: str = ""
    week: int | None = None
    day: int | None = None
    slot: int | None = None
    absolute_slot: int | None = None
    duration: int | None = None
    color: str = ""
    """As ADE sends it: ``"r,g,b"`` in decimal (see :attr:`color_hex`)."""
    note: str = ""
    info: str = ""
    last_update: dt.datetime | None = None
    """Naive local wall-clock time (``MM/dd/yyyy HH:mm``), ``None`` when ADE left it empty."""
    creation: dt.datetime | None = None
    resources: tuple[BookedResource, ...] | None = None
    attributes: dict[str, str] = {}

    @property
    def stable_key(self) -> StableKey:
        return (self.activity_id, self.repetition, self.session)

    @property
    def color_hex(self) -> str:
        return rgb_to_hex(self.color)

    def starts_at(self, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
        if self.date is None or not self.start_hour:
            return None
        return local_instant(self.date, self.start_hour, zone)

    def ends_at(self, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
        """From ``endHour`` (not duration × 15 min: slot length is a project setting)."""
        if self.date is None or not self.end_hour:
            return None
        return local_instant(self.date, self.end_hour, zone)


class EventList(msgspec.Struct, frozen=True, kw_only=True):
    raw: bytes
    events: tuple[Event, ...]


class Project(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str = ""
    uid: int | None = None
    """Epoch milliseconds (detail ≥ 2)."""
    attributes: dict[str, str] = {}


class ProjectSelection(msgspec.Struct, frozen=True, kw_only=True):
    """``setProject``'s echo."""

    session_id: str
    project_id: int


class AdeDate(msgspec.Struct, frozen=True, kw_only=True):
    """``getDate``: the instant of a (week, day, slot) placement."""

    time_ms: int
    attributes: dict[str, str] = {}

    @property
    def instant(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time_ms / 1000, tz=dt.timezone.utc)


def rgb_to_hex(color: str) -> str:
    """ADE's ``"102,153,255"`` as ``"#6699ff"``; an already-hex or unreadable colour passes through."""
    text = color.strip()
    if not text:
        return ""
    if text.startswith("#"):
        return text.lower()
    parts = text.split(",")
    if len(parts) != 3:
        return text
    try:
        values = [max(0, min(255, int(p.strip()))) for p in parts]
    except ValueError:
        return text
    return "#" + "".join(f"{v:02x}" for v in values)
