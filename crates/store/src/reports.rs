//! Delivery reports: each SMS-STATUS-REPORT from the network is kept, matched to the part of a
//! reply it is about (by message reference and recipient, the most recent send first), and the
//! reply's delivery state is worked out from the states of its parts.

use crate::CachedSql;
use rusqlite::{Connection, OptionalExtension, params};

use super::kinds::{Text, TextValue};
use super::{Store, StoreError, query_all};
use pdu::DeliveryState;

/// Sends further back than this many with the same message reference are not searched: the
/// reference wraps after 256 sends, so an older one is a different SMS.
const CANDIDATES: i64 = 64;

/// What a status report says, as the pipeline decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// TP-MR of the SMS-SUBMIT it is about (what the modem answered to `AT+CMGS`).
    pub message_reference: u8,
    /// TP-RA: the number the SMS was sent to.
    pub recipient: String,
    /// TP-ST, the raw status octet.
    pub status: u8,
    pub state: DeliveryState,
    /// TP-ST in words.
    pub status_text: String,
    /// TP-DT (RFC 3339), when the SMSC delivered it or last changed its status.
    pub discharge_time: Option<String>,
}

/// The delivery of one outgoing SMS, as far as its reports tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `None` while no report has come.
    pub state: Option<DeliveryState>,
    /// The status that decided it, in words.
    pub status: Option<String>,
    /// Parts the modem accepted.
    pub parts: u32,
    /// Parts a report has come for.
    pub parts_reported: u32,
}

/// A status report as kept in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    pub received_id: i64,
    pub message_reference: u8,
    pub recipient: String,
    pub state: DeliveryState,
    pub status_text: String,
    /// The outgoing SMS it was matched to; `None` when it matched nothing we sent.
    pub outgoing_id: Option<i64>,
}

impl Store {
    /// The delivery of an outgoing SMS; `None` if there is no such SMS.
    pub async fn delivery(&self, outgoing_id: i64) -> Result<Option<Delivery>, StoreError> {
        self.call(move |conn| {
            let row: Option<(Option<Text<DeliveryState>>, Option<String>)> = conn
                .row(
                    "SELECT delivery_state, delivery_status FROM outgoing WHERE id = ?1",
                    [outgoing_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((state, status)) = row else {
                return Ok(None);
            };
            let (parts, parts_reported) = conn.row(
                "SELECT COUNT(*), COUNT(delivery_state) FROM sent_parts WHERE outgoing_id = ?1",
                [outgoing_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(Some(Delivery {
                state: state.map(|s| s.0),
                status,
                parts,
                parts_reported,
            }))
        })
        .await
    }

    /// The status reports received, newest first.
    pub async fn status_reports(&self, limit: usize) -> Result<Vec<StoredReport>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT received_id, message_ref, recipient, delivery_state, status_text,
                        outgoing_id
                 FROM status_reports ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit as i64], |r| {
                    Ok(StoredReport {
                        received_id: r.get(0)?,
                        message_reference: r.get(1)?,
                        recipient: r.get(2)?,
                        state: r.get::<_, Text<DeliveryState>>(3)?.0,
                        status_text: r.get(4)?,
                        outgoing_id: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}

/// Records the parts of an SMS the modem accepted, one per message reference, in order.
pub(super) fn record_sent_parts(
    conn: &Connection,
    outgoing_id: i64,
    message_references: &[u8],
    now: i64,
) -> Result<(), StoreError> {
    let recipient: Option<String> = conn
        .row(
            "SELECT recipient FROM outgoing WHERE id = ?1",
            [outgoing_id],
            |r| r.get(0),
        )
        .optional()?;
    // No such SMS: nothing a report could be matched to.
    let Some(recipient) = recipient else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(
        "INSERT INTO sent_parts (outgoing_id, part, message_ref, recipient, sent_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (part, mr) in (1i64..).zip(message_references) {
        stmt.execute(params![outgoing_id, part, mr, recipient, now])?;
    }
    Ok(())
}

/// Keeps a status report, applies it to the sent part it is about and returns a line saying
/// what became of it (for the received row and the log).
pub(super) fn record_report(
    conn: &Connection,
    received_id: i64,
    received_at_ms: i64,
    report: &DeliveryReport,
) -> Result<String, StoreError> {
    let state = report.state.as_sql();
    let matched = find_sent_part(conn, report)?;
    conn.exec(
        "INSERT INTO status_reports (received_id, message_ref, recipient, status, delivery_state,
                                     status_text, discharge_time, sent_part_id, outgoing_id,
                                     received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (received_id) DO NOTHING",
        params![
            received_id,
            report.message_reference,
            report.recipient,
            report.status,
            Text(report.state),
            report.status_text,
            report.discharge_time,
            matched.map(|m| m.0),
            matched.map(|m| m.1),
            received_at_ms
        ],
    )?;
    let to = pdu::mask_number(Some(&report.recipient));
    let mr = report.message_reference;
    let Some((part_id, outgoing_id)) = matched else {
        let note = format!(
            "status report for message reference {mr} to {to} ({state}: {}) matches no SMS we sent",
            report.status_text
        );
        tracing::warn!(received_id, message_reference = mr, to = %to, %state, status = %report.status_text,
            "delivery report matches no SMS we sent; kept");
        return Ok(note);
    };
    // A final state is never taken back by a late "still trying" report.
    conn.exec(
        "UPDATE sent_parts SET delivery_state = ?2, status = ?3, status_text = ?4,
                reported_at_ms = ?5
         WHERE id = ?1 AND (delivery_state IS NULL OR delivery_state = 'pending')",
        params![
            part_id,
            Text(report.state),
            report.status,
            report.status_text,
            received_at_ms
        ],
    )?;
    let (whole, why) = outgoing_state(conn, outgoing_id)?;
    conn.exec(
        "UPDATE outgoing SET delivery_state = ?2, delivery_status = ?3, delivery_at_ms = ?4
         WHERE id = ?1",
        params![outgoing_id, Text(whole), why, received_at_ms],
    )?;
    let failed = whole == DeliveryState::Failed;
    let whole = whole.as_sql();
    if failed {
        tracing::warn!(outgoing_id, message_reference = mr, to = %to, status = %why, "SMS not delivered")
    } else {
        tracing::info!(outgoing_id, message_reference = mr, to = %to, state = whole, status = %why, "delivery report")
    }
    Ok(format!(
        "status report for message reference {mr}: {state} ({}), outgoing SMS {outgoing_id} now {whole}",
        report.status_text
    ))
}

/// (sent part id, outgoing id) of the most recent send with this reference to this recipient.
fn find_sent_part(
    conn: &Connection,
    report: &DeliveryReport,
) -> Result<Option<(i64, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, outgoing_id, recipient FROM sent_parts WHERE message_ref = ?1
         ORDER BY sent_at_ms DESC, id DESC LIMIT ?2",
    )?;
    let candidates = stmt
        .query_map(params![report.message_reference, CANDIDATES], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(candidates
        .into_iter()
        .find(|(_, _, to)| same_number(to, &report.recipient))
        .map(|(part, outgoing, _)| (part, outgoing)))
}

/// The state of a whole SMS from its parts: failed if any part failed, delivered when every
/// part was, pending otherwise; with the status text that decided it.
fn outgoing_state(
    conn: &Connection,
    outgoing_id: i64,
) -> Result<(DeliveryState, String), StoreError> {
    let parts = query_all(
        conn,
        "SELECT delivery_state, status_text FROM sent_parts WHERE outgoing_id = ?1
         ORDER BY reported_at_ms DESC, part",
        [outgoing_id],
        |r| {
            Ok((
                r.get::<_, Option<Text<DeliveryState>>>(0)?.map(|s| s.0),
                r.get::<_, Option<String>>(1)?,
            ))
        },
    )?;
    let text_of = |wanted: DeliveryState| {
        parts
            .iter()
            .find(|(s, _)| *s == Some(wanted))
            .and_then(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let failed = DeliveryState::Failed;
    if parts.iter().any(|(s, _)| *s == Some(failed)) {
        return Ok((failed, text_of(failed)));
    }
    let delivered = DeliveryState::Delivered;
    if parts.iter().all(|(s, _)| *s == Some(delivered)) {
        return Ok((delivered, text_of(delivered)));
    }
    let waiting = parts.iter().filter(|(s, _)| s.is_none()).count();
    let why = match text_of(DeliveryState::Pending) {
        t if !t.is_empty() => t,
        _ => format!("{waiting} of {} part(s) not reported yet", parts.len()),
    };
    Ok((DeliveryState::Pending, why))
}

/// The same phone number written two ways ("+243812345678", "0812345678", "243812345678"):
/// the digits agree, or their last nine (the subscriber number in DR Congo) do.
fn same_number(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (da, db) = (digits(a), digits(b));
    if da.is_empty() || db.is_empty() {
        return a.eq_ignore_ascii_case(b);
    }
    if da == db {
        return true;
    }
    const SUBSCRIBER: usize = 9;
    da.len() >= SUBSCRIBER
        && db.len() >= SUBSCRIBER
        && da[da.len() - SUBSCRIBER..] == db[db.len() - SUBSCRIBER..]
}

#[cfg(test)]
mod tests {
    use super::same_number;

    #[test]
    fn numbers_written_differently_match() {
        assert!(same_number("+243812345678", "0812345678"));
        assert!(same_number("+243812345678", "243812345678"));
        assert!(!same_number("+243812345678", "+243812345679"));
        assert!(!same_number("+2431", "+2432"));
        assert!(same_number("Vodacom", "VODACOM"));
    }
}
