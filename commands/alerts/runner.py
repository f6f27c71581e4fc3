"""The alert mailer inside ``schedulesy worker``: one leader (a session advisory lock on its own
connection) builds due alerts and sends the outbox every few seconds. Off unless
``SCHEDULESY_SMTP_URL`` and ``SCHEDULESY_MAIL_FROM`` are set."""

from __future__ import annotations

import asyncio

import structlog

from commands.alerts.outbox import build_alerts, send_due, smtp_mailer
from schedulesy import db
from schedulesy.locks import LockId
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

TICK_SECONDS = 5.0


async def run_alerts(settings: Settings, *, tick: float = TICK_SECONDS) -> None:
    """Runs forever; a standby polls for the lead at the same pace."""
    if not settings.mail_enabled:
        log.info("e-mail alerts off (SCHEDULESY_SMTP_URL or SCHEDULESY_MAIL_FROM unset)")
        return
    send = smtp_mailer(settings)
    while True:
        try:
            lead = await db.connect(settings.database_url)
            pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
            try:
                while not await lead.fetchval("SELECT pg_try_advisory_lock($1)", int(LockId.ALERTS_LEADER)):
                    await asyncio.sleep(tick)
                log.info("alert mailer leading")
                while True:
                    await build_alerts(pool, settings)
                    await send_due(pool, settings, send)
                    await lead.execute("SELECT 1")  # the lock lives with this session: keep it alive
                    await asyncio.sleep(tick)
            finally:
                await pool.close()
                await lead.close()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("alert mailer failed; restarting")
            await asyncio.sleep(tick)
