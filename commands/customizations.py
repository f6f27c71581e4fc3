"""Customizations: a user's selection (``public.w_edtperso``, shared with ADE's ENT) and display settings.

A customization is one ``w_edtperso`` row (keyed by its ``uid``, the login) plus our own rows
keyed by the same username: ``schedulesy.customization_config`` (the front end's settings) and
``schedulesy.access`` (direct access keys). Other tools write ``w_edtperso`` directly, so nothing
here assumes that our own rows exist: a row inserted by SQL reads with ``configuration: null``.

Concurrency: every command that changes one user's rows first takes that user's advisory
transaction lock (:func:`lock_user`), so two creates or many PATCHes of one user run one after
the other (a create that finds the row answers 409) instead of racing on a table whose ``uid``
column ADE never made unique. Deadlocks between two users' locks (swapped logins) are retried.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import structlog
from msgspec import UNSET, UnsetType

from schedulesy.auth import Identity
from schedulesy.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable

log = structlog.get_logger(__name__)

T = TypeVar("T")

USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")  # legacy login rule (contract §1.2), uid varchar(32)
MAX_UID_LENGTH = 32  # w_edtperso.uid varchar(32)
UNSTORABLE_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters (NUL...) and lone surrogates
MAX_RESOURCES_LENGTH = 300  # w_edtperso.ressources is varchar(300): a 400, never a truncation
MAX_DIRECTORY_ID_LENGTH = 32
MAX_DISPLAY_CONFIGURATION_LENGTH = 60
MAX_RH_ID_LENGTH = 15
MAX_CONFIGURATION_BYTES = 16 * 1024  # the SPA's settings are ~100 bytes; this leaves room to grow
MAX_CONFIGURATION_DEPTH = 16
MAX_REPORTED_ITEMS = 10

# pg_advisory_xact_lock(class, hashtext(value)): the two-key form never collides with the
# one-bigint locks of the migrator and the projector.
USER_LOCK_CLASS = 0x5C4E_0C05
DIRECTORY_LOCK_CLASS = 0x5C4E_0D1D
TRANSACTION_ATTEMPTS = 3


class Customization(msgspec.Struct, kw_only=True):
    """The contract's Customization object (§3.1); ``ignored_resources`` only in write answers."""

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


class CustomizationFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A POST, PATCH or PUT body. Absent fields are left alone."""

    username: str | UnsetType = UNSET
    directory_id: str | int | UnsetType = UNSET  # the SPA sends a string, older clients a number
    resources: str | UnsetType = UNSET
    configuration: dict[str, Any] | None | UnsetType = UNSET
    display_configuration: str | UnsetType = UNSET
    rh_id: str | UnsetType = UNSET
    # Read-only fields a client may echo back with a whole object (PUT); ignored, as DRF did.
    id: Any = UNSET
    creation_date: Any = UNSET
    customization_date: Any = UNSET
    ignored_resources: Any = UNSET


# ---------------------------------------------------------------------------------------------
# Shared by every command about one user (accesses and admin use them too)


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
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", USER_LOCK_CLASS, username)


def require_owner(actor: Identity, username: str) -> None:
    """Owner-or-superuser, checked before any lookup so that nothing leaks about other users.

    Then a path username that no ``w_edtperso.uid`` can be is a 404 before any SQL (Postgres
    refuses NUL in text: the query itself would fail).
    """
    if not actor.may_act_for(username):
        raise Forbidden("You do not have permission to perform this action")
    require_possible_uid(username)


def require_possible_uid(username: str) -> None:
    """Too long, empty or with control characters: no customization has that login."""
    if not 0 < len(username) <= MAX_UID_LENGTH or any(
        unicodedata.category(ch) in UNSTORABLE_CATEGORIES for ch in username
    ):
        raise NotFound("No customization for this user")


async def customization_exists(conn: asyncpg.Connection, username: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM public.w_edtperso WHERE uid = $1)", username))


async def create_default_access(conn: asyncpg.Connection, username: str) -> None:
    """Every customization has at least one access; the first is named after its user (§4.2)."""
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


# ---------------------------------------------------------------------------------------------
# The stored selection


def stored_selection(text: str | None) -> list[str]:
    """The ids of a stored ``ressources`` string, read the same way by every command.

    Other tools write the column too (``'4, 35 ,999'``): items are trimmed, empty items dropped
    and repeated ids kept once, in the row's order. The read side (``keys.normalise_selection``)
    trims and drops the same way, then sorts for its hash.
    """
    return list(dict.fromkeys(item.strip() for item in (text or "").split(",") if item.strip()))


# ---------------------------------------------------------------------------------------------
# Input checks


def parse_selection(text: str) -> list[str]:
    """``"1616,23390"`` → distinct ids in request order; bad items are a 400 naming them."""
    if text == "":
        return []
    items = text.split(",")
    bad = [item for item in items if not (item.isascii() and item.isdigit())]
    if bad:
        shown = ", ".join(repr(item[:40]) for item in bad[:MAX_REPORTED_ITEMS])
        more = f" and {len(bad) - MAX_REPORTED_ITEMS} more" if len(bad) > MAX_REPORTED_ITEMS else ""
        raise BadRequest(
            f"resources: expected comma-separated ADE ids (digits, no spaces, no empty items); "
            f"not valid: {shown}{more}",
            field="resources",
            invalid=[item[:40] for item in bad[:MAX_REPORTED_ITEMS]],
        )
    return list(dict.fromkeys(items))


async def resolve_selection(conn: asyncpg.Connection, text: str) -> tuple[str, list[str]]:
    """(the legacy string to store, the ids dropped because the mirror does not know them)."""
    wanted = parse_selection(text)
    if not wanted:
        return "", []
    rows = await conn.fetch("SELECT ext_id FROM schedulesy.resource WHERE ext_id = ANY($1::text[])", wanted)
    known = {row["ext_id"] for row in rows}
    kept = [ext_id for ext_id in wanted if ext_id in known]
    ignored = [ext_id for ext_id in wanted if ext_id not in known]
    stored = ",".join(kept)
    if len(stored) > MAX_RESOURCES_LENGTH:
        raise BadRequest(
            f"resources: the selection needs {len(stored)} characters but ADE's table holds at most "
            f"{MAX_RESOURCES_LENGTH}; select fewer resources ({len(kept)} now)",
            field="resources",
            limit=MAX_RESOURCES_LENGTH,
            length=len(stored),
        )
    return stored, ignored


def check_configuration(configuration: dict[str, Any]) -> None:
    """The front end's settings object: an object, small, shallow, storable in jsonb."""
    encoded = msgspec.json.encode(configuration)
    if len(encoded) > MAX_CONFIGURATION_BYTES:
        raise BadRequest(
            f"configuration: {len(encoded)} bytes, at most {MAX_CONFIGURATION_BYTES} allowed",
            field="configuration",
            limit=MAX_CONFIGURATION_BYTES,
        )
    if b"\\u0000" in encoded:
        raise BadRequest("configuration: NUL characters cannot be stored", field="configuration")
    stack: list[tuple[Any, int]] = [(configuration, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_CONFIGURATION_DEPTH:
            raise BadRequest(
                f"configuration: nested deeper than {MAX_CONFIGURATION_DEPTH} levels", field="configuration"
            )
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _check_fields(fields: CustomizationFields) -> None:
    if fields.display_configuration is not UNSET:
        check_text("display_configuration", fields.display_configuration, MAX_DISPLAY_CONFIGURATION_LENGTH)
    if fields.rh_id is not UNSET:
        check_text("rh_id", fields.rh_id, MAX_RH_ID_LENGTH)
    if isinstance(fields.configuration, dict):
        check_configuration(fields.configuration)


def _directory_id_text(value: str | int) -> str:
    text = check_text("directory_id", str(value), MAX_DIRECTORY_ID_LENGTH, min_length=1)
    if text != text.strip():
        raise BadRequest("directory_id: no leading or trailing spaces", field="directory_id")
    return text


# ---------------------------------------------------------------------------------------------
# Reading (the answer of every command is read back inside its transaction)

_SELECT = """
    SELECT w.id, w.configuration_affichage, w.ressources, w.uds_directory_id, w.code_harp,
           w.date_creation, w.date_personnalisation, w.uid, c.configuration
      FROM public.w_edtperso w
      LEFT JOIN schedulesy.customization_config c ON c.username = w.uid
"""
# uid is not unique in ADE's table (§11.20): several rows of one login are possible when other
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
        resources=",".join(stored_selection(row["ressources"])),
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


async def get_customization(
    conn: asyncpg.Connection, actor: Identity, username: str, *, zone: ZoneInfo
) -> Customization:
    """One user's customization; no side effect (the original repaired mirrors on read, §11.23)."""
    require_owner(actor, username)
    row = await _find_row(conn, username)
    if row is None:
        raise NotFound("No customization for this user")
    return _to_customization(row, zone)


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


class CreationTarget(msgspec.Struct, frozen=True):
    username: str
    directory_id: str
    vouched: bool  # the directory id comes from the token (or a superuser): it may claim a row


def _creation_target(actor: Identity, fields: CustomizationFields) -> CreationTarget:
    """Who a create is for: the token's login and directory id, never the body's word (§11.2)."""
    username = actor.username if fields.username is UNSET else fields.username
    if username != actor.username and not actor.is_superuser:
        raise Forbidden("username must be your own login", field="username")
    if not USERNAME_RE.fullmatch(username):
        raise BadRequest(
            "username: 1 to 32 characters among letters, digits, '_', '.' and '-'", field="username"
        )
    body_directory_id = None if fields.directory_id is UNSET else _directory_id_text(fields.directory_id)
    token_directory_id = actor.directory_id if username == actor.username else None
    if token_directory_id is not None:
        if body_directory_id is not None and body_directory_id != token_directory_id:
            raise Forbidden("directory_id must be the one of your token", field="directory_id")
        return CreationTarget(username, _directory_id_text(token_directory_id), vouched=True)
    if body_directory_id is None:
        raise BadRequest("directory_id: required (your token carries none)", field="directory_id")
    return CreationTarget(username, body_directory_id, vouched=actor.is_superuser)


async def create_customization(
    conn: asyncpg.Connection, actor: Identity, fields: CustomizationFields, *, zone: ZoneInfo
) -> Customization:
    """Create the caller's customization, or take over the row of their previous login.

    Same directory id, another login = the person's login changed (§3.1): the row, its
    configuration and its accesses move to the new login in this transaction, and the answer is
    the customization (201) rather than the original's 409, which the front end shows as an error.
    Only a directory id vouched for by the token (or a superuser) may claim a row: one typed in a
    body could otherwise take over a stranger's customization and its keys.
    """
    target = _creation_target(actor, fields)
    username, directory_id = target.username, target.directory_id
    _check_fields(fields)

    async def work() -> Customization:
        await lock_user(conn, username)
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", DIRECTORY_LOCK_CLASS, directory_id
        )
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

    return await in_transaction(conn, work)


async def _insert_row(conn: asyncpg.Connection, username: str, directory_id: str, now: datetime) -> int:
    try:
        return await conn.fetchval(
            """
            INSERT INTO public.w_edtperso (configuration_affichage, ressources, uds_directory_id, code_harp,
                                           date_creation, date_personnalisation, uid)
            VALUES ('', '', $1, '', $2, $2, $3)
            RETURNING id
            """,
            directory_id, now, username,
        )
    except asyncpg.exceptions.UniqueViolationError:
        # Another tool inserted this directory id behind our locks' back, just now.
        raise Conflict("Object already exists (directory_id is taken)", field="directory_id") from None


async def _move_login(conn: asyncpg.Connection, row_id: int, old: str | None, new: str) -> None:
    """The login-change case: rename the row, its configuration and its accesses in one go.

    Only the accesses of that person move (the original renamed every access named after the old
    login, across all users, §11.16); the default access, named after the login, is renamed too.
    """
    # Move our rows before the legacy row: the w_edtperso trigger that follows renames made by
    # other tools (sql/005) then finds nothing left to move, and the default access gets renamed.
    moved = old is not None and not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM public.w_edtperso WHERE uid = $1 AND id <> $2)", old, row_id
    )
    if moved:
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
    replace: bool = False,
) -> Customization:
    """PATCH (``replace=False``) or PUT: change the writable fields; identity fields are read-only."""
    require_owner(actor, username)
    if replace:
        missing = [name for name in ("username", "directory_id") if getattr(fields, name) is UNSET]
        if missing:
            raise BadRequest(f"{', '.join(missing)}: required by PUT", field=missing[0])
    _check_fields(fields)

    async def work() -> Customization:
        await lock_user(conn, username)
        row = await _find_row(conn, username)
        if row is None:
            raise NotFound("No customization for this user")
        _refuse_identity_changes(row, fields)
        now = datetime.now(zone).replace(tzinfo=None)
        ignored = await _write_fields(conn, row["id"], username, fields, now)
        result = _to_customization(await _row_by_id(conn, row["id"]), zone)
        result.ignored_resources = ignored
        return result

    return await in_transaction(conn, work)


def _refuse_identity_changes(row: asyncpg.Record, fields: CustomizationFields) -> None:
    """``username`` and ``directory_id`` are fixed at creation (§11.3): equal values are accepted."""
    if fields.username is not UNSET and fields.username != row["uid"]:
        raise BadRequest("username is read-only: it comes from your login", field="username")
    if fields.directory_id is not UNSET and str(fields.directory_id) != row["uds_directory_id"]:
        raise BadRequest("directory_id is read-only: it comes from your login", field="directory_id")


async def delete_customization(conn: asyncpg.Connection, actor: Identity, username: str) -> None:
    """Delete the customization with its configuration and accesses: its keys stop working now."""
    require_owner(actor, username)

    async def work() -> None:
        await lock_user(conn, username)
        deleted = await conn.fetch("DELETE FROM public.w_edtperso WHERE uid = $1 RETURNING id", username)
        if not deleted:
            raise NotFound("No customization for this user")
        await _discard_leftovers(conn, username)

    await in_transaction(conn, work)


# ---------------------------------------------------------------------------------------------
# Support inspection (contract §3.9)


class InspectedResource(msgspec.Struct):
    id: str
    name: str
    path: str


class CustomizationInfo(msgspec.Struct, kw_only=True):
    """The original's superuser payload; ``id`` and ``customization_id`` are both the row id here
    (there is no separate mirror row any more)."""

    id: int
    customization_id: int
    directory_id: str | None
    username: str | None
    configuration: dict[str, Any] | None
    nb_events: int
    ade: dict[str, Any]
    resources: list[InspectedResource]
    unknown_resources: list[str]


def _genealogy_path(fields: Any, category: str) -> str:
    """Ancestors' names from the category root down, as the original printed them."""
    genealogy = fields.get("genealogy") if isinstance(fields, dict) else None
    if not isinstance(genealogy, list) or not genealogy:
        return category  # a category root or a node without genealogy: no 500 (§11.19)
    return " - ".join(str(step.get("name", "")) for step in genealogy if isinstance(step, dict))


async def inspect_customization(
    conn: asyncpg.Connection, actor: Identity, username: str, *, zone: ZoneInfo
) -> CustomizationInfo:
    """Everything support needs to see about one user, for superusers only."""
    if not actor.is_superuser:
        raise Forbidden("Superusers only")
    require_possible_uid(username)
    row = await _find_row(conn, username)
    if row is None:
        raise NotFound("No customization for this user")
    customization = _to_customization(row, zone)
    wanted = stored_selection(customization.resources)
    rows = await conn.fetch(
        "SELECT ext_id, name, category, fields FROM schedulesy.resource WHERE ext_id = ANY($1::text[])", wanted
    )
    by_id = {r["ext_id"]: r for r in rows}
    nb_events = await conn.fetchval(
        "SELECT count(DISTINCT event_id) FROM schedulesy.timetable WHERE resource_ext_id = ANY($1::text[])", wanted
    )
    ade = msgspec.to_builtins(customization)
    ade.pop("configuration", None)
    return CustomizationInfo(
        id=customization.id,
        customization_id=customization.id,
        directory_id=customization.directory_id,
        username=customization.username,
        configuration=customization.configuration,
        nb_events=nb_events,
        ade=ade,
        resources=[
            InspectedResource(id=ext_id, name=by_id[ext_id]["name"],
                              path=_genealogy_path(by_id[ext_id]["fields"], by_id[ext_id]["category"]))
            for ext_id in wanted if ext_id in by_id
        ],
        unknown_resources=[ext_id for ext_id in wanted if ext_id not in by_id],
    )
