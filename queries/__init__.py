"""HTTP handlers that serve read models from Redis (read-through rebuild on a miss)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from queries.health import health_handlers

route_handlers: list[ControllerRouterHandler] = [*health_handlers]
