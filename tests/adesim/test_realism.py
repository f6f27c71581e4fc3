"""The generated universities look like real ones, checked on the data of every preset (docs/ade.md §7.4).

``large`` is generated once for the module (a few seconds); the measures come from
:func:`schedulesy.adesim.realism.profile`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterator

import pytest

from schedulesy.adesim.generate import generate
from schedulesy.adesim.model import University
from schedulesy.adesim.realism import Profile, profile
from schedulesy.adesim.schedule import DAY_END, QUIRK_RATE, SATURDAY_END

TODAY = dt.date(2026, 11, 28)
PRESETS = ["tiny", "demo", pytest.param("large", marks=pytest.mark.slow)]


class Generated:
    def __init__(self, university: University) -> None:
        self.university = university
        self.profile: Profile = profile(university)
        self.resources = {r.id: r for r in university.resources}
        self.children: dict[int, list[int]] = {}
        for r in university.resources:
            self.children.setdefault(r.parent_id, []).append(r.id)
        self.kinds = {a.id: a.type for a in university.activities}

    def headcount(self, rid: int) -> int:
        size = self.resources[rid].size
        return size or sum(self.headcount(child) for child in self.children.get(rid, []))

    def hours(self, minutes_of_slots: int) -> float:
        return minutes_of_slots * self.university.project.slot_minutes / 60


@pytest.fixture(scope="module")
def built() -> Iterator[dict[str, Generated]]:
    cache: dict[str, Generated] = {}
    yield cache


@pytest.fixture(params=PRESETS)
def preset(request: pytest.FixtureRequest, built: dict[str, Generated]) -> Generated:
    name = request.param
    if name not in built:
        built[name] = Generated(generate(name, 42, today=TODAY))
    return built[name]


def test_rooms_instructors_and_groups_are_double_booked_only_by_the_deliberate_quirk(preset: Generated) -> None:
    assert preset.profile.clash_rate <= 0.005
    assert preset.profile.clash_rate <= 4 * QUIRK_RATE + 0.001


def test_a_group_has_12_to_32_hours_in_every_teaching_week(preset: Generated) -> None:
    for group, weeks in preset.profile.group_week_hours.items():
        assert weeks and all(12 <= hours <= 32 for hours in weeks), (group, weeks)


def test_a_group_s_busiest_weekday_holds_at_most_one_and_a_half_times_its_quietest(preset: Generated) -> None:
    for group, days in preset.profile.group_weekday_hours.items():
        weekdays = days[:5]
        assert max(weekdays) <= 1.5 * min(weekdays), (group, days)
    total = sum(sum(days) for days in preset.profile.group_weekday_hours.values())
    saturday = sum(days[5] for days in preset.profile.group_weekday_hours.values())
    assert saturday <= 0.02 * total
    assert preset.profile.weekday_events[6] == 0


def test_classes_run_from_8_to_19_30_saturday_mornings_only_with_a_lunch_break_most_days(preset: Generated) -> None:
    project = preset.university.project
    assert preset.profile.earliest_start >= 8 * 60 and preset.profile.latest_end <= DAY_END
    for e in preset.university.events:
        if e.day == 5:
            assert project.minutes_of(e.slot + e.duration) <= SATURDAY_END
    assert preset.profile.lunch_days >= 0.85
    assert preset.profile.monday_8am_share < 0.05 and preset.profile.busiest_start_share < 0.08


def test_instructors_teach_2_to_20_hours_a_week(preset: Generated) -> None:
    weeks = preset.profile.instructor_week_hours
    assert max(max(hours) for hours in weeks.values() if hours) <= 20
    means = [statistics.mean(hours) for hours in weeks.values() if hours]
    assert sum(mean >= 2 for mean in means) >= 0.95 * len(means)


def test_rooms_are_used_at_most_85_percent_and_fit_their_groups(preset: Generated) -> None:
    assert preset.profile.room_fill <= 0.85
    for e in preset.university.events:
        rooms = [preset.resources[b.resource_id] for b in e.resources
                 if preset.resources[b.resource_id].category == "classroom"]
        groups = [b.resource_id for b in e.resources if preset.resources[b.resource_id].category == "trainee"]
        kind = preset.kinds[e.activity_id]
        assert len(rooms) == 1 and len(groups) == 1, e
        room, headcount = rooms[0], preset.headcount(groups[0])
        if kind in ("CM", "TD", "TP", "Examen", "Rattrapage"):
            assert room.size >= headcount, (e.name, room.name, room.size, headcount)
        if kind in ("TD", "TP"):
            assert room.type != "Amphithéâtre", (e.name, room.name)
        if kind == "CM" and headcount > 60:
            assert room.type == "Amphithéâtre", (e.name, room.name)


def test_terms_breaks_exams_and_a_few_cancelled_or_moved_events_fill_the_academic_year(preset: Generated) -> None:
    u = preset.university
    calendar = u.calendar
    assert all(calendar.breaks[name] for name in ("autumn", "christmas", "winter", "spring"))
    week0 = u.project.week0
    assert {week0 + dt.timedelta(weeks=w) for w in calendar.breaks["christmas"]} >= {dt.date(2026, 12, 28)}
    teaching, exams = set(calendar.teaching), set(calendar.exams1 + calendar.exams2 + calendar.resits)
    holidays = set(calendar.public_holidays)
    for e in u.events:
        kind = preset.kinds[e.activity_id]
        assert 0 <= e.week < u.project.weeks and (e.week, e.day) not in holidays
        if kind in ("CM", "TD", "TP"):
            assert e.week in teaching, e
        elif kind in ("Examen", "Rattrapage"):
            assert e.week in exams, e
    moved = sum(e.old_week >= 0 for e in u.events)
    assert 0.005 * len(u.events) <= moved <= 0.05 * len(u.events)
    per_activity = Counter(e.activity_id for e in u.events)
    cancelled = sum(a.size - per_activity[a.id] for a in u.activities if per_activity[a.id] < a.size)
    assert 0 < cancelled <= 0.01 * len(u.events)
    if u.preset != "tiny":  # tiny teaches through the weeks around today whatever the date
        weeks = Counter(e.week for e in u.events)
        assert all(weeks[w] == 0 for name in ("christmas", "spring") for w in calendar.breaks[name])


def test_names_buildings_and_campuses_are_french(preset: Generated) -> None:
    names = [r.name for r in preset.university.resources]
    text = "".join(names)
    assert any(c in text for c in "éèàçôï") and "'" in text and "–" in text
    campuses = [r.name for r in preset.university.resources if r.category == "classroom" and r.parent_id == -1]
    assert campuses and all(name.startswith(("Campus", "Site")) for name in campuses)


def test_group_sizes_per_year_are_realistic_and_only_a_whole_faculty_passes_7000_events(preset: Generated) -> None:
    counts = sorted(preset.profile.group_events.values())
    assert counts[-1] <= 1_000
    assert 250 <= statistics.median(counts) <= 500
    if preset.university.preset == "large":
        assert 600 <= counts[-1] <= 900
        roots = [r.id for r in preset.university.resources if r.category == "trainee" and r.parent_id == -1]
        below: dict[int, int] = {}
        for root in roots:
            stack = [root]
            while stack:
                node = stack.pop()
                below[node] = root
                stack += preset.children.get(node, [])
        per_faculty = Counter(below[b.resource_id] for e in preset.university.events for b in e.resources
                              if b.resource_id in below)
        assert max(per_faculty.values()) > 7_000


@pytest.mark.slow
def test_large_matches_the_sizes_of_a_big_university(built: dict[str, Generated]) -> None:
    if "large" not in built:
        built["large"] = Generated(generate("large", 42, today=TODAY))
    large = built["large"].university
    categories = Counter(r.category for r in large.resources)
    assert 5_500 <= categories["trainee"] <= 6_500 and 4_800 <= categories["instructor"] <= 5_500
    assert 2_300 <= categories["classroom"] <= 2_700 and 2_500 <= categories["category5"] <= 4_000
    assert 15_500 <= len(large.resources) <= 18_500 and 230_000 <= len(large.events) <= 310_000
