"""The OpenAPI description and its browsable page, served from the package (no CDN: works offline).

Swagger UI's files come from the ``swagger-ui-bundle-v2`` wheel (the unmodified ``swagger-ui-dist``
files). Which operations need a Bearer token is read from their ``identity`` dependency, the code
that enforces it, so the documentation cannot drift from it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from litestar import Litestar, MediaType, Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.response import File
from litestar.routes import HTTPRoute

from schedulesy.auth import optional_identity, require_identity
from schedulesy.errors import NotFound

SCHEMA_PATH = "/schema"
ASSETS_PATH = f"{SCHEMA_PATH}/assets"
BEARER_SCHEME = "bearerAuth"
TOKEN_REQUIRED: list[SecurityRequirement] = [{BEARER_SCHEME: []}]
TOKEN_OPTIONAL: list[SecurityRequirement] = [{}, {BEARER_SCHEME: []}]
"""OpenAPI's way to say "anonymous, or with a token": an empty requirement, or the scheme."""

_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
_ASSETS_DIR = Path(str(swagger_ui_bundle.swagger_ui_path))


class SwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI from :data:`ASSETS_PATH`; the token typed in "Authorize" survives a reload."""

    def __init__(self) -> None:
        super().__init__(
            path=["/", "/swagger"],
            favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        spec_url = self.get_openapi_json_route(request)
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">{self.favicon}
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">{self.style}</head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "{spec_url}", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: true, validatorUrl: null}});</script>
</body></html>""".encode()


@get(f"{ASSETS_PATH}/{{name:str}}", include_in_schema=False, sync_to_thread=False)
def docs_asset(name: FromPath[str]) -> File:
    """One of Swagger UI's files; anything else is a 404."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound("No such file")
    return File(_ASSETS_DIR / name, media_type=media_type, content_disposition_type="inline",
                headers={"Cache-Control": "public, max-age=86400"})


def openapi_config(title: str, version: str, description: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title=title,
        version=version,
        description=description,
        path=SCHEMA_PATH,
        render_plugins=[SwaggerUI()],
        components=Components(security_schemes={
            BEARER_SCHEME: SecurityScheme(
                type="http", scheme="bearer", bearer_format="JWT",
                description="An access token of the JWT server (`Authorization: Bearer <token>`).",
            )
        }),
    )


def document_bearer_security(app: Litestar) -> None:
    """Mark each operation whose ``identity`` dependency needs (or accepts) a Bearer token."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            provider = handler.resolve_dependencies().get("identity")
            wanted = getattr(provider, "dependency", None)
            if wanted is require_identity:
                _set_security(handler, TOKEN_REQUIRED)
            elif wanted is optional_identity:
                _set_security(handler, TOKEN_OPTIONAL)


def _set_security(handler: HTTPRouteHandler, requirement: list[SecurityRequirement]) -> None:
    handler.security = requirement

