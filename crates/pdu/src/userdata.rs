//! TP-UDL + TP-UD (TS 23.040 §9.2.3.16, §9.2.3.24): the length checked against the octets
//! present, the header split off, GSM-7 fill bits skipped, the text decoded.

use super::cursor::Cursor;
use super::dcs::{Dcs, Encoding};
use super::error::PduError;
use super::udh::{self, Concat, InformationElement};
use super::{gsm7, ucs2};

/// Decoded user data of one PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserData {
    pub(crate) udh: Vec<InformationElement>,
    pub(crate) concat: Option<Concat>,
    pub(crate) text: Option<String>,
    /// GSM-7: one septet per byte (fill bits and header removed); otherwise the octets after
    /// the header.
    pub(crate) data: Vec<u8>,
}

/// Reads TP-UDL and TP-UD from the cursor. Octets past the declared length are ignored (some
/// modems pad); fewer octets than declared is an error.
pub(crate) fn decode(cur: &mut Cursor<'_>, dcs: &Dcs, udhi: bool) -> Result<UserData, PduError> {
    const UDL: &str = "TP-UDL (user data length)";
    let udl = usize::from(cur.u8(UDL)?);
    // Compressed data is counted in octets whatever the alphabet (TS 23.040 §9.2.3.16).
    let septets = dcs.encoding == Encoding::Gsm7 && !dcs.compressed;
    let needed = if septets { gsm7::packed_len(udl) } else { udl };
    let available = cur.remaining();
    if available < needed {
        return Err(PduError::BadLength {
            field: UDL,
            declared: udl,
            unit: if septets { "septets" } else { "octets" },
            problem: if septets {
                format!("which needs {needed} octet(s), but only {available} follow")
            } else {
                format!("but only {available} follow")
            },
        });
    }
    let ud = cur.take(needed, UDL)?;
    let (elements, concat, header_len) = if udhi {
        let h = udh::parse(ud)?;
        (h.elements, h.concat, h.len)
    } else {
        (Vec::new(), None, 0)
    };

    if septets {
        // The header is padded with fill bits up to a septet boundary (TS 23.040 §9.2.3.24).
        let header_septets = (header_len * 8).div_ceil(7);
        if header_septets > udl {
            return Err(PduError::BadLength {
                field: UDL,
                declared: udl,
                unit: "septets",
                problem: format!(
                    "fewer than the {header_septets} septets its user data header occupies"
                ),
            });
        }
        let all = gsm7::unpack(ud, udl);
        let body = all.get(header_septets..).unwrap_or(&[]).to_vec();
        return Ok(UserData {
            udh: elements,
            concat,
            text: Some(gsm7::decode_septets(&body)),
            data: body,
        });
    }

    let body = ud.get(header_len..).unwrap_or(&[]).to_vec();
    let text = match dcs.encoding {
        Encoding::Ucs2 if !dcs.compressed => Some(ucs2::decode(&body)),
        _ => None,
    };
    Ok(UserData {
        udh: elements,
        concat,
        text,
        data: body,
    })
}

/// Joins the user data of the parts of one concatenated message, in order, and decodes the
/// whole: an escape pair or a surrogate pair that a sender split across two parts comes out
/// whole. `parts` are the `data` fields of the decoded parts. `None` for 8-bit data.
pub fn decode_concatenated(encoding: Encoding, parts: &[&[u8]]) -> Option<String> {
    let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    match encoding {
        Encoding::Gsm7 => Some(gsm7::decode_septets(&joined)),
        Encoding::Ucs2 => Some(ucs2::decode(&joined)),
        Encoding::EightBit => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::dcs::parse as dcs;
    use super::*;

    fn ud(hex: &str, dcs_octet: u8, udhi: bool) -> Result<UserData, PduError> {
        let bytes = hex::decode(hex).unwrap();
        decode(&mut Cursor::new(&bytes), &dcs(dcs_octet), udhi)
    }

    #[test]
    fn septet_count_decides_the_octets_needed() {
        let d = ud("0AE8329BFD4697D9EC37", 0x00, false).unwrap();
        assert_eq!(d.text.as_deref(), Some("hellohello"));
        assert!(matches!(
            ud("0BE8329BFD4697D9EC37", 0x00, false),
            Err(PduError::BadLength { declared: 11, .. })
        ));
    }

    #[test]
    fn header_larger_than_the_septet_count_is_an_error() {
        // UDL of 3 septets cannot hold a 6-octet header.
        assert!(matches!(
            ud("03050003010201", 0x00, true),
            Err(PduError::BadLength { .. })
        ));
    }

    #[test]
    fn split_escape_and_surrogate_join_whole() {
        // "€" split as ESC | 0x65 by a careless sender.
        assert_eq!(
            decode_concatenated(Encoding::Gsm7, &[&[0x41, gsm7::ESC], &[0x65]]).as_deref(),
            Some("A€")
        );
        // "😀" = D83D DE00 split across two UCS-2 parts.
        assert_eq!(
            decode_concatenated(Encoding::Ucs2, &[&[0xD8, 0x3D], &[0xDE, 0x00]]).as_deref(),
            Some("😀")
        );
        assert_eq!(decode_concatenated(Encoding::EightBit, &[&[1]]), None);
    }

    #[test]
    fn compressed_and_8bit_keep_bytes() {
        let d = ud("03010203", 0x24, false).unwrap();
        assert_eq!(d.text, None);
        assert_eq!(d.data, vec![1, 2, 3]);
        // Compressed GSM-7: the length is in octets.
        let d = ud("03010203", 0x20, false).unwrap();
        assert_eq!(d.text, None);
        assert_eq!(d.data, vec![1, 2, 3]);
    }
}
