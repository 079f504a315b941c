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

/// Does a `+CUSD` with this `<m>` carry the network's answer? 0 (done), 1 (more input
/// expected) and 2 (ended by the network, often with its last words); 3-5 carry none.
pub(crate) fn carries_answer(status: u8) -> bool {
    status <= 2
}

/// The answer as the modem printed it, with the scheme it named, for `doctor` and the status.
pub(crate) fn raw_form(text: &str, dcs: Option<u8>) -> String {
    match dcs {
        Some(d) => format!("dcs {d}: {}", text.trim()),
        None => format!("no dcs: {}", text.trim()),
    }
}

/// Text a person would read: no control characters but line breaks, and mostly letters, digits,
/// blanks and the punctuation of balance answers. Wrongly decoded hex gives symbols and rare
/// scripts instead.
fn readable(text: &str) -> bool {
    let total = text.chars().count();
    if total == 0
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return false;
    }
    let usual = text
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace() || ".,:;-+*#()/%'!?=_$€&".contains(*c))
        .count();
    // Letters of scripts a Congolese operator writes in (Latin, with accents; Arabic for Swahili
    // in Ajami is not used by operators): a UCS-2 misreading lands in CJK or Hangul instead.
    let odd_script = text
        .chars()
        .any(|c| c.is_alphabetic() && !matches!(u32::from(c), 0..=0x052F | 0x1E00..=0x1EFF));
    !odd_script && usual * 10 >= total * 7
}

/// One way of reading the octets of a hex answer.
type Decoder = fn(&[u8]) -> Option<String>;

/// UCS-2 hex: two octets a character.
fn from_ucs2(octets: &[u8]) -> Option<String> {
    if octets.len() < 2 || !octets.len().is_multiple_of(2) {
        return None;
    }
    decode_concatenated(Encoding::Ucs2, &[octets])
}

/// GSM-7 printed one septet an octet (the modem's `HEX` character set).
fn from_unpacked_gsm7(octets: &[u8]) -> Option<String> {
    // Printed septets of text sit at 0x20-0x7F, or are line breaks; the low codes are rare
    // symbols.
    if octets
        .iter()
        .any(|o| !matches!(o, 0x0A | 0x0D | 0x20..=0x7F))
    {
        return None;
    }
    decode_concatenated(Encoding::Gsm7, &[octets])
}

/// GSM-7 packed eight septets in seven octets, as the network sent it (TS 23.038 §6.1.2.3).
fn from_packed_gsm7(octets: &[u8]) -> Option<String> {
    let mut septets = unpack_septets(octets);
    // A last septet of 0 (`@`) or CR is the padding of a length that was a multiple of 8.
    if octets.len().is_multiple_of(7) && matches!(septets.last(), Some(0 | 0x0D)) {
        septets.pop();
    }
    decode_concatenated(Encoding::Gsm7, &[&septets])
}

/// 8-bit data: the operators that use it send Latin-1 text.
fn from_eight_bit(octets: &[u8]) -> Option<String> {
    Some(octets.iter().map(|o| char::from(*o)).collect())
}

/// The answer as a person reads it. Modems print USSD text in several ways, depending on the
/// make and `AT+CSCS`: as text already; as the hex of the packed GSM 7-bit octets the network
/// sent; as the hex of UCS-2 (the network's UCS-2, or GSM text the modem converted because its
/// character set is UCS2, while still naming dcs 15); or as the hex of unpacked GSM 7-bit.
/// The scheme the answer names is tried first where it is unambiguous (UCS-2, 8-bit); a GSM-7
/// answer is tried as UCS-2 hex, unpacked and packed hex in that order, since a modem in UCS2
/// mode keeps the network's dcs; the first readable result wins. Anything else is kept as it
/// came.
pub(crate) fn decode_answer(text: &str, dcs: Option<u8>) -> String {
    let t = text.trim();
    let is_hex =
        t.len() >= 4 && t.len().is_multiple_of(2) && t.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex {
        return t.to_string();
    }
    let Ok(octets) = hex::decode(t) else {
        return t.to_string();
    };
    // Digits only ("1250") are a number far more often than hex; only UCS-2 hex of digits
    // ("00310032...") is told apart from one, by its structure.
    let digits_only = t.bytes().all(|b| b.is_ascii_digit());
    let tries: &[Decoder] = match dcs.map(alphabet) {
        _ if digits_only => &[from_ucs2],
        // No scheme given: only UCS-2 hex is told apart safely from a number such as "1234".
        None => &[from_ucs2],
        Some(Encoding::Ucs2) => &[from_ucs2],
        Some(Encoding::EightBit) => &[from_eight_bit, from_ucs2],
        Some(Encoding::Gsm7) => &[from_ucs2, from_unpacked_gsm7, from_packed_gsm7],
    };
    tries
        .iter()
        .filter_map(|decode| decode(&octets))
        .map(|d| d.trim().to_string())
        .find(|d| readable(d))
        .unwrap_or_else(|| t.to_string())
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
        assert_eq!(decode_answer("12345678", Some(15)), "12345678");
        assert_eq!(decode_answer("Balance", Some(15)), "Balance");
    }

    #[test]
    fn a_seven_octet_answer_loses_its_padding() {
        // 8 septets fill 7 octets exactly; a 7-character answer is padded with CR.
        let packed = modem_sim::pack_gsm7_hex("Credit:\r");
        assert_eq!(decode_answer(&packed, Some(0x0F)), "Credit:");
    }

    #[test]
    fn ucs2_hex_under_a_gsm7_dcs_is_read_as_ucs2() {
        // A modem in AT+CSCS="UCS2" converts the GSM text and keeps dcs 15.
        assert_eq!(
            decode_answer(
                "0053006F006C00640065003A00200031003200350030002000460043",
                Some(15)
            ),
            "Solde: 1250 FC"
        );
        // Without any dcs too, and with an accent.
        assert_eq!(
            decode_answer("0043007200E90064006900740020003500300030", None),
            "Crédit 500"
        );
        assert_eq!(
            decode_answer("0053006F006C00640065003A00200035", Some(0x48)),
            "Solde: 5"
        );
    }

    #[test]
    fn seven_bit_answers_packed_or_one_septet_an_octet() {
        for text in [
            "Solde: 1250.00 FC",
            "Votre credit est de 300 FC. Bonus 50 MB",
            "Solde 7",
        ] {
            let packed = modem_sim::pack_gsm7_hex(text);
            assert_eq!(decode_answer(&packed, Some(0x0F)), text, "{packed}");
            assert_eq!(decode_answer(&packed, Some(0x00)), text, "{packed}");
            let unpacked = hex::encode_upper(text.as_bytes());
            assert_eq!(decode_answer(&unpacked, Some(0x0F)), text, "{unpacked}");
        }
        // 8-bit Latin-1.
        assert_eq!(decode_answer("536F6C64652039", Some(0x44)), "Solde 9");
    }

    #[test]
    fn status_two_carries_an_answer_and_the_raw_form_names_the_scheme() {
        assert!(carries_answer(0) && carries_answer(1) && carries_answer(2));
        assert!(!carries_answer(4));
        assert_eq!(raw_form(" 00340032 ", Some(72)), "dcs 72: 00340032");
        assert_eq!(raw_form("Solde", None), "no dcs: Solde");
    }

    #[test]
    fn the_first_number_is_the_amount() {
        assert_eq!(first_amount("Solde: 1250.00 FC"), Some(1250.0));
        assert_eq!(first_amount("Votre credit: 12,50 USD. Bonus 3"), Some(12.5));
        assert_eq!(first_amount("Balance 300. Thank you"), Some(300.0));
        assert_eq!(first_amount("no number"), None);
    }
}
