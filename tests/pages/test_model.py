"""The pages' pure parts: periods, the grid's layout of overlapping events, notes, colours, languages."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from queries.pages.i18n import negotiate
from queries.pages.model import decode, grid, map_url, note_text, period, text_on


def calendar(*events: dict[str, object]) -> bytes:
    return msgspec.json.encode({"events": {"events": list(events), "trainees": {}, "instructors": {},
                                           "classrooms": {}, "category5s": {}}})


def event(event_id: str, day: str, start: str, end: str, **extra: object) -> dict[str, object]:
    return {"id": event_id, "name": f"E{event_id}", "date": day, "startHour": start, "endHour": end,
            "color": "#6699ff", "note": "", **extra}


def test_periods_step_by_week_day_and_month() -> None:
    wednesday = dt.date(2024, 2, 28)
    week = period("week", wednesday)
    assert (week.first, week.last, week.previous, week.next) == (
        dt.date(2024, 2, 26), dt.date(2024, 3, 3), dt.date(2024, 2, 19), dt.date(2024, 3, 4))
    month = period("month", wednesday)
    assert (month.first, month.last) == (dt.date(2024, 1, 29), dt.date(2024, 3, 3))
    assert (month.previous, month.next) == (dt.date(2024, 1, 1), dt.date(2024, 3, 1))
    assert period("month", dt.date(2024, 12, 31)).next == dt.date(2025, 1, 1)
    day = period("day", dt.date(2024, 3, 1))
    assert (day.previous, day.next) == (dt.date(2024, 2, 29), dt.date(2024, 3, 2))


def test_overlapping_events_share_the_column_and_the_grid_widens_to_them() -> None:
    timetable = decode(calendar(
        event("1", "04/03/2024", "07:30", "09:30"),
        event("2", "04/03/2024", "08:00", "10:00"),
        event("3", "04/03/2024", "09:30", "19:15"),
        event("4", "04/03/2024", "12:00", "13:00"),
        event("bad", "2024-03-04", "08:00", "09:00"),
        event("late", "04/03/2024", "25:00", "26:00"),
    ))
    laid = grid(timetable, period("week", dt.date(2024, 3, 4)).days)
    assert (laid.start, laid.end) == (7 * 60, 20 * 60)
    assert [column.day.weekday() for column in laid.columns] == [0, 1, 2, 3, 4]  # an empty weekend is left out
    placed = {p.event.id: p for p in laid.columns[0].events}
    assert set(placed) == {"1", "2", "3", "4"}
    assert (placed["1"].left, placed["1"].width) == (0, 50)
    assert (placed["2"].left, placed["2"].width) == (50, 50)
    assert placed["3"].left == 0  # lane 1 is free again at 09:30
    assert placed["4"].left == 50
    assert placed["1"].top == pytest.approx(30 * 100 / 780, abs=0.001)


def test_notes_are_plain_text() -> None:
    assert note_text("<b>Salle</b> changée<br>Apporter&nbsp;la blouse<script>x</script>") == \
        "Salle changée\nApporter\xa0la blousex"
    assert note_text("") == ""


def test_text_contrasts_with_the_ade_colour() -> None:
    assert text_on("#ffffff") == "#000000"
    assert text_on("#f5d76e") == "#000000"
    assert text_on("#1f3a93") == "#ffffff"
    assert text_on("#000000") == "#ffffff"


def test_a_map_link_needs_two_coordinates() -> None:
    assert map_url([]) is None and map_url([48.6]) is None and map_url([91.0, 7.0]) is None
    assert map_url([48.607508, 7.708025, 0.0]) == \
        "https://www.openstreetmap.org/?mlat=48.607508&mlon=7.708025#map=18/48.607508/7.708025"


@pytest.mark.parametrize(("header", "lang"), [
    (None, "fr"), ("", "fr"), ("en-GB,en;q=0.9", "en"), ("de, en;q=0.5, fr;q=0.4", "en"),
    ("en;q=0.3, fr-CA;q=0.8", "fr"), ("en;q=0, fr;q=0.1", "fr"), ("es, de", "fr"), ("EN", "en"),
])
def test_the_language_follows_accept_language(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


async def test_a_large_calendar_is_decoded_off_the_event_loop_and_kept() -> None:
    from projections.builders.document import Built
    from queries.pages.assets import load
    from queries.pages.render import DECODE_INLINE_BYTES, Pages

    body = calendar(*(event(str(n), "04/03/2024", "08:00", "10:00", note="x" * 500) for n in range(600)))
    assert len(body) > DECODE_INLINE_BYTES
    pages = Pages(load())
    document = Built(body).stored(last_modified=0)
    decoded = await pages.timetable(document)
    assert len(decoded.by_day[dt.date(2024, 3, 4)]) == 600
    assert await pages.timetable(document) is decoded


def test_a_full_week_page_stays_under_60_kb() -> None:
    """48 events (8 a day, 6 days), each with a room, two teachers, a group, a subject and a note."""
    from queries.pages.assets import load
    from queries.pages.render import Pages
    from queries.pages.views import Links, PageRequest, context

    events = [event(str(n), f"{2 + n // 8:02d}/03/2026", f"{8 + n % 8:02d}:00", f"{9 + n % 8:02d}:00",
                    name=f"Cours {n} - Biologie cellulaire et moléculaire", note="Apporter le polycopié",
                    classrooms=["2001"], instructors=["4001", "4002"], trainees=["3001"], category5s=["5001"])
              for n in range(48)]
    body = msgspec.json.encode({"events": {
        "events": events,
        "classrooms": {"2001": {"name": "Salle 001 - Bâtiment Le Bel", "genealogy": ["STR  -SITE ESPLANADE", "LE BEL"],
                                "geolocation": [48.58, 7.76, 0]}},
        "instructors": {"4001": {"name": "Enseignant Un"}, "4002": {"name": "Enseignant Deux"}},
        "trainees": {"3001": {"name": "L3 Biologie"}}, "category5s": {"5001": {"name": "Biologie cellulaire"}}}})
    pages = Pages(load())
    key = "0b8f1f5e-3e8c-4c2a-9d8e-2f1f5e3e8c4c"
    page = PageRequest(view="week", auto=True, anchor=dt.date(2026, 3, 4), today=dt.date(2026, 3, 4), lang="fr",
                       explicit_lang=False)
    values = context(decode(body), page, Links(base=f"/timetable/{key}", sticky={}), title="Emploi du temps – jdupont",
                     place=None, show_instructors=True)
    ics = f"https://schedulesy.example.edu/api/timetable/{key}.ics"
    values.update(assets=pages.assets, fragment=False, origin="", layout="", too_many=False, zone="Europe/Paris",
                  lang_url="?lang=en", subscribe={"ics": ics, "webcal": ics.replace("https", "webcal"),
                                                  "google": "https://calendar.google.com/calendar/r?cid=" + ics * 2,
                                                  "outlook": "https://outlook.live.com/?url=" + ics * 2,
                                                  "qr": f"/api/timetable/{key}/qrcode.svg"})
    html = pages.render("timetable.html", values)
    assert html.count(b'class="ev"') == 48
    assert len(html) < 60_000
