//! UCS-2 user data (TS 23.038 §6.2.3), read as UTF-16 big-endian so that surrogate pairs
//! (emoji) survive; a lone or truncated surrogate becomes U+FFFD instead of an error.

/// Text of big-endian UTF-16 octets. An odd trailing octet or an unpaired surrogate shows as
/// U+FFFD (the replacement character).
pub(crate) fn decode(octets: &[u8]) -> String {
    let chunks = octets.chunks_exact(2);
    let odd = !chunks.remainder().is_empty();
    let units = chunks.map(|pair| match pair {
        [hi, lo] => u16::from_be_bytes([*hi, *lo]),
        _ => 0xFFFD,
    });
    let mut out: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if odd {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// UTF-16 code units of `text`.
pub(crate) fn units(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

/// Big-endian octets of UTF-16 code units.
pub(crate) fn to_octets(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_be_bytes()).collect()
}

/// True for the first half of a surrogate pair: a part must never end on one.
pub(crate) fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..=0xDBFF).contains(&unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_round_trip() {
        let text = "Habari 😀 ✓";
        assert_eq!(decode(&to_octets(&units(text))), text);
    }

    #[test]
    fn broken_surrogates_become_replacement_characters() {
        // High surrogate alone, then low surrogate alone, then a dangling octet.
        assert_eq!(decode(&[0xD8, 0x3D, 0x00, 0x41]), "\u{FFFD}A");
        assert_eq!(decode(&[0xDE, 0x00]), "\u{FFFD}");
        assert_eq!(decode(&[0x00, 0x41, 0x00]), "A\u{FFFD}");
        assert_eq!(decode(&[]), "");
    }

    #[test]
    fn python_gsmmodem_vector() {
        // python-gsmmodem test/test_pdu.py (TestUcs2): "あ叶葉" -> 3042 53F6 8449.
        assert_eq!(decode(&[0x30, 0x42, 0x53, 0xF6, 0x84, 0x49]), "あ叶葉");
    }
}
