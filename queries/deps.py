"""What the read handlers receive: the caller (verified once per token) and the process's services.

Two measured choices (bench/bench_queries.py):
- A JWT is verified once, then remembered until it expires: RS256 verification plus PyJWT's
  parsing cost ~200 µs per request, more than the whole rest of a read. The cache is keyed by the
  exact ``Authorization`` value, holds only tokens that passed :func:`schedulesy.auth.authenticate`,
  re-checks ``exp`` on every use, and never stores a failure.
- Handlers take the services from ``request.app.state`` instead of a second injected dependency:
  Litestar resolves two dependencies of one handler concurrently, in an anyio task group, which
  costs more than the Redis read itself. ``identity`` stays the one injected dependency.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from litestar import Litestar, Request
from litestar.di import NamedDependency, Provide

from projections.readmodels import ReadModels
from queries import localcache
from queries.localcache import CachedReads, InvalidationStream, LocalCopies, tracked_prefixes
from schedulesy.auth import Identity, authenticate
from schedulesy.errors import Forbidden
from schedulesy.services import Services
from schedulesy.settings import Settings

IdentityDep = NamedDependency[Identity]
"""A handler parameter ``identity: IdentityDep`` receives the authenticated caller."""

OptionalIdentityDep = NamedDependency[Identity | None]
"""``identity: OptionalIdentityDep``: the caller, or ``None`` for an anonymous request."""

CACHED_READS = "queries.cached_reads"
TOKEN_CACHE = "queries.verified_tokens"
TOKEN_CACHE_SIZE = 10_000


def services_of(request: Request) -> Services:
    """The process's services (opened by the app's lifespan)."""
    return request.app.state.services  # type: ignore[no-any-return]


def read_models(request: Request) -> CachedReads:
    """The read-model facade (read-through, single-flight, Redis-down fallback) behind the
    process's invalidated in-memory copies (``queries/localcache.py``)."""
    services = services_of(request)
    reads = services.cache.get(CACHED_READS)
    if reads is None:
        copies = LocalCopies(localcache.MAX_BYTES)
        stream = InvalidationStream(services.settings.redis_url, tracked_prefixes(services.keys), copies)
        reads = services.cache[CACHED_READS] = CachedReads(ReadModels.for_services(services), services.keys,
                                                           copies, stream)
    reads.stream.ensure_running()
    return reads  # type: ignore[no-any-return]


class VerifiedTokens:
    """Identities of tokens already verified, by ``Authorization`` value, until they expire."""

    def __init__(self, settings: Settings, size: int = TOKEN_CACHE_SIZE) -> None:
        self.settings = settings
        self.size = size
        self._identities: OrderedDict[str, tuple[Identity, float]] = OrderedDict()

    def identify(self, authorization: str | None) -> Identity | None:
        if authorization is None:
            return None
        cached = self._identities.get(authorization)
        if cached is not None:
            remembered, expires_at = cached
            if time.time() <= expires_at:
                return remembered
            del self._identities[authorization]  # expired: authenticate() gives the proper 403
        identity = authenticate(self.settings, authorization)
        expires = identity.claims.get("exp") if identity is not None else None
        if identity is not None and isinstance(expires, (int, float)) and not isinstance(expires, bool):
            self._identities[authorization] = (identity, float(expires) + self.settings.jwt_leeway)
            while len(self._identities) > self.size:
                self._identities.popitem(last=False)
        return identity


def _verified_tokens(services: Services) -> VerifiedTokens:
    tokens = services.cache.get(TOKEN_CACHE)
    if tokens is None:
        tokens = services.cache[TOKEN_CACHE] = VerifiedTokens(services.settings)
    return tokens  # type: ignore[no-any-return]


def _identify(request: Request) -> Identity | None:
    authorization = None
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    identity = _verified_tokens(services_of(request)).identify(authorization)
    if identity is not None:  # the request log reads it (hashed there)
        request.scope.setdefault("state", {})["username"] = identity.username  # type: ignore[typeddict-unknown-key]
    return identity


def require_identity(request: Request) -> Identity:
    """403 JSON without valid credentials (contract §1.4)."""
    identity = _identify(request)
    if identity is None:
        raise Forbidden("Authentication credentials were not provided", reason="not_authenticated")
    return identity


def optional_identity(request: Request) -> Identity | None:
    """``None`` for anonymous callers; credentials that are present but bad are still a 403."""
    return _identify(request)


REQUIRE_IDENTITY = {"identity": Provide(require_identity, sync_to_thread=False)}
OPTIONAL_IDENTITY = {"identity": Provide(optional_identity, sync_to_thread=False)}


async def stop_read_cache(app: Litestar) -> None:
    """Shutdown hook: close the invalidation stream's connections (``Litestar(on_shutdown=[...])``)."""
    services = getattr(app.state, "services", None)
    reads = services.cache.get(CACHED_READS) if services is not None else None
    if reads is not None:
        await reads.stream.stop()
