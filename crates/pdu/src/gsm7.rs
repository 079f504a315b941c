//! The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), and the
//! packing of septets into octets (TS 23.038 §6.1.2.1.1).
//!
//! Decoded user data is kept as one septet value per byte so that parts of a concatenated
//! message can be joined *before* escape sequences are resolved: a sender that splits an
//! escape pair across two parts still decodes correctly once the parts are joined.

/// The escape septet that introduces a character of the extension table.
pub(crate) const ESC: u8 = 0x1B;

/// Default alphabet, indexed by septet value. Entry 0x1B (escape) is never read as a character.
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: septet after an escape -> character.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{000C}'), // form feed (page break)
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

fn basic(septet: u8) -> char {
    BASIC
        .get(usize::from(septet & 0x7F))
        .copied()
        .unwrap_or(' ')
}

fn extension(septet: u8) -> Option<char> {
    EXTENSION
        .iter()
        .find(|(code, _)| *code == septet & 0x7F)
        .map(|(_, c)| *c)
}

/// How one character is written in GSM-7: one septet, or escape + one septet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gsm7Char {
    Basic(u8),
    Extended(u8),
}

/// The GSM-7 form of `c`, or `None` if the default alphabet and its extension lack it.
pub(crate) fn encode_char(c: char) -> Option<Gsm7Char> {
    // Most of printable ASCII has the same code in GSM-7; answer those without a table walk.
    match c {
        ' '..='#' | '%'..='?' | 'A'..='Z' | 'a'..='z' => return Some(Gsm7Char::Basic(c as u8)),
        _ => {}
    }
    if let Some(i) = BASIC
        .iter()
        .enumerate()
        .position(|(i, b)| *b == c && i != usize::from(ESC))
    {
        return u8::try_from(i).ok().map(Gsm7Char::Basic);
    }
    EXTENSION
        .iter()
        .find(|(_, e)| *e == c)
        .map(|(code, _)| Gsm7Char::Extended(*code))
}

/// True when every character of `text` has a GSM-7 form.
pub(crate) fn fits(text: &str) -> bool {
    text.chars().all(|c| encode_char(c).is_some())
}

/// Septets of `text`, escapes included, or `None` if a character has no GSM-7 form.
pub(crate) fn to_septets(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match encode_char(c)? {
            Gsm7Char::Basic(s) => out.push(s),
            Gsm7Char::Extended(s) => {
                out.push(ESC);
                out.push(s);
            }
        }
    }
    Some(out)
}

/// Text of a septet sequence.
///
/// An escape followed by a code the extension table lacks shows the default-alphabet character
/// of that code, and escape + escape shows a space, both as TS 23.038 §6.2.1.1 asks. A lone
/// escape at the very end (a part cut by a careless sender) is dropped here; joining the parts'
/// septets first with [`super::decode_concatenated`] resolves it.
pub(crate) fn decode_septets(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|s| s & 0x7F);
    while let Some(s) = iter.next() {
        if s == ESC {
            match iter.next() {
                Some(ESC) => out.push(' '),
                Some(code) => out.push(extension(code).unwrap_or_else(|| basic(code))),
                None => {}
            }
        } else {
            out.push(basic(s));
        }
    }
    out
}

/// Octets needed to hold `septets` packed septets.
pub(crate) fn packed_len(septets: usize) -> usize {
    (septets * 7).div_ceil(8)
}

/// Unpacks `count` septets from packed octets (missing octets read as zero; callers check
/// lengths first and report them).
pub(crate) fn unpack(octets: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let bit = i * 7;
        let byte = bit / 8;
        let shift = bit % 8;
        let lo = u16::from(octets.get(byte).copied().unwrap_or(0));
        let hi = u16::from(octets.get(byte + 1).copied().unwrap_or(0));
        let word = lo | (hi << 8);
        out.push(((word >> shift) & 0x7F) as u8);
    }
    out
}

/// Packs septets into octets, leaving `skip` septets of zero bits in front (room for a user
/// data header plus its fill bits, which the caller writes over the first octets).
pub(crate) fn pack(septets: &[u8], skip: usize) -> Vec<u8> {
    let total = skip + septets.len();
    let mut out = vec![0u8; packed_len(total)];
    for (i, s) in septets.iter().enumerate() {
        let bit = (skip + i) * 7;
        let byte = bit / 8;
        let shift = bit % 8;
        let v = u16::from(s & 0x7F) << shift;
        if let Some(b) = out.get_mut(byte) {
            *b |= (v & 0xFF) as u8;
        }
        if v > 0xFF
            && let Some(b) = out.get_mut(byte + 1)
        {
            *b |= (v >> 8) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_basic_septet_round_trips() {
        for s in 0u8..128 {
            if s == ESC {
                continue;
            }
            let c = basic(s);
            assert_eq!(encode_char(c), Some(Gsm7Char::Basic(s)), "septet {s:#x}");
        }
    }

    #[test]
    fn extension_characters_take_two_septets() {
        for c in ['€', '[', ']', '{', '}', '~', '^', '\\', '|', '\u{000C}'] {
            assert!(matches!(encode_char(c), Some(Gsm7Char::Extended(_))));
            let septets = to_septets(&c.to_string()).unwrap();
            assert_eq!(septets.len(), 2, "{c:?}");
            assert_eq!(decode_septets(&septets), c.to_string());
        }
    }

    #[test]
    fn unknown_extension_falls_back_and_double_escape_is_space() {
        // ESC 'A' is not in the extension table: the basic 'A' is shown.
        assert_eq!(decode_septets(&[ESC, 0x41, ESC, ESC, 0x42]), "A B");
        // A lone escape at the end is dropped, never a panic.
        assert_eq!(decode_septets(&[0x41, ESC]), "A");
    }

    #[test]
    fn hellohello_packs_as_in_the_classic_example() {
        // "hellohello" -> E8329BFD4697D9EC37 (the classic SMS-SUBMIT example of the
        // "SMS and the PDU format" tutorial, dreamfabric.com).
        let septets = to_septets("hellohello").unwrap();
        let packed = pack(&septets, 0);
        assert_eq!(hex::encode_upper(&packed), "E8329BFD4697D9EC37");
        assert_eq!(unpack(&packed, 10), septets);
    }

    #[test]
    fn python_gsmmodem_vectors() {
        // From python-gsmmodem's test/test_pdu.py (TestGsm7): text -> packed septets.
        let cases: [(&str, &[u8]); 3] = [
            (
                "Hello World!",
                &[200, 50, 155, 253, 6, 93, 223, 114, 54, 57, 4],
            ),
            (
                "[{abc}]~",
                &[27, 222, 6, 21, 22, 143, 55, 169, 141, 111, 211, 3],
            ),
            ("a[]{}€", &[225, 13, 111, 227, 219, 160, 54, 169, 77, 25]),
        ];
        for (text, packed) in cases {
            let septets = to_septets(text).unwrap();
            assert_eq!(pack(&septets, 0), packed, "{text}");
            assert_eq!(decode_septets(&unpack(packed, septets.len())), text);
        }
    }

    #[test]
    fn not_representable() {
        assert!(encode_char('ê').is_none());
        assert!(encode_char('😀').is_none());
        assert!(!fits("forêt"));
        assert!(fits("é è ù ì ò à Ç Ä Ñ € [x]"));
    }
}
