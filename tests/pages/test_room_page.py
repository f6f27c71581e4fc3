"""A room's public page (docs/compatibility.md §7.5), the landing page, and what a hosted front end keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from schedulesy.app import create_app
from schedulesy.settings import Settings
from tests.fixtures.infra import replace_settings
from tests.fixtures.mirror import EMPTY_ROOM, GROUP, ROOM, TEACHER
from tests.fixtures.seeded import Seeded

LESSON_DAY = "2020-01-14"
SHELL = b"<!doctype html><html><body>front end</body></html>"


async def get(api: AsyncTestClient, path: str):
    return await api.get(path, headers={"accept-language": "en"})


async def test_a_rooms_page_shows_its_events_without_instructors(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await get(api, f"/public/{ROOM}?date={LESSON_DAY}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"
    html = response.text
    assert "<h1>BCD Media</h1>" in html
    assert "COL  -SITE COLMAR – ESPE COLMAR BATIMENT PRINCIPAL" in html
    assert 'href="https://www.openstreetmap.org/?mlat=48.607508&amp;mlon=7.708025#map=18/48.607508/7.708025"' in html
    assert 'data-start="10:30" data-end="12:30"' in html and "M2 Biotechnologie HD" in html
    assert "Gerard Toto" not in html and "Instructors" not in html
    assert 'class="bar"' not in html  # AppBarLess by default
    assert 'class="tt auto"' in html and 'class="grid view-day"' in html  # list on small screens, day on larger


@pytest.mark.parametrize(("path", "view", "header"), [
    (f"/public/{ROOM}/week", "week", True),
    (f"/public/{ROOM}/WEEK/headerless", "week", False),
    (f"/public/{ROOM}/month/AppBarLess/30", "month", True),
    (f"/public/{ROOM}/list/HeaderLess/15", "auto", False),
    (f"/public/{ROOM}/anything", "auto", True),
    (f"/public/{ROOM}?type=Day&layout=HeaderLess&interval_height=30", "day", False),
])
async def test_the_long_forms_and_query_parameters(api: AsyncTestClient, seeded: Seeded, path: str, view: str,
                                                   header: bool) -> None:
    joiner = "&" if "?" in path else "?"
    html = (await get(api, f"{path}{joiner}date={LESSON_DAY}")).text
    if view in ("week", "day"):
        assert f'class="grid view-{view}"' in html and 'class="tt"' in html
    elif view == "month":
        assert 'class="month"' in html
    else:
        assert 'class="tt auto"' in html
    assert ('<header class="head">' in html) is header
    assert 'class="bar"' not in html


async def test_the_interval_height_sets_the_grid_scale(api: AsyncTestClient, seeded: Seeded) -> None:
    assert 'style="--hour:60px"' in (await get(api, f"/public/{ROOM}/week/AppBarLess/30")).text
    assert 'style="--hour:48px"' in (await get(api, f"/public/{ROOM}/week")).text


async def test_navigation_keeps_the_layout(api: AsyncTestClient, seeded: Seeded) -> None:
    html = (await get(api, f"/public/{ROOM}?type=week&layout=HeaderLess&date={LESSON_DAY}")).text
    assert f'href="/public/{ROOM}?layout=HeaderLess&amp;type=week&amp;date=2020-01-06" rel="prev"' in html


async def test_a_room_without_coordinates_shows_its_site_and_building_only(api: AsyncTestClient, seeded: Seeded) -> None:
    html = (await get(api, f"/public/{EMPTY_ROOM}")).text
    assert "<h1>amphi sans cours</h1>" in html
    assert "COL  -SITE COLMAR – ESPE COLMAR BATIMENT PRINCIPAL" in html
    assert "openstreetmap" not in html


@pytest.mark.parametrize("resource", [TEACHER, GROUP, "99999", "not an id", "%2e%2e"])
async def test_only_rooms_have_a_public_page(api: AsyncTestClient, seeded: Seeded, resource: str) -> None:
    response = await get(api, f"/public/{resource}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Gerard" not in response.text


async def test_the_landing_page_links_the_api_docs(api: AsyncTestClient) -> None:
    response = await get(api, "/")
    assert response.status_code == 200
    assert 'href="/schema"' in response.text and 'href="/health/ready"' in response.text


@pytest.fixture
async def hosted(settings: Settings, pool: object, redis: object, tmp_path: Path) -> AsyncIterator[AsyncTestClient]:
    (tmp_path / "index.html").write_bytes(SHELL)
    app = create_app(replace_settings(settings, spa_dir=str(tmp_path)))
    async with AsyncTestClient(app=app, base_url="https://testserver") as client:
        yield client


async def test_a_hosted_front_end_keeps_its_routes_and_the_key_pages_stay(hosted: AsyncTestClient, seeded: Seeded) -> None:
    for path in ("/", f"/public/{ROOM}", f"/public/{ROOM}/week/HeaderLess"):
        assert (await hosted.get(path)).content == SHELL, path
    page = await hosted.get(f"/timetable/{seeded.key}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert (await hosted.get(f"/embed/room/{ROOM}")).status_code == 200


@pytest.fixture
async def demo_api(settings: Settings, pool: object, redis: object) -> AsyncIterator[AsyncTestClient]:
    app = create_app(replace_settings(settings, demo_user="jdupont"))
    async with AsyncTestClient(app=app, base_url="https://testserver") as client:
        yield client


async def test_in_demo_mode_the_landing_page_links_the_demo_users_pages(
    demo_api: AsyncTestClient, api: AsyncTestClient, seeded: Seeded
) -> None:
    html = (await get(demo_api, "/")).text
    assert 'href="/demo/timetable"' in html
    assert f'href="/public/{ROOM}">A room – BCD Media</a>' in html
    assert f'href="/public/{GROUP}"' not in html
    redirect = await demo_api.get("/demo/timetable", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == f"/timetable/{seeded.key}"
    assert "/demo/timetable" not in (await get(api, "/")).text
    assert (await get(api, "/demo/timetable")).status_code == 404


async def test_the_widget_script_and_the_pages_assets(api: AsyncTestClient, seeded: Seeded) -> None:
    script = await api.get("/embed.js", headers={"accept-encoding": "gzip"})
    assert script.status_code == 200 and script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "public, max-age=300" and "attachShadow" in script.text
    assert (await api.get("/embed.js", headers={"if-none-match": script.headers["etag"]})).status_code == 304
    html = (await get(api, f"/public/{ROOM}")).text
    css = html.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert css.startswith("/assets/pages.") and css.endswith(".css")
    style = await api.get(css)
    assert style.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "prefers-color-scheme:dark" in style.text and "@media print" in style.text
    assert (await api.get("/assets/pages.css")).status_code == 404
    assert (await api.get("/assets/embed.js")).status_code == 404
    fragment = await api.get(f"/embed/room/{ROOM}?view=week&date={LESSON_DAY}",
                             headers={"origin": "https://elsewhere.example"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.headers["access-control-allow-origin"] in ("*", "https://elsewhere.example")
    assert 'href="https://testserver/embed/room/1616?view=week&amp;date=2020-01-20" rel="next"' in fragment.text
    assert "set-cookie" not in fragment.headers
    missing = await get(api, "/embed/timetable/not-a-key")
    assert missing.status_code == 404 and "unknown or has been revoked" in missing.text
