"""The simulator's mutable copy of a university, its indexes, and the changes the admin API makes.

Why a separate store: the :class:`~schedulesy.adesim.model.University` stays frozen so that a reset
is a rebuild from it, and every index lives here next to the code that keeps it right.

Indexes: children per folder (in creation order, which is ADE's child order), events per booked
resource, per week and per activity. Derived answers that cost more (a resource's events including
those booked on its ancestors, a resource's path and statistics) are cached and the caches dropped on
every change; ``version`` counts changes so that renderers can drop theirs too.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from schedulesy.adesim.model import (
    NO_ID, Activity, Booking, GridProject, PlacedEvent, Requirement, Resource, University, format_stamp,
)


class StoreError(Exception):
    """A change the data refuses; ``status`` is the HTTP status the admin API answers with."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class ResourceStats(msgspec.Struct, frozen=True):
    """What ADE reports at resource detail 9, computed from the events booked on the resource."""

    events: int
    minutes: int
    first: tuple[int, int, int]
    last: tuple[int, int, int]


EMPTY_STATS = ResourceStats(0, 0, (NO_ID, NO_ID, NO_ID), (NO_ID, NO_ID, NO_ID))


class Store:
    def __init__(self, university: University, clock: Callable[[], dt.datetime]) -> None:
        self.university = university
        self.clock = clock
        self.version = 0
        self.reset()

    @property
    def project(self) -> GridProject:
        return self.university.project

    # -- building -------------------------------------------------------------------------------
    def reset(self) -> None:
        u = self.university
        self.resources: dict[int, Resource] = {r.id: r for r in u.resources}
        self.activities: dict[int, Activity] = {a.id: a for a in u.activities}
        self.events: dict[int, PlacedEvent] = {e.id: e for e in u.events}
        self.children: dict[int, list[int]] = {}
        for r in u.resources:
            self.children.setdefault(r.parent_id, []).append(r.id)
        self.direct: dict[int, set[int]] = {}
        self.by_week: dict[int, set[int]] = {}
        self.by_activity: dict[int, set[int]] = {}
        for e in u.events:
            self._index(e)
        self.event_ids = itertools.count(max(self.events, default=100_000) + 1)
        self.resource_ids = itertools.count(max(self.resources, default=0) + 1)
        self.activity_ids = itertools.count(max(self.activities, default=10_000) + 1)
        self.node_ids = itertools.count(max((q.node_id for a in u.activities for q in a.requirements),
                                            default=500_000) + 1)
        self._changed()

    def _index(self, event: PlacedEvent) -> None:
        for b in event.resources:
            self.direct.setdefault(b.resource_id, set()).add(event.id)
        self.by_week.setdefault(event.week, set()).add(event.id)
        self.by_activity.setdefault(event.activity_id, set()).add(event.id)

    def _unindex(self, event: PlacedEvent) -> None:
        for b in event.resources:
            self.direct.get(b.resource_id, set()).discard(event.id)
        self.by_week.get(event.week, set()).discard(event.id)
        self.by_activity.get(event.activity_id, set()).discard(event.id)

    def _changed(self) -> None:
        self.version += 1
        self._inherited: dict[int, tuple[int, ...]] = {}
        self._paths: dict[int, str] = {}
        self._stats: dict[int, ResourceStats] = {}
        self._all_ids: tuple[int, ...] | None = None

    # -- reading --------------------------------------------------------------------------------
    def ancestors(self, rid: int) -> list[int]:
        """Parent first, root last."""
        found, parent = [], self.resources[rid].parent_id
        while parent != NO_ID and parent in self.resources:
            found.append(parent)
            parent = self.resources[parent].parent_id
        return found

    def path(self, rid: int) -> str:
        """ADE's ``path``: ancestor names each followed by a dot; empty for a top-level folder."""
        cached = self._paths.get(rid)
        if cached is None:
            cached = "".join(f"{self.resources[a].name}." for a in reversed(self.ancestors(rid)))
            self._paths[rid] = cached
        return cached

    def descendants(self, rid: int) -> list[int]:
        """Depth-first, in child order."""
        out: list[int] = []
        stack = list(reversed(self.children.get(rid, [])))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(self.children.get(node, [])))
        return out

    def roots(self, category: str) -> list[int]:
        return [r for r in self.children.get(NO_ID, []) if self.resources[r].category == category]

    def events_of_resource(self, rid: int) -> tuple[int, ...]:
        """Ids of the events booked on ``rid`` or on any folder above it, ascending (docs/ade.md §3.1 scope)."""
        cached = self._inherited.get(rid)
        if cached is None:
            if rid not in self.resources:
                return ()
            ids: set[int] = set(self.direct.get(rid, ()))
            for a in self.ancestors(rid):
                ids.update(self.direct.get(a, ()))
            cached = self._inherited[rid] = tuple(sorted(ids))
        return cached

    def all_event_ids(self) -> tuple[int, ...]:
        if self._all_ids is None:
            self._all_ids = tuple(sorted(self.events))
        return self._all_ids

    def stats(self, rid: int) -> ResourceStats:
        cached = self._stats.get(rid)
        if cached is None:
            booked = [self.events[e] for e in self.direct.get(rid, ())]
            if not booked:
                cached = EMPTY_STATS
            else:
                p = self.project
                order = sorted(booked, key=lambda e: p.absolute_slot(e.week, e.day, e.slot))
                cached = ResourceStats(len(booked), sum(e.duration for e in booked) * p.slot_minutes,
                                       (order[0].week, order[0].day, order[0].slot),
                                       (order[-1].week, order[-1].day, order[-1].slot + order[-1].duration - 1))
            self._stats[rid] = cached
        return cached

    # -- changes to events ----------------------------------------------------------------------
    def now_stamp(self) -> str:
        return format_stamp(self.clock())

    def get_event(self, eid: int) -> PlacedEvent:
        try:
            return self.events[eid]
        except KeyError:
            raise StoreError(404, "event_not_found", f"no event {eid}") from None

    def _replace_event(self, old: PlacedEvent | None, new: PlacedEvent | None) -> None:
        if old is not None:
            self._unindex(old)
            del self.events[old.id]
        if new is not None:
            if new.id in self.events:
                raise StoreError(409, "event_id_taken", f"event id {new.id} is already used")
            self.events[new.id] = new
            self._index(new)
        self._changed()

    def move_event(self, eid: int, *, week: int | None = None, day: int | None = None, slot: int | None = None,
                   duration: int | None = None, new_id: bool | int = False) -> PlacedEvent:
        """Re-place an event, keeping its business key; ``new_id`` mimics ADE re-numbering it (docs/ade.md §5.3)."""
        old = self.get_event(eid)
        week = old.week if week is None else week
        day = old.day if day is None else day
        slot = old.slot if slot is None else slot
        duration = old.duration if duration is None else duration
        self._check(lambda: self.project.check_placement(week, day, slot, duration))
        target_id = eid
        if new_id is True:
            target_id = next(self.event_ids)
        elif new_id is not False and isinstance(new_id, int):
            target_id = new_id
        moved = msgspec.structs.replace(old, id=target_id, week=week, day=day, slot=slot, duration=duration,
                                        old_week=old.week, old_day=old.day, old_slot=old.slot,
                                        old_duration=old.duration, last_update=self.now_stamp())
        if target_id != eid and target_id in self.events:
            raise StoreError(409, "event_id_taken", f"event id {target_id} is already used")
        self._replace_event(old, moved)
        return moved

    def update_event(self, eid: int, changes: dict[str, Any]) -> PlacedEvent:
        old = self.get_event(eid)
        fields: dict[str, Any] = {k: v for k, v in changes.items() if k in ("name", "note", "info", "color")}
        if changes.get("resources") is not None:
            fields["resources"] = self._bookings(changes["resources"], old.resources)
        updated = msgspec.structs.replace(old, **fields, last_update=self.now_stamp())
        self._replace_event(old, updated)
        return updated

    def delete_event(self, eid: int) -> PlacedEvent:
        old = self.get_event(eid)
        self._replace_event(old, None)
        return old

    def add_event(self, *, name: str, week: int, day: int, slot: int, duration: int, resources: list[int],
                  activity_id: int | None = None, event_id: int | None = None, color: str = "",
                  note: str = "", info: str = "", session: int = 0, repetition: int | None = None) -> PlacedEvent:
        self._check(lambda: self.project.check_placement(week, day, slot, duration))
        stamp = self.now_stamp()
        if activity_id is None:
            activity_id = next(self.activity_ids)
            folder = min((a.folder_id for a in self.activities.values()), default=0)
            self.activities[activity_id] = Activity(id=activity_id, name=name, type="CM", folder_id=folder,
                                                    color=color, creation=stamp, last_update=stamp)
        elif activity_id not in self.activities:
            raise StoreError(404, "activity_not_found", f"no activity {activity_id}")
        if repetition is None:
            siblings = [self.events[e].repetition for e in self.by_activity.get(activity_id, ())]
            repetition = max(siblings, default=-1) + 1
        event = PlacedEvent(id=next(self.event_ids) if event_id is None else event_id, activity_id=activity_id,
                      repetition=repetition, session=session, week=week, day=day, slot=slot, duration=duration,
                      name=name, color=color or self.activities[activity_id].color, note=note, info=info,
                      creation=stamp, last_update=stamp, resources=self._bookings(resources, ()))
        self._replace_event(None, event)
        return event

    def _bookings(self, resource_ids: Iterable[int], current: tuple[Booking, ...]) -> tuple[Booking, ...]:
        """Keep the node of a resource already booked; give a new node to a new one."""
        kept = {b.resource_id: b for b in current}
        out = []
        for rid in resource_ids:
            if rid not in self.resources:
                raise StoreError(404, "resource_not_found", f"no resource {rid}")
            out.append(kept.get(rid) or Booking(rid, next(self.node_ids)))
        return tuple(out)

    @staticmethod
    def _check(validate: Callable[[], None]) -> None:
        try:
            validate()
        except ValueError as exc:
            raise StoreError(400, "bad_placement", str(exc)) from None

    # -- changes to resources -------------------------------------------------------------------
    def get_resource(self, rid: int) -> Resource:
        try:
            return self.resources[rid]
        except KeyError:
            raise StoreError(404, "resource_not_found", f"no resource {rid}") from None

    def add_resource(self, fields: dict[str, Any]) -> Resource:
        """Create a resource; an explicit free ``id`` re-uses a deleted one, as ADE does (docs/ade.md §5.3)."""
        rid = fields.pop("id", None)
        rid = next(self.resource_ids) if rid is None else int(rid)
        if rid in self.resources:
            raise StoreError(409, "resource_id_taken", f"resource id {rid} is already used")
        parent = fields.get("parent_id", NO_ID)
        self._check_parent(parent, fields.get("category", ""), rid)
        stamp = self.now_stamp()
        try:
            resource = msgspec.convert({**fields, "id": rid, "creation": stamp, "last_update": stamp}, Resource)
        except msgspec.ValidationError as exc:
            raise StoreError(400, "bad_resource", str(exc)) from None
        self.resources[rid] = resource
        self.children.setdefault(resource.parent_id, []).append(rid)
        self._changed()
        return resource

    def _check_parent(self, parent: int, category: str, rid: int) -> None:
        if parent == NO_ID:
            return
        folder = self.resources.get(parent)
        if folder is None or not folder.is_group:
            raise StoreError(400, "bad_parent", f"parent {parent} is not a folder")
        if folder.category != category:
            raise StoreError(400, "bad_parent", f"parent {parent} is in category {folder.category}")
        if parent == rid or parent in self.descendants(rid):
            raise StoreError(400, "bad_parent", "a folder cannot move under itself")

    def update_resource(self, rid: int, changes: dict[str, Any]) -> Resource:
        old = self.get_resource(rid)
        changes = {k: v for k, v in changes.items() if k not in ("id", "category", "creation")}
        if "parent_id" in changes and changes["parent_id"] != old.parent_id:
            self._check_parent(changes["parent_id"], old.category, rid)
            self.children[old.parent_id].remove(rid)
            self.children.setdefault(changes["parent_id"], []).append(rid)
        try:
            new = msgspec.convert({**msgspec.structs.asdict(old), **changes, "last_update": self.now_stamp()},
                                  Resource)
        except msgspec.ValidationError as exc:
            raise StoreError(400, "bad_resource", str(exc)) from None
        self.resources[rid] = new
        self._changed()
        return new

    def delete_resource(self, rid: int) -> list[int]:
        """Delete a resource and everything under it; events lose those bookings (and get a new stamp)."""
        self.get_resource(rid)
        gone = [rid, *self.descendants(rid)]
        gone_set = set(gone)
        stamp = self.now_stamp()
        touched = sorted({e for r in gone for e in self.direct.get(r, ())})
        for eid in touched:
            old = self.events[eid]
            new = msgspec.structs.replace(old, resources=tuple(b for b in old.resources
                                                               if b.resource_id not in gone_set), last_update=stamp)
            self._unindex(old)
            self.events[eid] = new
            self._index(new)
        for aid, activity in list(self.activities.items()):
            if any(q.resource_id in gone_set for q in activity.requirements):
                kept: tuple[Requirement, ...] = tuple(q for q in activity.requirements if q.resource_id not in gone_set)
                self.activities[aid] = msgspec.structs.replace(activity, requirements=kept)
        self.children[self.resources[rid].parent_id].remove(rid)
        for r in gone:
            self.children.pop(r, None)
            self.direct.pop(r, None)
            del self.resources[r]
        self._changed()
        return gone
