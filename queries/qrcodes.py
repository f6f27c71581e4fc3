"""QR codes of subscription URLs, as SVG or PNG (pure Python: qrcode + pypng, no Pillow).

A QR code depends only on the URL it encodes, so it is drawn once per process and kept in a
small LRU; drawing takes milliseconds of CPU, so it runs in a worker thread.
"""

from __future__ import annotations

import hashlib
import io
from typing import Literal, TypeAlias

import anyio.to_thread
import qrcode
import qrcode.constants
import qrcode.image.pure
import qrcode.image.svg

from schedulesy.lru import Lru

QrFormat: TypeAlias = Literal["svg", "png"]

MEDIA_TYPES: dict[QrFormat, str] = {"svg": "image/svg+xml", "png": "image/png"}
_FACTORIES = {"svg": qrcode.image.svg.SvgPathImage, "png": qrcode.image.pure.PyPNGImage}
PNG_BOX_PIXELS = 8
QUIET_ZONE_MODULES = 4
CACHE_SIZE = 1024


def draw(url: str, fmt: QrFormat) -> bytes:
    """The QR code of ``url`` (error correction M, standard quiet zone)."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=PNG_BOX_PIXELS if fmt == "png" else 10,
        border=QUIET_ZONE_MODULES,
        image_factory=_FACTORIES[fmt],
    )
    code.add_data(url)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()


def etag(url: str, fmt: QrFormat) -> str:
    """A strong ETag derived from what the image encodes (and how it is drawn)."""
    digest = hashlib.sha256(f"qr1|{fmt}|{url}".encode()).hexdigest()[:32]
    return f'"{digest}"'


class QrCache:
    """Drawn images by (url, format), least recently used evicted first."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._images: Lru[tuple[str, QrFormat], bytes] = Lru(size)

    async def image(self, url: str, fmt: QrFormat) -> bytes:
        key = (url, fmt)
        cached = self._images.get(key)
        if cached is not None:
            return cached
        return self._images.put(key, await anyio.to_thread.run_sync(draw, url, fmt))
