"""HTTP controllers for the commands: translate HTTP ↔ command, nothing more.

Bodies are decoded here with msgspec into the commands' Structs (unknown fields refused); a
decoding error is a 400 naming the field. The caller comes from the ``identity`` dependency.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from commands import accesses, admin, customizations
from commands.accesses import Access, NewAccess
from commands.admin import Reconciled, RebuildRequested, SyncRequest
from commands.customizations import Customization, CustomizationFields, CustomizationInfo
from schedulesy.auth import REQUIRE_IDENTITY, IdentityDep
from schedulesy.errors import BadRequest
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


class LegacyCustomizationController(Controller):
    """``/legacy/customization…`` (contract §3.1, §3.2), what the front end calls first."""

    path = "/legacy"
    dependencies = REQUIRE_IDENTITY
    tags = ["customizations"]

    @get("/customization.json")
    async def list_customizations(self, identity: IdentityDep, services: ServicesDep) -> list[Customization]:
        async with services.pool.acquire() as conn:
            return await customizations.list_customizations(conn, identity, zone=services.settings.zone)

    @post("/customization.json", status_code=201)
    async def create_customization(
        self, request: Request, identity: IdentityDep, services: ServicesDep
    ) -> Customization:
        fields = await decode_body(request, CustomizationFields)
        async with services.pool.acquire() as conn:
            return await customizations.create_customization(conn, identity, fields, zone=services.settings.zone)

    @get("/customization/{name:str}")
    async def get_customization(
        self, name: FromPath[str], identity: IdentityDep, services: ServicesDep
    ) -> Customization:
        username = strip_json_suffix(name)
        async with services.pool.acquire() as conn:
            return await customizations.get_customization(conn, identity, username, zone=services.settings.zone)

    @patch("/customization/{name:str}")
    async def patch_customization(
        self, name: FromPath[str], request: Request, identity: IdentityDep, services: ServicesDep
    ) -> Customization:
        return await self._update(name, request, identity, services, replace=False)

    @put("/customization/{name:str}")
    async def put_customization(
        self, name: FromPath[str], request: Request, identity: IdentityDep, services: ServicesDep
    ) -> Customization:
        return await self._update(name, request, identity, services, replace=True)

    @delete("/customization/{name:str}", status_code=204)
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

    @get("/uuid.json")
    async def list_accesses(
        self, username: FromPath[str], identity: IdentityDep, services: ServicesDep
    ) -> list[Access]:
        async with services.pool.acquire() as conn:
            return await accesses.list_accesses(conn, identity, username, zone=services.settings.zone)

    @post("/uuid.json", status_code=201)
    async def create_access(
        self, username: FromPath[str], request: Request, identity: IdentityDep, services: ServicesDep
    ) -> Access:
        new = await decode_body(request, NewAccess)
        async with services.pool.acquire() as conn:
            return await accesses.create_access(conn, identity, username, new, zone=services.settings.zone)

    @delete("/uuid/{key_name:str}", status_code=204)
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

    @get("/{name:str}")
    async def info(self, name: FromPath[str], identity: IdentityDep, services: ServicesDep) -> CustomizationInfo:
        username = strip_json_suffix(name)
        async with services.pool.acquire() as conn:
            return await customizations.inspect_customization(conn, identity, username, zone=services.settings.zone)


class AdminController(Controller):
    """Superuser maintenance, JSON in and out (replaces the session-only views of §3.13)."""

    path = "/api/admin"
    dependencies = REQUIRE_IDENTITY
    tags = ["admin"]

    @post("/sync", status_code=200)
    async def sync(self, request: Request, identity: IdentityDep, services: ServicesDep) -> dict[str, Any]:
        admin.require_superuser(identity)  # before reading the body: strangers learn nothing
        sync_request = await decode_body(request, SyncRequest, empty=SyncRequest())
        return await admin.run_sync(services, identity, sync_request)

    @post("/rebuild", status_code=202)
    async def rebuild(self, request: Request, identity: IdentityDep, services: ServicesDep) -> RebuildRequested:
        admin.require_superuser(identity)
        await decode_body(request, _NoOptions, empty=_NoOptions())
        async with services.pool.acquire() as conn:
            return await admin.request_rebuild(conn, identity)

    @post("/reconcile", status_code=200)
    async def reconcile(self, request: Request, identity: IdentityDep, services: ServicesDep) -> Reconciled:
        admin.require_superuser(identity)
        await decode_body(request, _NoOptions, empty=_NoOptions())
        async with services.pool.acquire() as conn:
            return await admin.reconcile(conn, identity)


class _NoOptions(msgspec.Struct, forbid_unknown_fields=True):
    """An admin command without options accepts no body, or ``{}``."""


route_handlers: list[ControllerRouterHandler] = [
    LegacyCustomizationController,
    AccessController,
    InfoController,
    AdminController,
]
