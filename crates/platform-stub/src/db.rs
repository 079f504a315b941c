//! The reference receiver's SQLite file. One thread owns the connection; HTTP handlers and the
//! test controls hand it closures, so no SQLite call ever runs on an async worker thread.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use serde::{Deserialize, Serialize};

use platform_api::{
    Batch, BatchAck, Heartbeat, IncidentRecord, OutboundMessage, OutboundState, OutboundStatusAck,
    OutboundStatusReport, Recipient,
};

use super::OutboundRecord;

const SCHEMA_V1: &str = "CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        gateway_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        first_received_at TEXT NOT NULL,
        incident_count INTEGER NOT NULL,
        posts INTEGER NOT NULL
    );
    CREATE TABLE incidents (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        batch_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        reporter TEXT NOT NULL,
        received_at TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX incidents_by_reporter ON incidents(reporter);
    CREATE TABLE receipts (
        seq INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        duplicates INTEGER NOT NULL,
        conflicts INTEGER NOT NULL
    );
    CREATE TABLE heartbeats (
        seq INTEGER PRIMARY KEY,
        gateway_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE outbound (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        gateway_id TEXT NOT NULL,
        to_kind TEXT NOT NULL,
        to_value TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL,
        leased_until INTEGER,
        pulls INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX outbound_by_gateway_state ON outbound(gateway_id, state);";

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(SCHEMA_V1)])
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the stub database thread has stopped")]
    Gone,
    #[error("stub database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stub database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("cannot start the stub database thread: {0}")]
    Thread(#[source] std::io::Error),
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Handle to the database thread. The thread ends when the last handle is dropped.
#[derive(Clone)]
pub(super) struct Db {
    jobs: mpsc::Sender<Job>,
}

impl Db {
    /// Opens (creating if needed) and migrates the file on a new thread; blocks until done.
    pub(super) fn open(path: &Path) -> Result<(Db, JoinHandle<()>), DbError> {
        let path = path.to_path_buf();
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), DbError>>(1);
        let thread = std::thread::Builder::new()
            .name("platform-stub-db".to_string())
            .spawn(move || {
                let mut conn = match open_connection(&path) {
                    Ok(conn) => {
                        let _ = ready_tx.send(Ok(()));
                        conn
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = queue.recv() {
                    job(&mut conn);
                }
            })
            .map_err(DbError::Thread)?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok((Db { jobs }, thread)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DbError::Gone),
        }
    }

    /// Runs `f` on the database thread, from async code.
    pub(super) async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| DbError::Gone)?;
        rx.await.map_err(|_| DbError::Gone)?
    }

    /// Runs `f` on the database thread and waits for it (test controls; never blocks on the
    /// async runtime, so it is safe to call from inside one).
    pub(super) fn call_blocking<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| DbError::Gone)?;
        rx.recv().map_err(|_| DbError::Gone)?
    }
}

fn open_connection(path: &Path) -> Result<Connection, DbError> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // The receiver acknowledges only what is on disk: FULL makes each commit durable in WAL mode.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, DbError> {
    serde_json::to_string(value)
        .map_err(|e| DbError::Sql(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
}

/// What storing a batch found.
pub(super) struct Stored {
    pub(super) ack: BatchAck,
    /// Ids already stored with different content: a gateway reusing ids (e.g. after its store
    /// was reset) — the first version is kept, and this is logged loudly.
    pub(super) conflicts: Vec<String>,
}

/// Stores the batch's new incidents in one transaction; incidents already known by id count as
/// duplicates. A batch id seen before is recorded once, with its post count.
pub(super) fn store_batch(
    conn: &mut Connection,
    batch: &Batch,
    received_at: &str,
) -> Result<Stored, DbError> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO batches (batch_id, gateway_id, created_at, first_received_at, incident_count, posts)
         VALUES (?1, ?2, ?3, ?4, ?5, 1)
         ON CONFLICT(batch_id) DO UPDATE SET posts = posts + 1",
        params![
            batch.batch_id,
            batch.gateway_id,
            batch.created_at,
            received_at,
            i64::try_from(batch.incidents.len()).unwrap_or(i64::MAX)
        ],
    )?;
    let mut accepted = 0_u32;
    let mut duplicates = 0_u32;
    let mut conflicts = Vec::new();
    {
        let mut insert = tx.prepare(
            "INSERT INTO incidents (id, batch_id, gateway_id, reporter, received_at, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO NOTHING",
        )?;
        let mut existing = tx.prepare("SELECT record FROM incidents WHERE id = ?1")?;
        for incident in &batch.incidents {
            let record = to_json(incident)?;
            let inserted = insert.execute(params![
                incident.id,
                batch.batch_id,
                batch.gateway_id,
                incident.reporter,
                received_at,
                record
            ])?;
            if inserted == 1 {
                accepted += 1;
            } else {
                duplicates += 1;
                let stored: String = existing.query_row([&incident.id], |r| r.get(0))?;
                if stored != record {
                    conflicts.push(incident.id.clone());
                }
            }
        }
    }
    tx.execute(
        "INSERT INTO receipts (batch_id, received_at, accepted, duplicates, conflicts)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            batch.batch_id,
            received_at,
            accepted,
            duplicates,
            i64::try_from(conflicts.len()).unwrap_or(i64::MAX)
        ],
    )?;
    tx.commit()?;
    Ok(Stored {
        ack: BatchAck {
            batch_id: batch.batch_id.clone(),
            accepted,
            duplicates,
        },
        conflicts,
    })
}

pub(super) fn store_heartbeat(
    conn: &mut Connection,
    heartbeat: &Heartbeat,
    received_at: &str,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO heartbeats (gateway_id, received_at, body) VALUES (?1, ?2, ?3)",
        params![heartbeat.gateway_id, received_at, to_json(heartbeat)?],
    )?;
    Ok(())
}

pub(super) fn incidents(conn: &mut Connection) -> Result<Vec<IncidentRecord>, DbError> {
    let mut stmt = conn.prepare("SELECT id, record FROM incidents ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, record) = row?;
        match serde_json::from_str(&record) {
            Ok(incident) => out.push(incident),
            Err(e) => tracing::warn!(%id, error = %e, "stored incident no longer parses; skipped"),
        }
    }
    Ok(out)
}

pub(super) fn heartbeats(conn: &mut Connection) -> Result<Vec<Heartbeat>, DbError> {
    let mut stmt = conn.prepare("SELECT body FROM heartbeats ORDER BY seq")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        match serde_json::from_str(&row?) {
            Ok(hb) => out.push(hb),
            Err(e) => tracing::warn!(error = %e, "stored heartbeat no longer parses; skipped"),
        }
    }
    Ok(out)
}

pub(super) struct Counts {
    pub(super) batches: usize,
    pub(super) duplicates: usize,
    pub(super) conflicts: usize,
}

pub(super) fn counts(conn: &mut Connection) -> Result<Counts, DbError> {
    let batches: i64 = conn.query_row("SELECT count(*) FROM batches", [], |r| r.get(0))?;
    let (duplicates, conflicts): (i64, i64) = conn.query_row(
        "SELECT coalesce(sum(duplicates), 0), coalesce(sum(conflicts), 0) FROM receipts",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let n = |v: i64| usize::try_from(v).unwrap_or(0);
    Ok(Counts {
        batches: n(batches),
        duplicates: n(duplicates),
        conflicts: n(conflicts),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("no incident has been received from {0}; a message can only go to a known reporter")]
    UnknownRecipient(String),
    #[error("the message text is empty")]
    EmptyText,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for EnqueueError {
    fn from(e: rusqlite::Error) -> Self {
        EnqueueError::Db(DbError::Sql(e))
    }
}

/// Where an outbound message stands, as the stub stores it (`outbound.state`) and lists it
/// (`GET /admin/outbound`): waiting, handed out, or the last state its gateway reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum MessageState {
    /// Waiting for its gateway's next pull.
    Queued,
    /// Handed out; offered again when the lease runs out without a status.
    Pulled,
    Accepted,
    Sent,
    Failed,
    Undeliverable,
}

impl MessageState {
    #[cfg(test)]
    const ALL: [MessageState; 6] = [
        MessageState::Queued,
        MessageState::Pulled,
        MessageState::Accepted,
        MessageState::Sent,
        MessageState::Failed,
        MessageState::Undeliverable,
    ];

    fn as_str(self) -> &'static str {
        match self {
            MessageState::Queued => "queued",
            MessageState::Pulled => "pulled",
            MessageState::Accepted => "accepted",
            MessageState::Sent => "sent",
            MessageState::Failed => "failed",
            MessageState::Undeliverable => "undeliverable",
        }
    }

    /// The gateway is done with it: a late "accepted" must not move it back.
    fn is_final(self) -> bool {
        matches!(
            self,
            MessageState::Sent | MessageState::Failed | MessageState::Undeliverable
        )
    }
}

impl From<OutboundState> for MessageState {
    fn from(state: OutboundState) -> Self {
        match state {
            OutboundState::Accepted => MessageState::Accepted,
            OutboundState::Sent => MessageState::Sent,
            OutboundState::Failed => MessageState::Failed,
            OutboundState::Undeliverable => MessageState::Undeliverable,
        }
    }
}

impl MessageState {
    /// The state a word names: the stub's own two, or a state a gateway reports.
    fn parse(s: &str) -> Option<MessageState> {
        match s {
            "queued" => Some(MessageState::Queued),
            "pulled" => Some(MessageState::Pulled),
            _ => s.parse::<OutboundState>().ok().map(MessageState::from),
        }
    }
}

impl From<MessageState> for &'static str {
    fn from(state: MessageState) -> Self {
        state.as_str()
    }
}

impl TryFrom<String> for MessageState {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        MessageState::parse(&s).ok_or_else(|| format!("{s:?} is not an outbound message state"))
    }
}

impl ToSql for MessageState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for MessageState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        MessageState::parse(text).ok_or_else(|| {
            FromSqlError::Other(format!("{text:?} is not an outbound message state").into())
        })
    }
}

/// Which `Recipient` variant a row of `outbound` addresses (`to_kind`; `to_value` holds its
/// value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecipientKind {
    Reporter,
    Incident,
}

impl RecipientKind {
    #[cfg(test)]
    const ALL: [RecipientKind; 2] = [RecipientKind::Reporter, RecipientKind::Incident];

    fn as_str(self) -> &'static str {
        match self {
            RecipientKind::Reporter => "reporter",
            RecipientKind::Incident => "incident",
        }
    }

    fn parse(s: &str) -> Option<RecipientKind> {
        match s {
            "reporter" => Some(RecipientKind::Reporter),
            "incident" => Some(RecipientKind::Incident),
            _ => None,
        }
    }

    /// The recipient's kind and value, as the two columns store them.
    fn of(to: &Recipient) -> (RecipientKind, &str) {
        match to {
            Recipient::Reporter(r) => (RecipientKind::Reporter, r),
            Recipient::Incident(i) => (RecipientKind::Incident, i),
        }
    }

    fn recipient(self, value: String) -> Recipient {
        match self {
            RecipientKind::Reporter => Recipient::Reporter(value),
            RecipientKind::Incident => Recipient::Incident(value),
        }
    }
}

impl ToSql for RecipientKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for RecipientKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        RecipientKind::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("{text:?} is not a recipient kind").into()))
    }
}

/// Queues a message for the gateway that received the addressed reporter's (latest) incident.
pub(super) fn enqueue_outbound(
    conn: &mut Connection,
    to: &Recipient,
    text: &str,
    now: &str,
) -> Result<OutboundMessage, EnqueueError> {
    if text.trim().is_empty() {
        return Err(EnqueueError::EmptyText);
    }
    let (kind, value) = RecipientKind::of(to);
    let gateway: Option<String> = match to {
        Recipient::Incident(id) => conn
            .query_row(
                "SELECT gateway_id FROM incidents WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?,
        Recipient::Reporter(reporter) => conn
            .query_row(
                "SELECT gateway_id FROM incidents WHERE reporter = ?1 ORDER BY seq DESC LIMIT 1",
                [reporter],
                |r| r.get(0),
            )
            .optional()?,
    };
    let gateway = gateway
        .ok_or_else(|| EnqueueError::UnknownRecipient(format!("{} {value}", kind.as_str())))?;
    let id = format!("o-{}", hex::encode(rand::random::<[u8; 8]>()));
    conn.execute(
        "INSERT INTO outbound (id, gateway_id, to_kind, to_value, text, created_at, state, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6)",
        params![id, gateway, kind, value, text, now, MessageState::Queued],
    )?;
    Ok(OutboundMessage {
        id,
        to: to.clone(),
        text: text.to_string(),
        created_at: Some(now.to_string()),
    })
}

/// Hands out queued messages (and pulled ones whose lease ran out) and leases them, so a
/// gateway that crashes between pull and status gets them again later.
pub(super) fn pull_outbound(
    conn: &mut Connection,
    gateway_id: &str,
    limit: u32,
    now_unix: i64,
    lease_secs: i64,
) -> Result<Vec<OutboundMessage>, DbError> {
    let tx = conn.transaction()?;
    let mut messages = Vec::new();
    {
        let mut select = tx.prepare(
            "SELECT id, to_kind, to_value, text, created_at FROM outbound
             WHERE gateway_id = ?1
               AND (state = ?4 OR (state = ?5 AND leased_until <= ?2))
             ORDER BY seq LIMIT ?3",
        )?;
        let rows = select.query_map(
            params![
                gateway_id,
                now_unix,
                limit,
                MessageState::Queued,
                MessageState::Pulled
            ],
            |r| {
                Ok(OutboundMessage {
                    id: r.get(0)?,
                    to: r.get::<_, RecipientKind>(1)?.recipient(r.get(2)?),
                    text: r.get(3)?,
                    created_at: r.get(4)?,
                })
            },
        )?;
        for row in rows {
            messages.push(row?);
        }
        let mut lease = tx.prepare(
            "UPDATE outbound SET state = ?3, leased_until = ?2, pulls = pulls + 1 WHERE id = ?1",
        )?;
        for m in &messages {
            lease.execute(params![
                m.id,
                now_unix.saturating_add(lease_secs),
                MessageState::Pulled
            ])?;
        }
    }
    tx.commit()?;
    Ok(messages)
}

/// Applies the gateway's statuses. "accepted" never overwrites a final state (sent, failed,
/// undeliverable), so reports arriving out of order do not move a message backwards.
pub(super) fn record_statuses(
    conn: &mut Connection,
    report: &OutboundStatusReport,
    now: &str,
) -> Result<OutboundStatusAck, DbError> {
    let tx = conn.transaction()?;
    let mut updated = 0_u32;
    let mut unknown = Vec::new();
    {
        let mut current =
            tx.prepare("SELECT state FROM outbound WHERE id = ?1 AND gateway_id = ?2")?;
        let mut update = tx.prepare(
            "UPDATE outbound SET state = ?2, detail = ?3, updated_at = ?4 WHERE id = ?1",
        )?;
        for status in &report.statuses {
            let state: Option<MessageState> = current
                .query_row(params![status.id, report.gateway_id], |r| r.get(0))
                .optional()?;
            let Some(state) = state else {
                unknown.push(status.id.clone());
                continue;
            };
            if status.state == OutboundState::Accepted && state.is_final() {
                continue;
            }
            update.execute(params![
                status.id,
                MessageState::from(status.state),
                status.detail,
                now
            ])?;
            updated += 1;
        }
    }
    tx.commit()?;
    Ok(OutboundStatusAck { updated, unknown })
}

pub(super) fn outbound(conn: &mut Connection) -> Result<Vec<OutboundRecord>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT id, gateway_id, to_kind, to_value, text, state, detail, pulls, created_at, updated_at
         FROM outbound ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(OutboundRecord {
            id: r.get(0)?,
            gateway_id: r.get(1)?,
            to: r.get::<_, RecipientKind>(2)?.recipient(r.get(3)?),
            text: r.get(4)?,
            state: r.get(5)?,
            detail: r.get(6)?,
            pulls: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform_api::OutboundStatus;
    use platform_api::{sample_batch, sample_incident};

    fn open_temp() -> (tempfile::TempDir, Db, JoinHandle<()>) {
        let dir = tempfile::tempdir().unwrap();
        let (db, thread) = Db::open(&dir.path().join("stub.sqlite")).unwrap();
        (dir, db, thread)
    }

    #[test]
    fn every_message_state_round_trips_through_its_word_json_and_sql() {
        let conn = Connection::open_in_memory().unwrap();
        for state in MessageState::ALL {
            assert_eq!(MessageState::parse(state.as_str()), Some(state));
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::json!(state.as_str()));
            assert_eq!(serde_json::from_value::<MessageState>(json).unwrap(), state);
            let back: MessageState = conn.query_row("SELECT ?1", [state], |r| r.get(0)).unwrap();
            assert_eq!(back, state);
        }
        for reported in [
            OutboundState::Accepted,
            OutboundState::Sent,
            OutboundState::Failed,
            OutboundState::Undeliverable,
        ] {
            let word: &str = reported.into();
            assert_eq!(MessageState::from(reported).as_str(), word);
        }
        assert_eq!(MessageState::parse("lost"), None);
        let bad = conn.query_row("SELECT 'lost'", [], |r| r.get::<_, MessageState>(0));
        assert!(bad.is_err());
    }

    #[test]
    fn every_recipient_kind_round_trips_through_sql() {
        let conn = Connection::open_in_memory().unwrap();
        for kind in RecipientKind::ALL {
            assert_eq!(RecipientKind::parse(kind.as_str()), Some(kind));
            let back: RecipientKind = conn.query_row("SELECT ?1", [kind], |r| r.get(0)).unwrap();
            assert_eq!(back, kind);
            let to = kind.recipient("x-1".to_string());
            assert_eq!(RecipientKind::of(&to), (kind, "x-1"));
        }
        let bad = conn.query_row("SELECT 'phone'", [], |r| r.get::<_, RecipientKind>(0));
        assert!(bad.is_err());
    }

    #[test]
    fn a_batch_is_stored_once_and_conflicts_are_found() {
        let (_dir, db, _t) = open_temp();
        let batch = sample_batch(vec![sample_incident("g-1"), sample_incident("g-2")]);
        let b = batch.clone();
        let first = db
            .call_blocking(move |c| store_batch(c, &b, "2025-03-14T07:30:00Z"))
            .unwrap();
        assert_eq!((first.ack.accepted, first.ack.duplicates), (2, 0));
        let mut again = batch.clone();
        again.incidents[1].description = "changed".to_string();
        let second = db
            .call_blocking(move |c| store_batch(c, &again, "2025-03-14T07:31:00Z"))
            .unwrap();
        assert_eq!((second.ack.accepted, second.ack.duplicates), (0, 2));
        assert_eq!(second.conflicts, vec!["g-2".to_string()]);
        let counts = db.call_blocking(counts).unwrap();
        assert_eq!(
            (counts.batches, counts.duplicates, counts.conflicts),
            (1, 2, 1)
        );
        let stored = db.call_blocking(incidents).unwrap();
        assert_eq!(stored, batch.incidents);
    }

    #[test]
    fn the_database_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stub.sqlite");
        {
            let (db, thread) = Db::open(&path).unwrap();
            let b = sample_batch(vec![sample_incident("g-1")]);
            db.call_blocking(move |c| store_batch(c, &b, "2025-03-14T07:30:00Z"))
                .unwrap();
            drop(db);
            thread.join().unwrap();
        }
        let (db, _thread) = Db::open(&path).unwrap();
        assert_eq!(db.call_blocking(incidents).unwrap().len(), 1);
    }

    #[test]
    fn outbound_lease_status_and_order() {
        let (_dir, db, _t) = open_temp();
        let b = sample_batch(vec![sample_incident("g-1")]);
        db.call_blocking(move |c| store_batch(c, &b, "2025-03-14T07:30:00Z"))
            .unwrap();
        let unknown = db.call_blocking(|c| {
            Ok(enqueue_outbound(
                c,
                &Recipient::Incident("nope".into()),
                "hi",
                "t",
            ))
        });
        assert!(matches!(
            unknown,
            Ok(Err(EnqueueError::UnknownRecipient(_)))
        ));
        let msg = db
            .call_blocking(|c| {
                Ok(enqueue_outbound(
                    c,
                    &Recipient::Incident("g-1".into()),
                    "Tunafuatilia.",
                    "t",
                ))
            })
            .unwrap()
            .unwrap();
        // Another gateway sees nothing; ours gets it once, then again only after the lease.
        assert!(
            db.call_blocking(|c| pull_outbound(c, "other", 10, 1000, 60))
                .unwrap()
                .is_empty()
        );
        let pulled = db
            .call_blocking(|c| pull_outbound(c, "goma-01", 10, 1000, 60))
            .unwrap();
        assert_eq!(pulled, vec![msg.clone()]);
        assert!(
            db.call_blocking(|c| pull_outbound(c, "goma-01", 10, 1059, 60))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            db.call_blocking(|c| pull_outbound(c, "goma-01", 10, 1060, 60))
                .unwrap()
                .len(),
            1
        );

        let status = |state| OutboundStatusReport {
            gateway_id: "goma-01".into(),
            statuses: vec![
                OutboundStatus {
                    id: msg.id.clone(),
                    state,
                    at: "2025-03-14T08:00:00Z".into(),
                    detail: None,
                },
                OutboundStatus {
                    id: "o-unknown".into(),
                    state,
                    at: "2025-03-14T08:00:00Z".into(),
                    detail: None,
                },
            ],
        };
        let sent = status(OutboundState::Sent);
        let ack = db
            .call_blocking(move |c| record_statuses(c, &sent, "t2"))
            .unwrap();
        assert_eq!(
            (ack.updated, ack.unknown),
            (1, vec!["o-unknown".to_string()])
        );
        let late = status(OutboundState::Accepted);
        let ack = db
            .call_blocking(move |c| record_statuses(c, &late, "t3"))
            .unwrap();
        assert_eq!(ack.updated, 0);
        let records = db.call_blocking(outbound).unwrap();
        assert_eq!(records[0].state, MessageState::Sent);
        assert_eq!(records[0].pulls, 2);
        // A message with a final state is never offered again.
        assert!(
            db.call_blocking(|c| pull_outbound(c, "goma-01", 10, 9999, 60))
                .unwrap()
                .is_empty()
        );
    }
}
