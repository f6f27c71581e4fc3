"""The timetable by personal key: JSON, the short ICS URL, QR codes, and revoked keys."""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET

import asyncpg
import png
import pytest
from litestar.testing import AsyncTestClient

from projections.readmodels import ReadModels
from queries.qrcodes import draw
from schedulesy.changes import Topic
from tests.fixtures.mirror import insert_access
from tests.fixtures.seeded import Seeded
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.cluster_too

SVG_NS = "{http://www.w3.org/2000/svg}"


async def status_is(api: AsyncTestClient, path: str, status: int) -> bool:
    return (await api.get(path)).status_code == status


async def test_the_json_timetable_by_key_is_the_owners_calendar(api: AsyncTestClient, seeded: Seeded) -> None:
    by_key = await api.get(f"/api/timetable/{seeded.key}.json")
    by_login = await api.get(f"/api/calendar/{seeded.owner}.json", headers=seeded.owner_headers)
    assert by_key.status_code == 200
    assert by_key.headers["content-type"] == "application/json"
    assert by_key.headers["cache-control"] == "no-cache"
    assert by_key.content == by_login.content
    slashed = await api.get(f"/api/timetable/{seeded.key}.json/")
    assert slashed.content == by_key.content


async def test_the_svg_qr_code_is_an_svg_image_of_the_short_ics_url(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get(f"/api/timetable/{seeded.key}/qrcode.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG_NS}svg"
    assert response.content == draw(f"https://testserver/api/timetable/{seeded.key}.ics", "svg")


async def test_the_png_qr_code_is_a_square_png_of_the_short_ics_url(api: AsyncTestClient, seeded: Seeded) -> None:
    response = await api.get(f"/api/timetable/{seeded.key}/qrcode.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    width, height, _, _ = png.Reader(file=io.BytesIO(response.content)).read()
    assert width == height > 200
    assert response.content == draw(f"https://testserver/api/timetable/{seeded.key}.ics", "png")


async def test_qr_codes_are_cacheable_and_revalidate(api: AsyncTestClient, seeded: Seeded) -> None:
    for fmt in ("svg", "png"):
        path = f"/api/timetable/{seeded.key}/qrcode.{fmt}"
        first = await api.get(path)
        assert first.headers["cache-control"] == "private, max-age=86400"
        again = await api.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
    svg = (await api.get(f"/api/timetable/{seeded.key}/qrcode.svg")).headers["etag"]
    png_tag = (await api.get(f"/api/timetable/{seeded.key}/qrcode.png")).headers["etag"]
    assert svg != png_tag


async def test_unknown_malformed_and_revoked_keys_look_the_same(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool, read_models: ReadModels
) -> None:
    revoked = seeded.key
    assert (await api.get(f"/api/timetable/{revoked}.ics")).status_code == 200  # cached in Redis now
    await pool.execute("DELETE FROM schedulesy.access WHERE key = $1::uuid", revoked)
    await read_models.apply({Topic.ACCESS: {revoked}})
    await eventually(lambda: status_is(api, f"/api/timetable/{revoked}.ics", 404), "the key is revoked")
    unknown = str(uuid.uuid4())
    answers = []
    for key in (revoked, unknown, "not-a-key"):
        for path in (f"/api/timetable/{key}.ics", f"/api/timetable/{key}.json", f"/api/calendar/{key}/export",
                     f"/api/timetable/{key}/qrcode.svg", f"/api/timetable/{key}/qrcode.png"):
            response = await api.get(path)
            assert response.status_code == 404, path
            answers.append((response.headers["content-type"], response.json()))
    assert len(set(map(str, answers))) == 1


async def test_a_revoked_key_answers_404_within_a_second_of_the_projectors_change(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool, read_models: ReadModels
) -> None:
    path = f"/api/timetable/{seeded.key}.ics"
    etag = (await api.get(path)).headers["etag"]
    await pool.execute("DELETE FROM schedulesy.access WHERE key = $1::uuid", seeded.key)
    changed = await pool.fetchval("SELECT array_agg(key) FROM schedulesy.change WHERE topic = $1", Topic.ACCESS)
    await read_models.apply({Topic.ACCESS: set(changed)})  # what the worker does with the change log
    await eventually(lambda: status_is(api, path, 404), "the revoked key answers 404", within=1.0)
    assert (await api.get(path, headers={"If-None-Match": etag})).status_code == 404


async def test_a_revoked_key_never_read_before_is_unknown_through_read_through(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool
) -> None:
    await pool.execute("DELETE FROM schedulesy.access WHERE key = $1::uuid", seeded.key)
    assert (await api.get(f"/api/timetable/{seeded.key}.ics")).status_code == 404


async def test_another_access_of_the_same_user_keeps_working(
    api: AsyncTestClient, seeded: Seeded, pool: asyncpg.Pool, read_models: ReadModels
) -> None:
    phone = await insert_access(pool, seeded.owner, "phone")
    await pool.execute("DELETE FROM schedulesy.access WHERE key = $1::uuid", seeded.key)
    await read_models.apply({Topic.ACCESS: {seeded.key}})
    response = await api.get(f"/api/timetable/{phone}.ics")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="jdupont.ics"'
