//! The retention purge, checked in bytes: a store filled by the real daemon (reports, a survey,
//! replies with their delivery reports, a platform message, a batch the platform refused) is
//! purged, then every file SQLite keeps beside it is scanned for each reporter's number in every
//! form it can take, the hashes of their PDUs, their pseudonyms and what they wrote.

use crate::common::link::{delivered_report, semi_octets};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::common::daemon::{Gateway, Options};
use platform_api::Recipient;
use platform_stub::MessageState;

/// A `received` row: id, PDU hex, its hash, its user data.
type StoredPdu = (i64, String, Vec<u8>, Option<Vec<u8>>);

const BOUND: Duration = Duration::from_secs(120);

/// Reporters, each with a report whose words appear nowhere else.
const REPORTS: &[(&str, &str)] = &[
    ("+243812340001", "AJALI karibu na Kalimbi zuliakwanza"),
    ("+243812340002", "Vurugu sokoni Nyabibwe mvumilivupili"),
    ("+243812340003", "AJALI Rubaya shimo ndefutatu"),
];
/// Reported while the platform refuses batches: quarantined, never delivered.
const REFUSED: (&str, &str) = ("+243812340004", "Ushuru haramu Numbi kilemboine");
/// The survey of a fifth reporter, closed as a partial report.
const SURVEYOR: &str = "+243812340005";

async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    crate::common::wait_until(BOUND, what, done).await
}

/// Every byte string that betrays `number`: with and without `+`, the national form, and the
/// semi-octets of a PDU (hex in both cases and raw), plus its SHA-256.
fn number_forms(number: &str) -> Vec<(String, Vec<u8>)> {
    let digits = number.trim_start_matches('+');
    let national = format!("0{}", &digits[3..]);
    let bcd = semi_octets(digits);
    let mut forms = vec![
        (number.to_string(), number.as_bytes().to_vec()),
        (format!("{digits} (no +)"), digits.as_bytes().to_vec()),
        (
            format!("{national} (national)"),
            national.as_bytes().to_vec(),
        ),
        (format!("{bcd} (semi-octets)"), bcd.as_bytes().to_vec()),
        (
            format!("{bcd} (semi-octets, raw bytes)"),
            hex::decode(&bcd).unwrap(),
        ),
    ];
    if bcd.to_lowercase() != bcd {
        forms.push((
            format!("{} (semi-octets)", bcd.to_lowercase()),
            bcd.to_lowercase().into_bytes(),
        ));
    }
    let hash = Sha256::digest(number.as_bytes());
    forms.push((format!("sha256 of {number} (raw)"), hash.to_vec()));
    forms.push((
        format!("sha256 of {number} (hex)"),
        hex::encode(hash).into_bytes(),
    ));
    forms
}

/// What each file holds of `needles`: one line per finding.
fn scan(files: &[PathBuf], needles: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (label, needle) in needles {
            let hits = bytes
                .windows(needle.len())
                .filter(|w| *w == needle.as_slice())
                .count();
            if hits > 0 {
                found.push(format!("{name}: {label} ×{hits}"));
            }
        }
    }
    found
}

/// The database and every file SQLite may keep beside it.
fn database_files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", db.display())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_purge_no_file_of_the_database_holds_a_number_hash_or_text() {
    let r = Gateway::start(Options {
        extra: "[sms]\nstatus_reports = true".into(),
        platform: "flush_after = \"200ms\"\nretry_max = \"1s\"\noutbound_poll_interval = \"200ms\""
            .into(),
        ..Options::slots(30)
    })
    .await;
    for (from, text) in REPORTS {
        r.sim.inject(from, text);
    }
    wait_until("three reports delivered", || {
        r.stub().incidents().len() == 3
    })
    .await;

    // A survey left half done, closed as a partial report.
    r.sim.inject(SURVEYOR, "KUFATILIA");
    wait_until("the survey's first question", || {
        r.sim.sent().iter().any(|s| s.to == SURVEYOR)
    })
    .await;
    r.sim.inject(SURVEYOR, "2");
    wait_until("the survey's second question", || {
        r.sim.sent().iter().filter(|s| s.to == SURVEYOR).count() >= 2
    })
    .await;
    assert_eq!(r.daemon().store.expire_sessions(0).await.unwrap().len(), 1);
    wait_until("the partial survey delivered", || {
        r.stub().incidents().len() == 4
    })
    .await;

    // A message from the platform to the first reporter, by pseudonym.
    let first = r
        .stub()
        .incidents()
        .into_iter()
        .find(|i| i.raw_text == REPORTS[0].1)
        .unwrap();
    let pseudonyms: Vec<String> = r
        .stub()
        .incidents()
        .iter()
        .map(|i| i.reporter.clone())
        .collect();
    let message = r
        .stub()
        .enqueue_outbound(
            Recipient::Reporter(first.reporter.clone()),
            "Timu yetu itakupigia kesho asubuhi",
        )
        .unwrap();
    wait_until("the platform's message sent", || {
        r.stub()
            .outbound()
            .iter()
            .any(|o| o.id == message.id && o.state == MessageState::Sent)
    })
    .await;

    // The platform refuses the next batch: quarantined.
    r.stub().fail_next(400, 1);
    r.sim.inject(REFUSED.0, REFUSED.1);
    let db = r.db_path();
    wait_until("the refused batch quarantined", || {
        r.depths().quarantined_batches == 1 && r.depths().sms_to_settle() == 0
    })
    .await;

    // The network reports every SMS sent as delivered.
    for s in r.sim.sent() {
        r.sim
            .inject_status_report(&delivered_report(s.message_reference, &s.to));
    }
    let sent = r.sim.sent().len() as i64;
    wait_until("every delivery report recorded", || {
        rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM status_reports", [], |x| x.get(0)))
            .is_ok_and(|n: i64| n == sent)
    })
    .await;

    // What identifies the reporters, read before the purge: their PDUs and the hashes of them.
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    let numbers: Vec<&str> = REPORTS
        .iter()
        .map(|r| r.0)
        .chain([REFUSED.0, SURVEYOR])
        .collect();
    for n in &numbers {
        needles.extend(number_forms(n));
    }
    for (_, text) in REPORTS.iter().chain([&REFUSED]) {
        let word = text.split(' ').next_back().unwrap();
        needles.push((format!("text {text:?}"), text.as_bytes().to_vec()));
        needles.push((format!("word {word:?}"), word.as_bytes().to_vec()));
    }
    needles.push((
        "the platform's message".into(),
        b"itakupigia kesho".to_vec(),
    ));
    for p in &pseudonyms {
        needles.push((format!("pseudonym {p}"), p.as_bytes().to_vec()));
    }
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let rows: Vec<StoredPdu> = conn
            .prepare("SELECT id, pdu_hex, pdu_sha256, user_data FROM received")
            .unwrap()
            .query_map([], |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(rows.len() >= 5 + sent as usize, "{} PDUs", rows.len());
        for (id, pdu, hash, user_data) in rows {
            needles.push((format!("PDU #{id} (hex)"), pdu.clone().into_bytes()));
            needles.push((format!("PDU #{id} (raw)"), hex::decode(&pdu).unwrap()));
            needles.push((format!("sha256 of PDU #{id} (raw)"), hash.clone()));
            needles.push((
                format!("sha256 of PDU #{id} (hex)"),
                hex::encode(&hash).into_bytes(),
            ));
            if let Some(ud) = user_data.filter(|u| u.len() >= 8) {
                needles.push((format!("user data of PDU #{id}"), ud));
            }
        }
    }

    // Everything is older than the cutoff; the daemon runs on while its files are scanned.
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let counts = r
        .daemon()
        .store
        .purge_before(now_ms + 60_000)
        .await
        .unwrap();
    let found = scan(&database_files(&db), &needles);
    assert!(
        found.is_empty(),
        "the purged reporters are still in the database files:\n{}",
        found.join("\n")
    );
    assert_eq!(counts.incidents, 5, "{counts:?}");
    // The skeleton stays: five references, their types and times.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let skeleton: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM incidents WHERE reference != '' AND incident_type != ''
               AND created_at_ms > 0 AND purged_at_ms IS NOT NULL",
            [],
            |x| x.get(0),
        )
        .unwrap();
    assert_eq!(skeleton, 5);
    r.stop().await;
}
