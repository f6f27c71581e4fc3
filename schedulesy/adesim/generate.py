"""Generator of the synthetic university (see :mod:`schedulesy.adesim.model` for the model).

How a year is built, in the order resource ids are handed out:
1. rooms: site → building (numeric ``code``, address) → floor → room (type, capacity);
2. instructors: one folder per component, sub-folders by status, ``NOM Prénom`` leaves with e-mails;
3. per component, trainee folders (component → programme → year → TD group → TP group) interleaved
   with subject folders (category5), the way a real ADE database grows;
4. per year of study and semester, a weekly template: lectures (CM) booked on the year, tutorials (TD)
   on TD groups, labs (TP) on TP groups, placed without clashes inside the year, for the instructor
   and for the room; then one event per teaching week. Exams, resits, welcome meetings (booked on the
   programme) and lectures open to a whole component complete the year;
5. a few big years get an elective catalogue so that their timetable passes 7,000 events.

Every random choice comes from ``random.Random`` seeded by (seed, preset), so a seed and a week 0 give
byte-identical data. Identical booking tuples are shared between events, which keeps ``large`` small.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import random
import unicodedata
from collections.abc import Sequence

from schedulesy.adesim import names
from schedulesy.adesim.calendar import AcademicCalendar, build_calendar
from schedulesy.adesim.model import (
    NO_ID, Activity, ActivityFolder, Event, Preset, Project, Resource, University, academic_week0, format_stamp,
)

LAB_DOMAINS = frozenset({"maths", "info", "physique", "chimie", "biologie", "medecine", "ingenierie",
                         "pharmacie", "sport", "geo"})
BLOCK_STARTS = (8 * 60, 9 * 60 + 45, 11 * 60 + 30, 13 * 60 + 30, 15 * 60 + 15, 17 * 60)
DEGREES = (("Licence", ("L1", "L2", "L3")), ("Master", ("M1", "M2")), ("BUT", ("BUT1", "BUT2", "BUT3")),
           ("Licence professionnelle", ("LP",)), ("Diplôme d'université", ("DU",)))


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in ascii_text if c.isalnum() or c == "-").strip("-")


class _Year:
    """A year of study being built: its group nodes and the clash masks of its weekly template."""

    def __init__(self, branch: int, label: str, component: int, programme: int) -> None:
        self.branch, self.label, self.component, self.programme = branch, label, component, programme
        self.td: list[int] = []
        self.tp: dict[int, list[int]] = {}
        self.size = 0
        self.related: dict[int, tuple[int, ...]] = {}

    def link(self) -> None:
        """Clashes inside a year: a node clashes with its ancestors and its descendants."""
        tps = [tp for td in self.td for tp in self.tp[td]]
        self.related[self.branch] = (self.branch, *self.td, *tps)
        for td in self.td:
            self.related[td] = (self.branch, td, *self.tp[td])
            for tp in self.tp[td]:
                self.related[tp] = (self.branch, td, tp)


class _Builder:
    def __init__(self, knobs: Preset, *, name: str, seed: int, slot_minutes: int, today: dt.date,
                 project_id: int, days_per_week: int, day_start_minutes: int) -> None:
        self.knobs, self.name, self.seed = knobs, name, seed
        week0 = academic_week0(today)
        self.project = Project(
            id=project_id, name=f"{week0.year}-{week0.year + 1}",
            uid=int(dt.datetime.combine(week0 - dt.timedelta(days=75), dt.time(9, 12),
                                        tzinfo=dt.UTC).timestamp() * 1000),
            week0=week0, days_per_week=days_per_week, slot_minutes=slot_minutes,
            day_start_minutes=day_start_minutes, slots_per_day=(22 * 60 - day_start_minutes) // slot_minutes,
        )
        self.calendar: AcademicCalendar = build_calendar(week0, self.project.weeks, today)
        self.rng = random.Random(f"schedulesy:{seed}:{name}")
        self.resources: list[Resource] = []
        self.folders: list[ActivityFolder] = []
        self.activities: list[Activity] = []
        self.events: list[Event] = []
        self.resource_ids = itertools.count(1)
        self.activity_ids = itertools.count(10_001)
        self.event_ids = itertools.count(100_001)
        self.node_ids = itertools.count(500_001)
        self.busy: dict[tuple[object, int], int] = {}
        self.rooms_by_site: list[dict[str, list[tuple[int, int]]]] = []
        self.instructors: dict[int, list[int]] = {}
        self.all_subjects: list[tuple[int, str]] = []
        self.folder_of: dict[int, int] = {}
        self.emails: set[str] = set()
        self.slots = [(m - day_start_minutes) // slot_minutes for m in BLOCK_STARTS if m >= day_start_minutes]

    # -- helpers ---------------------------------------------------------------------------------
    def stamp(self, low_days: float, high_days: float) -> str:
        """A time stamp between two offsets from week 0, on a working hour."""
        base = dt.datetime.combine(self.project.week0, dt.time(8))
        moment = base + dt.timedelta(days=int(self.rng.uniform(low_days, high_days)),
                                     minutes=self.rng.randrange(0, 11 * 60))
        return format_stamp(moment)

    def add(self, category: str, name: str, parent: int = NO_ID, *, group: bool = False, **fields: object) -> int:
        rid = next(self.resource_ids)
        created = self.stamp(-400, -30)
        self.resources.append(Resource(id=rid, category=category, parent_id=parent, is_group=group, name=name,
                                       creation=created, last_update=created, **fields))  # type: ignore[arg-type]
        return rid

    def minutes(self, minutes: int) -> int:
        return max(1, minutes // self.project.slot_minutes)

    # -- resources -------------------------------------------------------------------------------
    def build_rooms(self) -> None:
        knobs, rng = self.knobs, self.rng
        buildings = max(knobs.sites, round(knobs.rooms / 36))
        per_building = [knobs.rooms // buildings + (i < knobs.rooms % buildings) for i in range(buildings)]
        sites = [self.add("classroom", names.SITES[s % len(names.SITES)], group=True, code="")
                 for s in range(knobs.sites)]
        self.rooms_by_site = [{} for _ in sites]
        codes = rng.sample(range(1_000_000, 9_999_999), buildings)
        for b, count in enumerate(per_building):
            site = b % len(sites)
            word = names.BUILDING_WORDS[b % len(names.BUILDING_WORDS)]
            label = word if b < len(names.BUILDING_WORDS) else f"{word} {b // len(names.BUILDING_WORDS) + 1}"
            building = self.add("classroom", label, sites[site], group=True, code=str(codes[b]),
                                address1=f"{rng.randrange(1, 90)} rue {rng.choice(names.SURNAMES)}",
                                zip_code="67000", city="Strasbourg", country="France")
            short = _slug(label).replace("-", "")[:3].upper() or "BAT"
            floors = max(1, min(len(names.FLOORS) - 1, count // 10))
            for f in range(floors):
                floor = self.add("classroom", names.FLOORS[f], building, group=True)
                for n in range(count // floors + (f < count % floors)):
                    self.add_room(site, floor, short, f, n, amphi=f == 0 and n < max(1, count // 12))

    def add_room(self, site: int, floor: int, short: str, f: int, n: int, *, amphi: bool) -> None:
        rng = self.rng
        if amphi:
            kind, size = "Amphithéâtre", rng.randrange(120, 501, 10)
            label = names.AMPHI_NAMES[rng.randrange(len(names.AMPHI_NAMES))]
            label = f"{label} ({short})"
        else:
            kind = rng.choices(("Salle de TD", "Salle informatique", "Laboratoire"), (60, 25, 15))[0]
            size = rng.randrange(24, 49) if kind == "Salle de TD" else rng.randrange(16, 31)
            prefix = {"Salle de TD": short, "Salle informatique": f"{short} Info", "Laboratoire": f"{short} Labo"}
            label = f"{prefix[kind]} {f}.{n + 1:02d}"
        rid = self.add("classroom", label, floor, type=kind, size=size, code=f"{short}{f}{n + 1:02d}")
        self.rooms_by_site[site].setdefault(kind, []).append((rid, size))

    def build_instructors(self, components: Sequence[tuple[str, str, str]], weights: Sequence[int]) -> None:
        rng, total = self.rng, sum(weights) or 1
        people = [(first, last) for first in names.FIRST_NAMES for last in names.SURNAMES]
        rng.shuffle(people)
        pool = iter(people * (1 + self.knobs.instructors // len(people)))
        for index, ((label, short, _domain), weight) in enumerate(zip(components, weights, strict=True)):
            branch = self.add("instructor", label, group=True, code=short)
            subs = [self.add("instructor", title, branch, group=True)
                    for title in ("Enseignants-chercheurs", "Enseignants", "Vacataires")]
            count = max(3, round(self.knobs.instructors * weight / total))
            staff = self.instructors.setdefault(index, [])
            for k in range(count):
                first, last = next(pool)
                parent = branch if k % 17 == 16 else subs[min(2, int(rng.random() ** 1.5 * 3))]
                status = rng.choice(("Professeur des universités", "Maître de conférences", "PRAG", "ATER",
                                     "Vacataire"))
                staff.append(self.add("instructor", f"{last.upper()} {first}", parent, email=self.email(first, last),
                                      job_category=status, telephone=f"03 68 85 {k // 100 % 100:02d} {k % 100:02d}"))

    def email(self, first: str, last: str) -> str:
        base = f"{_slug(first)}.{_slug(last)}"
        address, n = f"{base}@univ.example", 1
        while address in self.emails:
            n += 1
            address = f"{base}{n}@univ.example"
        self.emails.add(address)
        if self.rng.random() < 0.02:
            return f"{address};{base}@labo.example"
        return "" if self.rng.random() < 0.03 else address

    # -- the year plan ---------------------------------------------------------------------------
    def plan(self) -> list[tuple[int, str, str, tuple[tuple[str, int, int], ...]]]:
        """(component index, degree, discipline, years as (label, TD groups, TP per TD)) to create."""
        knobs, rng = self.knobs, self.rng
        comps = [names.COMPONENTS[i % len(names.COMPONENTS)] for i in range(knobs.components)]
        programmes: list[tuple[int, str, str, tuple[tuple[str, int, int], ...]]] = []
        nodes = len(comps)
        for turn in itertools.count():
            c = turn % len(comps)
            domain = comps[c][2]
            degree, labels = DEGREES[0] if turn == 0 else rng.choices(DEGREES, (40, 30, 12, 10, 8))[0]
            discipline = rng.choice(names.DISCIPLINES[domain])
            years = []
            for y, label in enumerate(labels):
                td = knobs.td_groups[1] if turn == 0 else max(knobs.td_groups[0], rng.randint(*knobs.td_groups) - y)
                tp = rng.randint(*knobs.tp_per_td) if domain in LAB_DOMAINS else 0
                years.append((label, td, tp if turn else knobs.tp_per_td[1]))
            size = 1 + sum(1 + td + td * tp for _, td, tp in years)
            if programmes and nodes + size > knobs.trainee_nodes:
                break
            programmes.append((c, degree, discipline, tuple(years)))
            nodes += size
        return programmes

    def build(self) -> University:
        plan = self.plan()
        comps = [names.COMPONENTS[i % len(names.COMPONENTS)] for i in range(self.knobs.components)]
        weights = [sum(len(p[3]) for p in plan if p[0] == c) for c in range(len(comps))]
        self.build_rooms()
        self.build_instructors(comps, weights)
        from schedulesy.adesim.schedule import Scheduler

        scheduler = Scheduler(self)
        years: list[_Year] = []
        trainee_roots: dict[int, int] = {}
        subject_roots: dict[int, int] = {}
        for c, degree, discipline, year_plan in plan:
            label, short, domain = comps[c]
            if c not in trainee_roots:
                trainee_roots[c] = self.add("trainee", label, group=True, code=short)
                subject_roots[c] = self.add("category5", label, group=True, code=short)
                self.folders.append(ActivityFolder(next(self.activity_ids), label))
                self.folder_of[c] = self.folders[-1].id
            programme_name = f"{degree} {discipline}"
            programme = self.add("trainee", programme_name, trainee_roots[c], group=True,
                                 code=f"{short}-{_slug(degree)[:3].upper()}{len(years) + 1:03d}")
            subject_folder = self.add("category5", programme_name, subject_roots[c], group=True)
            made = [self.build_year(c, programme, discipline, y) for y in year_plan]
            years.extend(made)
            scheduler.schedule_programme(c, domain, programme, subject_folder, made)
        for c, root in trainee_roots.items():
            scheduler.schedule_component_lectures(c, root)
        scheduler.schedule_electives(years)
        return University(preset=self.name, seed=self.seed, project=self.project, resources=tuple(self.resources),
                          activity_folders=tuple(self.folders), activities=tuple(self.activities),
                          events=tuple(self.events))

    def build_year(self, component: int, programme: int, discipline: str, plan: tuple[str, int, int]) -> _Year:
        label, td_count, tp_count = plan
        short = discipline.split()[0].rstrip(",")
        branch = self.add("trainee", f"{label} {discipline}", programme, group=True)
        year = _Year(branch, label, component, programme)
        for t in range(td_count):
            td_name = f"{label} {short} – Gr. {t + 1}"
            size = self.rng.randrange(26, 40)
            td = self.add("trainee", td_name, branch, group=tp_count > 0, size=size)
            year.td.append(td)
            year.tp[td] = [self.add("trainee", f"{label} {short} – Gr. {t + 1}{'ABCD'[k]}", td, size=size // tp_count)
                           for k in range(tp_count)]
            year.size += size
        year.link()
        return year


def build_university(knobs: Preset, *, name: str, seed: int, slot_minutes: int, today: dt.date, project_id: int,
                     days_per_week: int, day_start_minutes: int) -> University:
    """Generate with the cyclic GC paused: nothing here makes cycles, and a million objects make it slow."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _Builder(knobs, name=name, seed=seed, slot_minutes=slot_minutes, today=today, project_id=project_id,
                        days_per_week=days_per_week, day_start_minutes=day_start_minutes).build()
    finally:
        if enabled:
            gc.enable()
