"""Cross-origin answers keep the ``Vary`` the delivery layer names, plus ``Origin`` (schedulesy/vary.py)."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from tests.fixtures.mirror import ROOM
from tests.fixtures.seeded import Seeded

pytestmark = pytest.mark.cluster_too

ORIGIN = {"Origin": "https://front.example"}


def vary_names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",")]


async def test_a_gzip_capable_document_asked_cross_origin_varies_on_both(api: AsyncTestClient, seeded: Seeded) -> None:
    path = f"/api/calendar/{seeded.owner}.json"
    response = await api.get(path, headers={**seeded.owner_headers, **ORIGIN, "Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN["Origin"]
    assert vary_names(response.headers["vary"]) == ["Accept-Encoding", "Origin"]
    again = await api.get(path, headers={**seeded.owner_headers, **ORIGIN, "If-None-Match": response.headers["etag"],
                                         "Accept-Encoding": "gzip"})
    assert again.status_code == 304
    assert vary_names(again.headers["vary"]) == ["Accept-Encoding", "Origin"]


async def test_a_public_endpoint_asked_cross_origin_still_varies_on_authorization(
    api: AsyncTestClient, seeded: Seeded
) -> None:
    response = await api.get(f"/api/events/{ROOM}.json", headers=ORIGIN)
    assert response.status_code == 200
    names = vary_names(response.headers["vary"])
    assert "Authorization" in names and "Origin" in names and len(names) == len(set(names))


async def test_an_ics_feed_asked_cross_origin_still_varies_on_the_agent(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get(f"/api/timetable/{seeded.key}.ics", headers=ORIGIN)
    assert vary_names(response.headers["vary"]) == ["Accept-Encoding", "User-Agent", "Origin"]


async def test_without_an_origin_the_vary_is_the_delivery_layers_own(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get(f"/api/calendar/{seeded.owner}.json", headers=seeded.owner_headers)
    assert response.headers["vary"] == "Accept-Encoding"
    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_is_unchanged(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.options(f"/api/calendar/{seeded.owner}.json",
                                 headers={**ORIGIN, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN["Origin"]
    assert response.headers["vary"] == "Origin"  # Litestar's own, untouched
