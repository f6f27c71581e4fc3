"""The timetable page behind a key, as HTML over HTTP: views, periods, language, details, 404s, caching."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

from projections.readmodels import ReadModels
from schedulesy.changes import Topic
from tests.fixtures.mirror import COURSE_NAME
from tests.fixtures.seeded import Seeded

COURSE_WEEK = "2019-10-21"
"""Monday of the week of the roomless course (Friday 25 October 2019, 10:30-12:00)."""
LESSON_DAY = "2020-01-14"
"""The lesson in room 1616, BCD Media (10:30-12:30)."""


async def page(api: AsyncTestClient, path: str, **headers: str):
    response = await api.get(path, headers={"accept-language": "en", **headers})
    return response


async def test_the_week_page_shows_the_weeks_events_in_their_day_column(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await page(api, f"/timetable/{seeded.key}?date={COURSE_WEEK}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    friday = html.split('data-date="2019-10-25"', 1)[1].split("</section>", 1)[0]
    assert 'data-start="10:30" data-end="12:00"' in friday
    assert "Cours de biologie, TD; groupe C2" in friday
    assert "Gerard Toto" in friday and "M2 Biotechnologie HD" in friday and "Biologie cellulaire" in friday
    monday = html.split('data-date="2019-10-21"', 1)[1].split("</section>", 1)[0]
    assert 'class="ev"' not in monday
    assert "21 – 27 October 2019" in html


async def test_the_note_is_text_never_markup(api: AsyncTestClient, seeded: Seeded) -> None:
    html = (await page(api, f"/timetable/{seeded.key}?view=list&date={COURSE_WEEK}")).text
    assert "Salle changée : rendez-vous" in html
    assert "<b>Salle</b>" not in html and "&lt;b&gt;" not in html


async def test_a_room_shows_its_site_and_building_and_a_map_link(api: AsyncTestClient, seeded: Seeded) -> None:
    html = (await page(api, f"/timetable/{seeded.key}?view=day&date={LESSON_DAY}")).text
    assert "BCD Media" in html
    assert "COL  -SITE COLMAR – ESPE COLMAR BATIMENT PRINCIPAL" in html
    assert "https://www.openstreetmap.org/?mlat=48.607508&amp;mlon=7.708025#map=18/48.607508/7.708025" in html
    assert 'data-start="10:30" data-end="12:30"' in html


async def test_views_and_navigation_links(api: AsyncTestClient, seeded: Seeded) -> None:
    base = f"/timetable/{seeded.key}"
    week = (await page(api, f"{base}?view=week&date=2019-10-23")).text
    assert f'href="{base}?view=week&amp;date=2019-10-14" rel="prev"' in week
    assert f'href="{base}?view=week&amp;date=2019-10-28" rel="next"' in week
    assert f'href="{base}?view=week"' in week  # today
    month = (await page(api, f"{base}?view=month&date=2019-10-23")).text
    assert "<caption" in month and "October 2019" in month
    assert f'href="{base}?view=month&amp;date=2019-09-01" rel="prev"' in month
    assert f'href="{base}?view=month&amp;date=2019-11-01" rel="next"' in month
    assert COURSE_NAME in month
    day = (await page(api, f"{base}?view=day&date={LESSON_DAY}")).text
    assert f'href="{base}?view=day&amp;date=2020-01-13" rel="prev"' in day
    assert "Tuesday, 14 January 2020" in day
    listing = (await page(api, f"{base}?view=list&date=2020-01-13")).text
    assert "Tuesday, 14 January 2020" in listing and "BCD Media" in listing
    empty = (await page(api, f"{base}?view=list&date=2021-01-13")).text
    assert "No classes in this period." in empty


async def test_the_default_view_is_a_grid_the_stylesheet_lists_on_narrow_screens(
    api: AsyncTestClient, seeded: Seeded
) -> None:
    html = (await page(api, f"/timetable/{seeded.key}?date={LESSON_DAY}")).text
    assert 'class="tt auto"' in html
    assert 'class="grid view-week"' in html and 'class="list' not in html  # each event once
    assert '<span class="long">Tuesday, 14 January 2020</span><span class="short">Tue 14 Jan</span>' in html


async def test_french_or_english_from_the_header_or_the_query(api: AsyncTestClient, seeded: Seeded) -> None:
    path = f"/timetable/{seeded.key}?view=day&date={LESSON_DAY}"
    french = await api.get(path, headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.8"})
    assert '<html lang="fr">' in french.text and "mardi 14 janvier 2020" in french.text
    english = await api.get(path, headers={"accept-language": "de-DE,en;q=0.5"})
    assert '<html lang="en">' in english.text
    forced = await api.get(path + "&lang=fr", headers={"accept-language": "en"})
    assert "mardi 14 janvier 2020" in forced.text
    assert "lang=fr" in forced.text.split('rel="next"')[0].rsplit("href=", 1)[1]
    assert french.headers["vary"] == "Accept-Encoding, Accept-Language"


async def test_the_header_offers_the_subscriptions(api: AsyncTestClient, seeded: Seeded) -> None:
    html = (await page(api, f"/timetable/{seeded.key}")).text
    ics = f"https://testserver/api/timetable/{seeded.key}.ics"
    assert f'href="webcal://testserver/api/timetable/{seeded.key}.ics"' in html
    assert f"https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Ftestserver%2Fapi%2Ftimetable%2F{seeded.key}.ics" in html
    assert "https://outlook.live.com/calendar/0/addfromweb?url=https%3A%2F%2Ftestserver" in html
    assert f'value="{ics}"' in html
    assert f'src="/api/timetable/{seeded.key}/qrcode.svg"' in html


async def test_unknown_malformed_and_revoked_keys_get_the_same_404_page(
    api: AsyncTestClient, seeded: Seeded, pool, read_models: ReadModels
) -> None:
    assert (await page(api, f"/timetable/{seeded.key}")).status_code == 200
    unknown = await page(api, "/timetable/0b8f1f5e-3e8c-4c2a-9d8e-2f1f5e3e8c4c")
    malformed = await page(api, "/timetable/not-a-key")
    assert unknown.status_code == malformed.status_code == 404
    assert unknown.headers["content-type"] == "text/html; charset=utf-8"
    await pool.execute("DELETE FROM schedulesy.access WHERE key = $1::uuid", seeded.key)
    await read_models.apply({Topic.ACCESS: {seeded.key}})
    revoked = await page(api, f"/timetable/{seeded.key}")
    assert revoked.status_code == 404
    assert unknown.content == malformed.content == revoked.content
    assert "unknown or has been revoked" in revoked.text


async def test_bad_parameters_are_a_400_naming_them(api: AsyncTestClient, seeded: Seeded) -> None:
    for query, field in (("view=year", "view"), ("date=2019-13-01", "date"), ("date=tomorrow", "date"),
                         ("lang=de", "lang")):
        response = await api.get(f"/timetable/{seeded.key}?{query}")
        assert response.status_code == 400, query
        assert response.json()["field"] == field


async def test_pages_revalidate_and_come_gzipped(api: AsyncTestClient, seeded: Seeded) -> None:
    path = f"/timetable/{seeded.key}?view=week&date={COURSE_WEEK}"
    first = await api.get(path, headers={"accept-encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["cache-control"] == "private, no-cache"
    etag = first.headers["etag"]
    again = await api.get(path, headers={"if-none-match": etag, "accept-encoding": "gzip"})
    assert again.status_code == 304 and again.headers["etag"] == etag
    other = await api.get(path.replace("week", "day"), headers={"if-none-match": etag})
    assert other.status_code == 200


async def test_the_page_follows_the_calendar(api: AsyncTestClient, seeded: Seeded, pool, read_models: ReadModels) -> None:
    path = f"/timetable/{seeded.key}?view=day&date={LESSON_DAY}"
    before = await api.get(path)
    await pool.execute("UPDATE schedulesy.event SET name = 'Renamed lesson' WHERE event_id = 191050")
    await read_models.apply({Topic.EVENT: {"191050"}})
    after = await api.get(path, headers={"if-none-match": before.headers["etag"]})
    assert after.status_code == 200
    assert "Renamed lesson" in after.text and "Renamed lesson" not in before.text
    json = await api.get(f"/api/timetable/{seeded.key}.json")
    assert "Renamed lesson" in json.text


async def test_a_week_page_is_small(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get(f"/timetable/{seeded.key}?date={COURSE_WEEK}", headers={"accept-encoding": "identity"})
    assert len(response.content) < 60_000
    assert not re.search(r"https?://(?!testserver|www\.openstreetmap|calendar\.google|outlook\.live|www\.w3)", response.text)


async def test_a_selection_above_the_event_limit_shows_a_notice(settings, pool, redis, seeded: Seeded) -> None:
    from schedulesy.app import create_app
    from tests.fixtures.infra import replace_settings

    async with AsyncTestClient(app=create_app(replace_settings(settings, max_events=1)),
                               base_url="https://testserver") as client:
        assert (await client.get(f"/api/timetable/{seeded.key}.json")).status_code == 413
        response = await client.get(f"/timetable/{seeded.key}?date={COURSE_WEEK}", headers={"accept-language": "en"})
    assert response.status_code == 200
    assert "too many classes to be shown" in response.text
    assert 'class="ev"' not in response.text
