"""What the read handlers receive besides the caller (schedulesy.auth): the process's services
and the query side's state, both built once by the app's lifespan.

A measured choice (bench/bench_queries.py): handlers take them from ``request.app.state``
instead of a second injected dependency:
  Litestar resolves two dependencies of one handler concurrently, in an anyio task group, which
  costs more than the Redis read itself. ``identity`` stays the one injected dependency.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Request

from queries.delivery import StaticJson
from queries.pages.assets import load as load_page_assets
from queries.pages.render import Pages
from queries.qrcodes import QrCache
from queries.reads import Reads
from schedulesy.services import Services


@dataclasses.dataclass(frozen=True)
class QueryState:
    """The query side's per-process objects (``queries.open_query_state``)."""

    reads: Reads
    qr_codes: QrCache
    ade_config: StaticJson
    """``/api/ade_config.json``: it only depends on the settings."""
    pages: Pages = dataclasses.field(default_factory=lambda: Pages(load_page_assets()))
    """The pages' templates, assets and rendered pages (``queries/pages``)."""


def services_of(request: Request[Any, Any, Any]) -> Services:
    """The process's services (opened by the app's lifespan)."""
    services: Services = request.app.state.services
    return services


def query_state(request: Request[Any, Any, Any]) -> QueryState:
    state: QueryState = request.app.state.queries
    return state


def reads_of(request: Request[Any, Any, Any]) -> Reads:
    """The read models: memory, else Redis, else built from Postgres (``queries/reads.py``)."""
    reads: Reads = request.app.state.queries.reads
    return reads
