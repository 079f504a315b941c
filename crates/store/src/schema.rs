//! The database schema and its migrations. Each migration is append-only: a released one is
//! never edited, so every box in the field can be brought forward from whatever it runs. The
//! schema they produce is written down in `schema.sql` beside `src/` (a test holds the two
//! together): read that to know the tables.
//!
//! Invariants the schema keeps (checked by constraints where SQLite can):
//! - `received` holds every PDU exactly as the modem gave it; a row is never deleted before the
//!   retention purge (which blanks it and replaces its hash by random bytes), and
//!   (modem, pdu_sha256) is unique, so reading the same SIM slot twice after
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
    M::up(
        r#"
-- The modem links' latest status, saved by the daemon for `status` run from another process.
CREATE TABLE modem_status (
    name            TEXT    PRIMARY KEY,
    status_json     TEXT    NOT NULL,
    saved_at_ms     INTEGER NOT NULL
);
"#,
    ),
    // Issue 5: survey sessions, survey answers on incidents, refusal kinds for counting.
    M::up(
        r#"
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
ALTER TABLE incidents ADD COLUMN survey_answers TEXT;
ALTER TABLE reply_refusals ADD COLUMN kind TEXT;
CREATE INDEX reply_refusals_at ON reply_refusals(at_ms);
CREATE INDEX outgoing_created ON outgoing(created_at_ms);
"#,
    ),
    // Multipart reassembly from the parts' raw user data, and delivery reports.
    M::up(
        r#"
-- The alphabet and raw user data of each part (septets for GSM-7, octets otherwise), so the
-- parts are joined before decoding: an escape or surrogate pair split by the sender survives.
ALTER TABLE received ADD COLUMN encoding TEXT;
ALTER TABLE received ADD COLUMN user_data BLOB;

-- One row per part the modem accepted, with the TP-MR it answered: what a status report is
-- matched against.
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
CREATE INDEX sent_parts_ref ON sent_parts(message_ref, sent_at_ms);
CREATE INDEX sent_parts_outgoing ON sent_parts(outgoing_id);

-- Delivery of the whole SMS, from its parts' reports (NULL: no report yet).
ALTER TABLE outgoing ADD COLUMN delivery_state TEXT
    CHECK (delivery_state IN ('delivered', 'pending', 'failed'));
ALTER TABLE outgoing ADD COLUMN delivery_status TEXT;
ALTER TABLE outgoing ADD COLUMN delivery_at_ms INTEGER;

-- Every status report received, matched or not (outgoing_id NULL: it matched nothing).
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
    // The daily reply budget counted per hour: the guard sums at most 25 rows instead of
    // walking every SMS queued in the last 24 hours (issue 8). Every SMS that counts against
    // the budget (all but technicians' tests) adds one to its hour, in the transaction that
    // queues it; the rows already queued are counted in here.
    M::up(
        r#"
CREATE TABLE reply_budget (
    hour            INTEGER PRIMARY KEY,         -- created_at_ms / 3600000 (Unix hours)
    queued          INTEGER NOT NULL
);
INSERT INTO reply_budget (hour, queued)
    SELECT created_at_ms / 3600000, COUNT(*) FROM outgoing WHERE kind != 'test' GROUP BY 1;
"#,
    ),
    // At most once per SMS (issue 15): a row is claimed ('sending', committed) before the modem
    // gets it, so a send whose outcome could not be recorded is never sent again on its own.
    // SQLite cannot change a CHECK in place: the table is built again under its own name (the
    // old one renamed away first, with `legacy_alter_table` so the tables that reference
    // `outgoing` keep referencing it; `migrate` turns foreign keys off around the migrations and
    // the check after this one proves no reference broke).
    M::up(
        r#"
PRAGMA legacy_alter_table = ON;
ALTER TABLE outgoing RENAME TO outgoing_before_sending;
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
INSERT INTO outgoing (id, modem, recipient, text, kind, incident_id, state, attempts,
                      next_attempt_ms, last_error, message_refs, created_at_ms, sent_at_ms,
                      delivery_state, delivery_status, delivery_at_ms)
    SELECT id, modem, recipient, text, kind, incident_id, state, attempts,
           next_attempt_ms, last_error, message_refs, created_at_ms, sent_at_ms,
           delivery_state, delivery_status, delivery_at_ms
    FROM outgoing_before_sending;
DROP TABLE outgoing_before_sending;
CREATE INDEX outgoing_due ON outgoing(modem, next_attempt_ms) WHERE state = 'queued';
CREATE INDEX outgoing_recipient ON outgoing(recipient, created_at_ms);
CREATE INDEX outgoing_created ON outgoing(created_at_ms);
CREATE INDEX outgoing_sending ON outgoing(state) WHERE state = 'sending';
PRAGMA legacy_alter_table = OFF;

-- Written and deleted in every claim: a claim commits only while the database can still take
-- a page, the room the record of the send needs.
CREATE TABLE room_check (
    id              INTEGER PRIMARY KEY,
    pad             BLOB    NOT NULL
);
"#,
    )
    .foreign_key_check(),
    // The SMS parts each platform message costs: their daily budget is counted in parts.
    M::up(
        r#"
ALTER TABLE outbound ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
"#,
    ),
    // The intake quota: an incident whose sender sent more than the hourly limit is flagged for
    // the platform, and messages are counted per sender and for the whole box over an hour.
    M::up(
        r#"
ALTER TABLE incidents ADD COLUMN flood INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_sender ON messages(sender, received_at_ms);
CREATE INDEX messages_received ON messages(received_at_ms);
"#,
    ),
    // Issue 16: a refusal of the credentials or the URL (401, 403, 404, 405, 407, a redirect)
    // is no fault of a batch, yet older versions quarantined the batches it came for, and they
    // stayed there after the technician fixed the cause. Back in the queue, oldest first by
    // seq, once, on the upgrade. Data only: the schema is unchanged.
    M::up(
        r#"
UPDATE batches SET state = 'pending', quarantined_at_ms = NULL
 WHERE state = 'quarantined'
   AND (last_status IN (401, 403, 404, 405, 407) OR last_status BETWEEN 300 AND 399);
"#,
    ),
    // Issue 19: urgent reports texted to the partners' focal points while the platform is out
    // of reach. One row per report and focal point, unique, so no report is ever escalated
    // twice to one person, even across a crash between the decision and the commit.
    M::up(
        r#"
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
"#,
    ),
];

/// Brings the schema to the newest version.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), rusqlite_migration::Error> {
    // A table is rebuilt under its own name in some migrations: with foreign keys on, dropping
    // the old copy would check (or cascade to) the rows that reference it. SQLite ignores this
    // pragma inside a transaction, so it is set around them.
    // Not through the statement cache: SQLite reads a setting's pragma when it prepares it.
    let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = Migrations::from_slice(MIGRATIONS).to_latest(conn);
    conn.pragma_update(None, "foreign_keys", foreign_keys)?;
    migrated
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of a two-column query.
    fn pairs<A: rusqlite::types::FromSql, B: rusqlite::types::FromSql>(
        conn: &Connection,
        sql: &str,
    ) -> Vec<(A, B)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The schema the migrations should produce, written down once: read it to know the tables.
    const GOLDEN: &str = include_str!("../schema.sql");

    /// The schema of `conn` as SQLite keeps it (`sqlite_master`): tables in name order, each
    /// followed by its indexes, every line without trailing blanks, after a header naming the
    /// version.
    fn dump(conn: &Connection) -> String {
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let mut out = format!(
            "-- The database schema after every migration (src/schema.rs), as SQLite keeps it in\n\
             -- sqlite_master: tables in name order, each followed by its indexes. The schema test\n\
             -- checks the migrations produce exactly this file; after changing them, replace it with\n\
             -- the schema the failing test prints. The values a column of a fixed set holds\n\
             -- are the enums of src/kinds.rs (a comment below may be older than they are).\n\
             --\n\
             -- user_version {version}\n"
        );
        let mut stmt = conn
            .prepare(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL
                 ORDER BY tbl_name, type = 'index', name",
            )
            .unwrap();
        let statements = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        for sql in statements {
            out.push('\n');
            for line in sql.lines() {
                out.push_str(line.trim_end());
                out.push('\n');
            }
            // The statement's last line holds its `;`.
            out.pop();
            out.push_str(";\n");
        }
        out
    }

    /// Fails with the schema `conn` has when it is not the golden one.
    fn assert_golden(conn: &Connection, how: &str) {
        let actual = dump(conn);
        if actual != GOLDEN {
            println!("{actual}");
            panic!(
                "{how}: the migrations do not produce crates/store/schema.sql; the schema they \
                 produce is printed above (replace the file with it if the change is meant)"
            );
        }
    }

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }

    #[test]
    fn a_new_database_gets_the_written_down_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_golden(&conn, "a new database");
    }

    /// A box in the field may run any released version: from each, the migrations reach the
    /// same schema.
    #[test]
    fn a_database_of_every_earlier_version_reaches_the_same_schema() {
        let migrations = Migrations::from_slice(MIGRATIONS);
        for version in 1..MIGRATIONS.len() {
            let mut conn = Connection::open_in_memory().unwrap();
            // As `migrate` does: a box reached that version through it, foreign keys off.
            conn.pragma_update(None, "foreign_keys", false).unwrap();
            migrations.to_version(&mut conn, version).unwrap();
            migrate(&mut conn).unwrap();
            assert_golden(&conn, &format!("a database at version {version}"));
        }
    }

    /// The rebuild that let `outgoing.state` take 'sending' keeps every row, its delivery
    /// columns and the parts and reports that point at it, with foreign keys enforced after.
    #[test]
    fn the_outgoing_rebuild_keeps_the_rows_and_what_references_them() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        let migrations = Migrations::from_slice(MIGRATIONS);
        migrations.to_version(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO outgoing (id, modem, recipient, text, kind, state, next_attempt_ms,
                                   created_at_ms, message_refs, sent_at_ms, delivery_state)
                 VALUES (7, 'm1', '+243810000001', 'Asante', 'ack', 'sent', 1, 1, '12', 2,
                         'delivered');
             INSERT INTO sent_parts (outgoing_id, part, message_ref, recipient, sent_at_ms)
                 VALUES (7, 1, 12, '+243810000001', 2);
             INSERT INTO outbound (id, recipient_kind, recipient, outgoing_id, state,
                                   received_at_ms, updated_at_ms)
                 VALUES ('p-1', 'reporter', 'x', 7, 'sent', 1, 1);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let foreign_keys: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(
            foreign_keys,
            "foreign keys are on again after the migrations"
        );
        let row: (String, String, Option<i64>) = conn
            .query_row(
                "SELECT state, delivery_state, claimed_at_ms FROM outgoing WHERE id = 7",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("sent".into(), "delivered".into(), None));
        assert!(
            conn.execute("DELETE FROM outgoing WHERE id = 7", [])
                .is_err(),
            "the parts still reference the rebuilt table"
        );
        conn.execute("UPDATE outgoing SET state = 'sending' WHERE id = 7", [])
            .unwrap();
    }

    #[test]
    fn the_reply_budget_counts_what_was_queued_before_the_upgrade() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = Migrations::from_slice(MIGRATIONS);
        // The version before the budget's migration.
        migrations.to_version(&mut conn, 5).unwrap();
        let hour = 3_600_000_i64;
        let t = 490_000 * hour;
        for (kind, at) in [
            ("ack", t + 5),
            ("help", t + hour - 1),
            ("platform", t + hour),
            ("test", t + hour + 7),
            ("ack", t + 3 * hour),
        ] {
            conn.execute(
                "INSERT INTO outgoing (modem, recipient, text, kind, next_attempt_ms, created_at_ms)
                 VALUES ('m1', '+243810000001', 'x', ?1, ?2, ?2)",
                rusqlite::params![kind, at],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let buckets: Vec<(i64, i64)> =
            pairs(&conn, "SELECT hour, queued FROM reply_budget ORDER BY hour");
        assert_eq!(buckets, vec![(490_000, 2), (490_001, 1), (490_003, 1)]);
    }

    /// Batches an older version quarantined for a refused token, signature or URL go back to
    /// the queue on the upgrade; those the platform refused for their content stay.
    #[test]
    fn batches_quarantined_for_credentials_or_the_url_are_requeued_on_upgrade() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = Migrations::from_slice(MIGRATIONS);
        migrations.to_version(&mut conn, 7).unwrap();
        for (seq, status) in [(1, 401), (2, 400), (3, 403), (4, 404), (5, 301), (6, 422)] {
            conn.execute(
                "INSERT INTO batches (id, seq, created_at_ms, state, last_status, last_error,
                                      quarantined_at_ms)
                 VALUES ('gw-b' || ?1, ?1, 1, 'quarantined', ?2, 'HTTP ' || ?2, 2)",
                rusqlite::params![seq, status],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let states: Vec<(i64, String)> =
            pairs(&conn, "SELECT last_status, state FROM batches ORDER BY seq");
        let pending = |s: &str| s.to_string();
        assert_eq!(
            states,
            vec![
                (401, pending("pending")),
                (400, pending("quarantined")),
                (403, pending("pending")),
                (404, pending("pending")),
                (301, pending("pending")),
                (422, pending("quarantined")),
            ]
        );
    }
}
