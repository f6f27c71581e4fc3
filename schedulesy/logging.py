"""Structured logs: JSON lines in production, readable lines in a terminal.

Passwords and tokens never reach a log line: :func:`scrub` removes them from URLs and event
fields, and user names that only serve statistics are hashed with :func:`hash_username`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

_SECRET_FIELDS = ("password", "token", "authorization", "secret", "jwt", "private_key")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|sessionId|token|data)=)[^&#\s]*")


def scrub_url(url: str) -> str:
    """ADE puts the password (and the session id) in the query string: hide them."""
    return _SECRET_QUERY.sub(r"\1***", url)


def hash_username(username: str | None) -> str:
    if not username:
        return "anonymous"
    return hashlib.sha256(username.encode()).hexdigest()[:16]


def _scrub_processor(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for key in list(event):
        lowered = key.lower()
        if any(secret in lowered for secret in _SECRET_FIELDS):
            event[key] = "***"
        elif isinstance(event[key], str) and ("password=" in event[key] or "sessionId=" in event[key]):
            event[key] = scrub_url(event[key])
    return event


def _renderer(log_format: str) -> Any:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())


def _enrich() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub_processor,
    ]


def _processors(log_format: str) -> list[Any]:
    return [*_enrich(), structlog.processors.format_exc_info, _renderer(log_format)]


def stdlib_formatter(log_format: str = "console") -> logging.Formatter:
    """Renders the records of stdlib loggers (granian's, libraries') as our own lines: JSON or console."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_enrich()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _renderer(log_format)],
    )


def granian_log_config(log_format: str) -> dict[str, Any]:
    """granian's ``log_dictconfig``: its server and access loggers through :func:`stdlib_formatter`,
    on stderr like every other line. Plain data, so granian can hand it to the workers it spawns."""
    handler = {"class": "logging.StreamHandler", "formatter": "schedulesy", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"schedulesy": {"()": f"{__name__}.stdlib_formatter", "log_format": log_format}},
        "handlers": {"schedulesy": handler},
        "loggers": {
            "_granian": {"handlers": ["schedulesy"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["schedulesy"], "level": "INFO", "propagate": False},
        },
    }


def _level(level: str) -> int:
    return getattr(logging, level.upper(), logging.INFO)


def configure_logging(log_format: str = "console", level: str = "info") -> None:
    """Configure structlog (and the stdlib loggers it shares a stream with) once per process."""
    numeric_level = _level(level)
    structlog.configure(
        processors=_processors(log_format),
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(stdlib_formatter(log_format))
    logging.basicConfig(level=max(numeric_level, logging.WARNING), handlers=[handler])


def standalone_logger(log_format: str = "console", level: str = "info") -> Any:
    """A logger writing to stderr as :func:`configure_logging` would, before it runs (the settings
    that configure logging report their own problems) and without changing the global configuration."""
    return structlog.wrap_logger(
        structlog.PrintLogger(sys.stderr),
        processors=_processors(log_format),
        wrapper_class=structlog.make_filtering_bound_logger(_level(level)),
    )
