"""The academic calendar of a generated year: when it starts, which weeks hold classes, exams and resits.

Weeks are chosen from real dates (the French university rhythm): teaching from September to mid-December
with the All Saints' break (autumn), the Christmas break, first-semester exams in January, teaching again
from mid-January with a winter break in February and a spring break in April, exams in May, resits in
June. Public holidays (11 November, Easter Monday, 1 and 8 May, Ascension, Whit Monday) hold no classes.
The events straddle both daylight-saving changes (late October, late March).

A calendar can also be asked to teach through the four weeks from "today" whatever the date (the
``tiny`` preset does, so that tests that read "this week" find classes even during a break); the other
presets keep the real breaks, and the demo opens on the next teaching week when today falls in one.
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
    breaks: dict[str, tuple[int, ...]]
    """Named holidays: ``autumn``, ``christmas``, ``winter``, ``spring``."""
    public_holidays: tuple[tuple[int, int], ...]
    """(week, day) of the public holidays that fall in the project."""

    @property
    def teaching(self) -> tuple[int, ...]:
        return tuple(sorted(self.semester1 + self.semester2))


def easter(year: int) -> dt.date:
    """Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    lunar = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * lunar) // 451
    month, day = divmod(h + lunar - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def public_holidays(week0: dt.date) -> list[dt.date]:
    first, second = week0.year, week0.year + 1
    sunday = easter(second)
    return [dt.date(first, 11, 1), dt.date(first, 11, 11), dt.date(first, 12, 25), dt.date(second, 1, 1),
            sunday + dt.timedelta(days=1), dt.date(second, 5, 1), dt.date(second, 5, 8),
            sunday + dt.timedelta(days=39), sunday + dt.timedelta(days=50)]


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


def build_calendar(week0: dt.date, weeks: int, today: dt.date | None = None) -> AcademicCalendar:
    """The year's calendar; with ``today``, the four weeks from today's are teaching weeks whatever they were."""

    def between(start: tuple[int, int], end: tuple[int, int]) -> list[int]:
        return _weeks_where(week0, weeks, start, end)

    breaks = {"autumn": tuple(between((10, 26), (11, 1))), "christmas": tuple(between((12, 19), (1, 3))),
              "winter": tuple(between((2, 22), (2, 28))), "spring": tuple(between((4, 12), (4, 25)))}
    semester1 = [w for w in between((9, 7), (12, 18)) if w not in breaks["autumn"]]
    semester2 = [w for w in between((1, 25), (4, 30)) if w not in breaks["winter"] + breaks["spring"]]
    exams1, exams2 = between((1, 4), (1, 17)), between((5, 3), (5, 23))
    if today is not None:
        current = (today - week0).days // 7
        busy = set(semester1) | set(semester2) | set(exams1) | set(exams2)
        for week in range(max(current, 0), min(current + 4, weeks)):
            if week not in busy:
                monday = week0 + dt.timedelta(days=7 * week)
                (semester1 if monday.month >= 8 else semester2).append(week)
        breaks = {name: tuple(w for w in found if w not in semester1 + semester2) for name, found in breaks.items()}
    holidays = []
    for day in public_holidays(week0):
        offset = (day - week0).days
        if 0 <= offset < 7 * weeks and day.weekday() < 6:
            holidays.append(divmod(offset, 7))
    return AcademicCalendar(
        rentree=tuple(between((8, 25), (8, 31))),
        semester1=tuple(sorted(semester1)),
        semester2=tuple(sorted(semester2)),
        exams1=tuple(exams1),
        exams2=tuple(exams2),
        resits=tuple(between((6, 14), (6, 27))),
        breaks=breaks,
        public_holidays=tuple(holidays),
    )
