"""The academic calendar of a generated year: when it starts, which weeks hold classes, exams and resits.

Weeks are chosen from real dates (the French university rhythm: teaching from September, a break
around All Saints' Day, Christmas, winter and spring breaks, exams in January and May, resits in
June), so the events straddle both daylight-saving changes (late October, late March). The weeks
around "today" are always teaching weeks, so a demo's first screen shows a filled week.
"""

from __future__ import annotations

import datetime as dt

import msgspec


def academic_week0(today: dt.date) -> dt.date:
    """The second Monday of August that starts ``today``'s academic year.

    ADE projects start on a Monday in August (docs/ade.md §3.4 table: 2019-08-12, 2022-08-15, 2024-08-05); the
    second Monday keeps the first days of August, still last year's resits, out of the new year.
    """

    def second_monday(year: int) -> dt.date:
        first = dt.date(year, 8, 1)
        return first + dt.timedelta(days=(7 - first.weekday()) % 7 + 7)

    start = second_monday(today.year)
    return start if today >= start else second_monday(today.year - 1)


class AcademicCalendar(msgspec.Struct, frozen=True):
    rentree: tuple[int, ...]
    """The welcome week before classes."""
    semester1: tuple[int, ...]
    semester2: tuple[int, ...]
    exams1: tuple[int, ...]
    exams2: tuple[int, ...]
    resits: tuple[int, ...]
    current_week: int


def _weeks_where(week0: dt.date, weeks: int, start: tuple[int, int], end: tuple[int, int]) -> list[int]:
    """Project weeks whose Monday falls between two (month, day) bounds of the academic year."""
    found = []
    for week in range(weeks):
        monday = week0 + dt.timedelta(days=7 * week)
        year = week0.year if start[0] >= 8 else week0.year + 1
        low = dt.date(year, *start)
        high = dt.date(week0.year if end[0] >= 8 else week0.year + 1, *end)
        if low <= monday <= high:
            found.append(week)
    return found


def build_calendar(week0: dt.date, weeks: int, today: dt.date) -> AcademicCalendar:
    def between(start: tuple[int, int], end: tuple[int, int]) -> list[int]:
        return _weeks_where(week0, weeks, start, end)

    toussaint = set(between((10, 26), (11, 1)))
    winter = set(between((2, 22), (2, 28)))
    spring = set(between((4, 12), (4, 25)))
    semester1 = [w for w in between((9, 1), (12, 18)) if w not in toussaint]
    semester2 = [w for w in between((1, 18), (4, 30)) if w not in winter | spring]
    exams1, exams2 = between((1, 4), (1, 17)), between((5, 3), (5, 23))
    current = (today - week0).days // 7
    busy = set(semester1) | set(semester2) | set(exams1) | set(exams2)
    for week in range(current, min(current + 4, weeks)):
        if week in busy or week < 0:
            continue
        monday = week0 + dt.timedelta(days=7 * week)
        (semester1 if monday.month >= 8 else semester2).append(week)
    return AcademicCalendar(
        rentree=tuple(between((8, 25), (8, 31))),
        semester1=tuple(sorted(semester1)),
        semester2=tuple(sorted(semester2)),
        exams1=tuple(exams1),
        exams2=tuple(exams2),
        resits=tuple(between((6, 14), (6, 27))),
        current_week=current,
    )
