"""How plausible a generated university is: the measures the tests and ``bench/bench_simulator.py`` check.

A student group is a trainee leaf: it attends the events booked on it and on its ancestors (its TD
group, its year, its programme, its faculty), as ADE's ancestor scope shows them. Everything is
computed from the frozen :class:`~schedulesy.adesim.model.University` alone (with its academic calendar).

- ``clash_rate``: the share of events that overlap another event booking the same room, the same
  instructor, or a group one of whose students also attends it;
- per group: events a year, hours in each teaching week, hours per weekday over the year, whether
  each day with classes keeps a lunch hour free between 11:30 and 14:00;
- per instructor, hours in each teaching week; per room, the share of its opening hours booked each week
  (opening hours: Monday-Friday 08:00-19:30 and Saturday 08:00-12:30).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable

import msgspec

from schedulesy.adesim.model import University
from schedulesy.adesim.schedule import OPENING_MINUTES

LUNCH_WINDOW = (11 * 60 + 30, 14 * 60)
LUNCH_BREAK_MINUTES = 60


class Profile(msgspec.Struct, kw_only=True):
    events: int
    resources: int
    weekday_events: list[int]
    """Events starting on each day, Monday first."""
    monday_8am_share: float
    busiest_start_share: float
    """The share of all events starting at the single most common (day, time)."""
    clash_rate: float
    earliest_start: int
    latest_end: int
    """Minutes after midnight."""
    group_events: dict[int, int]
    """Events a year per group (trainee leaf)."""
    group_week_hours: dict[int, list[float]]
    """Hours in each teaching week, per group."""
    group_weekday_hours: dict[int, list[float]]
    """Hours on each weekday (Monday-Saturday) over the year, per group."""
    lunch_days: float
    """Share of (group, day with classes) that keep a free hour for lunch."""
    instructor_week_hours: dict[int, list[float]]
    """Hours in each teaching week where the instructor teaches."""
    room_fill: float
    """The highest share of opening hours a room is booked in one week."""
    teaching_weeks: list[int]

    def summary(self) -> dict[str, object]:
        """The headline figures, for a report or a benchmark line."""
        weekly = [h for hours in self.group_week_hours.values() for h in hours]
        counts = sorted(self.group_events.values())
        ratios = [max(d[:5]) / min(d[:5]) if min(d[:5]) else float("inf")
                  for d in self.group_weekday_hours.values() if sum(d)]
        teach = [statistics.mean(h) for h in self.instructor_week_hours.values() if h]
        return {
            "events": self.events, "resources": self.resources, "weekday_events": self.weekday_events,
            "monday_8am_share": round(self.monday_8am_share, 4),
            "busiest_start_share": round(self.busiest_start_share, 4),
            "clash_rate": round(self.clash_rate, 4),
            "day_span": f"{self.earliest_start // 60:02d}:{self.earliest_start % 60:02d}-"
                        f"{self.latest_end // 60:02d}:{self.latest_end % 60:02d}",
            "groups": len(counts),
            "group_events_min_median_max": [counts[0], counts[len(counts) // 2], counts[-1]] if counts else [],
            "group_week_hours_min_median_max": [round(min(weekly), 1), round(statistics.median(weekly), 1),
                                                round(max(weekly), 1)] if weekly else [],
            "weekday_ratio_median_max": [round(statistics.median(ratios), 2), round(max(ratios), 2)]
            if ratios else [],
            "lunch_days": round(self.lunch_days, 3),
            "instructor_mean_week_hours_min_median_max": [round(min(teach), 1), round(statistics.median(teach), 1),
                                                          round(max(teach), 1)] if teach else [],
            "instructor_week_hours_max": max((max(h) for h in self.instructor_week_hours.values() if h),
                                             default=0.0),
            "room_fill_max": round(self.room_fill, 3),
        }


def _overlapping(intervals: Iterable[tuple[int, int, int]]) -> set[int]:
    """Indexes of the intervals (start, end, index) that overlap another one."""
    found: set[int] = set()
    last_end, last_index = -1, -1
    for start, end, index in sorted(intervals):
        if start < last_end:
            found.add(index)
            found.add(last_index)
        if end > last_end:
            last_end, last_index = end, index
    return found


def profile(university: University) -> Profile:
    project = university.project
    teaching = list(university.calendar.teaching)
    teaching_set = set(teaching)
    unit = project.slot_minutes
    resources = {r.id: r for r in university.resources}
    children: dict[int, list[int]] = defaultdict(list)
    for r in university.resources:
        children[r.parent_id].append(r.id)
    leaves_under: dict[int, list[int]] = {}

    def leaves_of(rid: int) -> list[int]:
        if rid not in leaves_under:
            kids = children.get(rid, [])
            leaves_under[rid] = [leaf for k in kids for leaf in leaves_of(k)] if kids else [rid]
        return leaves_under[rid]

    group_leaves = [r.id for r in university.resources if r.category == "trainee" and not r.is_group]
    per_group: dict[int, list[tuple[int, int, int]]] = {g: [] for g in group_leaves}
    per_resource: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    weekday = [0] * 7
    starts: dict[tuple[int, int], int] = defaultdict(int)
    earliest, latest = 24 * 60, 0
    for index, e in enumerate(university.events):
        begin = project.minutes_of(e.slot)
        end = begin + e.duration * unit
        earliest, latest = min(earliest, begin), max(latest, end)
        weekday[e.day] += 1
        starts[(e.day, begin)] += 1
        absolute = (e.week * 7 + e.day) * 24 * 60 + begin
        interval = (absolute, absolute + e.duration * unit, index)
        attendees: set[int] = set()
        for b in e.resources:
            category = resources[b.resource_id].category if b.resource_id in resources else ""
            if category == "trainee":
                attendees.update(leaves_of(b.resource_id))
            elif category in ("classroom", "instructor"):
                per_resource[b.resource_id].append(interval)
        for leaf in attendees:
            per_group[leaf].append(interval)
    clashing: set[int] = set()
    for intervals in (*per_group.values(), *per_resource.values()):
        clashing |= _overlapping(intervals)

    group_week_hours: dict[int, list[float]] = {}
    group_weekday_hours: dict[int, list[float]] = {}
    lunch_ok = lunch_days = 0
    day_minutes = 24 * 60
    for leaf, intervals in per_group.items():
        weeks: dict[int, float] = dict.fromkeys(teaching, 0.0)
        days = [0.0] * 6
        by_day: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for start, end, _ in intervals:
            week, rest = divmod(start, 7 * day_minutes)
            day = rest // day_minutes
            hours = (end - start) / 60
            if week in teaching_set:
                weeks[week] += hours
                if day < 6:
                    days[day] += hours
            by_day[start // day_minutes].append((start % day_minutes, end - start + start % day_minutes))
        group_week_hours[leaf] = [weeks[w] for w in teaching]
        group_weekday_hours[leaf] = days
        for spans in by_day.values():
            lunch_days += 1
            lunch_ok += _has_lunch_break(spans)
    instructor_week_hours: dict[int, list[float]] = {}
    room_fill = 0.0
    for rid, intervals in per_resource.items():
        weekly: dict[int, float] = defaultdict(float)
        for start, end, _ in intervals:
            weekly[start // (7 * day_minutes)] += (end - start) / 60
        if resources[rid].category == "instructor":
            instructor_week_hours[rid] = [weekly[w] for w in teaching if weekly.get(w)]
        else:
            room_fill = max(room_fill, max(weekly.values()) * 60 / OPENING_MINUTES)
    total = len(university.events) or 1
    return Profile(
        events=len(university.events), resources=len(university.resources), weekday_events=weekday,
        monday_8am_share=starts[(0, 8 * 60)] / total, busiest_start_share=max(starts.values(), default=0) / total,
        clash_rate=len(clashing) / total, earliest_start=earliest, latest_end=latest,
        group_events={leaf: len(v) for leaf, v in per_group.items()}, group_week_hours=group_week_hours,
        group_weekday_hours=group_weekday_hours, lunch_days=lunch_ok / (lunch_days or 1),
        instructor_week_hours=instructor_week_hours, room_fill=room_fill, teaching_weeks=teaching,
    )


def _has_lunch_break(spans: list[tuple[int, int]]) -> bool:
    """Whether a free hour lies between 11:30 and 14:00 on a day with these (start, end) minutes."""
    low, high = LUNCH_WINDOW
    free_from = low
    for start, end in sorted(spans):
        if end <= low or start >= high:
            continue
        if min(start, high) - free_from >= LUNCH_BREAK_MINUTES:
            return True
        free_from = max(free_from, end)
    return high - free_from >= LUNCH_BREAK_MINUTES
