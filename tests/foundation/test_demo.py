"""`schedulesy demo` (README command 1), end to end on free ports with the tiny preset."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import httpx
import pytest

from schedulesy.demo import DemoWeek, choose_student, choose_week, environment_line, week_summary
from schedulesy.embedded import free_port


def exported_variables(output: str) -> dict[str, str]:
    """The variables of the ``export`` command the demo prints (continued over several lines)."""
    command = re.search(r"export (?:.*\\\n)*.*\n", output)
    assert command, output
    words = shlex.split(command.group(0).replace("\\\n", " "))
    return dict(word.split("=", 1) for word in words[1:])


def test_the_environment_line_quotes_values_and_leaves_out_the_tools_variables() -> None:
    line = environment_line({
        "SCHEDULESY_ADE_PASSWORD": "it's secret", "SCHEDULESY_PUBLIC_URL": "http://127.0.0.1:8123",
        "SCHEDULESY_TEST_REDIS_URL": "redis://127.0.0.1/2", "PATH": "/usr/bin",
    }, indent="    ")
    assert exported_variables(line + "\n") == {
        "SCHEDULESY_ADE_PASSWORD": "it's secret", "SCHEDULESY_PUBLIC_URL": "http://127.0.0.1:8123",
    }


MONDAY = dt.date(2026, 12, 21)


def test_the_demo_week_is_this_one_or_the_next_teaching_week() -> None:
    teaching = {"g1": 18, "g2": 22, "g3": 30}
    counts = {MONDAY: {"g1": 2}, MONDAY + dt.timedelta(weeks=1): {}, MONDAY + dt.timedelta(weeks=2): teaching}
    week = choose_week(counts, MONDAY)
    assert week == DemoWeek(monday=MONDAY + dt.timedelta(weeks=2), this_week=False, groups=teaching)
    assert "next teaching week" in week_summary(week) and "2027-01-04" in week_summary(week)
    this = choose_week({MONDAY: teaching}, MONDAY)
    assert this is not None and this.this_week and "this week" in week_summary(this)
    assert choose_week({MONDAY - dt.timedelta(weeks=1): teaching}, MONDAY) is None


def test_the_demo_student_is_a_typical_group_with_the_groups_above_it_up_to_its_year() -> None:
    parents = {"tp": "td", "td": "year", "year": "programme", "programme": "faculty", "faculty": None,
               "td2": "year", "td3": "year", "busy": "year", "quiet": "year", "clash": "year"}
    week = DemoWeek(monday=MONDAY, this_week=True,
                    groups={"tp": 20, "td2": 12, "td3": 30, "busy": 60, "quiet": 4, "clash": 20})
    assert choose_student(week, parents) == ["clash", "year"]
    assert choose_student(week, parents, clashing={"clash"}) == ["tp", "td", "year"]
    assert choose_student(DemoWeek(monday=MONDAY, this_week=True, groups={"busy": 60}), parents) == []


def lessons_by_week(events: list[dict[str, str]], monday: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """(start, end) of the events in the week of ``monday``, in order."""
    spans = []
    for event in events:
        day = dt.datetime.strptime(event["date"], "%d/%m/%Y")
        if monday <= day.date() < monday + dt.timedelta(days=7):
            start = dt.datetime.combine(day.date(), dt.time.fromisoformat(event["startHour"]))
            spans.append((start, dt.datetime.combine(day.date(), dt.time.fromisoformat(event["endHour"]))))
    return sorted(spans)


@pytest.mark.slow
def test_demo_starts_everything_prints_working_urls_and_stops_cleanly(
    database_url: str, redis_url: str, redis_namespace: str, tmp_path
) -> None:
    port, ade_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULESY_")}
    env.update(
        SCHEDULESY_DATABASE_URL=database_url,
        SCHEDULESY_REDIS_URL=redis_url,
        SCHEDULESY_REDIS_PREFIX=redis_namespace + "demo:",
        XDG_DATA_HOME=str(tmp_path),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "schedulesy.cli", "demo", "--preset", "tiny", "--port", str(port),
         "--ade-port", str(ade_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 150
        assert process.stdout is not None
        while not re.search(r"Superuser token.*\n\s+ey\S+\n(?:.*\n)*?\s+export (?:.*\\\n)*.*[^\\\n]\n", output):
            line = process.stdout.readline()
            if not line:
                break
            output += line
            assert time.monotonic() < deadline, output
        # The environment to run other commands against this demo: every variable its processes have.
        exported = exported_variables(output)
        for name in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "PUBLIC_URL", "ADE_URL", "JWT_PUBLIC_KEY",
                     "JWT_PRIVATE_KEY", "JWT_ALGORITHM", "SUPERUSERS"):
            assert "SCHEDULESY_" + name in exported, output
        assert exported["SCHEDULESY_PUBLIC_URL"] == f"http://127.0.0.1:{port}"
        assert exported["SCHEDULESY_REDIS_PREFIX"] == redis_namespace + "demo:"

        urls = dict(re.findall(r"^\s+(Timetable by key|ICS subscription|QR code of the ICS)\s+(\S+)", output, re.M))
        token = re.search(r"Token for 'demo':\s+(\S+)", output)
        assert urls and token, output

        # The worker applies the demo user's selection a few milliseconds after it is printed.
        for _ in range(50):
            timetable = httpx.get(urls["Timetable by key"], timeout=10)
            if timetable.status_code == 200 and timetable.json()["events"]["events"]:
                break
            time.sleep(0.2)
        assert timetable.status_code == 200
        assert len(timetable.json()["events"]["events"]) > 0
        # A typical student: 2-3 groups, a plain week of 10-35 classes, never two at once.
        week = re.search(r"Demo week\s+.*Monday (\d{4}-\d\d-\d\d)", output)
        selection = re.search(r"Demo selection\s+(\S.*)$", output, re.M)
        assert week and selection, output
        assert 2 <= len(selection.group(1).split(", ")) <= 3, output
        spans = lessons_by_week(timetable.json()["events"]["events"], dt.date.fromisoformat(week.group(1)))
        assert 10 <= len(spans) <= 35, spans
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans)), spans
        # And a teacher, with a timetable of their own.
        teacher = re.search(r"Teacher's timetable\s+(\S+)", output)
        assert teacher and re.search(r"Token for 'demo-teacher':\s+ey\S+", output), output
        for _ in range(50):
            taught = httpx.get(teacher.group(1), timeout=10)
            if taught.status_code == 200 and taught.json()["events"]["events"]:
                break
            time.sleep(0.2)
        assert taught.status_code == 200 and taught.json()["events"]["events"]
        ics = httpx.get(urls["ICS subscription"], timeout=10)
        assert ics.status_code == 200 and ics.text.startswith("BEGIN:VCALENDAR")
        assert httpx.get(urls["QR code of the ICS"], timeout=10).status_code == 200
        calendar = httpx.get(f"http://127.0.0.1:{port}/api/calendar/demo.json",
                             headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=10)
        assert calendar.status_code == 200
        # The demo user's page comes first, and the landing page leads to it.
        first_url = re.search(r"Schedulesy is running.*\n\s*\n\s+Demo user's timetable\s+(\S+)", output)
        assert first_url, output
        assert first_url.group(1).endswith("/timetable/" + urls["Timetable by key"].rsplit("/", 1)[1][:-len(".json")])
        page = httpx.get(first_url.group(1), timeout=10)
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        landing = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert 'href="/demo/timetable"' in landing.text
        redirected = httpx.get(f"http://127.0.0.1:{port}/demo/timetable", timeout=10, follow_redirects=True)
        assert str(redirected.url) == first_url.group(1)
        assert httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    # Everything it started is gone: the ports are free again.
    for p in (port, ade_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{p}/", timeout=2)
