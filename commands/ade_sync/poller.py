"""The ADE poller inside ``schedulesy worker``: one sync cycle after another, backing off on failure."""

from __future__ import annotations

import asyncio
import random

import structlog

from commands.ade_sync.cycle import run_cycle
from commands.ade_sync.history import prune_history
from commands.alerts.outbox import prune_outbox
from schedulesy.ade.client import AdeClient
from schedulesy.services import open_services
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

MAX_BACKOFF_SECONDS = 3600.0


def next_delay(interval: float, failures: int, rng: random.Random | None = None) -> float:
    """The poll interval with ±10 % jitter; doubled per consecutive failure, capped at an hour."""
    rng = rng or random.Random()
    base = min(interval * 2.0 ** min(failures, 10), max(interval, MAX_BACKOFF_SECONDS))
    return base * rng.uniform(0.9, 1.1)


async def run_poller(settings: Settings) -> None:
    """Runs forever inside ``schedulesy worker``: a cycle every ``poll_interval`` (with jitter),
    backing off while ADE or Postgres fail. One ADE session is reused across cycles."""
    failures = 0
    first = True
    async with open_services(settings, pool_size=4) as services, AdeClient.from_settings(settings) as ade:
        while True:
            try:
                report = await run_cycle(services, client=ade, near_first=first, feed_may_lead=True)
                ok = report.status in ("ok", "skipped")
                await prune_history(services.pool, settings.change_history_days)
                await prune_outbox(services.pool, settings.change_history_days)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ade sync cycle crashed")
                ok = False
            failures = 0 if ok else failures + 1
            delay = next_delay(settings.poll_interval, failures)
            if first and ok and report.mode == "near":
                delay = 0  # the near term is in; fetch the rest of the year right away
            first = False
            if failures:
                log.warning("ade sync backing off", failures=failures, retry_in=round(delay))
            await asyncio.sleep(delay)
