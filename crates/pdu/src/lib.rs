//! SMS PDU codec, ours (3GPP TS 23.040 and TS 23.038): decodes SMS-DELIVER,
//! SMS-STATUS-REPORT and SMS-SUBMIT from the hex a modem gives in PDU mode, and encodes the
//! SMS-SUBMITs we send (and SMS-DELIVERs for the simulated modem).
//!
//! Decoding never panics: every malformed input becomes a [`PduError`] that says which field
//! was wrong and where, so the raw PDU can be stored and forwarded as undecodable. Encoding
//! chooses GSM-7 when every character fits, else UCS-2, and never splits an escape pair or a
//! surrogate pair across the parts of a concatenated message.
//!
//! No I/O and no other crate of the workspace: the modem link, the store, the simulator and the
//! fuzz targets all use it the same way.

mod address;
mod cursor;
mod dcs;
mod deliver;
mod error;
mod gsm7;
mod json;
mod redact;
mod segment;
mod status;
mod submit;
mod timestamp;
mod translit;
mod ucs2;
mod udh;
mod userdata;

use serde::Serialize;

pub use address::{Address, AddressKind, mask_number};
pub use dcs::Encoding;
pub use deliver::{Deliver, encode_deliver};
pub use error::PduError;
pub use json::to_json;
pub use redact::{Redaction, redact_sender};
pub use segment::{SmsCost, sms_cost};
pub use status::{DeliveryState, StatusReport};
pub use submit::{Submit, SubmitOptions, SubmitPart, Validity, encode_submit};
pub use timestamp::Timestamp;
pub use translit::transliterate;
pub use udh::{Concat, InformationElement};
pub use userdata::decode_concatenated;

use cursor::Cursor;
use segment::Plan;

/// A decoded PDU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Pdu {
    /// A message received from a phone.
    Deliver(Deliver),
    /// A message to be sent (found in the modem's storage).
    Submit(Submit),
    /// A delivery report for a message we sent.
    StatusReport(StatusReport),
}

impl Pdu {
    /// "deliver", "submit" or "status-report" (the JSON `type`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Pdu::Deliver(_) => "deliver",
            Pdu::Submit(_) => "submit",
            Pdu::StatusReport(_) => "status-report",
        }
    }
}

/// Decodes a PDU as the modem gives it in `+CMGR`, `+CMGL`, `+CMT` or `+CDS` (PDU mode, TS
/// 27.005 §3.1): the SMSC address prefix, then the TPDU. Surrounding whitespace is ignored.
pub fn decode(hex: &str) -> Result<Pdu, PduError> {
    let bytes = bytes_of_hex(hex.trim())?;
    let mut cur = Cursor::new(&bytes);
    let smsc = address::decode_smsc(&mut cur)?;
    decode_from(&mut cur, smsc)
}

/// Decodes a TPDU without the SMSC prefix (e.g. a PDU the modem stored without one), with the
/// SMSC known from elsewhere. The message type indicator is read in the direction of a
/// modem's storage: 00 SMS-DELIVER, 01 SMS-SUBMIT, 10 SMS-STATUS-REPORT.
pub fn decode_tpdu(bytes: &[u8], smsc: Option<Address>) -> Result<Pdu, PduError> {
    decode_from(&mut Cursor::new(bytes), smsc)
}

fn decode_from(cur: &mut Cursor<'_>, smsc: Option<Address>) -> Result<Pdu, PduError> {
    let first_octet = cur.u8("first octet (message type)")?;
    match first_octet & 0x03 {
        0b00 => deliver::decode(cur, first_octet, smsc).map(Pdu::Deliver),
        0b01 => submit::decode(cur, first_octet, smsc).map(Pdu::Submit),
        0b10 => status::decode(cur, first_octet, smsc).map(Pdu::StatusReport),
        _ => Err(PduError::Unsupported {
            what: format!("message type indicator 11 (reserved) in first octet {first_octet:02X}"),
        }),
    }
}

fn bytes_of_hex(hex: &str) -> Result<Vec<u8>, PduError> {
    if hex.is_empty() {
        return Err(PduError::Empty);
    }
    hex::decode(hex).map_err(|e| match e {
        hex::FromHexError::InvalidHexCharacter { c, index } => PduError::BadHex {
            position: index,
            found: c,
        },
        // Odd length, or (never for `decode`) a wrong output size.
        _ => PduError::OddHex { len: hex.len() },
    })
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// (TP-UDL, TP-UD) for each part of a plan, with a concatenation header when there are
/// several parts.
pub(crate) fn encode_user_data(plan: &Plan, reference: u8) -> Result<Vec<(u8, Vec<u8>)>, PduError> {
    let total = plan.parts();
    let total_u8 = u8::try_from(total).map_err(|_| PduError::TooLong { parts: total })?;
    let multipart = total > 1;
    let header = |i: usize| udh::concat_header(reference, total_u8, (i + 1) as u8);
    // A 6-octet header (48 bits) is padded with one fill bit to 7 septets.
    const HEADER_SEPTETS: usize = 7;
    Ok(match plan {
        Plan::Gsm7(parts) => parts
            .iter()
            .enumerate()
            .map(|(i, septets)| {
                if !multipart {
                    return (septets.len() as u8, gsm7::pack(septets, 0));
                }
                let mut ud = gsm7::pack(septets, HEADER_SEPTETS);
                for (octet, h) in ud.iter_mut().zip(header(i)) {
                    *octet |= h;
                }
                ((HEADER_SEPTETS + septets.len()) as u8, ud)
            })
            .collect(),
        Plan::Ucs2(parts) => parts
            .iter()
            .enumerate()
            .map(|(i, units)| {
                let mut ud = Vec::with_capacity(6 + units.len() * 2);
                if multipart {
                    ud.extend_from_slice(&header(i));
                }
                ud.extend(ucs2::to_octets(units));
                (ud.len() as u8, ud)
            })
            .collect(),
    })
}
