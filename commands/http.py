"""HTTP controllers for the commands (translate HTTP ↔ command, nothing more)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

route_handlers: list[ControllerRouterHandler] = []
