//! User Data Header (TS 23.040 §9.2.3.24): information elements, of which the gateway acts on
//! concatenation (IEI 0x00 with an 8-bit reference, 0x08 with a 16-bit one); the others are
//! kept and skipped by their length.

use serde::Serialize;

use super::error::PduError;

/// Where a part sits in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Concat {
    /// Reference shared by all parts of one message (8 or 16 bits on the air).
    pub reference: u16,
    /// Number of parts, 1-255.
    pub total: u8,
    /// This part's number, 1-based.
    pub seq: u8,
}

/// One information element of a user data header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InformationElement {
    /// Information element identifier (IEI).
    pub id: u8,
    /// Its data, without the IEI and length octets.
    pub data: Vec<u8>,
}

/// IEI of concatenation with an 8-bit reference.
pub(crate) const IEI_CONCAT_8: u8 = 0x00;
/// IEI of concatenation with a 16-bit reference.
pub(crate) const IEI_CONCAT_16: u8 = 0x08;

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Udh {
    pub(crate) elements: Vec<InformationElement>,
    pub(crate) concat: Option<Concat>,
    /// Octets the header takes, its length octet included.
    pub(crate) len: usize,
}

/// Parses the header at the start of `ud` (the user data octets present).
pub(crate) fn parse(ud: &[u8]) -> Result<Udh, PduError> {
    let (udhl, rest) = ud.split_first().ok_or_else(|| PduError::BadLength {
        field: "TP-UDL (user data length)",
        declared: 0,
        unit: "octets",
        problem: "but the TP-UDHI flag announces a user data header, which needs at least 1"
            .to_string(),
    })?;
    let udhl = usize::from(*udhl);
    let mut body = rest.get(..udhl).ok_or_else(|| PduError::BadLength {
        field: "TP-UDHL (user data header length)",
        declared: udhl,
        unit: "octets",
        problem: format!("but only {} octet(s) of user data follow it", rest.len()),
    })?;
    let mut elements = Vec::new();
    let mut concat = None;
    while let [id, len, tail @ ..] = body {
        let len = usize::from(*len);
        let data = tail.get(..len).ok_or_else(|| PduError::BadLength {
            field: "user data header information element",
            declared: len,
            unit: "octets",
            problem: format!(
                "(IEI {id:#04x}) but only {} octet(s) are left in the header",
                tail.len()
            ),
        })?;
        // When an element repeats, the last occurrence wins (TS 23.040 §9.2.3.24).
        match (*id, data) {
            (IEI_CONCAT_8, [reference, total, seq]) => {
                concat = valid_concat(u16::from(*reference), *total, *seq);
            }
            (IEI_CONCAT_16, [hi, lo, total, seq]) => {
                concat = valid_concat(u16::from_be_bytes([*hi, *lo]), *total, *seq);
            }
            _ => {}
        }
        elements.push(InformationElement {
            id: *id,
            data: data.to_vec(),
        });
        body = tail.get(len..).unwrap_or(&[]);
    }
    if !body.is_empty() {
        return Err(PduError::BadLength {
            field: "TP-UDHL (user data header length)",
            declared: udhl,
            unit: "octets",
            problem: "but its last information element is cut after its identifier".to_string(),
        });
    }
    Ok(Udh {
        elements,
        concat,
        len: 1 + udhl,
    })
}

/// A concatenation element numbering part 0, or beyond the total, is to be ignored
/// (TS 23.040 §9.2.3.24.1).
fn valid_concat(reference: u16, total: u8, seq: u8) -> Option<Concat> {
    (total > 0 && seq > 0 && seq <= total).then_some(Concat {
        reference,
        total,
        seq,
    })
}

/// The 6-octet header of one part of a message concatenated with an 8-bit reference.
pub(crate) fn concat_header(reference: u8, total: u8, seq: u8) -> [u8; 6] {
    [0x05, IEI_CONCAT_8, 0x03, reference, total, seq]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_gsmmodem_concat_vectors() {
        // python-gsmmodem test/test_pdu.py (TestUdhConcatenation): IE 00 03 17 03 01 is
        // reference 23, part 1 of 3; IE 08 04 01 80 04 02 is reference 384, part 2 of 4.
        let udh = parse(&[0x05, 0x00, 0x03, 0x17, 0x03, 0x01]).unwrap();
        assert_eq!(
            udh.concat,
            Some(Concat {
                reference: 23,
                total: 3,
                seq: 1
            })
        );
        assert_eq!(udh.len, 6);
        let udh = parse(&[0x06, 0x08, 0x04, 0x01, 0x80, 0x04, 0x02]).unwrap();
        assert_eq!(
            udh.concat,
            Some(Concat {
                reference: 384,
                total: 4,
                seq: 2
            })
        );
    }

    #[test]
    fn unknown_elements_are_skipped_by_length() {
        // Port addressing (IEI 05) before the concatenation element, as in a WAP push.
        let udh = parse(&[
            0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x2A, 0x02, 0x01,
        ])
        .unwrap();
        assert_eq!(udh.elements.len(), 2);
        assert_eq!(udh.elements[0].id, 0x05);
        assert_eq!(
            udh.concat.map(|c| (c.reference, c.total, c.seq)),
            Some((42, 2, 1))
        );
    }

    #[test]
    fn invalid_concat_numbers_are_ignored() {
        assert_eq!(
            parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x00]).unwrap().concat,
            None
        );
        assert_eq!(
            parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]).unwrap().concat,
            None
        );
        assert_eq!(
            parse(&[0x05, 0x00, 0x03, 0x01, 0x00, 0x00]).unwrap().concat,
            None
        );
    }

    #[test]
    fn overruns_are_errors() {
        assert!(matches!(parse(&[]), Err(PduError::BadLength { .. })));
        assert!(matches!(
            parse(&[0x09, 0x00, 0x03]),
            Err(PduError::BadLength { declared: 9, .. })
        ));
        assert!(matches!(
            parse(&[0x04, 0x00, 0x05, 0x01, 0x02]),
            Err(PduError::BadLength { declared: 5, .. })
        ));
        assert!(matches!(
            parse(&[0x03, 0x00, 0x00, 0x07]),
            Err(PduError::BadLength { .. })
        ));
    }
}
