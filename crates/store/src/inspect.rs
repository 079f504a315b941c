//! Read-only access for the technician's commands (`status`, `export`) while the daemon runs:
//! a separate read-only connection, so a look at the box can never block or corrupt the writer.

use crate::CachedSql;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use super::batches::{QueueDepths, queue_depths};
use super::guard::{RefusalCounts, refusal_counts};
use super::incidents::{IncidentSummary, load_summaries};
use super::kinds::OutgoingState;
use super::{Store, StoreError, now_ms};

/// The last status a modem link reported, as the daemon saved it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SavedModemStatus {
    pub name: String,
    pub status: serde_json::Value,
    pub saved_at_ms: i64,
}

/// A batch the platform refused.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuarantineEntry {
    pub id: String,
    pub incidents: u64,
    pub attempts: u32,
    pub error: Option<String>,
    pub created_at_ms: i64,
}

/// A read-only view of the database.
pub struct StoreReader {
    conn: Connection,
}

impl StoreReader {
    /// Opens the database read-only; a missing file is an error that says so.
    pub fn open(path: &Path) -> Result<StoreReader, StoreError> {
        if !path.exists() {
            return Err(StoreError::Invalid(format!(
                "no database at {} (has the gateway run yet? is `database` in the config right?)",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: PathBuf::from(path),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(StoreReader { conn })
    }

    pub fn queue_depths(&self) -> Result<QueueDepths, StoreError> {
        queue_depths(&self.conn)
    }

    /// SMS left `sending` (see [`Store::unconfirmed_outgoing`]).
    pub fn unconfirmed_outgoing(&self) -> Result<Vec<super::Unconfirmed>, StoreError> {
        super::outgoing::unconfirmed_outgoing(&self.conn)
    }

    /// Incidents received at or after `since_ms` (gateway clock), oldest first.
    pub fn incidents_since(
        &self,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<IncidentSummary>, StoreError> {
        load_summaries(&self.conn, i64::MIN, since_ms, limit)
    }

    /// The newest `n` incidents, oldest first.
    pub fn last_incidents(&self, n: usize) -> Result<Vec<IncidentSummary>, StoreError> {
        let max: i64 = self
            .conn
            .row("SELECT COALESCE(MAX(id), 0) FROM incidents", [], |r| {
                r.get(0)
            })?;
        load_summaries(&self.conn, max - n as i64, i64::MIN, n)
    }

    /// Replies refused in the last 24 hours, by kind (rate limit, budget, operator sender...).
    pub fn refusals_last_day(&self) -> Result<RefusalCounts, StoreError> {
        refusal_counts(&self.conn, now_ms() - 86_400_000)
    }

    pub fn modem_statuses(&self) -> Result<Vec<SavedModemStatus>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, status_json, saved_at_ms FROM modem_status ORDER BY name",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let json: String = r.get(1)?;
                Ok(SavedModemStatus {
                    name: r.get(0)?,
                    status: serde_json::from_str(&json).unwrap_or(serde_json::Value::Null),
                    saved_at_ms: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// True once the store holds reporters (see [`Store::knows_reporters`]).
    pub fn knows_reporters(&self) -> Result<bool, StoreError> {
        super::reporters::knows_reporters(&self.conn)
    }

    /// Why forwarding is paused, if it is (see [`Store::forwarding_pause`]).
    pub fn forwarding_pause(&self) -> Result<Option<super::ForwardingPause>, StoreError> {
        super::batches::forwarding_pause(&self.conn)
    }

    pub fn quarantined_batches(&self) -> Result<Vec<QuarantineEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.id, (SELECT COUNT(*) FROM incidents i WHERE i.batch_id = b.id), b.attempts,
                    b.last_error, b.created_at_ms
             FROM batches b WHERE b.state = 'quarantined' ORDER BY b.seq",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(QuarantineEntry {
                    id: r.get(0)?,
                    incidents: r.get::<_, i64>(1)?.max(0) as u64,
                    attempts: r.get(2)?,
                    error: r.get(3)?,
                    created_at_ms: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

impl Store {
    /// State and last error of one outgoing SMS.
    pub async fn outgoing_state(
        &self,
        id: i64,
    ) -> Result<(OutgoingState, Option<String>), StoreError> {
        self.call(move |conn| {
            Ok(conn.row(
                "SELECT state, last_error FROM outgoing WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
    }

    /// Saves the modem links' latest status, for `status` run from another process.
    pub async fn save_modem_statuses(
        &self,
        statuses: Vec<(String, serde_json::Value)>,
    ) -> Result<(), StoreError> {
        self.call_lazy(move |conn| {
            let now = now_ms();
            let mut stmt = conn.prepare_cached(
                "INSERT INTO modem_status (name, status_json, saved_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET status_json = excluded.status_json,
                                                 saved_at_ms = excluded.saved_at_ms",
            )?;
            for (name, status) in statuses {
                stmt.execute(params![name, status.to_string(), now])?;
            }
            Ok(())
        })
        .await
    }
}
