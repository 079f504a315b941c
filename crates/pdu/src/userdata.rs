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
    /// What did not add up but was read anyway (a length larger than what follows, a header
    /// flag with no header), in words for the log.
    pub(crate) problem: Option<String>,
}

/// Reads TP-UDL and TP-UD from the cursor. Octets past the declared length are ignored (some
/// modems pad). A length larger than what follows is read as far as the octets go and
/// flagged, as real decoders do (a reporter's message cut short by a modem still shows what
/// arrived); a UDHI flag with no user data at all is flagged and ignored. With `strict` (a
/// submit, which our own encoder wrote) a length larger than what follows is an error.
pub(crate) fn decode(
    cur: &mut Cursor<'_>,
    dcs: &Dcs,
    udhi: bool,
    strict: bool,
) -> Result<UserData, PduError> {
    const UDL: &str = "TP-UDL (user data length)";
    let mut udl = usize::from(cur.u8(UDL)?);
    // Compressed data is counted in octets whatever the alphabet (TS 23.040 §9.2.3.16).
    let septets = dcs.encoding == Encoding::Gsm7 && !dcs.compressed;
    let mut needed = if septets { gsm7::packed_len(udl) } else { udl };
    let available = cur.remaining();
    let mut problem = None;
    if available < needed && strict {
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
    if available < needed {
        let declared = udl;
        udl = if septets {
            available * 8 / 7
        } else {
            available
        };
        if dcs.encoding == Encoding::Ucs2 && !dcs.compressed {
            // Half a UCS-2 character is no character.
            udl -= udl % 2;
        }
        needed = if septets { gsm7::packed_len(udl) } else { udl };
        let unit = if septets { "septets" } else { "octets" };
        problem = Some(format!(
            "TP-UDL declares {declared} {unit} but only {udl} follow: the message is cut short"
        ));
    }
    let ud = cur.take(needed, UDL)?;
    let udhi = if udhi && ud.is_empty() {
        problem.get_or_insert_with(|| {
            "TP-UDHI announces a user data header but there is no user data".to_string()
        });
        false
    } else {
        udhi
    };
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
            problem,
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
        problem,
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
        decode(&mut Cursor::new(&bytes), &dcs(dcs_octet), udhi, false)
    }

    #[test]
    fn septet_count_decides_the_octets_needed() {
        let d = ud("0AE8329BFD4697D9EC37", 0x00, false).unwrap();
        assert_eq!(d.text.as_deref(), Some("hellohello"));
        assert_eq!(d.problem, None);
    }

    #[test]
    fn a_length_larger_than_what_follows_reads_what_is_there_and_says_so() {
        // A stored GSM-7 message claiming 20 septets over the 9 octets of "hellohello".
        let d = ud("14E8329BFD4697D9EC37", 0x00, false).unwrap();
        assert_eq!(d.text.as_deref(), Some("hellohello"));
        assert!(
            d.problem.as_deref().unwrap().contains("20 septets"),
            "{:?}",
            d.problem
        );
        // UCS-2 claiming 12 octets over 5: the two whole characters, flagged.
        let d = ud("0C0048006900", 0x08, false).unwrap();
        assert_eq!(d.text.as_deref(), Some("Hi"));
        assert!(d.problem.is_some());
        // 8-bit claiming 140 octets over 3.
        let d = ud("8C010203", 0x04, false).unwrap();
        assert_eq!(d.data, vec![1, 2, 3]);
        assert!(d.problem.is_some());
    }

    #[test]
    fn udhi_with_no_user_data_is_an_empty_message_flagged() {
        let d = ud("00", 0x00, true).unwrap();
        assert_eq!(d.text.as_deref(), Some(""));
        assert!(d.udh.is_empty());
        assert!(d.problem.as_deref().unwrap().contains("TP-UDHI"));
        let d = ud("00", 0x08, true).unwrap();
        assert_eq!(d.text.as_deref(), Some(""));
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
