-- The ADE mirror, written only by the sync command (commands/ade_sync.py).

-- Resource tree nodes. `fields` is the node document of docs/compatibility.md §4.3.1 (attributes, tag,
-- parent, genealogy, child refs); category roots have ext_id = category key.
CREATE TABLE IF NOT EXISTS schedulesy.resource (
    ext_id        text PRIMARY KEY,
    category      text NOT NULL,
    parent_ext_id text,
    name          text NOT NULL,
    code          text NOT NULL DEFAULT '',
    email         text,
    fields        jsonb NOT NULL,
    geolocation   jsonb,            -- [lat, lon, alt] for rooms whose building is known
    position      integer NOT NULL DEFAULT 0,  -- ADE order among siblings
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS resource_parent_idx ON schedulesy.resource (parent_ext_id);
CREATE INDEX IF NOT EXISTS resource_category_idx ON schedulesy.resource (category);
CREATE INDEX IF NOT EXISTS resource_email_idx ON schedulesy.resource (lower(email)) WHERE email IS NOT NULL;
CALL schedulesy.track_bulk_table('schedulesy.resource', 'resource', 'ext_id');

-- Events. ADE changes an event's id when it is re-placed; (activity_id, repetition, session)
-- is its stable key (ICS UID). `sequence` grows each time the content changes.
CREATE TABLE IF NOT EXISTS schedulesy.event (
    event_id     bigint PRIMARY KEY,
    activity_id  bigint NOT NULL,
    repetition   integer NOT NULL,
    session      integer NOT NULL,
    name         text NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    date         text NOT NULL,          -- dd/MM/yyyy as ADE sends it (JSON documents keep it)
    start_hour   text NOT NULL,          -- HH:mm
    end_hour     text NOT NULL,          -- HH:mm
    duration     integer NOT NULL,       -- in ADE slots
    color        text NOT NULL DEFAULT '',  -- #rrggbb
    note         text NOT NULL DEFAULT '',
    last_update  timestamptz,            -- parsed lastUpdate (MM/dd/yyyy HH:mm), may be unknown
    content_hash text NOT NULL,
    sequence     integer NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (activity_id, repetition, session)
);
CREATE INDEX IF NOT EXISTS event_starts_at_idx ON schedulesy.event (starts_at);
CALL schedulesy.track_bulk_table('schedulesy.event', 'event', 'event_id');

-- The resources an event books (for display: groups, teachers, rooms, subjects).
CREATE TABLE IF NOT EXISTS schedulesy.event_resource (
    event_id        bigint NOT NULL REFERENCES schedulesy.event (event_id) ON DELETE CASCADE,
    resource_ext_id text NOT NULL,
    category        text NOT NULL,
    name            text NOT NULL,
    position        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, resource_ext_id)
);
CREATE INDEX IF NOT EXISTS event_resource_resource_idx ON schedulesy.event_resource (resource_ext_id);
CALL schedulesy.track_bulk_table('schedulesy.event_resource', 'event', 'event_id');

-- The events ADE returns for a resource: its timetable, which includes events booked on its
-- ancestor groups. Kept apart from event_resource on purpose.
CREATE TABLE IF NOT EXISTS schedulesy.timetable (
    resource_ext_id text NOT NULL,
    event_id        bigint NOT NULL REFERENCES schedulesy.event (event_id) ON DELETE CASCADE,
    PRIMARY KEY (resource_ext_id, event_id)
);
CREATE INDEX IF NOT EXISTS timetable_event_idx ON schedulesy.timetable (event_id);
CALL schedulesy.track_bulk_table('schedulesy.timetable', 'timetable', 'resource_ext_id');

-- Per-category fingerprints, last polls and each cycle's figures (health and metrics read it).
CREATE TABLE IF NOT EXISTS schedulesy.sync_state (
    name            text PRIMARY KEY,
    fingerprint     text,
    last_attempt_at timestamptz,
    last_success_at timestamptz,
    last_error      text,
    figures         jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Selections are looked up by resource ("which users selected 1616?") when a resource changes.
CREATE INDEX IF NOT EXISTS w_edtperso_ressources_idx
    ON public.w_edtperso USING gin (string_to_array(ressources, ','));
