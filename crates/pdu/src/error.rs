//! Typed errors of the PDU codec, worded so a technician reading a log knows what was wrong
//! with the PDU and where.

use thiserror::Error;

/// Everything that can go wrong while decoding or encoding a PDU.
///
/// Offsets are byte offsets into the whole PDU as the modem gave it (SMSC prefix included),
/// so `offset 12` is hex characters 24-25.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PduError {
    /// Nothing to decode.
    #[error("empty PDU: the modem gave no hex at all")]
    Empty,
    /// The hex string has an odd number of digits.
    #[error("PDU hex has an odd number of characters ({len}): the last byte is cut in half")]
    OddHex {
        /// Number of hex characters received.
        len: usize,
    },
    /// A character that is not a hex digit.
    #[error("PDU hex has a non-hex character {found:?} at character {position}")]
    BadHex {
        /// Character index (0-based) in the hex string.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The PDU ends before a field that must be there.
    #[error(
        "PDU truncated: {field} needs {needed} byte(s) at offset {offset}, only {available} left"
    )]
    Truncated {
        /// Name of the field, e.g. "TP-SCTS (service centre timestamp)".
        field: &'static str,
        /// Byte offset where the field starts.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the PDU.
        available: usize,
    },
    /// A length field promises more than the PDU holds, or a value out of its allowed range.
    #[error("bad length in {field}: it declares {declared} {unit}, {problem}")]
    BadLength {
        /// Name of the length field.
        field: &'static str,
        /// The value it declares.
        declared: usize,
        /// Unit of `declared`: "septets", "octets", "semi-octets".
        unit: &'static str,
        /// What does not fit, e.g. "which needs 140 octets but only 10 follow".
        problem: String,
    },
    /// A well-formed PDU of a kind this gateway does not handle (e.g. reserved message type).
    #[error("unsupported PDU: {what}")]
    Unsupported {
        /// What is not supported.
        what: String,
    },
    /// Bad input given to an encoder (recipient, sender, SMSC, timestamp).
    #[error("cannot encode {field} {value:?}: {reason}")]
    InvalidInput {
        /// Which input, e.g. "recipient".
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it cannot be encoded.
        reason: String,
    },
    /// The text needs more parts than a concatenation header can number.
    #[error("message too long: it needs {parts} parts, a concatenated SMS has at most 255")]
    TooLong {
        /// Parts the text would need.
        parts: usize,
    },
}
