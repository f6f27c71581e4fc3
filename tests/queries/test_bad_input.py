"""Malformed identifiers, bad parameters and missing credentials: a JSON 4xx, never a 500."""

from __future__ import annotations

import time

import pytest
from litestar.testing import AsyncTestClient

from schedulesy.auth import VerifiedTokens
from schedulesy.errors import Forbidden
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header

KEY = "9b2f0c1e-5d7a-4c1b-9a55-0e4f6f2b7c11"


@pytest.mark.parametrize(
    "path",
    [
        "/api/resource/classroom.json",
        "/api/resource/1616.json/",
        "/api/calendar/jdupont.json",
        "/api/instructor.json?email=a@b.fr",
        "/api/display_types.json",
        "/api/ade_config.json",
    ],
)
async def test_authenticated_endpoints_refuse_anonymous_callers_with_a_json_403(
    api: AsyncTestClient, path: str
) -> None:
    response = await api.get(path)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize("path", ["/api/resource/classroom.json", "/api/events/1616.json"])
async def test_invalid_credentials_are_a_403_even_on_the_public_endpoint(api: AsyncTestClient, path: str) -> None:
    response = await api.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_an_expired_token_is_a_403_on_the_public_endpoint(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    token = make_token("jdupont", exp=1)
    response = await api.get("/api/events/1616.json", headers=auth_header(token))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/api/resource/1616",
        "/api/resource/1616.xml",
        "/api/resource/.json",
        "/api/resource/16%2016.json",
        "/api/resource/%27%3B--.json",
        "/api/resource/" + "9" * 65 + ".json",
        "/api/events/1616",
        "/api/events/..%2F1616.json",
        "/api/calendar/jdupont",
        "/api/calendar/jean%01dupont.json",
        "/api/calendar/" + "x" * 33 + ".json",
    ],
)
async def test_malformed_ids_are_a_json_404(api: AsyncTestClient, make_token: TokenFactory, path: str) -> None:
    response = await api.get(path, headers=auth_header(make_token("admin", superuser=True)))
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/calendar/not-a-uuid/export",
        f"/api/calendar/{KEY}x/export",
        f"/api/timetable/{KEY}",
        f"/api/timetable/{KEY}.xml",
        "/api/timetable/nope.ics",
        "/api/timetable/.json",
        "/api/timetable/nope/qrcode.svg",
        "/api/timetable/nope/qrcode.png",
        f"/api/timetable/{KEY}/qrcode.gif",
    ],
)
async def test_malformed_keys_are_a_json_404(api: AsyncTestClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("query", ["", "?email=", "?email=%20%20", "?other=1"])
async def test_an_instructor_search_without_a_filter_is_refused_with_412(
    api: AsyncTestClient, make_token: TokenFactory, query: str
) -> None:
    response = await api.get(f"/api/instructor.json{query}", headers=auth_header(make_token("jdupont")))
    assert response.status_code == 412
    assert response.json()["detail"] == "Your search is too wide. Please specify a filter"


@pytest.mark.parametrize("email", ["not-an-address", "a@b@c", "x" * 400 + "@a.fr"])
async def test_an_instructor_search_with_a_malformed_address_is_a_400(
    api: AsyncTestClient, make_token: TokenFactory, email: str
) -> None:
    response = await api.get("/api/instructor.json", params={"email": email},
                             headers=auth_header(make_token("jdupont")))
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


async def test_another_users_calendar_is_forbidden_to_a_plain_user(
    api: AsyncTestClient, make_token: TokenFactory
) -> None:
    response = await api.get("/api/calendar/someone.else.json", headers=auth_header(make_token("jdupont")))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_token_is_verified_once_and_remembered(settings: Settings, make_token: TokenFactory) -> None:
    tokens = VerifiedTokens(settings)
    header = auth_header(make_token("jdupont"))["Authorization"]
    identity = tokens.identify(header)
    assert identity is not None and identity.username == "jdupont"
    assert tokens.identify(header) is identity


def test_a_remembered_token_stops_working_when_it_expires(settings: Settings, make_token: TokenFactory) -> None:
    tokens = VerifiedTokens(settings)
    expires = int(time.time()) - 3600
    header = auth_header(make_token("jdupont", exp=expires))["Authorization"]
    identity = VerifiedTokens(settings).identify(auth_header(make_token("jdupont"))["Authorization"])
    assert identity is not None
    tokens._identities.put(header, (identity, expires + settings.jwt_leeway))  # remembered while it was valid
    with pytest.raises(Forbidden):
        tokens.identify(header)
    assert header not in tokens._identities


def test_a_bad_token_is_never_remembered(settings: Settings) -> None:
    tokens = VerifiedTokens(settings)
    for _ in range(2):
        with pytest.raises(Forbidden):
            tokens.identify("Bearer not-a-token")
    assert len(tokens._identities) == 0


def test_superusers_stay_superusers_when_remembered(settings: Settings, make_token: TokenFactory) -> None:
    tokens = VerifiedTokens(settings)
    header = auth_header(make_token("admin", superuser=True))["Authorization"]
    assert tokens.identify(header).is_superuser
    assert tokens.identify(header).is_superuser
