"""Placing the generated activities: weekly templates a real timetabling office could have produced.

A year of study gets, per semester, a template week. Every weekly session (a lecture, CM, on the whole
year; a tutorial, TD, on each TD group; a lab, TP, on each TP group) takes a (day, start) where its
groups, its instructor and a room big enough for its headcount are all free in that template; among the
free starts it takes the one that keeps each group's days balanced (Monday to Friday), its lunch hour
free and its evenings short. Templates are bit masks over the week's slots, one per resource and key
(a key is a semester, an exam week, a resit week or the welcome week), and a trainee node also checks the
masks of its ancestors and of its descendants, so a student never sits two classes at once.
Instructors are capped at 20 hours and rooms at 85 % of their opening hours per template.

Events then repeat the template over the semester's teaching weeks (labs every other week), skipping
public holidays. On top of that, the real-world noise a sync must handle, each at a small rate: a few
sessions cancelled (no event that week), events carrying a previous placement (moved once), events
booked in their spare room, notes — and a deliberate ``QUIRK_RATE`` of sessions entered twice (a second
event of the same activity, same time, same bookings), the only double bookings in the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from schedulesy.adesim import names
from schedulesy.adesim.draft import Draft, YearOfStudy
from schedulesy.adesim.model import NO_ID, Activity, Booking, PlacedEvent, Requirement

WEEKDAYS = (0, 1, 2, 3, 4)
SATURDAY = 5
DAY_END = 19 * 60 + 30
SATURDAY_END = 12 * 60 + 30
OPENING_MINUTES = 5 * (DAY_END - 8 * 60) + (SATURDAY_END - 8 * 60)
ROOM_FILL = 0.8
TEACHER_CAP_MINUTES = 17 * 60 + 30
"""Below 20 hours, so that a session entered twice (QUIRK_RATE) keeps the week under 20."""
LUNCH_STARTS = (11 * 60 + 45, 12 * 60, 12 * 60 + 15, 12 * 60 + 30, 12 * 60 + 45, 13 * 60)
NO_LUNCH_BREAK = 0.12
"""Share of (year, weekday) templates without a free lunch hour: "most days" have one."""
QUIRK_RATE = 0.001
"""Sessions entered twice (a second event, same activity, same time and bookings): the only clashes."""
CANCEL_RATE = 0.004
MOVED_RATE = 0.02
EXAM_STARTS = (8 * 60 + 30, 9 * 60, 13 * 60 + 30, 14 * 60)
CONFERENCE_STARTS = (17 * 60 + 30, 18 * 60)

WEEKLY_HOURS = {"Licence": (18, 24), "Master": (18, 22), "BUT": (24, 26), "Licence professionnelle": (19, 24),
                "Diplôme d'université": (18, 20)}
"""Hours a week of lectures and tutorials per degree (labs come on top, every other week)."""
LENGTHS = {"BUT": ((60, 60, 90), (60,)), "default": ((90, 120, 120), (90, 120, 120))}
"""Session lengths in minutes: (lectures, tutorials)."""
LECTURE_SHARE = {"default": 0.8, "labs": 0.7, "BUT": 0.55}
"""The share of a week's lectures and tutorials given as lectures to the whole year."""
LABS = frozenset({"maths", "info", "physique", "chimie", "biologie", "medecine", "ingenierie", "pharmacie",
                  "sport", "geo"})
MAX_WEEK_MINUTES = 28 * 60
"""Lectures, tutorials and labs of the busiest week; a conference or a session entered twice stay under 32 h."""

Keys = tuple[object, ...]


class Scheduler:
    def __init__(self, draft: Draft) -> None:
        self.b = draft
        self.rng = draft.rng
        self.project = draft.project
        self.calendar = draft.calendar
        self.unit = self.project.slot_minutes
        self.spd = self.project.slots_per_day
        self.first_start = max(8 * 60, self.project.day_start_minutes)
        self.room_cap = int(ROOM_FILL * OPENING_MINUTES) // self.unit
        self.room_load: dict[tuple[object, int], int] = {}
        self.teacher_load: dict[tuple[object, int], int] = {}
        self.targets: dict[int, int] = {}
        self.hired: dict[tuple[int, object], int] = {}
        self.available: dict[tuple[int, object], list[int]] = {}
        """Per component and key, the instructors already teaching there (some with hours to spare)."""
        self.everyone = [t for staff in draft.instructors.values() for t in staff]
        """Instructors of every component: once its own staff is full, a component hires from the others."""
        self.leaf_days: dict[tuple[object, int], list[int]] = {}
        self.chains: dict[int, tuple[int, ...]] = {}
        self.starts_cache: dict[tuple[int, tuple[int, ...], tuple[int, ...]], list[tuple[float, int, int, int]]] = {}
        self.room_lists: dict[tuple[int, str, int], list[int]] = {}
        self.booking_cache: dict[tuple[tuple[int, int, int], ...], tuple[Booking, ...]] = {}
        holidays: dict[int, set[int]] = {}
        for week, day in self.calendar.public_holidays:
            holidays.setdefault(week, set()).add(day)
        self.holidays = holidays

    # -- the grid ----------------------------------------------------------------------------
    def slots(self, minutes: int) -> int:
        return max(1, minutes // self.unit)

    def starts(self, duration: int, days: tuple[int, ...], allowed: tuple[int, ...] = ()
               ) -> list[tuple[float, int, int, int]]:
        """(preference cost, day, slot, mask) of every start on the half hour that ends by 19:30 (12:30 on Saturday)."""
        cache_key = (duration, days, allowed)
        found = self.starts_cache.get(cache_key)
        if found is None:
            found = []
            length = duration * self.unit
            for day in days:
                if day >= self.project.days_per_week:
                    continue
                end_of_day = SATURDAY_END if day == SATURDAY else DAY_END
                for begin in range(self.first_start + (-self.first_start) % 30, end_of_day - length + 1, 30):
                    if allowed and begin not in allowed:
                        continue
                    slot = (begin - self.project.day_start_minutes) // self.unit
                    end = begin + length
                    cost = 0.5 * (begin < 9 * 60) + max(0, end - 17 * 60 - 30) / 60 + 1.5 * (end > 19 * 60)
                    found.append((cost, day, slot, ((1 << duration) - 1) << (day * self.spd + slot)))
            self.starts_cache[cache_key] = found
        return found

    def mask(self, day: int, begin: int, minutes: int) -> int:
        slot = (begin - self.project.day_start_minutes) // self.unit
        return ((1 << self.slots(minutes)) - 1) << (day * self.spd + slot)

    # -- groups ------------------------------------------------------------------------------
    def chain(self, node: int) -> tuple[int, ...]:
        """The node and its ancestors."""
        found = self.chains.get(node)
        if found is None:
            parent = self.b.parent.get(node, NO_ID)
            found = self.chains[node] = (node, *self.chain(parent)) if parent != NO_ID else (node,)
        return found

    def group_busy(self, key: object, node: int) -> int:
        busy, below = self.b.busy, self.b.below
        taken = below.get((key, node), 0)
        for ancestor in self.chain(node)[1:]:
            taken |= busy.get((key, ancestor), 0)
        return taken

    def block(self, keys: Keys, node: int, mask: int) -> None:
        """Hold slots on a trainee node (a session, or a lunch hour kept free)."""
        busy, below = self.b.busy, self.b.below
        for key in keys:
            busy[(key, node)] = busy.get((key, node), 0) | mask
            for member in self.chain(node):
                below[(key, member)] = below.get((key, member), 0) | mask


    # -- instructors and rooms ---------------------------------------------------------------
    def teacher_free(self, keys: Keys, teacher: int, mask: int, minutes: int) -> bool:
        busy, load, cap = self.b.busy, self.teacher_load, TEACHER_CAP_MINUTES - minutes
        for k in keys:
            if busy.get((k, teacher), 0) & mask or load.get((k, teacher), 0) > cap:
                return False
        return True

    def teacher_for(self, keys: Keys, mask: int, minutes: int, team: list[int], component: int) -> int | None:
        """A member of the subject's team who is free, else a colleague of the component with hours to spare."""
        for teacher in team:
            if self.teacher_free(keys, teacher, mask, minutes):
                return teacher
        available = self.available.setdefault((component, keys[0]), [])
        load = self.teacher_load
        for teacher in available:
            if load.get((keys[0], teacher), 0) + minutes <= self.target(teacher) \
                    and self.teacher_free(keys, teacher, mask, minutes):
                team.append(teacher)
                return teacher
        for pool in (component, -1):
            staff = self.b.instructors[component] if pool >= 0 else self.everyone
            hired = self.hired.get((pool, keys[0]), 0)
            while hired < len(staff):
                teacher = staff[hired]
                hired += 1
                self.hired[(pool, keys[0])] = hired
                if self.teacher_load.get((keys[0], teacher), 0) + minutes <= self.target(teacher) \
                        and self.teacher_free(keys, teacher, mask, minutes):
                    available.append(teacher)
                    team.append(teacher)
                    return teacher
        for teacher in available:
            if self.teacher_free(keys, teacher, mask, minutes):
                team.append(teacher)
                return teacher
        return None

    def target(self, teacher: int) -> int:
        """Hours a week an instructor teaches, from a few (a part-time lecturer) to 18."""
        found = self.targets.get(teacher)
        if found is None:
            found = self.targets[teacher] = self.rng.randrange(6 * 60, 18 * 60 + 1, 30)
        return found

    def rooms(self, site: int, kinds: Sequence[str], headcount: int) -> list[int]:
        """Rooms that seat ``headcount``, of the first kind that has some, the best-sized first (shuffled)."""
        cache_key = (site, "|".join(kinds), headcount)
        found = self.room_lists.get(cache_key)
        if found is None:
            found = []
            every_site = [self.b.rooms_by_site[site]] + [s for i, s in enumerate(self.b.rooms_by_site) if i != site]
            for by_kind in every_site:
                for kind in kinds:
                    fitting = sorted((size, rid) for rid, size in by_kind.get(kind, []) if size >= headcount)
                    snug = [rid for size, rid in fitting if size <= max(headcount * 2, fitting[0][0])] if fitting else []
                    rest = [rid for _, rid in fitting if rid not in snug]
                    self.rng.shuffle(snug)
                    found += snug + rest
                if found:
                    break
            self.room_lists[cache_key] = found
        return found

    def room_free(self, keys: Keys, room: int, mask: int, duration: int) -> bool:
        busy, load, cap = self.b.busy, self.room_load, self.room_cap - duration
        for k in keys:
            if busy.get((k, room), 0) & mask or load.get((k, room), 0) > cap:
                return False
        return True

    def room_for(self, keys: Keys, rooms: list[int], mask: int, duration: int, skip: int = NO_ID) -> int | None:
        if not rooms:
            return None
        start = self.rng.randrange(min(len(rooms), 6))
        for room in rooms[start:] + rooms[:start]:
            if room != skip and self.room_free(keys, room, mask, duration):
                return room
        return None

    def take(self, keys: Keys, resources: Iterable[int], mask: int, duration: int, teachers: Iterable[int]) -> None:
        busy = self.b.busy
        minutes = duration * self.unit
        for key in keys:
            for rid in resources:
                busy[(key, rid)] = busy.get((key, rid), 0) | mask
                self.room_load[(key, rid)] = self.room_load.get((key, rid), 0) + duration
            for teacher in teachers:
                busy[(key, teacher)] = busy.get((key, teacher), 0) | mask
                self.teacher_load[(key, teacher)] = self.teacher_load.get((key, teacher), 0) + minutes

    # -- placement ---------------------------------------------------------------------------
    def place_shortening(self, keys: Keys, node: int, leaves: Sequence[int], minutes: int, team: list[int],
                         component: int, rooms: list[int], **options: Any
                         ) -> tuple[int, tuple[int, int, int, int, int | None]] | None:
        """Place a session, shortened (down to an hour) when a week is too full for its usual length."""
        for length in (minutes, *(m for m in (90, 60) if m < minutes)):
            placed = self.place(keys, node, leaves, length, team, component, rooms, **options)
            if placed is not None:
                return length, placed
        return None

    def place(self, keys: Keys, node: int, leaves: Sequence[int], minutes: int, team: list[int], component: int,
              rooms: list[int], *, days: tuple[int, ...] = WEEKDAYS, allowed: tuple[int, ...] = (),
              spare: bool = False, every_other: bool = False) -> tuple[int, int, int, int, int | None] | None:
        """(day, slot, instructor, room, spare room) of a session, held in every key's template; None if nothing fits."""
        rng = self.rng
        duration = self.slots(minutes)
        taken = 0
        for key in keys:
            taken |= self.group_busy(key, node)
        day_cost = [0.0] * 7
        # One balance for the whole year (a light Monday in one semester is made up in the other).
        book = keys[0][0] if isinstance(keys[0], tuple) else keys[0]
        loads = [self.leaf_days.setdefault((book, leaf), [0] * 7) for leaf in leaves]
        for load in loads:
            for day in days:
                if load[day] > day_cost[day]:
                    day_cost[day] = load[day]
        day_cost = [minutes / 60 for minutes in day_cost]
        # Balanced days first, then compact ones: a start next to another class leaves no unusable gap.
        options = sorted((cost + 6 * day_cost[day] + rng.random() * 0.8 - 0.7 * bool(taken & (mask << 1 | mask >> 1)),
                          day, slot, mask)
                         for cost, day, slot, mask in self.starts(duration, days, allowed) if not taken & mask)
        for _, day, slot, mask in options[:30]:
            teacher = self.teacher_for(keys, mask, minutes, team, component)
            if teacher is None:
                continue
            room = self.room_for(keys, rooms, mask, duration)
            if room is None:
                continue
            other = self.room_for(keys, rooms, mask, duration, skip=room) if spare else None
            self.block(keys, node, mask)
            self.take(keys, (room,) if other is None else (room, other), mask, duration, (teacher,))
            for load in loads:
                load[day] += minutes // 2 if every_other else minutes
            return day, slot, teacher, room, other
        return None

    # -- activities and events ---------------------------------------------------------------
    def bookings(self, parts: list[tuple[int, int, int]]) -> tuple[Booking, ...]:
        """Share one tuple between the many events that book the same nodes."""
        key = tuple(parts)
        found = self.booking_cache.get(key)
        if found is None:
            found = self.booking_cache[key] = tuple(Booking(r, n, o) for r, n, o in parts)
        return found

    def activity(self, *, component: int, name: str, kind: str, weeks: Sequence[int], day: int, slot: int,
                 duration: int, teachers: tuple[int, ...], room: int, group: int, subject: int | None,
                 code: str = "", spare_room: int | None = None, noise: bool = True) -> None:
        """Create an activity (its requirement nodes) and one event per week."""
        weeks = [w for w in weeks if day not in self.holidays.get(w, ())]
        if not weeks:
            return
        b, rng = self.b, self.rng
        requirements: list[Requirement] = []
        fixed: list[tuple[int, int, int]] = []
        for teacher in teachers:
            if rng.random() < 0.3:
                or_id = next(b.node_ids)
                node = next(b.node_ids)
                substitute = rng.choice(b.instructors[component])
                requirements += [Requirement(node, teacher, or_id), Requirement(next(b.node_ids), substitute, or_id)]
                fixed.append((teacher, node, or_id))
            else:
                node = next(b.node_ids)
                requirements.append(Requirement(node, teacher))
                fixed.append((teacher, node, NO_ID))
        room_or = next(b.node_ids)
        room_node = next(b.node_ids)
        requirements.append(Requirement(room_node, room, room_or))
        alternative: tuple[int, int, int] | None = None
        if spare_room is not None and spare_room != room:
            spare_node = next(b.node_ids)
            requirements.append(Requirement(spare_node, spare_room, room_or))
            alternative = (spare_room, spare_node, room_or)
        tail = [(group, next(b.node_ids), NO_ID)]
        if subject is not None:
            tail.append((subject, next(b.node_ids), NO_ID))
        requirements += [Requirement(n, r, o) for r, n, o in tail]
        usual = self.bookings([*fixed, (room, room_node, room_or), *tail])
        moved = self.bookings([*fixed, alternative, *tail]) if alternative else usual
        created = b.stamp(-120, -10)
        colors = COLOR_TABLE[kind]
        color = colors[rng.randrange(len(colors))]
        aid = next(b.activity_ids)
        folder = b.folder_of.get(component, 0)
        b.activities.append(Activity(id=aid, name=name, type=kind, folder_id=folder, code=code, color=color,
                                     size=len(weeks), requirements=tuple(requirements), creation=created,
                                     last_update=created))
        twins = 0
        for rep, week in enumerate(weeks):
            roll = rng.random()
            if noise and roll < CANCEL_RATE and week not in self.holidays:
                continue  # cancelled: the series has a hole that week
            event = PlacedEvent(id=next(b.event_ids), activity_id=aid, repetition=rep, week=week, day=day, slot=slot,
                                duration=duration, name=name, color=color,
                                note=names.NOTES[rng.randrange(len(names.NOTES))] if 0.01 <= roll < 0.03 else "",
                                info="Séance dédoublée" if 0.03 <= roll < 0.04 else "",
                                creation=created, last_update=created if roll < 0.75 else b.stamp(-9, -1),
                                resources=moved if 0.90 <= roll < 0.96 else usual)
            if roll >= 1 - MOVED_RATE and week > 0:
                event = _with_old(event, week - 1 - rng.randrange(min(week, 3)), rng.choice(WEEKDAYS),
                                  rng.randrange(0, 36, 2) * 15 // self.unit)
            b.events.append(event)
            if noise and rng.random() < QUIRK_RATE:
                # Entered again by hand: a new event of the activity, so the next repetition number.
                twins += 1
                b.events.append(msgspec.structs.replace(event, id=next(b.event_ids), repetition=len(weeks) + twins - 1))

    # -- what a component, a programme and a year get ----------------------------------------
    def terms(self) -> tuple[tuple[object, ...], ...]:
        return (("term", 1), ("term", 2))

    def schedule_component_lectures(self, c: int, root: int) -> None:
        """Evening lectures open to a whole component, booked on its top-level folder (before its classes)."""
        b, rng, cal = self.b, self.rng, self.calendar
        teaching = list(cal.semester1 + cal.semester2)
        weeks = sorted(rng.sample(teaching, min(3, len(teaching))))
        site = c % len(b.rooms_by_site)
        rooms = self.rooms(site, ("Amphithéâtre",), 100)
        placed = self.place(self.terms(), root, (), 90, [], c, rooms, days=(1, 3), allowed=CONFERENCE_STARTS)
        if placed is None:
            return
        day, slot, teacher, room, _ = placed
        self.activity(component=c, name="Conférence : l'université & la cité", kind="Conférence", weeks=weeks,
                      day=day, slot=slot, duration=self.slots(90), teachers=(teacher,), room=room, group=root,
                      subject=None, noise=False)

    def schedule_programme(self, c: int, domain: str, degree: str, programme: int, folder: int,
                           years: list[YearOfStudy]) -> None:
        b, cal = self.b, self.calendar
        site = c % len(b.rooms_by_site)
        if cal.rentree:
            size = sum(y.size for y in years)
            rooms = self.rooms(site, ("Amphithéâtre", "Salle de TD"), min(size, 120))
            placed = self.place((("rentree", cal.rentree[0]),), programme, (), 60, [], c, rooms)
            if placed:
                day, slot, teacher, room, _ = placed
                self.activity(component=c, name="Réunion de rentrée", kind="Réunion", weeks=cal.rentree[:1], day=day,
                              slot=slot, duration=self.slots(60), teachers=(teacher,), room=room, group=programme,
                              subject=None, noise=False)
        for y, year in enumerate(years):
            self.schedule_year(c, site, domain, degree, folder, programme, y, year)

    def keep_lunch_free(self, keys: Keys, year: YearOfStudy) -> None:
        for day in WEEKDAYS:
            if self.rng.random() >= NO_LUNCH_BREAK:
                self.block(keys, year.branch, self.mask(day, self.rng.choice(LUNCH_STARTS), 60))

    def schedule_year(self, c: int, site: int, domain: str, degree: str, folder: int, programme: int, y: int,
                      year: YearOfStudy) -> None:
        b, rng, cal = self.b, self.rng, self.calendar
        stems = list(names.SUBJECTS[domain])
        rng.shuffle(stems)
        lengths = LENGTHS.get(degree, LENGTHS["default"])
        lab_kind = "Salle informatique" if domain in ("maths", "info", "gestion", "eco") else "Laboratoire" \
            if domain in LABS else "Salle de TD"
        saturday = domain == "droit" and rng.random() < 0.4 and self.project.days_per_week > SATURDAY
        for s, (weeks, exams) in enumerate(((cal.semester1, cal.exams1), (cal.semester2, cal.exams2)), start=1):
            keys: Keys = (("term", s),)
            self.keep_lunch_free(keys, year)
            target = rng.randint(*WEEKLY_HOURS.get(degree, (18, 22))) * 60
            lecture_share = LECTURE_SHARE["BUT" if degree == "BUT" else "labs" if domain in LABS else "default"]
            count = max(3, round(target / 60 / 4.5))
            lectures: list[list[int]] = [[] for _ in range(count)]
            tutorials: list[list[int]] = [[] for _ in range(count)]
            total = i = 0
            while total < target * lecture_share or not year.td and total < target:
                length = rng.choice(lengths[0]) if total + 120 <= target else 60
                lectures[i % count].append(length)
                total, i = total + length, i + 1
            fortnightly = 0
            while total < target:
                # Half the tutorial series meet every other week (A and B weeks in turn), the rest every week.
                length = rng.choice(lengths[1]) if total + 120 <= target else 60
                every_other = rng.random() < 0.5
                tutorials[rng.randrange(count)].append(-length if every_other else length)
                total += length // 2 if every_other else length
                fortnightly += every_other
            lab_load = [0, 0]
            subjects: list[tuple[int, str, list[int]]] = []
            for i in range(count):
                stem = stems[i % len(stems)]
                subject_name = f"{stem} {2 * y + s}" if i < len(stems) else f"{stem} {2 * y + s} – approfondissement"
                subject = b.add("category5", subject_name, folder,
                                code=f"{domain[:3].upper()}{programme % 1000:03d}{y + 1}{s}{i + 1:02d}")
                subjects.append((subject, subject_name, []))
            # The most constrained first, as a timetabling office does: lectures hold every group of the year.
            for i, (subject, subject_name, team) in enumerate(subjects):
                for k, length in enumerate(lectures[i]):
                    self.lecture(c, site, keys, year, subject, subject_name, weeks, length, team,
                                 days=(SATURDAY,) if saturday and i == k == 0 else WEEKDAYS)
            for i, (subject, subject_name, team) in enumerate(subjects):
                for length in tutorials[i]:
                    alternate = length < 0
                    series = weeks[fortnightly % 2::2] if alternate else weeks
                    fortnightly += alternate
                    self.tutorials(c, site, keys, year, subject, subject_name, series, abs(length), team,
                                   every_other=alternate)
            labs = 0
            for i, (subject, subject_name, team) in enumerate(subjects):
                lab = rng.choice((120, 180))
                parity = labs % 2
                if any(year.tp.values()) and total + lab_load[parity] + lab <= MAX_WEEK_MINUTES \
                        and (domain in LABS and i in (0, 2) or i == 0):
                    lab_load[parity] += lab
                    labs += 1
                    self.labs(c, site, keys, year, subject, subject_name, weeks[parity::2], lab, team, lab_kind)
            for i, (subject, subject_name, team) in enumerate(subjects):
                self.exam(c, site, year, subject, subject_name, exams, i, "Examen", team)
                if rng.random() < 0.4:
                    self.exam(c, site, year, subject, subject_name, cal.resits, i, "Rattrapage", team)

    def lecture(self, c: int, site: int, keys: Keys, year: YearOfStudy, subject: int, subject_name: str,
                weeks: Sequence[int], minutes: int, team: list[int], *, days: tuple[int, ...]) -> None:
        kinds = ("Amphithéâtre",) if year.size > 60 else ("Salle de TD", "Amphithéâtre")
        rooms = self.rooms(site, kinds, year.size)
        found = self.place_shortening(keys, year.branch, year.leaves[year.branch], minutes, team, c, rooms, days=days)
        if found is None and days != WEEKDAYS:
            found = self.place_shortening(keys, year.branch, year.leaves[year.branch], minutes, team, c, rooms)
        if found is None:
            return
        minutes, (day, slot, teacher, room, _) = found
        self.activity(component=c, name=f"CM {subject_name}", kind="CM", weeks=weeks, day=day, slot=slot,
                      duration=self.slots(minutes), teachers=(teacher,), room=room, group=year.branch,
                      subject=subject)

    def tutorials(self, c: int, site: int, keys: Keys, year: YearOfStudy, subject: int, subject_name: str,
                  weeks: Sequence[int], minutes: int, team: list[int], *, every_other: bool) -> None:
        for td in year.td:
            rooms = self.rooms(site, ("Salle de TD",), year.headcount[td])
            found = self.place_shortening(keys, td, year.leaves[td], minutes, team, c, rooms,
                                          spare=self.rng.random() < 0.3, every_other=every_other)
            if found is None:
                continue
            length, (day, slot, teacher, room, spare) = found
            self.activity(component=c, name=f"TD {subject_name}", kind="TD", weeks=weeks, day=day, slot=slot,
                          duration=self.slots(length), teachers=(teacher,), room=room, group=td, subject=subject,
                          spare_room=spare)

    def labs(self, c: int, site: int, keys: Keys, year: YearOfStudy, subject: int, subject_name: str,
             weeks: Sequence[int], minutes: int, team: list[int], kind: str) -> None:
        for td in year.td:
            for tp in year.tp[td]:
                rooms = self.rooms(site, (kind, "Salle informatique", "Laboratoire", "Salle de TD"), year.headcount[tp])
                found = self.place_shortening(keys, tp, (tp,), minutes, team, c, rooms, every_other=True)
                if found is None:
                    continue
                length, (day, slot, teacher, room, _) = found
                label = "TP" if kind != "Salle de TD" else "TD"
                self.activity(component=c, name=f"{label} {subject_name} – demi-groupe" if label == "TD" else
                              f"TP {subject_name}", kind=label, weeks=weeks, day=day, slot=slot,
                              duration=self.slots(length), teachers=(teacher,), room=room, group=tp, subject=subject)

    def exam(self, c: int, site: int, year: YearOfStudy, subject: int, subject_name: str, weeks: Sequence[int],
             index: int, kind: str, team: list[int]) -> None:
        """One written exam of the subject, for the whole year, in one of the exam (or resit) weeks."""
        if not weeks:
            return
        minutes = self.rng.choice((120, 120, 180))
        rooms = self.rooms(site, ("Amphithéâtre", "Salle de TD"), year.size)
        for shift in range(len(weeks)):
            week = weeks[(index + shift) % len(weeks)]
            placed = self.place(((kind, week),), year.branch, year.leaves[year.branch], minutes, team[:1], c, rooms,
                                allowed=EXAM_STARTS)
            if placed:
                day, slot, teacher, room, _ = placed
                self.activity(component=c, name=f"{kind} {subject_name}", kind=kind, weeks=[week], day=day,
                              slot=slot, duration=self.slots(minutes), teachers=(teacher,), room=room,
                              group=year.branch, subject=subject, noise=False)
                return


COLOR_TABLE = {"CM": ("102,153,255", "51,102,204", "153,153,255"), "TD": ("255,204,102", "255,153,51"),
               "TP": ("153,204,102", "102,204,153"), "Examen": ("255,102,102",), "Rattrapage": ("204,51,51",),
               "Réunion": ("200,200,200",), "Conférence": ("255,255,153",)}


def _with_old(event: PlacedEvent, week: int, day: int, slot: int) -> PlacedEvent:
    """An event that ADE shows as moved once: its previous placement in the ``old*`` fields."""
    return msgspec.structs.replace(event, old_week=week, old_day=day, old_slot=slot, old_duration=event.duration)
