-- Two facts the projector leader keeps in its checkpoint row besides its position (projections/worker.py).
--
-- pending_since: its own measure of its lag. With read-ahead the leader applies committed changes
-- above the gap-safe checkpoint at once, so "changes after the checkpoint" overstates the lag while
-- an older transaction of this database is open (an ADE sync, say). pending_since = created_at of
-- the oldest committed change not yet in Redis, as the leader last saw it (written with its
-- heartbeat); NULL = every committed change is in Redis. Trust it only while heartbeat_at is fresh;
-- otherwise fall back to the changes after the checkpoint.
--
-- rebuilt_at: when `schedulesy rebuild` last set the checkpoint. A running leader that sees it move
-- forgets what it read ahead and replays from the checkpoint, so that a rebuild (which read older
-- data) never stays written over newer documents.
ALTER TABLE schedulesy.projector_checkpoint ADD COLUMN IF NOT EXISTS pending_since timestamptz;
ALTER TABLE schedulesy.projector_checkpoint ADD COLUMN IF NOT EXISTS rebuilt_at timestamptz;
