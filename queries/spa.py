"""Host the original's built front end (``SCHEDULESY_SPA_DIR``): its shell and its ``/site_media/`` assets.

The original served the single-page app itself: the shell (``index.html``, or the original's
``base.html``) on every history-mode route, so that a reload of ``/public/...`` works, and the bundle
under ``/site_media/`` (docs/compatibility.md §1.1, §7.6). Only when the setting is set does the app
factory add these routes; they are exact paths or live under ``/site_media/`` and ``/public/``, so no
API route can be shadowed.

The whole directory is read into memory once, when the app is built (before the first request):
a built bundle is a few megabytes that never change while the process runs, so every answer is a
dictionary lookup — no file system call on the event loop, gzip and the ETag computed once, and no
path from a request ever reaches the file system (a ``File`` response would open and stat a file
per request, and need its own guard against traversal). Traversal (``..``, encoded slashes, absolute
paths), directory listings and symlinks leading out of the directory cannot be served because
only the regular files found inside the directory at start-up are in the dictionary.
"""

from __future__ import annotations

import gzip
import mimetypes
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Request, get
from litestar.handlers import HTTPRouteHandler

from projections.builders.document import Built, StoredDocument
from queries.delivery import BytesResponse, RequestConditions, deliver
from schedulesy.errors import NotFound, StartupError
from schedulesy.settings import Settings, SettingsError, env_name

HISTORY_ROUTES = ("/", "/config", "/consult/calendar", "/consult/list", "/auth/cas/logout")
"""The front end's history-mode routes that the original answered with the shell, besides ``/public/…``."""
ASSETS_PREFIX = "/site_media"

MAX_TOTAL_BYTES = 128 * 1024 * 1024
"""Refuse to hold more than this in memory: a directory this large is not a built front end."""
GZIP_MIN_BYTES = 1024

SHELL_CACHE_CONTROL = "no-cache"
"""The shell names the current bundle: always revalidated, so a new deployment is picked up at once."""
HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
"""A name carrying its content's hash changes with the content: cache it for a year."""
PLAIN_CACHE_CONTROL = "public, no-cache"
"""Any other asset (``favicon.ico``) may change under the same name: stored, revalidated (a 304)."""

_HASHED_NAME = re.compile(r"[.\-_][0-9a-fA-F]{8,}(\.[A-Za-z0-9]+)+$")
"""``app.3f2a9c1b.js``, ``chunk-vendors.3f2a9c1b.js.map``: a hex hash of 8 or more digits before the extension."""

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".wasm": "application/wasm",
}
"""Fixed here rather than taken from the host's mime.types, which differs between machines."""
_COMPRESSIBLE = ("text/", "application/json", "application/manifest+json", "application/xml",
                 "image/svg+xml", "image/x-icon", "application/vnd.ms-fontobject", "application/wasm",
                 "font/ttf", "font/otf")
_NOSNIFF = [(b"x-content-type-options", b"nosniff")]


class FrontEnd(msgspec.Struct, frozen=True):
    """The shell and every asset of a built front-end directory, ready to be served."""

    shell: StoredDocument
    assets: dict[str, StoredDocument]
    """By path inside the directory, ``/``-separated (``js/app.3f2a9c1b.js``)."""


def media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _MEDIA_TYPES:
        return _MEDIA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def cache_control(name: str) -> str:
    return HASHED_CACHE_CONTROL if _HASHED_NAME.search(name.rpartition("/")[2]) else PLAIN_CACHE_CONTROL


def _document(body: bytes, media: str, modified: float) -> StoredDocument:
    compressed: bytes | None = None
    if len(body) >= GZIP_MIN_BYTES and media.startswith(_COMPRESSIBLE):
        compressed = gzip.compress(body, compresslevel=9, mtime=0)
        if len(compressed) >= len(body):
            compressed = None
    etag = Built(body, media).etag  # the read models' own validator
    return StoredDocument(body=body, etag=etag, last_modified=int(modified), media_type=media, gzip_body=compressed)


def load_front_end(settings: Settings) -> FrontEnd:
    """Read the built front end in ``SCHEDULESY_SPA_DIR``; :class:`StartupError` naming the variable
    when it is missing, unreadable, has no shell (:meth:`Settings.spa_shell`) or is too large.
    Hidden files (``.git``, ``.env``) are left out, as are symlinks leading out of the directory."""
    variable, directory = env_name("spa_dir"), settings.spa_dir
    try:
        shell_name = settings.spa_shell()
    except SettingsError as exc:
        raise StartupError(str(exc)) from None
    if shell_name is None:
        raise StartupError(f"{variable} is not set")
    real_root = Path(directory).resolve()
    assets: dict[str, StoredDocument] = {}
    total = 0
    for folder, subfolders, files in os.walk(real_root, onerror=_raise):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder, name)
            real = path.resolve()
            if not real.is_relative_to(real_root) or not real.is_file():
                continue
            try:
                body = real.read_bytes()
                modified = real.stat().st_mtime
            except OSError as exc:
                raise StartupError(f"{variable}: cannot read {str(path)!r}: {exc.strerror}") from None
            total += len(body)
            if total > MAX_TOTAL_BYTES:
                raise StartupError(f"{variable}: {directory!r} holds more than {MAX_TOTAL_BYTES // 2**20} MiB; "
                                   "give the built front end's directory (only what the browser loads)")
            relative = path.relative_to(real_root).as_posix()
            assets[relative] = _document(body, media_type(name), modified)
    shell = assets.get(shell_name.name)
    if shell is None:  # a symlink out of the directory
        raise StartupError(f"{variable}: {directory!r}: its {shell_name.name} lies outside the directory")
    return FrontEnd(shell=shell, assets=assets)


def _raise(exc: OSError) -> None:
    raise StartupError(f"{env_name('spa_dir')}: cannot read {exc.filename!r}: {exc.strerror}")


def requested_name(scope: Any) -> str | None:
    """The asset's name as the client wrote it, or None when it cannot name a file of ours.

    Read from the raw path, because the router has already decoded ``%2f`` into ``/`` and merged
    ``//``: an encoded ``/`` or ``\\``, or an empty segment (an absolute path), is refused here.
    """
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    tail = raw.partition(b"?")[0][len(ASSETS_PREFIX) + 1:]
    lowered = tail.lower()
    if b"%2f" in lowered or b"%5c" in lowered or b"//" in tail or tail.startswith(b"/"):
        return None
    try:
        return unquote_to_bytes(tail).decode("utf-8")
    except UnicodeDecodeError:
        return None


def front_end_handlers(front_end: FrontEnd) -> list[HTTPRouteHandler]:
    """The routes that serve ``front_end``: the shell on the history routes, the assets under ``/site_media/``."""

    @get([*HISTORY_ROUTES, "/public", "/public/{rest:path}"], include_in_schema=False, sync_to_thread=False)
    def shell(request: Request[Any, Any, Any]) -> BytesResponse:
        """The front end's shell: it routes the path itself."""
        return deliver(front_end.shell, RequestConditions(request.scope), cache_control=SHELL_CACHE_CONTROL,
                       extra_headers=_NOSNIFF)

    @get(f"{ASSETS_PREFIX}/{{path:path}}", include_in_schema=False, sync_to_thread=False)
    def asset(request: Request[Any, Any, Any]) -> BytesResponse:
        """One file of the built front end, by its path inside the directory; anything else is a 404."""
        name = requested_name(request.scope)
        document = front_end.assets.get(name) if name is not None else None
        if name is None or document is None:
            raise NotFound("No such file")
        return deliver(document, RequestConditions(request.scope), cache_control=cache_control(name),
                       extra_headers=_NOSNIFF)

    return [shell, asset]
