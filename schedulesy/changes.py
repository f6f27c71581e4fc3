"""The names the change log is read and written by: its topics, its NOTIFY channel, its projections.

Commands (and the triggers of ``sql/``, which cannot import this module: a test checks that they
log only these topics and notify only this channel) write ``schedulesy.change`` rows; the
projector reads them as ``{topic: {key, ...}}`` batches (docs/architecture.md §3).
"""

from __future__ import annotations

import enum


class Topic(enum.StrEnum):
    """What a change-log row is about, and so what its key names."""

    USER = "user"
    """A login (``w_edtperso.uid``, ``customization_config.username``): their selection, settings."""
    ACCESS = "access"
    """A direct-access key (``schedulesy.access.key``)."""
    RESOURCE = "resource"
    """A node of ADE's trees (``schedulesy.resource.ext_id``)."""
    EVENT = "event"
    """An ADE event (``schedulesy.event.event_id``), its own row or the resources it books."""
    TIMETABLE = "timetable"
    """Which events a resource's timetable shows (``schedulesy.timetable.resource_ext_id``)."""
    HISTORY = "history"
    """A change of an event was recorded (``schedulesy.event_history``), keyed by each resource whose
    timetable showed the event: the change feeds of the selections naming it."""
    REBUILD = "rebuild"
    """Rebuild every read model (``schedulesy rebuild`` through the admin command); key :data:`REBUILD_ALL`."""


REBUILD_ALL = "all"
"""The key of a :attr:`Topic.REBUILD` row."""

CHANNEL = "schedulesy_change"
"""The NOTIFY channel that wakes the projector up; the payload is the topic (a hint, never the truth)."""


class Projection(enum.StrEnum):
    """A projector's name: its ``projector_checkpoint`` row, its leader lock, its health figures."""

    READ_MODELS = "read_models"
    """The Redis read models, the only projection so far."""
