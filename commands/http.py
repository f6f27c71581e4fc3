"""HTTP controllers for the commands: translate HTTP ↔ command, nothing more.

Bodies are decoded here with msgspec into the commands' Structs (unknown fields refused); a
decoding error is a 400 naming the field. The caller comes from the ``identity`` dependency.

Because the handlers decode bodies by hand, Litestar cannot see them: each handler documents its
body (:func:`body_operation`), its error answers (``{"detail", "code"}``) and its ``.json`` path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from commands import accesses, admin, customization_info, customizations
from commands.accesses import Access, NewAccess
from commands.admin import Reconciled, RebuildRequested, SyncRequest
from commands.customization_fields import CustomizationFields
from commands.customization_info import CustomizationInfo
from commands.customizations import Customization
from schedulesy.auth import REQUIRE_IDENTITY, IdentityDep
from schedulesy.errors import BadRequest, ErrorBody
from schedulesy.http import strip_json_suffix
from schedulesy.services import ServicesDep

S = TypeVar("S", bound=msgspec.Struct)

_FIELD_PATH = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]*)`")


def _named_field(message: str) -> dict[str, str]:
    found = _FIELD_PATH.search(message) or _UNKNOWN_FIELD.search(message)
    return {"field": found.group(1)} if found else {}


async def decode_body(request: Request, into: type[S], *, empty: S | None = None) -> S:
    """The JSON body as ``into``; ``empty`` answers for a body-less request when given."""
    raw = await request.body()  # over settings.max_body_bytes: Litestar answers 413 itself
    if not raw.strip():
        if empty is not None:
            return empty
        raise BadRequest("A JSON object body is required")
    try:
        return msgspec.json.decode(raw, type=into)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"Invalid body: {exc}", **_named_field(str(exc))) from None
    except UnicodeDecodeError:
        raise BadRequest("Malformed JSON body: not valid UTF-8; send application/json") from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Malformed JSON body ({exc}); send application/json") from None
    except RecursionError:
        raise BadRequest("Malformed JSON body: nested too deeply") from None


# ---------------------------------------------------------------------------------------------
# OpenAPI: what the hand decoding hides from Litestar


def _error(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


BAD_REQUEST = _error("Bad Request: malformed JSON (or not UTF-8), an unknown field, or a field's value refused.")
FORBIDDEN = _error("Forbidden: missing, invalid or expired token, or not allowed for this caller.")
NO_CUSTOMIZATION = _error("Not Found: no customization for this login, or the path does not end with `.json`.")
SUPERUSERS_ONLY = _error("Forbidden: missing, invalid or expired token, or the caller is not a superuser.")


def errors(**specs: ResponseSpec) -> dict[int, ResponseSpec]:
    """``errors(r404=...)`` → the handler's error answers; 400 and 403 are always possible."""
    mapping = {400: BAD_REQUEST, 403: FORBIDDEN}
    mapping.update({int(name.removeprefix("r")): spec for name, spec in specs.items()})
    return mapping


_SCHEMA_FIELDS = {"title": "title", "description": "description", "default": "default", "enum": "enum",
                  "format": "format", "maxLength": "max_length", "minLength": "min_length"}


def _openapi_schema(json_schema: dict[str, Any]) -> Schema:
    """msgspec's JSON Schema of a flat Struct as Litestar's OpenAPI Schema objects."""
    fields: dict[str, Any] = {
        attribute: json_schema[key] for key, attribute in _SCHEMA_FIELDS.items() if key in json_schema
    }
    if "type" in json_schema:
        fields["type"] = OpenAPIType(json_schema["type"])
    if "properties" in json_schema:
        fields["properties"] = {name: _openapi_schema(value) for name, value in json_schema["properties"].items()}
        fields["required"] = json_schema.get("required", [])
    if "anyOf" in json_schema:
        fields["any_of"] = [_openapi_schema(option) for option in json_schema["anyOf"]]
    if "items" in json_schema:
        fields["items"] = _openapi_schema(json_schema["items"])
    additional = json_schema.get("additionalProperties")
    if isinstance(additional, bool):
        fields["additional_properties"] = additional
    elif isinstance(additional, dict):
        fields["additional_properties"] = _openapi_schema(additional)
    return Schema(**fields)


def body_operation(struct: type[msgspec.Struct], description: str, *, required: bool = True) -> type[Operation]:
    """An operation class documenting ``struct`` as the JSON request body (decoded by hand)."""
    _, components = msgspec.json.schema_components([struct])
    schema = _openapi_schema(components[struct.__name__])
    body = RequestBody(
        content={"application/json": OpenAPIMediaType(schema=schema)}, description=description, required=required
    )

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return WithBody


_LOGIN_PATH = (
    " `{name}` is the login followed by `.json`, which is required (anything else is a 404)."
)
_USERNAME_PATH = " `{username}` is the login; the path ends with `.json`, which is required."
_FIELDS_DOC = (
    "Customization fields; absent fields are left alone, unknown fields are refused (400 naming the "
    "field). `username` and `directory_id` are read-only after creation. `resources` is comma-separated "
    "ADE ids without spaces."
)
CUSTOMIZATION_BODY = body_operation(CustomizationFields, _FIELDS_DOC)
NEW_ACCESS_BODY = body_operation(NewAccess, "The new access's name; the key is generated by the server.")
SYNC_BODY = body_operation(SyncRequest, "Sync options; no body (or `{}`) runs a normal cycle.", required=False)


class _NoOptions(msgspec.Struct, forbid_unknown_fields=True):
    """An admin command without options accepts no body, or ``{}``."""


NO_OPTIONS_BODY = body_operation(_NoOptions, "No options: send no body, or `{}`.", required=False)


class LegacyCustomizationController(Controller):
    """``/legacy/customization…`` (contract §3.1, §3.2), what the front end calls first."""

    path = "/legacy"
    dependencies = REQUIRE_IDENTITY
    tags = ["customizations"]

    @get(
        "/customization.json",
        description="The caller's customizations (every one for a superuser). The `.json` suffix is required.",
        responses=errors(),
    )
    async def list_customizations(self, identity: IdentityDep, services: ServicesDep) -> list[Customization]:
        async with services.pool.acquire() as conn:
            return await customizations.list_customizations(conn, identity, zone=services.settings.zone)

    @post(
        "/customization.json",
        status_code=201,
        operation_class=CUSTOMIZATION_BODY,
        description="Create the caller's customization (or move their previous login's). "
        "The `.json` suffix is required.",
        responses=errors(r409=_error("Conflict: the login already has a customization, or the directory id is "
                                     "another login's.")),
    )
    async def create_customization(
        self, request: Request, identity: IdentityDep, services: ServicesDep
    ) -> Customization:
        fields = await decode_body(request, CustomizationFields)
        async with services.pool.acquire() as conn:
            return await customizations.create_customization(conn, identity, fields, zone=services.settings.zone)

    @get(
        "/customization/{name:str}",
        description="One login's customization (owner or superuser)." + _LOGIN_PATH,
        responses=errors(r404=NO_CUSTOMIZATION),
    )
    async def get_customization(
        self, name: FromPath[str], identity: IdentityDep, services: ServicesDep
    ) -> Customization:
        username = strip_json_suffix(name)
        async with services.pool.acquire() as conn:
            return await customizations.get_customization(conn, identity, username, zone=services.settings.zone)

    @patch(
        "/customization/{name:str}",
        operation_class=CUSTOMIZATION_BODY,
        description="Change some fields of a customization (owner or superuser)." + _LOGIN_PATH,
        responses=errors(r404=NO_CUSTOMIZATION),
    )
    async def patch_customization(
        self, name: FromPath[str], request: Request, identity: IdentityDep, services: ServicesDep
    ) -> Customization:
        return await self._update(name, request, identity, services, replace=False)

    @put(
        "/customization/{name:str}",
        operation_class=CUSTOMIZATION_BODY,
        description="Like PATCH; `username` and `directory_id` must be sent (unchanged)." + _LOGIN_PATH,
        responses=errors(r404=NO_CUSTOMIZATION),
    )
    async def put_customization(
        self, name: FromPath[str], request: Request, identity: IdentityDep, services: ServicesDep
    ) -> Customization:
        return await self._update(name, request, identity, services, replace=True)

    @delete(
        "/customization/{name:str}",
        status_code=204,
        description="Delete a customization with its settings and accesses (owner or superuser)." + _LOGIN_PATH,
        responses=errors(r404=NO_CUSTOMIZATION),
    )
    async def delete_customization(self, name: FromPath[str], identity: IdentityDep, services: ServicesDep) -> None:
        username = strip_json_suffix(name)
        async with services.pool.acquire() as conn:
            await customizations.delete_customization(conn, identity, username)

    @staticmethod
    async def _update(
        name: str, request: Request, identity: IdentityDep, services: ServicesDep, *, replace: bool
    ) -> Customization:
        username = strip_json_suffix(name)
        fields = await decode_body(request, CustomizationFields)
        async with services.pool.acquire() as conn:
            return await customizations.update_customization(
                conn, identity, username, fields, zone=services.settings.zone, replace=replace
            )


class AccessController(Controller):
    """``/api/customization/{username}/uuid…`` (contract §3.6, §3.7): the direct access keys."""

    path = "/api/customization/{username:str}"
    dependencies = REQUIRE_IDENTITY
    tags = ["accesses"]

    @get(
        "/uuid.json",
        description="A login's direct accesses, oldest (the default one) first." + _USERNAME_PATH,
        responses=errors(r404=NO_CUSTOMIZATION),
    )
    async def list_accesses(
        self, username: FromPath[str], identity: IdentityDep, services: ServicesDep
    ) -> list[Access]:
        async with services.pool.acquire() as conn:
            return await accesses.list_accesses(conn, identity, username, zone=services.settings.zone)

    @post(
        "/uuid.json",
        status_code=201,
        operation_class=NEW_ACCESS_BODY,
        description="Create a named direct access; its key is generated." + _USERNAME_PATH,
        responses=errors(r404=NO_CUSTOMIZATION),
    )
    async def create_access(
        self, username: FromPath[str], request: Request, identity: IdentityDep, services: ServicesDep
    ) -> Access:
        new = await decode_body(request, NewAccess)
        async with services.pool.acquire() as conn:
            return await accesses.create_access(conn, identity, username, new, zone=services.settings.zone)

    @delete(
        "/uuid/{key_name:str}",
        status_code=204,
        description="Revoke a direct access; `{key_name}` is its key followed by `.json` (required). "
        "The last access cannot be revoked (403).",
        responses=errors(r404=_error("Not Found: no such customization or access, or no `.json` suffix.")),
    )
    async def delete_access(
        self, username: FromPath[str], key_name: FromPath[str], identity: IdentityDep, services: ServicesDep
    ) -> None:
        key = strip_json_suffix(key_name)
        async with services.pool.acquire() as conn:
            await accesses.delete_access(conn, identity, username, key)


class InfoController(Controller):
    """``GET /api/info/{username}.json`` (contract §3.9): support inspection, superusers only."""

    path = "/api/info"
    dependencies = REQUIRE_IDENTITY
    tags = ["admin"]

    @get(
        "/{name:str}",
        description="Everything support needs about one login (superusers only)." + _LOGIN_PATH,
        responses=errors(r403=SUPERUSERS_ONLY, r404=NO_CUSTOMIZATION),
    )
    async def info(self, name: FromPath[str], identity: IdentityDep, services: ServicesDep) -> CustomizationInfo:
        username = strip_json_suffix(name)
        async with services.pool.acquire() as conn:
            return await customization_info.inspect_customization(conn, identity, username, zone=services.settings.zone)


class AdminController(Controller):
    """Superuser maintenance, JSON in and out (replaces the session-only views of §3.13)."""

    path = "/api/admin"
    dependencies = REQUIRE_IDENTITY
    tags = ["admin"]

    @post(
        "/sync",
        status_code=200,
        operation_class=SYNC_BODY,
        description="Run one ADE sync cycle now and answer its report (superusers only).",
        responses=errors(
            r403=SUPERUSERS_ONLY,
            r409=_error("Conflict: another sync is running; `report` holds its report."),
            r503=_error("Service Unavailable: the sync failed; `report` says why."),
        ),
    )
    async def sync(self, request: Request, identity: IdentityDep, services: ServicesDep) -> dict[str, Any]:
        admin.require_superuser(identity)  # before reading the body: strangers learn nothing
        sync_request = await decode_body(request, SyncRequest, empty=SyncRequest())
        return await admin.run_sync(services, identity, sync_request)

    @post(
        "/rebuild",
        status_code=202,
        operation_class=NO_OPTIONS_BODY,
        description="Ask the projector to rebuild every read model (superusers only).",
        responses=errors(r403=SUPERUSERS_ONLY),
    )
    async def rebuild(self, request: Request, identity: IdentityDep, services: ServicesDep) -> RebuildRequested:
        admin.require_superuser(identity)
        await decode_body(request, _NoOptions, empty=_NoOptions())
        async with services.pool.acquire() as conn:
            return await admin.request_rebuild(conn, identity)

    @post(
        "/reconcile",
        status_code=200,
        operation_class=NO_OPTIONS_BODY,
        description="Make per-login settings and accesses agree with ADE's table (superusers only).",
        responses=errors(r403=SUPERUSERS_ONLY),
    )
    async def reconcile(self, request: Request, identity: IdentityDep, services: ServicesDep) -> Reconciled:
        admin.require_superuser(identity)
        await decode_body(request, _NoOptions, empty=_NoOptions())
        async with services.pool.acquire() as conn:
            return await admin.reconcile(conn, identity)


route_handlers: list[ControllerRouterHandler] = [
    LegacyCustomizationController,
    AccessController,
    InfoController,
    AdminController,
]
