-- E-mail alerts of timetable changes (commands/alerts/, docs/changes.md §3).

-- One subscription per login. Tokens are random (256 bits), single-purpose: `confirm_token` only
-- confirms (and is cleared once used), `unsubscribe_token` only unsubscribes (the row goes).
CREATE TABLE IF NOT EXISTS schedulesy.alert_subscription (
    username          text PRIMARY KEY,
    email             text NOT NULL,
    horizon_days      integer NOT NULL CHECK (horizon_days BETWEEN 1 AND 60),
    lang              text NOT NULL DEFAULT 'fr' CHECK (lang IN ('fr', 'en')),
    confirm_token     text UNIQUE,
    unsubscribe_token text NOT NULL UNIQUE,
    confirmed_at      timestamptz,
    last_mail_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Mails built and not yet sent (the leader sends them; a failed send is retried with backoff).
-- The message is dropped once sent: it carries tokens.
CREATE TABLE IF NOT EXISTS schedulesy.alert_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        text NOT NULL,
    purpose         text NOT NULL CHECK (purpose IN ('confirm', 'alert')),
    recipient       text NOT NULL,
    message         bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz
);
CREATE INDEX IF NOT EXISTS alert_outbox_due_idx ON schedulesy.alert_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- Which change went into which mail: the primary key is the "at most once per user" promise.
CREATE TABLE IF NOT EXISTS schedulesy.alert_delivery (
    username  text NOT NULL,
    change_id bigint NOT NULL,
    outbox_id bigint NOT NULL REFERENCES schedulesy.alert_outbox (id) ON DELETE CASCADE,
    PRIMARY KEY (username, change_id)
);
