//! Forwarding batches. A batch is cut once from the oldest undelivered incidents and never
//! changes afterwards, so a retry after any failure or restart sends the same id with the same
//! incidents and the platform can deduplicate.

use crate::CachedSql;
use rusqlite::{Connection, OptionalExtension, params};

use super::incidents::{IncidentRow, load_incidents};
use super::kinds::BatchState;
use super::{Store, StoreError, now_ms};

/// A batch waiting for a 2xx from the platform.
#[derive(Debug, Clone)]
pub struct PendingBatch {
    pub id: String,
    pub created_at_ms: i64,
    pub attempts: u32,
    pub incidents: Vec<IncidentRow>,
}

/// A batch the platform refused, waiting for a person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuarantinedBatch {
    pub id: String,
    /// The HTTP status of the refusal.
    pub status: u16,
    pub error: String,
    pub since_ms: i64,
}

/// Forwarding held up by the platform refusing what is not a batch's fault (the token, the
/// signature, the URL): every batch waits, nothing is quarantined, retries go on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForwardingPause {
    /// The batch the refusal came for (the oldest pending one).
    pub batch_id: String,
    /// The HTTP status of the last refusal.
    pub status: u16,
    pub error: String,
    pub attempts: u32,
}

/// How much work waits in each stage, for `status`, STATUS= and the heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueDepths {
    pub undecoded: u64,
    pub waiting_parts: u64,
    pub unhandled_messages: u64,
    pub undelivered_incidents: u64,
    pub quarantined_batches: u64,
    pub queued_sms: u64,
    pub failed_sms: u64,
    /// SMS handed to the modem whose outcome was never recorded (`sending`): never sent again
    /// until a technician decides.
    pub unconfirmed_sms: u64,
    /// Gateway-clock age of the oldest undelivered incident, in seconds.
    pub oldest_undelivered_secs: Option<u64>,
    /// Gateway-clock time of the newest message, in unix milliseconds.
    pub last_message_ms: Option<i64>,
    /// Messages received in the last hour, all numbers together (the intake alarm's measure).
    pub messages_last_hour: u64,
    /// Urgent reports texted to focal points that none of them has taken (`ACK`) yet.
    pub escalations_pending: u64,
}

impl QueueDepths {
    /// SMS whose sending is not settled yet: queued, or handed to a modem with no outcome
    /// recorded. What a caller waiting for "every reply out" waits on.
    pub fn sms_to_settle(&self) -> u64 {
        self.queued_sms + self.unconfirmed_sms
    }
}

impl Store {
    /// Messages received in the last hour, all numbers together.
    pub async fn messages_last_hour(&self) -> Result<u64, StoreError> {
        self.call_lazy(|conn| messages_since(conn, now_ms() - 3_600_000))
            .await
    }

    /// The oldest pending batch, or a new one cut from up to `max` unbatched incidents.
    /// `None` when nothing waits.
    pub async fn next_batch(
        &self,
        gateway_id: &str,
        max: usize,
    ) -> Result<Option<PendingBatch>, StoreError> {
        let gateway_id = gateway_id.to_string();
        self.call(move |conn| next_batch(conn, &gateway_id, max))
            .await
    }

    /// Like [`Store::next_batch`], but passes over the pending batches named in `skip` (batches
    /// the platform keeps refusing, set aside until another batch shows whether the platform or
    /// the batch is at fault). `None` when nothing else waits.
    pub async fn next_batch_skipping(
        &self,
        gateway_id: &str,
        max: usize,
        skip: Vec<String>,
    ) -> Result<Option<PendingBatch>, StoreError> {
        let gateway_id = gateway_id.to_string();
        self.call(move |conn| next_batch_skipping(conn, &gateway_id, max, &skip))
            .await
    }

    /// One pending batch by id, as `next_batch` gives it; `None` when it is not pending.
    pub async fn pending_batch(&self, batch_id: &str) -> Result<Option<PendingBatch>, StoreError> {
        let batch_id = batch_id.to_string();
        self.call(move |conn| pending_batch(conn, &batch_id)).await
    }

    /// Keeps only the first `keep` incidents of a batch never sent yet and gives the others back
    /// to the queue (the next batch takes them): how a batch too large in bytes is cut down
    /// before it leaves. A batch already attempted is never changed (its retries must be
    /// identical); returns whether the batch was cut.
    pub async fn shrink_unsent_batch(
        &self,
        batch_id: &str,
        keep: usize,
    ) -> Result<bool, StoreError> {
        let batch_id = batch_id.to_string();
        self.call(move |conn| {
            let attempts: Option<u32> = conn
                .row(
                    "SELECT attempts FROM batches WHERE id = ?1 AND state = 'pending'",
                    [&batch_id],
                    |r| r.get(0),
                )
                .optional()?;
            if attempts != Some(0) || keep == 0 {
                return Ok(false);
            }
            let released = conn.exec(
                "UPDATE incidents SET batch_id = NULL WHERE batch_id = ?1 AND id NOT IN
                   (SELECT id FROM incidents WHERE batch_id = ?1 ORDER BY id LIMIT ?2)",
                params![batch_id, i64::try_from(keep).unwrap_or(i64::MAX)],
            )?;
            Ok(released > 0)
        })
        .await
    }

    /// Keeps the first `keep` incidents of a batch the platform refused whole (a 413, or a 5xx
    /// it answers this batch only: it holds none of it) and gives the rest back to the queue,
    /// so the report it cannot take ends up alone. The kept half starts its attempts afresh.
    pub async fn split_batch(&self, batch_id: &str, keep: usize) -> Result<(), StoreError> {
        let batch_id = batch_id.to_string();
        self.call(move |conn| {
            if keep > 0 {
                conn.exec(
                    "UPDATE incidents SET batch_id = NULL WHERE batch_id = ?1 AND id NOT IN
                       (SELECT id FROM incidents WHERE batch_id = ?1 ORDER BY id LIMIT ?2)",
                    params![batch_id, i64::try_from(keep).unwrap_or(i64::MAX)],
                )?;
                conn.exec(
                    "UPDATE batches SET attempts = 0, last_error = NULL, last_status = NULL
                     WHERE id = ?1",
                    [&batch_id],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Number of incidents not yet in any batch (for deciding when to cut one).
    pub async fn unbatched_count(&self) -> Result<(u64, Option<i64>), StoreError> {
        self.call_lazy(|conn| {
            Ok(conn.row(
                "SELECT COUNT(*), MIN(created_at_ms) FROM incidents WHERE batch_id IS NULL",
                [],
                |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?)),
            )?)
        })
        .await
    }

    /// Batches cut and waiting for a 2xx.
    pub async fn pending_batch_count(&self) -> Result<u64, StoreError> {
        self.call_lazy(|conn| count(conn, "SELECT COUNT(*) FROM batches WHERE state = 'pending'"))
            .await
    }

    /// The platform answered 2xx: the batch and its incidents are delivered.
    pub async fn mark_batch_delivered(&self, batch_id: &str) -> Result<(), StoreError> {
        let batch_id = batch_id.to_string();
        self.call(move |conn| {
            let now = now_ms();
            conn.exec(
                "UPDATE batches SET state = ?3, delivered_at_ms = ?2,
                        attempts = attempts + 1, last_error = NULL, last_status = NULL
                 WHERE id = ?1",
                params![batch_id, now, BatchState::Delivered],
            )?;
            conn.exec(
                "UPDATE incidents SET delivered_at_ms = ?2 WHERE batch_id = ?1",
                params![batch_id, now],
            )?;
            Ok(())
        })
        .await
    }

    /// A delivery attempt failed and will be retried.
    pub async fn mark_batch_attempt_failed(
        &self,
        batch_id: &str,
        error: String,
    ) -> Result<(), StoreError> {
        self.record_attempt(batch_id, error, None).await
    }

    /// The platform refused the request for a reason that is not the batch's (credentials, the
    /// URL): the batch stays pending with the answer, and forwarding is paused until a retry
    /// gets through. [`Store::forwarding_pause`] reports it.
    pub async fn mark_batch_paused(
        &self,
        batch_id: &str,
        status: u16,
        error: String,
    ) -> Result<(), StoreError> {
        self.record_attempt(batch_id, error, Some(status)).await
    }

    /// One more failed attempt, with the platform's status when it refused the box itself.
    async fn record_attempt(
        &self,
        batch_id: &str,
        error: String,
        status: Option<u16>,
    ) -> Result<(), StoreError> {
        let batch_id = batch_id.to_string();
        self.call(move |conn| {
            conn.exec(
                "UPDATE batches SET attempts = attempts + 1, last_error = ?2, last_status = ?3
                 WHERE id = ?1",
                params![batch_id, error, status],
            )?;
            Ok(())
        })
        .await
    }

    /// Why forwarding is paused, when the oldest pending batch was last refused for a reason
    /// that is not its own.
    pub async fn forwarding_pause(&self) -> Result<Option<ForwardingPause>, StoreError> {
        self.call(forwarding_pause).await
    }

    /// Puts quarantined batches back in the queue (one by id, or all), oldest first; with
    /// `dry_run` only says which. Returns the batches concerned; an id that is not a
    /// quarantined batch gives none.
    pub async fn requeue_quarantined(
        &self,
        batch_id: Option<String>,
        dry_run: bool,
    ) -> Result<Vec<QuarantinedBatch>, StoreError> {
        self.call(move |conn| {
            let all = quarantined(conn, usize::MAX)?;
            let chosen: Vec<QuarantinedBatch> = all
                .into_iter()
                .filter(|b| batch_id.as_ref().is_none_or(|id| &b.id == id))
                .collect();
            if !dry_run {
                for b in &chosen {
                    conn.exec(
                        "UPDATE batches SET state = ?2, quarantined_at_ms = NULL
                         WHERE id = ?1 AND state = ?3",
                        params![b.id, BatchState::Pending, BatchState::Quarantined],
                    )?;
                }
            }
            Ok(chosen)
        })
        .await
    }

    /// The platform refused the batch for good (a 4xx other than 408/429): kept aside with the
    /// reason, for a technician or a developer to look at, while the rest keeps flowing.
    pub async fn quarantine_batch(
        &self,
        batch_id: &str,
        status: u16,
        error: String,
    ) -> Result<(), StoreError> {
        let batch_id = batch_id.to_string();
        self.call(move |conn| {
            conn.exec(
                "UPDATE batches SET state = ?5, attempts = attempts + 1, last_error = ?2,
                        last_status = ?3, quarantined_at_ms = ?4
                 WHERE id = ?1",
                params![batch_id, error, status, now_ms(), BatchState::Quarantined],
            )?;
            Ok(())
        })
        .await
    }

    /// Quarantined batches, oldest first (at most `limit`), for `status` and the heartbeat.
    pub async fn quarantined_batches(
        &self,
        limit: usize,
    ) -> Result<Vec<QuarantinedBatch>, StoreError> {
        self.call(move |conn| quarantined(conn, limit)).await
    }

    /// Work waiting in each stage.
    pub async fn queue_depths(&self) -> Result<QueueDepths, StoreError> {
        self.call_lazy(queue_depths).await
    }
}

fn next_batch(
    conn: &Connection,
    gateway_id: &str,
    max: usize,
) -> Result<Option<PendingBatch>, StoreError> {
    next_batch_skipping(conn, gateway_id, max, &[])
}

fn pending_batch(conn: &Connection, batch_id: &str) -> Result<Option<PendingBatch>, StoreError> {
    let found: Option<(i64, u32)> = conn
        .row(
            "SELECT created_at_ms, attempts FROM batches WHERE id = ?1 AND state = 'pending'",
            [batch_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((created_at_ms, attempts)) = found else {
        return Ok(None);
    };
    Ok(Some(PendingBatch {
        id: batch_id.to_string(),
        created_at_ms,
        attempts,
        incidents: load_incidents(conn, "i.batch_id = ?1", &batch_id)?,
    }))
}

fn next_batch_skipping(
    conn: &Connection,
    gateway_id: &str,
    max: usize,
    skip: &[String],
) -> Result<Option<PendingBatch>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, created_at_ms, attempts FROM batches WHERE state = 'pending' ORDER BY seq",
    )?;
    let pending: Option<(String, i64, u32)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .find(|row| {
            row.as_ref()
                .map_or(true, |(id, _, _): &(String, i64, u32)| !skip.contains(id))
        })
        .transpose()?;
    if let Some((id, created_at_ms, attempts)) = pending {
        let incidents = load_incidents(conn, "i.batch_id = ?1", &id)?;
        return Ok(Some(PendingBatch {
            id,
            created_at_ms,
            attempts,
            incidents,
        }));
    }
    let waiting: i64 = conn.row(
        "SELECT COUNT(*) FROM incidents WHERE batch_id IS NULL",
        [],
        |r| r.get(0),
    )?;
    if waiting == 0 {
        return Ok(None);
    }
    let seq: i64 = conn.row("SELECT COALESCE(MAX(seq), 0) + 1 FROM batches", [], |r| {
        r.get(0)
    })?;
    let id = format!("{gateway_id}-b{seq:06}");
    let now = now_ms();
    conn.exec(
        "INSERT INTO batches (id, seq, created_at_ms, state) VALUES (?1, ?2, ?3, ?4)",
        params![id, seq, now, BatchState::Pending],
    )?;
    conn.exec(
        "UPDATE incidents SET batch_id = ?1 WHERE id IN
           (SELECT id FROM incidents WHERE batch_id IS NULL ORDER BY id LIMIT ?2)",
        params![id, max as i64],
    )?;
    let incidents = load_incidents(conn, "i.batch_id = ?1", &id)?;
    Ok(Some(PendingBatch {
        id,
        created_at_ms: now,
        attempts: 0,
        incidents,
    }))
}

fn quarantined(conn: &Connection, limit: usize) -> Result<Vec<QuarantinedBatch>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, COALESCE(last_status, 0), COALESCE(last_error, ''),
                COALESCE(quarantined_at_ms, created_at_ms)
         FROM batches WHERE state = 'quarantined' ORDER BY seq LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(QuarantinedBatch {
                id: r.get(0)?,
                status: r.get(1)?,
                error: r.get(2)?,
                since_ms: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn forwarding_pause(conn: &Connection) -> Result<Option<ForwardingPause>, StoreError> {
    Ok(conn
        .row(
            "SELECT id, last_status, COALESCE(last_error, ''), attempts FROM batches
             WHERE state = 'pending' ORDER BY seq LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<u16>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                ))
            },
        )
        .optional()?
        .and_then(|(batch_id, status, error, attempts)| {
            Some(ForwardingPause {
                batch_id,
                status: status?,
                error,
                attempts,
            })
        }))
}

fn count(conn: &Connection, sql: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.row(sql, [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

pub(super) fn queue_depths(conn: &Connection) -> Result<QueueDepths, StoreError> {
    let oldest: Option<i64> = conn.row(
        "SELECT MIN(created_at_ms) FROM incidents WHERE delivered_at_ms IS NULL",
        [],
        |r| r.get(0),
    )?;
    let now = now_ms();
    Ok(QueueDepths {
        undecoded: count(
            conn,
            "SELECT COUNT(*) FROM received WHERE state IN ('new', 'part') AND state = 'new'",
        )?,
        waiting_parts: count(conn, "SELECT COUNT(*) FROM received WHERE state = 'part'")?,
        unhandled_messages: count(conn, "SELECT COUNT(*) FROM messages WHERE handled = 0")?,
        undelivered_incidents: count(
            conn,
            "SELECT COUNT(*) FROM incidents WHERE delivered_at_ms IS NULL",
        )?,
        quarantined_batches: count(
            conn,
            "SELECT COUNT(*) FROM batches WHERE state = 'quarantined'",
        )?,
        queued_sms: count(conn, "SELECT COUNT(*) FROM outgoing WHERE state = 'queued'")?,
        failed_sms: count(conn, "SELECT COUNT(*) FROM outgoing WHERE state = 'failed'")?,
        unconfirmed_sms: count(
            conn,
            "SELECT COUNT(*) FROM outgoing WHERE state = 'sending'",
        )?,
        oldest_undelivered_secs: oldest.map(|t| ((now - t).max(0) / 1000) as u64),
        last_message_ms: conn.row("SELECT MAX(received_at_ms) FROM messages", [], |r| r.get(0))?,
        messages_last_hour: messages_since(conn, now - 3_600_000)?,
        escalations_pending: super::escalations::pending_count(conn)?,
    })
}

/// Messages received since `since_ms` (gateway clock).
pub(super) fn messages_since(conn: &Connection, since_ms: i64) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM messages WHERE received_at_ms > ?1")?
        .query_row([since_ms], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}
