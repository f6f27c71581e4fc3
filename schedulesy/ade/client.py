"""The async ADE Web API client (docs/ade.md is the protocol reference).

One long-lived session (``connect`` + ``setProject``) is shared by concurrent calls, at most
``concurrency`` in flight. A session error logs in again, selects the project again and retries the
call once; network errors, timeouts and 5xx are retried as a :class:`~schedulesy.ade.retry.RetryPolicy`
says (exponential backoff by default; tests pass a fast policy and their own ``sleep``). Every request
is counted per function (requests, bytes, errors, retries, latency) in :attr:`AdeClient.stats`.

The password travels in the query string (ADE's design): it never reaches a log line — URLs are
logged through :func:`schedulesy.logging.scrub_url`, and httpx's own request log is kept quiet.

    async with AdeClient.from_settings(settings) as ade:
        tree = await ade.get_resource_tree(category="classroom", detail=11)
        events = await ade.get_events(start_date=monday, end_date=sunday, detail=7)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import msgspec
import structlog

from schedulesy.ade import xml
from schedulesy.ade.dates import format_request_date
from schedulesy.ade.errors import (
    AdeEmptyAnswer,
    AdeError,
    AdeProtocolError,
    AdeSessionError,
    AdeUnavailable,
    AdeUnreachable,
)
from schedulesy.ade.models import (
    AdeDate,
    EventList,
    Project,
    ProjectSelection,
    ResourceList,
    ResourceNode,
    ResourceTree,
)
from schedulesy.ade.retry import RetryPolicy
from schedulesy.logging import scrub_url
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)
T = TypeVar("T")

# httpx logs every request URL at INFO; ADE URLs carry the password and the session id.
logging.getLogger("httpx").setLevel(logging.WARNING)

PARSE_IN_THREAD_BYTES = 256 * 1024
"""Answers bigger than this are parsed in a worker thread, so the event loop keeps serving."""

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class FunctionStats(msgspec.Struct, kw_only=True):
    """Counters of one Web API function. ``requests`` counts HTTP requests, retries included."""

    requests: int = 0
    bytes: int = 0
    """Response body bytes received."""
    errors: int = 0
    """Failed attempts: network errors, timeouts, HTTP errors, ``<error>`` and empty answers."""
    retries: int = 0
    seconds: float = 0.0
    """Wall time spent in requests, summed (concurrent requests overlap)."""
    max_seconds: float = 0.0
    """The slowest single request since the client was created."""

    def copy(self) -> FunctionStats:
        return msgspec.structs.replace(self)


class ClientStats:
    """Per-function counters; :meth:`since` gives what happened after a snapshot (one sync cycle)."""

    def __init__(self) -> None:
        self.functions: dict[str, FunctionStats] = {}

    def of(self, function: str) -> FunctionStats:
        stats = self.functions.get(function)
        if stats is None:
            stats = self.functions[function] = FunctionStats()
        return stats

    def snapshot(self) -> dict[str, FunctionStats]:
        return {name: stats.copy() for name, stats in self.functions.items()}

    def since(self, before: Mapping[str, FunctionStats]) -> dict[str, FunctionStats]:
        out: dict[str, FunctionStats] = {}
        for name, now in self.functions.items():
            then = before.get(name, FunctionStats())
            delta = FunctionStats(
                requests=now.requests - then.requests, bytes=now.bytes - then.bytes,
                errors=now.errors - then.errors, retries=now.retries - then.retries,
                seconds=round(now.seconds - then.seconds, 6), max_seconds=now.max_seconds,
            )
            if delta.requests or delta.errors:
                out[name] = delta
        return out

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.functions.values())

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.functions.values())


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _pipe(values: Iterable[object] | None) -> str | None:
    """ADE's list syntax: ``12|34|56``."""
    if values is None:
        return None
    items = [str(v) for v in values]
    return "|".join(items) if items else None


def _commas(values: Iterable[object] | None) -> str | None:
    if values is None:
        return None
    items = [str(v) for v in values]
    return ",".join(items) if items else None


def _request_date(value: dt.date | None) -> str | None:
    return None if value is None else format_request_date(value)


class AdeClient:
    """An ADE Web API session. Use it as an async context manager, or call :meth:`aclose`."""

    def __init__(
        self,
        url: str,
        login: str,
        password: str,
        project_id: int | None,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        concurrency: int = 4,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``sleep`` waits out the backoff: a test may pass one that returns at once or records delays."""
        self.url = url
        self.login = login
        self._password = password
        self.project_id = project_id
        self.retry = retry
        self._sleep = sleep
        self.stats = ClientStats()
        self._slots = asyncio.Semaphore(concurrency)
        self._session_lock = asyncio.Lock()
        self._session_id: str | None = None
        self._session_generation = 0
        self._unreachable: AdeUnreachable | None = None
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> AdeClient:
        options: dict[str, Any] = dict(
            connect_timeout=settings.ade_connect_timeout,
            read_timeout=settings.ade_read_timeout,
            concurrency=settings.ade_concurrency,
            retry=RetryPolicy(retries=settings.ade_retries),
        )
        options.update(overrides)
        return cls(settings.ade_url, settings.ade_login, settings.ade_password, settings.ade_project_id, **options)

    def __repr__(self) -> str:
        return f"AdeClient({scrub_url(self.url)!r}, login={self.login!r}, project_id={self.project_id})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (the ADE session is left to expire, as every client does)."""
        await self._http.aclose()

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def unreachable(self) -> AdeUnreachable | None:
        """The failed connection that stopped this client (every call fails at once meanwhile)."""
        return self._unreachable

    def reset_reachability(self) -> None:
        """Try to connect again: each unit of work (a sync cycle, a message's refresh) starts with it."""
        self._unreachable = None

    # -----------------------------------------------------------------------------------------
    # Transport: one HTTP request, counted, retried on network errors and 5xx.

    async def _send(self, function: str, params: Mapping[str, str | None]) -> bytes:
        query = {"function": function}
        query.update({k: v for k, v in params.items() if v is not None})
        stats = self.stats.of(function)
        attempt = 0
        while True:
            problem: str
            if self._unreachable is not None:
                raise AdeUnreachable(function, self._unreachable.message)
            async with self._slots:
                started = time.perf_counter()
                try:
                    response = await self._http.get(self.url, params=query)
                    body = response.content
                except httpx.ConnectError as exc:
                    # Refused, unknown host, TLS: fail fast, and fail every call until reset.
                    elapsed = time.perf_counter() - started
                    stats.requests += 1
                    stats.errors += 1
                    stats.seconds += elapsed
                    if self._unreachable is None:
                        problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                        self._unreachable = AdeUnreachable(function, f"cannot connect to ADE ({problem})")
                        log.warning("ade unreachable", function=function, problem=problem)
                    raise AdeUnreachable(function, self._unreachable.message) from None
                except httpx.TransportError as exc:
                    response, body = None, b""
                    problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                elapsed = time.perf_counter() - started
            stats.requests += 1
            stats.bytes += len(body)
            stats.seconds += elapsed
            stats.max_seconds = max(stats.max_seconds, elapsed)
            if response is not None:
                if response.status_code < 400:
                    log.debug("ade request", function=function, status=response.status_code,
                              bytes=len(body), seconds=round(elapsed, 4))
                    return body
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRYABLE_STATUS:
                    stats.errors += 1
                    raise AdeProtocolError(function, problem)
            stats.errors += 1
            if attempt >= self.retry.retries:
                log.warning("ade unavailable", function=function, problem=problem, attempts=attempt + 1)
                raise AdeUnavailable(function, f"{problem} (after {attempt + 1} attempts)")
            delay = self.retry.delay(attempt)
            log.info("ade request failed, retrying", function=function, problem=problem,
                     attempt=attempt + 1, retry_in=round(delay, 2))
            stats.retries += 1
            attempt += 1
            await self._sleep(delay)

    # -----------------------------------------------------------------------------------------
    # Sessions

    async def connect(self) -> str:
        """``connect``: a new session id (not yet bound to a project)."""
        body = await self._send("connect", {"login": self.login, "password": self._password})
        try:
            session_id = xml.parse_session(xml.parse_root("connect", body))
        except AdeError:
            self.stats.of("connect").errors += 1
            raise
        self._session_id = session_id
        self._session_generation += 1
        log.info("ade connected", url=scrub_url(self.url), login=self.login)
        return session_id

    async def set_project(self, project_id: int) -> ProjectSelection:
        """``setProject``: bind the session to a project; ADE echoes both ids back."""
        root = await self._call_raw("setProject", {"projectId": str(project_id)}, relogin=False)
        selection = xml.parse_project_selection(root)
        if selection.project_id != project_id:
            raise AdeProtocolError("setProject", f"asked for project {project_id}, got {selection.project_id}")
        self.project_id = project_id
        return selection

    async def open_session(self) -> None:
        """Log in and select the project (what every first call, and every re-login, does)."""
        await self.connect()
        if self.project_id is not None:
            await self.set_project(self.project_id)

    async def _relogin(self, generation: int) -> None:
        """Open a new session unless a concurrent call already replaced the one that failed."""
        async with self._session_lock:
            if self._session_generation == generation or self._session_id is None:
                log.info("ade session lost, logging in again", login=self.login)
                await self.open_session()

    async def _ensure_session(self) -> int:
        if self._session_id is None:
            async with self._session_lock:
                if self._session_id is None:
                    await self.open_session()
        return self._session_generation

    async def disconnect(self) -> None:
        """``disconnect``; harmless when there is no session."""
        if self._session_id is None:
            return
        try:
            await self._call_raw("disconnect", {}, relogin=False)
        finally:
            self._session_id = None

    # -----------------------------------------------------------------------------------------
    # Calls that need a session

    async def _call_raw(self, function: str, params: Mapping[str, str | None], *,
                        relogin: bool = True) -> ET.Element:
        return (await self._call(function, params, xml.parse_root, relogin=relogin))[1]

    async def _call(self, function: str, params: Mapping[str, str | None], parse: Callable[[str, bytes], T], *,
                    relogin: bool = True) -> tuple[bytes, T]:
        """One session call: (raw bytes, parsed answer). A session error re-logs in and retries once.

        ``parse`` reads the bytes (and raises the error an ``<error>`` root stands for); big
        answers are parsed in a worker thread so the event loop keeps serving.
        """
        generation = self._session_generation if not relogin else await self._ensure_session()
        for attempt in (0, 1):
            body = await self._send(function, {**params, "sessionId": self._session_id})
            try:
                if len(body) > PARSE_IN_THREAD_BYTES:
                    return body, await asyncio.to_thread(parse, function, body)
                return body, parse(function, body)
            except (AdeSessionError, AdeEmptyAnswer) as exc:
                self.stats.of(function).errors += 1
                if not relogin or attempt == 1:
                    raise
                log.info("ade session error", function=function, error=exc.message)
                await self._relogin(generation)
                generation = self._session_generation
            except AdeError:
                self.stats.of(function).errors += 1
                raise
        raise AssertionError("unreachable")

    async def get_projects(self, *, detail: int | None = None, ids: Iterable[int] | None = None) -> list[Project]:
        """``getProjects``. Needs a session but no project: it does not select one."""
        if self._session_id is None:
            async with self._session_lock:
                if self._session_id is None:
                    await self.connect()
        params = {"detail": None if detail is None else str(detail), "id": _pipe(ids)}
        return xml.parse_projects(await self._call_raw("getProjects", params))

    async def get_resource_tree(
        self,
        *,
        category: str | None = None,
        detail: int | None = None,
        ids: Iterable[object] | None = None,
        leaves: bool | None = None,
        folders: bool | None = None,
        father_ids: Iterable[object] | None = None,
        **filters: str,
    ) -> ResourceTree:
        """``getResources(tree=true)``: the nested tree, with the raw bytes for fingerprinting."""
        params = self._resource_params(category, detail, ids, leaves, folders, father_ids, filters)
        params["tree"] = "true"
        body, categories = await self._call("getResources", params, _parse_tree)
        return ResourceTree(raw=body, categories=categories)

    async def get_resources(
        self,
        *,
        category: str | None = None,
        detail: int | None = None,
        ids: Iterable[object] | None = None,
        leaves: bool | None = None,
        folders: bool | None = None,
        father_ids: Iterable[object] | None = None,
        **filters: str,
    ) -> ResourceList:
        """``getResources(tree=false)``: a flat list, whatever the element names are."""
        params = self._resource_params(category, detail, ids, leaves, folders, father_ids, filters)
        params["tree"] = "false"
        body, resources = await self._call("getResources", params, _parse_list)
        return ResourceList(raw=body, resources=resources)

    @staticmethod
    def _resource_params(category: str | None, detail: int | None, ids: Iterable[object] | None,
                         leaves: bool | None, folders: bool | None, father_ids: Iterable[object] | None,
                         filters: Mapping[str, str]) -> dict[str, str | None]:
        params: dict[str, str | None] = {
            "category": category,
            "detail": None if detail is None else str(detail),
            "id": _pipe(ids),
            "leaves": _flag(leaves),
            "folders": _flag(folders),
            "fatherIds": _pipe(father_ids),
        }
        params.update(filters)
        return params

    async def get_events(
        self,
        *,
        resources: Iterable[object] | None = None,
        event_ids: Iterable[object] | None = None,
        activities: Iterable[object] | None = None,
        weeks: Iterable[int] | None = None,
        days: Iterable[int] | None = None,
        date: dt.date | None = None,
        start_date: dt.date | None = None,
        end_date: dt.date | None = None,
        detail: int | None = None,
        name: str | None = None,
    ) -> EventList:
        """``getEvents``. Dates go out as ``MM/dd/yyyy``; lists as ``a|b|c`` (weeks/days: commas).

        ADE returns events in no particular order; so does this method.
        """
        params: dict[str, str | None] = {
            "resources": _pipe(resources),
            "eventId": _pipe(event_ids),
            "activities": _pipe(activities),
            "weeks": _commas(weeks),
            "days": _commas(days),
            "date": _request_date(date),
            "startDate": _request_date(start_date),
            "endDate": _request_date(end_date),
            "detail": None if detail is None else str(detail),
            "name": name,
        }
        body, events = await self._call("getEvents", params, xml.parse_events_bytes)
        return EventList(raw=body, events=events)

    async def get_date(self, week: int, day: int, slot: int) -> AdeDate:
        """``getDate``: the instant (epoch ms) of a placement in the project's grid."""
        root = await self._call_raw("getDate", {"week": str(week), "day": str(day), "slot": str(slot)})
        return xml.parse_date(root)



def _parse_tree(function: str, body: bytes) -> tuple[ResourceNode, ...]:
    return xml.parse_resource_tree(xml.parse_root(function, body))


def _parse_list(function: str, body: bytes) -> tuple[ResourceNode, ...]:
    return xml.parse_resource_list(xml.parse_root(function, body))
