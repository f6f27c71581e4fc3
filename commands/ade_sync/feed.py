"""When ADE's change feed leads and polling only checks it.

Polling cannot be both prompt and light: ADE has no "modified since" (docs/ade.md §5.1), so finding
a change in the near term within a poll interval costs a probe of every near-term event each cycle
(14 MB every 5 minutes on the ``large`` preset). The original's companion job already tells us of
every change within seconds (:mod:`commands.ade_sync.amqp`). While that feed is *trusted*, the
poller's probes become a safety net on slower cadences (``sync_feed_near_interval``,
``sync_feed_far_interval``, ``sync_feed_full_days``); otherwise they run as without a feed.

The feed is trusted only while all of these hold:

- a consumer is connected: every consumer writes a heartbeat to the ``feed`` row of ``sync_state``
  (:func:`heartbeat`, every :data:`HEARTBEAT_SECONDS`); a row older than :data:`STALE_AFTER_SECONDS`
  means none is;
- it has been up without a gap since the last near-term probe: messages published while no broker
  was reachable may be lost, so a probe after each gap (or a consumer's reconnection) sets the
  baseline again;
- it has not been caught leaking: a safety probe that finds a change the feed did not announce — an
  event ADE stamped after the feed came up and more than :data:`ANNOUNCE_GRACE` before the probe, that
  we still held otherwise — distrusts it for :data:`DISTRUST_SECONDS`, during which polling is as
  without a feed.

A consumer whose refreshes fail stops its heartbeat (:mod:`commands.ade_sync.amqp`): a feed whose
messages are not applied does not lead either.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import asyncpg
import msgspec
import structlog

from schedulesy import syncstate
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 30.0
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS
ANNOUNCE_GRACE = dt.timedelta(minutes=15)
"""How late the companion job may announce a change (it polls ADE's Java API on its own cadence)."""
DISTRUST_SECONDS = 24 * 3600.0


class FeedTrust(msgspec.Struct, frozen=True):
    trusted: bool
    reason: str
    """Why not (or ``trusted``); in the cycle's report and the sync log."""
    since: dt.datetime | None = None
    """While trusted: since when the feed has been up without a gap (what it could have announced)."""
    distrusted: bool = False


TRUSTED = "trusted"
"""The reason of a trusted feed, as reports and the ``cycle`` row show it."""
OFF = FeedTrust(trusted=False, reason="off: no SCHEDULESY_AMQP_URL")


def _epoch(moment: dt.datetime) -> int:
    """Whole seconds, rounded up: a probe in the same second as a reconnection does not count as after it."""
    return math.ceil(moment.timestamp())


def _moment(seconds: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc) if isinstance(seconds, (int, float)) and seconds else None


def feed_trust(settings: Settings, states: dict[str, Any], now: dt.datetime) -> FeedTrust:
    """Whether this cycle may leave prompt detection to the feed (``states``: the ``sync_state`` rows)."""
    if not settings.amqp_url:
        return OFF
    row = states.get(syncstate.FEED)
    if row is None or row["last_success_at"] is None or (
            now - row["last_success_at"]).total_seconds() > STALE_AFTER_SECONDS:
        return FeedTrust(trusted=False, reason="no consumer connected to the broker")
    figures = row["figures"] or {}
    distrusted_until = _moment(figures.get("distrusted_until"))
    if distrusted_until is not None and now < distrusted_until:
        return FeedTrust(trusted=False, distrusted=True,
                         reason=f"distrusted until {distrusted_until:%Y-%m-%d %H:%M} UTC: "
                                f"{row['last_error'] or 'it missed a change'}")
    up_since = _moment(figures.get("up_since"))
    near_row = states.get(syncstate.events_row("near"))
    probed = near_row["last_success_at"] if near_row is not None else None
    if up_since is None or probed is None or probed < up_since:
        return FeedTrust(trusted=False, reason="the near term was not probed since the consumer connected")
    return FeedTrust(trusted=True, reason=TRUSTED, since=up_since)


async def heartbeat(pool: asyncpg.Pool, now: dt.datetime | None = None, *, connected: bool = False) -> None:
    """A consumer is connected: refresh the ``feed`` row. ``up_since`` restarts with a consumer's new
    connection (``connected``: messages published while it was away may be lost) and after a gap in
    the heartbeats of every consumer. The heartbeat never goes back in time (workers' clocks differ)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    await pool.execute(
        """
        INSERT INTO schedulesy.sync_state AS s (name, last_attempt_at, last_success_at, figures)
        VALUES ($1::text, $2::timestamptz, $2::timestamptz, jsonb_build_object('up_since', $3::bigint))
        ON CONFLICT (name) DO UPDATE SET
            last_attempt_at = GREATEST(s.last_attempt_at, excluded.last_attempt_at),
            last_success_at = GREATEST(s.last_success_at, excluded.last_success_at),
            figures = s.figures || CASE
                WHEN $5::boolean OR s.last_success_at IS NULL
                  OR s.last_success_at < $2::timestamptz - make_interval(secs => $4)
                  OR NOT s.figures ? 'up_since'
                THEN jsonb_build_object('up_since', $3::bigint) ELSE '{}'::jsonb END,
            updated_at = now()
        """, syncstate.FEED, now, _epoch(now), STALE_AFTER_SECONDS, connected)


async def record_trust(pool: asyncpg.Pool, trust: FeedTrust) -> None:
    """The cycle's view, for ``/metrics`` (``schedulesy_sync_trusted{name="feed"}``); the reason of a
    distrust that ran out is cleared."""
    await pool.execute(
        """UPDATE schedulesy.sync_state SET figures = figures || jsonb_build_object('trusted', $2::int),
               last_error = CASE WHEN $3::boolean THEN last_error END
           WHERE name = $1""", syncstate.FEED, int(trust.trusted), trust.distrusted)


async def distrust(pool: asyncpg.Pool, now: dt.datetime, unannounced: list[int]) -> None:
    """A safety probe found changes the feed did not announce: poll as without it for a day."""
    shown = ", ".join(str(i) for i in unannounced[:10]) + (", …" if len(unannounced) > 10 else "")
    reason = f"a probe found {len(unannounced)} changed events the feed did not announce ({shown})"
    log.warning("ade change feed distrusted: it missed changes; polling as without it",
                events=unannounced[:50], count=len(unannounced), hours=DISTRUST_SECONDS / 3600)
    until = now + dt.timedelta(seconds=DISTRUST_SECONDS)
    await pool.execute(
        """UPDATE schedulesy.sync_state SET last_error = $2,
               figures = figures || jsonb_build_object(
                   'distrusted_until', $3::bigint, 'trusted', 0,
                   'unannounced_changes', coalesce((figures->>'unannounced_changes')::bigint, 0) + $4::bigint)
           WHERE name = $1""", syncstate.FEED, reason, _epoch(until), len(unannounced))


def announced_between(trust: FeedTrust, now: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """While the feed is trusted, a change ADE stamped within these moments should have been announced:
    after the feed came up (earlier ones may have been published to no broker), and long enough ago
    for the companion to have published it."""
    if not trust.trusted or trust.since is None:
        return None
    return trust.since, now - ANNOUNCE_GRACE
