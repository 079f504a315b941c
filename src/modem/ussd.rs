//! USSD answers (the airtime balance): the text a modem prints in `+CUSD`, decoded per its data
//! coding scheme (TS 23.038 §5, the cell-broadcast scheme), and the amount read from it.

use pdu::{Encoding, decode_concatenated};

/// The alphabet a USSD data coding scheme names (TS 23.038 §5).
fn alphabet(dcs: u8) -> Encoding {
    match dcs >> 4 {
        // 0000: GSM-7, language in the DCS. 0001: 0x10 GSM-7 with a language prefix, 0x11 UCS-2
        // with one.
        0x0 => Encoding::Gsm7,
        0x1 if dcs & 0x0F == 0x01 => Encoding::Ucs2,
        0x1 => Encoding::Gsm7,
        // 01xx: general coding; bits 3-2 give the alphabet.
        0x4..=0x7 | 0x9 => match (dcs >> 2) & 0x03 {
            0b01 => Encoding::EightBit,
            0b10 => Encoding::Ucs2,
            _ => Encoding::Gsm7,
        },
        0xF if dcs & 0x04 != 0 => Encoding::EightBit,
        _ => Encoding::Gsm7,
    }
}

fn unpack_septets(octets: &[u8]) -> Vec<u8> {
    let count = octets.len() * 8 / 7;
    let mut out = Vec::with_capacity(count);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &o in octets {
        acc |= u32::from(o) << bits;
        bits += 8;
        while bits >= 7 {
            out.push((acc & 0x7F) as u8);
            acc >>= 7;
            bits -= 7;
        }
    }
    out
}

/// The answer as a person reads it. Modems print USSD text in three ways, depending on the make
/// and `AT+CSCS`: as text already, as the hex of the packed GSM 7-bit octets, or as the hex of
/// UCS-2; the hex forms are recognised and decoded, anything else is kept as it came.
pub(crate) fn decode_answer(text: &str, dcs: Option<u8>) -> String {
    let t = text.trim();
    let is_hex =
        t.len() >= 4 && t.len().is_multiple_of(2) && t.bytes().all(|b| b.is_ascii_hexdigit());
    let Some(dcs) = dcs.filter(|_| is_hex) else {
        return t.to_string();
    };
    let Ok(octets) = hex::decode(t) else {
        return t.to_string();
    };
    let decoded = match alphabet(dcs) {
        Encoding::Ucs2 if octets.len().is_multiple_of(2) => {
            decode_concatenated(Encoding::Ucs2, &[&octets])
        }
        Encoding::Gsm7 => {
            let mut septets = unpack_septets(&octets);
            // A last septet of 0 (`@`) or CR is the padding of a length that was a multiple of 8.
            if octets.len() % 7 == 0 && matches!(septets.last(), Some(0 | 0x0D)) {
                septets.pop();
            }
            decode_concatenated(Encoding::Gsm7, &[&septets])
        }
        _ => None,
    };
    match decoded {
        // An answer that decodes to control characters was text that only looked like hex.
        Some(d) if d.chars().all(|c| !c.is_control() || c == '\n' || c == '\r') => {
            d.trim().to_string()
        }
        _ => t.to_string(),
    }
}

/// The first number in the answer ("Solde: 1250.00 FC" gives 1250.0; "1250,50" gives 1250.5).
/// Thousands separators are not guessed: an operator that writes them needs a threshold that
/// allows for it.
pub(crate) fn first_amount(text: &str) -> Option<f64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    let mut end = 0;
    let mut seen_point = false;
    for (i, c) in rest.char_indices() {
        if c.is_ascii_digit() {
            end = i + 1;
        } else if (c == '.' || c == ',')
            && !seen_point
            && rest[i + 1..].starts_with(|d: char| d.is_ascii_digit())
        {
            seen_point = true;
        } else {
            break;
        }
    }
    rest[..end].replace(',', ".").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_packed_gsm7_and_ucs2_answers() {
        assert_eq!(
            decode_answer("Solde: 1250.00 FC", Some(15)),
            "Solde: 1250.00 FC"
        );
        // "Solde: 12" packed in GSM-7 (TS 23.038 §6.1.2.1.1).
        let packed = modem_sim::pack_gsm7_hex("Solde: 12");
        assert_eq!(decode_answer(&packed, Some(15)), "Solde: 12");
        assert_eq!(
            decode_answer("0053006F006C0064006500200035", Some(72)),
            "Solde 5"
        );
        // UCS-2 with a language prefix (dcs 0x11) reads the same way.
        assert_eq!(decode_answer("00340032", Some(0x11)), "42");
        // Not hex, or no dcs: as it came.
        assert_eq!(decode_answer("1234", None), "1234");
        assert_eq!(decode_answer("Balance", Some(15)), "Balance");
    }

    #[test]
    fn a_seven_octet_answer_loses_its_padding() {
        // 8 septets fill 7 octets exactly; a 7-character answer is padded with CR.
        let packed = modem_sim::pack_gsm7_hex("Credit:\r");
        assert_eq!(decode_answer(&packed, Some(0x0F)), "Credit:");
    }

    #[test]
    fn the_first_number_is_the_amount() {
        assert_eq!(first_amount("Solde: 1250.00 FC"), Some(1250.0));
        assert_eq!(first_amount("Votre credit: 12,50 USD. Bonus 3"), Some(12.5));
        assert_eq!(first_amount("Balance 300. Thank you"), Some(300.0));
        assert_eq!(first_amount("no number"), None);
    }
}
