"""Who is calling: Bearer JWT verification, the Litestar providers, and the token minter.

Tokens come from an external JWT server (docs/compatibility.md §2.1); we only verify them. Every failure is a
403 with the JSON error shape, never a 401 (docs/compatibility.md §1.4): the front end relies on it.

Superuser status comes only from ``SCHEDULESY_SUPERUSERS``, never from a claim: a leaked signing
key of a token server that serves many applications must not be able to mint administrators.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, TypeAlias

import jwt
import msgspec
import structlog
from litestar import Request
from litestar.di import NamedDependency, Provide

from schedulesy.errors import Forbidden
from schedulesy.jwtkeys import JwtKeyError, load_signing_key, load_verification_key
from schedulesy.lru import Lru
from schedulesy.settings import Settings, env_name
from schedulesy.usernames import is_username

log = structlog.get_logger(__name__)

BEARER = "bearer"
ACCESS_TOKEN_TYPE = "access"
DIRECTORY_ID_CLAIM = "directory_id"
DEFAULT_TOKEN_LIFETIME_SECONDS = 7 * 24 * 3600
MAX_TOKEN_LIFETIME_SECONDS = 366 * 24 * 3600  # a later `exp` is no credible expiry (1e308 would be "never")
TIME_CLAIMS = ("exp", "nbf", "iat")


class Identity(msgspec.Struct, frozen=True):
    """The authenticated caller."""

    username: str
    is_superuser: bool
    directory_id: str | None
    claims: dict[str, Any]

    def may_act_for(self, username: str) -> bool:
        """Owner-or-superuser, the one object permission of the API (docs/compatibility.md §2.3)."""
        return self.is_superuser or self.username == username


def _verification_key(settings: Settings) -> Any:
    try:
        return load_verification_key(settings)
    except JwtKeyError as exc:  # `serve` refuses to start so; an app built by hand answers 403
        log.error("jwt_key_unusable", error=str(exc))
        raise Forbidden("Token verification is not configured on this server") from None


def _bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER or not token or " " in token:
        raise Forbidden("Malformed Authorization header: expected 'Bearer <token>'")
    return token


def _username_from(claims: dict[str, Any], claim: str) -> str:
    username = claims.get(claim)
    if not isinstance(username, str) or not username.strip():
        raise Forbidden(f"Token has no usable {claim!r} claim")
    if not is_username(username):
        raise Forbidden(f"Token {claim!r} claim is not a valid username")
    return username


def _directory_id_from(claims: dict[str, Any]) -> str | None:
    value = claims.get(DIRECTORY_ID_CLAIM)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Forbidden(f"Token {DIRECTORY_ID_CLAIM!r} claim must be a string")
    return str(value)


_DECODE_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (jwt.InvalidSignatureError, "Token signature is invalid"),
    (jwt.InvalidAlgorithmError, "Token is not signed with the algorithm this server accepts"),
    (jwt.InvalidIssuerError, "Token issuer is not accepted"),
    (jwt.InvalidAudienceError, "Token audience is not accepted"),
    (jwt.DecodeError, "Token is not a well-formed JWT (header.claims.signature, base64url-encoded JSON)"),
)
"""PyJWT's exception → our fixed message: its own texts quote parser internals, never echoed."""


def _decode(settings: Settings, token: str) -> dict[str, Any]:
    """The signed claims; the time claims are checked by :func:`_check_times`, not by PyJWT."""
    key = _verification_key(settings)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[settings.jwt_algorithm],  # never the token's own choice (alg confusion)
            options={
                "require": ["exp"],
                "verify_aud": bool(settings.jwt_audience),
                # PyJWT accepts "exp": "123" and 1e308; _check_times wants integers within bounds.
                "verify_exp": False, "verify_nbf": False, "verify_iat": False,
            },
            issuer=settings.jwt_issuer or None,
            audience=settings.jwt_audience or None,
        )
    except jwt.MissingRequiredClaimError as exc:
        raise Forbidden(f"Token has no {exc.claim!r} claim", reason="token_invalid") from None
    except Exception as exc:  # a token is hostile input: whatever the parser hit, it is a 403
        message = next((text for kind, text in _DECODE_FAILURES if isinstance(exc, kind)), "Token is invalid")
        if not isinstance(exc, jwt.InvalidTokenError):
            log.warning("jwt_decode_failed", error=type(exc).__name__)
        raise Forbidden(message, reason="token_invalid") from None
    return claims


def _check_times(claims: dict[str, Any], leeway: float, now: float) -> None:
    """``exp``, ``nbf`` and ``iat`` are integer NumericDates (RFC 7519 §2) within sane bounds."""
    for name in TIME_CLAIMS:
        value = claims.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Forbidden(
                f"Token claim {name!r} must be an integer number of seconds since 1970", reason="token_invalid"
            )
        if value < 0:
            raise Forbidden(f"Token claim {name!r} is before 1970", reason="token_invalid")
    if claims["exp"] > now + MAX_TOKEN_LIFETIME_SECONDS + leeway:
        raise Forbidden(
            f"Token expires more than {MAX_TOKEN_LIFETIME_SECONDS // 86400} days from now: refused",
            reason="token_invalid",
        )
    if claims["exp"] < now - leeway:
        raise Forbidden("Token expired", reason="token_expired")
    if claims.get("nbf", 0) > now + leeway:
        raise Forbidden("Token is not valid yet (its 'nbf' claim is in the future)", reason="token_invalid")
    if claims.get("iat", 0) > now + leeway:
        raise Forbidden(
            "Token was issued in the future (its 'iat' claim): check the token server's clock", reason="token_invalid"
        )


def _verified_claims(settings: Settings, token: str) -> dict[str, Any]:
    claims = _decode(settings, token)
    _check_times(claims, settings.jwt_leeway, time.time())
    return claims


def authenticate(settings: Settings, authorization: str | None) -> Identity | None:
    """The caller named by an ``Authorization`` header; ``None`` without one; 403 when it is bad."""
    if authorization is None or not authorization.strip():
        return None
    token = _bearer_token(authorization)
    claims = _verified_claims(settings, token)
    token_type = claims.get("token_type")
    if token_type is not None and token_type != ACCESS_TOKEN_TYPE:
        raise Forbidden("Only access tokens are accepted", reason="token_invalid")
    username = _username_from(claims, settings.jwt_username_claim)
    return Identity(
        username=username,
        is_superuser=username in settings.superusers,
        directory_id=_directory_id_from(claims),
        claims=claims,
    )


def _remember_user(request: Request[Any, Any, Any], identity: Identity | None) -> None:
    """The request log reads ``scope["state"]["username"]`` (hashed there)."""
    if identity is not None:
        request.scope.setdefault("state", {})["username"] = identity.username


TOKEN_CACHE_SIZE = 10_000


class VerifiedTokens:
    """Identities of tokens already verified, by ``Authorization`` value, until they expire.

    RS256 verification plus PyJWT's parsing cost ~200 µs per request, more than a whole read
    (bench/bench_queries.py). Only tokens that passed :func:`authenticate` are kept; ``exp`` is
    re-checked on every use and a failure is never remembered.
    """

    def __init__(self, settings: Settings, size: int = TOKEN_CACHE_SIZE) -> None:
        self.settings = settings
        self._identities: Lru[str, tuple[Identity, float]] = Lru(size)

    def identify(self, authorization: str | None) -> Identity | None:
        if authorization is None:
            return None
        cached = self._identities.get(authorization)
        if cached is not None:
            remembered, expires_at = cached
            if time.time() <= expires_at:
                return remembered
            self._identities.discard(authorization)  # expired: authenticate() gives the proper 403
        identity = authenticate(self.settings, authorization)
        expires = identity.claims.get("exp") if identity is not None else None
        if identity is not None and isinstance(expires, (int, float)) and not isinstance(expires, bool):
            self._identities.put(authorization, (identity, float(expires) + self.settings.jwt_leeway))
        return identity


def _verified_tokens(request: Request[Any, Any, Any]) -> VerifiedTokens:
    """The process's cache, built by the app's lifespan."""
    tokens: VerifiedTokens = request.app.state.verified_tokens
    return tokens


def _identify(request: Request[Any, Any, Any]) -> Identity | None:
    authorization = None
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    identity = _verified_tokens(request).identify(authorization)
    _remember_user(request, identity)
    return identity


def require_identity(request: Request[Any, Any, Any]) -> Identity:
    """Provider for endpoints that need a caller: 403 JSON without valid credentials."""
    identity = _identify(request)
    if identity is None:
        raise Forbidden("Authentication credentials were not provided", reason="not_authenticated")
    return identity


def optional_identity(request: Request[Any, Any, Any]) -> Identity | None:
    """Provider for endpoints open to anonymous callers; bad credentials are still a 403
    (docs/compatibility.md §1.4)."""
    return _identify(request)


IdentityDep: TypeAlias = NamedDependency[Identity]
"""Annotate a handler parameter named ``identity`` with this (and provide it, below)."""
OptionalIdentityDep: TypeAlias = NamedDependency[Identity | None]

REQUIRE_IDENTITY = {"identity": Provide(require_identity, sync_to_thread=False)}
"""``dependencies=REQUIRE_IDENTITY`` on a controller: every handler needs a caller."""
OPTIONAL_IDENTITY = {"identity": Provide(optional_identity, sync_to_thread=False)}
"""``dependencies=OPTIONAL_IDENTITY``: anonymous callers allowed, bad credentials still 403."""


def mint_token(
    settings: Settings,
    username: str,
    superuser: bool = False,
    directory_id: str | None = None,
    lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS,
) -> str:
    """A signed access token shaped like the external JWT server's (demo, tests, operators).

    ``superuser`` grants nothing: superusers are ``SCHEDULESY_SUPERUSERS``. Asking for a superuser
    token for another name only logs a warning, so that a script notices its mistake.
    """
    if not is_username(username):
        raise ValueError(f"{username!r} is not a username: its tokens would be refused")
    if not 0 < lifetime_seconds <= MAX_TOKEN_LIFETIME_SECONDS:
        raise ValueError(f"the token lifetime must be between 1 and {MAX_TOKEN_LIFETIME_SECONDS} seconds (366 days)")
    if superuser and username not in settings.superusers:
        log.warning(
            "token_superuser_ignored",
            reason=f"{username!r} is not listed in {env_name('superusers')}; the token is a plain user's",
        )
    key = load_signing_key(settings)
    now = int(time.time())
    claims: dict[str, Any] = {
        "token_type": ACCESS_TOKEN_TYPE,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + int(lifetime_seconds),
        settings.jwt_username_claim: username,
    }
    if directory_id is not None:
        claims[DIRECTORY_ID_CLAIM] = directory_id
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm)
