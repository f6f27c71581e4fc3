"""Configuration the original exposed to authenticated clients (docs/compatibility.md §3.11, §3.12).

Neither is used by the front end; both are kept for other clients.

- ``display_types.json``: the original read names from a DisplayType table nobody maintained.
  We serve the display modes the front end actually knows (``configuration.displayMode``,
  docs/compatibility.md §4.3.3), a static list: there is nothing to configure, and no table to keep.
- ``ade_config.json``: the ADE Web API address without any credentials (no user, password or
  query string) and the project id, both from the settings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from litestar import Controller, Request, get

from queries import openapi
from queries.delivery import JSON_MEDIA_TYPE, BytesResponse, RequestConditions, StaticJson, static_document_response
from queries.deps import query_state
from schedulesy.auth import REQUIRE_IDENTITY, IdentityDep
from queries.schemas import AdeConfig
from schedulesy.settings import Settings

DISPLAY_TYPES = ("month", "week", "custom", "day", "list")
CONFIG_CACHE_CONTROL = "private, max-age=3600"

DISPLAY_TYPES_JSON = StaticJson.of(list(DISPLAY_TYPES))


def ade_base_url(url: str) -> str:
    """``http://user:pw@ade.example/jsp/webapi?login=x`` → ``http://ade.example/jsp/webapi``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def ade_config_json(settings: Settings) -> StaticJson:
    return StaticJson.of(
        AdeConfig(base_url=ade_base_url(settings.ade_url), params={"projectId": str(settings.ade_project_id)})
    )


def _serve(static: StaticJson, request: Request[Any, Any, Any]) -> BytesResponse:
    return static_document_response(static.body, static.etag, RequestConditions(request.scope),
                                    media_type=JSON_MEDIA_TYPE, cache_control=CONFIG_CACHE_CONTROL)


class ConfigController(Controller):
    path = "/api"
    tags = ["configuration"]
    dependencies = REQUIRE_IDENTITY

    @get(
        "/display_types.json",
        operation_class=openapi.CachedOperation,
        summary="Display modes",
        description="The calendar display modes the front end offers (`configuration.displayMode`): a static list.",
        responses=openapi.responses(openapi.json_body(list[str], "The display mode names."),
                                    r403=openapi.FORBIDDEN),
    )
    async def display_types(self, request: Request[Any, Any, Any], identity: IdentityDep) -> BytesResponse:
        return _serve(DISPLAY_TYPES_JSON, request)

    @get(
        "/ade_config.json",
        operation_class=openapi.CachedOperation,
        summary="ADE connection parameters",
        description="The ADE Web API base URL (never with credentials) and the project id.",
        responses=openapi.responses(openapi.json_body(AdeConfig, "Where ADE is."), r403=openapi.FORBIDDEN),
    )
    async def ade_config(self, request: Request[Any, Any, Any], identity: IdentityDep) -> BytesResponse:
        return _serve(query_state(request).ade_config, request)
