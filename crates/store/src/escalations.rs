//! Escalations: urgent reports texted to the partners' focal points while the platform is out
//! of reach, and the focal points' answers (`ACK`, `INFO`). The daemon decides when and what to
//! send; this module keeps the promise that one report reaches one focal point at most once
//! (`UNIQUE (incident_id, focal_point)`, written in the transaction that queues the SMS through
//! [`apply_escalation`]) and records who took a report, for the platform.

use crate::CachedSql;
use rusqlite::{Connection, OptionalExtension, params};

use super::guard::{EscalationGuard, ReplyVerdict, apply_escalation};
use super::kinds::EscalationState;
use super::outgoing::NewOutgoing;
use super::{Store, StoreError, now_ms, query_all};

/// An urgent incident the platform does not have yet.
#[derive(Debug, Clone)]
pub struct UrgentPending {
    pub incident_id: i64,
    pub reference: String,
    pub incident_type: String,
    pub location: Option<String>,
    pub sender: Option<String>,
    /// The network's time of the message (RFC 3339), when the PDU had one.
    pub smsc_time: Option<String>,
    pub received_at_ms: i64,
    /// The modem that received it: the escalation leaves through the same one.
    pub modem: String,
    /// Focal points (numbers) this incident was already escalated to, or refused for.
    pub done: Vec<String>,
}

/// One escalation to queue.
#[derive(Debug, Clone)]
pub struct NewEscalation {
    pub incident_id: i64,
    pub partner: String,
    /// How the platform is told who the focal point is (a name, or the masked number).
    pub label: String,
    /// The SMS; its recipient is the focal point's number.
    pub out: NewOutgoing,
    pub parts: u32,
}

/// What became of one escalation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscalationOutcome {
    /// Queued, or refused by the guard (recorded, never tried again).
    Done(ReplyVerdict),
    /// This focal point already had this report: nothing was done.
    AlreadyDone,
}

/// An escalation as the platform learns it, with the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationRow {
    pub partner: String,
    pub label: String,
    pub state: EscalationState,
    pub reason: Option<String>,
    pub created_at_ms: i64,
    pub acked_at_ms: Option<i64>,
}

/// An escalated report as a focal point may read it (`INFO`).
#[derive(Debug, Clone)]
pub struct EscalatedReport {
    pub incident_id: i64,
    pub reference: String,
    /// The reporter's whole text.
    pub text: String,
}

impl Store {
    /// Urgent incidents (of `types`) not delivered to the platform and not purged, with the
    /// focal points each was already escalated to.
    pub async fn urgent_undelivered(
        &self,
        types: Vec<String>,
    ) -> Result<Vec<UrgentPending>, StoreError> {
        self.call(move |conn| urgent_undelivered(conn, &types))
            .await
    }

    /// Queues one escalation through the guard, unless this focal point already had this
    /// report. The row and the SMS are one transaction.
    pub async fn escalate(
        &self,
        e: NewEscalation,
        guard: EscalationGuard,
    ) -> Result<EscalationOutcome, StoreError> {
        let signals = self.signals.clone();
        let outcome = self
            .call(move |conn| escalate(conn, &e, &guard, now_ms()))
            .await?;
        if matches!(outcome, EscalationOutcome::Done(ReplyVerdict::Queued(_))) {
            signals.outgoing.notify_waiters();
            signals.outgoing.notify_one();
        }
        Ok(outcome)
    }

    /// The report with this reference, if it was escalated to `focal_point`.
    pub async fn escalated_report(
        &self,
        reference: String,
        focal_point: String,
    ) -> Result<Option<EscalatedReport>, StoreError> {
        self.call(move |conn| escalated_report(conn, &reference, &focal_point))
            .await
    }

    /// `ACK` from `focal_point` in message `message_id`: the message is handled and, when the
    /// report was escalated to them, they are recorded as having taken it (the first answer
    /// counts). Returns the label of whoever took it first, or `None` for a report that was
    /// not escalated to them (or a message handled already).
    pub async fn acknowledge_escalation(
        &self,
        message_id: i64,
        incident_id: Option<i64>,
        focal_point: String,
    ) -> Result<Option<String>, StoreError> {
        let signals = self.signals.clone();
        let taken = self
            .call(move |conn| {
                if !mark_handled(conn, message_id)? {
                    return Ok(None);
                }
                let Some(incident_id) = incident_id else {
                    return Ok(None);
                };
                let now = now_ms();
                conn.prepare_cached(
                    "UPDATE escalations SET acked_at_ms = ?3
                     WHERE incident_id = ?1 AND focal_point = ?2 AND acked_at_ms IS NULL",
                )?
                .execute(params![incident_id, focal_point, now])?;
                Ok(conn
                    .prepare_cached(
                        "SELECT label FROM escalations
                         WHERE incident_id = ?1 AND acked_at_ms IS NOT NULL
                         ORDER BY acked_at_ms, id LIMIT 1",
                    )?
                    .query_row([incident_id], |r| r.get(0))
                    .optional()?)
            })
            .await?;
        // The incident changed: a batch still to be retried carries the answer.
        signals.incidents.notify_one();
        Ok(taken)
    }

    /// `INFO` from a focal point in message `message_id`: the message is handled and `answer`
    /// (of `parts` SMS parts, about `incident_id`) goes through the guard. `None` when the
    /// message was handled already, or when there is nothing to answer (`answer` is `None`).
    pub async fn answer_escalation_info(
        &self,
        message_id: i64,
        incident_id: i64,
        answer: Option<(NewOutgoing, u32)>,
        guard: EscalationGuard,
    ) -> Result<Option<ReplyVerdict>, StoreError> {
        let signals = self.signals.clone();
        let verdict = self
            .call(move |conn| {
                if !mark_handled(conn, message_id)? {
                    return Ok(None);
                }
                let Some((out, parts)) = answer else {
                    return Ok(None);
                };
                apply_escalation(conn, &out, incident_id, parts, &guard, now_ms()).map(Some)
            })
            .await?;
        if matches!(verdict, Some(ReplyVerdict::Queued(_))) {
            signals.outgoing.notify_waiters();
            signals.outgoing.notify_one();
        }
        Ok(verdict)
    }

    /// Marks a message handled with nothing recorded for it (a focal point's command about a
    /// report they were not sent). False when it was handled already.
    pub async fn mark_message_handled(&self, message_id: i64) -> Result<bool, StoreError> {
        self.call(move |conn| mark_handled(conn, message_id)).await
    }
}

/// Marks the message handled; false when it was already.
fn mark_handled(conn: &Connection, message_id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("UPDATE messages SET handled = 1 WHERE id = ?1 AND handled = 0")?
        .execute([message_id])?
        == 1)
}

fn urgent_undelivered(
    conn: &Connection,
    types: &[String],
) -> Result<Vec<UrgentPending>, StoreError> {
    let types = serde_json::to_string(types)
        .map_err(|e| StoreError::Invalid(format!("cannot list the urgent types: {e}")))?;
    let mut rows = query_all(
        conn,
        "SELECT i.id, i.reference, i.incident_type, i.location, m.sender, m.smsc_time,
                m.received_at_ms, m.modem
         FROM incidents i JOIN messages m ON m.id = i.message_id
         WHERE i.delivered_at_ms IS NULL AND i.purged_at_ms IS NULL
           AND i.incident_type IN (SELECT value FROM json_each(?1))
         ORDER BY i.id",
        [types],
        |r| {
            Ok(UrgentPending {
                incident_id: r.get(0)?,
                reference: r.get(1)?,
                incident_type: r.get(2)?,
                location: r.get(3)?,
                sender: r.get(4)?,
                smsc_time: r.get(5)?,
                received_at_ms: r.get(6)?,
                modem: r.get(7)?,
                done: Vec::new(),
            })
        },
    )?;
    let mut done =
        conn.prepare_cached("SELECT focal_point FROM escalations WHERE incident_id = ?1")?;
    for row in &mut rows {
        row.done = done
            .query_map([row.incident_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(rows)
}

fn escalate(
    conn: &Connection,
    e: &NewEscalation,
    guard: &EscalationGuard,
    now: i64,
) -> Result<EscalationOutcome, StoreError> {
    // The row first: the unique (incident, focal point) is what refuses a second escalation,
    // whatever the caller believed.
    let inserted = conn
        .prepare_cached(
            "INSERT INTO escalations (incident_id, focal_point, partner, label, state,
                                      created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (incident_id, focal_point) DO NOTHING",
        )?
        .execute(params![
            e.incident_id,
            e.out.recipient,
            e.partner,
            e.label,
            EscalationState::Refused,
            now
        ])?;
    if inserted == 0 {
        return Ok(EscalationOutcome::AlreadyDone);
    }
    let id = conn.last_insert_rowid();
    let verdict = apply_escalation(conn, &e.out, e.incident_id, e.parts, guard, now)?;
    match &verdict {
        ReplyVerdict::Queued(outgoing_id) => conn
            .prepare_cached("UPDATE escalations SET state = ?2, outgoing_id = ?3 WHERE id = ?1")?
            .execute(params![id, EscalationState::Queued, outgoing_id])?,
        ReplyVerdict::Refused { reason, .. } => conn
            .prepare_cached("UPDATE escalations SET reason = ?2 WHERE id = ?1")?
            .execute(params![id, reason])?,
    };
    Ok(EscalationOutcome::Done(verdict))
}

fn escalated_report(
    conn: &Connection,
    reference: &str,
    focal_point: &str,
) -> Result<Option<EscalatedReport>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT i.id, i.reference, m.text
             FROM incidents i JOIN messages m ON m.id = i.message_id
             JOIN escalations e ON e.incident_id = i.id
             WHERE i.reference = ?1 AND e.focal_point = ?2 AND e.state = ?3",
        )?
        .query_row(
            params![reference, focal_point, EscalationState::Queued],
            |r| {
                Ok(EscalatedReport {
                    incident_id: r.get(0)?,
                    reference: r.get(1)?,
                    text: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// The escalations of one incident, oldest first (for the forwarded record).
pub(super) fn escalations_of(
    conn: &Connection,
    incident_id: i64,
) -> Result<Vec<EscalationRow>, StoreError> {
    query_all(
        conn,
        "SELECT partner, label, state, reason, created_at_ms, acked_at_ms
         FROM escalations WHERE incident_id = ?1 ORDER BY id",
        [incident_id],
        |r| {
            Ok(EscalationRow {
                partner: r.get(0)?,
                label: r.get(1)?,
                state: r.get(2)?,
                reason: r.get(3)?,
                created_at_ms: r.get(4)?,
                acked_at_ms: r.get(5)?,
            })
        },
    )
}

/// Reports escalated to a focal point that nobody has taken (`ACK`) yet.
pub(super) fn pending_count(conn: &Connection) -> Result<u64, StoreError> {
    // `status` reads with its own connection, and may read a database the new version has not
    // migrated yet (the package upgraded, the service not restarted): none pending then.
    let table: i64 = conn.row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'escalations'",
        [],
        |r| r.get(0),
    )?;
    if table == 0 {
        return Ok(0);
    }
    let n: i64 = conn.row(
        "SELECT COUNT(DISTINCT e.incident_id) FROM escalations e
         WHERE e.state = 'queued' AND NOT EXISTS (
             SELECT 1 FROM escalations a
             WHERE a.incident_id = e.incident_id AND a.acked_at_ms IS NOT NULL)",
        [],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}
