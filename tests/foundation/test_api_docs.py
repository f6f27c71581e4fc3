"""The API description and its page: Bearer security, offline docs UI, documented answers, OPTIONS."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.fixtures.auth import TokenFactory, auth_header

BODY_OPERATIONS = [
    ("post", "/legacy/customization.json"),
    ("patch", "/legacy/customization/{name}"),
    ("put", "/legacy/customization/{name}"),
    ("post", "/api/customization/{username}/uuid.json"),
    ("post", "/api/admin/sync"),
    ("post", "/api/admin/rebuild"),
    ("post", "/api/admin/reconcile"),
]


@pytest.fixture
async def document(api: AsyncTestClient) -> dict[str, Any]:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


async def test_operations_needing_a_token_declare_the_bearer_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    security = {(method, path): operation.get("security")
                for path, item in document["paths"].items() for method, operation in item.items()}
    token: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    assert security[("get", "/legacy/customization.json")] == token
    assert security[("post", "/api/admin/sync")] == token
    assert security[("get", "/api/calendar/{user}")] == token
    assert security[("get", "/api/events/{resource}")] == [{}, {"bearerAuth": []}]  # anonymous callers too
    for public in ("/health/ready", "/api/timetable/{file}", "/api/calendar/{key}/export"):
        assert security[("get", public)] is None


async def test_the_docs_page_is_served_from_the_package(api: AsyncTestClient) -> None:
    page = await api.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
    assert urls and all(url.startswith("/schema/") for url in urls), urls
    assert "validatorUrl: null" in page.text  # Swagger UI would otherwise call its online validator
    for url in urls:
        asset = await api.get(url)
        assert asset.status_code == 200 and asset.content, url
    assert (await api.get("/schema/assets/index.html")).status_code == 404


async def test_every_answer_the_code_gives_is_documented(document: dict[str, Any]) -> None:
    for method, path in BODY_OPERATIONS:
        assert {"400", "413", "415"} <= set(document["paths"][path][method]["responses"]), (method, path)
    assert "503" in document["paths"]["/health/ready"]["get"]["responses"]
    assert "412" in document["paths"]["/api/instructor.json"]["get"]["responses"]
    legacy = document["paths"]["/_hc"]["get"]["responses"]
    assert set(legacy["200"]["content"]) == set(legacy["500"]["content"]) == {"application/json", "text/html"}


async def test_options_lists_every_method_of_the_path(api: AsyncTestClient) -> None:
    for path, methods in [
        ("/legacy/customization.json", "GET, OPTIONS, POST"),
        ("/legacy/customization/jdupont.json", "DELETE, GET, OPTIONS, PATCH, PUT"),
        ("/api/customization/jdupont/uuid.json", "GET, OPTIONS, POST"),
    ]:
        response = await api.options(path)
        assert response.status_code == 204 and response.headers["allow"] == methods


async def test_the_original_health_page_answers_json_for_any_format_but_html(api: AsyncTestClient) -> None:
    for query in ("?format=json", "?format=x"):
        response = await api.get("/_hc/" + query)
        assert response.headers["content-type"].startswith("application/json")
        assert "DatabaseBackend" in response.json()
    for query in ("", "?format=html"):
        assert (await api.get("/_hc/" + query)).headers["content-type"].startswith("text/html")


async def test_an_e_mail_filter_with_control_characters_is_a_400_naming_it(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    response = await api.get("/api/instructor.json", params={"email": "a\x00b@example.org"},
                             headers=auth_header(make_token("jdupont")))
    assert response.status_code == 400 and response.json()["field"] == "email"
