//! The JSON view of a decoded PDU printed by `kufatilia-gateway decode-pdu`: flat, with the
//! field names a technician looks for (type, sender, timestamp, encoding, text, concat, ...).

use serde_json::{Map, Value, json};

use super::Pdu;
use super::address::Address;
use super::dcs::Encoding;
use super::status::StatusReport;
use super::submit::Validity;
use super::timestamp::Timestamp;
use super::udh::{Concat, InformationElement};

fn address(out: &mut Map<String, Value>, role: &str, a: &Address) {
    out.insert(role.to_string(), json!(a.value));
    out.insert(format!("{role}_type"), json!(a.kind));
    out.insert(format!("{role}_toa"), json!(a.type_of_address));
}

/// `name` as RFC 3339 with the PDU's offset (or null), `name_raw` always, and `name_error`
/// when the date is impossible.
fn timestamp(out: &mut Map<String, Value>, name: &str, t: &Timestamp) {
    out.insert(name.to_string(), json!(t.to_rfc3339()));
    out.insert(format!("{name}_raw"), json!(t.raw_hex()));
    if let Some(problem) = t.problem() {
        out.insert(format!("{name}_error"), json!(problem));
    }
}

fn concat(c: Option<Concat>) -> Value {
    c.map_or(
        Value::Null,
        |c| json!({"ref": c.reference, "total": c.total, "seq": c.seq}),
    )
}

fn udh(elements: &[InformationElement]) -> Value {
    elements
        .iter()
        .map(|ie| json!({"iei": ie.id, "data_hex": hex::encode_upper(&ie.data)}))
        .collect()
}

/// `text`, and `data_hex` when there is no text (8-bit or compressed data).
fn body(out: &mut Map<String, Value>, encoding: Encoding, text: &Option<String>, data: &[u8]) {
    out.insert("encoding".into(), json!(encoding.as_str()));
    out.insert("text".into(), json!(text));
    if text.is_none() {
        out.insert("data_hex".into(), json!(hex::encode_upper(data)));
    }
}

fn smsc(out: &mut Map<String, Value>, smsc: &Option<Address>) {
    out.insert(
        "smsc".into(),
        smsc.as_ref().map_or(Value::Null, |a| json!(a.value)),
    );
}

fn status_report(out: &mut Map<String, Value>, r: &StatusReport) {
    address(out, "recipient", &r.recipient);
    out.insert("message_reference".into(), json!(r.message_reference));
    timestamp(out, "timestamp", &r.timestamp);
    timestamp(out, "discharge_time", &r.discharge_time);
    out.insert("status".into(), json!(r.status));
    out.insert("status_text".into(), json!(r.status_text()));
    out.insert("delivery_state".into(), json!(r.delivery_state()));
    if let Some(encoding) = r.encoding {
        body(out, encoding, &r.text, &r.data);
    }
}

/// One JSON object describing `pdu`.
pub fn to_json(pdu: &Pdu) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!(pdu.kind()));
    match pdu {
        Pdu::Deliver(d) => {
            address(&mut out, "sender", &d.sender);
            timestamp(&mut out, "timestamp", &d.timestamp);
            body(&mut out, d.encoding, &d.text, &d.data);
            out.insert("concat".into(), concat(d.concat));
            out.insert("class".into(), json!(d.class));
            out.insert("compressed".into(), json!(d.compressed));
            out.insert("pid".into(), json!(d.pid));
            out.insert("dcs".into(), json!(d.dcs));
            out.insert("udh".into(), udh(&d.udh));
            smsc(&mut out, &d.smsc);
        }
        Pdu::Submit(s) => {
            address(&mut out, "recipient", &s.recipient);
            out.insert("message_reference".into(), json!(s.message_reference));
            body(&mut out, s.encoding, &s.text, &s.data);
            out.insert("concat".into(), concat(s.concat));
            out.insert("class".into(), json!(s.class));
            out.insert("compressed".into(), json!(s.compressed));
            out.insert("pid".into(), json!(s.pid));
            out.insert("dcs".into(), json!(s.dcs));
            out.insert("udh".into(), udh(&s.udh));
            let validity = match &s.validity {
                None => Value::Null,
                Some(Validity::Relative(d)) => json!({"relative_seconds": d.as_secs()}),
                Some(Validity::Absolute(t)) => {
                    json!({"absolute": t.to_rfc3339(), "raw": t.raw_hex()})
                }
                Some(Validity::Enhanced(raw)) => json!({"enhanced_raw": hex::encode_upper(raw)}),
            };
            out.insert("validity".into(), validity);
            out.insert(
                "status_report_request".into(),
                json!(s.status_report_request),
            );
            smsc(&mut out, &s.smsc);
        }
        Pdu::StatusReport(r) => {
            status_report(&mut out, r);
            smsc(&mut out, &r.smsc);
        }
    }
    Value::Object(out)
}
