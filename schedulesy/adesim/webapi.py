"""The ``/jsp/webapi`` functions of the simulator, one method each, answering XML bytes.

Protocol: ``GET /jsp/webapi?function=…`` as described in ``docs/ade.md`` — the interface
shared with our ADE client. Functions: connect (login/password, HTTP Basic, or ``data=`` token),
disconnect, getProjects, setProject, getResources, getEvents, getActivities, getDate, and stubs for
getCosts, getCaracteristics, imageET. An unknown function answers an empty 200; every error is HTTP
200 with ``<error name=… trace=…/>``. Answers are UTF-8 XML with a declaration, tab indentation,
``&apos;`` escaping, a Content-Type without charset, and the same bytes for the same data.

getEvents with ``resources=`` returns the events booked on each resource *or any folder above it*.
Detail absent or 0 means full (events 8, resources 11, activities 16). ``startDate``/``endDate`` are
inclusive. getProjects lists the live project plus two archives (ids +1, +2) that hold no data.

Parameters are read as :mod:`schedulesy.adesim.params` says; unknown ones (``hash``,
``attribute_filter``) are ignored. Failures raise :class:`~schedulesy.adesim.errors.ErrorAnswer`, which
the app turns into HTTP 200 + ``<error name=… trace=…/>``; Java class names are reused so that
clients meet the names they will meet in production (see :mod:`schedulesy.adesim.errors`).
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence

from schedulesy.adesim.activity_xml import ActivityWriter
from schedulesy.adesim.errors import (
    INVALID_LOGIN, NOT_FOUND, NULL_POINTER, PROJECT_NOT_FOUND, SESSION_ERROR, ErrorAnswer,
)
from schedulesy.adesim.model import PlacedEvent
from schedulesy.adesim.params import boolean, detail_of, int_list, integer, request_date
from schedulesy.adesim.resource_xml import ResourceWriter, categories_present, resource_order
from schedulesy.adesim.simulator import Session, Simulator
from schedulesy.adesim.store import Store
from schedulesy.adesim.xml import EventWriter, document, element

RESOURCE_FILTERS = {"name": "name", "code": "code", "email": "email", "type": "type", "url": "url",
                    "size": "size", "info": "info", "city": "city", "country": "country", "zipCode": "zip_code",
                    "address1": "address1", "address2": "address2", "telephone": "telephone",
                    "jobCategory": "job_category", "codeX": "code_x", "codeY": "code_y", "codeZ": "code_z"}
GIF_1X1 = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")


class WebApi:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    # -- sessions ---------------------------------------------------------------------------------
    def new_session(self, login: str) -> Session:
        sessions = self.sim.sessions
        stamp = int(time.time() * 1000)
        while format(stamp, "x") in sessions:
            stamp += 1
        session = Session(format(stamp, "x"), login, None, time.monotonic())
        sessions[session.id] = session
        return session

    def session(self, params: Mapping[str, str]) -> Session:
        sid = params.get("sessionId", "")
        session = self.sim.sessions.get(sid)
        now = time.monotonic()
        if session is not None and now - session.last_seen > self.sim.config.session_ttl:
            del self.sim.sessions[sid]
            session = None
        if session is None:
            raise ErrorAnswer(SESSION_ERROR, f"Session expired or unknown: {sid!r}" if sid else "No session id given")
        session.last_seen = now
        return session

    def store(self, params: Mapping[str, str]) -> Store:
        """The project of the call: the session's, or ``projectId=`` (accepted per call, docs/ade.md §1.4)."""
        if "data" in params and "sessionId" not in params:
            if params["data"] != self.sim.data_token:
                raise ErrorAnswer(INVALID_LOGIN, "Invalid login.")
            project_id = integer(params["projectId"]) if "projectId" in params else None
        else:
            session = self.session(params)
            project_id = integer(params["projectId"]) if "projectId" in params else session.project_id
        if project_id is None:
            raise ErrorAnswer(NULL_POINTER, "")
        store = self.sim.stores.get(project_id)
        if store is None:
            raise ErrorAnswer(PROJECT_NOT_FOUND, f"Project not found. Id={project_id}")
        return store

    # -- functions --------------------------------------------------------------------------------
    def handle(self, function: str, params: Mapping[str, str], authorization: str | None) -> bytes:
        if function == "" and "data" in params:
            function = "connect"
        method: Callable[[Mapping[str, str]], bytes] | None = \
            getattr(self, f"fn_{function}", None) if function.isidentifier() else None
        if method is None:
            return b""
        if function == "connect":
            return self.fn_connect(params, authorization)
        return method(params)

    def fn_connect(self, params: Mapping[str, str], authorization: str | None) -> bytes:
        sim = self.sim
        login: str | None
        if "data" in params:
            ok, login = params["data"] == sim.data_token, "data"
        else:
            login, password = params.get("login"), params.get("password")
            if login is None and authorization and authorization.lower().startswith("basic "):
                try:
                    login, _, password = base64.b64decode(authorization[6:]).decode("utf-8").partition(":")
                except ValueError:
                    login = password = None
            ok = login == sim.login and password == sim.password
        if not ok:
            raise ErrorAnswer(INVALID_LOGIN, "Invalid login.")
        return element("session", [("id", self.new_session(login or "").id)])

    def fn_disconnect(self, params: Mapping[str, str]) -> bytes:
        session = self.session(params)
        del self.sim.sessions[session.id]
        return element("disconnected", [("sessionId", session.id)])

    def fn_setProject(self, params: Mapping[str, str]) -> bytes:
        session = self.session(params)
        project_id = integer(params.get("projectId", "null"))
        if project_id not in self.sim.stores:
            raise ErrorAnswer(PROJECT_NOT_FOUND, f"Project not found. Id={project_id}")
        session.project_id = project_id
        return element("setProject", [("sessionId", session.id), ("projectId", project_id)])

    def fn_getProjects(self, params: Mapping[str, str]) -> bytes:
        self.session(params)
        detail = integer(params["detail"]) if params.get("detail", "").strip() else 1
        wanted = set(int_list(params["id"])) if "id" in params else None
        lines = []
        for pid, store in sorted(self.sim.stores.items()):
            if wanted is not None and pid not in wanted:
                continue
            p = store.project
            attrs = [f'id="{pid}"']
            if detail >= 2:
                attrs.append(f'name="{p.name}" uid="{p.uid}"')
            if detail >= 3:
                attrs.append('version="660"')
            if detail >= 4:
                attrs.append(f'loaded="{"true" if store.events or pid == self.sim.project_id else "false"}"')
            lines.append(f"\t<project {' '.join(attrs)}/>\n")
        return document("<projects>\n" + "".join(lines) + "</projects>\n" if lines else "<projects/>\n")

    def fn_getDate(self, params: Mapping[str, str]) -> bytes:
        p = self.store(params).project
        week, day, slot = (integer(params.get(k, "0") or "0") for k in ("week", "day", "slot"))
        local = dt.datetime.combine(p.date_of(week, day), dt.time()) + dt.timedelta(minutes=p.minutes_of(slot))
        millis = int(local.replace(tzinfo=zoneinfo.ZoneInfo(p.timezone)).timestamp() * 1000)
        return element("date", [("time", millis), ("week", week), ("day", day), ("slot", slot)])

    def fn_getResources(self, params: Mapping[str, str]) -> bytes:
        store = self.store(params)
        raw = params.get("detail", "").strip()
        level = integer(raw) if raw else 0
        detail = 11 if level <= 0 else min(level, 13)  # 0 = the level SCH uses (docs/ade.md §7.2)
        category = params.get("category") or None
        categories = [category] if category else categories_present(store)
        selected = resource_order(store, categories)
        resources = store.resources
        filtered = False
        if "id" in params:
            wanted = set(int_list(params["id"]))
            selected, filtered = [r for r in selected if r in wanted], True
        if "fatherIds" in params:
            fathers = set(int_list(params["fatherIds"]))
            selected, filtered = [r for r in selected if resources[r].parent_id in fathers], True
        leaves, folders = boolean(params.get("leaves"), True), boolean(params.get("folders"), True)
        if not leaves:
            selected, filtered = [r for r in selected if resources[r].is_group], True
        if not folders:
            selected, filtered = [r for r in selected if not resources[r].is_group], True
        for param, field in RESOURCE_FILTERS.items():
            if param in params:
                value = params[param]
                selected, filtered = [r for r in selected if str(getattr(resources[r], field)) == value], True
        writer = ResourceWriter(store, self.sim.quirks, detail)
        if not boolean(params.get("tree")):
            return writer.flat(selected, category)
        visible: set[int] | None = None
        if filtered:
            # A tree keeps the folders above what matched, and shows a matched folder's content.
            visible = set(selected)
            for rid in selected:
                visible.update(store.ancestors(rid))
                if resources[rid].is_group:
                    visible.update(d for d in store.descendants(rid)
                                   if (leaves or resources[d].is_group) and (folders or not resources[d].is_group))
        return writer.tree(categories, visible)

    def fn_getEvents(self, params: Mapping[str, str]) -> bytes:
        store = self.store(params)
        detail = detail_of(params, 8)
        ids: Sequence[int]
        checks: list[Callable[[PlacedEvent], bool]] = []
        narrowed = True
        if "eventId" in params:
            ids = sorted({e for e in int_list(params["eventId"]) if e in store.events})
            if "resources" in params:
                allowed = set(self._union(store.events_of_resource(r) for r in int_list(params["resources"])))
                checks.append(lambda e: e.id in allowed)
        elif "resources" in params:
            ids = self._union(store.events_of_resource(r) for r in int_list(params["resources"]))
        elif "activities" in params:
            ids = self._union(store.by_activity.get(a, ()) for a in int_list(params["activities"]))
        else:
            ids, narrowed = store.all_event_ids(), False
        if "activities" in params and ("eventId" in params or "resources" in params):
            activities = set(int_list(params["activities"]))
            checks.append(lambda e: e.activity_id in activities)
        if "weeks" in params:
            weeks = set(int_list(params["weeks"]))
            if not narrowed:
                ids, narrowed = self._union(store.by_week.get(w, ()) for w in weeks), True
            checks.append(lambda e: e.week in weeks)
        if "days" in params:
            days = set(int_list(params["days"]))
            checks.append(lambda e: e.day in days)
        low, high = self._date_bounds(params, store.project.week0)
        if low is not None or high is not None:
            lo = -(10**9) if low is None else low
            hi = 10**9 if high is None else high
            if not narrowed and low is not None and high is not None:
                ids = self._union(store.by_week.get(w, ()) for w in range(lo // 7, hi // 7 + 1))
            checks.append(lambda e: lo <= e.week * 7 + e.day <= hi)
        if "name" in params:
            name = params["name"]
            checks.append(lambda e: e.name == name)
        if checks:
            events = store.events
            ids = [i for i in ids if all(check(events[i]) for check in checks)]
        return EventWriter(store, self.sim.quirks).events(ids, detail)

    @staticmethod
    def _union(groups: Iterable[Iterable[int]]) -> list[int]:
        merged: set[int] = set()
        for g in groups:
            merged.update(g)
        return sorted(merged)

    @staticmethod
    def _date_bounds(params: Mapping[str, str], week0: dt.date) -> tuple[int | None, int | None]:
        """Day offsets from week 0 for ``date`` or ``startDate``/``endDate`` (both inclusive)."""
        if "date" in params:
            day = (request_date(params["date"]) - week0).days
            return day, day
        low = (request_date(params["startDate"]) - week0).days if "startDate" in params else None
        high = (request_date(params["endDate"]) - week0).days if "endDate" in params else None
        return low, high

    def fn_getActivities(self, params: Mapping[str, str]) -> bytes:
        store = self.store(params)
        raw = params.get("detail", "").strip()
        detail = 16 if not raw or integer(raw) <= 0 else min(integer(raw), 17)
        activities = store.activities
        ids = sorted(activities)
        if "id" in params:
            wanted = set(int_list(params["id"]))
            ids = [a for a in ids if a in wanted]
        if "resources" in params:
            wanted = set(int_list(params["resources"]))
            ids = [a for a in ids if any(q.resource_id in wanted for q in activities[a].requirements)]
        for param in ("name", "type", "code"):
            if param in params:
                value = params[param]
                ids = [a for a in ids if getattr(activities[a], param) == value]
        writer = ActivityWriter(store, self.sim.quirks, detail)
        if boolean(params.get("tree")):
            return writer.tree(ids, {f.id: f.name for f in store.university.activity_folders})
        return writer.flat(ids)

    def fn_getCosts(self, params: Mapping[str, str]) -> bytes:
        self.store(params)
        if "id" in params:
            raise ErrorAnswer(NOT_FOUND, f"Cost not found. Id={params['id']}")
        return document("<costs/>\n")

    def fn_getCaracteristics(self, params: Mapping[str, str]) -> bytes:
        self.store(params)
        return document("<caracteristics/>\n")

    def fn_imageET(self, params: Mapping[str, str]) -> bytes:
        self.store(params)
        return GIF_1X1
