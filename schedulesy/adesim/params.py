"""Reading Web API parameters the way ADE does (``docs/ade.md`` §1.1).

Names are case-sensitive, booleans are not (``True``, ``TRUE``, ``true``), lists split on ``|`` (and
``,`` for ``weeks``/``days``); a malformed number or date is ADE's Java exception, not a crash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from schedulesy.adesim.errors import NUMBER_FORMAT, PARSE_ERROR, ErrorAnswer
from schedulesy.adesim.model import parse_request_date


def boolean(value: str | None, default: bool = False) -> bool:
    return default if value is None else value.strip().lower() == "true"


def integer(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ErrorAnswer(NUMBER_FORMAT, f'For input string: "{value}"') from None


def int_list(value: str) -> list[int]:
    """``1|2|3``, ``1,2,3`` and ranges ``4-7``; empty items are skipped."""
    out: list[int] = []
    for item in value.replace(",", "|").split("|"):
        item = item.strip()
        if not item:
            continue
        low, sep, high = item.partition("-")
        if sep and low:
            out.extend(range(integer(low), integer(high) + 1))
        else:
            out.append(integer(item))
    return out


def request_date(value: str) -> dt.date:
    try:
        return parse_request_date(value)
    except (ValueError, TypeError):
        raise ErrorAnswer(PARSE_ERROR, f'Unparseable date: "{value}"') from None


def detail_of(params: Mapping[str, str], full: int) -> int:
    """``detail`` absent or 0 means the full level ``full`` (docs/ade.md §3.3); above it is clamped."""
    raw = params.get("detail", "")
    level = integer(raw) if raw.strip() else 0
    return full if level <= 0 or level > full else level
