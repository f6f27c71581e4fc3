"""A worker starting on an empty mirror serves this week first, then the whole year."""

from __future__ import annotations

import asyncpg

from tests.fixtures.ade import AdeSimulatorHandle
from tests.fixtures.sync import Sync


async def test_a_first_start_syncs_the_near_term_first_then_the_whole_year(
    sync: Sync, ade: AdeSimulatorHandle, pool: asyncpg.Pool  # noqa: F811
) -> None:
    first = await sync(near_first=True)
    assert first.status == "ok", first.errors
    assert first.mode == "near"
    near_events = await pool.fetchval("SELECT count(*) FROM schedulesy.event")
    assert near_events > 0
    assert await pool.fetchval(
        "SELECT last_success_at IS NOT NULL FROM schedulesy.sync_state WHERE name = 'cycle'"
    )

    second = await sync(near_first=True)  # the near term is in: near_first changes nothing now
    assert second.mode == "full"
    total = await pool.fetchval("SELECT count(*) FROM schedulesy.event")
    assert total == len(ade.app.university.events) > near_events
