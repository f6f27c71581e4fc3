"""The pages people open: a timetable behind a direct-access key, a room's public timetable, the
landing page, and the embeddable widget (``/embed.js`` and the fragments it loads).

Every page is rendered from the read facade's documents (``queries/reads.py``): the calendar a
key's JSON serves, the anonymous events document of a room, nothing else. A malformed, unknown or
revoked key gets the very same 404 page.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Request, get
from litestar.params import Parameter
from litestar.handlers import HTTPRouteHandler

from projections.builders.document import StoredDocument
from queries.delivery import PUBLIC_SHORT, BytesResponse, RequestConditions, deliver
from queries.deps import query_state, reads_of, services_of
from queries.pages.assets import ASSETS_PREFIX
from queries.pages.i18n import LANGS, WORDS, Lang, negotiate
from queries.pages.model import VIEWS, Room, Timetable, View
from queries.pages.render import Pages
from queries.pages.views import DEFAULT_HOUR_PIXELS, Links, PageRequest, context
from queries.params import EXT_ID, access_key
from queries.timetables import ics_url
from schedulesy.apidocs import SCHEMA_PATH
from schedulesy.categories import open_to_anonymous
from schedulesy.errors import BadRequest, NotFound
from schedulesy.settings import Settings

PathText = Annotated[str, Parameter()]

DEMO_TIMETABLE_PATH = "/demo/timetable"
KEY_PAGE_CACHE = "private, no-cache"
"""Behind a secret key: only the reader's browser keeps it, revalidated (a revoked key stops at once)."""
NOT_FOUND_CACHE = "no-cache"
SCRIPT_CACHE = "public, max-age=300"
HASHED_CACHE = "public, max-age=31536000, immutable"
EMBED_CORS = [(b"access-control-allow-origin", b"*")]
"""The fragments the widget loads: readable from any origin, never with credentials."""
KEY_VIEWS: dict[str, View] = {view: view for view in VIEWS}
PUBLIC_VIEWS: dict[str, View] = {"day": "day", "week": "week", "month": "month"}
"""A public page's ``type``; anything else is the list (docs/compatibility.md §7.5)."""
PUBLIC_OFFERED: tuple[View, ...] = ("day", "week", "month")
"""The list is a public page's default (on small screens), not a ``type`` of its own."""
LAYOUTS = {"appbarless": "AppBarLess", "headerless": "HeaderLess"}
DEFAULT_LAYOUT = "AppBarLess"


def pages_of(request: Request[Any, Any, Any]) -> Pages:
    pages: Pages = query_state(request).pages
    return pages


def _lang(request: Request[Any, Any, Any]) -> tuple[Lang, bool]:
    asked = request.query_params.get("lang")
    if asked is None:
        return negotiate(request.headers.get("accept-language")), False
    lowered = asked.lower()
    for lang in LANGS:
        if lowered == lang:
            return lang, True
    raise BadRequest(f"lang: expected one of {', '.join(LANGS)}", field="lang")


def _date(request: Request[Any, Any, Any], today: dt.date) -> dt.date:
    asked = request.query_params.get("date")
    if asked is None:
        return today
    try:
        if len(asked) != 10:
            raise ValueError(asked)
        return dt.date.fromisoformat(asked)
    except ValueError:
        raise BadRequest("date: expected a date as YYYY-MM-DD", field="date") from None


def _today(settings: Settings) -> dt.date:
    return dt.datetime.now(settings.zone).date()


async def _not_found(request: Request[Any, Any, Any], *, fragment: bool = False) -> BytesResponse:
    pages = pages_of(request)
    try:
        lang, _ = _lang(request)
    except BadRequest:
        lang = negotiate(request.headers.get("accept-language"))
    words = WORDS[lang]
    template = "fragment_not_found.html" if fragment else "not_found.html"
    async def render() -> bytes:
        return pages.render(template, {"w": words, "lang": lang, "assets": pages.assets})

    return await pages.respond(
        RequestConditions(request.scope), pages.etag("404", template, lang), render,
        status=404, cache_control=NOT_FOUND_CACHE, extra_headers=EMBED_CORS if fragment else None,
    )


# ---------------------------------------------------------------------------------------------
# A timetable by key


def _key(value: str) -> str | None:
    try:
        return access_key(value)
    except NotFound:
        return None


async def _key_page(request: Request[Any, Any, Any], key: str, *, fragment: bool) -> BytesResponse:
    canonical = _key(key)
    found = await reads_of(request).access_timetable(canonical) if canonical is not None else None
    if canonical is None or found is None:
        return await _not_found(request, fragment=fragment)
    grant, document = found
    settings = services_of(request).settings
    today = _today(settings)
    lang, explicit_lang = _lang(request)
    asked_view = request.query_params.get("view")
    view = KEY_VIEWS.get(asked_view or "week")
    if view is None:
        raise BadRequest(f"view: expected one of {', '.join(VIEWS)}", field="view")
    page = PageRequest(view=view, auto=asked_view is None, anchor=_date(request, today),
                       today=today, lang=lang, explicit_lang=explicit_lang)
    base = settings.public_base
    path = f"/timetable/{canonical}"
    links = Links(base=f"{base}/embed{path}" if fragment else path, sticky={"lang": lang} if explicit_lang else {})
    pages = pages_of(request)
    etag = pages.etag("key", fragment, canonical, grant.username, document.etag, document.status, page, base)

    async def render() -> bytes:
        ics = ics_url(services_of(request), canonical)
        webcal = "webcal://" + ics.partition("://")[2]
        words = WORDS[lang]
        title = f"{words.timetable} – {grant.username}"
        values = context(await _events(pages, document), page, links, title=title, place=None, show_instructors=True)
        values.update(
            assets=pages.assets, fragment=fragment, origin=base if fragment else "", layout="",
            too_many=document.status != 200, zone=settings.timezone,
            lang_url=Links(base=links.base, sticky={}).to(
                view=None if page.auto else page.view, date=request.query_params.get("date"),
                lang="en" if lang == "fr" else "fr"),
            subscribe={
                "ics": ics, "webcal": webcal,
                "google": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
                "outlook": "https://outlook.live.com/calendar/0/addfromweb?url=" + quote(ics, safe="")
                           + "&name=" + quote(title, safe=""),
                "qr": f"{base if fragment else ''}/api/timetable/{canonical}/qrcode.svg",
            },
        )
        return pages.render("fragment.html" if fragment else "timetable.html", values)

    return await pages.respond(RequestConditions(request.scope), etag, render, cache_control=KEY_PAGE_CACHE,
                         extra_headers=EMBED_CORS if fragment else None)


async def _events(pages: Pages, document: StoredDocument, resource_id: str | None = None) -> Timetable:
    if document.status != 200:
        return Timetable(by_day={})
    return await pages.timetable(document, resource_id)


@get("/timetable/{key:str}", include_in_schema=False)
async def timetable_page(request: Request[Any, Any, Any], key: PathText) -> BytesResponse:
    """The timetable behind a direct-access key: no login, the key is the secret."""
    return await _key_page(request, key, fragment=False)


@get("/embed/timetable/{key:str}", include_in_schema=False)
async def timetable_fragment(request: Request[Any, Any, Any], key: PathText) -> BytesResponse:
    """The same timetable as a fragment for ``/embed.js`` (links absolute, readable from any origin)."""
    return await _key_page(request, key, fragment=True)


# ---------------------------------------------------------------------------------------------
# A room's public timetable (docs/compatibility.md §7.5)


def _public_parameters(request: Request[Any, Any, Any]) -> tuple[View | None, str, int, bool]:
    """(type, layout, hour pixels, whether the path carried them) from the path, else the query."""
    params = request.path_params
    in_path = "type" in params
    if in_path:
        kind, layout, height = params.get("type"), params.get("layout"), params.get("interval_height")
    else:
        query = request.query_params
        kind, layout, height = query.get("type"), query.get("layout"), query.get("interval_height")
    view = PUBLIC_VIEWS.get((kind or "").lower())
    layout_name = LAYOUTS.get((layout or "").lower(), DEFAULT_LAYOUT)
    try:
        interval = int(height or 0)
    except ValueError:
        interval = 0
    hour_pixels = 2 * interval if 0 < interval <= 200 else DEFAULT_HOUR_PIXELS
    return view, layout_name, hour_pixels, in_path


async def _room_page(request: Request[Any, Any, Any], resource: str, *, fragment: bool) -> BytesResponse:
    document = await reads_of(request).resource_events(resource, anonymous=True) if EXT_ID.fullmatch(resource) else None
    if document is None or document.status != 200 or not open_to_anonymous(document.meta.get("category")):
        return await _not_found(request, fragment=fragment)
    settings = services_of(request).settings
    today = _today(settings)
    lang, explicit_lang = _lang(request)
    view, layout, hour_pixels, in_path = _public_parameters(request)
    if fragment:
        asked = request.query_params.get("view")
        view = KEY_VIEWS.get((asked or "").lower(), view)
    page = PageRequest(view=view or "day", auto=view is None, anchor=_date(request, today), today=today, lang=lang,
                       explicit_lang=explicit_lang, hour_pixels=hour_pixels)
    base = settings.public_base
    sticky: dict[str, str] = {"lang": lang} if explicit_lang else {}
    if fragment:
        links = Links(base=f"{base}/embed/room/{resource}", sticky=sticky)
    else:
        if layout != DEFAULT_LAYOUT:
            sticky["layout"] = layout
        if hour_pixels != DEFAULT_HOUR_PIXELS:
            sticky["interval_height"] = str(hour_pixels // 2)
        links = Links(base=f"/public/{resource}", sticky=sticky, view_param="type")
    pages = pages_of(request)
    etag = pages.etag("room", fragment, resource, document.etag, page, layout, in_path, base)

    async def render() -> bytes:
        timetable = await _events(pages, document, resource)
        place = timetable.place or Room(name=resource, place="", map_url=None)
        values = context(timetable, page, links, title=place.name, place=place, show_instructors=False,
                         offered=VIEWS if fragment else PUBLIC_OFFERED)
        values.update(
            assets=pages.assets, fragment=fragment, origin=base if fragment else "", layout=layout,
            too_many=False, zone=settings.timezone, subscribe=None,
            lang_url=Links(base=links.base, sticky={k: v for k, v in sticky.items() if k != "lang"}).to(
                date=request.query_params.get("date"), lang="en" if lang == "fr" else "fr"),
        )
        return pages.render("fragment.html" if fragment else "timetable.html", values)

    return await pages.respond(RequestConditions(request.scope), etag, render, cache_control=PUBLIC_SHORT,
                         extra_headers=EMBED_CORS if fragment else None)


@get(
    ["/public/{resource:str}", "/public/{resource:str}/{type:str}", "/public/{resource:str}/{type:str}/{layout:str}",
     "/public/{resource:str}/{type:str}/{layout:str}/{interval_height:str}"],
    include_in_schema=False,
)
async def room_page(request: Request[Any, Any, Any], resource: PathText) -> BytesResponse:
    """A room's public timetable, without instructors; ``AppBarLess`` / ``HeaderLess`` for embedding."""
    return await _room_page(request, resource, fragment=False)


@get("/embed/room/{resource:str}", include_in_schema=False)
async def room_fragment(request: Request[Any, Any, Any], resource: PathText) -> BytesResponse:
    return await _room_page(request, resource, fragment=True)


# ---------------------------------------------------------------------------------------------
# Landing page, assets, widget


@get("/", include_in_schema=False)
async def landing_page(request: Request[Any, Any, Any]) -> BytesResponse:
    """What ``/`` shows when no front end is hosted: what this is, the API docs, the demo's pages."""
    settings = services_of(request).settings
    lang, _ = _lang(request)
    words = WORDS[lang]
    demo: list[tuple[str, str]] = []
    if settings.demo_user:
        demo.append((words.demo_timetable, DEMO_TIMETABLE_PATH))
        demo.extend((f"{words.demo_room} – {name}", f"/public/{ext_id}")
                    for ext_id, name in await _demo_rooms(request, settings.demo_user))
    pages = pages_of(request)
    etag = pages.etag("landing", lang, demo)

    async def render() -> bytes:
        return pages.render("landing.html", {"w": words, "lang": lang, "assets": pages.assets,
                                             "docs": SCHEMA_PATH, "demo": demo})

    return await pages.respond(RequestConditions(request.scope), etag, render, cache_control="no-cache")


async def _demo_rooms(request: Request[Any, Any, Any], username: str) -> list[tuple[str, str]]:
    """The rooms among the demo user's selection (their node documents say which are rooms)."""
    reads = reads_of(request)
    selection = await reads.user_selection(username)
    rooms = []
    for ext_id in selection.resources if selection is not None else ():
        node = await reads.resource_node(ext_id)
        if node is not None and open_to_anonymous(node.meta.get("category")):
            rooms.append((ext_id, str(msgspec.json.decode(node.body).get("name", ext_id))))
    return rooms


@get(DEMO_TIMETABLE_PATH, include_in_schema=False)
async def demo_timetable(request: Request[Any, Any, Any]) -> BytesResponse:
    """Demo mode only: to the page of the demo user's default access (the oldest key, as the front end links)."""
    services = services_of(request)
    if not services.settings.demo_user:
        return await _not_found(request)
    key = await services.pool.fetchval(
        "SELECT key::text FROM schedulesy.access WHERE username = $1 ORDER BY created_at, key LIMIT 1",
        services.settings.demo_user,
    )
    if not key:
        return await _not_found(request)
    return BytesResponse(303, [(b"location", f"/timetable/{key}".encode("ascii")), (b"cache-control", b"no-store"),
                               (b"content-length", b"0")])


@get(f"{ASSETS_PREFIX}/{{name:str}}", include_in_schema=False, sync_to_thread=False)
def page_asset(request: Request[Any, Any, Any], name: PathText) -> BytesResponse:
    asset = pages_of(request).assets.by_url_name.get(name)
    if asset is None or asset.url.startswith("/embed"):
        raise NotFound("No such file")
    return deliver(asset.document, RequestConditions(request.scope), cache_control=HASHED_CACHE)


@get("/embed.js", include_in_schema=False, sync_to_thread=False)
def embed_script(request: Request[Any, Any, Any]) -> BytesResponse:
    """The widget: other sites include it by this fixed name."""
    return deliver(pages_of(request).assets.embed.document, RequestConditions(request.scope),
                   cache_control=SCRIPT_CACHE)


def page_handlers(*, front_end_hosted: bool) -> list[HTTPRouteHandler]:
    """Every page route; ``/`` and ``/public/…`` stay the hosted front end's when there is one."""
    always = [timetable_page, timetable_fragment, room_fragment, page_asset, embed_script, demo_timetable]
    return always if front_end_hosted else [*always, room_page, landing_page]
