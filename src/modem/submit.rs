//! The modem link's use of the PDU codec: one queued reply becomes the SMS-SUBMIT PDUs to give to
//! `AT+CMGS`.

/// One PDU ready for `AT+CMGS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitPdu {
    /// "00" SMSC prefix + TPDU, in hex.
    pub hex: String,
    /// The `<length>` of `AT+CMGS`: TPDU octets.
    pub tpdu_len: usize,
}

/// Encodes `text` for `recipient`; `concat_reference` tells the parts of a long message apart.
pub fn encode(
    _recipient: &str,
    _text: &str,
    _concat_reference: u8,
) -> Result<Vec<SubmitPdu>, String> {
    Err("the PDU codec has not landed yet".into())
}
