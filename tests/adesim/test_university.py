"""The synthetic university: deterministic, realistic where clients care (build times: bench/bench_simulator.py)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from schedulesy.adesim.calendar import academic_week0, easter, public_holidays
from schedulesy.adesim.generate import generate
from schedulesy.adesim.model import University, format_hour
from schedulesy.adesim.store import Store

TODAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def tiny() -> University:
    return generate("tiny", 42, today=TODAY)


def test_the_same_seed_gives_the_same_data() -> None:
    first = generate("tiny", 7, today=TODAY)
    assert first == generate("tiny", 7, today=TODAY)
    assert first != generate("tiny", 8, today=TODAY)
    assert 30 <= len(first.resources) <= 120 and 1_000 <= len(first.events) <= 2_000


@pytest.mark.parametrize(("today", "week0"), [
    (dt.date(2026, 11, 28), dt.date(2026, 8, 10)),
    (dt.date(2027, 3, 1), dt.date(2026, 8, 10)),
    (dt.date(2026, 8, 5), dt.date(2025, 8, 11)),
    (dt.date(2026, 8, 10), dt.date(2026, 8, 10)),
])
def test_week0_is_the_august_monday_starting_the_academic_year(today: dt.date, week0: dt.date) -> None:
    assert academic_week0(today) == week0


def test_events_cross_both_daylight_saving_changes(tiny: University) -> None:
    dates = {tiny.project.date_of(e.week, e.day) for e in tiny.events}
    october_change, march_change = dt.date(2026, 10, 25), dt.date(2027, 3, 28)
    assert any(d < october_change for d in dates) and any(october_change < d < march_change for d in dates)
    assert any(d > march_change for d in dates)


@pytest.mark.parametrize("today", [dt.date(2026, 12, 26), dt.date(2027, 7, 14), dt.date(2026, 11, 28)])
def test_this_week_and_the_next_ones_have_events(today: dt.date) -> None:
    u = generate("tiny", 42, today=today)
    current = u.project.week_of(today)
    weeks = Counter(e.week for e in u.events)
    assert all(weeks[w] > 0 for w in range(current, min(current + 4, u.project.weeks)))


def test_names_carry_accents_apostrophes_codes_and_emails(tiny: University) -> None:
    names = [r.name for r in tiny.resources]
    assert any("'" in n for n in names) and any(c in "".join(names) for c in "éèàçô")
    store = Store(tiny, dt.datetime.now)
    buildings = [r for r in tiny.resources if r.category == "classroom" and len(store.ancestors(r.id)) == 1]
    assert buildings and all(b.is_group and b.code.isdigit() for b in buildings)
    teachers = [r for r in tiny.resources if r.category == "instructor" and not r.is_group]
    assert sum("@" in t.email for t in teachers) >= len(teachers) * 0.8


def test_a_group_timetable_has_no_overlapping_events(tiny: University) -> None:
    store = Store(tiny, dt.datetime.now)
    leaves = [r.id for r in tiny.resources if r.category == "trainee" and not r.is_group]
    for leaf in leaves:
        slots: set[tuple[int, int, int]] = set()
        for eid in store.events_of_resource(leaf):
            e = store.events[eid]
            if e.activity_id and e.name.startswith(("CM", "TD", "TP")):
                taken = {(e.week, e.day, s) for s in range(e.slot, e.slot + e.duration)}
                assert not slots & taken, f"clash for {leaf} at week {e.week}"
                slots |= taken


def test_thirty_minute_slots_keep_the_same_hours_on_the_grid() -> None:
    u = generate("tiny", 42, slot_minutes=30, today=TODAY)
    assert u.project.slot_minutes == 30 and u.project.slots_per_day == 28
    for e in u.events[::11]:
        start, end = format_hour(u.project.minutes_of(e.slot)), format_hour(u.project.minutes_of(e.slot + e.duration))
        assert start[-2:] in ("00", "30") and end > start


def test_events_are_booked_at_every_level_of_the_trainee_tree(tiny: University) -> None:
    store = Store(tiny, dt.datetime.now)
    depths = Counter(len(store.ancestors(b.resource_id)) for e in tiny.events for b in e.resources
                     if store.resources[b.resource_id].category == "trainee")
    assert set(depths) >= {0, 1, 2, 3, 4}
    categories = {store.resources[b.resource_id].category for e in tiny.events for b in e.resources}
    assert categories == {"trainee", "instructor", "classroom", "category5"}


def test_demo_has_about_fifteen_hundred_resources_and_thirty_five_thousand_events() -> None:
    demo = generate("demo", 42, today=TODAY)
    assert 1200 <= len(demo.resources) <= 1800 and 28_000 <= len(demo.events) <= 42_000


def test_data_do_not_depend_on_the_process_hash_seed(tiny: University) -> None:
    import hashlib
    import os
    import subprocess
    import sys

    import msgspec

    code = ("import datetime as dt, hashlib, msgspec; from schedulesy.adesim.generate import generate; "
            "print(hashlib.sha256(msgspec.json.encode(generate('tiny', 42, today=dt.date(2026, 11, 28))))"
            ".hexdigest())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.strip()
    assert other == hashlib.sha256(msgspec.json.encode(tiny)).hexdigest()


@pytest.mark.parametrize(("year", "sunday"), [(2025, dt.date(2025, 4, 20)), (2027, dt.date(2027, 3, 28)),
                                              (2038, dt.date(2038, 4, 25))])
def test_easter_and_the_public_holidays_that_follow_it(year: int, sunday: dt.date) -> None:
    assert easter(year) == sunday
    holidays = public_holidays(dt.date(year - 1, 8, 10))
    assert sunday + dt.timedelta(days=1) in holidays and sunday + dt.timedelta(days=39) in holidays
    assert dt.date(year - 1, 11, 11) in holidays and dt.date(year, 5, 8) in holidays
