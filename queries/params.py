"""Path and query parameters of the read API: parse them, or answer 404/400 before any lookup.

Malformed identifiers are 404 (they name nothing), never 500 and never a Redis round trip.
A malformed key and an unknown or revoked one give the very same answer.
"""

from __future__ import annotations

import re
import uuid

from schedulesy.errors import BadRequest, NotFound
from schedulesy.http import strip_json_suffix
from schedulesy.usernames import may_own_customization

EXT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""ADE ids are numeric; category roots use their key (``classroom``, ``category5`` ...)."""

EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f-\x9f]{1,128}@[^@\s\x00-\x1f\x7f-\x9f]{1,254}")  # no control characters
EMAIL_FILTER_PATTERN = rf"^\s*({EMAIL.pattern})?\s*$"
"""What :func:`email_filter` accepts, for the OpenAPI description (blank means no filter: 412)."""
MAX_EMAIL_LENGTH = 320

UNKNOWN_KEY = "No timetable for this key"
"""The one answer for malformed, unknown and revoked keys, so none can be told apart."""


def ext_id_from(segment: str) -> str:
    """``"1616.json"`` → ``"1616"``; anything that cannot be an ADE id is a 404."""
    ext_id = strip_json_suffix(segment)
    if not EXT_ID.fullmatch(ext_id):
        raise NotFound("No such resource")
    return ext_id


def username_from(segment: str) -> str:
    """``"jean.dupont.json"`` → ``"jean.dupont"`` (greedy: the last ``.json`` is the suffix); a
    login that no customization can have is a 404."""
    username = strip_json_suffix(segment)
    if not may_own_customization(username):
        raise NotFound("No calendar for this user")
    return username


def access_key(value: str) -> str:
    """The canonical text of an access key (a UUID); anything else is the unknown-key 404."""
    if len(value) > 45:
        raise NotFound(UNKNOWN_KEY)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(UNKNOWN_KEY) from None


def key_with_suffix(segment: str, suffixes: tuple[str, ...]) -> tuple[str, str]:
    """``"<uuid>.ics"`` → (canonical key, ``".ics"``); a missing or other suffix is a 404."""
    for suffix in suffixes:
        if segment.endswith(suffix) and len(segment) > len(suffix):
            return access_key(segment[: -len(suffix)]), suffix
    raise NotFound(UNKNOWN_KEY)


def email_filter(value: str | None) -> str | None:
    """The instructor search filter: ``None`` when absent or blank, 400 when not an address."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_EMAIL_LENGTH or not EMAIL.fullmatch(value):
        raise BadRequest("email: expected an e-mail address", field="email")
    return value
