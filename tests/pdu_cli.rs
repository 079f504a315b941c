//! The codec as a technician meets it: every documented field of `decode-pdu`'s JSON for each
//! kind of PDU, and `check-config`'s SMS cost of the reply templates (with its warning).

use std::path::Path;
use std::process::Command;

use config::Config;
use intake::Keywords;
use kufatilia_gateway::daemon;
use pdu::{self, SubmitOptions};
use serde_json::{Value, json};
use time::macros::datetime;

fn decode_pdu(hex: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .args(["decode-pdu", hex])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn decode_pdu_prints_every_field_of_a_deliver_part() {
    let when = datetime!(2026-11-27 09:26:53 -03:30);
    let text = "AJALI ".repeat(40);
    let parts = pdu::encode_deliver("+243812345678", &text, when, "+243990000000", 77).unwrap();
    assert_eq!(parts.len(), 2);
    let json = decode_pdu(&parts[1]);
    assert_eq!(json["type"], "deliver");
    assert_eq!(json["sender"], "+243812345678");
    assert_eq!(json["sender_type"], "international");
    assert_eq!(json["timestamp"], "2026-11-27T09:26:53-03:30");
    assert_eq!(json["encoding"], "gsm7");
    assert_eq!(json["concat"], json!({"ref": 77, "total": 2, "seq": 2}));
    assert_eq!(json["class"], Value::Null);
    assert_eq!(json["smsc"], "+243990000000");
    let first = decode_pdu(&parts[0]);
    let joined = format!(
        "{}{}",
        first["text"].as_str().unwrap(),
        json["text"].as_str().unwrap()
    );
    assert_eq!(joined, text);
}

#[test]
fn decode_pdu_shows_flash_class_alphanumeric_senders_and_8bit_data() {
    // "hellohello" (dreamfabric) with its DCS set to 0x10: GSM-7, class 0 ("flash").
    let flash =
        decode_pdu("07917283010010F5040BC87238880900F10010993092516195800AE8329BFD4697D9EC37");
    assert_eq!(flash["class"], 0);
    assert_eq!(flash["text"], "hellohello");
    assert_eq!(flash["smsc"], "+27381000015");
    assert_eq!(flash["concat"], Value::Null);
    assert!(flash["sender_type"].is_string());
    assert!(flash["timestamp"].is_string());

    let promo = pdu::encode_deliver(
        "Vodacom",
        "Bonus 100%!",
        datetime!(2026-11-27 10:00:00 +02:00),
        "",
        0,
    )
    .unwrap();
    let promo = decode_pdu(&promo[0]);
    assert_eq!(promo["sender"], "Vodacom");
    assert_eq!(promo["sender_type"], "alphanumeric");
    assert_eq!(promo["timestamp"], "2026-11-27T10:00:00+02:00");
    assert_eq!(promo["smsc"], Value::Null);

    // 8-bit data (DCS 0x04): bytes shown as hex, no text.
    let data = decode_pdu("00040B911342010010F5000462117221000000030102FF");
    assert_eq!(data["encoding"], "8bit");
    assert_eq!(data["text"], Value::Null);
    assert_eq!(data["data_hex"], "0102FF");
    assert_eq!(data["sender"], "+31241000015");
    assert_eq!(data["timestamp"], "2026-11-27T12:00:00Z");
    // The same with an impossible date (month 99): reported, not trusted.
    let bad_date = decode_pdu("00040B911342010010F5000462997221000000030102FF");
    assert_eq!(bad_date["timestamp"], Value::Null);
    assert!(bad_date["timestamp_error"].is_string());
}

#[test]
fn decode_pdu_shows_submits_and_status_reports() {
    let opts = SubmitOptions {
        validity: Some(std::time::Duration::from_secs(24 * 3600)),
        status_report: true,
        ..SubmitOptions::default()
    };
    let parts = pdu::encode_submit("+243812345678", "Asante 😀", &opts).unwrap();
    let submit = decode_pdu(&parts[0].hex);
    assert_eq!(submit["type"], "submit");
    assert_eq!(submit["recipient"], "+243812345678");
    assert_eq!(submit["recipient_type"], "international");
    assert_eq!(submit["encoding"], "ucs2");
    assert_eq!(submit["text"], "Asante 😀");
    assert_eq!(submit["validity"], json!({"relative_seconds": 86400}));
    assert_eq!(submit["status_report_request"], true);

    // python-gsmmodem's status report.
    let report = decode_pdu("0006D60B911326880736F4111011719551401110117195714000");
    assert_eq!(report["type"], "status-report");
    assert_eq!(report["recipient"], "+31628870634");
    assert_eq!(report["message_reference"], 0xD6);
    assert_eq!(report["delivery_state"], "delivered");
    assert_eq!(report["status_text"], "received by the phone");
    assert_eq!(report["timestamp"], "2011-01-11T17:59:15+01:00");
}

fn config(dir: &Path, transliterate: bool) -> Config {
    config::secrets::write_secret(&dir.join("token"), b"t0ken").unwrap();
    let text = format!(
        "gateway_id = \"goma-01\"\ndatabase = \"g.db\"\n[sms]\ntransliterate = {transliterate}\n[platform]\nurl = \"http://127.0.0.1:9\"\ntoken_file = \"token\"\n"
    );
    Config::parse(&text, Path::new("test config"), dir).unwrap()
}

#[test]
fn check_config_prints_each_template_cost_and_warns_above_one_sms() {
    let dir = tempfile::tempdir().unwrap();
    let mut keywords = Keywords::builtin().unwrap();
    // Above one SMS is an error by default (issue 5), a warning when replies.allow_multipart is set.
    // 120 characters of French: one GSM-7 SMS once "ç", "é", "’" are folded, two in UCS-2.
    let french = "Merci, votre signalement {reference} a été reçu. L’équipe de suivi vous répondra très bientôt, gardez ce numéro.";
    keywords.replies.ack.insert("fr".into(), french.into());
    keywords
        .replies
        .help
        .insert("sw".into(), "Tuma AJALI, VOL, WATOTO au USHURU. ".repeat(6));

    let folded = daemon::check(&config(dir.path(), true), &keywords);
    assert!(
        folded
            .lines
            .iter()
            .any(|l| l.starts_with("  replies.ack.fr: 1 SMS")),
        "{:?}",
        folded.lines
    );
    assert!(
        folded
            .errors
            .iter()
            .any(|w| w.starts_with("replies.help.sw costs 2 SMS")),
        "{:?}",
        folded.errors
    );
    assert!(!folded.errors.iter().any(|w| w.contains("replies.ack.fr")));

    let unfolded = daemon::check(&config(dir.path(), false), &keywords);
    assert!(
        unfolded
            .errors
            .iter()
            .any(|w| w.starts_with("replies.ack.fr costs 2 SMS")),
        "{:?}",
        unfolded.errors
    );
}
