//! The simulated modem's use of the PDU codec: SMS-DELIVER PDUs for injected messages, and the
//! decoding of the SMS-SUBMITs the gateway sends.

use pdu::{self, Concat, Pdu};

/// What the simulated modem understood of one SMS-SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodedSubmit {
    pub to: String,
    /// The part's text (the replacement character stands for 8-bit data).
    pub text: String,
    pub concat: Option<Concat>,
}

/// The SMS-DELIVER PDUs (with SMSC prefix) for one message, several when it is long.
pub fn encode_deliver(
    from: &str,
    text: &str,
    timestamp: time::OffsetDateTime,
    smsc: &str,
    concat_reference: u8,
) -> Result<Vec<String>, String> {
    pdu::encode_deliver(from, text, timestamp, smsc, concat_reference).map_err(|e| e.to_string())
}

/// Recipient, text and part number of an SMS-SUBMIT PDU (with SMSC prefix). Anything else (a
/// DELIVER sent by mistake, a broken PDU) is an error, as a real modem would refuse it.
pub(crate) fn decode_submit(pdu_hex: &str) -> Result<DecodedSubmit, String> {
    match pdu::decode(pdu_hex).map_err(|e| e.to_string())? {
        Pdu::Submit(s) => Ok(DecodedSubmit {
            to: s.recipient.value,
            text: s
                .text
                .unwrap_or_else(|| char::REPLACEMENT_CHARACTER.to_string()),
            concat: s.concat,
        }),
        other => Err(format!("not an SMS-SUBMIT: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdu::{SubmitOptions, encode_submit};

    #[test]
    fn what_the_gateway_encodes_the_simulator_reads() {
        let parts = encode_submit(
            "+243812345678",
            "Asante. Ripoti yako K7-4821 imepokelewa.",
            &SubmitOptions::default(),
        )
        .unwrap();
        let d = decode_submit(&parts[0].hex).unwrap();
        assert_eq!(d.to, "+243812345678");
        assert_eq!(d.text, "Asante. Ripoti yako K7-4821 imepokelewa.");
        assert_eq!(d.concat, None);
        let deliver = encode_deliver(
            "+243811111111",
            "ajali",
            time::macros::datetime!(2026-03-01 10:00 +02:00),
            "+243990000001",
            1,
        )
        .unwrap();
        assert!(decode_submit(&deliver[0]).is_err());
    }
}
