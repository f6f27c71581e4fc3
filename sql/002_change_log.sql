-- The durable change log: the truth the projector reads. NOTIFY is only a wake-up (docs/architecture.md §3).
CREATE SCHEMA IF NOT EXISTS schedulesy;

CREATE TABLE IF NOT EXISTS schedulesy.change (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    topic      text NOT NULL,
    key        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Catch-up reads rows by (xid, id) after a checkpoint, below the snapshot's xmin.
CREATE INDEX IF NOT EXISTS change_xid_id_idx ON schedulesy.change (xid, id);

-- One row per projection: the (xid, id) of the last change applied to Redis, and the
-- leader's heartbeat (health reads both).
CREATE TABLE IF NOT EXISTS schedulesy.projector_checkpoint (
    projection   text PRIMARY KEY,
    last_xid     xid8 NOT NULL DEFAULT '0'::xid8,
    last_id      bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz,
    leader       text
);

-- Row-level: log one change per affected key. TG_ARGV[0] = topic, TG_ARGV[1] = key column.
-- An UPDATE that moves the key (a login rename) logs both the old and the new key.
CREATE OR REPLACE FUNCTION schedulesy.log_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    new_key text;
    old_key text;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_key := to_jsonb(NEW) ->> TG_ARGV[1];
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_key := to_jsonb(OLD) ->> TG_ARGV[1];
    END IF;
    IF TG_OP = 'UPDATE' AND to_jsonb(NEW) = to_jsonb(OLD) THEN
        RETURN NULL;  -- a no-op write changes no read model
    END IF;
    IF new_key IS NOT NULL THEN
        INSERT INTO schedulesy.change (topic, key) VALUES (TG_ARGV[0], new_key);
    END IF;
    IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
        INSERT INTO schedulesy.change (topic, key) VALUES (TG_ARGV[0], old_key);
    END IF;
    PERFORM pg_notify('schedulesy_change', TG_ARGV[0]);
    RETURN NULL;
END
$$;

-- Statement-level with transition tables (bulk ADE sync): one change per distinct key that
-- really changed, one NOTIFY per statement. TG_ARGV[0] = topic, TG_ARGV[1] = key column.
CREATE OR REPLACE FUNCTION schedulesy.log_statement_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    logged bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format(
            'INSERT INTO schedulesy.change (topic, key)
             SELECT DISTINCT %L, to_jsonb(n) ->> %L FROM new_rows n', TG_ARGV[0], TG_ARGV[1]);
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format(
            'INSERT INTO schedulesy.change (topic, key)
             SELECT DISTINCT %L, to_jsonb(o) ->> %L FROM old_rows o', TG_ARGV[0], TG_ARGV[1]);
    ELSE
        -- Rows whose content is unchanged produce nothing; a moved key logs both sides.
        EXECUTE format(
            'INSERT INTO schedulesy.change (topic, key)
             SELECT DISTINCT %L, row_value ->> %L FROM (
                 (SELECT to_jsonb(n) AS row_value FROM new_rows n
                  EXCEPT SELECT to_jsonb(o) FROM old_rows o)
                 UNION ALL
                 (SELECT to_jsonb(o) FROM old_rows o
                  EXCEPT SELECT to_jsonb(n) FROM new_rows n)
             ) changed', TG_ARGV[0], TG_ARGV[1]);
    END IF;
    GET DIAGNOSTICS logged = ROW_COUNT;
    IF logged > 0 THEN
        PERFORM pg_notify('schedulesy_change', TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

-- Attach the statement-level triggers (one per operation: a transition table belongs to one event).
CREATE OR REPLACE PROCEDURE schedulesy.track_bulk_table(target regclass, topic text, key_column text)
LANGUAGE plpgsql AS $$
DECLARE
    base text := replace(target::text, '.', '_');
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', base || '_log_insert', target);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', base || '_log_update', target);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', base || '_log_delete', target);
    EXECUTE format(
        'CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows
         FOR EACH STATEMENT EXECUTE FUNCTION schedulesy.log_statement_change(%L, %L)',
        base || '_log_insert', target, topic, key_column);
    EXECUTE format(
        'CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
         FOR EACH STATEMENT EXECUTE FUNCTION schedulesy.log_statement_change(%L, %L)',
        base || '_log_update', target, topic, key_column);
    EXECUTE format(
        'CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows
         FOR EACH STATEMENT EXECUTE FUNCTION schedulesy.log_statement_change(%L, %L)',
        base || '_log_delete', target, topic, key_column);
END
$$;

-- Attach the row-level trigger (small tables written one row at a time, and w_edtperso).
CREATE OR REPLACE PROCEDURE schedulesy.track_row_table(target regclass, topic text, key_column text)
LANGUAGE plpgsql AS $$
DECLARE
    name text := replace(target::text, '.', '_') || '_log_change';
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', name, target);
    EXECUTE format(
        'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s
         FOR EACH ROW EXECUTE FUNCTION schedulesy.log_row_change(%L, %L)',
        name, target, topic, key_column);
END
$$;

-- Every write to w_edtperso, by us or by any other tool, is a change of that user.
CALL schedulesy.track_row_table('public.w_edtperso', 'user', 'uid');
