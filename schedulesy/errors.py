"""One exception family, mapped to one JSON error shape in one place.

Every error answer is ``{"detail": <message>, "code": <machine code>, ...extra fields}``.
Handlers raise; they never build error responses themselves.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

import structlog

log = structlog.get_logger("schedulesy.errors")


class StartupError(Exception):
    """A configuration or environment problem that must stop a command before it starts.

    ``str()`` is one line naming the setting (or host) at fault and what to do; the CLI prints it
    without a traceback and exits non-zero.
    """


class ErrorBody(msgspec.Struct, kw_only=True):
    """The one error shape, for the OpenAPI schema; ``field`` names the body field at fault."""

    detail: str
    code: str
    field: str | msgspec.UnsetType = msgspec.UNSET


class ApiError(Exception):
    """An answer that is not a success. Subclasses fix the status and the code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(ApiError):
    status_code, code = 400, "bad_request"


class Forbidden(ApiError):
    status_code, code = 403, "forbidden"


class NotFound(ApiError):
    status_code, code = 404, "not_found"


class Conflict(ApiError):
    status_code, code = 409, "conflict"


class PreconditionFailed(ApiError):
    status_code, code = 412, "precondition_failed"


class PayloadTooLarge(ApiError):
    status_code, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status_code, code = 415, "unsupported_media_type"


class Unavailable(ApiError):
    status_code, code = 503, "unavailable"


_CODES_BY_STATUS = {
    400: "bad_request", 401: "forbidden", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 412: "precondition_failed", 413: "payload_too_large", 415: "unsupported_media_type",
    429: "too_many_requests", 500: "internal_error", 503: "unavailable",
}


def error_body(status_code: int, detail: str, code: str | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {"detail": detail, "code": code or _CODES_BY_STATUS.get(status_code, "error")}
    body.update(extra)
    return msgspec.json.encode(body)


def _response(status_code: int, body: bytes, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=headers)


def api_error_handler(_: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    return _response(exc.status_code, error_body(exc.status_code, exc.detail, exc.code, **exc.extra))


MAX_DETAIL_CHARS = 300


def _short(text: str) -> str:
    """Framework messages may quote the whole URL; an error body never echoes 20 KB back."""
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def http_exception_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status == 401:
        status = 403  # the front end expects 403 for every authentication failure (docs/compatibility.md §1.4)
    extra: dict[str, Any] = {}
    detail = str(exc.detail)
    if isinstance(exc, ValidationException):
        detail = detail.split(" for ", 1)[0] if detail.startswith("Validation failed") else detail
        if isinstance(exc.extra, list):
            extra["errors"] = [
                {k: _short(str(v)) for k, v in item.items()} if isinstance(item, dict) else _short(str(item))
                for item in exc.extra[:20]
            ]
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return _response(status, error_body(status, _short(detail), **extra), headers)


def unstorable_text_handler(_: Request[Any, Any, Any], exc: asyncpg.PostgresError) -> Response[bytes]:
    """A NUL byte or a character the database encoding lacks: the input is wrong, not the server."""
    return _response(400, error_body(400, "The request contains a character that cannot be stored (e.g. NUL)."))


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled_error", path=request.url.path, error=type(exc).__name__)
    return _response(
        HTTP_500_INTERNAL_SERVER_ERROR, error_body(500, "Internal server error; it has been logged.")
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ApiError: api_error_handler,
    asyncpg.exceptions.CharacterNotInRepertoireError: unstorable_text_handler,
    asyncpg.exceptions.UntranslatableCharacterError: unstorable_text_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}
