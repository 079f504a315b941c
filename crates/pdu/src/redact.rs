//! Taking the reporter's number out of a raw PDU before it leaves the box: a report can put
//! its sender at risk, and the platform needs the PDU (to re-decode a disputed or undecodable
//! message, to join parts) but not who sent it.
//!
//! The number's semi-octets become `0` and nothing else moves: the address keeps its length
//! and type, so the PDU decodes as before — same text, same concatenation header, same
//! timestamp — with a sender of zeros ("+000000000000").

use super::AddressKind;
use super::address::{MAX_SEMI_OCTETS, MAX_SMSC_OCTETS, kind_of};

/// What [`redact_sender`] did to a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redaction {
    /// The address (TP-OA of a DELIVER, TP-DA of a SUBMIT, TP-RA of a STATUS-REPORT) had its
    /// digits replaced by zeros; every other octet is as received.
    NumberReplaced,
    /// The address is an alphanumeric name (an operator's "Vodacom"), not a phone number: the
    /// PDU is unchanged.
    NoNumber,
    /// The address could not be found (not hex, a bad SMSC prefix, a reserved message type, an
    /// impossible or cut-off address): every octet from where an address could start to the end
    /// is zeroed, because a PDU we cannot read may still hold the number.
    Blanked,
}

/// A PDU (PDU-mode hex, SMSC prefix first) with its sender's number taken out, and how.
/// The result is always even-length, non-empty, upper-case hex, with as many octets as the
/// input held (one zero octet for an empty input).
pub fn redact_sender(hex: &str) -> (String, Redaction) {
    let trimmed = hex.trim();
    let Ok(mut bytes) = hex::decode(trimmed) else {
        // Not hex: nothing in it can be located, so nothing of it is kept.
        let octets = (trimmed.len() / 2).max(1);
        return ("00".repeat(octets), Redaction::Blanked);
    };
    if bytes.is_empty() {
        return ("00".into(), Redaction::Blanked);
    }
    let redaction = match locate(&bytes) {
        Ok(Some(address)) => {
            replace_digits(&mut bytes[address.digits_from..], address.semi_octets);
            Redaction::NumberReplaced
        }
        Ok(None) => Redaction::NoNumber,
        Err(from) => {
            bytes[from..].fill(0);
            Redaction::Blanked
        }
    };
    (hex::encode_upper(bytes), redaction)
}

/// Where a number's semi-octets are.
struct NumberAt {
    digits_from: usize,
    semi_octets: usize,
}

/// Finds the address a PDU names its peer in. `Ok(None)`: an alphanumeric name; `Err(i)`: no
/// address could be trusted from octet `i` on.
fn locate(bytes: &[u8]) -> Result<Option<NumberAt>, usize> {
    let smsc_len = usize::from(bytes[0]);
    if smsc_len > usize::from(MAX_SMSC_OCTETS) {
        // Likely a PDU without its SMSC prefix: the octets after the first are anyone's guess.
        return Err(1);
    }
    let first = 1 + smsc_len;
    let first_octet = *bytes.get(first).ok_or(1usize)?;
    let address = match first_octet & 0x03 {
        0b00 => first + 1,        // DELIVER: TP-OA right after the first octet
        0b01 | 0b10 => first + 2, // SUBMIT, STATUS-REPORT: after TP-MR
        _ => return Err(first),
    };
    let len = usize::from(*bytes.get(address).ok_or(first)?);
    let toa = *bytes.get(address + 1).ok_or(first)?;
    if len > usize::from(MAX_SEMI_OCTETS) {
        return Err(first);
    }
    if address + 2 + len.div_ceil(2) > bytes.len() {
        return Err(first);
    }
    if kind_of(toa) == AddressKind::Alphanumeric {
        return Ok(None);
    }
    Ok(Some(NumberAt {
        digits_from: address + 2,
        semi_octets: len,
    }))
}

/// Sets `semi_octets` swapped semi-octets to 0, and an odd number's last nibble to the F
/// filler (whatever was there).
fn replace_digits(octets: &mut [u8], semi_octets: usize) {
    for (i, octet) in octets.iter_mut().take(semi_octets.div_ceil(2)).enumerate() {
        *octet = if 2 * i + 1 < semi_octets { 0x00 } else { 0xF0 };
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Pdu, SubmitOptions, decode, encode_deliver, encode_submit};
    use super::*;
    use time::macros::datetime;

    fn deliver(hex: &str) -> super::super::Deliver {
        match decode(hex) {
            Ok(Pdu::Deliver(d)) => d,
            other => panic!("not a deliver: {other:?}"),
        }
    }

    #[test]
    fn the_text_survives_and_the_sender_is_zeros() {
        let when = datetime!(2026-03-14 09:26:53 +02:00);
        let long = "Ajali mgodini Kamituga, watu watatu wamekwama chini ya ardhi tangu asubuhi. \
                    Tunahitaji msaada haraka sana, barabara imefungwa na mvua inanyesha sana leo.";
        let cases = [
            ("+243812345678", "AJALI Kamituga"),
            ("+24381234567", "vol à Lugushwa — 3 hommes armés"),
            ("0812345678", long),
            ("+243991234567", "Ушёл 🙂 ajali"),
            ("1234", "x"),
        ];
        for (sender, text) in cases {
            for original in encode_deliver(sender, text, when, "+243810000000", 7).unwrap() {
                let (rewritten, how) = redact_sender(&original);
                assert_eq!(how, Redaction::NumberReplaced, "{sender}");
                assert_eq!(rewritten.len(), original.len());
                let (a, b) = (deliver(&original), deliver(&rewritten));
                assert_eq!(b.text, a.text);
                assert_eq!(b.udh, a.udh);
                assert_eq!(b.concat, a.concat);
                assert_eq!(b.data, a.data);
                assert_eq!(b.timestamp, a.timestamp);
                assert_eq!(
                    b.smsc, a.smsc,
                    "the SMSC is the operator's, not the reporter's"
                );
                assert_eq!(b.sender.kind, a.sender.kind);
                let digits = sender.trim_start_matches('+');
                assert_eq!(
                    b.sender.value.trim_start_matches('+'),
                    "0".repeat(digits.len())
                );
                assert!(!rewritten.contains(&digits[digits.len() - 4..]) || digits.len() < 5);
            }
        }
    }

    #[test]
    fn operator_names_are_left_alone() {
        let when = datetime!(2026-03-14 09:26:53 UTC);
        let pdu = &encode_deliver("Vodacom", "Bonus 100%!", when, "", 0).unwrap()[0];
        assert_eq!(redact_sender(pdu), (pdu.clone(), Redaction::NoNumber));
    }

    #[test]
    fn a_submit_loses_its_recipient() {
        let parts = encode_submit("+243812345678", "Asante", &SubmitOptions::default()).unwrap();
        let (rewritten, how) = redact_sender(&parts[0].hex);
        assert_eq!(how, Redaction::NumberReplaced);
        assert!(!rewritten.contains("4328"), "{rewritten}");
    }

    #[test]
    fn what_cannot_be_read_is_blanked_from_where_a_number_could_be() {
        // Cut off inside the address: the SMSC prefix and first octet stay, the rest is zeros.
        assert_eq!(
            redact_sender("07913422180000F0040C91342812"),
            ("07913422180000F0000000000000".into(), Redaction::Blanked)
        );
        // Not even hex, or no SMSC prefix: nothing is kept.
        assert_eq!(
            redact_sender("ZZ2438123"),
            ("00000000".into(), Redaction::Blanked)
        );
        let (out, how) = redact_sender("440C9134281234567800");
        assert_eq!(how, Redaction::Blanked);
        assert!(out[2..].bytes().all(|b| b == b'0'), "{out}");
        assert_eq!(redact_sender(""), ("00".into(), Redaction::Blanked));
    }
}
