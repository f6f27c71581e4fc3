"""Every Redis key name. Nothing else in the code base builds a key string.

Calendars and ICS are keyed by a hash of the sorted selection, so users who pick the same
resources share one read model. Keys carry no cross-key assumptions (Redis Cluster friendly).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def normalise_selection(resources: Iterable[str]) -> tuple[str, ...]:
    """Distinct, non-empty ext_ids in a canonical order (numeric ids numerically)."""
    distinct = {r.strip() for r in resources if r and r.strip()}
    return tuple(sorted(distinct, key=lambda r: (not r.isdigit(), int(r) if r.isdigit() else 0, r)))


def selection_hash(resources: Iterable[str]) -> str:
    """A stable name for a selection: independent of order, duplicates and database ids."""
    canonical = ",".join(normalise_selection(resources))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class Keys:
    """Key names under one configurable prefix (``SCHEDULESY_REDIS_PREFIX``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def resource_node(self, ext_id: str) -> str:
        return f"{self.prefix}resource:{ext_id}"

    def resource_events(self, ext_id: str) -> str:
        return f"{self.prefix}events:{ext_id}"

    def resource_public_events(self, ext_id: str) -> str:
        return f"{self.prefix}events-public:{ext_id}"

    def calendar(self, selection: str) -> str:
        return f"{self.prefix}calendar:{selection}"

    def ics(self, selection: str) -> str:
        return f"{self.prefix}ics:{selection}"

    def ics_event(self, fragment_id: str) -> str:
        return f"{self.prefix}ics-event:{fragment_id}"

    def user(self, username: str) -> str:
        return f"{self.prefix}user:{username}"

    def access(self, key: str) -> str:
        return f"{self.prefix}access:{key}"

    def build_lock(self, key: str) -> str:
        """A short-lived lock so that many concurrent misses cause one build."""
        return f"{key}:building"

    def instructor_email(self, email: str) -> str:
        return f"{self.prefix}instructor-email:{email.lower()}"

    def pattern(self) -> str:
        """Every key of this deployment, for SCAN during a full rebuild."""
        return f"{self.prefix}*"
