//! Reassembly of long SMS from real SMS-DELIVER PDUs on a real SQLite file: the parts' user
//! data is joined before decoding, so a character another sender's encoder split across two
//! parts (a GSM-7 escape pair, a UTF-16 surrogate pair) comes out whole, in any order and
//! across a restart; an incomplete message falls back to the parts' own texts.

use crate::common::link::semi_octets;
use std::path::Path;
use std::sync::Arc;

use config::Config;
use intake::Keywords;
use kufatilia_gateway::{Pipeline, decode_part};
use pdu::{self, Pdu};
use store::{DecodeStatus, DecodedPart, NewReceived, Store};

const SENDER: &str = "+243812345678";
/// GSM-7 escape to the extension table; ESC then 0x65 is "€".
const ESC: u8 = 0x1B;

/// TP-OA / TP-RA of an international number.
fn address(number: &str) -> String {
    let digits = number.trim_start_matches('+');
    format!("{:02X}91{}", digits.len(), semi_octets(digits))
}

/// The 6-octet concatenation header (8-bit reference).
fn header(reference: u8, total: u8, seq: u8) -> [u8; 6] {
    [0x05, 0x00, 0x03, reference, total, seq]
}

/// Packs the header, one fill bit and the septets, LSB first (TS 23.038 §6.1.2.1.1).
fn pack_gsm7(header: &[u8; 6], septets: &[u8]) -> (u8, Vec<u8>) {
    let mut bits: Vec<bool> = Vec::new();
    for octet in header {
        bits.extend((0..8).map(|i| octet >> i & 1 == 1));
    }
    bits.push(false); // fill bit up to the 7-septet boundary
    for s in septets {
        bits.extend((0..7).map(|i| s >> i & 1 == 1));
    }
    let octets = bits
        .chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |acc, (i, b)| acc | (u8::from(*b) << i))
        })
        .collect();
    ((7 + septets.len()) as u8, octets)
}

/// A concatenated SMS-DELIVER part with the given user data, as a modem gives it.
fn deliver_part(dcs: u8, udl: u8, ud: &[u8]) -> String {
    format!(
        "00{first:02X}{oa}00{dcs:02X}{scts}{udl:02X}{ud}",
        first = 0x44, // SMS-DELIVER, UDHI set, no more messages
        oa = address(SENDER),
        scts = "62117221000000", // 2026-11-27 12:00:00 +00:00
        ud = hex::encode_upper(ud),
    )
}

fn gsm7_part(reference: u8, seq: u8, text_septets: &[u8]) -> String {
    let (udl, ud) = pack_gsm7(&header(reference, 2, seq), text_septets);
    deliver_part(0x00, udl, &ud)
}

fn ucs2_part(reference: u8, seq: u8, octets: &[u8]) -> String {
    let mut ud = header(reference, 2, seq).to_vec();
    ud.extend_from_slice(octets);
    deliver_part(0x08, ud.len() as u8, &ud)
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// "AJALI gharama €20" with the escape pair of "€" split between part 1 and part 2.
fn split_euro() -> [String; 2] {
    let mut first = b"AJALI gharama ".to_vec();
    first.push(ESC);
    let mut second = vec![0x65];
    second.extend_from_slice(b"20");
    [gsm7_part(41, 1, &first), gsm7_part(41, 2, &second)]
}

/// "Vurugu 😀 sasa" with the surrogate pair D83D DE00 split between the parts.
fn split_emoji() -> [String; 2] {
    let mut first = utf16("Vurugu ");
    first.extend_from_slice(&[0xD8, 0x3D]);
    let mut second = vec![0xDE, 0x00];
    second.extend(utf16(" sasa"));
    [ucs2_part(42, 1, &first), ucs2_part(42, 2, &second)]
}

fn received(pdu: &str) -> NewReceived {
    NewReceived {
        modem: "m1".into(),
        storage: "SM".into(),
        sim_index: None,
        pdu_hex: pdu.into(),
        received_at: time::OffsetDateTime::now_utc(),
    }
}

/// Commits a PDU and records what the pipeline's decoder makes of it.
async fn arrive(store: &Store, pdu: &str) -> Option<i64> {
    let id = store.insert_received(received(pdu)).await.unwrap().id;
    store.record_decoded(id, decode_part(pdu)).await.unwrap()
}

#[test]
fn the_hand_built_parts_really_split_a_character() {
    // Decoded one by one, neither part holds the character: the test PDUs are what they claim.
    let texts: Vec<String> = split_euro()
        .iter()
        .map(|p| match pdu::decode(p).unwrap() {
            Pdu::Deliver(d) => d.text.unwrap(),
            other => panic!("not a DELIVER: {other:?}"),
        })
        .collect();
    assert!(!texts.concat().contains('€'), "{texts:?}");
    let DecodedPart::Part {
        encoding,
        user_data,
        seq,
        ..
    } = decode_part(&split_emoji()[1])
    else {
        panic!("not a part")
    };
    assert_eq!((encoding, seq), (pdu::Encoding::Ucs2, 2));
    assert_eq!(&user_data[..2], &[0xDE, 0x00]);
}

#[tokio::test]
async fn a_split_escape_decodes_whole_with_parts_in_reverse_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let [first, second] = split_euro();
    assert_eq!(arrive(&store, &second).await, None);
    assert!(arrive(&store, &first).await.is_some());
    let messages = store.unhandled_messages(10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "AJALI gharama €20");
    assert_eq!(messages[0].parts, 2);
    assert_eq!(messages[0].decode_status, DecodeStatus::Ok);
    assert_eq!(messages[0].sender.as_deref(), Some(SENDER));
}

#[tokio::test]
async fn a_split_surrogate_pair_decodes_whole_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let [first, second] = split_emoji();
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(arrive(&store, &first).await, None);
        // The same part read again after a crash is stored once and ignored.
        assert_eq!(arrive(&store, &first).await, None);
    }
    let store = Store::open(&path).unwrap();
    assert!(store.unhandled_messages(10).await.unwrap().is_empty());
    assert!(arrive(&store, &second).await.is_some());
    let messages = store.unhandled_messages(10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "Vurugu 😀 sasa");
    assert_eq!(messages[0].parts, 2);
}

#[tokio::test]
async fn an_incomplete_message_keeps_the_texts_of_the_parts_that_came() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let [first, _] = split_emoji();
    assert_eq!(arrive(&store, &first).await, None);
    assert_eq!(store.expire_incomplete(-1).await.unwrap(), 1);
    let messages = store.unhandled_messages(10).await.unwrap();
    assert_eq!(messages[0].decode_status, DecodeStatus::Incomplete);
    // The dangling half of the emoji shows as the replacement character, nothing is lost.
    assert_eq!(messages[0].text, "Vurugu \u{FFFD}");
}

#[tokio::test]
async fn parts_in_different_alphabets_join_by_their_texts() {
    // Some phones encode each part on its own: GSM-7 for one, UCS-2 for the next.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let first = gsm7_part(43, 1, b"VOL a Misisi ");
    let second = ucs2_part(43, 2, &utf16("ce matin 😡"));
    assert_eq!(arrive(&store, &first).await, None);
    assert!(arrive(&store, &second).await.is_some());
    let messages = store.unhandled_messages(10).await.unwrap();
    assert_eq!(messages[0].text, "VOL a Misisi ce matin 😡");
}

fn pipeline_config(dir: &Path) -> Config {
    let text = r#"
gateway_id = "test-gw"
reference_prefix = "K7"
database = "gateway.db"

[platform]
url = "http://127.0.0.1:9/"
token_file = "token"
"#;
    Config::parse(text, Path::new("test config"), dir).unwrap()
}

#[tokio::test]
async fn the_pipeline_joins_split_characters_from_committed_pdus() {
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline_config(dir.path());
    let store = Store::open(&config.database).unwrap();
    let pipeline = Pipeline::new(
        &config,
        Arc::new(Keywords::builtin().unwrap()),
        store.clone(),
    );
    let [euro1, euro2] = split_euro();
    let [emoji1, emoji2] = split_emoji();
    // Reverse order for the first message; the second completes after a pipeline pass.
    for pdu in [&euro2, &emoji1, &euro1] {
        store.insert_received(received(pdu)).await.unwrap();
    }
    pipeline.process_available().await.unwrap();
    store.insert_received(received(&emoji2)).await.unwrap();
    pipeline.process_available().await.unwrap();
    let batch = store.next_batch("test-gw", 10).await.unwrap().unwrap();
    let mut texts: Vec<(String, u32)> = batch
        .incidents
        .iter()
        .map(|i| (i.text.clone(), i.parts))
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        vec![
            ("AJALI gharama €20".to_string(), 2),
            ("Vurugu 😀 sasa".to_string(), 2)
        ]
    );
    assert!(
        batch
            .incidents
            .iter()
            .all(|i| i.decode_status == DecodeStatus::Ok)
    );
    assert!(batch.incidents.iter().all(|i| i.raw_pdus.len() == 2));
}
