"""Which date windows the events step checks: the near term, the rest of the project year, or
the whole timeline; one probe request per window.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import msgspec
import structlog

from schedulesy.ade.client import AdeClient
from schedulesy.ade.dates import monday_of
from schedulesy.ade.errors import AdeBusinessError

log = structlog.get_logger(__name__)

FAR_WINDOW_WEEKS = 4
YEAR_WEEKS = 53
TAIL_YEARS = 5


class Window(msgspec.Struct, frozen=True):
    start: dt.date
    end: dt.date
    """Inclusive."""
    label: str = ""

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def near_windows(today: dt.date, weeks: int) -> list[Window]:
    """This week and the next ``weeks - 1``, as one window (one probe request)."""
    start = monday_of(today)
    return [Window(start, start + dt.timedelta(weeks=weeks, days=-1), "near")]


def split(start: dt.date, end: dt.date, weeks: int, label: str) -> list[Window]:
    windows = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + dt.timedelta(weeks=weeks, days=-1))
        windows.append(Window(cursor, last, label))
        cursor = last + dt.timedelta(days=1)
    return windows


def far_windows(today: dt.date, near_weeks: int, week0: dt.date, year_weeks: int = YEAR_WEEKS) -> list[Window]:
    """The rest of the project year after the near term (past weeks wait for the nightly pass)."""
    start = monday_of(today) + dt.timedelta(weeks=near_weeks)
    end = week0 + dt.timedelta(weeks=year_weeks, days=-1)
    return split(start, end, FAR_WINDOW_WEEKS, "far") if start <= end else []


def full_windows(week0: dt.date, year_weeks: int = YEAR_WEEKS) -> list[Window]:
    """Every week of the project, plus open tails before and after it: the whole timeline."""
    end = week0 + dt.timedelta(weeks=year_weeks, days=-1)
    windows = split(week0, end, FAR_WINDOW_WEEKS, "full")
    windows.insert(0, Window(week0.replace(year=week0.year - TAIL_YEARS), week0 - dt.timedelta(days=1), "tail"))
    windows.append(Window(end + dt.timedelta(days=1), end.replace(year=end.year + TAIL_YEARS), "tail"))
    return windows


async def project_week0(client: AdeClient, zone: zoneinfo.ZoneInfo, today: dt.date) -> dt.date:
    """The Monday of project week 0, from ``getDate(0, 0, 0)`` (in the institution's zone)."""
    try:
        answer = await client.get_date(0, 0, 0)
        return monday_of(answer.instant.astimezone(zone).date())
    except AdeBusinessError as exc:
        log.warning("getDate refused; guessing the project year", error=exc.message)
        return monday_of(today) - dt.timedelta(weeks=26)


async def windows_to_check(client: AdeClient, zone: zoneinfo.ZoneInfo, today: dt.date, near_weeks: int, *,
                           far: bool, full: bool, near: bool = True) -> list[Window]:
    """The near term (unless the change feed leads and it is not due); the rest of the year when ``far``;
    the whole timeline when ``full``."""
    windows = near_windows(today, near_weeks) if near or far else []
    if far or full:
        week0 = await project_week0(client, zone, today)
        if full:
            return full_windows(week0)
        windows += far_windows(today, near_weeks, week0)
    return windows
