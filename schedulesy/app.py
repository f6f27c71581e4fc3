"""The Litestar application factory: wiring only, no behaviour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide

from schedulesy.apidocs import docs_asset, document_bearer_security, openapi_config
from schedulesy.auth import VerifiedTokens
from schedulesy.errors import EXCEPTION_HANDLERS
from schedulesy.http import list_every_method_in_options
from schedulesy.logging import configure_logging
from schedulesy.requestlog import RequestLogMiddleware
from schedulesy.services import Services, open_services
from schedulesy.settings import Settings, get_settings
from schedulesy.uploads import FinishUploadMiddleware
from schedulesy.vary import NoteVaryMiddleware, restore_vary


def _services(state: State) -> Services:
    services: Services = state.services
    return services


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the API (commands + queries + health) for ``settings`` (default: the environment)."""
    settings = settings or get_settings()
    configure_logging(settings.log_format, settings.log_level)

    # The app factory is the composition root: the one place that imports commands/ and queries/
    # (and hands the query side the process's read models).
    from commands.admin import stop_sync_runs
    from commands.http import route_handlers as command_handlers
    from projections.readmodels import ReadModels
    from queries import open_query_state
    from queries import route_handlers as query_handlers
    from queries.pages.handlers import page_handlers
    from queries.spa import front_end_handlers, load_front_end

    # Read before anything starts: a missing or broken directory stops the app with one line.
    front_end = front_end_handlers(load_front_end(settings)) if settings.spa_dir else []

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        """Every per-process object, built (and started) here before the first request, stopped
        after the last: nothing is created lazily by a request."""
        async with open_services(settings) as services:
            models = ReadModels(services)
            async with open_query_state(services, models) as queries:
                app.state.services = services
                app.state.read_models = models
                app.state.verified_tokens = VerifiedTokens(settings)
                app.state.queries = queries
                try:
                    yield
                finally:
                    await stop_sync_runs()

    # "*" with credentials is refused by browsers: any origin is allowed by echoing it (docs/compatibility.md §1.5).
    any_origin = "*" in settings.cors_origins
    cors = CORSConfig(
        allow_origins=[] if any_origin else list(settings.cors_origins),
        allow_origin_regex=".*" if any_origin else None,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["authorization", "content-type", "if-none-match", "if-modified-since"],
        expose_headers=["etag", "last-modified", "content-disposition"],
    )
    app = Litestar(
        route_handlers=[*command_handlers, *query_handlers, docs_asset, *front_end,
                        *page_handlers(front_end_hosted=bool(front_end))],
        lifespan=[lifespan],
        dependencies={"services": Provide(_services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[FinishUploadMiddleware, NoteVaryMiddleware],
        cors_config=cors,
        before_send=[restore_vary],  # outside the CORS layer, which replaces our Vary with Origin
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(
            title="Schedulesy",
            version="0.1.0",
            description="Personal timetables from ADE Campus: JSON for the front end, ICS for calendar apps.",
        ),
        debug=False,
    )
    # Around the router, not its routes: 404s, 405s and CORS preflights are logged and counted too.
    app.asgi_handler = RequestLogMiddleware(app.asgi_handler)
    document_bearer_security(app)
    list_every_method_in_options(app)
    return app
