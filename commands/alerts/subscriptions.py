"""The owner's opt-in: ``PUT /api/customization/{u}/notifications.json`` stores the address and
queues a confirmation mail; alerts start once its link is opened; any alert's link unsubscribes.

Tokens are 256 random bits (``secrets``), each good for one purpose only: a confirmation token
cannot unsubscribe and an unsubscribe token cannot confirm.
"""

from __future__ import annotations

import re
import secrets
from typing import Literal

import asyncpg
import msgspec

from commands.alerts import mail
from commands.common import customization_exists, lock_user, require_possible_uid
from schedulesy.auth import Identity
from schedulesy.errors import BadRequest, Forbidden, NotFound, Unavailable
from schedulesy.settings import Settings

MAX_HORIZON_DAYS = 60
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
"""A plain address (no display name, no quoting): what an alert can be sent to."""
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class NotificationRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the owner asks: where, how far ahead, in which language."""

    email: str
    horizon_days: int
    lang: Literal["fr", "en"] = "fr"


class Notifications(msgspec.Struct, kw_only=True):
    """A login's alert settings; ``confirmed`` is false until the mailed link is opened."""

    email: str
    horizon_days: int
    lang: str
    confirmed: bool


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _check(request: NotificationRequest) -> str:
    email = request.email.strip()
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise BadRequest("email: expected an e-mail address", field="email")
    if not 1 <= request.horizon_days <= MAX_HORIZON_DAYS:
        raise BadRequest(f"horizon_days: expected a number of days from 1 to {MAX_HORIZON_DAYS}",
                         field="horizon_days")
    return email


def _require_self(actor: Identity, username: str) -> None:
    """Only the owner: nobody, not even a superuser, subscribes someone else's address."""
    require_possible_uid(username)
    if actor.username != username:
        raise Forbidden("Only the owner may choose where their alerts go")


async def subscribe(conn: asyncpg.Connection, actor: Identity, username: str, request: NotificationRequest,
                    settings: Settings) -> Notifications:
    """Store the subscription (unconfirmed, fresh tokens) and queue the confirmation mail, in one
    transaction; a previous subscription of this login is replaced."""
    _require_self(actor, username)
    email = _check(request)
    if not settings.mail_enabled:
        raise Unavailable("E-mail alerts are not configured on this server")
    confirm_token, unsubscribe_token = new_token(), new_token()
    message = mail.confirmation(settings.mail_from, email, link=mail.confirm_url(settings.public_base, confirm_token),
                                horizon_days=request.horizon_days, lang=request.lang)
    async with conn.transaction():
        await lock_user(conn, username)
        if not await customization_exists(conn, username):
            raise NotFound("No customization for this user")
        await conn.execute(
            """
            INSERT INTO schedulesy.alert_subscription
                (username, email, horizon_days, lang, confirm_token, unsubscribe_token)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (username) DO UPDATE SET
                email = excluded.email, horizon_days = excluded.horizon_days, lang = excluded.lang,
                confirm_token = excluded.confirm_token, unsubscribe_token = excluded.unsubscribe_token,
                confirmed_at = NULL, created_at = now()
            """, username, email, request.horizon_days, request.lang, confirm_token, unsubscribe_token)
        await conn.execute(
            "INSERT INTO schedulesy.alert_outbox (username, purpose, recipient, message) VALUES ($1, 'confirm', $2, $3)",
            username, email, message)
    return Notifications(email=email, horizon_days=request.horizon_days, lang=request.lang, confirmed=False)


async def current(conn: asyncpg.Connection, actor: Identity, username: str) -> Notifications:
    _require_self(actor, username)
    row = await conn.fetchrow(
        "SELECT email, horizon_days, lang, confirmed_at FROM schedulesy.alert_subscription WHERE username = $1",
        username)
    if row is None:
        raise NotFound("No e-mail alerts for this user")
    return Notifications(email=row["email"], horizon_days=row["horizon_days"], lang=row["lang"],
                         confirmed=row["confirmed_at"] is not None)


async def cancel(conn: asyncpg.Connection, actor: Identity, username: str) -> None:
    """The owner stops their alerts (what the unsubscribe link does, logged in)."""
    _require_self(actor, username)
    if await conn.fetchval("DELETE FROM schedulesy.alert_subscription WHERE username = $1 RETURNING 1", username) is None:
        raise NotFound("No e-mail alerts for this user")


async def confirm(pool: asyncpg.Pool, token: str) -> None:
    """Open the confirmation link: alerts start from now on. Used once."""
    found = TOKEN.fullmatch(token) and await pool.fetchval(
        """UPDATE schedulesy.alert_subscription SET confirmed_at = now(), confirm_token = NULL
           WHERE confirm_token = $1 RETURNING username""", token)
    if not found:
        raise NotFound("Unknown or already used confirmation link")


async def unsubscribe(pool: asyncpg.Pool, token: str) -> None:
    """One click from any alert: the subscription is gone (and so is its token)."""
    found = TOKEN.fullmatch(token) and await pool.fetchval(
        "DELETE FROM schedulesy.alert_subscription WHERE unsubscribe_token = $1 RETURNING username", token)
    if not found:
        raise NotFound("Unknown unsubscribe link, or already unsubscribed")
