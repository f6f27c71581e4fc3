"""Fixtures of the read-API tests: a seeded mirror, a user with a selection and an access key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec
import pytest

from projections.readmodels import ReadModels
from schedulesy.services import Services
from tests.fixtures.auth import TokenFactory, auth_header
from tests.queries.mirror import GROUP, ROOM, insert_access, insert_user, seed_university

OWNER = "jdupont"
GUARD_SECONDS = 5.0


async def eventually(
    predicate: Callable[[], Awaitable[bool] | bool], what: str, within: float = GUARD_SECONDS
) -> None:
    """Wait until ``predicate`` holds. Changes reach a running API asynchronously (Redis tells its
    in-memory copies to go); the bound guards against a hang, it is not a measurement."""
    deadline = time.monotonic() + within
    while True:
        outcome = predicate()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(0.01)


class Seeded(msgspec.Struct):
    """What the ``seeded`` fixture wrote."""

    owner: str
    key: str
    owner_headers: dict[str, str]


@pytest.fixture
async def seeded(pool: asyncpg.Pool, redis: object, make_token: TokenFactory) -> Seeded:
    """The small university, user ``jdupont`` who selected room 1616 and group 32291, and their access."""
    await seed_university(pool)
    await insert_user(pool, OWNER, [ROOM, GROUP])
    key = await insert_access(pool, OWNER)
    return Seeded(owner=OWNER, key=key, owner_headers=auth_header(make_token(OWNER)))


@pytest.fixture
def read_models(services: Services) -> ReadModels:
    """The facade the projector uses, over the test's Postgres and Redis."""
    return ReadModels(services)
