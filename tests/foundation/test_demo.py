"""`schedulesy demo` (README command 1), end to end on free ports with the tiny preset."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from schedulesy.embedded import free_port

pytestmark = pytest.mark.slow


def test_demo_starts_everything_prints_working_urls_and_stops_cleanly(
    database_url: str, redis_url: str, tmp_path
) -> None:
    port, ade_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULESY_")}
    env.update(
        SCHEDULESY_DATABASE_URL=database_url,
        SCHEDULESY_REDIS_URL=redis_url,
        SCHEDULESY_REDIS_PREFIX="demo-test:",
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
        while not re.search(r"Superuser token.*\n\s+ey\S+\n", output):
            line = process.stdout.readline()
            if not line:
                break
            output += line
            assert time.monotonic() < deadline, output
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
        ics = httpx.get(urls["ICS subscription"], timeout=10)
        assert ics.status_code == 200 and ics.text.startswith("BEGIN:VCALENDAR")
        assert httpx.get(urls["QR code of the ICS"], timeout=10).status_code == 200
        calendar = httpx.get(f"http://127.0.0.1:{port}/api/calendar/demo.json",
                             headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=10)
        assert calendar.status_code == 200
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
