"""The outbox: alerts built from the change history, then sent over SMTP (docs/changes.md §3).

**Build** (:func:`build_alerts`): for each confirmed subscription whose last mail is at least
``SCHEDULESY_NOTIFY_DELAY`` old, the changes not mailed to that user yet — of the events of their
selection, detected since they confirmed, within their horizon when detected — become one mail.
The mail, its ``alert_delivery`` rows (primary key: user and change) and the subscription's
``last_mail_at`` commit together: a change goes into at most one mail per user, whoever builds.

**Send** (:func:`send_due`): each due row is locked (``FOR UPDATE SKIP LOCKED``) while it is sent
and marked sent in the same transaction; a refused or failed send is retried with a growing delay.
A worker killed after building sends nothing twice: its outbox row is simply sent by the next run.
The one window left is a crash after the SMTP server accepted a mail and before the commit: that
mail goes again, with the same ``Message-ID`` so that mail systems can drop the copy.
"""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
import asyncpg
import msgspec
import structlog

from commands.alerts import mail
from schedulesy.history import EventSnapshot, Lang, describe
from schedulesy.selection import Selection
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
SMTP_TIMEOUT_SECONDS = 30.0
_SNAPSHOT = msgspec.json.Decoder(EventSnapshot | None)

class Mailer(Protocol):
    async def __call__(self, message: bytes, recipient: str) -> None: ...


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failures: 30 s, 1 min, 2 min … capped at an hour."""
    return float(min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def smtp_mailer(settings: Settings) -> Mailer:
    """Sends through ``SCHEDULESY_SMTP_URL``: ``smtps://`` is TLS from the start, ``smtp://`` upgrades
    with STARTTLS when the server offers it (``?starttls=require`` insists); user and password from
    the URL. The relay's certificate is verified against the system's CAs (``SSL_CERT_FILE`` to trust a
    private one); there is deliberately no way to skip that."""
    url = urlsplit(settings.smtp_url)
    implicit_tls = url.scheme.lower() == "smtps"
    require_starttls = "starttls=require" in url.query
    host, port = url.hostname or "localhost", url.port or (465 if implicit_tls else 25)
    username = unquote(url.username) if url.username else None
    password = unquote(url.password) if url.password else None

    async def send(message: bytes, recipient: str) -> None:
        await aiosmtplib.send(
            message, sender=settings.mail_from, recipients=[recipient], hostname=host, port=port,
            username=username, password=password, use_tls=implicit_tls,
            start_tls=True if require_starttls else None, timeout=SMTP_TIMEOUT_SECONDS)

    return send


def _within_horizon(detected_at: dt.datetime, before: EventSnapshot | None, after: EventSnapshot | None,
                    horizon_days: int) -> bool:
    """Some start of the event (before or after the change) falls in the horizon seen from the detection."""
    starts = [s.starts_at for s in (before, after) if s is not None]
    return any(detected_at - dt.timedelta(days=1) <= start <= detected_at + dt.timedelta(days=horizon_days)
               for start in starts)


async def _build_one(conn: asyncpg.Connection, settings: Settings, username: str) -> int:
    """One user's mail, in the caller's transaction; 0 when nothing is due."""
    delay = dt.timedelta(seconds=settings.notify_delay)
    sub = await conn.fetchrow(
        """SELECT username, email, horizon_days, lang, unsubscribe_token, confirmed_at
           FROM schedulesy.alert_subscription
           WHERE username = $1 AND confirmed_at IS NOT NULL AND (last_mail_at IS NULL OR last_mail_at <= now() - $2::interval)
           FOR UPDATE SKIP LOCKED""", username, delay)
    if sub is None:
        return 0
    ressources = await conn.fetchval(
        """SELECT ressources FROM public.w_edtperso WHERE uid = $1
           ORDER BY date_personnalisation DESC NULLS LAST, id DESC LIMIT 1""", username)
    selection = Selection.from_column(ressources)
    if not selection.ids:
        return 0
    rows = await conn.fetch(
        """
        SELECT h.id, h.kind, h.detected_at, coalesce(h.before::text, 'null') AS before,
               coalesce(h.after::text, 'null') AS after
        FROM schedulesy.event_history h
        WHERE h.resources && $2::text[] AND h.detected_at >= $3
          AND NOT EXISTS (SELECT 1 FROM schedulesy.alert_delivery d WHERE d.username = $1 AND d.change_id = h.id)
        ORDER BY h.detected_at, h.id
        """, username, list(selection.ids), sub["confirmed_at"])
    lang: Lang = "en" if sub["lang"] == "en" else "fr"
    chosen: list[tuple[int, str]] = []
    for row in rows:
        before, after = _SNAPSHOT.decode(row["before"]), _SNAPSHOT.decode(row["after"])
        if _within_horizon(row["detected_at"], before, after, sub["horizon_days"]):
            chosen.append((row["id"], describe(row["kind"], before, after, settings.zone, lang)))
    if not chosen:
        return 0
    message = mail.alert(settings.mail_from, sub["email"], sentences=[s for _, s in chosen], lang=lang,
                         unsubscribe=mail.unsubscribe_url(settings.public_base, sub["unsubscribe_token"]))
    outbox_id = await conn.fetchval(
        """INSERT INTO schedulesy.alert_outbox (username, purpose, recipient, message)
           VALUES ($1, 'alert', $2, $3) RETURNING id""", username, sub["email"], message)
    await conn.execute(
        """INSERT INTO schedulesy.alert_delivery (username, change_id, outbox_id)
           SELECT $1, unnest($2::bigint[]), $3""", username, [i for i, _ in chosen], outbox_id)
    await conn.execute("UPDATE schedulesy.alert_subscription SET last_mail_at = now() WHERE username = $1", username)
    return len(chosen)


async def build_alerts(pool: asyncpg.Pool, settings: Settings) -> int:
    """Build every due alert mail; the number of changes they report."""
    due = await pool.fetch(
        """SELECT username FROM schedulesy.alert_subscription
           WHERE confirmed_at IS NOT NULL AND (last_mail_at IS NULL OR last_mail_at <= now() - $1::interval)""",
        dt.timedelta(seconds=settings.notify_delay))
    reported = 0
    for row in due:
        async with pool.acquire() as conn, conn.transaction():
            reported += await _build_one(conn, settings, row["username"])
    return reported


def _with_message_id(message: bytes, outbox_id: int, host: str) -> bytes:
    """The same Message-ID on every try of one outbox row: a copy sent twice can be recognised."""
    parsed = message_from_bytes(message, policy=policy.SMTP)
    del parsed["Message-ID"]
    parsed["Message-ID"] = f"<alert-{outbox_id}@{host}>"
    return parsed.as_bytes()


async def send_due(pool: asyncpg.Pool, settings: Settings, send: Mailer, *, limit: int = 100) -> int:
    """Send the due outbox rows, one transaction each; the number sent. Failures are kept for later."""
    host = urlsplit(settings.public_url).hostname or "schedulesy"
    sent = 0
    for _ in range(limit):
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT id, recipient, message, attempts FROM schedulesy.alert_outbox
                   WHERE sent_at IS NULL AND next_attempt_at <= now()
                   ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED""")
            if row is None:
                return sent
            try:
                await send(_with_message_id(row["message"], row["id"], host), row["recipient"])
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                attempts = row["attempts"] + 1
                await conn.execute(
                    """UPDATE schedulesy.alert_outbox SET attempts = $2, last_error = $3,
                              next_attempt_at = now() + make_interval(secs => $4)
                       WHERE id = $1""", row["id"], attempts, str(exc)[:500], retry_delay(attempts))
                log.warning("alert mail not sent; will retry", outbox_id=row["id"], attempts=attempts,
                            error=str(exc)[:200])
                continue
            await conn.execute("UPDATE schedulesy.alert_outbox SET sent_at = now(), message = NULL WHERE id = $1",
                               row["id"])
            sent += 1
    return sent


async def prune_outbox(pool: asyncpg.Pool, days: int) -> int:
    """Forget mails sent more than ``days`` ago (and which changes they carried: those changes are
    pruned from the history by then, having been detected before the mail was built)."""
    status = await pool.execute(
        "DELETE FROM schedulesy.alert_outbox WHERE sent_at < now() - make_interval(days => $1)", days)
    return int(status.split()[-1])
