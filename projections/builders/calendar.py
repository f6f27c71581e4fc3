"""The merged calendar of one selection (docs/compatibility.md §3.5, §5.6), shared by every user who made it.

Always the same shape, whatever the number of resources (fixes docs/compatibility.md §11.8 and §11.9):
``{"events": {"events": [...], "trainees": {}, "instructors": {}, "classrooms": {}, "category5s": {}}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from projections.builders.document import JSON, Built
from projections.builders.resources import ENCODER, STANDARD_MAPS, EventJson, events_document
from projections.rows import Classroom, EventRow

__all__ = ["STANDARD_MAPS", "TOO_MANY_EVENTS", "build_calendar", "too_many_events_body"]

TOO_MANY_EVENTS = "too_much_events"


def too_many_events_body(nb_events: int, max_events: int) -> bytes:
    """The 413 body the SPA expects; ``code`` and ``nb_events`` kept, the typo in ``detail`` fixed."""
    return ENCODER.encode(
        {"code": TOO_MANY_EVENTS, "detail": f"Exceeded limit of {max_events} events", "nb_events": nb_events}
    )


def build_calendar(
    events: Sequence[EventRow],
    classrooms: Mapping[str, Classroom],
    fragments: EventJson,
    *,
    max_events: int,
) -> Built:
    """``events``: the distinct events of the selection, in start order (see ``EventStore.rows``).

    Above ``max_events`` the document is a 413 marker: the query answers it as is.
    """
    nb_events = len(events)
    meta = {"nb_events": str(nb_events)}
    if nb_events > max_events:
        return Built(too_many_events_body(nb_events, max_events), JSON, status=413, meta=meta)
    document = events_document(events, classrooms, fragments, always_maps=STANDARD_MAPS)
    return Built(ENCODER.encode({"events": document}), JSON, meta=meta)
