"""ADE's change messages, as the original's companion job publishes them to RabbitMQ:

    {"operation_id": "1e777a3f-…", "events": [{"id": "163477", "resources": [1566, "12410"]}]}

``operation_id`` is optional, and so is an event's ``resources``; ids are ints or digit strings. A
body that is not such an object (not JSON, an empty ``events``, an id that is no positive integer, a
body over :data:`MAX_MESSAGE_BYTES`) is :class:`InvalidMessage`: logged, counted and dropped by the
consumer, never retried.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

MAX_MESSAGE_BYTES = 1 << 20
"""1 MiB: about 50,000 event ids, far above what one ADE operation touches."""
MAX_ID = 2**63 - 1


class InvalidMessage(ValueError):
    """Why a message body cannot be used (short, safe to log)."""


class _WireEvent(msgspec.Struct, frozen=True):
    id: int | str
    resources: list[int | str] = []


class _WireMessage(msgspec.Struct, frozen=True):
    events: list[_WireEvent]
    operation_id: str | int | None = None


class ChangeMessage(msgspec.Struct, frozen=True, kw_only=True):
    """What one message names: ADE events by id, and resources by ext id."""

    operation_id: str | None
    event_ids: frozenset[int]
    resource_ids: frozenset[str]


_decoder = msgspec.json.Decoder(_WireMessage)


def _event_id(value: int | str, what: str) -> int:
    text = str(value).strip() if isinstance(value, str) else value
    if isinstance(text, str):
        if not text.isascii() or not text.isdigit():
            raise InvalidMessage(f"{what} {value!r} is not a positive integer")
        number = int(text)
    else:
        number = text
    if not 0 < number <= MAX_ID:
        raise InvalidMessage(f"{what} {value!r} is not a positive integer")
    return number


def parse_message(body: bytes) -> ChangeMessage:
    if len(body) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"body of {len(body):,} bytes (at most {MAX_MESSAGE_BYTES:,})")
    try:
        wire = _decoder.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError included: wrong shape
        raise InvalidMessage(str(exc)[:200]) from None
    if not wire.events:
        raise InvalidMessage("`events` is empty")
    events = frozenset(_event_id(e.id, "event id") for e in wire.events)
    resources = frozenset(str(_event_id(r, "resource id")) for e in wire.events for r in e.resources)
    operation = None if wire.operation_id is None else str(wire.operation_id)
    return ChangeMessage(operation_id=operation, event_ids=events, resource_ids=resources)


def merge(messages: Iterable[ChangeMessage]) -> tuple[set[int], set[str]]:
    """A burst's union: every event and resource named once."""
    events: set[int] = set()
    resources: set[str] = set()
    for message in messages:
        events |= message.event_ids
        resources |= message.resource_ids
    return events, resources
