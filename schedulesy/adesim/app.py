"""A faithful ADE Campus Web API simulator, serving a synthetic university over HTTP.

Protocol: ``GET /jsp/webapi?function=…`` as described in ``shared/docs/ade-webapi.md`` — the interface
shared with our ADE client. Functions: connect (login/password, HTTP Basic, or ``data=`` token),
disconnect, getProjects, setProject, getResources, getEvents, getActivities, getDate, and stubs for
getCosts, getCaracteristics, imageET. An unknown function answers an empty 200; every error is HTTP
200 with ``<error name=… trace=…/>``. Answers are UTF-8 XML with a declaration, tab indentation,
``&apos;`` escaping, a Content-Type without charset, and the same bytes for the same data.

Errors the simulator produces (the names are the contract with the client):
- ``com.adesoft.errors.InvalidLogin`` — wrong credentials or data token;
- ``com.adesoft.errors.InvalidSessionException`` — missing, unknown, expired or disconnected session
  (sessions expire after ``session_ttl`` idle seconds, 30 min by default);
- ``java.lang.NullPointerException`` — no project set on the session (SCH's special case);
- ``com.adesoft.errors.ProjectNotFoundException`` — setProject / projectId on an unknown project;
- ``java.lang.NumberFormatException``, ``java.text.ParseException`` — malformed numbers or dates;
- ``com.adesoft.errors.NotFoundException`` — getCosts with an id.

getEvents with ``resources=`` returns the events booked on each resource *or any folder above it*.
Detail absent or 0 means full (events 8, resources 11, activities 16). ``startDate``/``endDate`` are
inclusive. getProjects lists the live project plus two archives (ids +1, +2) that hold no data.

Admin API (JSON, outside the Web API, never affected by faults). Errors answer
``{"detail": …, "code": …}`` with 400/404/409. ``?project=ID`` picks another project (default: live).

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

import asyncio
import contextlib
import datetime as dt
import random
import signal
import time
import zoneinfo
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal
from urllib.parse import parse_qsl

import msgspec

from schedulesy.adesim.store import Store
from schedulesy.adesim.webapi import NPE, AdeError, Session, WebApi
from schedulesy.adesim.xml import Quirks, error
from schedulesy.adesim.model import University
from schedulesy.adesim.generate import generate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

WEBAPI_PATH = "/jsp/webapi"
DEFAULT_LOGIN = "schedulesy"
DEFAULT_PASSWORD = "schedulesy"
DEFAULT_DATA_TOKEN = "5363686564756c6573792d73696d756c61746f72,1"


class Faults(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    down: Literal["503", "drop", "empty"] | None = None
    delay_ms: float = 0.0
    per_kb_ms: float = 0.0
    error_next: int = 0
    error_fraction: float = 0.0
    error_functions: list[str] | None = None
    error_name: str = NPE
    error_trace: str = "Injected fault"
    seed: int = 0


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    session_ttl: float = 1800.0
    max_concurrency: int | None = None


class Stats(msgspec.Struct, kw_only=True):
    total: int = 0
    functions: dict[str, int] = msgspec.field(default_factory=dict)
    errors_injected: int = 0
    dropped: int = 0
    max_in_flight: int = 0
    in_flight: int = 0


class ConnectionDropped(Exception):
    """Raised after a truncated answer so that the server closes the connection (fault ``drop``)."""


class Simulator:
    """The ASGI app: ``/jsp/webapi`` for clients, ``/admin/…`` for tests and demos."""

    def __init__(self, university: University, *, login: str = DEFAULT_LOGIN, password: str = DEFAULT_PASSWORD,
                 session_ttl: float = 1800.0, data_token: str = DEFAULT_DATA_TOKEN, quirks: Quirks | None = None,
                 archive_projects: bool = True, max_concurrency: int | None = None) -> None:
        from schedulesy.adesim.admin import Admin

        self.university = university
        self.login, self.password, self.data_token = login, password, data_token
        self.project_id = university.project.id
        self.frozen_now: dt.datetime | None = None
        self.stores: dict[int, Store] = {self.project_id: Store(university, self.now)}
        if archive_projects:
            for offset, name in ((1, _previous_year(university.project.name)),
                                 (2, f"NEPASTOUCHER{university.project.name.replace('-', '')[2:4]}"
                                     f"{university.project.name[-2:]}_SAUV")):
                archive = msgspec.structs.replace(
                    university, resources=(), activities=(), activity_folders=(), events=(),
                    project=msgspec.structs.replace(university.project, id=self.project_id + offset, name=name,
                                                    uid=university.project.uid - offset * 31_536_000_000))
                self.stores[self.project_id + offset] = Store(archive, self.now)
        self.initial_quirks = quirks or Quirks()
        self.initial_config = Config(session_ttl=session_ttl, max_concurrency=max_concurrency)
        self.sessions: dict[str, Session] = {}
        self.webapi = WebApi(self)
        self.admin = Admin(self)
        self._semaphore: asyncio.Semaphore | None = None
        self.reset(keep_sessions=False, data=False)

    # -- state ----------------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        return self.stores[self.project_id]

    def now(self) -> dt.datetime:
        """Project-local wall-clock time, or the frozen one (for reproducible stamps in tests)."""
        if self.frozen_now is not None:
            return self.frozen_now
        zone = zoneinfo.ZoneInfo(self.university.project.timezone)
        return dt.datetime.now(zone).replace(tzinfo=None, second=0, microsecond=0)

    def reset(self, *, keep_sessions: bool = False, data: bool = True) -> None:
        if data:
            for store in self.stores.values():
                store.reset()
        self.quirks = msgspec.structs.replace(self.initial_quirks)
        self.set_config(msgspec.structs.replace(self.initial_config))
        self.set_faults(Faults())
        self.stats = Stats()
        self.frozen_now = None
        if not keep_sessions:
            self.sessions.clear()

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self._fault_rng = random.Random(faults.seed)

    def set_config(self, config: Config) -> None:
        self.config = config
        self._semaphore = None

    # -- ASGI -----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == WEBAPI_PATH or path == WEBAPI_PATH + "/":
            form = await _read_body(receive) if scope["method"] == "POST" else b""
            await self._webapi(scope, send, form)
        elif path.startswith("/admin/") or path == "/admin":
            body = await _read_body(receive)
            status, payload = self.admin.handle(scope["method"], path, scope.get("query_string", b""), body)
            await _respond(send, status, payload, b"application/json")
        else:
            await _respond(send, 404, b"Not Found", b"text/plain")

    async def _webapi(self, scope: Scope, send: Send, form: bytes = b"") -> None:
        """One Web API call; a POST form body is read like a query string ([unk] upstream, §7.2)."""
        query = scope.get("query_string", b"").decode("utf-8", "replace")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if form:
            params.update(parse_qsl(form.decode("utf-8", "replace"), keep_blank_values=True))
        function = params.get("function", "connect" if "data" in params else "")
        stats = self.stats
        stats.total += 1
        stats.functions[function] = stats.functions.get(function, 0) + 1
        if self.config.max_concurrency and self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.config.max_concurrency)
        semaphore = self._semaphore
        if semaphore is not None:
            await semaphore.acquire()
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            await self._answer(function, params, scope, send)
        finally:
            stats.in_flight -= 1
            if semaphore is not None:
                semaphore.release()

    async def _answer(self, function: str, params: dict[str, str], scope: Scope, send: Send) -> None:
        faults = self.faults
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        if faults.down == "503":
            await _respond(send, 503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", b"text/html")
            return
        if faults.down == "drop":
            self.stats.dropped += 1
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/xml"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b"<?xml", "more_body": True})
            raise ConnectionDropped("fault injection: connection dropped")
        if faults.down == "empty":
            await _respond(send, 200, b"", self._content_type())
            return
        if self._inject_error(function):
            self.stats.errors_injected += 1
            body = error(faults.error_name, faults.error_trace)
        else:
            authorization = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                                  if k == b"authorization"), None)
            try:
                body = self.webapi.handle(function, params, authorization)
            except AdeError as exc:
                body = error(exc.name, exc.trace)
        if faults.per_kb_ms:
            await asyncio.sleep(faults.per_kb_ms * len(body) / 1024 / 1000)
        content_type = b"image/gif" if function == "imageET" and body[:3] == b"GIF" else self._content_type()
        await _respond(send, 200, body, content_type)

    def _inject_error(self, function: str) -> bool:
        faults = self.faults
        if faults.error_functions is not None and function not in faults.error_functions:
            return False
        if faults.error_next > 0:
            faults.error_next -= 1
            return True
        return bool(faults.error_fraction) and self._fault_rng.random() < faults.error_fraction

    def _content_type(self) -> bytes:
        return b"text/xml;charset=UTF-8" if self.quirks.content_type_charset else b"text/xml"


def _previous_year(name: str) -> str:
    try:
        start, end = (int(x) for x in name.split("-"))
        return f"{start - 1}-{end - 1}"
    except ValueError:
        return f"{name} (archive)"


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(university: University, *, login: str = DEFAULT_LOGIN, password: str = DEFAULT_PASSWORD,
               session_ttl: float = 1800.0, data_token: str = DEFAULT_DATA_TOKEN, quirks: Quirks | None = None,
               archive_projects: bool = True, max_concurrency: int | None = None) -> Simulator:
    """The ASGI app serving ``university`` (the project id is ``university.project.id``)."""
    return Simulator(university, login=login, password=password, session_ttl=session_ttl, data_token=data_token,
                     quirks=quirks, archive_projects=archive_projects, max_concurrency=max_concurrency)


def serve(host: str, port: int, preset: str, seed: int, slot_minutes: int = 15) -> None:
    """Generate a university and serve it until interrupted (granian, embedded; uvicorn as fallback)."""
    started = time.perf_counter()
    university = generate(preset, seed, slot_minutes=slot_minutes)
    app = create_app(university)
    p = university.project
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(f"ADE simulator: preset {preset!r}, seed {seed}, {len(university.resources)} resources, "
          f"{len(university.events)} events (generated in {time.perf_counter() - started:.1f} s)", flush=True)
    print(f"  URL:        http://{shown}:{port}{WEBAPI_PATH}\n"
          f"  login:      {app.login}\n  password:   {app.password}\n  project id: {p.id} ({p.name}, "
          f"week 0 = {p.week0.isoformat()}, {p.slot_minutes}-minute slots)\n"
          f"  admin API:  http://{shown}:{port}/admin/project", flush=True)
    try:
        from granian.constants import Interfaces
        from granian.server.embed import Server
    except ImportError:  # pragma: no cover - granian is a dependency; uvicorn serves tests
        import uvicorn

        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    server = Server(app, address=host, port=port, interface=Interfaces.ASGI)

    async def run() -> None:
        # The embedded server installs no signal handlers: stop it cleanly on Ctrl+C / SIGTERM.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stop)
        await server.serve()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
