//! The retention purge: N days after an incident was delivered, its reporter's number, the text
//! and the raw PDUs are erased from the box; the skeleton (reference, type, language, location,
//! times, batch) stays for counts and follow-up. A seized or stolen gateway then holds only
//! recent numbers. The PDU hashes stay, so a SIM read again still deduplicates.

use std::time::Duration;

use rusqlite::{Connection, params};
use tokio_util::sync::CancellationToken;

use super::{Store, StoreError, now_ms};

/// How often the purge runs.
pub(crate) const RETENTION_EVERY: Duration = Duration::from_secs(24 * 3600);

/// What one purge erased.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeCounts {
    pub incidents: u64,
    pub messages: u64,
    pub pdus: u64,
    pub sms: u64,
    pub reporters: u64,
}

impl Store {
    /// Erases what was delivered (or, for what is never delivered, received) before `cutoff_ms`.
    pub async fn purge_before(&self, cutoff_ms: i64) -> Result<PurgeCounts, StoreError> {
        self.call(move |conn| purge(conn, cutoff_ms, now_ms()))
            .await
    }

    /// Purges everything older than `days` now and then once a day, until `shutdown`.
    pub async fn run_retention(
        &self,
        days: u32,
        shutdown: CancellationToken,
    ) -> Result<(), StoreError> {
        loop {
            let cutoff = now_ms() - i64::from(days) * 86_400_000;
            let counts = self.purge_before(cutoff).await?;
            if counts != PurgeCounts::default() {
                tracing::info!(days, ?counts, "retention: old numbers and texts erased");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(RETENTION_EVERY) => {}
            }
        }
    }
}

fn purge(conn: &Connection, cutoff: i64, now: i64) -> Result<PurgeCounts, StoreError> {
    // The incidents to purge, and the messages that never became an incident (promos, help
    // requests) once old enough.
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS purge_incidents (id INTEGER PRIMARY KEY, message_id INTEGER);
         CREATE TEMP TABLE IF NOT EXISTS purge_messages (id INTEGER PRIMARY KEY);
         DELETE FROM purge_incidents; DELETE FROM purge_messages;",
    )?;
    conn.execute(
        "INSERT INTO purge_incidents (id, message_id) SELECT id, message_id FROM incidents
         WHERE purged_at_ms IS NULL AND delivered_at_ms IS NOT NULL AND delivered_at_ms < ?1",
        [cutoff],
    )?;
    conn.execute(
        "INSERT INTO purge_messages (id)
           SELECT message_id FROM purge_incidents
           UNION
           SELECT m.id FROM messages m
           WHERE m.handled = 1 AND m.received_at_ms < ?1 AND (m.sender IS NOT NULL OR m.text != '')
             AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.message_id = m.id)",
        [cutoff],
    )?;
    let mut c = PurgeCounts {
        incidents: conn.execute(
            "UPDATE incidents SET description = '', purged_at_ms = ?1
             WHERE id IN (SELECT id FROM purge_incidents)",
            [now],
        )? as u64,
        messages: conn.execute(
            "UPDATE messages SET sender = NULL, text = ''
             WHERE id IN (SELECT id FROM purge_messages)",
            [],
        )? as u64,
        ..PurgeCounts::default()
    };
    c.pdus = conn.execute(
        "UPDATE received SET pdu_hex = '', text = NULL, sender = NULL
         WHERE (message_id IN (SELECT id FROM purge_messages)
                OR (state = 'duplicate' AND received_at_ms < ?1))
           AND (pdu_hex != '' OR sender IS NOT NULL)",
        [cutoff],
    )? as u64;
    // Replies to purged incidents, and any other SMS (platform messages, tests) once old; not
    // one still to send or waiting for a technician's decision (`sending`).
    c.sms = conn.execute(
        "UPDATE outgoing SET recipient = '', text = ''
         WHERE state NOT IN ('queued', 'sending') AND recipient != ''
           AND (incident_id IN (SELECT id FROM purge_incidents) OR created_at_ms < ?1)",
        params![cutoff],
    )? as u64;
    c.reporters = conn.execute("DELETE FROM reporters WHERE last_seen_ms < ?1", [cutoff])? as u64;
    conn.execute("DELETE FROM reply_refusals WHERE at_ms < ?1", [cutoff])?;
    // Hourly counts of the reply budget: only the last 25 hours count.
    super::outgoing::purge_budget(conn, now)?;
    Ok(c)
}
