//! The reporter map: the name a reporter has on the platform (a keyed pseudonym, or the number
//! when numbers are shared) to the phone number and the modem of their last report. It never
//! leaves the box; it is how a message from the platform reaches the right phone.

use crate::CachedSql;
use rusqlite::params;

use super::{Store, StoreError};

/// A reporter named in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReporterSeen {
    /// As the platform knows it.
    pub name: String,
    pub number: String,
    pub modem: String,
    pub incident_id: i64,
    /// Gateway-clock time of the report.
    pub seen_ms: i64,
}

impl Store {
    /// Records (or moves forward) the reporters of a batch. An older report never overrides the
    /// modem of a newer one, so a backlog replayed out of order keeps the latest modem.
    pub async fn remember_reporters(&self, seen: Vec<ReporterSeen>) -> Result<(), StoreError> {
        if seen.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO reporters (name, number, modem, last_incident, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET
                    number = excluded.number, modem = excluded.modem,
                    last_incident = excluded.last_incident, last_seen_ms = excluded.last_seen_ms
                 WHERE excluded.last_seen_ms >= reporters.last_seen_ms",
            )?;
            for r in &seen {
                stmt.execute(params![r.name, r.number, r.modem, r.incident_id, r.seen_ms])?;
            }
            Ok(())
        })
        .await
    }
}

impl Store {
    /// Whether the box has ever stored a report or a reporter (after the first start, a missing
    /// pseudonym key is an error, not a reason to make a new one).
    pub async fn knows_reporters(&self) -> Result<bool, StoreError> {
        self.call(knows_reporters).await
    }
}

/// True once the store holds anything a reporter's pseudonym was (or will be) made from.
pub(super) fn knows_reporters(conn: &rusqlite::Connection) -> Result<bool, StoreError> {
    Ok(conn.row(
        "SELECT EXISTS (SELECT 1 FROM incidents) OR EXISTS (SELECT 1 FROM reporters)
             OR EXISTS (SELECT 1 FROM messages WHERE sender IS NOT NULL)",
        [],
        |r| r.get(0),
    )?)
}

/// The number and modem for a platform name, if the box knows it.
pub(super) fn resolve_name(
    conn: &rusqlite::Connection,
    name: &str,
) -> Result<Option<(String, String)>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .row(
            "SELECT number, modem FROM reporters WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}
