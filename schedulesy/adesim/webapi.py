"""The ``/jsp/webapi`` functions of the simulator, one method each, answering XML bytes.

Parameter handling follows what real clients send (``shared/docs/ade-webapi.md`` §1.1): names are
case-sensitive, booleans are not (``True``, ``TRUE``, ``true``), lists split on ``|`` (and ``,`` for
``weeks``/``days``), unknown parameters (``hash``, ``attribute_filter``) are ignored. Failures raise
:class:`AdeError`, which the app turns into HTTP 200 + ``<error name=… trace=…/>``; Java class names are
reused so that clients meet the names they will meet in production.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import msgspec

from schedulesy.adesim.store import Store
from schedulesy.adesim.xml import (
    ActivityWriter, EventWriter, ResourceWriter, categories_present, document, element, resource_order,
)
from schedulesy.adesim.model import PlacedEvent, parse_request_date

if TYPE_CHECKING:
    from schedulesy.adesim.app import Simulator

NPE = "java.lang.NullPointerException"
SESSION_ERROR = "com.adesoft.errors.InvalidSessionException"
RESOURCE_FILTERS = {"name": "name", "code": "code", "email": "email", "type": "type", "url": "url",
                    "size": "size", "info": "info", "city": "city", "country": "country", "zipCode": "zip_code",
                    "address1": "address1", "address2": "address2", "telephone": "telephone",
                    "jobCategory": "job_category", "codeX": "code_x", "codeY": "code_y", "codeZ": "code_z"}
GIF_1X1 = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")


class AdeError(Exception):
    def __init__(self, name: str, trace: str) -> None:
        super().__init__(f"{name}: {trace}")
        self.name, self.trace = name, trace


class Session(msgspec.Struct):
    id: str
    login: str
    project_id: int | None
    last_seen: float


def boolean(value: str | None, default: bool = False) -> bool:
    return default if value is None else value.strip().lower() == "true"


def integer(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise AdeError("java.lang.NumberFormatException", f'For input string: "{value}"') from None


def int_list(value: str) -> list[int]:
    """``1|2|3``, ``1,2,3`` and ranges ``4-7``; empty items are skipped."""
    out: list[int] = []
    for item in value.replace(",", "|").split("|"):
        item = item.strip()
        if not item:
            continue
        low, sep, high = item.partition("-")
        if sep and low:
            out.extend(range(integer(low), integer(high) + 1))
        else:
            out.append(integer(item))
    return out


def request_date(value: str) -> dt.date:
    try:
        return parse_request_date(value)
    except (ValueError, TypeError):
        raise AdeError("java.text.ParseException", f'Unparseable date: "{value}"') from None


def detail_of(params: Mapping[str, str], full: int) -> int:
    """``detail`` absent or 0 means the full level ``full`` (§3.3); above it is clamped."""
    raw = params.get("detail", "")
    level = integer(raw) if raw.strip() else 0
    return full if level <= 0 or level > full else level


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
            raise AdeError(SESSION_ERROR, f"Session expired or unknown: {sid!r}" if sid else "No session id given")
        session.last_seen = now
        return session

    def store(self, params: Mapping[str, str]) -> Store:
        """The project of the call: the session's, or ``projectId=`` (accepted per call, §1.4)."""
        if "data" in params and "sessionId" not in params:
            if params["data"] != self.sim.data_token:
                raise AdeError("com.adesoft.errors.InvalidLogin", "Invalid login.")
            project_id = integer(params["projectId"]) if "projectId" in params else None
        else:
            session = self.session(params)
            project_id = integer(params["projectId"]) if "projectId" in params else session.project_id
        if project_id is None:
            raise AdeError(NPE, "")
        store = self.sim.stores.get(project_id)
        if store is None:
            raise AdeError("com.adesoft.errors.ProjectNotFoundException", f"Project not found. Id={project_id}")
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
            raise AdeError("com.adesoft.errors.InvalidLogin", "Invalid login.")
        return element("session", [("id", self.new_session(login or "").id)])

    def fn_disconnect(self, params: Mapping[str, str]) -> bytes:
        session = self.session(params)
        del self.sim.sessions[session.id]
        return element("disconnected", [("sessionId", session.id)])

    def fn_setProject(self, params: Mapping[str, str]) -> bytes:
        session = self.session(params)
        project_id = integer(params.get("projectId", "null"))
        if project_id not in self.sim.stores:
            raise AdeError("com.adesoft.errors.ProjectNotFoundException", f"Project not found. Id={project_id}")
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
        detail = 11 if level <= 0 else min(level, 13)  # 0 = the level SCH uses (§7.2)
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
            raise AdeError("com.adesoft.errors.NotFoundException", f"Cost not found. Id={params['id']}")
        return document("<costs/>\n")

    def fn_getCaracteristics(self, params: Mapping[str, str]) -> bytes:
        self.store(params)
        return document("<caracteristics/>\n")

    def fn_imageET(self, params: Mapping[str, str]) -> bytes:
        self.store(params)
        return GIF_1X1
