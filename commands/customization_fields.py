"""The fields of a customization body (POST, PATCH, PUT) and their checks: what ADE's legacy
columns can hold, a selection of known ADE ids, a small settings object, and whom a create is for.
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import msgspec
from msgspec import UNSET, UnsetType

from commands.common import check_text, text_schema
from schedulesy.auth import Identity
from schedulesy.errors import BadRequest, Forbidden
from schedulesy.selection import COLUMN_LENGTH, Selection
from schedulesy.usernames import PATTERN as USERNAME_PATTERN, UID_LENGTH, is_username, may_own_customization

MAX_DIRECTORY_ID_LENGTH = 32
MAX_DISPLAY_CONFIGURATION_LENGTH = 60
MAX_RH_ID_LENGTH = 15
MAX_CONFIGURATION_BYTES = 16 * 1024  # the SPA's settings are ~100 bytes; this leaves room to grow
MAX_CONFIGURATION_DEPTH = 16
MAX_REPORTED_ITEMS = 10


_USERNAME_SCHEMA = msgspec.Meta(extra_json_schema={"pattern": USERNAME_PATTERN, "maxLength": UID_LENGTH})
_SELECTION_SCHEMA = msgspec.Meta(extra_json_schema={
    "pattern": "^([0-9]+(,[0-9]+)*)?$",
    "description": f"Comma-separated ADE ids; unknown ids are dropped, the kept ones must fit "
    f"{COLUMN_LENGTH} characters.",
})


class CustomizationFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A POST, PATCH or PUT body. Absent fields are left alone."""

    username: Annotated[str, _USERNAME_SCHEMA] | UnsetType = UNSET
    # the SPA sends a string, older clients a number
    directory_id: (
        Annotated[str, text_schema(MAX_DIRECTORY_ID_LENGTH, min_length=1, trimmed=True)] | int | UnsetType
    ) = UNSET
    resources: Annotated[str, _SELECTION_SCHEMA] | UnsetType = UNSET
    configuration: dict[str, Any] | None | UnsetType = UNSET
    display_configuration: Annotated[str, text_schema(MAX_DISPLAY_CONFIGURATION_LENGTH)] | UnsetType = UNSET
    rh_id: Annotated[str, text_schema(MAX_RH_ID_LENGTH)] | UnsetType = UNSET
    # Read-only fields a client may echo back with a whole object (PUT); ignored, as DRF did.
    id: Any = UNSET
    creation_date: Any = UNSET
    customization_date: Any = UNSET
    ignored_resources: Any = UNSET


def parse_selection(text: str) -> Selection:
    """``"1616,23390"`` → its ids, in request order; bad items are a 400 naming them."""
    if text == "":
        return Selection()
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
    return Selection.of(items)


async def resolve_selection(conn: asyncpg.Connection, text: str) -> tuple[str, list[str]]:
    """(the legacy string to store, the ids dropped because the mirror does not know them).

    Too long for the column is a 400, never a truncation.
    """
    wanted = parse_selection(text).ids
    if not wanted:
        return "", []
    rows = await conn.fetch("SELECT ext_id FROM schedulesy.resource WHERE ext_id = ANY($1::text[])", wanted)
    known = {row["ext_id"] for row in rows}
    kept = Selection.of(ext_id for ext_id in wanted if ext_id in known)
    ignored = [ext_id for ext_id in wanted if ext_id not in known]
    stored = kept.column
    if len(stored) > COLUMN_LENGTH:
        raise BadRequest(
            f"resources: the selection needs {len(stored)} characters but ADE's table holds at most "
            f"{COLUMN_LENGTH}; select fewer resources ({len(kept.ids)} now)",
            field="resources",
            limit=COLUMN_LENGTH,
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


def check_fields(fields: CustomizationFields) -> None:
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


def refuse_identity_changes(row: asyncpg.Record, fields: CustomizationFields) -> None:
    """``username`` and ``directory_id`` are fixed at creation (docs/compatibility.md §11.3); equal
    values are accepted."""
    if fields.username is not UNSET and fields.username != row["uid"]:
        raise BadRequest("username is read-only: it comes from your login", field="username")
    if fields.directory_id is not UNSET and str(fields.directory_id) != row["uds_directory_id"]:
        raise BadRequest("directory_id is read-only: it comes from your login", field="directory_id")


class CreationTarget(msgspec.Struct, frozen=True):
    username: str
    directory_id: str
    vouched: bool  # the directory id comes from the token (or a superuser): it may claim a row


def creation_target(actor: Identity, fields: CustomizationFields) -> CreationTarget:
    """Who a create is for: the token's login and directory id, never the body's word (docs/compatibility.md §11.2)."""
    username = actor.username if fields.username is UNSET else fields.username
    if username != actor.username and not actor.is_superuser:
        raise Forbidden("username must be your own login", field="username")
    if not is_username(username):
        raise BadRequest("username: not a login (blank, slashes or control characters)", field="username")
    if not may_own_customization(username):
        raise BadRequest(
            f"username: {len(username)} characters, ADE's table holds logins of at most {UID_LENGTH}",
            field="username",
            limit=UID_LENGTH,
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
