"""HTTP helpers shared by the command and query controllers."""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute

from schedulesy.errors import NotFound

JSON_SUFFIX = ".json"


def strip_json_suffix(value: str) -> str:
    """``"jean.dupont.json"`` → ``"jean.dupont"``; a missing or other suffix is a 404 (docs/compatibility.md §1.2)."""
    if not value.endswith(JSON_SUFFIX) or len(value) == len(JSON_SUFFIX):
        raise NotFound("Not found: JSON endpoints end with .json")
    return value[: -len(JSON_SUFFIX)]


def list_every_method_in_options(app: Litestar) -> None:
    """Make each path's automatic OPTIONS answer list all of the path's methods.

    Litestar (2.25) builds that answer when the first handler of a path is registered and keeps it
    when more are added, so ``Allow`` named only some methods (``OPTIONS, POST`` where ``GET`` is
    served too). Rebuilt here from the finished routes.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        handler, _ = route.route_handler_map["OPTIONS"]
        if handler.include_in_schema is False and handler.handler_name == "options_handler":
            handler(route.create_options_handler(route.path).fn)
