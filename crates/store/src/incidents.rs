//! Incidents: what a message (or a finished dialogue) reports, with its reference, and the reply
//! queued for it, written in one transaction so a crash never leaves one without the other.

use rusqlite::{Connection, params};

use super::outgoing::{ReplyGuard, ReplyVerdict, check_guard};
use super::received::now_ms;
use super::{Store, StoreError};

/// An incident to record for a message.
#[derive(Debug, Clone)]
pub struct IncidentDraft {
    pub message_id: i64,
    pub reference: String,
    pub incident_type: String,
    pub language: Option<String>,
    pub description: String,
    pub location: Option<String>,
}

/// An SMS to queue for sending.
#[derive(Debug, Clone)]
pub struct NewOutgoing {
    pub modem: String,
    pub recipient: String,
    pub text: String,
    /// `ack`, `help`, `platform`, `test`.
    pub kind: String,
}

/// An incident as the forwarder needs it.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub id: i64,
    pub reference: String,
    pub incident_type: String,
    pub language: Option<String>,
    pub description: String,
    pub location: Option<String>,
    pub sender: Option<String>,
    pub sender_kind: Option<String>,
    pub smsc_time: Option<String>,
    pub received_at_ms: i64,
    pub modem: String,
    pub text: String,
    pub parts: u32,
    pub decode_status: String,
    pub raw_pdus: Vec<String>,
    /// Survey answers by step id (empty when the report came in one message).
    pub survey_answers: std::collections::BTreeMap<String, String>,
}

/// One incident with its reply and forwarding state, for people (`demo`, `status`, `export`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct IncidentSummary {
    pub reference: String,
    pub incident_type: String,
    pub language: Option<String>,
    pub sender: Option<String>,
    pub sender_kind: Option<String>,
    pub text: String,
    pub description: String,
    pub location: Option<String>,
    pub received_at_ms: i64,
    pub reply_text: Option<String>,
    pub reply_state: Option<String>,
    pub batch_id: Option<String>,
    pub delivered: bool,
}

impl Store {
    /// Incidents in the order they were recorded, with their reply and batch.
    pub async fn incident_summaries(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<IncidentSummary>, StoreError> {
        self.call(move |conn| load_summaries(conn, after_id, i64::MIN, limit))
            .await
    }

    /// Records the incident for a message, marks the message handled, and queues `reply` if the
    /// guard allows it (a refusal is recorded instead). Idempotent per message.
    pub async fn record_incident(
        &self,
        draft: IncidentDraft,
        reply: Option<NewOutgoing>,
        guard: ReplyGuard,
    ) -> Result<(i64, Option<ReplyVerdict>), StoreError> {
        let signals = self.signals.clone();
        let (id, verdict) = self
            .call(move |conn| record_incident(conn, draft, reply, guard))
            .await?;
        signals.incidents.notify_one();
        if matches!(verdict, Some(ReplyVerdict::Queued(_))) {
            signals.outgoing.notify_waiters();
            signals.outgoing.notify_one();
        }
        Ok((id, verdict))
    }

    /// Records that a reply was refused without an incident (e.g. an empty message).
    pub async fn record_refusal(
        &self,
        recipient: String,
        reason: String,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO reply_refusals (recipient, reason, at_ms) VALUES (?1, ?2, ?3)",
                params![recipient, reason, now_ms()],
            )?;
            Ok(())
        })
        .await
    }
}

/// Incidents with an id above `after_id`, received (gateway clock) at or after `since_ms`.
pub(super) fn load_summaries(
    conn: &Connection,
    after_id: i64,
    since_ms: i64,
    limit: usize,
) -> Result<Vec<IncidentSummary>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.reference, i.incident_type, i.language, m.sender, m.sender_kind, m.text,
                i.description, m.received_at_ms, o.text, o.state, i.batch_id,
                i.delivered_at_ms IS NOT NULL, i.location
         FROM incidents i JOIN messages m ON m.id = i.message_id
         LEFT JOIN outgoing o ON o.id = (SELECT MIN(id) FROM outgoing WHERE incident_id = i.id)
         WHERE i.id > ?1 AND m.received_at_ms >= ?2 ORDER BY i.id LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![after_id, since_ms, limit as i64], |r| {
            Ok(IncidentSummary {
                reference: r.get(0)?,
                incident_type: r.get(1)?,
                language: r.get(2)?,
                sender: r.get(3)?,
                sender_kind: r.get(4)?,
                text: r.get(5)?,
                description: r.get(6)?,
                received_at_ms: r.get(7)?,
                reply_text: r.get(8)?,
                reply_state: r.get(9)?,
                batch_id: r.get(10)?,
                delivered: r.get(11)?,
                location: r.get(12)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn record_incident(
    conn: &Connection,
    draft: IncidentDraft,
    reply: Option<NewOutgoing>,
    guard: ReplyGuard,
) -> Result<(i64, Option<ReplyVerdict>), StoreError> {
    let existing: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT id FROM incidents WHERE message_id = ?1",
        [draft.message_id],
        |r| r.get(0),
    ))?;
    if let Some(id) = existing {
        return Ok((id, None));
    }
    let now = now_ms();
    let incident_id = insert_incident(conn, &draft, None, now)?;
    let verdict = match reply {
        None => None,
        Some(out) => Some(match check_guard(conn, &out.recipient, &guard, now)? {
            Some(reason) => {
                conn.execute(
                    "INSERT INTO reply_refusals (recipient, reason, at_ms) VALUES (?1, ?2, ?3)",
                    params![out.recipient, reason, now],
                )?;
                ReplyVerdict::Refused(reason)
            }
            None => {
                let id = super::outgoing::insert_outgoing(conn, &out, Some(incident_id), now)?;
                ReplyVerdict::Queued(id)
            }
        }),
    };
    Ok((incident_id, verdict))
}

/// Inserts an incident and marks its message handled.
pub(super) fn insert_incident(
    conn: &Connection,
    draft: &IncidentDraft,
    survey_answers: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO incidents (message_id, reference, incident_type, language, description,
                                location, created_at_ms, survey_answers)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        draft.message_id,
        draft.reference,
        draft.incident_type,
        draft.language,
        draft.description,
        draft.location,
        now,
        survey_answers
    ])?;
    let incident_id = conn.last_insert_rowid();
    conn.prepare_cached("UPDATE messages SET handled = 1 WHERE id = ?1")?
        .execute([draft.message_id])?;
    Ok(incident_id)
}

/// Loads incidents with everything the platform record needs, in id order.
pub(super) fn load_incidents(
    conn: &Connection,
    where_clause: &str,
    param: &dyn rusqlite::ToSql,
) -> Result<Vec<IncidentRow>, StoreError> {
    let sql = format!(
        "SELECT i.id, i.reference, i.incident_type, i.language, i.description, i.location,
                m.sender, m.sender_kind, m.smsc_time, m.received_at_ms, m.modem, m.text, m.parts,
                m.decode_status, m.id, i.survey_answers
         FROM incidents i JOIN messages m ON m.id = i.message_id
         WHERE {where_clause} ORDER BY i.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query_map([param], |r| {
            Ok((
                IncidentRow {
                    id: r.get(0)?,
                    reference: r.get(1)?,
                    incident_type: r.get(2)?,
                    language: r.get(3)?,
                    description: r.get(4)?,
                    location: r.get(5)?,
                    sender: r.get(6)?,
                    sender_kind: r.get(7)?,
                    smsc_time: r.get(8)?,
                    received_at_ms: r.get(9)?,
                    modem: r.get(10)?,
                    text: r.get(11)?,
                    parts: r.get(12)?,
                    decode_status: r.get(13)?,
                    raw_pdus: Vec::new(),
                    // Written by this program as a JSON object; anything else is not ours.
                    survey_answers: r
                        .get::<_, Option<String>>(15)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default(),
                },
                r.get::<_, i64>(14)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut pdus = conn.prepare_cached(
        "SELECT pdu_hex FROM received WHERE message_id = ?1 ORDER BY concat_seq, id",
    )?;
    for (row, message_id) in &mut rows {
        row.raw_pdus = pdus
            .query_map([*message_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(rows.into_iter().map(|(row, _)| row).collect())
}
