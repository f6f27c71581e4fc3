-- What changed in each event, as users see it (commands/ade_sync/history.py writes it in the same
-- transaction as the mirror; docs/changes.md). One row per detected change of one event:
-- `kind` is the main change (added, removed, moved, rooms, instructors, renamed), `before` and
-- `after` the event's mirror row with the resources it books, names included (schedulesy/history.py:
-- EventSnapshot; NULL when added / removed), `resources` every resource whose timetable showed the
-- event before or after: the selections whose feeds list the change.
CREATE TABLE IF NOT EXISTS schedulesy.event_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid         uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    detected_at timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN ('added', 'removed', 'moved', 'rooms', 'instructors', 'renamed')),
    event_id    bigint NOT NULL,
    activity_id bigint NOT NULL,
    repetition  integer NOT NULL,
    session     integer NOT NULL,
    starts_at   timestamptz NOT NULL,
    before      jsonb,
    after       jsonb,
    resources   text[] NOT NULL
);
CREATE INDEX IF NOT EXISTS event_history_resources_idx ON schedulesy.event_history USING gin (resources);
CREATE INDEX IF NOT EXISTS event_history_detected_at_idx ON schedulesy.event_history (detected_at);

-- Statement-level: one `history` change per distinct resource of the rows written (a row names
-- several resources, so the generic log_statement_change, one key column, does not fit).
CREATE OR REPLACE FUNCTION schedulesy.log_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    logged bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO schedulesy.change (topic, key)
        SELECT DISTINCT TG_ARGV[0], unnest(n.resources) FROM new_rows n;
    ELSE
        INSERT INTO schedulesy.change (topic, key)
        SELECT DISTINCT TG_ARGV[0], unnest(o.resources) FROM old_rows o;
    END IF;
    GET DIAGNOSTICS logged = ROW_COUNT;
    IF logged > 0 THEN
        PERFORM pg_notify('schedulesy_change', TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS schedulesy_event_history_log_insert ON schedulesy.event_history;
CREATE TRIGGER schedulesy_event_history_log_insert AFTER INSERT ON schedulesy.event_history
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION schedulesy.log_history_change('history');
DROP TRIGGER IF EXISTS schedulesy_event_history_log_delete ON schedulesy.event_history;
CREATE TRIGGER schedulesy_event_history_log_delete AFTER DELETE ON schedulesy.event_history
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION schedulesy.log_history_change('history');
