//! The database schema and its migrations. Each migration is append-only: a released one is
//! never edited, so every box in the field can be brought forward from whatever it runs.
//!
//! Invariants the schema keeps (checked by constraints where SQLite can):
//! - `received` holds every PDU exactly as the modem gave it; a row is never deleted before the
//!   retention purge, and (modem, pdu_sha256) is unique, so reading the same SIM slot twice after
//!   a crash stores it once.
//! - A `messages` row exists only once all its parts are in `received` (or the reassembly timeout
//!   gave up on the rest: `decode_status = 'incomplete'`).
//! - An incident is `delivered` only after the platform answered 2xx to the batch holding it;
//!   a batch's incident list never changes once created, so its id is stable across retries.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

const MIGRATIONS: &[M<'static>] = &[
    M::up(
        r#"
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
    message_id      INTEGER REFERENCES messages(id),
    UNIQUE (modem, pdu_sha256)
);
CREATE INDEX received_new ON received(state) WHERE state IN ('new', 'part');
CREATE INDEX received_group ON received(sender, concat_ref, concat_total) WHERE state = 'part';

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
CREATE INDEX messages_unhandled ON messages(handled) WHERE handled = 0;

CREATE TABLE batches (
    id              TEXT    PRIMARY KEY,
    seq             INTEGER NOT NULL UNIQUE,
    created_at_ms   INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'quarantined')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    delivered_at_ms INTEGER
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
);
CREATE INDEX incidents_unbatched ON incidents(id) WHERE batch_id IS NULL;
CREATE INDEX incidents_batch ON incidents(batch_id);

CREATE TABLE outgoing (
    id              INTEGER PRIMARY KEY,
    modem           TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,            -- ack, help, platform, test
    incident_id     INTEGER REFERENCES incidents(id),
    state           TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    message_refs    TEXT,
    created_at_ms   INTEGER NOT NULL,
    sent_at_ms      INTEGER
);
CREATE INDEX outgoing_due ON outgoing(modem, next_attempt_ms) WHERE state = 'queued';
CREATE INDEX outgoing_recipient ON outgoing(recipient, created_at_ms);

-- Refusals of the reply guard, so rate limits and budgets can be counted and shown.
CREATE TABLE reply_refusals (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL
);
"#,
    ),
    // Platform contract, round 2: the pseudonym -> number map for replies, outbound messages
    // pulled from the platform, quarantine details for the heartbeat, and the retention purge.
    M::up(
        r#"
CREATE TABLE reporters (
    name            TEXT    PRIMARY KEY,         -- as the platform knows it (pseudonym or number)
    number          TEXT    NOT NULL,
    modem           TEXT    NOT NULL,            -- the modem that received the last report
    last_incident   INTEGER,
    last_seen_ms    INTEGER NOT NULL
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
);

ALTER TABLE batches ADD COLUMN quarantined_at_ms INTEGER;
ALTER TABLE batches ADD COLUMN last_status INTEGER;
ALTER TABLE incidents ADD COLUMN purged_at_ms INTEGER;
CREATE INDEX incidents_purgeable ON incidents(delivered_at_ms) WHERE purged_at_ms IS NULL;
-- Cutting a batch loads each incident's raw PDUs: without this, a scan of all PDUs per incident
-- (seconds per batch with a 100,000-report backlog).
CREATE INDEX received_message ON received(message_id);
"#,
    ),
];

/// Brings the schema to the newest version.
pub fn migrate(conn: &mut Connection) -> Result<(), rusqlite_migration::Error> {
    Migrations::from_slice(MIGRATIONS).to_latest(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }
}
