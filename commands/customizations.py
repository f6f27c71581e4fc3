"""Customizations: a user's selection (``public.w_edtperso``, shared with ADE's ENT) and display settings.

A customization is one ``w_edtperso`` row (keyed by its ``uid``, the login) plus our own rows
keyed by the same username: ``schedulesy.customization_config`` (the front end's settings) and
``schedulesy.access`` (direct access keys). Other tools write ``w_edtperso`` directly, so nothing
here assumes that our own rows exist: a row inserted by SQL reads with ``configuration: null``.
Every command here runs in one transaction under the user's lock (:mod:`commands.common`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import structlog
from msgspec import UNSET, UnsetType

from commands.common import (
    ReadModelUpdates,
    create_default_access,
    customization_exists,
    in_transaction,
    lock_directory_id,
    lock_user,
    require_owner,
)
from commands.customization_fields import (
    CustomizationFields,
    check_fields,
    creation_target,
    refuse_identity_changes,
    resolve_selection,
)
from schedulesy.auth import Identity
from schedulesy.errors import BadRequest, Conflict, NotFound
from schedulesy.selection import Selection

log = structlog.get_logger(__name__)


class Customization(msgspec.Struct, kw_only=True):
    """The contract's Customization object (docs/compatibility.md §3.1); ``ignored_resources`` only in write answers."""

    id: int
    configuration: dict[str, Any] | None
    display_configuration: str
    resources: str
    directory_id: str | None
    rh_id: str
    creation_date: datetime | None
    customization_date: datetime | None
    username: str | None
    ignored_resources: list[str] | UnsetType = UNSET


# ---------------------------------------------------------------------------------------------
# Reading (the answer of every command is read back inside its transaction)

_SELECT = """
    SELECT w.id, w.configuration_affichage, w.ressources, w.uds_directory_id, w.code_harp,
           w.date_creation, w.date_personnalisation, w.uid, c.configuration
      FROM public.w_edtperso w
      LEFT JOIN schedulesy.customization_config c ON c.username = w.uid
"""
# uid is not unique in ADE's table (docs/compatibility.md §11.20): several rows of one login are possible when other
# tools write it. The most recently customized row is "the" customization, deterministically.
_LATEST_FIRST = "ORDER BY w.date_personnalisation DESC NULLS LAST, w.id DESC"


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """w_edtperso holds local wall-clock times (timestamp without time zone)."""
    return None if value is None else value.replace(tzinfo=zone)


def _to_customization(row: asyncpg.Record, zone: ZoneInfo) -> Customization:
    return Customization(
        id=row["id"],
        configuration=row["configuration"],
        display_configuration=row["configuration_affichage"] or "",
        resources=Selection.from_column(row["ressources"]).column,
        directory_id=row["uds_directory_id"],
        rh_id=row["code_harp"] or "",
        creation_date=_local(row["date_creation"], zone),
        customization_date=_local(row["date_personnalisation"], zone),
        username=row["uid"],
    )


async def _find_row(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_SELECT} WHERE w.uid = $1 {_LATEST_FIRST} LIMIT 1", username)


async def _row_by_id(conn: asyncpg.Connection, row_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(f"{_SELECT} WHERE w.id = $1", row_id)
    assert row is not None, "read back inside the transaction that wrote it"
    return row


async def find_customization(conn: asyncpg.Connection, username: str, *, zone: ZoneInfo) -> Customization | None:
    row = await _find_row(conn, username)
    return None if row is None else _to_customization(row, zone)


async def get_customization(
    conn: asyncpg.Connection, actor: Identity, username: str, *, zone: ZoneInfo
) -> Customization:
    """One user's customization; no side effect (the original repaired mirrors on read,
    docs/compatibility.md §11.23)."""
    require_owner(actor, username)
    customization = await find_customization(conn, username, zone=zone)
    if customization is None:
        raise NotFound("No customization for this user")
    return customization


async def list_customizations(conn: asyncpg.Connection, actor: Identity, *, zone: ZoneInfo) -> list[Customization]:
    """The caller's own rows; every row for a superuser."""
    if actor.is_superuser:
        rows = await conn.fetch(f"{_SELECT} ORDER BY w.id")
    else:
        rows = await conn.fetch(f"{_SELECT} WHERE w.uid = $1 ORDER BY w.id", actor.username)
    return [_to_customization(row, zone) for row in rows]


# ---------------------------------------------------------------------------------------------
# Writing


async def _write_fields(
    conn: asyncpg.Connection, row_id: int, username: str, fields: CustomizationFields, now: datetime
) -> list[str]:
    """Apply the writable fields to one row and its configuration; return the ignored ids."""
    assignments: dict[str, Any] = {"date_personnalisation": now}
    ignored: list[str] = []
    if fields.resources is not UNSET:
        assignments["ressources"], ignored = await resolve_selection(conn, fields.resources)
    if fields.display_configuration is not UNSET:
        assignments["configuration_affichage"] = fields.display_configuration
    if fields.rh_id is not UNSET:
        assignments["code_harp"] = fields.rh_id
    columns = list(assignments)  # fixed column names from this function, never from input
    sql = ", ".join(f"{column} = ${index}" for index, column in enumerate(columns, start=2))
    await conn.execute(f"UPDATE public.w_edtperso SET {sql} WHERE id = $1", row_id, *assignments.values())
    if isinstance(fields.configuration, dict):  # null keeps the stored value, as the original did
        await conn.execute(
            """
            INSERT INTO schedulesy.customization_config (username, configuration, updated_at)
            VALUES ($1, $2, now())
            ON CONFLICT (username) DO UPDATE SET configuration = EXCLUDED.configuration, updated_at = now()
            """,
            username, fields.configuration,
        )
    return ignored


async def _discard_leftovers(conn: asyncpg.Connection, username: str) -> None:
    """Rows of a login that has no customization belong to a deleted one: never resurrect its keys."""
    await conn.execute("DELETE FROM schedulesy.customization_config WHERE username = $1", username)
    await conn.execute("DELETE FROM schedulesy.access WHERE username = $1", username)


async def create_customization(
    conn: asyncpg.Connection, actor: Identity, fields: CustomizationFields, *, zone: ZoneInfo,
    read_models: ReadModelUpdates,
) -> Customization:
    """Create the caller's customization, or take over the row of their previous login.

    Same directory id, another login = the person's login changed (docs/compatibility.md §3.1): the row, its
    configuration and its accesses move to the new login in this transaction, and the answer is
    the customization (201) rather than the original's 409, which the front end shows as an error.
    Only a directory id vouched for by the token (or a superuser) may claim a row: one typed in a
    body could otherwise take over a stranger's customization and its keys.
    """
    target = creation_target(actor, fields)
    username, directory_id = target.username, target.directory_id
    check_fields(fields)

    async def work() -> Customization:
        await lock_user(conn, username)
        await lock_directory_id(conn, directory_id)
        if await customization_exists(conn, username):
            raise Conflict("Object already exists")
        now = datetime.now(zone).replace(tzinfo=None)
        holder = await conn.fetchrow(
            "SELECT id, uid FROM public.w_edtperso WHERE uds_directory_id = $1", directory_id
        )
        await _discard_leftovers(conn, username)
        if holder is None:
            row_id = await _insert_row(conn, username, directory_id, now)
            await create_default_access(conn, username)
        elif target.vouched:
            row_id = holder["id"]
            await _move_login(conn, row_id, holder["uid"], username)
        else:
            raise Conflict(
                "directory_id belongs to another login's customization; a token carrying it is needed "
                "to move that customization",
                field="directory_id",
            )
        ignored = await _write_fields(conn, row_id, username, fields, now)
        result = _to_customization(await _row_by_id(conn, row_id), zone)
        result.ignored_resources = ignored
        return result

    return await in_transaction(conn, work, read_models)


async def _insert_row(conn: asyncpg.Connection, username: str, directory_id: str, now: datetime) -> int:
    try:
        row_id: int = await conn.fetchval(
            """
            INSERT INTO public.w_edtperso (configuration_affichage, ressources, uds_directory_id, code_harp,
                                           date_creation, date_personnalisation, uid)
            VALUES ('', '', $1, '', $2, $2, $3)
            RETURNING id
            """,
            directory_id, now, username,
        )
        return row_id
    except asyncpg.exceptions.UniqueViolationError:
        # Another tool inserted this directory id behind our locks' back, just now.
        raise Conflict("Object already exists (directory_id is taken)", field="directory_id") from None


async def _move_login(conn: asyncpg.Connection, row_id: int, old: str | None, new: str) -> None:
    """The login-change case: rename the row, its configuration and its accesses in one go.

    Only the accesses of that person move (the original renamed every access named after the old
    login, across all users, docs/compatibility.md §11.16); the default access, named after the login, is renamed too.
    """
    # Move our rows before the legacy row: the w_edtperso trigger that follows renames made by
    # other tools (sql/005) then finds nothing left to move, and the default access gets renamed.
    moved = old is not None and not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM public.w_edtperso WHERE uid = $1 AND id <> $2)", old, row_id
    )
    if moved and old is not None:  # (moved implies it; mypy cannot see that)
        await lock_user(conn, old)
        await conn.execute(
            "UPDATE schedulesy.customization_config SET username = $2, updated_at = now() WHERE username = $1",
            old, new,
        )
        await conn.execute(
            """
            UPDATE schedulesy.access SET username = $2::text,
                   name = CASE WHEN name = $1::text AND NOT EXISTS (
                                   SELECT 1 FROM schedulesy.access o WHERE o.username = $1::text AND o.name = $2::text)
                               THEN $2::text ELSE name END
             WHERE username = $1::text
            """,
            old, new,
        )
    await conn.execute("UPDATE public.w_edtperso SET uid = $2 WHERE id = $1", row_id, new)
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM schedulesy.access WHERE username = $1)", new):
        await create_default_access(conn, new)
    log.info("login_changed", row_id=row_id, moved_accesses=moved)


async def update_customization(
    conn: asyncpg.Connection,
    actor: Identity,
    username: str,
    fields: CustomizationFields,
    *,
    zone: ZoneInfo,
    read_models: ReadModelUpdates,
    replace: bool = False,
) -> Customization:
    """PATCH (``replace=False``) or PUT: change the writable fields; identity fields are read-only."""
    require_owner(actor, username)
    if replace:
        missing = [name for name in ("username", "directory_id") if getattr(fields, name) is UNSET]
        if missing:
            raise BadRequest(f"{', '.join(missing)}: required by PUT", field=missing[0])
    check_fields(fields)

    async def work() -> Customization:
        await lock_user(conn, username)
        row = await _find_row(conn, username)
        if row is None:
            raise NotFound("No customization for this user")
        refuse_identity_changes(row, fields)
        now = datetime.now(zone).replace(tzinfo=None)
        ignored = await _write_fields(conn, row["id"], username, fields, now)
        result = _to_customization(await _row_by_id(conn, row["id"]), zone)
        result.ignored_resources = ignored
        return result

    return await in_transaction(conn, work, read_models)


async def delete_customization(
    conn: asyncpg.Connection, actor: Identity, username: str, *, read_models: ReadModelUpdates
) -> None:
    """Delete the customization with its configuration and accesses: its keys stop working now."""
    require_owner(actor, username)

    async def work() -> None:
        await lock_user(conn, username)
        deleted = await conn.fetch("DELETE FROM public.w_edtperso WHERE uid = $1 RETURNING id", username)
        if not deleted:
            raise NotFound("No customization for this user")
        await _discard_leftovers(conn, username)

    await in_transaction(conn, work, read_models)
