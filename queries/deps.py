"""What the read handlers receive besides the caller (schedulesy.auth): the process's services
and the cached read models.

A measured choice (bench/bench_queries.py): handlers take the services from ``request.app.state``
instead of a second injected dependency:
  Litestar resolves two dependencies of one handler concurrently, in an anyio task group, which
  costs more than the Redis read itself. ``identity`` stays the one injected dependency.
"""

from __future__ import annotations

from litestar import Litestar, Request

from projections.readmodels import ReadModels
from queries import localcache
from queries.localcache import InvalidationStream, LocalCopies
from queries.reads import Reads, tracked_prefixes
from schedulesy.services import Services

CACHED_READS = "queries.cached_reads"
READ_CACHE_STREAM = "queries.read_cache_stream"


def services_of(request: Request) -> Services:
    """The process's services (opened by the app's lifespan)."""
    return request.app.state.services  # type: ignore[no-any-return]


def read_models(request: Request) -> Reads:
    """The read facade (memory, else Redis, else built from Postgres: ``queries/reads.py``)."""
    services = services_of(request)
    reads = services.cache.get(CACHED_READS)
    if reads is None:
        copies = LocalCopies(localcache.MAX_BYTES)
        services.cache[READ_CACHE_STREAM] = InvalidationStream(
            services.settings.redis_url, tracked_prefixes(services.keys), copies
        )
        reads = services.cache[CACHED_READS] = Reads(ReadModels(services), copies)
    services.cache[READ_CACHE_STREAM].start()
    return reads  # type: ignore[no-any-return]


async def stop_read_cache(app: Litestar) -> None:
    """Shutdown hook: close the invalidation stream's connections (``Litestar(on_shutdown=[...])``)."""
    services = getattr(app.state, "services", None)
    stream = services.cache.get(READ_CACHE_STREAM) if services is not None else None
    if stream is not None:
        await stream.stop()
