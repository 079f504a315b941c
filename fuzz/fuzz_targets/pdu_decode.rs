//! Fuzzes the PDU decoder with arbitrary bytes: as a TPDU, as the hex a modem prints, and as
//! raw text from a serial line. Any panic is a bug. Valid UTF-8 input is also sent through the
//! SMS-SUBMIT encoder and must decode back to the same text. The bytes are also cut in two and
//! joined as the user data of two parts of a long SMS (what the store does on reassembly).
//!
//! Each target depends on the one crate it fuzzes (here `kufatilia-pdu`), never on the daemon:
//! building SQLite, TLS and HTTP with sanitizers would cost minutes of a 2-core machine for
//! nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = pdu::decode_tpdu(data, None) {
        let _ = pdu::to_json(&p);
    }
    if let Ok(p) = pdu::decode(&hex::encode(data)) {
        let json = pdu::to_json(&p);
        assert!(json.get("type").is_some());
        if let pdu::Pdu::StatusReport(r) = &p {
            let _ = (r.delivery_state(), r.status_text());
        }
    }
    if let Some((&first, rest)) = data.split_first() {
        let cut = usize::from(first).min(rest.len());
        let (a, b) = rest.split_at(cut);
        let encoding = match first % 3 {
            0 => pdu::Encoding::Gsm7,
            1 => pdu::Encoding::Ucs2,
            _ => pdu::Encoding::EightBit,
        };
        let _ = pdu::decode_concatenated(encoding, &[a, b]);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = pdu::decode(text);
        let opts = pdu::SubmitOptions {
            transliterate: data.first().is_some_and(|b| b & 1 == 1),
            ..pdu::SubmitOptions::default()
        };
        if let Ok(parts) = pdu::encode_submit("+243812345678", text, &opts) {
            let mut joined = String::new();
            for part in &parts {
                match pdu::decode(&part.hex) {
                    Ok(pdu::Pdu::Submit(s)) => joined.push_str(s.text.as_deref().unwrap_or("")),
                    other => panic!("our own SMS-SUBMIT does not decode: {other:?}"),
                }
            }
            if !opts.transliterate {
                assert_eq!(joined, text);
            }
        }
    }
});
