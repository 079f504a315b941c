//! Delivery reports on a real SQLite file: real SMS-STATUS-REPORT PDUs, decoded by the
//! pipeline's decoder, are matched to the reply they are about (message reference and
//! recipient, most recent send first) and set its delivery state; one that matches nothing is
//! kept.

use crate::common::link::semi_octets;
use std::path::Path;
use std::sync::Arc;

use config::Config;
use intake::Keywords;
use kufatilia_gateway::{Pipeline, decode_part};
use pdu::{self, DeliveryState, Pdu};
use store::{DecodedPart, NewOutgoing, NewReceived, ReplyKind, Store};

/// python-gsmmodem's status report vector: TP-MR 0xD6 for +31628870634, status 00.
const PUBLISHED: &str = "0006D60B911326880736F4111011719551401110117195714000";

/// An SMS-STATUS-REPORT as a modem gives it after `+CDS` (empty SMSC prefix), for a message
/// sent to an international `number`.
fn status_report(message_reference: u8, number: &str, status: u8, minute: u8) -> String {
    let digits = number.trim_start_matches('+');
    // Discharged a few minutes after 2026-11-27 12:00:00, when the SMSC took it.
    let minute = minute % 6;
    format!(
        "0006{message_reference:02X}{len:02X}91{ra}62117221000000621172211{minute}0000{status:02X}",
        len = digits.len(),
        ra = semi_octets(digits),
    )
}

fn received(pdu: &str) -> NewReceived {
    NewReceived {
        modem: "m1".into(),
        storage: "SR".into(),
        sim_index: None,
        pdu_hex: pdu.into(),
        received_at: time::OffsetDateTime::now_utc(),
    }
}

/// Commits a report and records what the pipeline's decoder makes of it.
async fn report_arrives(store: &Store, pdu: &str) {
    let id = store.insert_received(received(pdu)).await.unwrap().id;
    let decoded = decode_part(pdu);
    assert!(
        matches!(decoded, DecodedPart::StatusReport(_)),
        "{decoded:?}"
    );
    // A report is never turned into a message.
    assert_eq!(store.record_decoded(id, decoded).await.unwrap(), None);
}

async fn sent(store: &Store, to: &str, refs: &[u8]) -> i64 {
    let id = store
        .queue_outgoing(NewOutgoing {
            modem: "m1".into(),
            recipient: to.into(),
            text: "Asante. Ripoti yako K7-0001 imepokelewa.".into(),
            kind: ReplyKind::Ack,
        })
        .await
        .unwrap();
    store.mark_sent(id, refs.to_vec()).await.unwrap();
    id
}

async fn state(store: &Store, outgoing: i64) -> (Option<DeliveryState>, Option<String>, u32) {
    let d = store.delivery(outgoing).await.unwrap().unwrap();
    (d.state, d.status, d.parts_reported)
}

#[test]
fn the_report_builder_makes_real_status_reports() {
    let Pdu::StatusReport(r) = pdu::decode(&status_report(12, "+243812345678", 0x46, 3)).unwrap()
    else {
        panic!("not a status report")
    };
    assert_eq!(r.message_reference, 12);
    assert_eq!(r.recipient.value, "+243812345678");
    assert_eq!(r.delivery_state(), DeliveryState::Failed);
    assert_eq!(r.status_text(), "validity period expired");
}

#[tokio::test]
async fn the_published_report_marks_its_sms_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let id = sent(&store, "+31628870634", &[0xD6]).await;
    assert_eq!(state(&store, id).await, (None, None, 0));
    report_arrives(&store, PUBLISHED).await;
    assert_eq!(
        state(&store, id).await,
        (
            Some(DeliveryState::Delivered),
            Some("received by the phone".into()),
            1
        )
    );
    let reports = store.status_reports(10).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].outgoing_id, Some(id));
    assert_eq!(reports[0].message_reference, 0xD6);
}

#[tokio::test]
async fn a_long_reply_is_delivered_once_every_part_is_and_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let to = "+243812345678";
    let id = {
        let store = Store::open(&path).unwrap();
        let id = sent(&store, to, &[12, 13]).await;
        report_arrives(&store, &status_report(12, to, 0x00, 1)).await;
        // Part 2: the phone is busy, the service centre keeps trying.
        report_arrives(&store, &status_report(13, to, 0x21, 2)).await;
        assert_eq!(
            state(&store, id).await,
            (Some(DeliveryState::Pending), Some("phone busy".into()), 2)
        );
        id
    };
    // After a restart the final report for part 2 comes in.
    let store = Store::open(&path).unwrap();
    report_arrives(&store, &status_report(13, to, 0x00, 5)).await;
    assert_eq!(state(&store, id).await.0, Some(DeliveryState::Delivered));
    // A late "still trying" report does not take a final state back.
    report_arrives(&store, &status_report(13, to, 0x20, 4)).await;
    assert_eq!(state(&store, id).await.0, Some(DeliveryState::Delivered));
}

#[tokio::test]
async fn a_report_goes_to_the_most_recent_send_to_that_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let to = "+243812345678";
    // The modem's reference wrapped: 77 was used before for the same number.
    let older = sent(&store, to, &[77]).await;
    let newer = sent(&store, to, &[77]).await;
    // And most recently for someone else.
    let other = sent(&store, "+243899999999", &[77]).await;
    report_arrives(&store, &status_report(77, to, 0x46, 1)).await;
    assert_eq!(state(&store, older).await.0, None);
    assert_eq!(state(&store, other).await.0, None);
    assert_eq!(
        state(&store, newer).await,
        (
            Some(DeliveryState::Failed),
            Some("validity period expired".into()),
            1
        )
    );
}

#[tokio::test]
async fn a_report_in_national_form_matches_an_international_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let id = sent(&store, "+243812345678", &[5]).await;
    // TP-RA "0812345678", type 81 (national, ISDN).
    let pdu = format!(
        "000605{len:02X}81{ra}{ts}{ts}00",
        len = 10,
        ra = semi_octets("0812345678"),
        ts = "62117221000000"
    );
    report_arrives(&store, &pdu).await;
    assert_eq!(state(&store, id).await.0, Some(DeliveryState::Delivered));
}

#[tokio::test]
async fn a_report_that_matches_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let id = sent(&store, "+243812345678", &[9]).await;
    // Right reference, wrong number; and a reference never used.
    report_arrives(&store, &status_report(9, "+243811111111", 0x00, 1)).await;
    report_arrives(&store, &status_report(200, "+243812345678", 0x00, 2)).await;
    assert_eq!(state(&store, id).await.0, None);
    let reports = store.status_reports(10).await.unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.outgoing_id.is_none()));
    assert!(reports.iter().all(|r| r.state == DeliveryState::Delivered));
    // Decoded, kept, and neither waiting nor turned into a message.
    assert!(store.pending_received(10).await.unwrap().is_empty());
    assert!(store.unhandled_messages(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_pipeline_applies_committed_reports() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(
        r#"
gateway_id = "test-gw"
database = "gateway.db"

[sms]
status_reports = true

[platform]
url = "http://127.0.0.1:9/"
token_file = "token"
"#,
        Path::new("test config"),
        dir.path(),
    )
    .unwrap();
    let store = Store::open(&config.database).unwrap();
    let pipeline = Pipeline::new(
        &config,
        Arc::new(Keywords::builtin().unwrap()),
        store.clone(),
    );
    let to = "+243812345678";
    let id = sent(&store, to, &[31]).await;
    store
        .insert_received(received(&status_report(31, to, 0x00, 1)))
        .await
        .unwrap();
    pipeline.process_available().await.unwrap();
    assert_eq!(state(&store, id).await.0, Some(DeliveryState::Delivered));
    assert!(store.next_batch("test-gw", 10).await.unwrap().is_none());
}
