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

import re
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from schedulesy.errors import BadRequest

S = TypeVar("S", bound=msgspec.Struct)

_FIELD_PATH = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]*)`")


def _named_field(message: str) -> dict[str, str]:
    found = _FIELD_PATH.search(message) or _UNKNOWN_FIELD.search(message)
    return {"field": found.group(1)} if found else {}


async def decode_body(request: Request[Any, Any, Any], into: type[S], *, empty: S | None = None) -> S:
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
