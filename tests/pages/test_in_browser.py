"""The pages in headless Chromium, at desktop size and 360 px wide: what a person sees.

The browser runs in New York time: the events must still show at Paris wall-clock times, on both
sides of the change to winter time (Sunday 27 October 2019, 03:00 → 02:00).

``SCHEDULESY_TEST_SCREENSHOTS=<dir>`` saves a screenshot of each page there (docs/screenshots/).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

from tests.fixtures.mirror import GROUP, GROUP_BOOKING, SUBJECT_BOOKING, Ev, insert_events
from tests.fixtures.seeded import Seeded

DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 360, "height": 740}
DST_WEEK = "2019-10-21"
SUNDAY_AFTER_THE_CHANGE = "2019-10-27"
SCREENSHOTS = os.environ.get("SCHEDULESY_TEST_SCREENSHOTS", "")


@pytest.fixture
async def dst_week(seeded: Seeded, pool: Any) -> Seeded:
    """Two more events of the group in the week of the course (Friday 25, 10:30 CEST): Monday 08:00
    and Sunday 27 at 10:30, after the change to winter time (CET)."""
    await insert_events(pool, [
        Ev(9001, dt.datetime(2019, 10, 21, 8, 0), slots=4, name="Monday early lecture", activity_id=9001,
           books=(SUBJECT_BOOKING, GROUP_BOOKING), shown_on=(GROUP,), color="#1f3a93"),
        Ev(9002, dt.datetime(2019, 10, 27, 10, 30), slots=6, name="Sunday after the change", activity_id=9002,
           books=(SUBJECT_BOOKING, GROUP_BOOKING), shown_on=(GROUP,), color="#f5d76e"),
    ])
    return seeded


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))


@pytest.fixture
async def context(browser: Browser, live_app: str) -> AsyncIterator[BrowserContext]:
    """Closed before the app stops (its keep-alive connections with it)."""
    context = await browser.new_context(viewport=DESKTOP, timezone_id="America/New_York", locale="en-US")
    yield context
    await context.close()


async def open_page(context: BrowserContext, url: str, viewport: ViewportSize = DESKTOP) -> Watched:
    page = await context.new_page()
    await page.set_viewport_size(viewport)
    watched = Watched(page)
    await page.goto(url)
    return watched


async def serious_violations(page: Page, axe_source: str) -> list[str]:
    await page.add_script_tag(content=axe_source)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']][:3]})"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


async def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS, f"{name}.png")), full_page=True)


async def hour_of(page: Page, day: str, name: str) -> float:
    """Where an event's block starts in its day column, read back as an hour of the grid."""
    return float(await page.evaluate(
        """([day, name]) => {
            const column = document.querySelector(`.grid .day[data-date="${day}"]`);
            const slots = column.querySelector('.slots');
            const block = [...column.querySelectorAll('.ev')].find(e => e.textContent.includes(name));
            const first = parseInt(document.querySelector('.grid .hour').textContent, 10);
            const hour = document.querySelector('.grid .hour').getBoundingClientRect().height;
            return first + (block.getBoundingClientRect().top - slots.getBoundingClientRect().top) / hour;
        }""", [day, name]))


async def test_week_events_sit_in_their_day_columns_at_paris_times_across_the_dst_change(
    context: BrowserContext, live_app: str, dst_week: Seeded, axe_source: str
) -> None:
    watched = await open_page(context, f"{live_app}/timetable/{dst_week.key}?date={DST_WEEK}&lang=en")
    page = watched.page
    assert await page.locator(".grid .hours").is_visible()
    assert not await page.locator(".dayname .long").first.is_visible()
    friday = page.locator('.grid .day[data-date="2019-10-25"] .ev')
    assert await friday.count() == 1
    assert "10:30–12:00" in await friday.inner_text()
    sunday = page.locator(f'.grid .day[data-date="{SUNDAY_AFTER_THE_CHANGE}"] .ev')
    assert "10:30–12:00" in await sunday.inner_text() and "Sunday after the change" in await sunday.inner_text()
    assert await page.locator('.grid .day[data-date="2019-10-21"] .ev').inner_text() != ""
    assert await hour_of(page, "2019-10-25", "Cours de biologie") == pytest.approx(10.5, abs=0.05)
    assert await hour_of(page, SUNDAY_AFTER_THE_CHANGE, "Sunday after") == pytest.approx(10.5, abs=0.05)
    assert await hour_of(page, "2019-10-21", "Monday early") == pytest.approx(8.0, abs=0.05)
    assert await page.locator('.grid .day[data-date="2019-10-22"] .ev').count() == 0
    await screenshot(page, "timetable-week")
    summary = friday.locator("summary")
    await summary.click()
    details = friday.locator(".more")
    assert await details.is_visible()
    assert "Gerard Toto" in await details.inner_text()
    assert "Salle changée" in await details.inner_text()
    await screenshot(page, "timetable-event-details")
    await page.keyboard.press("Escape")
    assert not await details.is_visible()
    assert await serious_violations(page, axe_source) == []
    await page.emulate_media(media="print")
    assert not await page.locator(".nav .step").is_visible() and not await page.locator(".subscribe").is_visible()
    assert await page.locator(".grid").is_visible()
    assert watched.errors == []


async def test_at_360_px_the_default_is_the_list_and_the_page_fits(
    context: BrowserContext, live_app: str, dst_week: Seeded, axe_source: str
) -> None:
    watched = await open_page(context, f"{live_app}/timetable/{dst_week.key}?date={DST_WEEK}&lang=en", PHONE)
    page = watched.page
    assert not await page.locator(".grid .hours").is_visible()  # laid out as a list
    sunday = page.locator(f'.grid .day[data-date="{SUNDAY_AFTER_THE_CHANGE}"]')
    assert "Sunday, 27 October 2019" in await sunday.locator("h3").inner_text()
    assert "10:30–12:00" in await sunday.locator(".ev summary").inner_text()
    friday = page.locator('.grid .day[data-date="2019-10-25"] .ev')
    assert "Cours de biologie" in await friday.inner_text() and "10:30–12:00" in await friday.inner_text()
    assert not await page.locator('.grid .day[data-date="2019-10-22"]').is_visible()  # no events that day
    days = await page.locator(".grid .day").evaluate_all("days => days.filter(d => d.offsetParent).map(d => d.dataset.date)")
    assert days == ["2019-10-21", "2019-10-25", SUNDAY_AFTER_THE_CHANGE]
    await friday.locator("summary").click()
    assert "Gerard Toto" in await friday.locator(".more").inner_text()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    await screenshot(page, "timetable-phone")
    assert await serious_violations(page, axe_source) == []
    assert watched.errors == []


async def test_navigation_without_script_and_by_keyboard(
    context: BrowserContext, live_app: str, dst_week: Seeded
) -> None:
    await context.route("**/assets/pages.*.js", lambda route: route.abort())  # the links work without it
    watched = await open_page(context, f"{live_app}/timetable/{dst_week.key}?view=week&date={DST_WEEK}&lang=en")
    page = watched.page
    await page.get_by_role("link", name="Next").click()
    assert "date=2019-10-28" in page.url and "view=week" in page.url and "lang=en" in page.url
    await page.get_by_role("link", name="Previous").click()
    await page.get_by_role("link", name="Previous").click()
    assert "date=2019-10-14" in page.url
    await page.get_by_role("link", name="Month").click()
    assert "view=month" in page.url
    assert "October 2019" in await page.locator(".period").inner_text()
    await screenshot(page, "timetable-month")
    await page.get_by_role("link", name="Friday, 25 October 2019, 1").click()
    assert "view=day" in page.url and "date=2019-10-25" in page.url
    assert "Cours de biologie" in await page.locator(".grid").inner_text()
    await page.get_by_role("link", name="Today").click()
    today = dt.datetime.now(dt.timezone.utc).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).date()
    assert await page.locator(f'.day.today[data-date="{today.isoformat()}"]').count() == 1
    await context.unroute("**/assets/pages.*.js")
    scripted = await open_page(context, f"{live_app}/timetable/{dst_week.key}?view=week&date={DST_WEEK}&lang=en")
    await scripted.page.keyboard.press("ArrowRight")
    await scripted.page.wait_for_url("**date=2019-10-28**")
    await scripted.page.keyboard.press("Tab")
    focused = await scripted.page.evaluate("document.activeElement.tagName")
    assert focused == "A"
    assert scripted.errors == []


async def test_the_day_view_links_the_room_to_the_map(
    context: BrowserContext, live_app: str, seeded: Seeded, axe_source: str
) -> None:
    watched = await open_page(context, f"{live_app}/timetable/{seeded.key}?view=day&date=2020-01-14&lang=fr")
    page = watched.page
    lesson = page.locator('.grid .day[data-date="2020-01-14"] .ev')
    assert "10:30–12:30" in await lesson.inner_text()
    await lesson.locator("summary").click()
    map_link = lesson.get_by_role("link", name="voir sur la carte – BCD Media")
    assert await map_link.is_visible()
    assert (await map_link.get_attribute("href")).startswith("https://www.openstreetmap.org/?mlat=48.607508&mlon=7.708025")
    assert "COL -SITE COLMAR – ESPE COLMAR BATIMENT PRINCIPAL" in await lesson.locator(".place").inner_text()
    await screenshot(page, "timetable-day")
    assert await serious_violations(page, axe_source) == []
    assert watched.errors == []


async def test_the_subscribe_panel(context: BrowserContext, live_app: str, seeded: Seeded, axe_source: str) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_app)
    watched = await open_page(context, f"{live_app}/timetable/{seeded.key}?lang=en")
    page = watched.page
    await page.get_by_text("Subscribe", exact=True).click()
    webcal = page.get_by_role("link", name="Calendar app (webcal)")
    assert await webcal.get_attribute("href") == f"webcal://{live_app.partition('://')[2]}/api/timetable/{seeded.key}.ics"
    qr = page.get_by_role("img", name="QR code of the subscription link")
    await qr.wait_for()
    # Visible is not loaded yet: wait for the image itself (an image that fails to load never passes).
    await page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=await qr.element_handle())
    await page.get_by_role("button", name="Copy link").click()
    await page.get_by_text("Link copied").wait_for()
    assert await page.evaluate("navigator.clipboard.readText()") == f"{live_app}/api/timetable/{seeded.key}.ics"
    await screenshot(page, "timetable-subscribe")
    assert await serious_violations(page, axe_source) == []
    assert watched.errors == []


async def test_unknown_and_revoked_keys_show_the_404_page(
    context: BrowserContext, live_app: str, seeded: Seeded, axe_source: str
) -> None:
    page = await context.new_page()
    response = await page.goto(f"{live_app}/timetable/0b8f1f5e-3e8c-4c2a-9d8e-2f1f5e3e8c4c?lang=en")
    assert response is not None and response.status == 404
    assert await page.get_by_role("heading", name="Page not found").is_visible()
    await screenshot(page, "not-found")
    assert await serious_violations(page, axe_source) == []


async def test_the_month_view_and_dark_mode_pass_the_accessibility_check(
    browser: Browser, live_app: str, dst_week: Seeded, axe_source: str
) -> None:
    context = await browser.new_context(viewport=DESKTOP, color_scheme="dark", timezone_id="Asia/Tokyo")
    try:
        watched = await open_page(context, f"{live_app}/timetable/{dst_week.key}?view=month&date={DST_WEEK}&lang=en")
        page = watched.page
        cell = page.locator('.month td[data-date="2019-10-27"]')
        assert "10:30 Sunday after the change" in await cell.inner_text()
        background = await page.evaluate("getComputedStyle(document.querySelector('.sch')).backgroundColor")
        assert background == "rgb(21, 23, 27)"
        await screenshot(page, "timetable-month-dark")
        assert await serious_violations(page, axe_source) == []
        assert watched.errors == []
    finally:
        await context.close()


async def test_a_rooms_public_page_on_a_phone_and_a_desktop(
    context: BrowserContext, live_app: str, seeded: Seeded, axe_source: str
) -> None:
    watched = await open_page(context, f"{live_app}/public/1616?date=2020-01-14&lang=en", PHONE)
    page = watched.page
    assert await page.get_by_role("heading", name="BCD Media", level=1).is_visible()
    map_link = page.locator(".head").get_by_role("link", name="show on map")
    assert (await map_link.get_attribute("href")).startswith("https://www.openstreetmap.org/?mlat=48.607508")
    item = page.locator('.grid .day[data-date="2020-01-14"] .ev')
    assert "10:30–12:30" in await item.inner_text()
    assert not await page.locator(".grid .hours").is_visible()
    assert "Gerard Toto" not in await page.locator("body").inner_text()
    await screenshot(page, "room-phone")
    assert await serious_violations(page, axe_source) == []
    await page.set_viewport_size(DESKTOP)
    assert await page.locator(".grid.view-day").is_visible()
    assert await hour_of(page, "2020-01-14", "M2 GROUPE C1") == pytest.approx(10.5, abs=0.05)
    await page.goto(f"{live_app}/public/1616/week/HeaderLess?date=2020-01-14&lang=en")
    assert await page.locator("h1").count() == 0
    assert "10:30–12:30" in await page.locator('.grid .day[data-date="2020-01-14"] .ev').inner_text()
    await screenshot(page, "room-week-headerless")
    assert await serious_violations(page, axe_source) == []
    assert watched.errors == []


async def test_the_landing_page(context: BrowserContext, live_app: str, axe_source: str) -> None:
    watched = await open_page(context, f"{live_app}/?lang=en")
    assert await watched.page.get_by_role("link", name="API documentation").get_attribute("href") == "/schema"
    await screenshot(watched.page, "landing")
    assert await serious_violations(watched.page, axe_source) == []
    assert watched.errors == []


HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A department's site</title>
<style>p {{ color: rgb(255, 0, 0); font-family: serif; }} .widget {{ width: 640px; height: 520px; }}
.room-widget {{ width: 340px; height: 420px; }}</style></head>
<body><main><h1>Our timetables</h1>
<div class="widget" data-schedulesy-timetable="{key}" data-view="week" data-date="2019-10-21" data-lang="en"></div>
<div class="room-widget" data-schedulesy-room="1616" data-date="2020-01-14" data-lang="en"></div>
<script src="{app}/embed.js" async></script></main></body></html>
"""


async def test_the_widget_renders_in_a_page_of_another_origin(
    other_origin: Any, context: BrowserContext, live_app: str, dst_week: Seeded, axe_source: str
) -> None:  # other_origin first: it stops after the browser has closed its connections
    host = other_origin(HOST_PAGE.format(key=dst_week.key, app=live_app))
    await context.add_cookies([{"name": "session", "value": "secret", "url": live_app}])
    fragment_requests: list[dict[str, str]] = []
    fragment_responses: list[dict[str, str]] = []

    async def record(response: Any) -> None:
        if "/embed/" in response.url:
            fragment_requests.append(await response.request.all_headers())
            fragment_responses.append(await response.all_headers())

    page = await context.new_page()
    watched = Watched(page)
    page.on("response", record)
    await page.goto(host)
    widget = page.locator(".widget")
    friday = widget.locator('.grid .day[data-date="2019-10-25"] .ev')
    await friday.wait_for()
    assert "10:30–12:00" in await friday.inner_text()
    assert "10:30–12:00" in await widget.locator(f'.grid .day[data-date="{SUNDAY_AFTER_THE_CHANGE}"] .ev').inner_text()
    # Style isolation: the host's rule for <p> does not reach the widget's paragraphs.
    title_colour = await widget.locator(".etitle").evaluate("p => getComputedStyle(p).color")
    assert title_colour != "rgb(255, 0, 0)"
    assert await page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily") != ""
    # Sized to the div: the widget fills it and scrolls inside it.
    box = await widget.bounding_box()
    assert box is not None and box["width"] == 640 and box["height"] == 520
    room = page.locator("div.room-widget")
    lesson = room.locator('.grid .day[data-date="2020-01-14"] .ev')
    await lesson.wait_for()
    assert "10:30–12:30" in await lesson.inner_text()
    assert not await room.locator(".grid .hours").is_visible()  # 340 px wide: laid out as a list
    assert "Gerard Toto" not in await room.inner_text()
    await screenshot(page, "embed")
    await widget.get_by_role("link", name="Next").click()
    await widget.locator(".period", has_text="28 Oct – 3 Nov 2019").wait_for()
    assert page.url == host
    assert fragment_requests and all("cookie" not in headers for headers in fragment_requests)
    assert all(headers.get("access-control-allow-origin") in ("*", host.rstrip("/")) for headers in fragment_responses)
    assert await context.cookies(live_app)  # the browser had one to send
    assert await serious_violations(page, axe_source) == []
    assert watched.errors == []
