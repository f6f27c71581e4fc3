"""Generator of the synthetic university (see :mod:`schedulesy.adesim.model` for the model): :func:`generate`.

How a year is built, in the order resource ids are handed out:
1. rooms: site → building (numeric ``code``, address) → floor → room (type, capacity);
2. instructors: one folder per component, sub-folders by status, ``NOM Prénom`` leaves with e-mails;
3. per component, trainee folders (component → programme → year → TD group → TP group) interleaved
   with subject folders (category5), the way a real ADE database grows;
4. per year of study and semester, a weekly template: lectures (CM) booked on the year, tutorials (TD)
   on TD groups, labs (TP) on TP groups, placed without clashes for every group, instructor and room
   (:mod:`schedulesy.adesim.schedule`); then one event per teaching week. Exams, resits, welcome
   meetings (booked on the programme) and evening lectures open to a whole component complete the year.
   A student group has 18-27 hours of lectures and tutorials a week, plus labs every other week; no
   single group reaches the 7,000-event limit, a whole faculty does.

Every random choice comes from ``random.Random`` seeded by (seed, preset), so a seed and a week 0 give
byte-identical data. Identical booking tuples are shared between events, which keeps ``large`` small.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import unicodedata
from collections.abc import Sequence
from typing import Any

from schedulesy.adesim import names
from schedulesy.adesim.draft import Draft, YearOfStudy
from schedulesy.adesim.model import ActivityFolder, University
from schedulesy.adesim.presets import PRESETS, Preset
from schedulesy.adesim.schedule import Scheduler

DEGREES = (("Licence", ("L1", "L2", "L3")), ("Master", ("M1", "M2")), ("BUT", ("BUT1", "BUT2", "BUT3")),
           ("Licence professionnelle", ("LP",)), ("Diplôme d'université", ("DU",)))


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in ascii_text if c.isalnum() or c == "-").strip("-")


class UniversityBuilder(Draft):
    """Builds the resource trees and the year plan, then hands each programme to the scheduler."""

    def __init__(self, knobs: Preset, **options: Any) -> None:
        super().__init__(knobs, **options)
        self.emails: set[str] = set()

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
                    self.add_room(site, floor, short, f, n, amphi=f == 0 and n < max(1, count // 9))

    def add_room(self, site: int, floor: int, short: str, f: int, n: int, *, amphi: bool) -> None:
        rng = self.rng
        if amphi:
            kind, size = "Amphithéâtre", rng.choice((rng.randrange(120, 250, 10), rng.randrange(250, 501, 10)))
            label = names.AMPHI_NAMES[rng.randrange(len(names.AMPHI_NAMES))]
            label = f"{label} ({short})"
        else:
            kind = rng.choices(("Salle de TD", "Salle informatique", "Laboratoire"), (60, 25, 15))[0]
            size = rng.randrange(30, 51) if kind == "Salle de TD" else rng.randrange(16, 41)
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
                tp = rng.randint(*knobs.tp_per_td)
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
        scheduler = Scheduler(self)
        years: list[YearOfStudy] = []
        trainee_roots: dict[int, int] = {}
        subject_roots: dict[int, int] = {}
        for c, degree, discipline, year_plan in plan:
            label, short, domain = comps[c]
            if c not in trainee_roots:
                trainee_roots[c] = self.add("trainee", label, group=True, code=short)
                subject_roots[c] = self.add("category5", label, group=True, code=short)
                self.folders.append(ActivityFolder(next(self.activity_ids), label))
                self.folder_of[c] = self.folders[-1].id
                scheduler.schedule_component_lectures(c, trainee_roots[c])
            programme_name = f"{degree} {discipline}"
            programme = self.add("trainee", programme_name, trainee_roots[c], group=True,
                                 code=f"{short}-{_slug(degree)[:3].upper()}{len(years) + 1:03d}")
            subject_folder = self.add("category5", programme_name, subject_roots[c], group=True)
            made = [self.build_year(c, programme, discipline, y) for y in year_plan]
            years.extend(made)
            scheduler.schedule_programme(c, domain, degree, programme, subject_folder, made)
        return University(preset=self.name, seed=self.seed, project=self.project, calendar=self.calendar,
                          resources=tuple(self.resources),
                          activity_folders=tuple(self.folders), activities=tuple(self.activities),
                          events=tuple(self.events))

    def build_year(self, component: int, programme: int, discipline: str, plan: tuple[str, int, int]) -> YearOfStudy:
        label, td_count, tp_count = plan
        short = discipline.split()[0].rstrip(",")
        branch = self.add("trainee", f"{label} {discipline}", programme, group=True)
        year = YearOfStudy(branch, label, component, programme)
        for t in range(td_count):
            td_name = f"{label} {short} – Gr. {t + 1}"
            size = self.rng.randrange(24, 39)
            td = self.add("trainee", td_name, branch, group=tp_count > 0, size=size)
            year.td.append(td)
            year.headcount[td] = size
            year.tp[td] = [self.add("trainee", f"{label} {short} – Gr. {t + 1}{'ABCD'[k]}", td,
                                    size=-(-size // tp_count)) for k in range(tp_count)]
            year.headcount.update(dict.fromkeys(year.tp[td], -(-size // max(tp_count, 1))))
            year.size += size
        year.link()
        return year


def generate(
    preset: str | Preset = "tiny",
    seed: int = 42,
    *,
    slot_minutes: int = 15,
    today: dt.date | None = None,
    project_id: int = 1,
    days_per_week: int = 7,
    day_start_minutes: int = 8 * 60,
) -> University:
    """Build a university; the same arguments (and the same week 0) give the same data.

    The cyclic GC is paused meanwhile: nothing here makes cycles, and a million objects make it slow.
    """
    if isinstance(preset, str):
        try:
            knobs = PRESETS[preset]
        except KeyError:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}") from None
        name = preset
    else:
        knobs, name = preset, "custom"
    if slot_minutes not in (15, 30):
        raise ValueError("slot_minutes must be 15 or 30")
    enabled = gc.isenabled()
    gc.disable()
    try:
        return UniversityBuilder(knobs, name=name, seed=seed, slot_minutes=slot_minutes,
                                 today=today or dt.date.today(), project_id=project_id,
                                 days_per_week=days_per_week, day_start_minutes=day_start_minutes).build()
    finally:
        if enabled:
            gc.enable()
