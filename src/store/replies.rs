//! The reply guard of conversations (issue 5): the hourly limit per sender, the daily budget,
//! the help text at most once an hour per sender, and every refusal written down with its kind
//! so `status` and the heartbeat can count them.

use rusqlite::{Connection, params};

use super::incidents::NewOutgoing;
use super::outgoing::{ReplyGuard, ReplyVerdict, insert_outgoing};
use super::{Store, StoreError};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Reply kinds that carry the help text: sent at most once an hour to one number.
const HELP_KINDS: &[&str] = &["help", "unknown"];

/// What to do about a reply to one message.
#[derive(Debug, Clone)]
pub enum ReplyPlan {
    /// Nothing to answer (an undecodable message).
    None,
    /// No reply, for a reason known before the store is asked (an alphanumeric sender, a short
    /// code, a blocked number...): recorded as a refusal of this `kind`.
    Refused {
        recipient: String,
        kind: String,
        reason: String,
    },
    /// Queue this reply if the guard allows it.
    Send(NewOutgoing),
}

/// Refusals counted by kind (`rate_limit`, `daily_budget`, `help_once_per_hour`,
/// `alphanumeric`, `short_code`, `own_number`, `blocked`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RefusalCounts {
    pub total: u64,
    pub by_kind: Vec<(String, u64)>,
}

impl Store {
    /// Replies refused since `since_ms` (Unix milliseconds), by kind.
    pub async fn reply_refusal_counts(&self, since_ms: i64) -> Result<RefusalCounts, StoreError> {
        self.call(move |conn| refusal_counts(conn, since_ms)).await
    }
}

/// Replies refused since `since_ms`, by kind; works on any connection, so a read-only one
/// (`status` from another process) can count them too.
pub fn refusal_counts(conn: &Connection, since_ms: i64) -> Result<RefusalCounts, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(kind, 'other'), COUNT(*) FROM reply_refusals WHERE at_ms >= ?1
         GROUP BY 1 ORDER BY 1",
    )?;
    let by_kind = stmt
        .query_map([since_ms], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RefusalCounts {
        total: by_kind.iter().map(|(_, n)| n).sum(),
        by_kind,
    })
}

/// Applies `plan` for the message's incident (if any): queues the reply or records why not.
pub(super) fn apply_reply(
    conn: &Connection,
    plan: ReplyPlan,
    incident_id: Option<i64>,
    guard: &ReplyGuard,
    now: i64,
) -> Result<Option<ReplyVerdict>, StoreError> {
    match plan {
        ReplyPlan::None => Ok(None),
        ReplyPlan::Refused {
            recipient,
            kind,
            reason,
        } => {
            record_refusal(conn, &recipient, &kind, &reason, now)?;
            Ok(Some(ReplyVerdict::Refused(reason)))
        }
        ReplyPlan::Send(out) => match refusal(conn, &out, guard, now)? {
            Some((kind, reason)) => {
                record_refusal(conn, &out.recipient, kind, &reason, now)?;
                Ok(Some(ReplyVerdict::Refused(reason)))
            }
            None => Ok(Some(ReplyVerdict::Queued(insert_outgoing(
                conn,
                &out,
                incident_id,
                now,
            )?))),
        },
    }
}

fn record_refusal(
    conn: &Connection,
    recipient: &str,
    kind: &str,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO reply_refusals (recipient, reason, at_ms, kind) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![recipient, reason, now, kind])?;
    Ok(())
}

/// Why `out` must not be queued now (kind, reason), if so.
fn refusal(
    conn: &Connection,
    out: &NewOutgoing,
    guard: &ReplyGuard,
    now: i64,
) -> Result<Option<(&'static str, String)>, StoreError> {
    if HELP_KINDS.contains(&out.kind.as_str()) {
        let helped: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM outgoing WHERE recipient = ?1 AND created_at_ms > ?2
                   AND kind IN ('help', 'unknown')",
            )?
            .query_row(params![out.recipient, now - HOUR_MS], |r| r.get(0))?;
        if helped > 0 {
            return Ok(Some((
                "help_once_per_hour",
                "the help text was already sent to this number in the last hour".into(),
            )));
        }
    }
    // Follow-up questions of a survey are bounded by its steps (one re-ask each), so they do
    // not use up the hourly allowance; the survey's first question does.
    let to_sender: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM outgoing WHERE recipient = ?1 AND created_at_ms > ?2
               AND kind NOT IN ('question', 'test')",
        )?
        .query_row(params![out.recipient, now - HOUR_MS], |r| r.get(0))?;
    if out.kind != "question" && to_sender >= i64::from(guard.max_per_sender_per_hour) {
        return Ok(Some((
            "rate_limit",
            format!(
                "rate limit: {to_sender} replies to this number in the last hour (limit {})",
                guard.max_per_sender_per_hour
            ),
        )));
    }
    let today: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM outgoing WHERE created_at_ms > ?1 AND kind != 'test'",
        )?
        .query_row([now - DAY_MS], |r| r.get(0))?;
    if today >= i64::from(guard.max_per_day) {
        return Ok(Some((
            "daily_budget",
            format!(
                "daily budget spent: {today} replies in the last 24 h (budget {})",
                guard.max_per_day
            ),
        )));
    }
    Ok(None)
}
