-- The database schema after every migration (src/schema.rs), as SQLite keeps it in
-- sqlite_master: tables in name order, each followed by its indexes. The schema test
-- checks the migrations produce exactly this file; after changing them, replace it with
-- the schema the failing test prints. The values a column of a fixed set holds
-- are the enums of src/kinds.rs (a comment below may be older than they are).
--
-- user_version 11

CREATE TABLE batches (
    id              TEXT    PRIMARY KEY,
    seq             INTEGER NOT NULL UNIQUE,
    created_at_ms   INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'quarantined')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    delivered_at_ms INTEGER
, quarantined_at_ms INTEGER, last_status INTEGER);

CREATE TABLE escalations (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents(id),
    focal_point     TEXT    NOT NULL,            -- the focal point's number (a partner's, not a reporter's)
    partner         TEXT    NOT NULL,
    label           TEXT    NOT NULL,            -- how the platform is told who it was
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'refused')),
    outgoing_id     INTEGER REFERENCES outgoing(id),
    reason          TEXT,                        -- why the guard refused it
    created_at_ms   INTEGER NOT NULL,
    acked_at_ms     INTEGER,                     -- when this focal point answered ACK
    UNIQUE (incident_id, focal_point)
);

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    reference       TEXT    NOT NULL UNIQUE,
    incident_type   TEXT    NOT NULL,
    language        TEXT,
    description     TEXT    NOT NULL,
    location        TEXT,
    created_at_ms   INTEGER NOT NULL,
    batch_id        TEXT    REFERENCES batches(id),
    delivered_at_ms INTEGER
, survey_answers TEXT, purged_at_ms INTEGER, flood INTEGER NOT NULL DEFAULT 0);

CREATE INDEX incidents_batch ON incidents(batch_id);

CREATE INDEX incidents_purgeable ON incidents(delivered_at_ms) WHERE purged_at_ms IS NULL;

CREATE INDEX incidents_unbatched ON incidents(id) WHERE batch_id IS NULL;

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    modem           TEXT    NOT NULL,
    sender          TEXT,
    sender_kind     TEXT,
    text            TEXT    NOT NULL,
    parts           INTEGER NOT NULL,
    decode_status   TEXT    NOT NULL CHECK (decode_status IN ('ok', 'undecodable', 'incomplete')),
    smsc_time       TEXT,
    received_at_ms  INTEGER NOT NULL,
    handled         INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX messages_received ON messages(received_at_ms);

CREATE INDEX messages_sender ON messages(sender, received_at_ms);

CREATE INDEX messages_unhandled ON messages(handled) WHERE handled = 0;

CREATE TABLE modem_status (
    name            TEXT    PRIMARY KEY,
    status_json     TEXT    NOT NULL,
    saved_at_ms     INTEGER NOT NULL
);

CREATE TABLE outbound (
    id              TEXT    PRIMARY KEY,         -- the platform's id: one SMS per id, ever
    recipient_kind  TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    outgoing_id     INTEGER REFERENCES outgoing(id),
    state           TEXT    NOT NULL
                    CHECK (state IN ('accepted', 'sent', 'failed', 'undeliverable')),
    detail          TEXT,
    reported_state  TEXT,                        -- the last state the platform acknowledged
    received_at_ms  INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
, parts INTEGER NOT NULL DEFAULT 0);

CREATE TABLE outgoing (
    id              INTEGER PRIMARY KEY,
    modem           TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,            -- ack, help, platform, test
    incident_id     INTEGER REFERENCES incidents(id),
    state           TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    message_refs    TEXT,
    created_at_ms   INTEGER NOT NULL,
    sent_at_ms      INTEGER,
    delivery_state  TEXT    CHECK (delivery_state IN ('delivered', 'pending', 'failed')),
    delivery_status TEXT,
    delivery_at_ms  INTEGER,
    claimed_at_ms   INTEGER                      -- when it was handed to the modem
);

CREATE INDEX outgoing_created ON outgoing(created_at_ms);

CREATE INDEX outgoing_due ON outgoing(modem, next_attempt_ms) WHERE state = 'queued';

CREATE INDEX outgoing_recipient ON outgoing(recipient, created_at_ms);

CREATE INDEX outgoing_sending ON outgoing(state) WHERE state = 'sending';

CREATE TABLE received (
    id              INTEGER PRIMARY KEY,
    modem           TEXT    NOT NULL,
    storage         TEXT    NOT NULL,
    sim_index       INTEGER,
    pdu_hex         TEXT    NOT NULL,
    pdu_sha256      BLOB    NOT NULL,
    received_at_ms  INTEGER NOT NULL,            -- gateway clock
    state           TEXT    NOT NULL DEFAULT 'new'
                    CHECK (state IN ('new', 'part', 'joined', 'duplicate')),
    decode_error    TEXT,
    sender          TEXT,
    sender_kind     TEXT,
    smsc_time       TEXT,                        -- RFC 3339 with the PDU's own offset
    concat_ref      INTEGER,
    concat_total    INTEGER,
    concat_seq      INTEGER,
    text            TEXT,
    message_id      INTEGER REFERENCES messages(id), encoding TEXT, user_data BLOB,
    UNIQUE (modem, pdu_sha256)
);

CREATE INDEX received_group ON received(sender, concat_ref, concat_total) WHERE state = 'part';

CREATE INDEX received_message ON received(message_id);

CREATE INDEX received_new ON received(state) WHERE state IN ('new', 'part');

CREATE TABLE reply_budget (
    hour            INTEGER PRIMARY KEY,         -- created_at_ms / 3600000 (Unix hours)
    queued          INTEGER NOT NULL
);

CREATE TABLE reply_refusals (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL
, kind TEXT);

CREATE INDEX reply_refusals_at ON reply_refusals(at_ms);

CREATE TABLE reporters (
    name            TEXT    PRIMARY KEY,         -- as the platform knows it (pseudonym or number)
    number          TEXT    NOT NULL,
    modem           TEXT    NOT NULL,            -- the modem that received the last report
    last_incident   INTEGER,
    last_seen_ms    INTEGER NOT NULL
);

CREATE TABLE room_check (
    id              INTEGER PRIMARY KEY,
    pad             BLOB    NOT NULL
);

CREATE TABLE sent_parts (
    id              INTEGER PRIMARY KEY,
    outgoing_id     INTEGER NOT NULL REFERENCES outgoing(id),
    part            INTEGER NOT NULL,            -- 1-based
    message_ref     INTEGER NOT NULL CHECK (message_ref BETWEEN 0 AND 255),
    recipient       TEXT    NOT NULL,
    sent_at_ms      INTEGER NOT NULL,
    delivery_state  TEXT    CHECK (delivery_state IN ('delivered', 'pending', 'failed')),
    status          INTEGER,                     -- TP-ST of the latest report
    status_text     TEXT,
    reported_at_ms  INTEGER
);

CREATE INDEX sent_parts_outgoing ON sent_parts(outgoing_id);

CREATE INDEX sent_parts_ref ON sent_parts(message_ref, sent_at_ms);

CREATE TABLE sessions (
    sender          TEXT    PRIMARY KEY,
    modem           TEXT    NOT NULL,
    state           TEXT    NOT NULL,            -- dialogue::SessionState as JSON
    -- What is forwarded if the survey is never finished (a partial report):
    last_message_id INTEGER NOT NULL REFERENCES messages(id),
    reference       TEXT    NOT NULL,
    incident_type   TEXT    NOT NULL,
    language        TEXT,
    description     TEXT    NOT NULL,
    location        TEXT,
    answers         TEXT    NOT NULL,            -- JSON object, as in incidents.survey_answers
    started_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);

CREATE INDEX sessions_updated ON sessions(updated_at_ms);

CREATE TABLE status_reports (
    id              INTEGER PRIMARY KEY,
    received_id     INTEGER NOT NULL UNIQUE REFERENCES received(id),
    message_ref     INTEGER NOT NULL,
    recipient       TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    delivery_state  TEXT    NOT NULL CHECK (delivery_state IN ('delivered', 'pending', 'failed')),
    status_text     TEXT    NOT NULL,
    discharge_time  TEXT,
    sent_part_id    INTEGER REFERENCES sent_parts(id),
    outgoing_id     INTEGER REFERENCES outgoing(id),
    received_at_ms  INTEGER NOT NULL
);
