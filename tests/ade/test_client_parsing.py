"""ADE's formats, parsed from bytes: the three date formats, colours, error roots, odd shapes."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from schedulesy.ade import xml
from schedulesy.ade.dates import (
    format_request_date,
    local_instant,
    parse_event_date,
    parse_hour,
    parse_stamp,
)
from schedulesy.ade.errors import (
    AdeBusinessError,
    AdeEmptyAnswer,
    AdeLoginError,
    AdeProtocolError,
    AdeSessionError,
    classify_error,
)
from schedulesy.ade.models import rgb_to_hex

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc


def test_request_dates_are_month_first_and_event_dates_day_first() -> None:
    assert format_request_date(dt.date(2025, 1, 5)) == "01/05/2025"
    assert parse_event_date("05/01/2025") == dt.date(2025, 1, 5)
    assert parse_event_date("14/01/2020") == dt.date(2020, 1, 14)
    assert parse_event_date("") is None and parse_event_date("31/02/2020") is None


def test_last_update_is_month_first_with_minutes_and_may_be_empty() -> None:
    assert parse_stamp("09/23/2019 14:51") == dt.datetime(2019, 9, 23, 14, 51)
    assert parse_stamp("") is None and parse_stamp("  ") is None
    assert parse_stamp("23/09/2019 14:51") is None  # day-first is not ADE's stamp format
    assert parse_stamp("1/9/2025 08:05") == dt.datetime(2025, 1, 9, 8, 5)


def test_hours_and_local_instants_across_daylight_saving_changes() -> None:
    assert parse_hour("08:30") == (8, 30)
    with pytest.raises(ValueError):
        parse_hour("25:00")
    # Autumn: 10:00 on the Saturday is UTC+2, on the Sunday UTC+1.
    assert local_instant(dt.date(2026, 10, 24), "10:00", PARIS) == dt.datetime(2026, 10, 24, 8, tzinfo=UTC)
    assert local_instant(dt.date(2026, 10, 25), "10:00", PARIS) == dt.datetime(2026, 10, 25, 9, tzinfo=UTC)
    # The repeated hour takes its first occurrence; the skipped one keeps the winter offset.
    assert local_instant(dt.date(2026, 10, 25), "02:30", PARIS) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert local_instant(dt.date(2027, 3, 28), "02:30", PARIS) == dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    # 24:00 is the next midnight.
    assert local_instant(dt.date(2027, 1, 4), "24:00", PARIS) == dt.datetime(2027, 1, 4, 23, tzinfo=UTC)


def test_colours_become_lower_case_hex() -> None:
    assert rgb_to_hex("102,153,255") == "#6699ff"
    assert rgb_to_hex("0, 0, 0") == "#000000"
    assert rgb_to_hex("") == ""
    assert rgb_to_hex("#AABBCC") == "#aabbcc"
    assert rgb_to_hex("garbage") == "garbage"


def test_error_names_split_into_session_business_and_login_errors() -> None:
    assert isinstance(classify_error("f", "com.adesoft.errors.InvalidSessionException", ""), AdeSessionError)
    assert isinstance(classify_error("f", "java.lang.NullPointerException", ""), AdeSessionError)
    assert isinstance(classify_error("f", "com.adesoft.errors.NotFoundException", "Cost not found. Id=10"),
                      AdeBusinessError)
    assert isinstance(classify_error("f", "com.adesoft.errors.InvalidLogin", "Invalid login."), AdeLoginError)
    assert isinstance(classify_error("f", "java.lang.NumberFormatException", ""), AdeBusinessError)
    # Anything unknown is assumed to be cured by a new session (docs/ade.md §1.6).
    assert isinstance(classify_error("f", "com.adesoft.Whatever", ""), AdeSessionError)


def test_an_error_root_with_http_200_raises_with_its_name_and_trace() -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<error name="com.adesoft.errors.NotFoundException" trace="Cost not found. Id=10"/>')
    with pytest.raises(AdeBusinessError) as caught:
        xml.parse_root("getCosts", body)
    assert caught.value.trace == "Cost not found. Id=10"
    with pytest.raises(AdeEmptyAnswer):
        xml.parse_root("getEvents", b"  \n")
    with pytest.raises(AdeProtocolError):
        xml.parse_root("getEvents", b"<html><body>502 Bad Gateway")


def test_bytes_decide_the_encoding_not_the_http_headers() -> None:
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><events><event id="1" name="Génie d&apos;été"/></events>'
    events = xml.parse_events(xml.parse_root("getEvents", latin.encode("latin-1")))
    assert events[0].name == "Génie d'été"
    utf8 = '<?xml version="1.0" encoding="UTF-8"?><events><event id="1" name="Génie"/></events>'.encode()
    assert xml.parse_events(xml.parse_root("getEvents", utf8))[0].name == "Génie"


def test_a_bare_event_root_and_an_empty_events_root_are_accepted() -> None:
    bare = b'<event id="7" activityId="3" session="0" repetition="2" date="02/05/2023"><resources/></event>'
    events = xml.parse_events(xml.parse_root("getEvents", bare))
    assert [(e.id, e.stable_key, e.date, e.resources) for e in events] == [(7, (3, 2, 0), dt.date(2023, 5, 2), ())]
    assert xml.parse_events(xml.parse_root("getEvents", b"<events/>")) == ()


def test_flat_resource_answers_are_read_whatever_the_element_names() -> None:
    rooms = b'<rooms><room id="1" name="A"/><room id="2" name="B"/></rooms>'
    assert [r.id for r in xml.parse_resource_list(xml.parse_root("getResources", rooms))] == ["1", "2"]
    trainees = b'<trainees><trainee id="5" name="L1"><allMembers><member id="6"/></allMembers></trainee></trainees>'
    assert [r.id for r in xml.parse_resource_list(xml.parse_root("getResources", trainees))] == ["5"]


def test_detail_thirteen_sub_elements_are_not_tree_nodes() -> None:
    body = (b'<tree><category category="trainee"><branch id="1" name="A"><allMembers><member id="9"/>'
            b'</allMembers><rights user="x"/><leaf id="2" name="B"/></branch></category></tree>')
    [category] = xml.parse_resource_tree(xml.parse_root("getResources", body))
    assert [n.id for n in category.walk()] == ["trainee", "1", "2"]


def test_streamed_events_match_the_tree_parser_and_raise_the_same_errors() -> None:
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<events>\n' + "".join(
        f'\t<event id="{i}" activityId="9" session="0" repetition="{i}" name="Cours n°{i} d&apos;été" '
        f'date="0{1 + i % 9}/03/2027" startHour="08:00" endHour="09:30" duration="6" color="1,2,3" '
        f'lastUpdate="">\n\t\t<resources>\n\t\t\t<resource id="{i}" category="trainee" name="G{i}"/>\n'
        f'\t\t</resources>\n\t\t<additional/>\n\t</event>\n' for i in range(3000)) + "</events>\n").encode()
    streamed = xml.parse_events_bytes("getEvents", body)
    assert streamed == xml.parse_events(xml.parse_root("getEvents", body))
    assert len(streamed) == 3000 and streamed[5].resources[0].id == "5"
    bare = b'<event id="7" activityId="3" session="0" repetition="2" date="02/05/2023"/>'
    assert [e.id for e in xml.parse_events_bytes("getEvents", bare)] == [7]
    with pytest.raises(AdeSessionError):
        xml.parse_events_bytes("getEvents", b'<error name="java.lang.NullPointerException" trace=""/>')
    with pytest.raises(AdeEmptyAnswer):
        xml.parse_events_bytes("getEvents", b"")
    with pytest.raises(AdeProtocolError):
        xml.parse_events_bytes("getEvents", b"<events><event id='1'>")
    with pytest.raises(AdeProtocolError):
        xml.parse_events_bytes("getEvents", b"<html>oops</html>")


# -- characters XML 1.0 forbids ----------------------------------------------------------------

def test_forbidden_control_characters_raw_or_referenced_are_dropped_before_parsing() -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<events><event id="1" name="a\x07b\x00c" '
            b'note="x&#7;y&#x1F;z&#0011;" info="keep&#9;&#10;&#13;&#x41;\x7f\xc3\xa9"/></events>')
    (event,) = xml.parse_events_bytes("getEvents", body)
    assert event.name == "abc" and event.note == "xyz"
    assert event.info == "keep\t\n\rA\x7fé"
    assert xml.parse_root("getEvents", body).find("event").get("name") == "abc"


def test_a_clean_answer_is_parsed_from_the_same_bytes() -> None:
    body = b'<events><event id="1" note="l1&#10;l2&#x9;"/></events>'
    assert xml.tolerant("getEvents", body) is body


def test_forbidden_characters_are_counted_once_per_answer() -> None:
    import structlog

    body = b"<tree>\x01\x02<category category='trainee'/>&#x0;&#8;</tree>"
    with structlog.testing.capture_logs() as logs:
        assert xml.tolerant("getResources", body) == b"<tree><category category='trainee'/></tree>"
    assert [(e["function"], e["dropped"]) for e in logs] == [("getResources", 4)]
