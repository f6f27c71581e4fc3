"""The read models: which Redis documents a change touches, and how each is (re)built.

INTERFACE STUB — the read-model author replaces the bodies; the signatures are what the
projector worker (projections/worker.py) and the query side (queries/) rely on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set

import msgspec

from schedulesy.services import Services


class ApplyReport(msgspec.Struct):
    """What one batch did, for the worker's log line and metrics."""

    documents_written: int = 0
    documents_deleted: int = 0


class ReadModels:
    """Rebuilds read models from Postgres into Redis (worker) and reads them back (queries)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def apply(self, changes: Mapping[str, Set[str]]) -> ApplyReport:
        """Rebuild every read model affected by ``changes`` (topic → keys); idempotent."""
        raise NotImplementedError

    async def rebuild_all(self, progress: Callable[[int, int], None] | None = None) -> ApplyReport:
        """Rebuild every read model from Postgres (``schedulesy rebuild``)."""
        raise NotImplementedError
