//! Incidents: what a message (or a finished survey) reports, with its reference; written by
//! `sessions` in the transaction that queues its reply, read by the forwarder and by people.

use pdu::AddressKind;
use rusqlite::{Connection, params};

use super::kinds::{DecodeStatus, OutgoingState, Text};
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
    pub smsc_time: Option<String>,
    pub received_at_ms: i64,
    pub modem: String,
    pub text: String,
    pub parts: u32,
    pub decode_status: DecodeStatus,
    pub raw_pdus: Vec<String>,
    /// Survey answers by step id (empty when the report came in one message).
    pub survey_answers: std::collections::BTreeMap<String, String>,
    /// The sender was over the intake quota when this came: kept, not answered.
    pub flood: bool,
    /// The focal points texted about it while the platform was out of reach, oldest first.
    pub escalations: Vec<super::EscalationRow>,
}

/// One incident with its reply and forwarding state, for people (`demo`, `status`, `export`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct IncidentSummary {
    pub reference: String,
    pub incident_type: String,
    pub language: Option<String>,
    pub sender: Option<String>,
    pub sender_kind: Option<AddressKind>,
    pub text: String,
    pub description: String,
    pub location: Option<String>,
    pub received_at_ms: i64,
    pub reply_text: Option<String>,
    pub reply_state: Option<OutgoingState>,
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
                sender_kind: r.get::<_, Option<Text<AddressKind>>>(4)?.map(|k| k.0),
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
/// A reporter's text column read even when its bytes are not UTF-8 (a damaged file, a row
/// written by hand): each bad sequence becomes U+FFFD, so one such row cannot stop every batch.
fn lossy_text(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(idx)? {
        ValueRef::Null => None,
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    })
}

pub(super) fn load_incidents(
    conn: &Connection,
    where_clause: &str,
    param: &dyn rusqlite::ToSql,
) -> Result<Vec<IncidentRow>, StoreError> {
    let sql = format!(
        "SELECT i.id, i.reference, i.incident_type, i.language, i.description, i.location,
                m.sender, m.smsc_time, m.received_at_ms, m.modem, m.text, m.parts,
                m.decode_status, m.id, i.survey_answers, i.flood
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
                    description: lossy_text(r, 4)?.unwrap_or_default(),
                    location: lossy_text(r, 5)?,
                    sender: r.get(6)?,
                    smsc_time: r.get(7)?,
                    received_at_ms: r.get(8)?,
                    modem: r.get(9)?,
                    text: lossy_text(r, 10)?.unwrap_or_default(),
                    parts: r.get(11)?,
                    decode_status: r.get(12)?,
                    raw_pdus: Vec::new(),
                    // Written by this program as a JSON object; anything else is not ours.
                    survey_answers: r
                        .get::<_, Option<String>>(14)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default(),
                    flood: r.get(15)?,
                    escalations: Vec::new(),
                },
                r.get::<_, i64>(13)?,
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
        row.escalations = super::escalations::escalations_of(conn, row.id)?;
    }
    Ok(rows.into_iter().map(|(row, _)| row).collect())
}
