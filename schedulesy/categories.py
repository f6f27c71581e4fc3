"""The one ADE resource category the code treats apart: rooms.

ADE's trees are named by their category key (``SCHEDULESY_ADE_CATEGORIES``). Rooms differ from the
others twice: an event's rooms carry where they are (genealogy, coordinates), and a room's events
are the only ones an anonymous caller may read — the university's public room-booking page
(docs/compatibility.md §3.4).
"""

from __future__ import annotations

CLASSROOM = "classroom"
"""The category key of rooms."""
INSTRUCTOR = "instructor"
"""The category key of teachers (hidden from anonymous readers; a change feed reports theirs)."""

ONLY_CLASSROOMS = "Only classrooms allowed"
"""The 403 an anonymous caller gets for any other resource's events."""


def open_to_anonymous(category: str | None) -> bool:
    """May an anonymous caller read the events of a resource of this category? Rooms only."""
    return category == CLASSROOM
