//! SMS-STATUS-REPORT (TS 23.040 §9.2.2.3): the service centre telling us whether a reply we
//! sent (matched by its message reference) reached the phone.

use serde::Serialize;

use super::address::{self, Address};
use super::cursor::Cursor;
use super::dcs::{self, Encoding};
use super::error::PduError;
use super::timestamp::Timestamp;
use super::userdata;

/// A decoded SMS-STATUS-REPORT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Service centre prefix, if the modem gave one.
    pub smsc: Option<Address>,
    /// TP-MR of the SMS-SUBMIT this report is about (what AT+CMGS answered).
    pub message_reference: u8,
    /// TP-RA: the recipient of that message.
    pub recipient: Address,
    /// TP-SCTS: when the service centre received the message.
    pub timestamp: Timestamp,
    /// TP-DT: when it was delivered, or when the status was last changed.
    pub discharge_time: Timestamp,
    /// TP-ST: the raw status octet.
    pub status: u8,
    /// TP-SRQ: this reports on an SMS-COMMAND rather than an SMS-SUBMIT.
    pub about_command: bool,
    /// TP-MMS inverted: more messages waiting.
    pub more_messages: bool,
    /// Optional TP-PID (present when TP-PI says so).
    pub pid: Option<u8>,
    /// Optional TP-DCS.
    pub dcs: Option<u8>,
    /// Alphabet of the optional user data.
    pub encoding: Option<Encoding>,
    /// Optional user data text.
    pub text: Option<String>,
    /// Optional user data (septets for GSM-7, octets otherwise).
    pub data: Vec<u8>,
    /// What did not add up but was read anyway (padding taken for a TP-PI, optional fields
    /// announced but absent), in words.
    pub problem: Option<String>,
}

/// Where a message stands, from TP-ST (TS 23.040 §9.2.3.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Delivered, forwarded or replaced: the transaction is complete.
    Delivered,
    /// Temporary error, the service centre is still trying.
    Pending,
    /// Permanent error, or a temporary one the service centre gave up on.
    Failed,
}

impl DeliveryState {
    /// The name kept in the store and shown in JSON: "delivered", "pending" or "failed".
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending => "pending",
            DeliveryState::Failed => "failed",
        }
    }
}

impl StatusReport {
    /// Where the message stands.
    pub fn delivery_state(&self) -> DeliveryState {
        match self.status {
            0x00..=0x1F => DeliveryState::Delivered,
            0x20..=0x3F => DeliveryState::Pending,
            _ => DeliveryState::Failed,
        }
    }

    /// The meaning of TP-ST in words, for logs.
    pub fn status_text(&self) -> &'static str {
        match self.status {
            0x00 => "received by the phone",
            0x01 => "forwarded, delivery unconfirmed",
            0x02 => "replaced by the service centre",
            0x03..=0x1F => "delivered (service-centre specific status)",
            0x20 | 0x60 => "congestion",
            0x21 | 0x61 => "phone busy",
            0x22 | 0x62 => "no response from the phone",
            0x23 | 0x63 => "service rejected",
            0x24 | 0x44 | 0x64 => "quality of service not available",
            0x25 | 0x65 => "error in the phone",
            0x26..=0x3F => "temporary error, still trying",
            0x40 => "remote procedure error",
            0x41 => "incompatible destination",
            0x42 => "connection rejected by the phone",
            0x43 => "not obtainable",
            0x45 => "no interworking available",
            0x46 => "validity period expired",
            0x47 => "deleted by the sender",
            0x48 => "deleted by the service centre",
            0x49 => "message does not exist",
            0x4A..=0x5F => "permanent error",
            0x66..=0x7F => "temporary error, service centre no longer trying",
            _ => "reserved status value",
        }
    }
}

/// Decodes the TPDU after its first octet.
pub(crate) fn decode(
    cur: &mut Cursor<'_>,
    first_octet: u8,
    smsc: Option<Address>,
) -> Result<StatusReport, PduError> {
    let message_reference = cur.u8("TP-MR (message reference)")?;
    let recipient = address::decode(cur, "TP-RA (recipient address)")?;
    let timestamp = Timestamp::from_raw(cur.array("TP-SCTS (service centre timestamp)")?);
    let discharge_time = Timestamp::from_raw(cur.array("TP-DT (discharge time)")?);
    let status = cur.u8("TP-ST (status)")?;
    let mut report = StatusReport {
        smsc,
        message_reference,
        recipient,
        timestamp,
        discharge_time,
        status,
        about_command: first_octet & 0x20 != 0,
        more_messages: first_octet & 0x04 == 0,
        pid: None,
        dcs: None,
        encoding: None,
        text: None,
        data: Vec::new(),
        problem: None,
    };
    // TP-PI and what it announces are optional; a report may well end after TP-ST.
    if cur.remaining() == 0 {
        return Ok(report);
    }
    let mut pi = cur.u8("TP-PI (parameter indicator)")?;
    let first_pi = pi;
    // Reserved bits set (an SMSC or modem padding the report with FF): no indicator at all.
    if first_pi & 0x78 != 0 {
        report.problem = Some(format!(
            "octet {first_pi:02X} after TP-ST has reserved TP-PI bits set: taken as padding"
        ));
        return Ok(report);
    }
    // Fields the indicator announces may be missing all the same: what is there is kept.
    let claimed = usize::from(first_pi & 0x01 != 0) + usize::from(first_pi & 0x02 != 0);
    if cur.remaining() < claimed + usize::from(first_pi & 0x04 != 0) {
        report.problem = Some(format!(
            "TP-PI {first_pi:02X} announces fields that are not there: ignored"
        ));
        return Ok(report);
    }
    // Bit 7 extends the indicator over further octets, whose meaning is not yet defined.
    while pi & 0x80 != 0 && cur.remaining() > 0 {
        pi = cur.u8("TP-PI (parameter indicator)")?;
    }
    if first_pi & 0x01 != 0 {
        report.pid = Some(cur.u8("TP-PID (protocol identifier)")?);
    }
    let dcs = if first_pi & 0x02 != 0 {
        let octet = cur.u8("TP-DCS (data coding scheme)")?;
        report.dcs = Some(octet);
        dcs::parse(octet)
    } else {
        dcs::parse(0)
    };
    if first_pi & 0x04 != 0 {
        let ud = userdata::decode(cur, &dcs, first_octet & 0x40 != 0, false)?;
        report.encoding = Some(dcs.encoding);
        report.text = ud.text;
        report.data = ud.data;
        report.problem = ud.problem;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_state_names_match_the_json() {
        for state in [
            DeliveryState::Delivered,
            DeliveryState::Pending,
            DeliveryState::Failed,
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
    }
}
