"""The simulator's admin API (JSON, outside the Web API, never affected by faults).

It changes the data, injects faults and reads counters; a tiny table-driven router is enough, as the
admin API is for tests and demos, not a product surface. Errors answer ``{"detail": …, "code": …}``
with 400/404/409. ``?project=ID`` picks another project (default: live).

==========================================  ==========================================================
``GET /admin/health``                       ``{"status": "ok"}``
``GET /admin/project``                      week0 (ISO), slot_minutes, slots_per_day, days_per_week,
                                            day_start ("HH:mm"), weeks, timezone, id, name, uid,
                                            preset, seed, login, password, data_token, current_week
``GET /admin/summary``                      counts per category, events, activities, and sample ids
                                            (a TP group, its TD group and year, an instructor, a room,
                                            a subject, the busiest trainee leaf)
``POST /admin/reset``                       back to the seeded data; also clears faults, quirks,
                                            counters, clock, config and sessions
                                            (body ``{"keep_sessions": true}`` keeps the sessions)
``GET /admin/stats``                        ``{"total", "functions": {name: n}, "errors_injected",
                                            "dropped", "max_in_flight", "in_flight"}``
``POST /admin/stats/reset``                 zero the counters (also ``DELETE /admin/stats``)
``GET|PUT|DELETE /admin/faults``            PUT replaces: ``{"down": null|"503"|"drop"|"empty",
                                            "delay_ms": 0, "per_kb_ms": 0, "error_next": 0,
                                            "error_fraction": 0.0, "error_functions": null|[names],
                                            "error_name": "java.lang.NullPointerException",
                                            "error_trace": "…", "seed": 0}``
``GET|PUT /admin/quirks``                   ``{"legacy_attributes", "empty_dates", "shuffle_events",
                                            "content_type_charset", "renumber_on_move"}`` (all false
                                            by default; the last gives every moved event a new id)
``GET|PUT /admin/config``                   ``{"session_ttl": 1800.0, "max_concurrency": null}``
``PUT /admin/clock``                        ``{"now": "2026-11-28T10:15"}`` freezes the time stamped
                                            on changes; ``{"now": null}`` follows the wall clock
``GET /admin/sessions``                     ``[{"id", "login", "project_id", "idle_seconds"}]``
``POST /admin/sessions/expire``             expire every session (``{"expired": n}``)
``GET /admin/events/{id}``                  the event as JSON, with derived date/start/end hours
``POST /admin/events``                      ``{"name", "week", "day", "slot", "duration",
                                            "resources": [ids], "activity_id"?, "id"?, "color"?,
                                            "note"?, "info"?}`` → 201 + event
``PATCH /admin/events/{id}``                ``{"name"?, "note"?, "info"?, "color"?, "resources"?}``
``POST /admin/events/{id}/move``            ``{"week"?, "day"?, "slot"?, "duration"?, "date"?
                                            ("YYYY-MM-DD"), "start"? ("HH:mm"), "new_id"?: true|id}``;
                                            keeps activityId/repetition/session, fills ``old*``
``DELETE /admin/events/{id}``               → the deleted event
``GET /admin/resources/{id}``               the resource with path and its event ids (incl. inherited)
``POST /admin/resources``                   ``{"category", "name", "parent_id"?: null|id,
                                            "is_group"?, "id"? (re-use a deleted id), "code"?,
                                            "email"?, "size"?, "type"?, …}`` → 201
``PATCH /admin/resources/{id}``             any resource field (``name``, ``code``, ``email``,
                                            ``parent_id``…); bumps the resource's lastUpdate only
``DELETE /admin/resources/{id}``            removes it and its subtree; events lose those bookings
                                            → ``{"deleted": [ids], "events_touched": n}``
==========================================  ==========================================================

Every change stamps ``lastUpdate`` (minute precision, ``MM/dd/yyyy HH:mm``, project-local time).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
import re
import time
from collections.abc import Callable
from typing import Any, TypeAlias
from urllib.parse import parse_qsl

import msgspec

from schedulesy.adesim.controls import Config, Faults, Quirks, Stats
from schedulesy.adesim.model import NO_ID, PlacedEvent, Resource, format_hour
from schedulesy.adesim.simulator import Simulator
from schedulesy.adesim.store import Store, StoreError

Handler: TypeAlias = Callable[..., tuple[int, Any]]
_encoder = msgspec.json.Encoder()


class Admin:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/admin/health"), lambda **_: (200, {"status": "ok"})),
            ("GET", re.compile(r"/admin/project"), self.project),
            ("GET", re.compile(r"/admin/summary"), self.summary),
            ("POST", re.compile(r"/admin/reset"), self.reset),
            ("GET", re.compile(r"/admin/stats"), lambda **_: (200, self.sim.stats)),
            ("POST", re.compile(r"/admin/stats/reset"), self.reset_stats),
            ("DELETE", re.compile(r"/admin/stats"), self.reset_stats),
            ("GET", re.compile(r"/admin/faults"), lambda **_: (200, self.sim.faults)),
            ("PUT", re.compile(r"/admin/faults"), self.put_faults),
            ("DELETE", re.compile(r"/admin/faults"), self.clear_faults),
            ("GET", re.compile(r"/admin/quirks"), lambda **_: (200, self.sim.quirks)),
            ("PUT", re.compile(r"/admin/quirks"), self.put_quirks),
            ("GET", re.compile(r"/admin/config"), lambda **_: (200, self.sim.config)),
            ("PUT", re.compile(r"/admin/config"), self.put_config),
            ("PUT", re.compile(r"/admin/clock"), self.put_clock),
            ("GET", re.compile(r"/admin/sessions"), self.sessions),
            ("POST", re.compile(r"/admin/sessions/expire"), self.expire_sessions),
            ("POST", re.compile(r"/admin/events"), self.add_event),
            ("GET", re.compile(r"/admin/events/(\d+)"), self.get_event),
            ("PATCH", re.compile(r"/admin/events/(\d+)"), self.update_event),
            ("DELETE", re.compile(r"/admin/events/(\d+)"), self.delete_event),
            ("POST", re.compile(r"/admin/events/(\d+)/move"), self.move_event),
            ("POST", re.compile(r"/admin/resources"), self.add_resource),
            ("GET", re.compile(r"/admin/resources/(\d+)"), self.get_resource),
            ("PATCH", re.compile(r"/admin/resources/(\d+)"), self.update_resource),
            ("DELETE", re.compile(r"/admin/resources/(\d+)"), self.delete_resource),
        ]

    def handle(self, method: str, path: str, query: bytes, body: bytes) -> tuple[int, bytes]:
        path = path.rstrip("/")
        allowed = False
        for verb, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            allowed = True
            if verb != method:
                continue
            try:
                payload = msgspec.json.decode(body) if body.strip() else {}
                if not isinstance(payload, dict):
                    raise StoreError(400, "bad_body", "the body must be a JSON object")
                store = self._store(query)
                status, result = handler(*match.groups(), store=store, body=payload)
            except StoreError as exc:
                status, result = exc.status, {"detail": exc.detail, "code": exc.code}
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError, KeyError) as exc:
                status, result = 400, {"detail": str(exc), "code": "bad_request"}
            return status, _encoder.encode(result)
        if allowed:
            return 405, _encoder.encode({"detail": f"{method} not allowed on {path}", "code": "method_not_allowed"})
        return 404, _encoder.encode({"detail": f"no admin route {path}", "code": "not_found"})

    def _store(self, query: bytes) -> Store:
        params = dict(parse_qsl(query.decode("utf-8", "replace")))
        if "project" not in params:
            return self.sim.store
        store = self.sim.stores.get(int(params["project"]))
        if store is None:
            raise StoreError(404, "project_not_found", f"no project {params['project']}")
        return store

    # -- settings, counters, faults -------------------------------------------------------------
    def project(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        p, sim = store.project, self.sim
        today = sim.now().date()
        return 200, {"id": p.id, "name": p.name, "uid": p.uid, "week0": p.week0.isoformat(),
                     "days_per_week": p.days_per_week, "slot_minutes": p.slot_minutes,
                     "slots_per_day": p.slots_per_day, "day_start": format_hour(p.day_start_minutes),
                     "weeks": p.weeks, "timezone": p.timezone, "preset": store.university.preset,
                     "seed": store.university.seed, "login": sim.login, "password": sim.password,
                     "data_token": sim.data_token, "current_week": p.week_of(today)}

    def summary(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        counts: dict[str, int] = {}
        for r in store.resources.values():
            counts[r.category] = counts.get(r.category, 0) + 1
        return 200, {"resources": counts, "events": len(store.events), "activities": len(store.activities),
                     "samples": _samples(store)}

    def reset(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        self.sim.reset(keep_sessions=bool(body.get("keep_sessions", False)))
        return 200, {"status": "reset", "events": len(self.sim.store.events)}

    def reset_stats(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        in_flight = self.sim.stats.in_flight
        self.sim.stats = Stats(in_flight=in_flight, max_in_flight=in_flight)
        return 200, self.sim.stats

    def put_faults(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        self.sim.set_faults(msgspec.convert(body, Faults))
        return 200, self.sim.faults

    def clear_faults(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        self.sim.set_faults(Faults())
        return 200, self.sim.faults

    def put_quirks(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        self.sim.quirks = msgspec.convert(body, Quirks)
        return 200, self.sim.quirks

    def put_config(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        self.sim.set_config(msgspec.convert({**msgspec.structs.asdict(self.sim.config), **body}, Config))
        return 200, self.sim.config

    def put_clock(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        now = body.get("now")
        moment = None if now is None else dt.datetime.fromisoformat(now)
        if moment is not None and moment.tzinfo is not None:  # an instant: the project's wall clock then
            moment = moment.astimezone(zoneinfo.ZoneInfo(store.project.timezone))
        self.sim.frozen_now = None if moment is None else moment.replace(tzinfo=None, second=0, microsecond=0)
        return 200, {"now": self.sim.now().isoformat(timespec="minutes"), "frozen": now is not None}

    def sessions(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        now = time.monotonic()
        return 200, [{"id": s.id, "login": s.login, "project_id": s.project_id,
                      "idle_seconds": round(now - s.last_seen, 3)} for s in self.sim.sessions.values()]

    def expire_sessions(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        count = len(self.sim.sessions)
        self.sim.sessions.clear()
        return 200, {"expired": count}

    # -- events ---------------------------------------------------------------------------------
    def get_event(self, eid: str, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, event_json(store, store.get_event(int(eid)))

    def add_event(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        week, day, slot = _placement(store, body)
        event = store.add_event(
            name=str(body["name"]), week=week, day=day, slot=slot, duration=int(body.get("duration", 1)),
            resources=[int(r) for r in body.get("resources", [])], activity_id=body.get("activity_id"),
            event_id=body.get("id"), color=str(body.get("color", "")), note=str(body.get("note", "")),
            info=str(body.get("info", "")))
        return 201, event_json(store, event)

    def update_event(self, eid: str, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, event_json(store, store.update_event(int(eid), body))

    def delete_event(self, eid: str, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, event_json(store, store.delete_event(int(eid)))

    def move_event(self, eid: str, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        current = store.get_event(int(eid))
        week, day, slot = _placement(store, body, current)
        moved = store.move_event(int(eid), week=week, day=day, slot=slot, duration=body.get("duration"),
                                 new_id=body.get("new_id", self.sim.quirks.renumber_on_move))
        return 200, event_json(store, moved)

    # -- resources ------------------------------------------------------------------------------
    def get_resource(self, rid: str, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, resource_json(store, store.get_resource(int(rid)), with_events=True)

    def add_resource(self, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        fields = dict(body)
        if fields.get("parent_id") is None:
            fields["parent_id"] = NO_ID
        return 201, resource_json(store, store.add_resource(fields))

    def update_resource(self, rid: str, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        fields = dict(body)
        if "parent_id" in fields and fields["parent_id"] is None:
            fields["parent_id"] = NO_ID
        return 200, resource_json(store, store.update_resource(int(rid), fields))

    def delete_resource(self, rid: str, *, store: Store, body: dict[str, Any]) -> tuple[int, Any]:
        touched = len(store.events_of_resource(int(rid)))
        gone = store.delete_resource(int(rid))
        return 200, {"deleted": gone, "events_touched": touched}


def _placement(store: Store, body: dict[str, Any], current: PlacedEvent | None = None) -> tuple[int, int, int]:
    """(week, day, slot) from ``week``/``day``/``slot``, or from ``date`` and ``start`` ("HH:mm")."""
    p = store.project
    week = body.get("week", current.week if current else None)
    day = body.get("day", current.day if current else None)
    slot = body.get("slot", current.slot if current else None)
    if "date" in body:
        week, day, _ = p.placement_of(dt.date.fromisoformat(body["date"]), p.day_start_minutes)
    if "start" in body:
        hours, minutes = (int(x) for x in str(body["start"]).split(":"))
        slot = p.placement_of(p.week0, hours * 60 + minutes)[2]
    if week is None or day is None or slot is None:
        raise StoreError(400, "bad_placement", "give week, day and slot (or date and start)")
    return int(week), int(day), int(slot)


def event_json(store: Store, e: PlacedEvent) -> dict[str, Any]:
    p = store.project
    return {**msgspec.structs.asdict(e),
            "resources": [{"id": b.resource_id, "node_id": b.node_id, "node_or_id": b.node_or_id,
                           "quantity": b.quantity, "category": store.resources[b.resource_id].category
                           if b.resource_id in store.resources else None,
                           "name": store.resources[b.resource_id].name if b.resource_id in store.resources else None}
                          for b in e.resources],
            "date": p.date_of(e.week, e.day).isoformat(), "start_hour": format_hour(p.minutes_of(e.slot)),
            "end_hour": format_hour(p.minutes_of(e.slot + e.duration)),
            "absolute_slot": p.absolute_slot(e.week, e.day, e.slot)}


def resource_json(store: Store, r: Resource, *, with_events: bool = False) -> dict[str, Any]:
    out = {**msgspec.structs.asdict(r), "path": store.path(r.id),
           "children": list(store.children.get(r.id, []))}
    if with_events:
        out["event_ids"] = list(store.events_of_resource(r.id))
        out["direct_event_ids"] = sorted(store.direct.get(r.id, ()))
    return out


def _samples(store: Store) -> dict[str, int | None]:
    """Ids tests and demos can start from without walking the trees."""
    res = store.resources

    def first(category: str, group: bool) -> int | None:
        return next((r.id for r in res.values() if r.category == category and r.is_group == group
                     and store.direct.get(r.id)), None)

    tp = next((r.id for r in res.values() if r.category == "trainee" and not r.is_group
               and len(store.ancestors(r.id)) >= 4 and store.direct.get(r.id)), None)
    chain = store.ancestors(tp) if tp is not None else []
    leaves = [r.id for r in res.values() if r.category == "trainee" and not r.is_group]
    busiest = max(leaves, key=lambda r: len(store.events_of_resource(r)), default=None)
    return {"trainee_leaf": tp, "trainee_td": chain[0] if len(chain) > 0 else None,
            "trainee_year": chain[1] if len(chain) > 1 else None,
            "trainee_programme": chain[2] if len(chain) > 2 else None,
            "trainee_component": chain[-1] if chain else None,
            "instructor": first("instructor", False), "classroom": first("classroom", False),
            "category5": first("category5", False), "busiest_trainee": busiest}
