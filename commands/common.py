"""What every command about one user needs: one retried transaction whose changes its author reads
at once, the user's lock, the owner check, and the text checks of the legacy columns.

Concurrency: every command that changes one user's rows first takes that user's advisory
transaction lock (:func:`lock_user`), so two creates or many PATCHes of one user run one after
the other (a create that finds the row answers 409) instead of racing on a table whose ``uid``
column ADE never made unique. Deadlocks between two users' locks (swapped logins) are retried.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Set
from typing import Protocol, TypeVar

import asyncpg
import msgspec
import structlog
from redis.exceptions import RedisClusterException, RedisError

from schedulesy.auth import Identity
from schedulesy.changes import Topic
from schedulesy.errors import BadRequest, Forbidden, NotFound, Unavailable
from schedulesy.locks import LockClass
from schedulesy.usernames import may_own_customization

log = structlog.get_logger(__name__)

T = TypeVar("T")

TRANSACTION_ATTEMPTS = 3


class ReadModelUpdates(Protocol):
    """What a command needs of the read side (the projector's ``ReadModels``): the inline
    projection that makes its author's next read see its change (docs/architecture.md §3.8)."""

    async def revoke(self, access_keys: Collection[str]) -> None:
        """Before commit: these access keys are dead for good, in every process."""

    async def apply_inline(self, changes: Mapping[str, Set[str]]) -> object:
        """After commit: rebuild the user and access documents these changes (topic → keys) touch."""


INLINE_TOPICS = (Topic.USER, Topic.ACCESS)
"""What a command's own changes rebuild before it answers: the documents its author reads next
(their selection, their keys). A rebuild request is left to the worker."""
_OWN_CHANGES = """
SELECT topic, key FROM schedulesy.change
WHERE xid = pg_current_xact_id_if_assigned() AND topic = ANY($1::text[])
"""
_DELETED_KEYS = """
SELECT k FROM unnest($1::text[]) AS k
WHERE NOT EXISTS (SELECT 1 FROM schedulesy.access a WHERE a.key::text = k)
"""
REDIS_FAILURES = (RedisError, RedisClusterException, OSError, TimeoutError)


async def in_transaction(
    conn: asyncpg.Connection, work: Callable[[], Awaitable[T]], read_models: ReadModelUpdates
) -> T:
    """Run ``work`` as one transaction (again when Postgres picked it as a deadlock victim), then
    bring the read models it touched up to date before the caller answers.

    What changed is what the triggers logged for this very transaction (the change log the
    projector reads too). Access keys it deleted are revoked in Redis *before* the commit: when
    Redis cannot be told, nothing is committed (503), so a revocation that reports success holds
    at once. The rest is rebuilt right after the commit; should that fail, the projector still
    applies the same changes from the log (seconds later, or when it comes back).
    """
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                result = await work()
                changes = await _own_changes(conn)
                await _revoke_deleted_keys(conn, changes.get(Topic.ACCESS, set()), read_models)
        except (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError):
            log.warning("command_retried", attempt=attempt)
            continue
        if changes:
            try:
                await read_models.apply_inline(changes)
            except Exception as exc:  # the projector applies the same changes from the log
                log.warning("inline_projection_failed", error=f"{type(exc).__name__}: {exc}"[:200])
        return result
    raise Unavailable("The database is busy with conflicting changes; try again")


async def _own_changes(conn: asyncpg.Connection) -> dict[str, set[str]]:
    changes: dict[str, set[str]] = {}
    for row in await conn.fetch(_OWN_CHANGES, [str(topic) for topic in INLINE_TOPICS]):
        changes.setdefault(Topic(row["topic"]), set()).add(row["key"])
    return changes


async def _revoke_deleted_keys(conn: asyncpg.Connection, keys: Set[str], read_models: ReadModelUpdates) -> None:
    if not keys:
        return
    deleted = [row["k"] for row in await conn.fetch(_DELETED_KEYS, sorted(keys))]
    if not deleted:
        return
    try:
        await read_models.revoke(deleted)
    except REDIS_FAILURES as exc:
        log.warning("revocation_refused", error=f"{type(exc).__name__}: {exc}"[:200])
        raise Unavailable("The access cannot be revoked right now (cache unreachable); nothing was changed, "
                          "try again") from None


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
