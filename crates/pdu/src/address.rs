//! Address fields (TS 23.040 §9.1.2.5): the SMSC prefix, TP-OA, TP-DA and TP-RA. Numbers are
//! swapped semi-octets with an F filler when odd; alphanumeric senders (type-of-number 101)
//! are GSM-7 packed text.

use serde::Serialize;

use super::cursor::Cursor;
use super::error::PduError;
use super::gsm7;

/// What an address is, as far as replying to it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    /// Type of number 001: shown with a leading `+`.
    International,
    /// Type of number 010 (national) or 000 (unknown, what most networks use for national
    /// numbers and short codes).
    National,
    /// Type of number 101: a name such as an operator's "Vodacom"; cannot be replied to.
    Alphanumeric,
    /// Network-specific, subscriber, abbreviated or reserved type of number.
    Other,
}

/// A decoded address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Address {
    /// `+243812345678` for international numbers, the digits for national and other numbers
    /// (`*`, `#`, `a`, `b`, `c` for the non-digit semi-octets), the text for alphanumeric.
    pub value: String,
    /// Kind derived from the type of number.
    pub kind: AddressKind,
    /// The raw type-of-address octet (e.g. 0x91 international/ISDN, 0x81 unknown/ISDN, 0xD0
    /// alphanumeric).
    pub type_of_address: u8,
}

/// Longest address value a TP-OA/TP-DA/TP-RA may carry: 20 semi-octets (TS 23.040 §9.1.2.5).
pub(crate) const MAX_SEMI_OCTETS: u8 = 20;

/// Longest SMSC address field, type-of-address included (TS 24.011 RP-address, 12 octets at
/// most with its length octet).
pub(crate) const MAX_SMSC_OCTETS: u8 = 11;

impl Address {
    /// True for short codes: a number that is not international and has at most 6 digits
    /// (operator services, promotions). Replies to them cost money and reach no person.
    pub fn is_short_code(&self) -> bool {
        matches!(self.kind, AddressKind::National | AddressKind::Other)
            && self.value.chars().count() <= 6
    }

    fn from_digits(type_of_address: u8, digits: String) -> Address {
        let kind = kind_of(type_of_address);
        let value = if kind == AddressKind::International && !digits.is_empty() {
            format!("+{digits}")
        } else {
            digits
        };
        Address {
            value,
            kind,
            type_of_address,
        }
    }
}

pub(crate) fn kind_of(type_of_address: u8) -> AddressKind {
    match (type_of_address >> 4) & 0x07 {
        0b001 => AddressKind::International,
        0b000 | 0b010 => AddressKind::National,
        0b101 => AddressKind::Alphanumeric,
        _ => AddressKind::Other,
    }
}

fn semi_octet_char(nibble: u8) -> Option<char> {
    match nibble {
        0..=9 => Some(char::from(b'0' + nibble)),
        0xA => Some('*'),
        0xB => Some('#'),
        0xC => Some('a'),
        0xD => Some('b'),
        0xE => Some('c'),
        _ => None, // 0xF: filler
    }
}

/// Digits of swapped semi-octets, at most `count` of them; F fillers are skipped.
fn digits_of(octets: &[u8], count: usize) -> String {
    octets
        .iter()
        .flat_map(|b| [b & 0x0F, b >> 4])
        .take(count)
        .filter_map(semi_octet_char)
        .collect()
}

/// Reads TP-OA / TP-DA / TP-RA: length in semi-octets, type of address, value.
pub(crate) fn decode(cur: &mut Cursor<'_>, field: &'static str) -> Result<Address, PduError> {
    let len = cur.u8(field)?;
    if len > MAX_SEMI_OCTETS {
        return Err(PduError::BadLength {
            field,
            declared: usize::from(len),
            unit: "semi-octets",
            problem: format!("more than the {MAX_SEMI_OCTETS} an address can hold"),
        });
    }
    let toa = cur.u8(field)?;
    let octets = cur.take(usize::from(len).div_ceil(2), field)?;
    if kind_of(toa) == AddressKind::Alphanumeric {
        let septets = gsm7::unpack(octets, usize::from(len) * 4 / 7);
        return Ok(Address {
            value: gsm7::decode_septets(&septets),
            kind: AddressKind::Alphanumeric,
            type_of_address: toa,
        });
    }
    Ok(Address::from_digits(
        toa,
        digits_of(octets, usize::from(len)),
    ))
}

/// Reads the SMSC prefix of a PDU-mode PDU (TS 27.005 §3.1): length in octets (type of
/// address included), 0 meaning "no SMSC given".
pub(crate) fn decode_smsc(cur: &mut Cursor<'_>) -> Result<Option<Address>, PduError> {
    const FIELD: &str = "SMSC address";
    let len = cur.u8(FIELD)?;
    if len == 0 {
        return Ok(None);
    }
    if len > MAX_SMSC_OCTETS {
        return Err(PduError::BadLength {
            field: FIELD,
            declared: usize::from(len),
            unit: "octets",
            problem: format!(
                "more than the {MAX_SMSC_OCTETS} an SMSC address can hold (is the SMSC prefix missing from this PDU?)"
            ),
        });
    }
    let octets = cur.take(usize::from(len), FIELD)?;
    let (toa, digits) = match octets.split_first() {
        Some((toa, digits)) => (*toa, digits),
        None => return Ok(None),
    };
    Ok(Some(Address::from_digits(
        toa,
        digits_of(digits, digits.len() * 2),
    )))
}

/// Type of address for an international number (type of number 001, ISDN numbering plan).
pub(crate) const TOA_INTERNATIONAL: u8 = 0x91;
/// Type of address for a national/unknown number (type of number 000, ISDN numbering plan).
pub(crate) const TOA_UNKNOWN: u8 = 0x81;
/// Type of address for an alphanumeric sender (type of number 101, unknown plan).
pub(crate) const TOA_ALPHANUMERIC: u8 = 0xD0;

/// Splits "+243..." / "0812..." into (type of address, digits); `None` if not a phone number.
fn parse_number(value: &str) -> Option<(u8, &str)> {
    let (toa, digits) = match value.strip_prefix('+') {
        Some(rest) => (TOA_INTERNATIONAL, rest),
        None => (TOA_UNKNOWN, value),
    };
    let ok = !digits.is_empty()
        && digits.len() <= usize::from(MAX_SEMI_OCTETS)
        && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some((toa, digits))
}

fn bcd(digits: &str) -> Vec<u8> {
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let lo = pair.first().map_or(0x0F, |d| d - b'0');
            let hi = pair.get(1).map_or(0x0F, |d| d - b'0');
            lo | (hi << 4)
        })
        .collect()
}

/// Encodes a phone number as TP-DA / TP-OA ("+243..." -> 0x91, digits -> 0x81).
pub(crate) fn encode_number(field: &'static str, value: &str) -> Result<Vec<u8>, PduError> {
    let (toa, digits) = parse_number(value).ok_or_else(|| PduError::InvalidInput {
        field,
        value: value.to_string(),
        reason: format!(
            "a phone number is 1 to {MAX_SEMI_OCTETS} digits with an optional leading +"
        ),
    })?;
    let mut out = Vec::with_capacity(2 + digits.len().div_ceil(2));
    out.push(digits.len() as u8);
    out.push(toa);
    out.extend(bcd(digits));
    Ok(out)
}

/// Encodes a sender for SMS-DELIVER: a phone number, or else an alphanumeric name of at most
/// 11 GSM-7 characters.
pub(crate) fn encode_originator(value: &str) -> Result<Vec<u8>, PduError> {
    if parse_number(value).is_some() {
        return encode_number("sender", value);
    }
    let invalid = |reason: &str| PduError::InvalidInput {
        field: "sender",
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let septets = gsm7::to_septets(value)
        .ok_or_else(|| invalid("an alphanumeric sender must be written in the GSM-7 alphabet"))?;
    if septets.is_empty() || septets.len() > 11 {
        return Err(invalid(
            "an alphanumeric sender has 1 to 11 GSM-7 characters",
        ));
    }
    let packed = gsm7::pack(&septets, 0);
    // The length counts the semi-octets that carry bits, not the padding (TS 23.040 §9.1.2.5).
    let semi_octets = (septets.len() * 7).div_ceil(4);
    let mut out = Vec::with_capacity(2 + packed.len());
    out.push(semi_octets as u8);
    out.push(TOA_ALPHANUMERIC);
    out.extend(packed);
    Ok(out)
}

/// Encodes the SMSC prefix: "" -> `00` (use the SMSC stored in the modem).
pub(crate) fn encode_smsc(value: &str) -> Result<Vec<u8>, PduError> {
    if value.is_empty() {
        return Ok(vec![0]);
    }
    let (toa, digits) = parse_number(value).ok_or_else(|| PduError::InvalidInput {
        field: "SMSC",
        value: value.to_string(),
        reason: "an SMSC is a phone number (digits with an optional leading +) or empty"
            .to_string(),
    })?;
    let digits_octets = bcd(digits);
    let mut out = Vec::with_capacity(2 + digits_octets.len());
    out.push(1 + digits_octets.len() as u8);
    out.push(toa);
    out.extend(digits_octets);
    Ok(out)
}

/// A phone number as it may appear in a log: enough to tell two reporters apart on one screen,
/// not enough to identify one (a report can put its sender at risk). Alphanumeric senders are
/// operators and shown as they are.
pub fn mask_number(number: Option<&str>) -> String {
    match number {
        None => "(unknown)".into(),
        Some(n) if n.chars().any(char::is_alphabetic) => n.to_string(),
        Some(n) => {
            let chars: Vec<char> = n.chars().collect();
            let keep = 3.min(chars.len());
            format!(
                "…{}",
                chars[chars.len() - keep..].iter().collect::<String>()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(hex: &str) -> Address {
        let bytes = hex::decode(hex).unwrap();
        decode(&mut Cursor::new(&bytes), "TP-OA").unwrap()
    }

    #[test]
    fn python_gsmmodem_address_vectors() {
        // python-gsmmodem test/test_pdu.py (TestSmsPduAddressFields).
        assert_eq!(dec("0A918967452301").value, "+9876543210");
        assert_eq!(dec("099189674523F1").value, "+987654321");
        assert_eq!(dec("0B917228195339F4").value, "+27829135934");
        let abc = dec("06D061F118");
        assert_eq!(abc.value, "abc");
        assert_eq!(abc.kind, AddressKind::Alphanumeric);
        assert_eq!(dec("0ED04669D0397C26A7").value, "FRANCOIS");
        assert_eq!(dec("14D0E10D6FE3DBA036A94D19").value, "a[]{}€");
        let local = dec("0AA11092997856");
        assert_eq!(local.value, "0129998765");
        assert_eq!(local.kind, AddressKind::National);
    }

    #[test]
    fn encoders_match_the_same_vectors() {
        assert_eq!(
            hex::encode_upper(encode_number("recipient", "+987654321").unwrap()),
            "099189674523F1"
        );
        assert_eq!(
            hex::encode_upper(encode_number("recipient", "+27829135934").unwrap()),
            "0B917228195339F4"
        );
        assert_eq!(
            hex::encode_upper(encode_originator("abc").unwrap()),
            "06D061F118"
        );
        assert_eq!(
            hex::encode_upper(encode_originator("FRANCOIS").unwrap()),
            "0ED04669D0397C26A7"
        );
        // SMSC field: python-gsmmodem TestSmsPduSmscFields.
        assert_eq!(
            hex::encode_upper(encode_smsc("+987654321").unwrap()),
            "069189674523F1"
        );
        assert_eq!(encode_smsc("").unwrap(), vec![0]);
    }

    #[test]
    fn bad_numbers_are_refused_with_a_reason() {
        for bad in ["", "+", "+243 81", "abc", "123456789012345678901"] {
            let err = encode_number("recipient", bad).unwrap_err();
            assert!(matches!(err, PduError::InvalidInput { .. }), "{bad}");
        }
        assert!(encode_originator("TwelveChars!").is_err());
        assert!(encode_originator("Zoë").is_err());
    }

    #[test]
    fn oversized_length_is_an_error_not_a_wild_read() {
        let bytes = hex::decode("FF91").unwrap();
        let err = decode(&mut Cursor::new(&bytes), "TP-OA").unwrap_err();
        assert!(matches!(err, PduError::BadLength { declared: 255, .. }));
    }

    #[test]
    fn short_codes() {
        let short = dec("04812143");
        assert_eq!(short.value, "1234");
        assert!(short.is_short_code());
        assert!(!dec("0B917228195339F4").is_short_code());
    }
    #[test]
    fn numbers_are_masked_operators_are_not() {
        assert_eq!(mask_number(Some("+243812345678")), "…678");
        assert_eq!(mask_number(Some("Vodacom")), "Vodacom");
        assert_eq!(mask_number(Some("12")), "…12");
        assert_eq!(mask_number(None), "(unknown)");
    }
}
