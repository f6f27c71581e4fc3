"""Placing the generated activities: weekly templates without clashes, then one event per week.

A year of study gets, per semester, a template week: every activity takes one (day, slot) chosen so
that its group, its instructor and its room are free in that template (bit masks over the week's
slots, one per resource and semester). Events then repeat the template over the semester's teaching
weeks. The checks are per template, not per week, which is stricter than needed and keeps the data
free of double bookings without a per-week search.
"""

from __future__ import annotations

import msgspec

from schedulesy.adesim import names
from schedulesy.adesim.draft import Draft, YearOfStudy
from schedulesy.adesim.model import NO_ID, Activity, Booking, PlacedEvent, Requirement

WORK_DAYS = (0, 1, 2, 3, 4)


class Scheduler:
    def __init__(self, draft: Draft) -> None:
        self.b = draft
        self.rng = draft.rng
        self.project = draft.project
        self.calendar = draft.calendar
        self.orders: dict[int, list[list[tuple[int, int]]]] = {}
        self.room_pools: dict[tuple[int, str], list[int]] = {}
        self.booking_cache: dict[tuple[tuple[int, int, int], ...], tuple[Booking, ...]] = {}

    # -- placement ---------------------------------------------------------------------------
    def candidates(self, duration: int) -> list[tuple[int, int]]:
        """(day, slot) starts for a duration, in one of a few pre-shuffled orders, rotated."""
        if duration not in self.orders:
            base = [(d, s) for d in WORK_DAYS if d < self.project.days_per_week
                    for s in self.b.slots if s + duration <= self.project.slots_per_day]
            orders = []
            for _ in range(8):
                shuffled = base[:]
                self.rng.shuffle(shuffled)
                orders.append(shuffled)
            self.orders[duration] = orders
        order = self.orders[duration][self.rng.randrange(8)]
        start = self.rng.randrange(len(order))
        return order[start:] + order[:start]

    def mask(self, day: int, slot: int, duration: int) -> int:
        return ((1 << duration) - 1) << (day * self.project.slots_per_day + slot)

    def free(self, key: object, rid: int, mask: int) -> bool:
        return not self.b.busy.get((key, rid), 0) & mask

    def take(self, key: object, rids: tuple[int, ...], mask: int) -> None:
        busy = self.b.busy
        for rid in rids:
            busy[(key, rid)] = busy.get((key, rid), 0) | mask

    def room_pool(self, site: int, kind: str) -> list[int]:
        """Rooms of a kind on a site, falling back to other kinds, then to every site."""
        key = (site, kind)
        if key not in self.room_pools:
            by_kind = self.b.rooms_by_site[site]
            pool = [rid for rid, _ in by_kind.get(kind, [])] or [rid for rid, _ in by_kind.get("Salle de TD", [])] \
                or [rid for rooms in by_kind.values() for rid, _ in rooms] \
                or [rid for site_rooms in self.b.rooms_by_site for rooms in site_rooms.values() for rid, _ in rooms]
            self.room_pools[key] = pool
        return self.room_pools[key]

    def place(self, key: object, groups: tuple[int, ...], duration: int, staff: list[int], site: int,
              kind: str) -> tuple[int, int, int, int]:
        """(day, slot, instructor, room) for a weekly activity; clashes only when nothing fits."""
        rng = self.rng
        rooms = self.room_pool(site, kind)
        wanted = rng.choice(staff)
        fallback: tuple[int, int, int, int] | None = None
        for day, slot in self.candidates(duration):
            m = self.mask(day, slot, duration)
            if not all(self.free(key, g, m) for g in groups):
                continue
            teacher = next((t for t in (wanted, *rng.sample(staff, min(3, len(staff))))
                            if self.free(key, t, m)), None)
            start = rng.randrange(len(rooms))
            room = next((r for r in rooms[start:start + 30] + rooms[:max(0, start + 30 - len(rooms))]
                         if self.free(key, r, m)), None)
            if teacher is not None and room is not None:
                self.take(key, (groups[0], teacher, room), m)
                return day, slot, teacher, room
            fallback = fallback or (day, slot, teacher or wanted, room or rooms[start])
        day, slot, teacher, room = fallback or (0, self.b.slots[0], wanted, rooms[0])
        self.take(key, (groups[0], teacher, room), self.mask(day, slot, duration))
        return day, slot, teacher, room

    # -- activities and events ---------------------------------------------------------------
    def bookings(self, parts: list[tuple[int, int, int]]) -> tuple[Booking, ...]:
        """Share one tuple between the many events that book the same nodes."""
        key = tuple(parts)
        found = self.booking_cache.get(key)
        if found is None:
            found = self.booking_cache[key] = tuple(Booking(r, n, o) for r, n, o in parts)
        return found

    def activity(self, *, component: int, name: str, kind: str, weeks: list[int] | tuple[int, ...],
                 day: int, slot: int, duration: int, teachers: tuple[int, ...], room: int, group: int,
                 subject: int | None, code: str = "", spare_room: int | None = None) -> None:
        """Create an activity (its requirement nodes) and one event per week."""
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
        for rep, week in enumerate(weeks):
            roll = rng.random()
            event = PlacedEvent(id=next(b.event_ids), activity_id=aid, repetition=rep, week=week, day=day, slot=slot,
                          duration=duration, name=name, color=color,
                          note=names.NOTES[rng.randrange(len(names.NOTES))] if roll < 0.02 else "",
                          info="Séance dédoublée" if 0.02 <= roll < 0.03 else "",
                          creation=created, last_update=created if roll < 0.75 else b.stamp(-9, -1),
                          resources=moved if 0.90 <= roll < 0.96 else usual)
            if roll >= 0.97 and week > 0:
                event = _with_old(event, week - 1 - rng.randrange(min(week, 3)), rng.choice(WORK_DAYS),
                                  rng.choice(self.b.slots))
            b.events.append(event)

    # -- what a year, a programme and a component get -------------------------------------------
    def schedule_programme(self, c: int, domain: str, programme: int, folder: int, years: list[YearOfStudy]) -> None:
        b, rng, cal = self.b, self.rng, self.calendar
        site = c % len(b.rooms_by_site)
        staff = b.instructors[c]
        if cal.rentree:
            day, slot, teacher, room = self.place(("rentree", cal.rentree[0]), (programme,), b.minutes(60), staff,
                                                  site, "Amphithéâtre")
            self.activity(component=c, name="Réunion de rentrée", kind="Réunion", weeks=cal.rentree[:1], day=day,
                          slot=slot, duration=b.minutes(60), teachers=(teacher,), room=room, group=programme,
                          subject=None)
        stems = names.SUBJECTS[domain]
        for y, year in enumerate(years):
            for s, (weeks, exams) in enumerate(((cal.semester1, cal.exams1), (cal.semester2, cal.exams2)), start=1):
                count = rng.randint(*b.knobs.subjects_per_semester)
                for i, stem in enumerate(rng.sample(stems, min(count, len(stems)))):
                    subject_name = f"{stem} {2 * y + s}"
                    subject = b.add("category5", subject_name, folder,
                                    code=f"{_code(domain)}{programme % 1000:03d}{y + 1}{s}{i + 1:02d}")
                    b.all_subjects.append((subject, subject_name))
                    self.schedule_subject(c, site, (s, year.label, year.branch), year, subject, subject_name,
                                          list(weeks), with_tp=i % 2 == 0)
                    self.schedule_exam(c, site, year, subject, subject_name, exams, i, "Examen")
                    if rng.random() < 0.4:
                        self.schedule_exam(c, site, year, subject, subject_name, cal.resits, i, "Rattrapage")

    def schedule_subject(self, c: int, site: int, key: object, year: YearOfStudy, subject: int, subject_name: str,
                         weeks: list[int], *, with_tp: bool) -> None:
        b, rng = self.b, self.rng
        staff = b.instructors[c]
        drop = rng.randrange(0, 3)
        cm_weeks = weeks[: len(weeks) - drop]
        cm = b.minutes(90)
        day, slot, teacher, room = self.place(key, year.related[year.branch], cm, staff, site, "Amphithéâtre")
        teachers = (teacher, rng.choice(staff)) if rng.random() < 0.05 else (teacher,)
        self.activity(component=c, name=f"CM {subject_name}", kind="CM", weeks=cm_weeks, day=day, slot=slot,
                      duration=cm, teachers=teachers, room=room, group=year.branch, subject=subject)
        td_length = b.minutes(rng.choice((90, 120)))
        for td in year.td:
            day, slot, teacher, room = self.place(key, year.related[td], td_length, staff, site, "Salle de TD")
            self.activity(component=c, name=f"TD {subject_name}", kind="TD", weeks=weeks[1: len(weeks) - drop],
                          day=day, slot=slot, duration=td_length, teachers=(teacher,), room=room, group=td,
                          subject=subject, spare_room=rng.choice(self.room_pool(site, "Salle de TD")))
            if not with_tp:
                continue
            tp_length = b.minutes(rng.choice((120, 180)))
            kind = rng.choice(("Salle informatique", "Laboratoire"))
            for tp in year.tp[td]:
                day, slot, teacher, room = self.place(key, year.related[tp], tp_length, staff, site, kind)
                self.activity(component=c, name=f"TP {subject_name}", kind="TP",
                              weeks=weeks[2::2][: b.knobs.tp_sessions], day=day, slot=slot, duration=tp_length,
                              teachers=(teacher,), room=room, group=tp, subject=subject)

    def schedule_exam(self, c: int, site: int, year: YearOfStudy, subject: int, subject_name: str,
                      weeks: tuple[int, ...], index: int, kind: str) -> None:
        if not weeks:
            return
        b = self.b
        length = b.minutes(120)
        week = weeks[index % len(weeks)]
        day = index // len(weeks) % 5
        slot = self.b.slots[0 if index // (5 * len(weeks)) % 2 == 0 else min(3, len(self.b.slots) - 1)]
        rooms = self.room_pool(site, "Amphithéâtre")
        self.activity(component=c, name=f"{kind} {subject_name}", kind=kind, weeks=[week], day=day, slot=slot,
                      duration=length, teachers=(self.rng.choice(b.instructors[c]),),
                      room=rooms[self.rng.randrange(len(rooms))], group=year.branch, subject=subject)

    def schedule_component_lectures(self, c: int, root: int) -> None:
        """Lectures open to a whole component: events booked on a top-level folder."""
        b, rng = self.b, self.rng
        weeks = sorted(rng.sample(list(self.calendar.semester1 + self.calendar.semester2),
                                  min(3, len(self.calendar.semester1 + self.calendar.semester2))))
        slot = b.slots[-1]
        rooms = self.room_pool(c % len(b.rooms_by_site), "Amphithéâtre")
        self.activity(component=c, name="Conférence : l'université & la cité", kind="Conférence", weeks=weeks,
                      day=3, slot=slot, duration=b.minutes(90), teachers=(rng.choice(b.instructors[c]),),
                      room=rooms[0], group=root, subject=None)

    def schedule_electives(self, years: list[YearOfStudy]) -> None:
        """A large elective catalogue on the biggest years (their timetables pass 7,000 events)."""
        b, rng = self.b, self.rng
        count = b.knobs.electives_per_big_group
        if not count or not b.all_subjects:
            return
        everyone = [t for staff in b.instructors.values() for t in staff]
        weeks = list(self.calendar.semester1 + self.calendar.semester2)
        for year in sorted(years, key=lambda y: -y.size)[: b.knobs.big_groups]:
            site = year.component % len(b.rooms_by_site)
            rooms = self.room_pool(site, "Salle de TD")
            for e in range(count):
                subject, subject_name = rng.choice(b.all_subjects)
                length = b.minutes(rng.choice((90, 120)))
                day, slot = self.candidates(length)[0]
                self.activity(component=year.component, name=f"{names.ELECTIVES[e % len(names.ELECTIVES)]} – "
                              f"{subject_name}", kind="Option", weeks=weeks, day=day, slot=slot, duration=length,
                              teachers=(rng.choice(everyone),), room=rooms[rng.randrange(len(rooms))],
                              group=year.branch, subject=subject)


COLOR_TABLE = {"CM": ("102,153,255", "51,102,204", "153,153,255"), "TD": ("255,204,102", "255,153,51"),
               "TP": ("153,204,102", "102,204,153"), "Examen": ("255,102,102",), "Rattrapage": ("204,51,51",),
               "Option": ("204,153,255",), "Réunion": ("200,200,200",), "Conférence": ("255,255,153",)}


def _code(domain: str) -> str:
    return domain[:3].upper()


def _with_old(event: PlacedEvent, week: int, day: int, slot: int) -> PlacedEvent:
    """An event that ADE shows as moved once: its previous placement in the ``old*`` fields."""
    return msgspec.structs.replace(event, old_week=week, old_day=day, old_slot=slot, old_duration=event.duration)
