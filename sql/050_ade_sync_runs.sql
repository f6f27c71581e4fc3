-- One row per ADE sync asked for through the admin API (POST /api/admin/sync answers 202 at once
-- with this row's URL; the cycle runs in the background and writes its outcome here).
-- status: queued → running → ok | partial | failed | skipped, or cancelled (the process stopped; a run whose
-- process was killed is found by its free advisory lock and marked cancelled when its outcome is read).
CREATE TABLE IF NOT EXISTS schedulesy.sync_run (
    id           bigserial PRIMARY KEY,
    requested_by text NOT NULL,
    force        boolean NOT NULL DEFAULT false,
    full_pass    boolean NOT NULL DEFAULT false,
    status       text NOT NULL DEFAULT 'queued',
    requested_at timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    report       jsonb,
    error        text
);
