"""Liveness, readiness, the original's ``/_hc/`` shape, and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Literal

import msgspec
from litestar import MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from projections import changelog
from queries.openapi import JsonOrHtmlOperation
from schedulesy import syncstate
from schedulesy.changes import Projection
from schedulesy.metrics import exposition
from schedulesy.services import Services, ServicesDep

CHECK_TIMEOUT_SECONDS = 2.0
MAX_HEARTBEAT_AGE_SECONDS = 30.0
MAX_PROJECTION_LAG_SECONDS = 60.0


class Check(msgspec.Struct, omit_defaults=True):
    ok: bool
    detail: str = ""
    seconds: float | None = None
    degraded: bool = False
    """Failing, but reads are still answered correctly (slower): the replica stays ready."""


class Readiness(msgspec.Struct):
    status: Literal["ok", "degraded", "failing"]
    checks: dict[str, Check]


REDIS_DOWN_EFFECT = "reads are answered from Postgres meanwhile (slower)"


async def _guarded(probe: Callable[[], Awaitable[Check]]) -> Check:
    try:
        return await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        return Check(ok=False, detail=f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as exc:  # a failing dependency is the answer, not an error
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])


def _age(moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())


async def readiness(services: Services) -> dict[str, Check]:
    """Every dependency the service needs to give correct, fresh answers."""

    async def postgres() -> Check:
        await services.pool.fetchval("SELECT 1")
        return Check(ok=True)

    async def redis() -> Check:
        await services.redis.ping()
        return Check(ok=True)

    async def worker() -> Check:
        heartbeat = await services.pool.fetchval(
            "SELECT max(heartbeat_at) FROM schedulesy.projector_checkpoint"
        )
        age = _age(heartbeat)
        if age is None:
            return Check(ok=False, detail="no projector worker has reported yet")
        return Check(ok=age <= MAX_HEARTBEAT_AGE_SECONDS, seconds=round(age, 1),
                     detail="" if age <= MAX_HEARTBEAT_AGE_SECONDS else "heartbeat is stale")

    async def projection_lag() -> Check:
        lag = await projection_lag_seconds(services)
        return Check(ok=lag <= MAX_PROJECTION_LAG_SECONDS, seconds=round(lag, 3),
                     detail="" if lag <= MAX_PROJECTION_LAG_SECONDS else "read models lag behind Postgres")

    async def ade_sync() -> Check:
        row = await services.pool.fetchrow(
            "SELECT last_success_at, last_error FROM schedulesy.sync_state WHERE name = $1", syncstate.CYCLE
        )
        age = _age(row["last_success_at"]) if row else None
        limit = 3 * services.settings.poll_interval + 600
        if age is None:
            return Check(ok=False, detail=row["last_error"] if row and row["last_error"] else "no successful ADE sync yet")
        # ADE failing is reported at once, but the last good data stays servable: the check only
        # fails (taking the replica out of a load balancer) once that data is too old.
        detail = f"the last ADE sync failed: {row['last_error']}"[:300] if row["last_error"] else ""
        frozen = await frozen_trees(services)
        if frozen:
            # Said first: it needs an operator (sync --force once the tree is right), not patience.
            detail = f"{frozen}; {detail}"[:600] if detail else frozen
        for warning in (await audit_warning(services), await feed_warning(services)):
            if warning:  # a warning: the data is served as it is, the operator is told
                detail = f"{detail}; {warning}"[:1200] if detail else warning
        if age > limit:
            detail = detail or "the last successful ADE sync is too old"
        return Check(ok=age <= limit, seconds=round(age, 1), detail=detail)

    names = ("postgres", "redis", "worker", "projection_lag", "ade_sync")
    probes = (postgres, redis, worker, projection_lag, ade_sync)
    checks = dict(zip(names, await asyncio.gather(*(_guarded(p) for p in probes))))
    return _mark_degraded(checks)


async def audit_warning(services: Services) -> str:
    """The resources whose derived timetable differs from ADE's own answer ("" when none does)."""
    figures = await services.pool.fetchval("SELECT figures FROM schedulesy.sync_state WHERE name = $1",
                                           syncstate.AUDIT)
    differing = [str(i) for i in (figures or {}).get("differing_ids", [])]
    if not differing:
        return ""
    shown = ", ".join(differing[:10]) + (", …" if len(differing) > 10 else "")
    return (f"timetable audit: {len(differing)} resources differ from ADE's own answer ({shown}); "
            "the sync log names the events")


async def feed_warning(services: Services) -> str:
    """Why ADE's change feed (when configured) does not lead the polling ("" when it does)."""
    if not services.settings.amqp_url:
        return ""
    row = await services.pool.fetchrow("SELECT figures, last_error FROM schedulesy.sync_state WHERE name = $1",
                                       syncstate.FEED)
    if row is None:
        return "ADE change feed: no consumer has connected to the broker yet"
    figures = row["figures"] or {}
    if figures.get("trusted") == 1:
        return ""
    if row["last_error"] and figures.get("distrusted_until", 0) > time.time():
        return f"ADE change feed distrusted, polling as without it: {row['last_error']}"[:400]
    return "ADE change feed not trusted yet (no consumer connected, or the near term not probed since)"


async def frozen_trees(services: Services) -> str:
    """Why some bookings are frozen: each refused tree and its reason ("" when none is)."""
    rows = await services.pool.fetch(
        """SELECT name, last_error FROM schedulesy.sync_state
           WHERE starts_with(name, $1) AND (figures->>'refused') = '1' ORDER BY name""", syncstate.TREE_PREFIX)
    return "; ".join(
        f"bookings of {r['name'].removeprefix(syncstate.TREE_PREFIX)} frozen, its tree is refused: {r['last_error'] or 'refused'}"
        for r in rows)


def _mark_degraded(checks: dict[str, Check]) -> dict[str, Check]:
    """Without Redis every read is answered from Postgres: correct, only slower. So a dead Redis —
    and the projection lag, which only Redis readers see — degrade the service instead of failing
    it: with one Redis shared by every replica, failing would take them all out of the balancer."""
    if checks["redis"].ok:
        return checks
    marked = {"redis": msgspec.structs.replace(
        checks["redis"], degraded=True, detail=f"{checks['redis'].detail}; {REDIS_DOWN_EFFECT}"[:300])}
    if not checks["projection_lag"].ok:
        marked["projection_lag"] = msgspec.structs.replace(checks["projection_lag"], degraded=True)
    return {**checks, **marked}


def verdict(checks: dict[str, Check]) -> Literal["ok", "degraded", "failing"]:
    if any(not c.ok and not c.degraded for c in checks.values()):
        return "failing"
    return "degraded" if any(not c.ok for c in checks.values()) else "ok"


async def projection_lag_seconds(services: Services) -> float:
    """Age of the oldest committed change not yet applied to Redis (0 when caught up).

    While the leader's heartbeat is fresh, its own ``pending_since`` is the measure: it reads ahead
    of the gap-safe checkpoint, so counting every change after the checkpoint would report a long
    same-database transaction (an ADE sync) as lag although Redis is fresh. It cannot know what was
    logged after its last report though — nor will it ever, if it died meanwhile — so the changes
    created since its heartbeat count too (a live leader beats every few seconds: that is the most
    this overstates). Once the heartbeat is stale, everything after the checkpoint is pending.
    """
    report = await changelog.leader_report(services.pool, Projection.READ_MODELS)
    if report is None:
        return _age(await changelog.oldest_change_after(services.pool, changelog.Position())) or 0.0
    heartbeat_age = _age(report.heartbeat_at)
    if heartbeat_age is None or heartbeat_age > MAX_HEARTBEAT_AGE_SECONDS:
        return _age(await changelog.oldest_change_after(services.pool, report.position)) or 0.0
    unreported = await changelog.oldest_change_after(services.pool, report.position, report.heartbeat_at)
    return max(_age(report.pending_since) or 0.0, _age(unreported) or 0.0)


@get("/health/live", media_type=MediaType.JSON, tags=["operations"], sync_to_thread=False)
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@get(
    "/health/ready",
    media_type=MediaType.JSON,
    tags=["operations"],
    responses={503: ResponseSpec(Readiness, description="Not ready: a check fails; the body names it.",
                                 generate_examples=False)},
)
async def ready(services: ServicesDep) -> Response[Readiness]:
    """200 when reads are answered correctly — ``ok``, or ``degraded`` (Redis down: answered from
    Postgres) — else 503 (``failing``); the body names each check."""
    checks = await readiness(services)
    status = verdict(checks)
    return Response(Readiness(status=status, checks=checks), status_code=503 if status == "failing" else 200)


# The original's django-health-check identifiers, kept for existing monitoring (docs/compatibility.md §3.14).
_LEGACY_NAMES = {
    "postgres": ("DatabaseBackend", True),
    "redis": ("RedisHealthCheck", False),  # reads are answered from Postgres meanwhile
    "worker": ("WorkerBackend", False),
    "projection_lag": ("ProjectionLag", False),
    "ade_sync": ("ADEWebAPI", False),
}


_LEGACY_ANSWER = "Each check's name with `working` or its error (JSON; an HTML table without `format` "


@get(
    ["/_hc", "/_hc/"],
    tags=["operations"],
    media_type=MediaType.JSON,
    operation_class=JsonOrHtmlOperation,
    responses={
        200: ResponseSpec(dict[str, str], description=_LEGACY_ANSWER + "when the client does not ask for JSON).",
                          generate_examples=False),
        500: ResponseSpec(dict[str, str], description="A critical check (Postgres, Redis) fails.",
                          generate_examples=False),
    },
)
async def legacy_health_check(
    request: Request[Any, Any, Any], services: ServicesDep, format: FromQuery[str | None] = None
) -> Response[Any]:
    """The original's status page: ``{"<check>": "working" | error}``; an HTML table when the caller
    names no ``format`` and does not ask for JSON, as the original did."""
    checks = await readiness(services)
    body = {
        _LEGACY_NAMES[name][0]: "working" if check.ok and not check.detail else (check.detail or "failing")
        for name, check in checks.items()
    }
    critical_ok = all(check.ok for name, check in checks.items() if _LEGACY_NAMES[name][1])
    status = 200 if critical_ok else 500
    if format not in (None, "html") or "application/json" in request.headers.get("accept", ""):
        return Response(body, status_code=status, media_type=MediaType.JSON)
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in body.items())
    html = f"<!doctype html><title>Schedulesy health</title><table>{rows}</table>"
    return Response(html, status_code=status, media_type=MediaType.HTML)


@get("/metrics", media_type=MediaType.TEXT, tags=["operations"])
async def metrics(services: ServicesDep) -> Response[bytes]:
    """Prometheus text format: HTTP requests, projection lag, worker heartbeat, ADE sync figures,
    the alert outbox."""
    return Response(exposition(await _database_families(services)), media_type=CONTENT_TYPE_LATEST)


async def _database_families(services: Services) -> list[Metric]:
    families: dict[str, GaugeMetricFamily] = {}

    def gauge(name: str, value: float | None, help_text: str, labels: dict[str, str] | None = None) -> None:
        if value is None:
            return
        family = families.setdefault(name, GaugeMetricFamily(name, help_text, labels=list(labels or {})))
        family.add_metric(list((labels or {}).values()), value)

    gauge("schedulesy_up", 1, "The API process answers.")
    gauge("schedulesy_projection_lag_seconds", await projection_lag_seconds(services),
          "Age of the oldest change not yet in the read models.")
    for row in await services.pool.fetch(
        "SELECT projection, heartbeat_at FROM schedulesy.projector_checkpoint"
    ):
        gauge("schedulesy_worker_heartbeat_age_seconds", _age(row["heartbeat_at"]),
              "Seconds since the projector leader's last heartbeat.", {"projection": row["projection"]})
    for row in await services.pool.fetch(
        "SELECT name, last_success_at, last_error, figures FROM schedulesy.sync_state ORDER BY name"
    ):
        labels = {"name": row["name"]}
        gauge("schedulesy_sync_last_success_age_seconds", _age(row["last_success_at"]),
              "Seconds since the last successful ADE sync of this part.", labels)
        gauge("schedulesy_sync_failing", 1.0 if row["last_error"] else 0.0,
              "1 when the last ADE sync attempt of this part failed.", labels)
        for key, value in sorted((row["figures"] or {}).items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metric = "schedulesy_sync_" + "".join(c if c.isalnum() else "_" for c in key.lower())
                gauge(metric, value, f"ADE sync figure {key} of the last cycle.", labels)
    outbox = await services.pool.fetchrow(
        "SELECT count(*) AS unsent, min(created_at) AS oldest FROM schedulesy.alert_outbox WHERE sent_at IS NULL")
    gauge("schedulesy_alert_outbox_unsent", outbox["unsent"],
          "Alert and confirmation mails built and not sent yet (retried while SMTP fails).")
    gauge("schedulesy_alert_outbox_oldest_unsent_age_seconds", _age(outbox["oldest"]),
          "Seconds since the oldest unsent alert mail was built.")
    gauge("schedulesy_metrics_generated_timestamp_seconds", round(time.time(), 3), "When this page was made.")
    return list(families.values())


health_handlers = [live, ready, legacy_health_check, metrics]
