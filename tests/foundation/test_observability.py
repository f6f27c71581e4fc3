"""Every response logged once, granian's lines in our format, HTTP metrics by route template."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from schedulesy.embedded import free_port

SCHEDULESY = str(Path(sys.executable).with_name("schedulesy"))


def request_counts(exposition: str) -> dict[tuple[str, str, str], float]:
    """{(route, method, status): count} of ``schedulesy_http_requests_total``."""
    counts = {}
    for family in text_string_to_metric_families(exposition):
        if family.name == "schedulesy_http_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = (sample.labels["route"], sample.labels["method"], sample.labels["status"])
                    counts[key] = sample.value
    return counts


async def test_metrics_count_requests_by_route_template_and_status(api: AsyncTestClient) -> None:
    before = request_counts((await api.get("/metrics")).text)
    await api.get("/api/calendar/jdupont.json")
    await api.get("/api/calendar/mmartin.json")
    await api.get("/no/such/page-1")
    await api.get("/no/such/page-2")
    await api.request("BREW", "/health/live")
    page = await api.get("/metrics")
    after = request_counts(page.text)

    def added(route: str, method: str, status: str) -> float:
        return after.get((route, method, status), 0) - before.get((route, method, status), 0)

    assert added("/api/calendar/{user}", "GET", "403") == 2  # one series for every user
    assert added("unmatched", "GET", "404") == 2
    assert sum(added(r, m, s) for r, m, s in after if m == "other") == 1  # an invented method is no new label
    assert not any("jdupont" in route or "page-1" in route for route, _, _ in after)
    histogram = [f for f in text_string_to_metric_families(page.text)
                 if f.name == "schedulesy_http_request_duration_seconds"]
    assert histogram and any(s.labels.get("route") == "/api/calendar/{user}" for s in histogram[0].samples)
    # The figures that were hand-written before keep their names.
    assert "schedulesy_projection_lag_seconds" in page.text and "schedulesy_up 1.0" in page.text


@pytest.fixture
def served(
    database_url: str, redis_url: str, redis_namespace: str, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``schedulesy serve`` with two workers and JSON logs at info level; stopped by the test."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULESY_", "PROMETHEUS_"))}
    env.update(SCHEDULESY_DATABASE_URL=database_url, SCHEDULESY_REDIS_URL=redis_url,
               SCHEDULESY_REDIS_PREFIX=redis_namespace + "served:", SCHEDULESY_LOG_FORMAT="json",
               SCHEDULESY_LOG_LEVEL="info", TMPDIR=str(tmp_path),
               SCHEDULESY_JWT_ALGORITHM="HS256", SCHEDULESY_JWT_PUBLIC_KEY="s" * 48)
    process = subprocess.Popen([SCHEDULESY, "serve", "--port", str(port), "--workers", "2"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate(timeout=10)
        try:
            httpx.get(f"{base}/health/live", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_the_server_logs_every_response_once_as_json_and_counts_all_its_workers(
    served: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base, process = served
    ids = {}
    for method, path in [("GET", "/health/live"), ("GET", "/no/such/thing"), ("DELETE", "/health/live"),
                         ("GET", "/api/timetable/not-a-key.json")]:
        request_id = uuid.uuid4().hex
        ids[request_id] = httpx.request(method, base + path, headers={"X-Request-ID": request_id}, timeout=10).status_code
    assert sorted(ids.values()) == [200, 404, 404, 405]
    for _ in range(12):  # a new connection each time: the workers share them
        assert httpx.get(f"{base}/schema/openapi.json", timeout=10).status_code == 200
    counts = request_counts(httpx.get(f"{base}/metrics", timeout=10).text)
    assert counts[("/schema/openapi.json", "GET", "200")] == 12

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    assert any(r.get("logger", "").startswith("_granian") for r in records), stderr
    logged = [r for r in records if r.get("event") == "request" and r.get("request_id") in ids]
    assert sorted(r["request_id"] for r in logged) == sorted(ids)  # each once
    assert {r["request_id"]: r["status"] for r in logged} == ids
    assert not list(tmp_path.glob("schedulesy-metrics-*")), "the workers' metrics directory is removed"
