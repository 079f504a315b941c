//! SMS-DELIVER (TS 23.040 §9.2.2.1): the message a phone sent us, as the modem stores it;
//! and its encoder, used by the simulated modem to inject realistic PDUs.

use serde::Serialize;
use time::OffsetDateTime;

use super::address::{self, Address};
use super::cursor::Cursor;
use super::dcs::{self, Encoding};
use super::error::PduError;
use super::segment::{self, Plan};
use super::timestamp::Timestamp;
use super::udh::{Concat, InformationElement};
use super::userdata;
use super::{encode_user_data, hex_upper};

/// A decoded SMS-DELIVER.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deliver {
    /// Service centre that delivered it (the PDU-mode prefix), if the modem gave one.
    pub smsc: Option<Address>,
    /// TP-OA: who sent it.
    pub sender: Address,
    /// TP-PID: protocol identifier (0 for a plain text message).
    pub pid: u8,
    /// TP-DCS: the raw data coding scheme octet.
    pub dcs: u8,
    /// Alphabet the DCS announces (reserved codings read as GSM-7).
    pub encoding: Encoding,
    /// Message class 0-3 when the DCS gives one (0 = "flash").
    pub class: Option<u8>,
    /// TS 23.042 compression: reported, not decompressed (`text` is then `None`).
    pub compressed: bool,
    /// TP-SCTS: when the service centre received it.
    pub timestamp: Timestamp,
    /// Concatenation header, if this is a part of a longer message.
    pub concat: Option<Concat>,
    /// The text; `None` for 8-bit or compressed data.
    pub text: Option<String>,
    /// User data without the header: one septet per byte for GSM-7, the octets otherwise.
    /// Join the parts' `data` with [`super::decode_concatenated`].
    pub data: Vec<u8>,
    /// Every information element of the user data header, in order.
    pub udh: Vec<InformationElement>,
    /// TP-MMS inverted: the service centre has more messages waiting for this modem.
    pub more_messages: bool,
    /// TP-SRI: the sender asked for a status report.
    pub status_report_indication: bool,
    /// TP-RP: a reply path is set.
    pub reply_path: bool,
    /// What did not add up but was read anyway (a user data length larger than what follows,
    /// a header flag without a header), in words; the message is kept, as gammu keeps it.
    pub problem: Option<String>,
}

/// Decodes the TPDU after its first octet.
pub(crate) fn decode(
    cur: &mut Cursor<'_>,
    first_octet: u8,
    smsc: Option<Address>,
) -> Result<Deliver, PduError> {
    let sender = address::decode(cur, "TP-OA (sender address)")?;
    let pid = cur.u8("TP-PID (protocol identifier)")?;
    let dcs_octet = cur.u8("TP-DCS (data coding scheme)")?;
    let timestamp = Timestamp::from_raw(cur.array("TP-SCTS (service centre timestamp)")?);
    let dcs = dcs::parse(dcs_octet);
    let ud = userdata::decode(cur, &dcs, first_octet & 0x40 != 0, false)?;
    Ok(Deliver {
        smsc,
        sender,
        pid,
        dcs: dcs_octet,
        encoding: dcs.encoding,
        class: dcs.class,
        compressed: dcs.compressed,
        timestamp,
        concat: ud.concat,
        text: ud.text,
        data: ud.data,
        udh: ud.udh,
        more_messages: first_octet & 0x04 == 0,
        status_report_indication: first_octet & 0x20 != 0,
        reply_path: first_octet & 0x80 != 0,
        problem: ud.problem,
    })
}

/// SMS-DELIVER PDUs (SMSC prefix included, hex) for a text from `sender` ("+243...",
/// national digits, or an alphanumeric name of up to 11 GSM-7 characters), split with a
/// concatenation header when too long. `smsc` "" writes the empty prefix `00`.
pub fn encode_deliver(
    sender: &str,
    text: &str,
    timestamp: OffsetDateTime,
    smsc: &str,
    concat_reference: u8,
) -> Result<Vec<String>, PduError> {
    let smsc = address::encode_smsc(smsc)?;
    let originator = address::encode_originator(sender)?;
    let scts = Timestamp::from_offset_datetime(timestamp)?.raw();
    let plan: Plan = segment::plan(text, false);
    let encoding = plan.encoding();
    let bodies = encode_user_data(&plan, concat_reference)?;
    let multipart = bodies.len() > 1;
    Ok(bodies
        .into_iter()
        .map(|(udl, ud)| {
            let mut pdu = smsc.clone();
            // MTI 00 = SMS-DELIVER; MMS set = no more messages waiting.
            pdu.push(0x04 | if multipart { 0x40 } else { 0 });
            pdu.extend_from_slice(&originator);
            pdu.push(0x00); // TP-PID: plain short message
            pdu.push(dcs::octet_for(encoding));
            pdu.extend_from_slice(&scts);
            pdu.push(udl);
            pdu.extend(ud);
            hex_upper(&pdu)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::{Pdu, decode};
    use super::*;
    use time::macros::datetime;

    #[test]
    fn alphanumeric_promo_sender_round_trips() {
        let when = datetime!(2026-03-14 09:26:53 +02:00);
        let parts = encode_deliver("Vodacom", "Bonus 100%!", when, "", 0).unwrap();
        assert_eq!(parts.len(), 1);
        // SMSC prefix 00, first octet 04, 13 semi-octets, type of address D0.
        assert!(parts[0].starts_with("00040DD0"), "{}", parts[0]);
        let Ok(Pdu::Deliver(d)) = decode(&parts[0]) else {
            panic!("not a deliver")
        };
        assert_eq!(d.smsc, None);
        assert_eq!(d.sender.value, "Vodacom");
        assert_eq!(d.sender.kind, super::super::AddressKind::Alphanumeric);
        assert!(!d.more_messages);
        assert_eq!(d.timestamp.to_offset_datetime(), Some(when));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let when = datetime!(2026-03-14 09:26:53 UTC);
        assert!(encode_deliver("", "x", when, "", 0).is_err());
        assert!(encode_deliver("+243", "x", when, "not a number", 0).is_err());
        let odd = datetime!(2026-03-14 09:26:53 +00:07);
        assert!(matches!(
            encode_deliver("+243812345678", "x", odd, "", 0),
            Err(PduError::InvalidInput {
                field: "timestamp",
                ..
            })
        ));
    }
}
