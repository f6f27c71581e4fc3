"""Building coordinates for rooms (``SCHEDULESY_BUILDINGS_FILE``), replacing the Infocentre service.

The file is JSON, in either of two shapes:

- an object mapping building codes to coordinates: ``{"1059240": [48.607508, 7.708025, 0.0], ...}``;
- the original Infocentre answer, a list of buildings: ``[{"id": 1059240, "geolocation": [48.6, 7.7, 0]}, ...]``.

Coordinates are ``[lat, lon]`` or ``[lat, lon, alt]`` (altitude defaults to 0.0). Codes are matched
like the original did: an all-digit code is compared as an integer (``"01059240"`` = ``1059240``).
A room takes the coordinates of the deepest building-level ancestor whose code is known (docs/compatibility.md
§5.4: genealogy entries from position 2, i.e. below the category root and the site).

A missing or broken file is a warning: rooms then have no geolocation, and the sync carries on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import msgspec
import structlog

log = structlog.get_logger(__name__)

Geolocation: TypeAlias = list[float]

BUILDING_LEVEL = 2
"""Genealogy index of the first building-level entry: [category root, site, building, ...]."""


class Buildings(msgspec.Struct, frozen=True):
    coordinates: dict[str, Geolocation]
    version: str
    """Digest of the map: a new map re-geolocates rooms even when the ADE tree is unchanged."""
    warning: str = ""


NO_BUILDINGS = Buildings(coordinates={}, version="none")


def normalise_code(code: object) -> str:
    text = str(code).strip()
    return str(int(text)) if text.isdigit() else text


def _coordinates(value: Any) -> Geolocation | None:
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 3:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    lat, lon, *rest = (float(v) for v in value)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return [lat, lon, rest[0] if rest else 0.0]


def parse_buildings(data: Any) -> tuple[dict[str, Geolocation], int]:
    """(code → [lat, lon, alt], number of entries skipped as unreadable)."""
    pairs: list[tuple[Any, Any]]
    if isinstance(data, Mapping):
        pairs = list(data.items())
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        pairs = [(item.get("id"), item.get("geolocation")) if isinstance(item, Mapping) else (None, None)
                 for item in data]
    else:
        raise ValueError("expected a JSON object {code: [lat, lon, alt]} or a list of {id, geolocation}")
    coordinates: dict[str, Geolocation] = {}
    skipped = 0
    for code, value in pairs:
        point = _coordinates(value)
        if code is None or str(code).strip() == "" or point is None:
            skipped += 1
            continue
        coordinates[normalise_code(code)] = point
    return coordinates, skipped


def load_buildings(path: str) -> Buildings:
    """Read the file; never raises (a problem becomes ``warning`` and an empty map)."""
    if not path:
        return NO_BUILDINGS
    try:
        raw = Path(path).read_bytes()
        coordinates, skipped = parse_buildings(msgspec.json.decode(raw))
    except (OSError, msgspec.DecodeError, ValueError) as exc:
        message = f"buildings file {path!r} ignored: {exc}"
        log.warning("buildings file unusable", path=path, error=str(exc))
        return Buildings(coordinates={}, version="broken", warning=message)
    warning = f"{skipped} unreadable entries skipped in {path!r}" if skipped else ""
    if skipped:
        log.warning("buildings file has unreadable entries", path=path, skipped=skipped)
    digest = hashlib.sha256(msgspec.json.encode(sorted(coordinates.items()))).hexdigest()[:16]
    return Buildings(coordinates=coordinates, version=digest, warning=warning)


def geolocate(genealogy: Sequence[Mapping[str, str]], buildings: Buildings) -> Geolocation | None:
    """The deepest building-level ancestor with known coordinates wins; ``None`` if none is known."""
    if not buildings.coordinates:
        return None
    for entry in reversed(genealogy[BUILDING_LEVEL:]):
        code = entry.get("code", "")
        if code:
            point = buildings.coordinates.get(normalise_code(code))
            if point is not None:
                return point
    return None
