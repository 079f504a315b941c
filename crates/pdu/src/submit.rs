//! SMS-SUBMIT (TS 23.040 §9.2.2.2): the replies we send through AT+CMGS, and the decoder for
//! SUBMIT PDUs found in a modem's storage (sent or unsent messages).

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::address::{self, Address};
use super::cursor::Cursor;
use super::dcs::{self, Encoding};
use super::error::PduError;
use super::segment;
use super::timestamp::Timestamp;
use super::udh::{Concat, InformationElement};
use super::userdata;
use super::{encode_user_data, hex_upper};

/// TP-VP: how long the service centre keeps trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    /// Relative format (one octet), decoded to a duration.
    #[serde(serialize_with = "seconds")]
    Relative(Duration),
    /// Absolute format: a timestamp.
    Absolute(Timestamp),
    /// Enhanced format (TS 23.040 §9.2.3.12.3), kept raw.
    Enhanced([u8; 7]),
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// A decoded SMS-SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submit {
    /// SMSC prefix, if any.
    pub smsc: Option<Address>,
    /// TP-MR.
    pub message_reference: u8,
    /// TP-DA: who it is for.
    pub recipient: Address,
    /// TP-PID.
    pub pid: u8,
    /// TP-DCS, raw.
    pub dcs: u8,
    /// Alphabet the DCS announces.
    pub encoding: Encoding,
    /// Message class, when the DCS gives one.
    pub class: Option<u8>,
    /// TS 23.042 compression: reported, not decompressed.
    pub compressed: bool,
    /// TP-VP, when TP-VPF says one is present.
    pub validity: Option<Validity>,
    /// TP-SRR: a status report is requested.
    pub status_report_request: bool,
    /// TP-RD: the service centre should reject a duplicate.
    pub reject_duplicates: bool,
    /// TP-RP: reply path.
    pub reply_path: bool,
    /// Concatenation header, if a part.
    pub concat: Option<Concat>,
    /// Text; `None` for 8-bit or compressed data.
    pub text: Option<String>,
    /// User data without header (septets for GSM-7, octets otherwise).
    pub data: Vec<u8>,
    /// All header information elements.
    pub udh: Vec<InformationElement>,
}

/// TP-VP relative format -> duration (TS 23.040 §9.2.3.12.1).
pub(crate) fn relative_validity(vp: u8) -> Duration {
    let v = u64::from(vp);
    let minutes = match vp {
        0..=143 => (v + 1) * 5,
        144..=167 => 12 * 60 + (v - 143) * 30,
        168..=196 => (v - 166) * 24 * 60,
        _ => (v - 192) * 7 * 24 * 60,
    };
    Duration::from_secs(minutes * 60)
}

/// Duration -> TP-VP relative format, rounded up to the next step the format can express
/// (so a message is never dropped earlier than asked), capped at 63 weeks.
pub(crate) fn relative_vp(d: Duration) -> u8 {
    let minutes = d.as_secs().div_ceil(60);
    let vp = if minutes <= 12 * 60 {
        minutes.div_ceil(5).max(1) - 1
    } else if minutes <= 24 * 60 {
        143 + (minutes - 12 * 60).div_ceil(30)
    } else {
        let days = minutes.div_ceil(24 * 60);
        if days <= 30 {
            166 + days
        } else {
            192 + days.div_ceil(7).min(63)
        }
    };
    u8::try_from(vp).unwrap_or(u8::MAX)
}

/// Decodes the TPDU after its first octet.
pub(crate) fn decode(
    cur: &mut Cursor<'_>,
    first_octet: u8,
    smsc: Option<Address>,
) -> Result<Submit, PduError> {
    let message_reference = cur.u8("TP-MR (message reference)")?;
    let recipient = address::decode(cur, "TP-DA (recipient address)")?;
    let pid = cur.u8("TP-PID (protocol identifier)")?;
    let dcs_octet = cur.u8("TP-DCS (data coding scheme)")?;
    const VP: &str = "TP-VP (validity period)";
    let validity = match first_octet & 0x18 {
        0x10 => Some(Validity::Relative(relative_validity(cur.u8(VP)?))),
        0x18 => Some(Validity::Absolute(Timestamp::from_raw(cur.array(VP)?))),
        0x08 => Some(Validity::Enhanced(cur.array(VP)?)),
        _ => None,
    };
    let dcs = dcs::parse(dcs_octet);
    let ud = userdata::decode(cur, &dcs, first_octet & 0x40 != 0, true)?;
    Ok(Submit {
        smsc,
        message_reference,
        recipient,
        pid,
        dcs: dcs_octet,
        encoding: dcs.encoding,
        class: dcs.class,
        compressed: dcs.compressed,
        validity,
        status_report_request: first_octet & 0x20 != 0,
        reject_duplicates: first_octet & 0x04 != 0,
        reply_path: first_octet & 0x80 != 0,
        concat: ud.concat,
        text: ud.text,
        data: ud.data,
        udh: ud.udh,
    })
}

/// How to send a reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    /// Relative validity period; `None` leaves it to the service centre.
    pub validity: Option<Duration>,
    /// Ask for a status report (TP-SRR).
    pub status_report: bool,
    /// Concatenation reference for a multipart reply; the caller rotates it per message.
    pub concat_reference: u8,
    /// Fold the text into GSM-7 when that makes it fit (see [`super::transliterate`]); when
    /// the text needs UCS-2 anyway, it is sent unchanged.
    pub transliterate: bool,
    /// Send in UCS-2 even when GSM-7 would do.
    pub force_ucs2: bool,
}

/// One PDU ready for AT+CMGS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmitPart {
    /// "00" (use the modem's SMSC) followed by the TPDU, in upper-case hex.
    pub hex: String,
    /// Octets after the SMSC prefix: the `<length>` of `AT+CMGS=<length>`.
    pub tpdu_len: usize,
}

/// SMS-SUBMIT PDUs for `text` to `recipient` ("+243..." international, or national digits),
/// one per part.
pub fn encode_submit(
    recipient: &str,
    text: &str,
    opts: &SubmitOptions,
) -> Result<Vec<SubmitPart>, PduError> {
    let destination = address::encode_number("recipient", recipient)?;
    let text = segment::text_to_send(text, opts.transliterate);
    let plan = segment::plan(&text, opts.force_ucs2);
    let encoding = plan.encoding();
    let bodies = encode_user_data(&plan, opts.concat_reference)?;
    let multipart = bodies.len() > 1;
    let mut first_octet = 0x01; // MTI 01 = SMS-SUBMIT
    if opts.validity.is_some() {
        first_octet |= 0x10; // TP-VPF: relative
    }
    if opts.status_report {
        first_octet |= 0x20;
    }
    if multipart {
        first_octet |= 0x40;
    }
    Ok(bodies
        .into_iter()
        .map(|(udl, ud)| {
            let mut tpdu = Vec::with_capacity(15 + ud.len());
            tpdu.push(first_octet);
            tpdu.push(0x00); // TP-MR: the modem assigns it and answers it in +CMGS
            tpdu.extend_from_slice(&destination);
            tpdu.push(0x00); // TP-PID
            tpdu.push(dcs::octet_for(encoding));
            if let Some(v) = opts.validity {
                tpdu.push(relative_vp(v));
            }
            tpdu.push(udl);
            tpdu.extend(ud);
            SubmitPart {
                hex: format!("00{}", hex_upper(&tpdu)),
                tpdu_len: tpdu.len(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_gsmmodem_relative_validity_vectors() {
        // python-gsmmodem test/test_pdu.py (TestRelativeValidityPeriod).
        let cases = [
            (Duration::from_secs(30 * 60), 5u8),
            (Duration::from_secs(16 * 3600), 151),
            (Duration::from_secs(3 * 86400), 169),
            (Duration::from_secs(5 * 7 * 86400), 197),
        ];
        for (d, vp) in cases {
            assert_eq!(relative_vp(d), vp, "{d:?}");
            assert_eq!(relative_validity(vp), d);
        }
    }

    #[test]
    fn validity_rounds_up_and_caps() {
        assert_eq!(relative_vp(Duration::ZERO), 0);
        assert_eq!(relative_vp(Duration::from_secs(301)), 1);
        assert_eq!(relative_vp(Duration::from_secs(10 * 365 * 86400)), 255);
        for vp in 0..=u8::MAX {
            assert_eq!(relative_vp(relative_validity(vp)), vp);
            assert!(relative_validity(relative_vp(relative_validity(vp))) >= relative_validity(vp));
        }
    }

    #[test]
    fn too_many_parts_is_an_error() {
        let text = "a".repeat(153 * 255);
        assert_eq!(
            encode_submit("+243812345678", &text, &SubmitOptions::default())
                .unwrap()
                .len(),
            255
        );
        let text = "a".repeat(153 * 255 + 1);
        assert_eq!(
            encode_submit("+243812345678", &text, &SubmitOptions::default()),
            Err(PduError::TooLong { parts: 256 })
        );
    }

    #[test]
    fn options_set_the_first_octet() {
        let opts = SubmitOptions {
            validity: Some(Duration::from_secs(86_400)),
            status_report: true,
            ..SubmitOptions::default()
        };
        let parts = encode_submit("0812345678", "Asante", &opts).unwrap();
        // 00 SMSC, 31 = SUBMIT + relative VPF + SRR, MR 00, 10 digits national (81).
        assert!(parts[0].hex.starts_with("0031000A81"), "{}", parts[0].hex);
        // PID 00, DCS 00, then 24 h -> VP 167 (A7).
        assert_eq!(&parts[0].hex[20..26], "0000A7");
        let forced = encode_submit(
            "0812345678",
            "Asante",
            &SubmitOptions {
                force_ucs2: true,
                ..SubmitOptions::default()
            },
        )
        .unwrap();
        let Ok(super::super::Pdu::Submit(s)) = super::super::decode(&forced[0].hex) else {
            panic!("not a submit")
        };
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.text.as_deref(), Some("Asante"));
    }
}
