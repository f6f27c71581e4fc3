"""HTTP handlers that serve read models, and the per-process state they share.

The app factory takes :data:`route_handlers` and runs :func:`open_query_state` in its lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar.types import ControllerRouterHandler

from projections.readmodels import ReadModels
from queries import localcache
from queries.calendars import CalendarController
from queries.changes import TimetableChangesController, UserChangesController
from queries.config import ConfigController, ade_config_json
from queries.deps import QueryState
from queries.health import health_handlers
from queries.localcache import InvalidationStream, LocalCopies
from queries.public import public_handlers
from queries.qrcodes import QrCache
from queries.reads import Reads, tracked_prefixes
from queries.resources import ResourceController
from queries.timetables import TimetableController
from schedulesy.services import Services

route_handlers: list[ControllerRouterHandler] = [
    *health_handlers,
    ResourceController,
    *public_handlers,
    CalendarController,
    TimetableController,
    TimetableChangesController,
    UserChangesController,
    ConfigController,
]


@asynccontextmanager
async def open_query_state(services: Services, models: ReadModels) -> AsyncIterator[QueryState]:
    """The query side's objects for the life of the app; the read cache's invalidation stream
    runs from start-up to shutdown (its connections closed cleanly)."""
    copies = LocalCopies(localcache.MAX_BYTES)
    stream = InvalidationStream(
        services.settings.redis_url, tracked_prefixes(services.keys), copies, services.settings.redis_mode
    )
    stream.start()
    try:
        yield QueryState(
            reads=Reads(models, copies), qr_codes=QrCache(), ade_config=ade_config_json(services.settings)
        )
    finally:
        await stream.stop()
