"""HTTP helpers shared by the command and query controllers."""

from __future__ import annotations

from schedulesy.errors import NotFound

JSON_SUFFIX = ".json"


def strip_json_suffix(value: str) -> str:
    """``"jean.dupont.json"`` → ``"jean.dupont"``; a missing or other suffix is a 404 (docs/compatibility.md §1.2)."""
    if not value.endswith(JSON_SUFFIX) or len(value) == len(JSON_SUFFIX):
        raise NotFound("Not found: JSON endpoints end with .json")
    return value[: -len(JSON_SUFFIX)]
