"""Reading the change log and keeping the projector's bookkeeping rows (docs/architecture.md §3).

Only ``commands/`` write the write model. The SQL here is the projector's own bookkeeping — its
position in ``schedulesy.change`` (``projector_checkpoint``), its heartbeat, and pruning of log rows
every projection has already applied — which is why it lives next to the loop and not in a command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from datetime import datetime
from typing import TypeAlias

import asyncpg
import msgspec

from schedulesy.locks import LockClass

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


class Position(msgspec.Struct, frozen=True, order=True):
    """A point in the change log. Ordered like the catch-up query orders rows: by (xid, id)."""

    xid: int = 0
    id: int = 0


class Change(msgspec.Struct, frozen=True):
    xid: int
    id: int
    topic: str
    key: str
    created_at: datetime

    @property
    def position(self) -> Position:
        return Position(self.xid, self.id)


class Snapshot(msgspec.Struct, frozen=True):
    """What one read could see. Transactions below ``frontier`` that belong to this database are
    all finished; ``running`` were in progress (any database); ``xmax`` had not started."""

    xmin: int
    xmax: int
    running: tuple[int, ...]
    frontier: int


class Ahead(msgspec.Struct, frozen=True):
    """Changes applied beyond the checkpoint: those of every transaction below ``below``
    except the ``running`` ones (which may still commit and must be read when they do)."""

    below: int
    running: tuple[int, ...]


class Batch(msgspec.Struct, frozen=True):
    changes: list[Change]
    snapshot: Snapshot
    complete: bool
    """False when ``limit`` cut the read short: there is more to read right away."""
    safe: Position | None = None
    """(complete reads only) the last change of a finished transaction: a gap-safe checkpoint."""
    pending_since: datetime | None = None
    """created_at of the oldest committed change this read left for later (None: none left)."""


# The snapshot of a read, and its frontier. pg_snapshot_xmin (the oldest transaction still running)
# is cluster-wide: a long transaction in another database would hold our frontier back although it
# can never write our change log. So the frontier is the oldest running transaction *not known to
# belong to another database* (pg_stat_activity.backend_xid, pg_prepared_xacts; 32-bit xids, and two
# running transactions never share their low 32 bits). A transaction we cannot place — it ended
# meanwhile, or its backend is hidden — counts as ours: the frontier only ever errs on the safe side.
_SNAPSHOT = """
WITH elsewhere AS (
    SELECT backend_xid::text::bigint AS xid32 FROM pg_stat_activity
    WHERE backend_xid IS NOT NULL AND datid IS NOT NULL
      AND datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL
    SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database <> current_database()
)
SELECT pg_snapshot_xmin(s) AS xmin, pg_snapshot_xmax(s) AS xmax,
       array(SELECT x FROM pg_snapshot_xip(s) AS x ORDER BY 1) AS running,
       coalesce(
           (SELECT min(x) FROM pg_snapshot_xip(s) AS x
            WHERE (x::text::numeric % 4294967296)::bigint NOT IN (SELECT xid32 FROM elsewhere)),
           pg_snapshot_xmax(s)
       ) AS frontier
FROM pg_current_snapshot() AS s
"""

# Gap-safe catch-up (docs/architecture.md §3). Change ids come from a sequence and become visible in commit
# order, not id order, so a checkpoint on id alone would skip a slow transaction's rows. Only the
# transactions below the frontier are all finished: read those, ordered by (xid, id), strictly
# after the checkpoint. A long transaction holds this frontier back (lag), never loses a row.
_READ_FINISHED = """
SELECT xid, id, topic, key, created_at
FROM schedulesy.change
WHERE xid < $3::xid8 AND (xid, id) > ($1::xid8, $2::bigint)
ORDER BY xid, id
LIMIT $4
"""

# Reading ahead of the frontier. One long transaction of ours (an ADE sync) would hold every change
# back for its whole duration. Rows of committed transactions are visible whatever older transaction is still open,
# so read every visible row after the checkpoint that is not known to be applied already — those of
# transactions at or above ``$3`` (``Ahead.below``), plus those of the transactions that were still
# running last time (``$4``: they may have committed since). Each half is one index range scan.
_READ_VISIBLE = """
SELECT * FROM (
    SELECT xid, id, topic, key, created_at FROM schedulesy.change
    WHERE (xid, id) > ($1::xid8, $2::bigint) AND xid >= $3::xid8
    UNION ALL
    SELECT xid, id, topic, key, created_at FROM schedulesy.change
    WHERE xid = ANY($4::xid8[]) AND xid < $3::xid8 AND (xid, id) > ($1::xid8, $2::bigint)
) visible
ORDER BY xid, id
LIMIT $5
"""

# After a complete read, everything up to the last change of a finished transaction is applied
# (or was known to be), and no new change can appear below it: the durable checkpoint may move there.
_SAFE_POSITION = """
SELECT xid, id FROM schedulesy.change
WHERE xid < $3::xid8 AND (xid, id) > ($1::xid8, $2::bigint)
ORDER BY xid DESC, id DESC
LIMIT 1
"""


def _snapshot(row: asyncpg.Record) -> Snapshot:
    return Snapshot(xmin=row["xmin"], xmax=row["xmax"], running=tuple(row["running"]), frontier=row["frontier"])


def _changes(rows: Sequence[asyncpg.Record]) -> list[Change]:
    return [Change(r["xid"], r["id"], r["topic"], r["key"], r["created_at"]) for r in rows]


async def read_finished(conn: asyncpg.Connection, after: Position, limit: int) -> Batch:
    """The next changes of finished transactions after ``after`` (the frontier-only read)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot = _snapshot(await conn.fetchrow(_SNAPSHOT))
        changes = _changes(await conn.fetch(_READ_FINISHED, after.xid, after.id, snapshot.frontier, limit))
        end = changes[-1].position if changes else after
        pending_since = await conn.fetchval(
            "SELECT min(created_at) FROM schedulesy.change WHERE (xid, id) > ($1::xid8, $2::bigint)",
            end.xid, end.id,
        )
    complete = len(changes) < limit
    return Batch(changes, snapshot, complete, safe=changes[-1].position if changes else None,
                 pending_since=pending_since)


async def read_visible(conn: asyncpg.Connection, after: Position, ahead: Ahead | None, limit: int) -> Batch:
    """Every committed change after ``after`` not covered by ``ahead``, frontier or not.

    One repeatable-read transaction, so the rows, the snapshot and the safe position agree.
    """
    below, running = (0, ()) if ahead is None else (ahead.below, ahead.running)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot = _snapshot(await conn.fetchrow(_SNAPSHOT))
        rows = await conn.fetch(_READ_VISIBLE, after.xid, after.id, below, list(running), limit)
        complete = len(rows) < limit
        safe_row = (
            await conn.fetchrow(_SAFE_POSITION, after.xid, after.id, snapshot.frontier) if complete else None
        )
    safe = None if safe_row is None else Position(safe_row["xid"], safe_row["id"])
    changes = _changes(rows)
    # Complete: every committed change is applied once this batch is. Cut short: what is left comes
    # after the last change read, in (xid, id) order — about as old as it, a fair estimate.
    pending_since = None if complete else changes[-1].created_at
    return Batch(changes, snapshot, complete, safe, pending_since)


def coalesce(changes: Sequence[Change]) -> dict[str, set[str]]:
    """A batch as {topic: keys}: a hundred updates of one key are one rebuild."""
    grouped: dict[str, set[str]] = {}
    for change in changes:
        grouped.setdefault(change.topic, set()).add(change.key)
    return grouped


def count_keys(changes: Mapping[str, Set[str]]) -> int:
    return sum(len(keys) for keys in changes.values())


class Stored(msgspec.Struct, frozen=True):
    """The checkpoint row as the leader cares about it."""

    position: Position
    rebuilt_at: datetime | None = None


async def ensure_checkpoint(db: Executor, projection: str) -> Stored:
    """The projection's checkpoint, creating its row at the start of the log the first time."""
    await db.execute(
        "INSERT INTO schedulesy.projector_checkpoint (projection) VALUES ($1) ON CONFLICT DO NOTHING",
        projection,
    )
    return await load_stored(db, projection)


async def load_stored(db: Executor, projection: str) -> Stored:
    row = await db.fetchrow(
        "SELECT last_xid, last_id, rebuilt_at FROM schedulesy.projector_checkpoint WHERE projection = $1",
        projection,
    )
    if row is None:
        return Stored(Position())
    return Stored(Position(row["last_xid"], row["last_id"]), row["rebuilt_at"])


async def advance_checkpoint(
    db: Executor, projection: str, expected: Position, new: Position, leader: str,
    pending_since: datetime | None = None,
) -> bool:
    """Move the checkpoint from ``expected`` to ``new``; False when someone else moved it meanwhile.

    Compare-and-set, because ``schedulesy rebuild`` may set the checkpoint while a leader runs: the
    leader must then reload it instead of overwriting it.
    """
    status: str = await db.execute(
        """
        UPDATE schedulesy.projector_checkpoint
        SET last_xid = $4::xid8, last_id = $5, updated_at = now(), heartbeat_at = now(), leader = $6,
            pending_since = $7
        WHERE projection = $1 AND last_xid = $2::xid8 AND last_id = $3
        """,
        projection, expected.xid, expected.id, new.xid, new.id, leader, pending_since,
    )
    return status == "UPDATE 1"


async def set_checkpoint(db: Executor, projection: str, position: Position | None) -> None:
    """After a rebuild: put the checkpoint at ``position`` whatever it was (everything up to there is
    in Redis), or leave it where it is (None), and say a rebuild happened (``rebuilt_at``)."""
    await db.execute(
        """
        INSERT INTO schedulesy.projector_checkpoint (projection, last_xid, last_id, rebuilt_at)
        VALUES ($1, coalesce($2::xid8, '0'::xid8), coalesce($3, 0), clock_timestamp())
        ON CONFLICT (projection) DO UPDATE
        SET last_xid = coalesce($2::xid8, projector_checkpoint.last_xid),
            last_id = coalesce($3, projector_checkpoint.last_id),
            updated_at = now(), rebuilt_at = excluded.rebuilt_at
        """,
        projection, None if position is None else position.xid, None if position is None else position.id,
    )


async def beat(db: Executor, projection: str, leader: str, pending_since: datetime | None = None) -> Stored | None:
    """The leader's heartbeat (health calls the worker dead when it stops) with its own view of its
    lag; returns the stored checkpoint, so the leader notices when ``schedulesy rebuild`` set it."""
    row = await db.fetchrow(
        """
        UPDATE schedulesy.projector_checkpoint SET heartbeat_at = now(), leader = $2, pending_since = $3
        WHERE projection = $1
        RETURNING last_xid, last_id, rebuilt_at
        """,
        projection, leader, pending_since,
    )
    return None if row is None else Stored(Position(row["last_xid"], row["last_id"]), row["rebuilt_at"])


class LeaderReport(msgspec.Struct, frozen=True):
    """What the leader last wrote in its checkpoint row: its position, heartbeat and own lag."""

    position: Position
    heartbeat_at: datetime | None
    pending_since: datetime | None


async def leader_report(db: Executor, projection: str) -> LeaderReport | None:
    row = await db.fetchrow(
        """
        SELECT last_xid, last_id, heartbeat_at, pending_since
        FROM schedulesy.projector_checkpoint WHERE projection = $1
        """,
        projection,
    )
    if row is None:
        return None
    return LeaderReport(Position(row["last_xid"], row["last_id"]), row["heartbeat_at"], row["pending_since"])


async def oldest_change_after(db: Executor, after: Position, created_after: datetime | None = None) -> datetime | None:
    """created_at of the oldest change after ``after`` in (xid, id) order — of those created after
    ``created_after`` only, when given — or None when there is none (health's projection lag)."""
    oldest: datetime | None = await db.fetchval(
        """
        SELECT min(created_at) FROM schedulesy.change
        WHERE (xid, id) > ($1::xid8, $2::bigint) AND ($3::timestamptz IS NULL OR created_at > $3)
        """,
        after.xid, after.id, created_after,
    )
    return oldest


async def frontier(conn: asyncpg.Connection) -> Position | None:
    """The last change of the finished transactions: what a rebuild that starts now will include.

    None when no finished transaction has logged anything.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot = _snapshot(await conn.fetchrow(_SNAPSHOT))
        row = await conn.fetchrow(_SAFE_POSITION, 0, 0, snapshot.frontier)
    return None if row is None else Position(row["xid"], row["id"])


async def prune(db: Executor, behind: Position, older_than_seconds: float, limit: int) -> int:
    """Delete up to ``limit`` change rows already applied and older than the retention; return how many.

    Small batches keep each delete short, so writers and the catch-up never wait on it.
    """
    status = await db.execute(
        """
        DELETE FROM schedulesy.change
        WHERE id = ANY(ARRAY(
            SELECT id FROM schedulesy.change
            WHERE (xid, id) <= ($1::xid8, $2::bigint)
              AND created_at < now() - make_interval(secs => $3)
            ORDER BY xid, id
            LIMIT $4
        ))
        """,
        behind.xid, behind.id, older_than_seconds, limit,
    )
    return int(status.split()[-1])


async def try_lead(conn: asyncpg.Connection, projection: str) -> bool:
    """Try to become the projection's leader: one per projection and per database. The lock is held
    by ``conn``, the listening connection, so it lasts as long as that session and dies with it."""
    return bool(
        await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", LockClass.PROJECTOR_LEADER, projection)
    )
