"""The names of ``schedulesy.sync_state`` rows: the ADE sync writes them, health and metrics read them."""

from __future__ import annotations

CYCLE = "cycle"
"""The row of a whole sync cycle: health's "last successful ADE sync" is its ``last_success``."""


def events_row(tier: str) -> str:
    """The row of one events tier of a cycle (``near``, ``far``, ``full``)."""
    return f"events:{tier}"


TREE_PREFIX = "tree:"


def tree_row(category: str) -> str:
    """The row of one resource tree (its fingerprint and figures)."""
    return f"{TREE_PREFIX}{category}"


def tree_probe_row(category: str) -> str:
    """The row holding the digest of one tree's cheap probe (:mod:`commands.ade_sync.treecheck`)."""
    return f"tree-probe:{category}"


TREES = "trees"
"""When the resource trees were last checked (on their own cadence); a ``NULL`` success asks for a check."""

BUILDINGS = "buildings"
"""The version of the buildings map the rooms were last placed with (a new map makes the trees due)."""

AUDIT = "audit"
"""The continuous timetable audit: its rotation cursor, the resources that differ, its counters."""

AMQP = "amqp"
"""The AMQP consumer's counters (messages, invalid ones, refreshes), added up across workers."""

FEED = "feed"
"""ADE's change feed: the consumers' heartbeat (``last_success_at``), since when it has been up without a
gap, and whether it is trusted to lead (:mod:`commands.ade_sync.feed`)."""
