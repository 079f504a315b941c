//! The reply guard of conversations (issue 5): the hourly limit per sender, the daily budget,
//! the help text at most once an hour per sender, and every refusal written down with its kind
//! so `status` and the heartbeat can count them.

use rusqlite::{Connection, params};

use super::incidents::NewOutgoing;
use super::outgoing::{ReplyGuard, ReplyVerdict, budget_used, insert_outgoing};
use super::{Store, StoreError};

const HOUR_MS: i64 = 3_600_000;

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
    let today = budget_used(conn, now)?;
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

#[cfg(test)]
mod tests {
    use super::super::outgoing::purge_budget;
    use super::*;

    const GUARD: ReplyGuard = ReplyGuard {
        max_per_sender_per_hour: 100,
        max_per_day: 3,
    };

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn
    }

    fn sms(recipient: &str, kind: &str) -> NewOutgoing {
        NewOutgoing {
            modem: "m1".into(),
            recipient: recipient.into(),
            text: "Asante".into(),
            kind: kind.into(),
        }
    }

    /// The guard's verdict on an `ack` to a new number at `now`.
    fn refused(conn: &Connection, now: i64) -> Option<&'static str> {
        refusal(conn, &sms("+243990000009", "ack"), &GUARD, now)
            .unwrap()
            .map(|(kind, _)| kind)
    }

    #[test]
    fn the_daily_budget_counts_across_hours_and_forgets_after_24_hours() {
        let conn = store();
        // 10:20 on some day, in Unix milliseconds.
        let start = 490_000 * HOUR_MS;
        let t0 = start + 20 * 60_000;
        // Three SMS in three different hours (a reply, a help text, a platform message); a
        // technician's test SMS does not count.
        insert_outgoing(&conn, &sms("+243810000001", "ack"), None, t0).unwrap();
        insert_outgoing(&conn, &sms("+243810000002", "help"), None, t0 + HOUR_MS).unwrap();
        insert_outgoing(&conn, &sms("+243810000099", "test"), None, t0 + HOUR_MS).unwrap();
        insert_outgoing(
            &conn,
            &sms("+243810000003", "platform"),
            None,
            t0 + 5 * HOUR_MS,
        )
        .unwrap();
        assert_eq!(budget_used(&conn, t0 + 5 * HOUR_MS).unwrap(), 3);
        assert_eq!(refused(&conn, t0 + 5 * HOUR_MS), Some("daily_budget"));
        // 24 hours after the first, it still counts (an SMS counts for at least 24 h)...
        assert_eq!(refused(&conn, t0 + 24 * HOUR_MS), Some("daily_budget"));
        assert_eq!(
            refused(&conn, start + 25 * HOUR_MS - 1),
            Some("daily_budget")
        );
        // ...and once its hour is 25 hours back it is forgotten: one reply may go again.
        assert_eq!(budget_used(&conn, start + 25 * HOUR_MS).unwrap(), 2);
        assert_eq!(refused(&conn, start + 25 * HOUR_MS), None);
        let verdict = apply_reply(
            &conn,
            ReplyPlan::Send(sms("+243810000004", "ack")),
            None,
            &GUARD,
            start + 25 * HOUR_MS,
        )
        .unwrap();
        assert!(matches!(verdict, Some(ReplyVerdict::Queued(_))));
        assert_eq!(refused(&conn, start + 25 * HOUR_MS), Some("daily_budget"));
        // A refused reply is not counted.
        let verdict = apply_reply(
            &conn,
            ReplyPlan::Send(sms("+243810000005", "ack")),
            None,
            &GUARD,
            start + 25 * HOUR_MS,
        )
        .unwrap();
        assert!(matches!(verdict, Some(ReplyVerdict::Refused(_))));
        assert_eq!(budget_used(&conn, start + 25 * HOUR_MS).unwrap(), 3);
        // Two days on, nothing counts; the purge forgets the old hours.
        let later = start + 50 * HOUR_MS;
        assert_eq!(budget_used(&conn, later).unwrap(), 0);
        assert_eq!(refused(&conn, later), None);
        assert_eq!(purge_budget(&conn, later).unwrap(), 2);
        assert_eq!(purge_budget(&conn, later).unwrap(), 0);
    }

    #[test]
    fn the_incident_path_uses_the_same_budget() {
        let conn = store();
        let t0 = 490_000 * HOUR_MS;
        for i in 0..3 {
            insert_outgoing(&conn, &sms(&format!("+24381000000{i}"), "ack"), None, t0).unwrap();
        }
        let why = super::super::outgoing::check_guard(&conn, "+243990000009", &GUARD, t0 + 1)
            .unwrap()
            .unwrap();
        assert!(why.starts_with("daily budget"), "{why}");
        assert!(
            super::super::outgoing::check_guard(&conn, "+243990000009", &GUARD, t0 + 25 * HOUR_MS)
                .unwrap()
                .is_none()
        );
    }
}
