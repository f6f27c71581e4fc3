"""The OpenAPI document describes the command endpoints' hand-decoded bodies and error answers."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient


async def openapi(api: AsyncTestClient) -> dict[str, Any]:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


async def test_creating_a_customization_documents_its_json_body(api: AsyncTestClient) -> None:
    document = await openapi(api)
    body = document["paths"]["/legacy/customization.json"]["post"]["requestBody"]
    assert body["required"] is True
    schema = resolve(document, body["content"]["application/json"]["schema"])
    assert {"username", "directory_id", "resources", "configuration"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("path", "method", "required", "field"),
    [
        ("/legacy/customization/{name}", "patch", True, "resources"),
        ("/legacy/customization/{name}", "put", True, "resources"),
        ("/api/customization/{username}/uuid.json", "post", True, "name"),
        ("/api/admin/sync", "post", False, "full"),
        ("/api/admin/rebuild", "post", False, None),
        ("/api/admin/reconcile", "post", False, None),
    ],
)
async def test_every_command_with_a_body_documents_it(
    api: AsyncTestClient, path: str, method: str, required: bool, field: str | None
) -> None:
    document = await openapi(api)
    body = document["paths"][path][method]["requestBody"]
    assert body["required"] is required
    schema = resolve(document, body["content"]["application/json"]["schema"])
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    if field is not None:
        assert field in schema["properties"]


async def test_command_errors_are_documented_with_the_detail_and_code_shape(api: AsyncTestClient) -> None:
    document = await openapi(api)
    for path in ("/legacy/customization.json", "/legacy/customization/{name}", "/api/admin/sync"):
        for operation in document["paths"][path].values():
            for status in ("400", "403"):
                schema = resolve(document, operation["responses"][status]["content"]["application/json"]["schema"])
                assert {"detail", "code"} <= set(schema["properties"]), (path, status)
                assert "extra" not in schema["properties"] and "status_code" not in schema["properties"]


async def test_paths_taking_a_login_say_the_json_suffix_is_required(api: AsyncTestClient) -> None:
    document = await openapi(api)
    for path in ("/legacy/customization/{name}", "/api/info/{name}", "/api/customization/{username}/uuid/{key_name}"):
        for operation in document["paths"][path].values():
            assert "`.json`" in operation["description"] and "required" in operation["description"], path
