//! The retention purge: N days after an incident was delivered (or its batch was quarantined),
//! everything on the box that can identify its reporter is erased: the number wherever it was
//! copied (messages, raw PDUs, replies and their parts, delivery reports, the reporter map), the
//! hashes of the PDUs, the pseudonym, what they wrote (text, description, location, survey
//! answers, decoded user data). The skeleton (reference, type, language, times, batch) stays for
//! counts. Erased bytes are overwritten (`secure_delete`), the WAL is checkpointed and truncated
//! afterwards and the file vacuumed when much of it is free, so a seized or stolen gateway holds
//! only recent numbers, also for someone who reads the raw card.
//!
//! Undelivered incidents are never purged: the platform has not got them yet. A quarantined
//! batch (the platform refused it) counts from its quarantine: a technician had `retention_days`
//! to look at it, and keeping its reporters for ever would be the worse failure.

use crate::CachedSql;
use std::time::Duration;

use rusqlite::Connection;
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
    /// Then leaves no copy of it in the WAL, and vacuums when a quarter of the file is free.
    pub async fn purge_before(&self, cutoff_ms: i64) -> Result<PurgeCounts, StoreError> {
        let counts = self
            .call(move |conn| purge(conn, cutoff_ms, now_ms()))
            .await?;
        self.maintain(compact).await?;
        Ok(counts)
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
         CREATE TEMP TABLE IF NOT EXISTS purge_outgoing (id INTEGER PRIMARY KEY);
         DELETE FROM purge_incidents; DELETE FROM purge_messages; DELETE FROM purge_outgoing;",
    )?;
    conn.exec(
        "INSERT INTO purge_incidents (id, message_id) SELECT id, message_id FROM incidents
         WHERE purged_at_ms IS NULL AND delivered_at_ms IS NOT NULL AND delivered_at_ms < ?1
         UNION
         SELECT i.id, i.message_id FROM incidents i JOIN batches b ON b.id = i.batch_id
         WHERE i.purged_at_ms IS NULL AND b.state = 'quarantined'
           AND COALESCE(b.quarantined_at_ms, b.created_at_ms) < ?1",
        [cutoff],
    )?;
    conn.exec(
        "INSERT INTO purge_messages (id)
           SELECT message_id FROM purge_incidents
           UNION
           SELECT m.id FROM messages m
           WHERE m.handled = 1 AND m.received_at_ms < ?1 AND (m.sender IS NOT NULL OR m.text != '')
             AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.message_id = m.id)",
        [cutoff],
    )?;
    let mut c = PurgeCounts {
        incidents: conn.exec(
            "UPDATE incidents SET description = '', location = NULL, survey_answers = NULL,
                                  purged_at_ms = ?1
             WHERE id IN (SELECT id FROM purge_incidents)",
            [now],
        )? as u64,
        messages: conn.exec(
            "UPDATE messages SET sender = NULL, text = ''
             WHERE id IN (SELECT id FROM purge_messages)",
            [],
        )? as u64,
        ..PurgeCounts::default()
    };
    // The raw PDUs of purged messages, duplicates and delivery reports once old. The hash is
    // identifying too (of a PDU holding the number), so it is replaced by random bytes: the
    // (modem, pdu_sha256) uniqueness only stops a SIM slot read twice after a crash from being
    // stored twice, and the SIM's copy of a row this old was deleted long ago.
    c.pdus = conn.exec(
        "UPDATE received SET pdu_hex = '', pdu_sha256 = randomblob(32), text = NULL,
                             sender = NULL, user_data = NULL, decode_error = NULL
         WHERE (message_id IN (SELECT id FROM purge_messages)
                OR (message_id IS NULL AND state IN ('joined', 'duplicate')
                    AND received_at_ms < ?1))
           AND (pdu_hex != '' OR sender IS NOT NULL OR user_data IS NOT NULL)",
        [cutoff],
    )? as u64;
    // Replies to purged incidents, and any other SMS (platform messages, tests) once old; not
    // one still to send or waiting for a technician's decision (`sending`).
    conn.exec(
        "INSERT INTO purge_outgoing (id) SELECT id FROM outgoing
         WHERE state NOT IN ('queued', 'sending')
           AND (incident_id IN (SELECT id FROM purge_incidents) OR created_at_ms < ?1)",
        [cutoff],
    )?;
    c.sms = conn.exec(
        "UPDATE outgoing SET recipient = '', text = '', last_error = NULL
         WHERE id IN (SELECT id FROM purge_outgoing) AND (recipient != '' OR text != '')",
        [],
    )? as u64;
    conn.exec(
        "UPDATE sent_parts SET recipient = ''
         WHERE outgoing_id IN (SELECT id FROM purge_outgoing) AND recipient != ''",
        [],
    )?;
    conn.exec(
        "UPDATE status_reports SET recipient = ''
         WHERE (outgoing_id IN (SELECT id FROM purge_outgoing) OR received_at_ms < ?1)
           AND recipient != ''",
        [cutoff],
    )?;
    // The platform's messages: the pseudonym or incident they were for, once settled.
    conn.exec(
        "UPDATE outbound SET recipient = ''
         WHERE state != 'accepted' AND updated_at_ms < ?1 AND recipient != ''",
        [cutoff],
    )?;
    c.reporters = conn.exec("DELETE FROM reporters WHERE last_seen_ms < ?1", [cutoff])? as u64;
    conn.exec("DELETE FROM reply_refusals WHERE at_ms < ?1", [cutoff])?;
    // Hourly counts of the reply budget: only the last 25 hours count.
    super::outgoing::purge_budget(conn, now)?;
    Ok(c)
}

/// Share of free pages above which the purge vacuums the file.
const VACUUM_FREE_SHARE: f64 = 0.25;

/// After a purge: the WAL still holds the pages as they were before, so it is checkpointed and
/// truncated; when a quarter of the file is free pages, VACUUM gives them back to the card.
fn compact(conn: &mut Connection) -> Result<(), StoreError> {
    let (pages, free): (i64, i64) = conn.row(
        "SELECT (SELECT page_count FROM pragma_page_count()),
                (SELECT freelist_count FROM pragma_freelist_count())",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if pages > 0 && free as f64 / pages as f64 >= VACUUM_FREE_SHARE {
        conn.execute_batch("VACUUM")?;
    }
    let (busy, _, _): (i64, i64, i64) = conn.row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    if busy != 0 {
        // A reader (`status`) held the WAL: the next purge truncates it.
        tracing::warn!(
            "retention: the WAL could not be truncated (a reader was busy); trying again tomorrow"
        );
    }
    Ok(())
}
