"""What every command about one user needs: one retried transaction, the user's lock, the
owner check, and the text checks of the legacy columns.

Concurrency: every command that changes one user's rows first takes that user's advisory
transaction lock (:func:`lock_user`), so two creates or many PATCHes of one user run one after
the other (a create that finds the row answers 409) instead of racing on a table whose ``uid``
column ADE never made unique. Deadlocks between two users' locks (swapped logins) are retried.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import msgspec
import structlog

from schedulesy.auth import Identity
from schedulesy.errors import BadRequest, Forbidden, NotFound, Unavailable
from schedulesy.locks import LockClass
from schedulesy.usernames import may_own_customization

log = structlog.get_logger(__name__)

T = TypeVar("T")

TRANSACTION_ATTEMPTS = 3


async def in_transaction(conn: asyncpg.Connection, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` as one transaction, again when Postgres picked it as a deadlock victim."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                return await work()
        except (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError):
            log.warning("command_retried", attempt=attempt)
    raise Unavailable("The database is busy with conflicting changes; try again")


async def lock_user(conn: asyncpg.Connection, username: str) -> None:
    """Serialise this transaction with every other command about ``username`` (until commit)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LockClass.USER, username)


async def lock_directory_id(conn: asyncpg.Connection, directory_id: str) -> None:
    """Serialise this transaction with every other create claiming ``directory_id`` (until commit)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LockClass.DIRECTORY_ID, directory_id)


def require_owner(actor: Identity, username: str) -> None:
    """Owner-or-superuser, checked before any lookup so that nothing leaks about other users.

    Then a path username that no ``w_edtperso.uid`` can be is a 404 before any SQL (Postgres
    refuses NUL in text: the query itself would fail).
    """
    if not actor.may_act_for(username):
        raise Forbidden("You do not have permission to perform this action")
    require_possible_uid(username)


def require_possible_uid(username: str) -> None:
    """Not a username, or too long for ``w_edtperso.uid``: no customization has that login."""
    if not may_own_customization(username):
        raise NotFound("No customization for this user")


async def customization_exists(conn: asyncpg.Connection, username: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM public.w_edtperso WHERE uid = $1)", username))


async def create_default_access(conn: asyncpg.Connection, username: str) -> None:
    """Every customization has at least one access; the first is named after its user (docs/compatibility.md §4.2)."""
    await conn.execute(
        "INSERT INTO schedulesy.access (key, username, name) VALUES ($1, $2, $2) ON CONFLICT DO NOTHING",
        uuid.uuid4(), username,
    )


def check_text(field: str, value: str, max_length: int, *, min_length: int = 0) -> str:
    """Reject what the legacy columns cannot hold or should never hold (control characters)."""
    if len(value) < min_length:
        raise BadRequest(f"{field}: at least {min_length} character(s) needed", field=field)
    if len(value) > max_length:
        raise BadRequest(
            f"{field}: {len(value)} characters, at most {max_length} allowed", field=field, limit=max_length
        )
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise BadRequest(f"{field}: control characters are not allowed", field=field)
    return value


_NOT_CONTROL = r"[^\u0000-\u001f\u007f-\u009f]"
_NOT_CONTROL_NOR_SPACE = r"[^\s\u0000-\u001f\u007f-\u009f]"


def text_schema(
    max_length: int, *, min_length: int = 0, not_blank: bool = False, trimmed: bool = False
) -> msgspec.Meta:
    """The OpenAPI description of what :func:`check_text` accepts (documentation only: the check
    itself stays in code, whose 400s name the field); ``trimmed``: no leading or trailing space."""
    if trimmed:
        pattern = f"^{_NOT_CONTROL_NOR_SPACE}({_NOT_CONTROL}*{_NOT_CONTROL_NOR_SPACE})?$"
    elif not_blank:
        pattern = f"^{_NOT_CONTROL}*{_NOT_CONTROL_NOR_SPACE}{_NOT_CONTROL}*$"
    else:
        pattern = f"^{_NOT_CONTROL}*$"
    schema: dict[str, object] = {"maxLength": max_length, "pattern": pattern}
    if min_length:
        schema["minLength"] = min_length
    return msgspec.Meta(extra_json_schema=schema)
