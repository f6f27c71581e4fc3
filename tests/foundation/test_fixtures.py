"""The test fixtures themselves: they use exactly the servers they are given and leave nothing behind."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from redis.asyncio import Redis

from schedulesy.services import Services
from schedulesy.settings import Settings
from tests.fixtures.infra import delete_keys


def database_index(url: str) -> int:
    return int(urlsplit(url).path.strip("/") or 0)


async def test_the_session_uses_exactly_the_redis_database_it_was_given(
    server_urls: tuple[str, str], settings: Settings, services: Services, redis: Redis
) -> None:
    given = os.environ.get("SCHEDULESY_TEST_REDIS_URL") or server_urls[1]
    assert database_index(settings.redis_url) == database_index(given)
    assert (await services.redis.client_info())["db"] == database_index(given)
    assert (await redis.client_info())["db"] == database_index(given)


async def test_the_sessions_keys_stay_under_its_namespace_and_go_with_it(
    settings: Settings, redis: Redis, redis_namespace: str
) -> None:
    assert settings.redis_prefix.startswith(redis_namespace)
    await redis.set(settings.redis_prefix + "user:someone", "x")
    await redis.set(redis_namespace + "anything-else", "x")
    await delete_keys(redis, redis_namespace)
    assert [key async for key in redis.scan_iter(match=redis_namespace + "*")] == []
