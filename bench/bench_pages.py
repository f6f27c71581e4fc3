"""Benchmark of the timetable pages: a week page against the calendar JSON of the same selection.

Run: ``.venv/bin/python bench/bench_pages.py [--requests 6000] [--connections 8] [--rounds 3]``

What it does:
- prepares the data of ``bench_queries.py`` (a student's 400-event year, built into Redis with the
  projector's own code) in a database and a Redis logical db of its own;
- serves the real app with granian on 127.0.0.1, one worker, as ``schedulesy serve`` does;
- loads, in turn, ``/timetable/<key>?view=week&date=…`` (a week with 7 events) and
  ``/api/timetable/<key>.json`` (the same selection's calendar, 400 events), identity and gzip,
  and the page's 304; with ``wrk`` when installed, else a small asyncio HTTP/1.1 client in a
  separate process;
- prints req/s and p50/p99 of each, the ratio page / JSON (target >= 0.5), the page's size
  (target < 60 kB identity), and the cost of rendering a week page that is not cached yet
  (decode the calendar, lay out the week, render the templates, gzip), measured in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.bench_queries import Figures, prepare, run_python, run_wrk, start_server  # noqa: E402
from bench.common import Environment, free_port, machine  # noqa: E402

TARGET_RATIO = 0.5
MAX_PAGE_BYTES = 60_000
WEEK = "2025-09-15"
"""A week of the benchmark's year (its events start on Monday 1 September 2025)."""


def render_cost(body: bytes, key: str, rounds: int = 200) -> tuple[float, float]:
    """(ms to decode the 400-event calendar, ms to render and gzip one week page from it), in-process."""
    from queries.pages.assets import load
    from queries.pages.i18n import WORDS
    from queries.pages.model import decode
    from queries.pages.render import Pages, Rendered
    from queries.pages.views import Links, PageRequest, context

    pages = Pages(load())
    started = time.perf_counter()
    for _ in range(rounds):
        timetable = decode(body)
    decode_ms = (time.perf_counter() - started) * 1000 / rounds
    page = PageRequest(view="week", auto=True, anchor=dt.date.fromisoformat(WEEK), today=dt.date.today(), lang="fr",
                       explicit_lang=False)
    links = Links(base=f"/timetable/{key}", sticky={})
    started = time.perf_counter()
    for _ in range(rounds):
        values = context(timetable, page, links, title="Emploi du temps", place=None, show_instructors=True)
        values.update(assets=pages.assets, fragment=False, origin="", layout="", too_many=False,
                      zone="Europe/Paris", lang_url="?lang=en", subscribe={
                          "ics": "https://h/x.ics", "webcal": "webcal://h/x.ics", "google": "g", "outlook": "o",
                          "qr": "/q.svg"})
        Rendered(pages.render("timetable.html", values))
    return decode_ms, (time.perf_counter() - started) * 1000 / rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run")
    parser.add_argument("--requests", type=int, default=6000, help="requests per run without wrk")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="measured (page, JSON) pairs; the median pair is printed")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = Environment(admin_url, redis_base)

    async def setup() -> tuple[dict[str, str], str]:
        await env.__aenter__()
        settings_env = {
            "SCHEDULESY_DATABASE_URL": env.database_url, "SCHEDULESY_REDIS_URL": env.redis_url,
            "SCHEDULESY_REDIS_PREFIX": "bench:", "SCHEDULESY_PUBLIC_URL": base,
            "SCHEDULESY_JWT_PUBLIC_KEY": "bench-secret", "SCHEDULESY_JWT_ALGORITHM": "HS256",
            "SCHEDULESY_LOG_LEVEL": "warning", "SCHEDULESY_LOG_FORMAT": "json",
        }
        return settings_env, await prepare(env, settings_env)

    def load(path: str, headers: dict[str, str]) -> Figures:
        if use_wrk:
            return run_wrk(base + path, headers, args.duration, args.connections)
        return run_python(base + path, headers, args.requests, args.connections)

    print(f"load generator: {'wrk' if use_wrk else 'asyncio HTTP/1.1 client (separate process)'}, "
          f"{args.connections} connections, median of {args.rounds} pairs; server: granian, 1 worker")
    settings_env, key = asyncio.run(setup())
    server = None
    missed = 0
    try:
        server = start_server(settings_env, port, Path(tempfile.mkdtemp(prefix="bench-pages-")) / "granian.log", True)
        page_path, json_path = f"/timetable/{key}?view=week&date={WEEK}", f"/api/timetable/{key}.json"
        with httpx.Client(base_url=base, timeout=30) as client:
            page = client.get(page_path, headers={"Accept-Encoding": "identity", "Accept-Language": "fr"})
            calendar = client.get(json_path, headers={"Accept-Encoding": "identity"})
            page_gzip = len(gzip.compress(page.content, 6, mtime=0))
        events = page.text.count('class="ev"')
        size_verdict = "OK" if len(page.content) < MAX_PAGE_BYTES else "MISSED"
        missed += size_verdict == "MISSED"
        print(f"week page: {len(page.content)} bytes identity, {page_gzip} gzip, {events} events "
              f"(target < {MAX_PAGE_BYTES} bytes) {size_verdict}; calendar JSON: {len(calendar.content)} bytes, "
              f"{calendar.text.count('startHour')} events")
        for label, encoding in (("identity", "identity"), ("gzip", "gzip")):
            page_headers = {"Accept-Encoding": encoding, "Accept-Language": "fr"}
            json_headers = {"Accept-Encoding": encoding}
            load(page_path, page_headers)
            load(json_path, json_headers)
            pairs = []
            for _ in range(args.rounds):
                measured_page, measured_json = load(page_path, page_headers), load(json_path, json_headers)
                pairs.append((measured_page.rps / measured_json.rps, measured_page, measured_json))
            pairs.sort(key=lambda pair: pair[0])
            ratio, measured_page, measured_json = pairs[len(pairs) // 2]
            verdict = "OK" if ratio >= TARGET_RATIO else "MISSED"
            missed += verdict == "MISSED"
            print(f"{label}: week page {measured_page.rps:.0f} req/s (p50 {measured_page.p50_ms:.2f} ms, "
                  f"p99 {measured_page.p99_ms:.2f} ms); calendar JSON {measured_json.rps:.0f} req/s "
                  f"(p50 {measured_json.p50_ms:.2f} ms, p99 {measured_json.p99_ms:.2f} ms); "
                  f"ratio {ratio:.2f} (target >= {TARGET_RATIO}) {verdict}")
        not_modified = load(page_path, {"Accept-Encoding": "gzip", "Accept-Language": "fr",
                                        "If-None-Match": page.headers["etag"]})
        print(f"week page, 304: {not_modified.rps:.0f} req/s (p50 {not_modified.p50_ms:.2f} ms)"
              + (f" ({not_modified.bad} bad answers!)" if not_modified.bad else ""))
        decode_ms, render_ms = render_cost(calendar.content, key)
        print(f"cache miss, in-process: decode the 400-event calendar {decode_ms:.2f} ms (once per calendar version); "
              f"lay out, render and gzip a week page {render_ms:.2f} ms (once per page version)")
        print(f"summary: {missed} target(s) missed")
        print(f"machine: {machine()}")
        return 1 if missed else 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except Exception:
                server.kill()
        asyncio.run(env.__aexit__(None, None, None))


if __name__ == "__main__":
    sys.exit(main())
