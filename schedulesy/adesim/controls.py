"""What the admin API can set on a running simulator (faults, quirks, config) and the counters it reads."""

from __future__ import annotations

from typing import Literal

import msgspec

from schedulesy.adesim.errors import NULL_POINTER


class Faults(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Failures to inject into Web API answers (never into the admin API)."""

    down: Literal["503", "drop", "empty"] | None = None
    delay_ms: float = 0.0
    per_kb_ms: float = 0.0
    error_next: int = 0
    error_fraction: float = 0.0
    error_functions: list[str] | None = None
    error_name: str = NULL_POINTER
    error_trace: str = "Injected fault"
    seed: int = 0


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Server settings a test may change while the simulator runs."""

    session_ttl: float = 1800.0
    max_concurrency: int | None = None


class Stats(msgspec.Struct, kw_only=True):
    """Web API request counters, read through ``GET /admin/stats``."""

    total: int = 0
    functions: dict[str, int] = msgspec.field(default_factory=dict)
    errors_injected: int = 0
    dropped: int = 0
    max_in_flight: int = 0
    in_flight: int = 0


class Quirks(msgspec.Struct, kw_only=True):
    """Switches for behaviours real ADE servers differ on (docs/ade.md §7.2); all off = a 2024 server."""

    legacy_attributes: bool = False
    """Omit ``old*``, ``isNoteLock`` and ``isStrongLock`` like 2019 servers."""
    empty_dates: bool = False
    """Empty ``lastUpdate`` and ``creation`` like ADE 2025.1 (EMARG issue #49)."""
    shuffle_events: bool = False
    """A fixed pseudo-random event order instead of ascending ids."""
    content_type_charset: bool = False
    """Say ``charset=UTF-8`` in Content-Type (real servers do not, hence mojibake in clients)."""
    renumber_on_move: bool = False
    """Every admin move gives the event a new id, as ADE sometimes does (EMARG PR #62)."""
