"""The university being generated: what the resource builder and the scheduler both work on.

:class:`Draft` holds the project, the seeded random source, the id counters, the lists that become the
:class:`~schedulesy.adesim.model.University`, and the clash masks of the weekly templates. The
builder (:mod:`schedulesy.adesim.generate`) adds the resource trees; the scheduler
(:mod:`schedulesy.adesim.schedule`) adds activities and events. Both depend on this module, not on
each other.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

from schedulesy.adesim.calendar import AcademicCalendar, academic_week0, build_calendar
from schedulesy.adesim.model import NO_ID, Activity, ActivityFolder, GridProject, PlacedEvent, Resource, format_stamp
from schedulesy.adesim.presets import Preset

class YearOfStudy:
    """A year of study being built: its group nodes and the clash masks of its weekly template."""

    def __init__(self, branch: int, label: str, component: int, programme: int) -> None:
        self.branch, self.label, self.component, self.programme = branch, label, component, programme
        self.td: list[int] = []
        self.tp: dict[int, list[int]] = {}
        self.size = 0
        self.headcount: dict[int, int] = {}
        self.leaves: dict[int, tuple[int, ...]] = {}
        """The student groups (trainee leaves) under each node of the year."""

    def link(self) -> None:
        tps = [tp for td in self.td for tp in self.tp[td]]
        self.leaves[self.branch] = tuple(tps) or tuple(self.td)
        for td in self.td:
            self.leaves[td] = tuple(self.tp[td]) or (td,)
            for tp in self.tp[td]:
                self.leaves[tp] = (tp,)
        self.headcount[self.branch] = self.size


class Draft:
    def __init__(self, knobs: Preset, *, name: str, seed: int, slot_minutes: int, today: dt.date,
                 project_id: int, days_per_week: int, day_start_minutes: int) -> None:
        self.knobs, self.name, self.seed = knobs, name, seed
        week0 = academic_week0(today)
        self.project = GridProject(
            id=project_id, name=f"{week0.year}-{week0.year + 1}",
            uid=int(dt.datetime.combine(week0 - dt.timedelta(days=75), dt.time(9, 12),
                                        tzinfo=dt.UTC).timestamp() * 1000),
            week0=week0, days_per_week=days_per_week, slot_minutes=slot_minutes,
            day_start_minutes=day_start_minutes, slots_per_day=(22 * 60 - day_start_minutes) // slot_minutes,
        )
        self.calendar: AcademicCalendar = build_calendar(week0, self.project.weeks,
                                                         today if knobs.teach_around_today else None)
        self.rng = random.Random(f"schedulesy:{seed}:{name}")
        self.resources: list[Resource] = []
        self.folders: list[ActivityFolder] = []
        self.activities: list[Activity] = []
        self.events: list[PlacedEvent] = []
        self.resource_ids = itertools.count(1)
        self.activity_ids = itertools.count(10_001)
        self.event_ids = itertools.count(100_001)
        self.node_ids = itertools.count(500_001)
        self.busy: dict[tuple[object, int], int] = {}
        """Slots a resource holds in a template week (one key per semester, exam week…): a bit per slot."""
        self.below: dict[tuple[object, int], int] = {}
        """Slots a trainee node or one of its descendants holds."""
        self.parent: dict[int, int] = {}
        self.rooms_by_site: list[dict[str, list[tuple[int, int]]]] = []
        self.instructors: dict[int, list[int]] = {}
        self.folder_of: dict[int, int] = {}

    def stamp(self, low_days: float, high_days: float) -> str:
        """A time stamp between two offsets from week 0, on a working hour."""
        base = dt.datetime.combine(self.project.week0, dt.time(8))
        moment = base + dt.timedelta(days=int(self.rng.uniform(low_days, high_days)),
                                     minutes=self.rng.randrange(0, 11 * 60))
        return format_stamp(moment)

    def add(self, category: str, name: str, parent: int = NO_ID, *, group: bool = False, **fields: Any) -> int:
        rid = next(self.resource_ids)
        self.parent[rid] = parent
        created = self.stamp(-400, -30)
        self.resources.append(Resource(id=rid, category=category, parent_id=parent, is_group=group, name=name,
                                       creation=created, last_update=created, **fields))
        return rid

    def minutes(self, minutes: int) -> int:
        """A duration in slots."""
        return max(1, minutes // self.project.slot_minutes)
