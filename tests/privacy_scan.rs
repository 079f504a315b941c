//! A reporter's number never leaves the box unless the config says so, and never reaches the
//! log: the real daemon (the crate's binary) runs reports, replies, delivery reports and a
//! platform message through the simulated modem, every byte it sends to the platform is
//! recorded by a proxy on 127.0.0.1 as it crosses the wire, and both the wire and the log are
//! searched for each sender's number in every form it could take.

use std::time::{Duration, Instant};

use crate::common::daemon::{Options, Rig};
use crate::common::wire::{Wire, recording_proxy};
use platform_api::Recipient;
use platform_stub::MessageState;

/// Longest wait for anything below.
const BOUND: Duration = Duration::from_secs(180);

/// The senders of the scenario; none of their forms may leave the box.
const SINGLE: &str = "+243971234567";
const LONG: &str = "+243852345678";
const UNICODE: &str = "+243813456789";
const UNDECODABLE: &str = "+243994567890";
const UNLOCATABLE: &str = "+243825678901";
const SENDERS: [&str; 5] = [SINGLE, LONG, UNICODE, UNDECODABLE, UNLOCATABLE];

/// Every form a number can take in bytes: international with and without `+`, national (`0`
/// and the rest), the last nine digits, swapped BCD semi-octets as in a PDU (upper and lower
/// case, international and national), and base64 of the digits and of the BCD octets at each
/// of the three alignments base64 can start on.
pub fn forms(number: &str) -> Vec<String> {
    let digits = number.trim_start_matches('+');
    let national = format!("0{}", &digits[3..]);
    let mut out = vec![
        number.to_string(),
        format!("%2B{digits}"),
        digits.to_string(),
        national.clone(),
        digits[digits.len() - 9..].to_string(),
    ];
    for d in [digits, national.as_str()] {
        let bcd = bcd(d);
        let hex = hex::encode_upper(&bcd);
        out.push(hex.to_lowercase());
        out.push(hex);
        out.extend(base64_forms(&bcd));
        out.extend(base64_forms(d.as_bytes()));
    }
    out.retain(|f| f.len() >= 6);
    out.sort();
    out.dedup();
    out
}

/// Swapped semi-octets, F-filled when odd, as TS 23.040 writes an address.
fn bcd(digits: &str) -> Vec<u8> {
    digits
        .as_bytes()
        .chunks(2)
        .map(|p| (p[0] - b'0') | (p.get(1).map_or(0x0F, |d| d - b'0') << 4))
        .collect()
}

/// The base64 characters fixed by `bytes` alone when they start at offset 0, 1 or 2 of a
/// 3-byte group (the characters shared with neighbouring bytes are left out).
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    (0..3)
        .map(|align| {
            let mut padded = vec![0u8; align];
            padded.extend_from_slice(bytes);
            let encoded = base64(&padded);
            let start = (align * 8).div_ceil(6);
            let end = padded.len() * 8 / 6;
            encoded[start..end].to_string()
        })
        .collect()
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every form of every number found in `haystack`, as "number: form (n times)".
pub fn hits(haystack: &[u8], numbers: &[&str]) -> Vec<String> {
    let text = String::from_utf8_lossy(haystack);
    let mut out = Vec::new();
    for number in numbers {
        for form in forms(number) {
            let n = text.matches(form.as_str()).count();
            if n > 0 {
                out.push(format!("{number}: {form:?} ({n} times)"));
            }
        }
    }
    out
}

/// An SMS-STATUS-REPORT for message reference `mr` to `recipient`, delivered.
fn status_report(mr: u8, recipient: &str) -> String {
    let digits = recipient.trim_start_matches('+');
    let mut pdu = vec![0x00, 0x06, mr, digits.len() as u8, 0x91];
    pdu.extend(bcd(digits));
    let scts = [0x62, 0x30, 0x41, 0x90, 0x62, 0x35, 0x80];
    pdu.extend(scts);
    pdu.extend(scts);
    pdu.push(0x00);
    hex::encode_upper(pdu)
}

/// A DELIVER from `sender` whose user data is cut short: undecodable, its address intact.
fn undecodable_deliver(sender: &str) -> String {
    let pdu = &pdu::encode_deliver(
        sender,
        "AJALI mgodini",
        time::macros::datetime!(2026-03-14 09:26:53 +02:00),
        "+243810000000",
        1,
    )
    .unwrap()[0];
    pdu[..pdu.len() - 6].to_string()
}

/// A PDU whose SMSC prefix is impossible (so no address can be located), holding the number
/// where a careless reader would find it.
fn unlocatable_pdu(sender: &str) -> String {
    let digits = sender.trim_start_matches('+');
    let mut pdu = vec![0x44, 0x04, digits.len() as u8, 0x91];
    pdu.extend(bcd(digits));
    pdu.extend([
        0x00, 0x00, 0x62, 0x30, 0x41, 0x90, 0x62, 0x35, 0x80, 0x02, 0xC1, 0x30,
    ]);
    hex::encode_upper(pdu)
}

/// What one run of the scenario left behind.
struct Run {
    wire: Wire,
    log: String,
    incidents: usize,
}

/// The binary through reports (short, long, UCS-2, undecodable, unreadable), their acks, the
/// network's delivery reports for the acks, a platform message sent to a reporter, heartbeats
/// and outbound status reports — with `extra` config tables.
async fn scenario(extra: &str) -> Run {
    let rig = Rig::start(Options {
        platform: "flush_after = \"200ms\"\nbatch_max = 3\nretry_max = \"500ms\"\n\
                   heartbeat_interval = \"300ms\"\noutbound_poll_interval = \"200ms\""
            .into(),
        extra: format!("[sms]\nstatus_reports = true\n\n{extra}"),
        ..Options::slots(20)
    })
    .await;
    let (proxy, wire) = recording_proxy(rig.addr).await;
    rig.send_platform_requests_to(&proxy);
    let gw = rig.spawn_binary();
    let deadline = Instant::now() + BOUND;

    rig.sim
        .inject(SINGLE, "AJALI mgodi wa Kalimbi, watu wawili wamejeruhiwa");
    // The long report's first part arrives twice, the second time with another service-centre
    // time (a network retransmission): a different PDU, the same part.
    let long = |minute: u64| {
        pdu::encode_deliver(
            LONG,
            "VURUGU sokoni Kamituga: watu wenye silaha wamefika asubuhi na kuchukua madini \
             yote ya wachimbaji. Wanasema watarudi kesho. Tafadhali tusaidieni haraka, \
             barabara imefungwa na hatuna simu nyingine.",
            time::macros::datetime!(2026-03-14 09:00 +02:00) + Duration::from_secs(60 * minute),
            "+243810000000",
            42,
        )
        .unwrap()
    };
    let (first_try, again) = (long(0), long(1));
    rig.sim.inject_pdu(&first_try[0]);
    rig.sim.inject_pdu(&again[0]);
    rig.sim.inject_pdu(&first_try[1]);
    rig.sim
        .inject(UNICODE, "Hommes armés à Lugushwa 🙁 depuis ce matin");
    rig.sim.inject_pdu(&undecodable_deliver(UNDECODABLE));
    rig.sim.inject_pdu(&unlocatable_pdu(UNLOCATABLE));

    gw.wait_until("the five reports on the platform", deadline, || {
        rig.stub().incidents().len() == 5
    })
    .await;
    gw.wait_until("the acks on the line", deadline, || {
        [SINGLE, LONG, UNICODE]
            .iter()
            .all(|n| rig.sim.sent().iter().any(|s| s.to == *n))
    })
    .await;
    for sent in rig.sim.sent() {
        rig.sim
            .inject_status_report(&status_report(sent.message_reference, &sent.to));
    }
    // The technician's test SMS (`kufatilia-gateway send`), queued beside the running daemon.
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .args(["send", "--config"])
        .arg(&rig.config_path)
        .args(["--modem", "vodacom", UNICODE, "Jaribio la mtandao"])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    gw.wait_until("the technician's SMS on the line", deadline, || {
        rig.sim
            .sent()
            .iter()
            .any(|s| s.text == "Jaribio la mtandao")
    })
    .await;
    let first = rig
        .stub()
        .incidents()
        .into_iter()
        .find(|i| i.raw_text.starts_with("AJALI"))
        .unwrap();
    let message = rig
        .stub()
        .enqueue_outbound(
            Recipient::Incident(first.id.clone()),
            "Tunafuatilia kesi yako",
        )
        .unwrap();
    gw.wait_until("the platform's message sent and reported", deadline, || {
        rig.stub()
            .outbound()
            .iter()
            .any(|o| o.id == message.id && o.state == MessageState::Sent)
    })
    .await;
    let heartbeats = rig.stub().heartbeats().len();
    gw.wait_until("one more heartbeat", deadline, || {
        rig.stub().heartbeats().len() > heartbeats
    })
    .await;
    let incidents = rig.stub().incidents().len();
    drop(gw);
    let log = std::fs::read_to_string(rig.dir.path().join("gateway.log")).unwrap_or_default();
    rig.shutdown().await;
    Run {
        wire,
        log,
        incidents,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_byte_sent_to_the_platform_holds_a_senders_number() {
    let run = scenario("").await;
    assert_eq!(run.incidents, 5);
    let bytes = run.wire.bytes();
    assert!(
        !bytes.is_empty() && run.wire.connections() > 0,
        "the proxy saw the traffic"
    );
    let found = hits(&bytes, &SENDERS);
    assert!(
        found.is_empty(),
        "{} bytes over {} connections to the platform hold senders' numbers:\n{}",
        bytes.len(),
        run.wire.connections(),
        found.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_numbers_is_what_puts_them_on_the_wire() {
    // The scan can see a number: with sharing on, the same run carries every readable one.
    let run = scenario("[privacy]\nshare_phone_numbers = true").await;
    let found = hits(&run.wire.bytes(), &[SINGLE, LONG, UNICODE]);
    for n in [SINGLE, LONG, UNICODE] {
        assert!(
            found
                .iter()
                .any(|h| h.starts_with(&format!("{n}: \"{n}\""))),
            "{n} shared: {found:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_names_no_sender_at_the_default_level() {
    let run = scenario("").await;
    assert!(
        run.log.contains("SMS in"),
        "the log was captured:\n{}",
        run.log
    );
    let found = hits(run.log.as_bytes(), &SENDERS);
    assert!(
        found.is_empty(),
        "the gateway's log ({} lines) names senders:\n{}",
        run.log.lines().count(),
        found.join("\n")
    );
}

#[test]
fn the_forms_cover_a_pdu_and_base64() {
    let f = forms("+243971234567");
    for expected in [
        "+243971234567",
        "243971234567",
        "0971234567",
        "971234567",
        "429317325476",
        "429317325476".to_uppercase().as_str(),
    ] {
        assert!(f.iter().any(|x| x == expected), "{expected} in {f:?}");
    }
    let pdu = pdu::encode_deliver(
        "+243971234567",
        "x",
        time::macros::datetime!(2026-03-14 09:26:53 +02:00),
        "",
        0,
    )
    .unwrap()
    .remove(0);
    let raw = hex::decode(&pdu).unwrap();
    for prefix in 0..3 {
        let mut bytes = vec![0x55; prefix];
        bytes.extend(&raw);
        let b64 = base64(&bytes);
        assert!(
            !hits(b64.as_bytes(), &["+243971234567"]).is_empty(),
            "{b64}"
        );
    }
    assert!(!hits(pdu.to_lowercase().as_bytes(), &["+243971234567"]).is_empty());
}

// The demo's account (stdout) and its log (stderr), run as a technician would.
#[cfg(feature = "demo")]
#[test]
fn the_demo_prints_no_senders_number() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .arg("demo")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let numbers: Vec<&str> = kufatilia_gateway::demo::DEMO_MESSAGES
        .iter()
        .map(|(from, _)| *from)
        .filter(|from| from.starts_with('+'))
        .collect();
    let mut all = out.stdout.clone();
    all.extend(&out.stderr);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Summary"));
    let found = hits(&all, &numbers);
    assert!(
        found.is_empty(),
        "the demo's output names senders:\n{}",
        found.join("\n")
    );
}
