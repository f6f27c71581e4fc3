"""display_types.json and ade_config.json (docs/compatibility.md §3.11, §3.12) and the OpenAPI description."""

from __future__ import annotations

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from queries.config import ade_base_url
from schedulesy.app import create_app
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.infra import replace_settings

pytestmark = pytest.mark.cluster_too


async def test_display_types_are_the_front_ends_display_modes(api: AsyncTestClient, make_token: TokenFactory) -> None:
    response = await api.get("/api/display_types.json", headers=auth_header(make_token("jdupont")))
    assert response.status_code == 200
    assert response.json() == ["month", "week", "custom", "day", "list"]
    assert response.headers["cache-control"].startswith("private")
    again = await api.get("/api/display_types.json/", headers={
        **auth_header(make_token("jdupont")), "If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_ade_config_gives_the_ade_address_without_credentials(
    settings: Settings, pool: object, redis: object, make_token: TokenFactory
) -> None:
    configured = replace_settings(
        settings, ade_url="https://svc:s3cret@ade.example.org:8443/jsp/webapi?login=svc&password=s3cret",
        ade_project_id=12,
    )
    async with AsyncTestClient(app=create_app(configured), base_url="https://testserver") as client:
        response = await client.get("/api/ade_config.json", headers=auth_header(make_token("jdupont")))
    assert response.status_code == 200
    assert response.json() == {"base_url": "https://ade.example.org:8443/jsp/webapi", "params": {"projectId": "12"}}
    assert "s3cret" not in response.text


def test_ade_base_url_keeps_ipv6_hosts_and_drops_userinfo() -> None:
    assert ade_base_url("http://u:p@[::1]:8090/jsp/webapi?x=1#f") == "http://[::1]:8090/jsp/webapi"
    assert ade_base_url("http://ade.local/jsp/webapi") == "http://ade.local/jsp/webapi"


async def test_every_read_path_and_parameter_is_described_in_the_openapi_schema(api: AsyncTestClient) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    expected = {
        "/api/resource/{node}": "application/json",
        "/api/events/{resource}": "application/json",
        "/api/calendar/{user}": "application/json",
        "/api/calendar/{key}/export": "text/calendar; charset=utf-8",
        "/api/instructor.json": "application/json",
        "/api/display_types.json": "application/json",
        "/api/ade_config.json": "application/json",
        "/api/timetable/{file}": "text/calendar; charset=utf-8",
        "/api/timetable/{key}/qrcode.svg": "image/svg+xml",
        "/api/timetable/{key}/qrcode.png": "image/png",
    }
    for path, media_type in expected.items():
        operation = paths[path]["get"]
        assert operation["summary"] and operation["description"], path
        assert media_type in operation["responses"]["200"]["content"], path
        assert "ETag" in operation["responses"]["200"]["headers"], path
        assert "304" in operation["responses"], path
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (path, parameter["name"])
    assert "application/json" in paths["/api/timetable/{file}"]["get"]["responses"]["200"]["content"]
    assert "413" in paths["/api/calendar/{user}"]["get"]["responses"]
    msgspec.json.encode(schema)
