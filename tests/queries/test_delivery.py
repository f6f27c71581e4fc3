"""Conditional GET and content negotiation rules, on stored documents held in memory."""

from __future__ import annotations

from typing import cast

import msgspec
import pytest
from litestar.types import Scope

from projections.builders.document import StoredDocument
from queries.delivery import (
    BytesResponse,
    RequestConditions,
    accepts_gzip,
    attachment,
    deliver,
    deliver_ics,
    etag_matches,
    gzip_etag,
    http_date,
    not_modified_since,
)

LAST_MODIFIED = 1_700_000_000  # Tue, 14 Nov 2023 22:13:20 GMT


def Stored(body: bytes, etag: str, last_modified: int, media_type: str = "application/json",  # noqa: N802
           gzip_body: bytes | None = None) -> StoredDocument:
    return StoredDocument(body=body, etag=etag, last_modified=last_modified, media_type=media_type,
                          gzip_body=gzip_body)


def conditions(**headers: str) -> RequestConditions:
    raw = [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return RequestConditions(cast(Scope, {"headers": raw}))  # only the headers are read


def header(response: BytesResponse, name: bytes) -> str | None:
    values = [value.decode() for key, value in response.headers if key == name]
    return ", ".join(values) if values else None


DOC = Stored(body=b'{"events":[]}', etag='"abc"', last_modified=LAST_MODIFIED, gzip_body=b"GZ")


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("*", True),
        ("*;q=0", False),
        ("br, *;q=0.1", True),
        ("identity", False),
        ("br", False),
    ],
)
def test_gzip_is_accepted_only_when_the_client_says_so(accept_encoding: str | None, expected: bool) -> None:
    raw = None if accept_encoding is None else accept_encoding.encode()
    assert accepts_gzip(raw) is expected


def test_if_none_match_uses_the_weak_comparison() -> None:
    assert etag_matches(b'"abc"', '"abc"')
    assert etag_matches(b'W/"abc"', '"abc"')
    assert etag_matches(b'"zzz", W/"abc"', '"abc"')
    assert etag_matches(b"*", '"abc"')
    assert not etag_matches(b'"abd"', '"abc"')
    assert not etag_matches(b'abc', '"abc"')


def test_the_gzip_etag_also_revalidates_the_document() -> None:
    assert gzip_etag('"abc"') == '"abc-gz"'
    assert etag_matches(b'"abc-gz"', '"abc"')
    assert etag_matches(b'W/"abc-gz"', '"abc"')


def test_if_modified_since_compares_whole_seconds() -> None:
    same = http_date(LAST_MODIFIED)
    assert same == b"Tue, 14 Nov 2023 22:13:20 GMT"
    assert not_modified_since(same, LAST_MODIFIED + 0.7)
    assert not_modified_since(b"Wed, 15 Nov 2023 00:00:00 GMT", LAST_MODIFIED)
    assert not not_modified_since(b"Tue, 14 Nov 2023 22:13:19 GMT", LAST_MODIFIED)


@pytest.mark.parametrize("garbage", [b"yesterday", b"", b"Tue, 99 Nov 2023 22:13:20 GMT", b"\xff\xfe"])
def test_an_unreadable_if_modified_since_is_ignored(garbage: bytes) -> None:
    assert not not_modified_since(garbage, LAST_MODIFIED)


def test_a_plain_request_gets_the_identity_body_with_validators() -> None:
    response = deliver(DOC, conditions(), cache_control="private, no-cache")
    assert response.status == 200
    assert response.body == DOC.body
    assert header(response, b"etag") == '"abc"'
    assert header(response, b"last-modified") == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert header(response, b"cache-control") == "private, no-cache"
    assert header(response, b"vary") == "Accept-Encoding"
    assert header(response, b"content-encoding") is None
    assert header(response, b"content-length") == str(len(DOC.body))
    assert header(response, b"content-type") == "application/json"


def test_a_gzip_client_gets_the_stored_gzip_body_with_its_own_etag() -> None:
    response = deliver(DOC, conditions(accept_encoding="gzip, deflate"), cache_control="no-cache")
    assert response.body == b"GZ"
    assert header(response, b"content-encoding") == "gzip"
    assert header(response, b"etag") == '"abc-gz"'
    assert header(response, b"content-length") == "2"


def test_gzip_is_never_sent_when_only_identity_is_stored() -> None:
    plain = msgspec.structs.replace(DOC, gzip_body=None)
    response = deliver(plain, conditions(accept_encoding="gzip"), cache_control="no-cache")
    assert response.body == plain.body
    assert header(response, b"content-encoding") is None
    assert header(response, b"vary") is None


def test_a_matching_if_none_match_gets_a_bodyless_304_with_the_same_validators() -> None:
    response = deliver(DOC, conditions(if_none_match='"abc"'), cache_control="private, no-cache")
    assert response.status == 304
    assert response.body == b""
    assert header(response, b"etag") == '"abc"'
    assert header(response, b"cache-control") == "private, no-cache"
    assert header(response, b"vary") == "Accept-Encoding"
    assert header(response, b"content-type") is None


def test_if_none_match_takes_precedence_over_if_modified_since() -> None:
    stale_tag_fresh_date = conditions(if_none_match='"old"', if_modified_since=http_date(LAST_MODIFIED).decode())
    assert deliver(DOC, stale_tag_fresh_date, cache_control="no-cache").status == 200


def test_if_modified_since_alone_gives_a_304_when_nothing_changed() -> None:
    response = deliver(DOC, conditions(if_modified_since="Tue, 14 Nov 2023 22:13:20 GMT"), cache_control="no-cache")
    assert response.status == 304


def test_answers_other_than_200_carry_no_validators_and_are_never_304() -> None:
    too_big = msgspec.structs.replace(DOC, status=413, gzip_body=None, body=b'{"code":"too_much_events"}')
    response = deliver(too_big, conditions(if_none_match="*"), cache_control="private, no-cache")
    assert response.status == 413
    assert response.body == too_big.body
    assert header(response, b"etag") is None


def test_an_ics_feed_is_an_utf8_calendar_attachment_named_after_its_owner() -> None:
    ics = Stored(body=b"BEGIN:VCALENDAR\r\n", etag='"i"', last_modified=LAST_MODIFIED, media_type="text/calendar")
    response = deliver_ics(ics, conditions(), "jean.dupont")
    assert header(response, b"content-type") == "text/calendar; charset=utf-8"
    assert header(response, b"content-disposition") == 'attachment; filename="jean.dupont.ics"'
    assert header(response, b"cache-control") == "no-cache"


def test_outlook_gets_an_identity_feed_even_when_it_asks_for_gzip() -> None:
    ics = Stored(body=b"BEGIN:VCALENDAR\r\n", etag='"i"', last_modified=LAST_MODIFIED, gzip_body=b"GZ")
    outlook = conditions(accept_encoding="gzip", user_agent="Microsoft Office/16.0 (Microsoft Outlook 16.0)")
    response = deliver_ics(ics, outlook, "jd")
    assert response.body == ics.body
    assert header(response, b"vary") == "Accept-Encoding, User-Agent"
    assert deliver_ics(ics, conditions(accept_encoding="gzip"), "jd").body == b"GZ"


def test_attachment_names_cannot_break_the_header() -> None:
    assert attachment('a"b;c\\d\u00e9.ics') == (b"content-disposition", b'attachment; filename="a_b_c_d_.ics"')
