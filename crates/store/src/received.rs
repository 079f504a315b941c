//! Received PDUs and their reassembly into whole messages.
//!
//! A PDU is committed exactly as the modem gave it before anything else happens to it; decoding
//! is a later stage that records what it found on the same row. Parts of a concatenated SMS wait
//! in the table (not in memory) until the last one arrives, so a restart loses no half message.

use crate::CachedSql;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::kinds::{DecodeStatus, ReceivedState, Text};
use super::reports::{self, DeliveryReport};
use super::{Store, StoreError, in_savepoint, now_ms, query_all};
use pdu::{self, AddressKind, Encoding};

/// A PDU as read from a modem, to be committed before the SIM copy is deleted.
#[derive(Debug, Clone)]
pub struct NewReceived {
    pub modem: String,
    pub storage: String,
    pub sim_index: Option<u32>,
    pub pdu_hex: String,
    /// Gateway clock at reception.
    pub received_at: time::OffsetDateTime,
}

/// The outcome of [`Store::insert_received`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    pub id: i64,
    /// The same PDU from the same modem was already stored (read twice after a crash).
    pub duplicate: bool,
}

/// A committed PDU that waits for decoding.
#[derive(Debug, Clone)]
pub struct ReceivedRow {
    pub id: i64,
    pub modem: String,
    pub pdu_hex: String,
}

/// One PDU of [`Store::decode_pending`].
#[derive(Debug)]
pub struct DecodedRow {
    pub id: i64,
    pub modem: String,
    /// The decoder's error, for a PDU kept and forwarded as undecodable.
    pub undecodable: Option<String>,
    /// Whether its decoding was recorded.
    pub recorded: Result<(), StoreError>,
}

/// What the decoder made of one PDU.
#[derive(Debug, Clone)]
pub enum DecodedPart {
    /// A whole SMS in one PDU.
    Single {
        sender: String,
        sender_kind: AddressKind,
        smsc_time: Option<String>,
        text: String,
    },
    /// One part of a concatenated SMS.
    Part {
        sender: String,
        sender_kind: AddressKind,
        smsc_time: Option<String>,
        /// This part decoded on its own: what an incomplete message is made of.
        text: String,
        reference: u16,
        total: u8,
        seq: u8,
        /// Alphabet of `user_data`.
        encoding: Encoding,
        /// User data without the header (septets for GSM-7, octets otherwise): the complete
        /// parts are joined from these before decoding, so a character the sender split
        /// across two parts (an escape pair, a surrogate pair) comes out whole.
        user_data: Vec<u8>,
    },
    /// The network's report on an SMS we sent: matched to it, not turned into a message.
    StatusReport(DeliveryReport),
    /// Not an SMS from a person (e.g. an SMS-SUBMIT found in the inbox): kept, decoded, and
    /// not turned into a message.
    NotAMessage { note: String },
    /// The PDU could not be decoded; it still becomes a message, marked so, with the raw PDU.
    Undecodable { error: String },
}

/// A whole message, ready to be turned into an incident.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: i64,
    pub modem: String,
    pub sender: Option<String>,
    pub sender_kind: Option<AddressKind>,
    pub text: String,
    pub parts: u32,
    pub decode_status: DecodeStatus,
}

fn to_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Store {
    /// Commits one PDU. When this returns `Ok`, the PDU is on disk and the modem may delete its
    /// copy. Storing the same PDU from the same modem again is a no-op that returns the first id.
    pub async fn insert_received(&self, m: NewReceived) -> Result<Inserted, StoreError> {
        let signals = self.signals.clone();
        let inserted = self
            .call(move |conn| {
                let pdu = m.pdu_hex.trim().to_ascii_uppercase();
                let sha = Sha256::digest(pdu.as_bytes()).to_vec();
                let existing: Option<i64> = conn
                    .prepare_cached("SELECT id FROM received WHERE modem = ?1 AND pdu_sha256 = ?2")?
                    .query_row(params![m.modem, sha], |r| r.get(0))
                    .optional()?;
                if let Some(id) = existing {
                    return Ok(Inserted {
                        id,
                        duplicate: true,
                    });
                }
                conn.prepare_cached(
                    "INSERT INTO received (modem, storage, sim_index, pdu_hex, pdu_sha256, received_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![m.modem, m.storage, m.sim_index, pdu, sha, to_ms(m.received_at)])?;
                Ok(Inserted {
                    id: conn.last_insert_rowid(),
                    duplicate: false,
                })
            })
            .await?;
        if !inserted.duplicate {
            signals.received.notify_one();
        }
        Ok(inserted)
    }

    /// Commits several PDUs (what one listing of a modem's storage found) together: handed to
    /// the store thread at once, they share its transaction and its fsync, each in its own
    /// savepoint, so one refused PDU does not hold back the others. The results come in the
    /// order of `pdus`; each is what [`Store::insert_received`] answers for that PDU, and an
    /// `Ok` means that PDU is on disk and its modem copy may be deleted.
    pub async fn insert_received_all(
        &self,
        pdus: Vec<NewReceived>,
    ) -> Vec<Result<Inserted, StoreError>> {
        futures_util::future::join_all(pdus.into_iter().map(|m| self.insert_received(m))).await
    }

    /// Committed PDUs not yet decoded, oldest first.
    pub async fn pending_received(&self, limit: usize) -> Result<Vec<ReceivedRow>, StoreError> {
        self.call_lazy(move |conn| pending_received(conn, limit))
            .await
    }

    /// Decodes the committed PDUs not yet decoded (oldest first, at most `limit`) with `decode`
    /// and records each, in one job: the pipeline's read, decode and record were a store round
    /// trip per PDU plus one, each waking two threads (docs/benchmarks.md, "Where the CPU
    /// goes"). Each PDU is recorded in its own savepoint, so one that cannot be recorded does
    /// not hold back the others; its error comes back in its row.
    pub async fn decode_pending(
        &self,
        limit: usize,
        decode: fn(&str) -> DecodedPart,
    ) -> Result<Vec<DecodedRow>, StoreError> {
        self.call_lazy(move |conn| decode_rows(conn, limit, decode))
            .await
    }

    /// Records what the decoder found for one PDU and, when that completes a message, creates
    /// the message. Returns the new message's id, if one was created.
    pub async fn record_decoded(
        &self,
        received_id: i64,
        decoded: DecodedPart,
    ) -> Result<Option<i64>, StoreError> {
        self.call_lazy(move |conn| record_decoded(conn, received_id, decoded))
            .await
    }

    /// Joins the parts of concatenated messages whose first part is older than `timeout_ms`
    /// into a message marked `incomplete`, so a lost part never holds a report back for ever.
    pub async fn expire_incomplete(&self, timeout_ms: i64) -> Result<usize, StoreError> {
        self.call_lazy(move |conn| {
            let cutoff = now_ms() - timeout_ms;
            let groups: Vec<(String, i64, i64)> = {
                let mut stmt = conn.prepare_cached(
                    "SELECT sender, concat_ref, concat_total FROM received WHERE state = 'part'
                     GROUP BY sender, concat_ref, concat_total HAVING MIN(received_at_ms) < ?1",
                )?;
                stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?
            };
            for (sender, reference, total) in &groups {
                join_group(conn, sender, *reference, *total, DecodeStatus::Incomplete)?;
            }
            Ok(groups.len())
        })
        .await
    }

    /// Whole messages not yet turned into incidents, oldest first.
    pub async fn unhandled_messages(&self, limit: usize) -> Result<Vec<MessageRow>, StoreError> {
        self.call_lazy(move |conn| unhandled_messages(conn, limit))
            .await
    }
}

/// The body of [`Store::decode_pending`], inside the caller's transaction.
pub(crate) fn decode_rows(
    conn: &Connection,
    limit: usize,
    decode: fn(&str) -> DecodedPart,
) -> Result<Vec<DecodedRow>, StoreError> {
    let rows = pending_received(conn, limit)?;
    let mut out = Vec::with_capacity(rows.len());
    for ReceivedRow { id, modem, pdu_hex } in rows {
        let part = decode(&pdu_hex);
        let undecodable = match &part {
            DecodedPart::Undecodable { error } => Some(error.clone()),
            _ => None,
        };
        let recorded = in_savepoint(conn, || record_decoded(conn, id, part))?;
        out.push(DecodedRow {
            id,
            modem,
            undecodable,
            recorded: recorded.map(|_| ()),
        });
    }
    Ok(out)
}

/// Committed PDUs not yet decoded, oldest first.
fn pending_received(conn: &Connection, limit: usize) -> Result<Vec<ReceivedRow>, StoreError> {
    query_all(
        conn,
        // `state IN ('new', 'part')` repeats the partial index's own condition, so SQLite uses
        // it (`state = 'new'` alone scanned every PDU ever stored).
        "SELECT id, modem, pdu_hex FROM received
         WHERE state IN ('new', 'part') AND state = 'new' ORDER BY id LIMIT ?1",
        [limit as i64],
        |r| {
            Ok(ReceivedRow {
                id: r.get(0)?,
                modem: r.get(1)?,
                pdu_hex: r.get(2)?,
            })
        },
    )
}

/// Whole messages not yet turned into incidents, oldest first.
pub(super) fn unhandled_messages(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<MessageRow>, StoreError> {
    query_all(
        conn,
        "SELECT id, modem, sender, sender_kind, text, parts, decode_status
         FROM messages WHERE handled = 0 ORDER BY id LIMIT ?1",
        [limit as i64],
        |r| {
            Ok(MessageRow {
                id: r.get(0)?,
                modem: r.get(1)?,
                sender: r.get(2)?,
                sender_kind: r.get::<_, Option<Text<AddressKind>>>(3)?.map(|k| k.0),
                text: r.get(4)?,
                parts: r.get(5)?,
                decode_status: r.get(6)?,
            })
        },
    )
}

/// A committed PDU not decoded yet.
struct Undecoded {
    id: i64,
    modem: String,
    received_at_ms: i64,
}

/// One part of a long SMS as the decoder gave it.
struct ArrivedPart<'a> {
    sender: &'a str,
    sender_kind: AddressKind,
    smsc_time: Option<&'a str>,
    text: &'a str,
    reference: u16,
    total: u8,
    seq: u8,
    encoding: Encoding,
    user_data: &'a [u8],
}

/// A message to insert, made of the PDUs `received_ids`.
struct NewMessage<'a> {
    modem: &'a str,
    sender: Option<&'a str>,
    sender_kind: Option<AddressKind>,
    text: &'a str,
    decode_status: DecodeStatus,
    smsc_time: Option<&'a str>,
    received_at_ms: i64,
    received_ids: &'a [i64],
}

/// Records what the decoder found for one PDU; returns the message it completes, if any.
fn record_decoded(
    conn: &Connection,
    received_id: i64,
    decoded: DecodedPart,
) -> Result<Option<i64>, StoreError> {
    // Already decoded (a second pipeline pass after a restart): nothing to do.
    let Some(pdu) = undecoded(conn, received_id)? else {
        return Ok(None);
    };
    match decoded {
        DecodedPart::Single {
            sender,
            sender_kind,
            smsc_time,
            text,
        } => record_single(
            conn,
            &pdu,
            &sender,
            sender_kind,
            smsc_time.as_deref(),
            &text,
        )
        .map(Some),
        DecodedPart::Undecodable { error } => record_undecodable(conn, &pdu, &error).map(Some),
        DecodedPart::StatusReport(report) => {
            let note = reports::record_report(conn, pdu.id, pdu.received_at_ms, &report)?;
            set_aside(conn, pdu.id, &note)?;
            Ok(None)
        }
        DecodedPart::NotAMessage { note } => {
            set_aside(conn, pdu.id, &note)?;
            Ok(None)
        }
        DecodedPart::Part {
            sender,
            sender_kind,
            smsc_time,
            text,
            reference,
            total,
            seq,
            encoding,
            user_data,
        } => {
            let part = ArrivedPart {
                sender: &sender,
                sender_kind,
                smsc_time: smsc_time.as_deref(),
                text: &text,
                reference,
                total,
                seq,
                encoding,
                user_data: &user_data,
            };
            record_part(conn, pdu.id, &part)
        }
    }
}

/// A whole SMS in one PDU: the sender on the PDU's row, and its message.
fn record_single(
    conn: &Connection,
    pdu: &Undecoded,
    sender: &str,
    sender_kind: AddressKind,
    smsc_time: Option<&str>,
    text: &str,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "UPDATE received SET sender = ?2, sender_kind = ?3, smsc_time = ?4, text = ?5
         WHERE id = ?1",
    )?
    .execute(params![pdu.id, sender, Text(sender_kind), smsc_time, text])?;
    insert_message(
        conn,
        &NewMessage {
            modem: &pdu.modem,
            sender: Some(sender),
            sender_kind: Some(sender_kind),
            text,
            decode_status: DecodeStatus::Ok,
            smsc_time,
            received_at_ms: pdu.received_at_ms,
            received_ids: &[pdu.id],
        },
    )
}

/// A PDU that could not be decoded: the error on its row, and a message marked so, without
/// sender or text, that is forwarded with the raw PDU.
fn record_undecodable(conn: &Connection, pdu: &Undecoded, error: &str) -> Result<i64, StoreError> {
    conn.exec(
        "UPDATE received SET decode_error = ?2 WHERE id = ?1",
        params![pdu.id, error],
    )?;
    insert_message(
        conn,
        &NewMessage {
            modem: &pdu.modem,
            sender: None,
            sender_kind: None,
            text: "",
            decode_status: DecodeStatus::Undecodable,
            smsc_time: None,
            received_at_ms: pdu.received_at_ms,
            received_ids: &[pdu.id],
        },
    )
}

/// The PDU `received_id` if it still waits for decoding.
fn undecoded(conn: &Connection, received_id: i64) -> Result<Option<Undecoded>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT modem, received_at_ms FROM received WHERE id = ?1 AND state = 'new'",
        )?
        .query_row([received_id], |r| {
            Ok(Undecoded {
                id: received_id,
                modem: r.get(0)?,
                received_at_ms: r.get(1)?,
            })
        })
        .optional()?)
}

/// Done with a PDU that is no message (a status report, an SMS-SUBMIT), with a note on what it
/// was.
fn set_aside(conn: &Connection, received_id: i64, note: &str) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE received SET state = ?3, decode_error = ?2 WHERE id = ?1",
        params![received_id, note, ReceivedState::Joined],
    )?;
    Ok(())
}

/// Keeps one part of a long SMS to wait for the others, and joins the group into a message
/// when this part was the last one missing. A part the network sent twice is kept aside.
fn record_part(
    conn: &Connection,
    received_id: i64,
    part: &ArrivedPart<'_>,
) -> Result<Option<i64>, StoreError> {
    let already: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM received WHERE state = 'part' AND sender = ?1
             AND concat_ref = ?2 AND concat_total = ?3 AND concat_seq = ?4",
        )?
        .query_row(
            params![part.sender, part.reference, part.total, part.seq],
            |r| r.get(0),
        )
        .optional()?;
    let state = if already.is_some() {
        ReceivedState::Duplicate
    } else {
        ReceivedState::Part
    };
    conn.prepare_cached(
        "UPDATE received SET state = ?2, sender = ?3, sender_kind = ?4, smsc_time = ?5,
                text = ?6, concat_ref = ?7, concat_total = ?8, concat_seq = ?9,
                encoding = ?10, user_data = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        received_id,
        state,
        part.sender,
        Text(part.sender_kind),
        part.smsc_time,
        part.text,
        part.reference,
        part.total,
        part.seq,
        part.encoding.as_str(),
        part.user_data
    ])?;
    if already.is_some() {
        tracing::info!(received_id, sender = %pdu::mask_number(Some(part.sender)), reference = part.reference, seq = part.seq, "duplicate part of a long SMS ignored");
        return Ok(None);
    }
    let have: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM received WHERE state = 'part' AND sender = ?1
             AND concat_ref = ?2 AND concat_total = ?3",
        )?
        .query_row(params![part.sender, part.reference, part.total], |r| {
            r.get(0)
        })?;
    if have < i64::from(part.total) {
        return Ok(None);
    }
    join_group(
        conn,
        part.sender,
        i64::from(part.reference),
        i64::from(part.total),
        DecodeStatus::Ok,
    )
    .map(Some)
}

/// One waiting part of a concatenated SMS, as stored.
struct WaitingPart {
    id: i64,
    modem: String,
    text: String,
    sender_kind: Option<AddressKind>,
    smsc_time: Option<String>,
    received_at_ms: i64,
    encoding: Option<String>,
    user_data: Option<Vec<u8>>,
}

/// Joins the waiting parts of one group into a message, in sequence order.
///
/// A complete message is decoded from the parts' user data joined together; only when that
/// cannot be done (8-bit data, parts in different alphabets, parts stored before the user data
/// was kept) or the message is incomplete are the parts' own texts put end to end.
fn join_group(
    conn: &Connection,
    sender: &str,
    reference: i64,
    total: i64,
    status: DecodeStatus,
) -> Result<i64, StoreError> {
    let parts = query_all(
        conn,
        "SELECT id, modem, text, sender_kind, smsc_time, received_at_ms, encoding, user_data
         FROM received
         WHERE state = 'part' AND sender = ?1 AND concat_ref = ?2 AND concat_total = ?3
         ORDER BY concat_seq",
        params![sender, reference, total],
        |r| {
            Ok(WaitingPart {
                id: r.get(0)?,
                modem: r.get(1)?,
                text: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                sender_kind: r.get::<_, Option<Text<AddressKind>>>(3)?.map(|k| k.0),
                smsc_time: r.get(4)?,
                received_at_ms: r.get(5)?,
                encoding: r.get(6)?,
                user_data: r.get(7)?,
            })
        },
    )?;
    let Some(first) = parts.first() else {
        return Err(StoreError::Invalid(format!(
            "no waiting parts for sender {sender} reference {reference}"
        )));
    };
    let text = if status == DecodeStatus::Ok {
        joined_user_data(&parts)
    } else {
        None
    }
    .unwrap_or_else(|| parts.iter().map(|p| p.text.as_str()).collect());
    let ids: Vec<i64> = parts.iter().map(|p| p.id).collect();
    insert_message(
        conn,
        &NewMessage {
            modem: &first.modem,
            sender: Some(sender),
            sender_kind: first.sender_kind,
            text: &text,
            decode_status: status,
            smsc_time: first.smsc_time.as_deref(),
            received_at_ms: parts
                .iter()
                .map(|p| p.received_at_ms)
                .max()
                .unwrap_or(first.received_at_ms),
            received_ids: &ids,
        },
    )
}

/// The text of the parts' user data decoded as one, when every part has it in the same
/// alphabet.
fn joined_user_data(parts: &[WaitingPart]) -> Option<String> {
    let name = parts.first()?.encoding.as_deref()?;
    if parts.iter().any(|p| p.encoding.as_deref() != Some(name)) {
        return None;
    }
    let data: Vec<&[u8]> = parts
        .iter()
        .map(|p| p.user_data.as_deref())
        .collect::<Option<_>>()?;
    pdu::decode_concatenated(Encoding::from_name(name)?, &data)
}

/// Inserts a message and marks its PDUs joined into it.
fn insert_message(conn: &Connection, m: &NewMessage<'_>) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO messages (modem, sender, sender_kind, text, parts, decode_status, smsc_time,
                               received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        m.modem,
        m.sender,
        m.sender_kind.map(Text),
        m.text,
        m.received_ids.len() as i64,
        m.decode_status,
        m.smsc_time,
        m.received_at_ms
    ])?;
    let message_id = conn.last_insert_rowid();
    let mut stmt =
        conn.prepare_cached("UPDATE received SET state = ?3, message_id = ?2 WHERE id = ?1")?;
    for id in m.received_ids {
        stmt.execute(params![id, message_id, ReceivedState::Joined])?;
    }
    Ok(message_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(seq: u8, text: &str, user_data: &[u8]) -> DecodedPart {
        DecodedPart::Part {
            sender: "+243812345678".into(),
            sender_kind: AddressKind::International,
            smsc_time: None,
            text: text.into(),
            reference: 9,
            total: 2,
            seq,
            encoding: Encoding::Gsm7,
            user_data: user_data.to_vec(),
        }
    }

    fn insert(conn: &Connection, pdu: &str) -> i64 {
        conn.execute(
            "INSERT INTO received (modem, storage, pdu_hex, pdu_sha256, received_at_ms)
             VALUES ('m1', 'SM', ?1, ?1, 0)",
            [pdu],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    #[test]
    fn a_part_stored_before_the_upgrade_joins_by_text() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let first = insert(&conn, "01");
        record_decoded(&conn, first, part(1, "AJALI ", b"AJALI ")).unwrap();
        // What an older gateway left: the part's text, no alphabet nor user data.
        conn.execute(
            "UPDATE received SET encoding = NULL, user_data = NULL WHERE id = ?1",
            [first],
        )
        .unwrap();
        let second = insert(&conn, "02");
        let message = record_decoded(&conn, second, part(2, "mgodi", b"mgodi"))
            .unwrap()
            .unwrap();
        let text: String = conn
            .query_row("SELECT text FROM messages WHERE id = ?1", [message], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(text, "AJALI mgodi");
    }

    #[test]
    fn complete_parts_are_decoded_from_their_joined_user_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let a = insert(&conn, "01");
        let b = insert(&conn, "02");
        // 0x1B 0x65 is "€"; each part's own text has lost it.
        record_decoded(&conn, b, part(2, "e5", &[0x65, b'5'])).unwrap();
        let message = record_decoded(&conn, a, part(1, "Bei ", &[b'B', b'e', b'i', b' ', 0x1B]))
            .unwrap()
            .unwrap();
        let text: String = conn
            .query_row("SELECT text FROM messages WHERE id = ?1", [message], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(text, "Bei €5");
    }
}
