//! Outgoing SMS: the queue the modem links send from, with retries, and the count of the daily
//! reply budget that every queued SMS adds to.

use crate::CachedSql;
use std::time::Duration;

use rusqlite::{Connection, params};

use super::kinds::{OutgoingState, ReplyKind};
use super::reports;
use super::{Store, StoreError, now_ms, query_all};

/// Attempts before a queued SMS is given up as failed.
pub const MAX_SEND_ATTEMPTS: u32 = 5;
/// First wait before a failed send is tried again (`sms.retry_after` changes it).
pub const FIRST_SEND_RETRY: Duration = config::DEFAULT_SEND_RETRY_AFTER;
const MAX_RETRY_MS: i64 = 3_600_000;

/// An SMS to queue for sending.
#[derive(Debug, Clone)]
pub struct NewOutgoing {
    pub modem: String,
    pub recipient: String,
    pub text: String,
    pub kind: ReplyKind,
}

/// A queued SMS due for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: i64,
    pub recipient: String,
    pub text: String,
    pub attempts: u32,
    /// What it is and the incident's reference, if it answers one: for the "SMS out" log line.
    pub kind: ReplyKind,
    pub reference: Option<String>,
}

/// An SMS handed to the modem whose outcome was never recorded (`sending`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unconfirmed {
    pub id: i64,
    pub modem: String,
    pub recipient: String,
    pub kind: ReplyKind,
    pub reference: Option<String>,
    pub claimed_at_ms: Option<i64>,
}

/// What a technician decides for an SMS left `sending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Queue it again: the reporter may get it twice.
    Resend,
    /// The reporter got it (the modem's sent folder or the reporter says so).
    Sent,
    /// Give it up.
    Failed,
}

/// Pages of padding a room check adds when the database has no free page left. One, as the
/// check always wrote: more would leave more free pages behind, room that a full disk's
/// incoming messages would still take (`tests/fault_disk.rs` counts them).
const ROOM_PAGES: i64 = 1;

/// Fails when the database cannot take one more page. A free page inside the file (the
/// freelist) is room without writing anything; only when none is left does it write a page of
/// padding and delete it, which grows the file (and fails when the disk cannot take it) and
/// leaves the page free for the next checks and writes. Writing the padding at every claim, as
/// before, cost pages of SD-card writes per SMS (docs/benchmarks.md, "SD-card wear"); now it
/// is written only when the database has used up its free pages.
fn room_check(conn: &Connection) -> Result<(), StoreError> {
    let free: i64 = conn.row("PRAGMA freelist_count", [], |r| r.get(0))?;
    if free > 0 {
        return Ok(());
    }
    // Not cached: SQLite reads `page_size` when it prepares the pragma (`freelist_count`
    // above is read when it runs).
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    conn.exec(
        "INSERT INTO room_check (pad) VALUES (zeroblob(?1))",
        [page_size * ROOM_PAGES],
    )?;
    conn.exec("DELETE FROM room_check", [])?;
    Ok(())
}

pub(super) fn unconfirmed_outgoing(conn: &Connection) -> Result<Vec<Unconfirmed>, StoreError> {
    query_all(
        conn,
        "SELECT o.id, o.modem, o.recipient, o.kind, i.reference, o.claimed_at_ms
         FROM outgoing o LEFT JOIN incidents i ON i.id = o.incident_id
         WHERE o.state = 'sending' ORDER BY o.id",
        [],
        |r| {
            Ok(Unconfirmed {
                id: r.get(0)?,
                modem: r.get(1)?,
                recipient: r.get(2)?,
                kind: r.get(3)?,
                reference: r.get(4)?,
                claimed_at_ms: r.get(5)?,
            })
        },
    )
}

impl Store {
    /// Queues an SMS without the reply guard (a technician's test SMS, a platform message).
    pub async fn queue_outgoing(&self, out: NewOutgoing) -> Result<i64, StoreError> {
        let signals = self.signals.clone();
        let id = self
            .call(move |conn| insert_outgoing(conn, &out, None, now_ms()))
            .await?;
        signals.outgoing.notify_waiters();
        signals.outgoing.notify_one();
        Ok(id)
    }

    /// Queued SMS for `modem` whose time has come, oldest first.
    pub async fn due_outgoing(
        &self,
        modem: &str,
        limit: usize,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let modem = modem.to_string();
        self.call_lazy(move |conn| {
            query_all(
                conn,
                "SELECT o.id, o.recipient, o.text, o.attempts, o.kind, i.reference
                 FROM outgoing o LEFT JOIN incidents i ON i.id = o.incident_id
                 WHERE o.state = 'queued' AND o.modem = ?1 AND o.next_attempt_ms <= ?2
                 ORDER BY o.id LIMIT ?3",
                params![modem, now_ms(), limit as i64],
                |r| {
                    Ok(Outgoing {
                        id: r.get(0)?,
                        recipient: r.get(1)?,
                        text: r.get(2)?,
                        attempts: r.get(3)?,
                        kind: r.get(4)?,
                        reference: r.get(5)?,
                    })
                },
            )
        })
        .await
    }

    /// Claims a due SMS just before it is handed to the modem: the row becomes `sending` in a
    /// committed transaction (on disk, fsynced), so that a send whose outcome cannot be
    /// recorded afterwards is never sent again by itself. The claim also checks for room
    /// (`room_check`): it commits only while the database can still take the page the record
    /// of the send needs, so a full disk stops the sending before an SMS goes out. Returns false
    /// when the row is no longer queued (another link took it, a technician settled it).
    pub async fn claim_outgoing(&self, id: i64) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let claimed = conn.exec(
                "UPDATE outgoing SET state = ?2, claimed_at_ms = ?3
                 WHERE id = ?1 AND state = ?4",
                params![id, OutgoingState::Sending, now_ms(), OutgoingState::Queued],
            )?;
            room_check(conn)?;
            Ok(claimed == 1)
        })
        .await
    }

    /// Gives back a claim when the modem never got any part of the SMS (the link ended before
    /// the first `AT+CMGS`): it is due again, with no attempt counted.
    pub async fn release_claim(&self, id: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.exec(
                "UPDATE outgoing SET state = ?2, claimed_at_ms = NULL WHERE id = ?1 AND state = ?3",
                params![id, OutgoingState::Queued, OutgoingState::Sending],
            )?;
            Ok(())
        })
        .await
    }

    /// Commits a write that needs a free page, as each claim does: an error means the gateway
    /// sends nothing (`doctor` asks this).
    pub async fn check_room(&self) -> Result<(), StoreError> {
        self.call(room_check).await
    }

    /// SMS left `sending`: handed to the modem, outcome never recorded. Oldest first.
    pub async fn unconfirmed_outgoing(&self) -> Result<Vec<Unconfirmed>, StoreError> {
        self.call(unconfirmed_outgoing).await
    }

    /// A technician's decision on an SMS left `sending`: send it again, or record it as sent or
    /// failed. Refused for a row in any other state, so a decision never touches a live send.
    pub async fn settle_unconfirmed(&self, id: i64, decision: Settle) -> Result<(), StoreError> {
        let signals = self.signals.clone();
        self.call(move |conn| {
            let now = now_ms();
            let changed = match decision {
                Settle::Resend => conn.exec(
                    "UPDATE outgoing SET state = ?2, next_attempt_ms = ?3, claimed_at_ms = NULL
                     WHERE id = ?1 AND state = ?4",
                    params![id, OutgoingState::Queued, now, OutgoingState::Sending],
                )?,
                Settle::Sent => conn.exec(
                    "UPDATE outgoing SET state = ?2, sent_at_ms = COALESCE(claimed_at_ms, ?3),
                            attempts = attempts + 1
                     WHERE id = ?1 AND state = ?4",
                    params![id, OutgoingState::Sent, now, OutgoingState::Sending],
                )?,
                Settle::Failed => conn.exec(
                    "UPDATE outgoing SET state = ?2, last_error = ?3, attempts = attempts + 1
                     WHERE id = ?1 AND state = ?4",
                    params![
                        id,
                        OutgoingState::Failed,
                        "outcome unknown; marked failed by a technician",
                        OutgoingState::Sending
                    ],
                )?,
            };
            if changed == 1 {
                return Ok(());
            }
            let state: Option<OutgoingState> = conn
                .row("SELECT state FROM outgoing WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?;
            Err(StoreError::Invalid(match state {
                None => format!("no outgoing SMS {id}"),
                Some(s) => format!("SMS {id} is {s}, not sending: there is nothing to decide"),
            }))
        })
        .await?;
        if decision == Settle::Resend {
            signals.outgoing.notify_waiters();
            signals.outgoing.notify_one();
        }
        Ok(())
    }

    /// The modem accepted every part; `message_references` are the TP-MRs it answered, one
    /// per part in order (kept per part, so the network's status reports can be matched).
    pub async fn mark_sent(&self, id: i64, message_references: Vec<u8>) -> Result<(), StoreError> {
        self.call_lazy(move |conn| {
            let now = now_ms();
            let refs = message_references
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(",");
            conn.exec(
                "UPDATE outgoing SET state = ?4, attempts = attempts + 1, message_refs = ?2,
                        sent_at_ms = ?3, last_error = NULL
                 WHERE id = ?1",
                params![id, refs, now, OutgoingState::Sent],
            )?;
            reports::record_sent_parts(conn, id, &message_references, now)?;
            Ok(())
        })
        .await
    }

    /// A send failed: retried `first_retry` after the failure and then with a growing wait, or
    /// marked failed after the last attempt. Returns true when the SMS was given up.
    pub async fn mark_send_failed_after(
        &self,
        id: i64,
        error: String,
        first_retry: Duration,
    ) -> Result<bool, StoreError> {
        let first_retry_ms = i64::try_from(first_retry.as_millis()).unwrap_or(MAX_RETRY_MS);
        self.call(move |conn| {
            let attempts: u32 =
                conn.row("SELECT attempts FROM outgoing WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
            let attempts = attempts + 1;
            let give_up = attempts >= MAX_SEND_ATTEMPTS;
            let delay = first_retry_ms
                .saturating_mul(1 << (attempts - 1).min(16))
                .min(MAX_RETRY_MS);
            let state = if give_up {
                OutgoingState::Failed
            } else {
                OutgoingState::Queued
            };
            conn.exec(
                "UPDATE outgoing SET attempts = ?2, last_error = ?3, next_attempt_ms = ?4,
                        state = ?5
                 WHERE id = ?1",
                params![id, attempts, error, now_ms() + delay, state],
            )?;
            Ok(give_up)
        })
        .await
    }
}

pub(super) fn insert_outgoing(
    conn: &Connection,
    out: &NewOutgoing,
    incident_id: Option<i64>,
    now: i64,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO outgoing (modem, recipient, text, kind, incident_id, next_attempt_ms,
                               created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        out.modem,
        out.recipient,
        out.text,
        out.kind,
        incident_id,
        now
    ])?;
    let id = conn.last_insert_rowid();
    if out.kind.counts_against_budget() {
        conn.prepare_cached(
            "INSERT INTO reply_budget (hour, queued) VALUES (?1, 1)
             ON CONFLICT (hour) DO UPDATE SET queued = queued + 1",
        )?
        .execute([budget_hour(now)])?;
    }
    Ok(id)
}

/// One hour of the daily budget's count.
const BUDGET_HOUR_MS: i64 = 3_600_000;

/// The hour (since the Unix epoch) whose count an SMS queued at `ms` adds to.
pub(super) fn budget_hour(ms: i64) -> i64 {
    ms / BUDGET_HOUR_MS
}

/// SMS counted against the daily budget (`replies.max_per_day`) at `now`: every one that
/// [`ReplyKind::counts_against_budget`] queued in the current hour or the 24 before it, so an SMS counts for at
/// least 24 hours and at most 25. Sums at most 25 rows of `reply_budget`, however many SMS the
/// day saw.
pub(super) fn budget_used(conn: &Connection, now: i64) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(SUM(queued), 0) FROM reply_budget WHERE hour >= ?1")?
        .query_row([budget_hour(now) - 24], |r| r.get(0))?)
}

/// Forgets the budget's counts of hours that no longer count (kept two days).
pub(super) fn purge_budget(conn: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(conn.exec(
        "DELETE FROM reply_budget WHERE hour < ?1",
        [budget_hour(now) - 48],
    )?)
}
