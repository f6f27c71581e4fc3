"""HTTP handlers that serve read models from Redis (read-through rebuild on a miss)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from queries.calendars import CalendarController
from queries.config import ConfigController
from queries.deps import stop_read_cache
from queries.health import health_handlers
from queries.public import public_handlers
from queries.resources import ResourceController
from queries.timetables import TimetableController

route_handlers: list[ControllerRouterHandler] = [
    *health_handlers,
    ResourceController,
    *public_handlers,
    CalendarController,
    TimetableController,
    ConfigController,
]

shutdown_hooks = [stop_read_cache]
"""For the app factory's ``on_shutdown``: closes the read cache's Redis connections cleanly."""
