"""Benchmark of what a direct-access key costs to look up, by kind: a guesser should not learn much
from the time an answer takes.
Run: ``.venv/bin/python bench/bench_keys.py [--requests 300]``

In a database and Redis logical db of its own, through the app in process (no network), it times
``GET /api/timetable/<key>.ics`` for a valid key, a malformed one, a revoked one, an unknown one asked
again (remembered as not found for 30 s) and a never-seen one each time (one Postgres lookup).
Target: every 404 within the same order of time (at most 3x the cheapest 404).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from litestar.testing import AsyncTestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Environment, machine  # noqa: E402
from schedulesy.app import create_app  # noqa: E402
from schedulesy.auth import mint_token  # noqa: E402
from schedulesy.logging import configure_logging  # noqa: E402
from schedulesy.settings import load_settings  # noqa: E402

SECRET = "bench-secret-" + "s" * 40
USER = "bench.user"
RATIO_TARGET = 3.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per kind of key")
    args = parser.parse_args()
    configure_logging("console", "warning")
    print("machine:", machine())
    admin_url = os.environ.get("SCHEDULESY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_base = os.environ.get("SCHEDULESY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    async with Environment(admin_url, redis_base, "schedulesy_bench_keys") as env:
        settings = load_settings({
            "SCHEDULESY_DATABASE_URL": env.database_url, "SCHEDULESY_REDIS_URL": env.redis_url,
            "SCHEDULESY_LOG_LEVEL": "warning", "SCHEDULESY_JWT_ALGORITHM": "HS256",
            "SCHEDULESY_JWT_PUBLIC_KEY": SECRET, "SCHEDULESY_JWT_PRIVATE_KEY": SECRET,
        })
        headers = {"Authorization": "Bearer " + mint_token(settings, USER, directory_id="424242")}
        async with AsyncTestClient(app=create_app(settings), base_url="https://bench.local") as api:
            created = await api.post("/legacy/customization.json", json={"username": USER, "directory_id": "424242"},
                                     headers=headers)
            assert created.status_code == 201, created.text
            valid = (await api.get(f"/api/customization/{USER}/uuid.json", headers=headers)).json()[0]["key"]
            spare = await api.post(f"/api/customization/{USER}/uuid.json", json={"name": "revoked"}, headers=headers)
            revoked = spare.json()["key"]
            deleted = await api.delete(f"/api/customization/{USER}/uuid/{revoked}.json", headers=headers)
            assert deleted.status_code == 204
            unknown = str(uuid.uuid4())

            async def median_ms(key: Callable[[], str], status: int) -> float:
                samples = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    response = await api.get(f"/api/timetable/{key()}.ics")
                    samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == status, response.status_code
                return statistics.median(samples)

            figures = {
                "valid key (200)": await median_ms(lambda: valid, 200),
                "malformed key": await median_ms(lambda: "not-a-key", 404),
                "revoked key": await median_ms(lambda: revoked, 404),
                "unknown key, asked again": await median_ms(lambda: unknown, 404),
                "unknown key, never seen": await median_ms(lambda: str(uuid.uuid4()), 404),
            }
    for label, value in figures.items():
        print(f"{label}: p50 {value:.2f} ms")
    misses = [v for k, v in figures.items() if not k.startswith("valid")]
    ratio = max(misses) / min(misses)
    print(f"slowest 404 / fastest 404: {ratio:.1f}x  target <= {RATIO_TARGET:.0f}x: "
          f"{'OK' if ratio <= RATIO_TARGET else 'MISSED'}")


if __name__ == "__main__":
    asyncio.run(main())
