-- What w_edtperso has no column for: the front end's display configuration, per user.
CREATE TABLE IF NOT EXISTS schedulesy.customization_config (
    username      varchar(32) PRIMARY KEY,
    configuration jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CALL schedulesy.track_row_table('schedulesy.customization_config', 'user', 'username');

-- Direct accesses: named, revocable capability keys for the ICS/JSON timetable URLs.
CREATE TABLE IF NOT EXISTS schedulesy.access (
    key        uuid PRIMARY KEY,
    username   varchar(32) NOT NULL,
    name       varchar(256) NOT NULL CHECK (length(name) >= 1),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (username, name)
);
CREATE INDEX IF NOT EXISTS access_username_idx ON schedulesy.access (username, created_at);
CALL schedulesy.track_row_table('schedulesy.access', 'access', 'key');
