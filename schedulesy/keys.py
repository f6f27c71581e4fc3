"""Every Redis key name. Nothing else in the code base builds a key string.

Calendars and ICS are keyed by the selection's hash (``schedulesy.selection.Selection.hash``), so
users who pick the same resources share one read model. Keys carry no cross-key assumptions
(Redis Cluster friendly).
"""

from __future__ import annotations

import uuid

import msgspec


def canonical_access_key(key: str) -> str | None:
    """The canonical text of an access key (a UUID), as its key is named; None for anything else."""
    if len(key) != 36:
        return None
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return None


class Families(msgspec.Struct, frozen=True):
    """The prefix of each key family: a key is its family's prefix followed by an id. Whoever
    works on a whole family (a rebuild's cleanup, a TTL policy, cache tracking) names it here."""

    resource_node: str
    resource_events: str
    resource_public_events: str
    calendar: str
    ics: str
    ics_event: str
    user: str
    access: str
    instructor_email: str
    changes: str
    changes_atom: str


class Keys:
    """Key names under one configurable prefix (``SCHEDULESY_REDIS_PREFIX``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.families = Families(
            resource_node=f"{prefix}resource:",
            resource_events=f"{prefix}events:",
            resource_public_events=f"{prefix}events-public:",
            calendar=f"{prefix}calendar:",
            ics=f"{prefix}ics:",
            ics_event=f"{prefix}ics-event:",
            user=f"{prefix}user:",
            access=f"{prefix}access:",
            instructor_email=f"{prefix}instructor-email:",
            changes=f"{prefix}changes:",
            changes_atom=f"{prefix}changes-atom:",
        )

    def resource_node(self, ext_id: str) -> str:
        return self.families.resource_node + ext_id

    def resource_events(self, ext_id: str) -> str:
        return self.families.resource_events + ext_id

    def resource_public_events(self, ext_id: str) -> str:
        return self.families.resource_public_events + ext_id

    def calendar(self, selection_hash: str) -> str:
        return self.families.calendar + selection_hash

    def ics(self, selection_hash: str) -> str:
        return self.families.ics + selection_hash

    def ics_event(self, fragment_id: str) -> str:
        return self.families.ics_event + fragment_id

    def user(self, username: str) -> str:
        return self.families.user + username

    def access(self, key: str) -> str:
        return self.families.access + key

    def changes(self, selection_hash: str, lang: str) -> str:
        """A selection's change feed as JSON, in one language."""
        return f"{self.families.changes}{selection_hash}:{lang}"

    def changes_atom(self, selection_hash: str, lang: str) -> str:
        """A selection's change feed as Atom, in one language."""
        return f"{self.families.changes_atom}{selection_hash}:{lang}"

    def build_lock(self, key: str) -> str:
        """A short-lived lock so that many concurrent misses cause one build."""
        return f"{key}:building"

    def instructor_email(self, email: str) -> str:
        return self.families.instructor_email + email.lower()

    def pattern(self) -> str:
        """Every key of this deployment, for SCAN during a full rebuild."""
        return f"{self.prefix}*"
