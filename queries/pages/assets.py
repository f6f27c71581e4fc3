"""The pages' stylesheet and scripts, packaged with the wheel and held in memory.

Each file is served under a name carrying its content's hash (``/assets/pages.3f2a9c1b.css``), cached
for a year; ``/embed.js`` keeps its fixed name (pages of other sites include it), revalidated.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import msgspec

from projections.builders.document import Built, StoredDocument

ASSETS_PREFIX = "/assets"
EMBED_SCRIPT = "embed.js"
MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
FILES = ("pages.css", "pages.js", EMBED_SCRIPT)


class Asset(msgspec.Struct, frozen=True):
    name: str
    url: str
    """Where pages link it: hashed, except ``embed.js``."""
    document: StoredDocument


class Assets(msgspec.Struct, frozen=True):
    by_url_name: dict[str, Asset]
    """By the last segment of the URL (``pages.3f2a9c1b.css``)."""
    css: Asset
    js: Asset
    embed: Asset
    version: str
    """Changes with any file or template: part of every page's ETag."""


def load() -> Assets:
    package = resources.files("queries.pages")
    loaded: dict[str, Asset] = {}
    digest = hashlib.blake2b(digest_size=8)
    for name in FILES:
        body = package.joinpath("static", name).read_bytes()
        digest.update(body)
        stem, _, suffix = name.rpartition(".")
        content_hash = hashlib.blake2b(body, digest_size=5).hexdigest()
        url_name = name if name == EMBED_SCRIPT else f"{stem}.{content_hash}.{suffix}"
        url = f"/{name}" if name == EMBED_SCRIPT else f"{ASSETS_PREFIX}/{url_name}"
        document = Built(body, MEDIA_TYPES["." + suffix]).stored(last_modified=0)
        loaded[name] = Asset(name=name, url=url, document=document)
    for template in sorted(package.joinpath("templates").iterdir(), key=lambda t: t.name):
        digest.update(template.read_bytes())
    return Assets(
        by_url_name={asset.url.rpartition("/")[2]: asset for asset in loaded.values()},
        css=loaded["pages.css"], js=loaded["pages.js"], embed=loaded[EMBED_SCRIPT],
        version=digest.hexdigest(),
    )
