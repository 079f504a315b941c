//! The reply guard: the one place a reply to a reporter is queued or refused, inside the
//! transaction that records the message it answers ([`apply_reply`]).
//!
//! Who may get a reply at all (not an operator's robot, a short code, the gateway's own number
//! or a blocked number) is decided by the daemon before the store is asked (`ReplyPolicy`) and
//! arrives here as [`ReplyPlan::Refused`]. This module adds what needs the database: no reply to
//! a message that repeats one of our replies (an answering machine), the help text at most once
//! an hour per number, the hourly limit per number and the 24-hour budget. Every refusal is a
//! row of `reply_refusals` with its kind, so `status` and the tests can count them.
//!
//! A platform message for a reporter goes through the same guard ([`apply_outbound`]): the
//! daemon's policy on the number it resolves to, then its own limits (parts per message,
//! messages per number per day, parts per day), refused the same way.
//!
//! So does an SMS to a partner's focal point ([`apply_escalation`]): an urgent report while the
//! platform is out of reach, or a report's text asked for with `INFO`. The same policy on the
//! number, then the escalations' own budget of SMS parts per 24 hours.

use std::sync::Arc;

use rusqlite::{Connection, params};

use super::kinds::{RefusalKind, ReplyKind, TextValue};
use super::outgoing::{NewOutgoing, budget_used, insert_outgoing};
use super::{Store, StoreError};

const HOUR_MS: i64 = 3_600_000;
/// How far back a message is compared with our replies for an echo.
const ECHO_WINDOW_MS: i64 = 24 * HOUR_MS;

/// The limits the guard applies (`replies.max_per_sender_per_hour`, `replies.max_per_day`).
#[derive(Debug, Clone, Copy)]
pub struct ReplyGuard {
    pub max_per_sender_per_hour: u32,
    pub max_per_day: u32,
}

/// Whether a number may get an SMS at all (the daemon's `ReplyPolicy`: no short codes, no
/// alphanumeric senders, not our own or a blocked number): the kind and reason of a refusal.
pub type RecipientCheck = Arc<dyn Fn(&str) -> Option<(RefusalKind, String)> + Send + Sync>;

/// The limits on platform messages (`[outbound]`) and the policy on who may get one.
#[derive(Clone)]
pub struct OutboundGuard {
    pub max_parts: u32,
    pub max_per_recipient_per_day: u32,
    pub max_parts_per_day: u32,
    pub recipient_check: RecipientCheck,
}

/// The limits on SMS to focal points (`[escalation]`) and the policy on who may get one.
#[derive(Clone)]
pub struct EscalationGuard {
    pub max_parts_per_day: u32,
    /// Whether texts are folded into GSM-7 when sent (`sms.transliterate`): what they cost.
    pub transliterate: bool,
    pub recipient_check: RecipientCheck,
}

/// What happened to a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyVerdict {
    /// Queued as this outgoing SMS.
    Queued(i64),
    Refused {
        kind: RefusalKind,
        reason: String,
    },
}

/// What to do about a reply to one message.
#[derive(Debug, Clone)]
pub enum ReplyPlan {
    /// Nothing to answer (an undecodable message).
    None,
    /// No reply, for a reason known before the store is asked (an alphanumeric sender, a short
    /// code, a blocked number...): recorded as a refusal of this `kind`.
    Refused {
        recipient: String,
        kind: RefusalKind,
        reason: String,
    },
    /// Queue this reply if the guard allows it.
    Send(NewOutgoing),
}

/// Refusals counted by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RefusalCounts {
    pub total: u64,
    /// By kind, in the order of their names.
    pub by_kind: Vec<(RefusalKind, u64)>,
}

impl Store {
    /// Replies refused since `since_ms` (Unix milliseconds), by kind.
    pub async fn reply_refusal_counts(&self, since_ms: i64) -> Result<RefusalCounts, StoreError> {
        self.call(move |conn| refusal_counts(conn, since_ms)).await
    }
}

/// Replies refused since `since_ms`, by kind; works on any connection, so a read-only one
/// (`status` from another process) can count them too.
pub(crate) fn refusal_counts(
    conn: &Connection,
    since_ms: i64,
) -> Result<RefusalCounts, StoreError> {
    let rows = crate::query_all(
        conn,
        "SELECT kind, COUNT(*) FROM reply_refusals WHERE at_ms >= ?1 GROUP BY kind",
        [since_ms],
        |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        },
    )?;
    let mut by_kind: Vec<(RefusalKind, u64)> = Vec::new();
    for (kind, n) in rows {
        // A kind this version does not know still counts, as `other`, rather than hide the rest.
        let kind = kind
            .as_deref()
            .and_then(RefusalKind::from_sql_str)
            .unwrap_or(RefusalKind::Other);
        match by_kind.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => by_kind.push((kind, n)),
        }
    }
    by_kind.sort_by_key(|(kind, _)| kind.as_str());
    Ok(RefusalCounts {
        total: by_kind.iter().map(|(_, n)| n).sum(),
        by_kind,
    })
}

/// The reply guard. Applies `plan` for the message whose text is `incoming_text` (and whose
/// incident, if any, is `incident_id`): queues the reply, or records why not.
pub(crate) fn apply_reply(
    conn: &Connection,
    plan: ReplyPlan,
    incident_id: Option<i64>,
    incoming_text: &str,
    guard: &ReplyGuard,
    now: i64,
) -> Result<Option<ReplyVerdict>, StoreError> {
    let (recipient, kind, reason) = match plan {
        ReplyPlan::None => return Ok(None),
        ReplyPlan::Refused {
            recipient,
            kind,
            reason,
        } => (recipient, kind, reason),
        ReplyPlan::Send(out) => match refusal(conn, &out, incoming_text, guard, now)? {
            Some((kind, reason)) => (out.recipient, kind, reason),
            None => {
                let id = insert_outgoing(conn, &out, incident_id, now)?;
                return Ok(Some(ReplyVerdict::Queued(id)));
            }
        },
    };
    conn.prepare_cached(
        "INSERT INTO reply_refusals (recipient, reason, at_ms, kind) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![recipient, reason, now, kind])?;
    Ok(Some(ReplyVerdict::Refused { kind, reason }))
}

/// The guard for a platform message of `parts` SMS parts to `recipient`: queues `out`, or
/// records why not (a row of `reply_refusals`) and returns the refusal.
pub(crate) fn apply_outbound(
    conn: &Connection,
    out: &NewOutgoing,
    parts: u32,
    guard: &OutboundGuard,
    now: i64,
) -> Result<ReplyVerdict, StoreError> {
    match outbound_refusal(conn, &out.recipient, parts, guard, now)? {
        None => Ok(ReplyVerdict::Queued(insert_outgoing(conn, out, None, now)?)),
        Some((kind, reason)) => {
            record_refusal(conn, &out.recipient, kind, &reason, now)?;
            Ok(ReplyVerdict::Refused { kind, reason })
        }
    }
}

/// The guard for an SMS of `parts` parts to a focal point (an escalation or an `INFO` answer
/// about `incident_id`): queues `out`, or records why not and returns the refusal.
pub(crate) fn apply_escalation(
    conn: &Connection,
    out: &NewOutgoing,
    incident_id: i64,
    parts: u32,
    guard: &EscalationGuard,
    now: i64,
) -> Result<ReplyVerdict, StoreError> {
    let refused = match (guard.recipient_check)(&out.recipient) {
        Some(refused) => Some(refused),
        None => {
            let spent = escalation_parts_spent(conn, guard.transliterate, now)?;
            (spent + u64::from(parts) > u64::from(guard.max_parts_per_day)).then(|| {
                (
                    RefusalKind::EscalationBudget,
                    format!(
                        "the escalations' budget is spent: {spent} SMS parts in the last 24 h, \
                         this one {parts} more (budget escalation.max_parts_per_day = {})",
                        guard.max_parts_per_day
                    ),
                )
            })
        }
    };
    match refused {
        None => Ok(ReplyVerdict::Queued(insert_outgoing(
            conn,
            out,
            Some(incident_id),
            now,
        )?)),
        Some((kind, reason)) => {
            record_refusal(conn, &out.recipient, kind, &reason, now)?;
            Ok(ReplyVerdict::Refused { kind, reason })
        }
    }
}

/// SMS parts queued for focal points in the last 24 hours. Counted from the texts themselves
/// (at most the budget's worth of rows), so a text cut to fit is counted as it went.
fn escalation_parts_spent(
    conn: &Connection,
    transliterate: bool,
    now: i64,
) -> Result<u64, StoreError> {
    let texts = crate::query_all(
        conn,
        "SELECT text FROM outgoing WHERE kind IN (?1, ?2) AND created_at_ms > ?3",
        params![
            ReplyKind::Escalation,
            ReplyKind::EscalationInfo,
            now - ECHO_WINDOW_MS
        ],
        |r| r.get::<_, String>(0),
    )?;
    Ok(texts
        .iter()
        .map(|t| pdu::sms_cost(t, transliterate).parts as u64)
        .sum())
}

fn record_refusal(
    conn: &Connection,
    recipient: &str,
    kind: RefusalKind,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO reply_refusals (recipient, reason, at_ms, kind) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![recipient, reason, now, kind])?;
    Ok(())
}

/// Why a platform message must not go to `recipient`, if so.
fn outbound_refusal(
    conn: &Connection,
    recipient: &str,
    parts: u32,
    guard: &OutboundGuard,
    now: i64,
) -> Result<Option<(RefusalKind, String)>, StoreError> {
    if let Some(refused) = (guard.recipient_check)(recipient) {
        return Ok(Some(refused));
    }
    if parts > guard.max_parts {
        return Ok(Some((
            RefusalKind::TooLong,
            format!(
                "the message is {parts} SMS parts long (limit outbound.max_parts = {})",
                guard.max_parts
            ),
        )));
    }
    let to_number: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM outgoing WHERE recipient = ?1 AND kind = ?2
               AND created_at_ms > ?3",
        )?
        .query_row(
            params![recipient, ReplyKind::Platform, now - ECHO_WINDOW_MS],
            |r| r.get(0),
        )?;
    if to_number >= i64::from(guard.max_per_recipient_per_day) {
        return Ok(Some((
            RefusalKind::RecipientDailyLimit,
            format!(
                "this reporter already got {to_number} platform messages in the last 24 h \
                 (limit outbound.max_per_recipient_per_day = {})",
                guard.max_per_recipient_per_day
            ),
        )));
    }
    let spent: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(parts), 0) FROM outbound
             WHERE outgoing_id IS NOT NULL AND received_at_ms > ?1",
        )?
        .query_row([now - ECHO_WINDOW_MS], |r| r.get(0))?;
    if spent + i64::from(parts) > i64::from(guard.max_parts_per_day) {
        return Ok(Some((
            RefusalKind::PlatformBudget,
            format!(
                "the platform messages' budget is spent: {spent} SMS parts in the last 24 h, \
                 this message {parts} more (budget outbound.max_parts_per_day = {})",
                guard.max_parts_per_day
            ),
        )));
    }
    Ok(None)
}

/// Why `out`, answering `incoming_text`, must not be queued now (kind, reason), if so.
fn refusal(
    conn: &Connection,
    out: &NewOutgoing,
    incoming_text: &str,
    guard: &ReplyGuard,
    now: i64,
) -> Result<Option<(RefusalKind, String)>, StoreError> {
    if is_echo(conn, &out.recipient, incoming_text, now)? {
        return Ok(Some((
            RefusalKind::Echo,
            "the message repeats a reply this number got (an answering machine?)".into(),
        )));
    }
    let last_hour = sent_last_hour(conn, &out.recipient, now)?;
    if out.kind.is_help_text() && last_hour.help_texts > 0 {
        return Ok(Some((
            RefusalKind::HelpOncePerHour,
            "the help text was already sent to this number in the last hour".into(),
        )));
    }
    if out.kind.counts_per_sender() && last_hour.counted >= u64::from(guard.max_per_sender_per_hour)
    {
        return Ok(Some((
            RefusalKind::RateLimit,
            format!(
                "rate limit: {} replies to this number in the last hour (limit {})",
                last_hour.counted, guard.max_per_sender_per_hour
            ),
        )));
    }
    let today = budget_used(conn, now)?;
    if today >= i64::from(guard.max_per_day) {
        return Ok(Some((
            RefusalKind::DailyBudget,
            format!(
                "daily budget spent: {today} replies in the last 24 h (budget {})",
                guard.max_per_day
            ),
        )));
    }
    Ok(None)
}

/// SMS queued for one number in the last hour.
struct LastHour {
    /// Those that use up the hourly allowance.
    counted: u64,
    /// Those carrying the help text.
    help_texts: u64,
}

fn sent_last_hour(conn: &Connection, recipient: &str, now: i64) -> Result<LastHour, StoreError> {
    let kinds = crate::query_all(
        conn,
        "SELECT kind, COUNT(*) FROM outgoing WHERE recipient = ?1 AND created_at_ms > ?2
         GROUP BY kind",
        params![recipient, now - HOUR_MS],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64)),
    )?;
    let mut last_hour = LastHour {
        counted: 0,
        help_texts: 0,
    };
    for (kind, n) in kinds {
        // A kind this version does not know (written by a newer one) counts, to be safe.
        let kind = ReplyKind::from_sql_str(&kind);
        if kind.is_none_or(ReplyKind::counts_per_sender) {
            last_hour.counted += n;
        }
        if kind.is_some_and(ReplyKind::is_help_text) {
            last_hour.help_texts += n;
        }
    }
    Ok(last_hour)
}

/// True when `text` is one of the replies sent to `sender` in the last day: a robot that
/// answers every SMS with the SMS itself must not get a reply to its echo.
fn is_echo(conn: &Connection, sender: &str, text: &str, now: i64) -> Result<bool, StoreError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM outgoing WHERE recipient = ?1 AND created_at_ms > ?2
               AND trim(text) = trim(?3)",
        )?
        .query_row(params![sender, now - ECHO_WINDOW_MS, text], |r| r.get(0))?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::super::outgoing::purge_budget;
    use super::*;

    const GUARD: ReplyGuard = ReplyGuard {
        max_per_sender_per_hour: 100,
        max_per_day: 3,
    };

    /// 10:00 on some day, in Unix milliseconds.
    const T0: i64 = 490_000 * HOUR_MS;

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn
    }

    fn sms(recipient: &str, kind: ReplyKind) -> NewOutgoing {
        NewOutgoing {
            modem: "m1".into(),
            recipient: recipient.into(),
            text: format!("Asante ({kind})"),
            kind,
        }
    }

    /// The guard's verdict on an `ack` to a new number at `now`.
    fn refused(conn: &Connection, now: i64) -> Option<RefusalKind> {
        refusal(
            conn,
            &sms("+243990000009", ReplyKind::Ack),
            "AJALI",
            &GUARD,
            now,
        )
        .unwrap()
        .map(|(kind, _)| kind)
    }

    /// What the guard does with `out`, answering `incoming`, under `guard` at `now`.
    fn send(
        conn: &Connection,
        out: NewOutgoing,
        incoming: &str,
        guard: &ReplyGuard,
        now: i64,
    ) -> Result<i64, RefusalKind> {
        match apply_reply(conn, ReplyPlan::Send(out), None, incoming, guard, now).unwrap() {
            Some(ReplyVerdict::Queued(id)) => Ok(id),
            Some(ReplyVerdict::Refused { kind, .. }) => Err(kind),
            None => panic!("a reply to send has a verdict"),
        }
    }

    fn refusals(conn: &Connection) -> Vec<(RefusalKind, u64)> {
        refusal_counts(conn, 0).unwrap().by_kind
    }

    #[test]
    fn the_daily_budget_counts_across_hours_and_forgets_after_24_hours() {
        let conn = store();
        let start = T0;
        let t0 = start + 20 * 60_000;
        // Three SMS in three different hours (a reply, a help text, an info reply); a
        // technician's test SMS and a platform message (which has its own budget) do not.
        insert_outgoing(&conn, &sms("+243810000001", ReplyKind::Ack), None, t0).unwrap();
        insert_outgoing(
            &conn,
            &sms("+243810000002", ReplyKind::Help),
            None,
            t0 + HOUR_MS,
        )
        .unwrap();
        insert_outgoing(
            &conn,
            &sms("+243810000099", ReplyKind::Test),
            None,
            t0 + HOUR_MS,
        )
        .unwrap();
        insert_outgoing(
            &conn,
            &sms("+243810000003", ReplyKind::Info),
            None,
            t0 + 5 * HOUR_MS,
        )
        .unwrap();
        insert_outgoing(
            &conn,
            &sms("+243810000004", ReplyKind::Platform),
            None,
            t0 + 5 * HOUR_MS,
        )
        .unwrap();
        assert_eq!(budget_used(&conn, t0 + 5 * HOUR_MS).unwrap(), 3);
        assert_eq!(
            refused(&conn, t0 + 5 * HOUR_MS),
            Some(RefusalKind::DailyBudget)
        );
        // 24 hours after the first, it still counts (an SMS counts for at least 24 h)...
        assert_eq!(
            refused(&conn, t0 + 24 * HOUR_MS),
            Some(RefusalKind::DailyBudget)
        );
        assert_eq!(
            refused(&conn, start + 25 * HOUR_MS - 1),
            Some(RefusalKind::DailyBudget)
        );
        // ...and once its hour is 25 hours back it is forgotten: one reply may go again.
        assert_eq!(budget_used(&conn, start + 25 * HOUR_MS).unwrap(), 2);
        assert_eq!(refused(&conn, start + 25 * HOUR_MS), None);
        let now = start + 25 * HOUR_MS;
        assert!(
            send(
                &conn,
                sms("+243810000004", ReplyKind::Ack),
                "x",
                &GUARD,
                now
            )
            .is_ok()
        );
        assert_eq!(refused(&conn, now), Some(RefusalKind::DailyBudget));
        // A refused reply is not counted.
        assert_eq!(
            send(
                &conn,
                sms("+243810000005", ReplyKind::Ack),
                "x",
                &GUARD,
                now
            ),
            Err(RefusalKind::DailyBudget)
        );
        assert_eq!(budget_used(&conn, now).unwrap(), 3);
        // Two days on, nothing counts; the purge forgets the old hours.
        let later = start + 50 * HOUR_MS;
        assert_eq!(budget_used(&conn, later).unwrap(), 0);
        assert_eq!(refused(&conn, later), None);
        assert_eq!(purge_budget(&conn, later).unwrap(), 2);
        assert_eq!(purge_budget(&conn, later).unwrap(), 0);
    }

    #[test]
    fn the_hourly_limit_per_number_spares_survey_questions_and_tests() {
        let conn = store();
        let guard = ReplyGuard {
            max_per_sender_per_hour: 2,
            max_per_day: 100,
        };
        let a = "+243810000001";
        assert!(send(&conn, sms(a, ReplyKind::Survey), "x", &guard, T0).is_ok());
        // A technician's test to the same number does not use up the allowance.
        insert_outgoing(&conn, &sms(a, ReplyKind::Test), None, T0 + 1).unwrap();
        for i in 0..3 {
            assert!(
                send(
                    &conn,
                    sms(a, ReplyKind::Question),
                    &format!("{i}"),
                    &guard,
                    T0 + 2
                )
                .is_ok(),
                "the survey's questions go on"
            );
        }
        assert!(send(&conn, sms(a, ReplyKind::Ack), "y", &guard, T0 + 3).is_ok());
        assert_eq!(
            send(&conn, sms(a, ReplyKind::Info), "z", &guard, T0 + 4),
            Err(RefusalKind::RateLimit)
        );
        // Another number has its own allowance; an hour later this one has it back.
        assert!(
            send(
                &conn,
                sms("+243810000002", ReplyKind::Ack),
                "z",
                &guard,
                T0 + 5
            )
            .is_ok()
        );
        assert!(
            send(
                &conn,
                sms(a, ReplyKind::Info),
                "z",
                &guard,
                T0 + 3 + HOUR_MS
            )
            .is_ok()
        );
        assert_eq!(refusals(&conn), vec![(RefusalKind::RateLimit, 1)]);
    }

    #[test]
    fn the_help_text_goes_once_an_hour_to_a_number() {
        let conn = store();
        let a = "+243810000001";
        assert!(send(&conn, sms(a, ReplyKind::Help), "AIDE", &GUARD, T0).is_ok());
        // A message no keyword matched is answered with the same help text.
        assert_eq!(
            send(&conn, sms(a, ReplyKind::Unknown), "habari", &GUARD, T0 + 1),
            Err(RefusalKind::HelpOncePerHour)
        );
        assert_eq!(
            send(&conn, sms(a, ReplyKind::Help), "AIDE", &GUARD, T0 + 2),
            Err(RefusalKind::HelpOncePerHour)
        );
        // Other replies still go, and so does the help text to another number.
        assert!(send(&conn, sms(a, ReplyKind::Ack), "AJALI", &GUARD, T0 + 3).is_ok());
        assert!(
            send(
                &conn,
                sms("+243810000002", ReplyKind::Help),
                "AIDE",
                &GUARD,
                T0 + 4
            )
            .is_ok()
        );
        assert_eq!(refusals(&conn), vec![(RefusalKind::HelpOncePerHour, 2)]);
        // An hour on, the help text may go again (budget permitting: 3 are queued).
        let guard = ReplyGuard {
            max_per_day: 100,
            ..GUARD
        };
        assert!(send(&conn, sms(a, ReplyKind::Help), "AIDE", &guard, T0 + HOUR_MS).is_ok());
    }

    #[test]
    fn a_message_repeating_our_reply_gets_none() {
        let conn = store();
        let a = "+243810000001";
        let reply = sms(a, ReplyKind::Ack);
        let text = reply.text.clone();
        assert!(send(&conn, reply, "AJALI", &GUARD, T0).is_ok());
        assert_eq!(
            send(
                &conn,
                sms(a, ReplyKind::Unknown),
                &format!("  {text} "),
                &GUARD,
                T0 + 1
            ),
            Err(RefusalKind::Echo)
        );
        // From another number, or a day later, the same text is a message like any other.
        assert!(
            send(
                &conn,
                sms("+243810000002", ReplyKind::Unknown),
                &text,
                &GUARD,
                T0 + 2
            )
            .is_ok()
        );
        let guard = ReplyGuard {
            max_per_day: 100,
            ..GUARD
        };
        assert!(
            send(
                &conn,
                sms(a, ReplyKind::Unknown),
                &text,
                &guard,
                T0 + ECHO_WINDOW_MS
            )
            .is_ok()
        );
    }

    #[test]
    fn refusals_decided_before_the_store_are_recorded_with_their_kind() {
        let conn = store();
        let plan = |kind| ReplyPlan::Refused {
            recipient: "Vodacom".into(),
            kind,
            reason: "alphanumeric sender".into(),
        };
        for kind in [
            RefusalKind::Alphanumeric,
            RefusalKind::Alphanumeric,
            RefusalKind::Blocked,
        ] {
            let verdict = apply_reply(&conn, plan(kind), None, "promo", &GUARD, T0).unwrap();
            assert!(matches!(verdict, Some(ReplyVerdict::Refused { kind: k, .. }) if k == kind));
        }
        assert_eq!(
            apply_reply(&conn, ReplyPlan::None, None, "", &GUARD, T0).unwrap(),
            None
        );
        // A refusal from before refusals had kinds counts as `other`.
        conn.execute(
            "INSERT INTO reply_refusals (recipient, reason, at_ms) VALUES ('x', 'old', ?1)",
            [T0],
        )
        .unwrap();
        let counts = refusal_counts(&conn, 0).unwrap();
        assert_eq!(counts.total, 4);
        assert_eq!(
            counts.by_kind,
            vec![
                (RefusalKind::Alphanumeric, 2),
                (RefusalKind::Blocked, 1),
                (RefusalKind::Other, 1)
            ]
        );
        assert_eq!(
            refusal_counts(&conn, T0 + 1).unwrap(),
            RefusalCounts::default()
        );
    }
}
