"""What a page's template receives: the period, its events laid out for the view, the links.

Pure: a decoded timetable and the request's parameters in, a template context out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import msgspec

from queries.pages.i18n import WORDS, Lang
from queries.pages.model import (
    MONTH_CELL_EVENTS,
    VIEWS,
    Room,
    Timetable,
    View,
    events_between,
    grid,
    month_weeks,
    period,
)

DEFAULT_HOUR_PIXELS = 48


class PageRequest(msgspec.Struct, frozen=True):
    """A page's parameters once checked."""

    view: View
    auto: bool
    """No view was asked for: the wide view's grid, which the stylesheet lays out as a list on narrow
    screens (one copy of each event in the page, not two)."""
    anchor: dt.date
    today: dt.date
    lang: Lang
    explicit_lang: bool
    hour_pixels: int = DEFAULT_HOUR_PIXELS


class Links(msgspec.Struct, frozen=True):
    """How a page links to itself with other parameters."""

    base: str
    """Path (or, in an embed, absolute URL) of the page; links are ``base?query``."""
    sticky: Mapping[str, str]
    """Parameters every link keeps (the language asked for, a public page's layout)."""
    view_param: str = "view"

    def to(self, **params: str | None) -> str:
        query = {**self.sticky, **{k: v for k, v in params.items() if v is not None}}
        return self.base + ("?" + urlencode(query) if query else "")


def context(
    timetable: Timetable,
    page: PageRequest,
    links: Links,
    *,
    title: str,
    place: Room | None,
    show_instructors: bool,
    offered: tuple[View, ...] = VIEWS,
) -> dict[str, Any]:
    words = WORDS[page.lang]
    span = period(page.view, page.anchor)
    view_value = None if page.auto else page.view

    def view_link(view: View, day: dt.date) -> str:
        return links.to(**{links.view_param: view, "date": day.isoformat()})

    views = [
        {"view": view, "label": getattr(words, view), "url": view_link(view, page.anchor),
         "current": view == page.view and not page.auto}
        for view in offered
    ]
    result: dict[str, Any] = {
        "w": words, "lang": page.lang, "page": page, "span": span, "title": title, "place": place,
        "show_instructors": show_instructors, "views": views, "today": page.today,
        "previous_url": links.to(**{links.view_param: view_value, "date": span.previous.isoformat()}),
        "next_url": links.to(**{links.view_param: view_value, "date": span.next.isoformat()}),
        "today_url": links.to(**{links.view_param: view_value}),
        "day_url": lambda day: view_link("day", day),
        "grid": None, "list_days": None, "weeks": None,
        "month_cell_events": MONTH_CELL_EVENTS, "hour_pixels": page.hour_pixels,
    }
    result["c"] = result
    if page.view == "month":
        result["weeks"] = month_weeks(timetable, span)
        result["period_title"] = words.month_title(span.anchor)
    elif page.view == "day":
        result["period_title"] = words.long_date(span.first)
    else:
        result["period_title"] = words.range_title(span.first, span.last)
    if page.view in ("week", "day"):
        result["grid"] = grid(timetable, span.days)
    if page.view == "list":
        result["list_days"] = [(day, events) for day, events in events_between(timetable, span.days) if events]
    return result
