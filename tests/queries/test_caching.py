"""Conditional GET (ETag / Last-Modified / 304), gzip negotiation, and bytes served as stored."""

from __future__ import annotations

import gzip

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from projections.builders.document import from_wire
from schedulesy.keys import Keys
from schedulesy.selection import Selection
from schedulesy.settings import Settings
from tests.fixtures.mirror import GROUP, ROOM
from tests.fixtures.seeded import Seeded

pytestmark = pytest.mark.cluster_too

IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


def endpoints(seeded: Seeded) -> list[tuple[str, dict[str, str]]]:
    """Every read endpoint whose answer is a stored document, with the headers it needs."""
    auth = seeded.owner_headers
    return [
        ("/api/resource/classroom.json", auth),
        (f"/api/resource/{ROOM}.json/", auth),
        (f"/api/events/{ROOM}.json", {}),
        (f"/api/events/{ROOM}.json", auth),
        (f"/api/calendar/{seeded.owner}.json", auth),
        (f"/api/calendar/{seeded.key}/export", {}),
        (f"/api/timetable/{seeded.key}.json", {}),
        (f"/api/timetable/{seeded.key}.ics", {}),
        ("/api/instructor.json?email=gerard.toto@example.edu", auth),
    ]


async def raw_get(api: AsyncTestClient, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body exactly as sent (no transparent decompression)."""
    async with api.stream("GET", path, headers=headers) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        return response.status_code, dict(response.headers), body


async def test_every_stored_document_revalidates_with_its_etag(api: AsyncTestClient, seeded: Seeded) -> None:
    for path, headers in endpoints(seeded):
        first = await api.get(path, headers={**headers, **IDENTITY})
        assert first.status_code == 200, path
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"'), path  # strong
        again = await api.get(path, headers={**headers, **IDENTITY, "If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == first.headers["cache-control"]


async def test_every_stored_document_revalidates_with_its_date(api: AsyncTestClient, seeded: Seeded) -> None:
    for path, headers in endpoints(seeded):
        first = await api.get(path, headers=headers)
        again = await api.get(path, headers={**headers, "If-Modified-Since": first.headers["last-modified"]})
        assert again.status_code == 304, path


async def test_a_weak_or_listed_etag_also_revalidates(api: AsyncTestClient, seeded: Seeded) -> None:
    path = f"/api/calendar/{seeded.key}/export"
    etag = (await api.get(path, headers=IDENTITY)).headers["etag"]
    assert (await api.get(path, headers={"If-None-Match": f'"other", W/{etag}'})).status_code == 304
    assert (await api.get(path, headers={"If-None-Match": "*"})).status_code == 304


async def test_a_stale_etag_wins_over_a_current_date(api: AsyncTestClient, seeded: Seeded) -> None:
    path = f"/api/timetable/{seeded.key}.ics"
    first = await api.get(path)
    response = await api.get(path, headers={"If-None-Match": '"stale"',
                                            "If-Modified-Since": first.headers["last-modified"]})
    assert response.status_code == 200
    assert response.content == first.content


async def test_an_older_date_gets_the_full_answer(api: AsyncTestClient, seeded: Seeded) -> None:
    path = f"/api/timetable/{seeded.key}.ics"
    response = await api.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert response.status_code == 200


async def test_gzip_goes_only_to_clients_that_ask_for_it(api: AsyncTestClient, seeded: Seeded) -> None:
    path = f"/api/calendar/{seeded.owner}.json"
    status, plain_headers, plain = await raw_get(api, path, {**seeded.owner_headers, **IDENTITY})
    assert status == 200
    assert "content-encoding" not in plain_headers
    assert plain_headers["vary"] == "Accept-Encoding"
    status, gz_headers, compressed = await raw_get(api, path, {**seeded.owner_headers, **GZIP})
    assert gz_headers["content-encoding"] == "gzip"
    assert gz_headers["vary"] == "Accept-Encoding"
    assert int(gz_headers["content-length"]) == len(compressed) < len(plain)
    assert gzip.decompress(compressed) == plain
    assert gz_headers["etag"] != plain_headers["etag"]  # two representations, two strong tags
    refused = await raw_get(api, path, {**seeded.owner_headers, "Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused[1] and refused[2] == plain
    _, no_header, body = await raw_get(api, path, {**seeded.owner_headers, "Accept-Encoding": ""})
    assert "content-encoding" not in no_header and body == plain


async def test_the_gzip_etag_revalidates_the_identity_body_and_back(api: AsyncTestClient, seeded: Seeded) -> None:
    path = f"/api/timetable/{seeded.key}.json"
    _, gz_headers, _ = await raw_get(api, path, GZIP)
    _, plain_headers, _ = await raw_get(api, path, IDENTITY)
    status, headers, body = await raw_get(api, path, {**IDENTITY, "If-None-Match": gz_headers["etag"]})
    assert (status, body) == (304, b"")
    assert headers["etag"] == plain_headers["etag"]
    status, headers, _ = await raw_get(api, path, {**GZIP, "If-None-Match": plain_headers["etag"]})
    assert status == 304
    assert headers["etag"] == gz_headers["etag"]


async def test_outlook_gets_an_uncompressed_feed(api: AsyncTestClient, seeded: Seeded) -> None:
    agent = {"User-Agent": "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"}
    status, headers, body = await raw_get(api, f"/api/timetable/{seeded.key}.ics", {**GZIP, **agent})
    assert status == 200
    assert "content-encoding" not in headers
    assert body.startswith(b"BEGIN:VCALENDAR")


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_the_answer_is_the_stored_bytes_unchanged(
    api: AsyncTestClient, seeded: Seeded, redis: Redis, settings: Settings, encoding: str
) -> None:
    path = f"/api/calendar/{seeded.owner}.json"
    _, headers, body = await raw_get(api, path, {**seeded.owner_headers, "Accept-Encoding": encoding})
    key = Keys(settings.redis_prefix).calendar(Selection.of([ROOM, GROUP]).hash)
    raw = await redis.hget(key, "d")
    assert isinstance(raw, bytes)
    stored = from_wire(raw)
    assert body == (stored.gzip_body if encoding == "gzip" else stored.body)
    assert headers["etag"].startswith(stored.etag[:-1])


async def test_nothing_changes_nothing_moves(api: AsyncTestClient, seeded: Seeded) -> None:
    """Two reads of an unchanged calendar carry the same validators (clients keep getting 304s)."""
    path = f"/api/calendar/{seeded.owner}.json"
    first = await api.get(path, headers=seeded.owner_headers)
    second = await api.get(path, headers=seeded.owner_headers)
    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["last-modified"] == second.headers["last-modified"]
