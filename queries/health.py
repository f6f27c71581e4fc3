"""Liveness, readiness, the original's ``/_hc/`` shape, and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get
from litestar.params import FromQuery

from schedulesy.changes import Projection
from schedulesy.services import Services, ServicesDep

SYNC_CYCLE = "cycle"  # the sync_state row of a whole ADE sync cycle
CHECK_TIMEOUT_SECONDS = 2.0
MAX_HEARTBEAT_AGE_SECONDS = 30.0
MAX_PROJECTION_LAG_SECONDS = 60.0


class Check(msgspec.Struct, omit_defaults=True):
    ok: bool
    detail: str = ""
    seconds: float | None = None


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, Check]


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
            "SELECT last_success_at, last_error FROM schedulesy.sync_state WHERE name = $1", SYNC_CYCLE
        )
        age = _age(row["last_success_at"]) if row else None
        limit = 3 * services.settings.poll_interval + 600
        if age is None:
            return Check(ok=False, detail=row["last_error"] if row and row["last_error"] else "no successful ADE sync yet")
        # ADE failing is reported at once, but the last good data stays servable: the check only
        # fails (taking the replica out of a load balancer) once that data is too old.
        detail = f"the last ADE sync failed: {row['last_error']}"[:300] if row["last_error"] else ""
        if age > limit:
            detail = detail or "the last successful ADE sync is too old"
        return Check(ok=age <= limit, seconds=round(age, 1), detail=detail)

    names = ("postgres", "redis", "worker", "projection_lag", "ade_sync")
    probes = (postgres, redis, worker, projection_lag, ade_sync)
    results = await asyncio.gather(*(_guarded(p) for p in probes))
    return dict(zip(names, results))


async def projection_lag_seconds(services: Services) -> float:
    """Age of the oldest committed change not yet applied to Redis (0 when caught up).

    While the leader's heartbeat is fresh, its own ``pending_since`` is the measure: it reads ahead
    of the gap-safe checkpoint, so counting every change after the checkpoint would report a long
    same-database transaction (an ADE sync) as lag although Redis is fresh. Without a live leader,
    everything after the checkpoint is pending.
    """
    row = await services.pool.fetchrow(
        """
        SELECT p.pending_since,
               p.heartbeat_at > now() - make_interval(secs => $2) AS leader_alive,
               (SELECT min(c.created_at) FROM schedulesy.change c
                WHERE (c.xid, c.id) > (coalesce(p.last_xid, '0'::xid8), coalesce(p.last_id, 0))) AS oldest
        FROM (SELECT 1) AS one
        LEFT JOIN schedulesy.projector_checkpoint p ON p.projection = $1
        """,
        Projection.READ_MODELS, MAX_HEARTBEAT_AGE_SECONDS,
    )
    if row["leader_alive"]:
        return _age(row["pending_since"]) or 0.0
    return _age(row["oldest"]) or 0.0


@get("/health/live", media_type=MediaType.JSON, tags=["operations"], sync_to_thread=False)
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@get("/health/ready", media_type=MediaType.JSON, tags=["operations"])
async def ready(services: ServicesDep) -> Response[Readiness]:
    """200 when every check passes, else 503; the body names each check."""
    checks = await readiness(services)
    healthy = all(c.ok for c in checks.values())
    return Response(Readiness(status="ok" if healthy else "failing", checks=checks),
                    status_code=200 if healthy else 503)


# The original's django-health-check identifiers, kept for existing monitoring (docs/compatibility.md §3.14).
_LEGACY_NAMES = {
    "postgres": ("DatabaseBackend", True),
    "redis": ("RedisHealthCheck", True),
    "worker": ("WorkerBackend", False),
    "projection_lag": ("ProjectionLag", False),
    "ade_sync": ("ADEWebAPI", False),
}


@get(["/_hc", "/_hc/"], tags=["operations"], media_type=MediaType.JSON)
async def legacy_health_check(
    request: Request, services: ServicesDep, format: FromQuery[str | None] = None
) -> Response[Any]:
    """The original's status page: ``?format=json`` gives ``{"<check>": "working" | error}``."""
    checks = await readiness(services)
    body = {
        _LEGACY_NAMES[name][0]: "working" if check.ok and not check.detail else (check.detail or "failing")
        for name, check in checks.items()
    }
    critical_ok = all(check.ok for name, check in checks.items() if _LEGACY_NAMES[name][1])
    status = 200 if critical_ok else 500
    if format == "json" or "application/json" in request.headers.get("accept", ""):
        return Response(body, status_code=status, media_type=MediaType.JSON)
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in body.items())
    html = f"<!doctype html><title>Schedulesy health</title><table>{rows}</table>"
    return Response(html, status_code=status, media_type=MediaType.HTML)


@get("/metrics", media_type=MediaType.TEXT, tags=["operations"])
async def metrics(services: ServicesDep) -> str:
    """Prometheus text format: projection lag, worker heartbeat, ADE sync figures."""
    lines: list[str] = []

    def gauge(name: str, value: float | None, help_text: str, labels: str = "") -> None:
        if value is None:
            return
        if not any(line.startswith(f"# HELP {name} ") for line in lines):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name}{labels} {value}")

    gauge("schedulesy_up", 1, "The API process answers.")
    gauge("schedulesy_projection_lag_seconds", await projection_lag_seconds(services),
          "Age of the oldest change not yet in the read models.")
    for row in await services.pool.fetch(
        "SELECT projection, heartbeat_at FROM schedulesy.projector_checkpoint"
    ):
        gauge("schedulesy_worker_heartbeat_age_seconds", _age(row["heartbeat_at"]),
              "Seconds since the projector leader's last heartbeat.", f'{{projection="{row["projection"]}"}}')
    for row in await services.pool.fetch(
        "SELECT name, last_success_at, last_error, figures FROM schedulesy.sync_state ORDER BY name"
    ):
        labels = f'{{name="{row["name"]}"}}'
        gauge("schedulesy_sync_last_success_age_seconds", _age(row["last_success_at"]),
              "Seconds since the last successful ADE sync of this part.", labels)
        gauge("schedulesy_sync_failing", 1.0 if row["last_error"] else 0.0,
              "1 when the last ADE sync attempt of this part failed.", labels)
        for key, value in sorted((row["figures"] or {}).items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metric = "schedulesy_sync_" + "".join(c if c.isalnum() else "_" for c in key.lower())
                gauge(metric, value, f"ADE sync figure {key} of the last cycle.", labels)
    gauge("schedulesy_metrics_generated_timestamp_seconds", round(time.time(), 3), "When this page was made.")
    return "\n".join(lines) + "\n"


health_handlers = [live, ready, legacy_health_check, metrics]
