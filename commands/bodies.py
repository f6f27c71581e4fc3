"""Command bodies: decoded here with msgspec, and documented here for OpenAPI.

Why not Litestar's own decoding (a ``data: SomeStruct`` handler parameter)? Tried with Litestar
2.25, it would weaken the answers this API promises:

- a body nested thousands of levels deep escapes as a ``RecursionError``: a 500, not a 400;
- a body that is not UTF-8 answers "Invalid UTF-8 encoded string", not "Malformed JSON body: …";
- an unknown field answers "Validation failed" with ``key: "data"``: the ``field`` naming it is lost,
  and an empty body reports the Python ``KeyError`` text ``'data'``;
- the body is read before the ``identity`` dependency runs, so a stranger's malformed body gets a
  400 where it gets a 403 now (the admin commands check the caller before reading the body);
- the generated schemas lose ``additionalProperties: false`` and document optional bodies as
  required, so the hand-written request bodies below would still be needed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from schedulesy.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

S = TypeVar("S", bound=msgspec.Struct)

_FIELD_PATH = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]*)`")


def _named_field(message: str) -> dict[str, str]:
    found = _FIELD_PATH.search(message) or _UNKNOWN_FIELD.search(message)
    return {"field": found.group(1)} if found else {}


def _is_json_media_type(request: Request[Any, Any, Any]) -> bool:
    media_type, options = request.content_type
    media_type = media_type.lower()
    json_type = media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
    return json_type and options.get("charset", "utf-8").lower() in ("utf-8", "utf8")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        duplicate = next(name for index, name in enumerate(names) if name in names[:index])
        raise BadRequest(f"Invalid body: the key {duplicate!r} appears twice in an object", field=duplicate)
    return dict(pairs)


def _check_no_duplicate_keys(raw: bytes) -> None:
    """msgspec keeps the last of duplicate keys silently; a second, checking-only parse refuses them.

    It runs only on bodies msgspec accepted (small, flat Structs, at most ``max_body_bytes``):
    a few microseconds next to the database round trip that follows.
    """
    if raw.count(b":") < 2:
        return  # one key at most: nothing can be duplicated
    try:
        json.loads(raw, object_pairs_hook=_refuse_duplicate_keys)
    except RecursionError:
        raise BadRequest("Malformed JSON body: nested too deeply") from None


async def decode_body(request: Request[Any, Any, Any], into: type[S], *, empty: S | None = None) -> S:
    """The JSON body as ``into``; ``empty`` answers for a body-less request when given."""
    try:
        raw = await request.body()
    except RequestEntityTooLarge:
        limit = request.route_handler.resolve_request_max_body_size()
        raise PayloadTooLarge(f"Request body too large: at most {limit} bytes are accepted") from None
    if not raw.strip():
        if empty is not None:
            return empty
        raise BadRequest("A JSON object body is required")
    if not _is_json_media_type(request):
        raise UnsupportedMediaType("The body must be JSON sent as Content-Type: application/json (UTF-8)")
    try:
        decoded = msgspec.json.decode(raw, type=into)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"Invalid body: {exc}", **_named_field(str(exc))) from None
    except UnicodeDecodeError:
        raise BadRequest("Malformed JSON body: not valid UTF-8; send application/json") from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Malformed JSON body ({exc}); send application/json") from None
    except RecursionError:
        raise BadRequest("Malformed JSON body: nested too deeply") from None
    _check_no_duplicate_keys(raw)
    return decoded


_SCHEMA_FIELDS = {"title": "title", "description": "description", "default": "default", "enum": "enum",
                  "format": "format", "maxLength": "max_length", "minLength": "min_length", "pattern": "pattern",
                  "minimum": "minimum", "maximum": "maximum"}


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
    if "not" in json_schema:
        fields["schema_not"] = _openapi_schema(json_schema["not"])
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
