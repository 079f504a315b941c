//! The field faults of issue 8, each against the real daemon (the crate's binary with a real
//! config file), the simulated modem on a real pty, a real SQLite file and the reference
//! platform receiver on 127.0.0.1: a burst of reports from several senders, some of them long,
//! with one fault applied in the middle of it.
//!
//! Every case checks that nothing is lost: each injected message is stored once and on the
//! platform exactly once by id, each report got its acknowledgement, the SIM and the network
//! queue are empty, the gateway's queues are drained, and no SIM slot was deleted before the
//! message read from it was committed. Waits are bounded polls; nothing asserts on timing.
//! `FAULT_SUITE_LOG=1` prints each case's gateway log.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use crate::common::burst;
use crate::common::daemon::{GatewayProcess, Options, Rig, exactly_once};
use crate::common::slots::{check_deletes_after_commit, stored_rows};
use modem_sim::LoggedCommand;
use modem_sim::encode_deliver;
use store::MAX_SEND_ATTEMPTS;
use time::OffsetDateTime;

/// Messages in each burst.
const MESSAGES: usize = 60;
/// Senders of the burst; each sends `MESSAGES / SENDERS` reports (under the hourly reply limit).
const SENDERS: usize = 20;
/// Longest wait for the gateway to settle once the fault is over.
const SETTLE: Duration = Duration::from_secs(90);

fn sender(i: usize) -> String {
    format!("+24382{:07}", 5000 + i % SENDERS)
}

/// Report `i` of the burst; every tenth is long (several parts).
fn text(i: usize) -> String {
    burst::text(i, i % 10 == 4)
}

/// One case: the rig, the gateway binary, and the PDUs of each message of the burst.
struct Case {
    rig: Rig,
    gw: GatewayProcess,
    pdus: Vec<Vec<String>>,
    started: std::time::Instant,
}

impl Case {
    async fn start(mut options: Options) -> Case {
        let started = std::time::Instant::now();
        // Fast sweeps and forwarding, so the bounds below are generous.
        options.modem =
            "operator = \"Vodacom\"\nsweep_interval = \"1s\"\nsend_gap = \"10ms\"".into();
        options.platform = "flush_after = \"100ms\"\nbatch_max = 16\nretry_max = \"1s\"".into();
        // A reply whose send failed (or is in doubt after a hang) is tried again after a second.
        options.extra = "[sms]\nretry_after = \"1s\"".into();
        let rig = Rig::start(options).await;
        let smsc = modem_sim::SimConfig::default().smsc;
        let now = OffsetDateTime::now_utc();
        let pdus: Vec<Vec<String>> = (0..MESSAGES)
            .map(|i| {
                encode_deliver(&sender(i), &text(i), now, &smsc, i as u8)
                    .expect("the burst encodes")
            })
            .collect();
        assert!(
            pdus.iter().filter(|p| p.len() > 1).count() >= 5,
            "a few long messages in the burst"
        );
        let gw = rig.spawn_binary();
        Case {
            rig,
            gw,
            pdus,
            started,
        }
    }

    /// The network delivers messages `range` of the burst.
    fn inject(&self, range: Range<usize>) {
        for i in range {
            for pdu in &self.pdus[i] {
                self.rig.sim.inject_pdu(pdu);
            }
        }
    }

    fn total_pdus(&self) -> usize {
        self.pdus.iter().map(Vec::len).sum()
    }

    /// PDUs committed so far (0 before the database exists).
    fn received(&self) -> usize {
        rusqlite::Connection::open_with_flags(
            self.rig.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM received", [], |r| r.get::<_, i64>(0)))
        .map_or(0, |n| n as usize)
    }

    /// Waits until the gateway committed at least `n` PDUs.
    async fn wait_received(&self, n: usize) {
        self.wait(SETTLE, &format!("{n} PDUs committed"), || {
            self.received() >= n
        })
        .await;
    }

    async fn wait(&self, bound: Duration, what: &str, done: impl FnMut() -> bool) {
        self.gw
            .wait_until(what, std::time::Instant::now() + bound, done)
            .await;
    }

    /// (reference, sender, text) of every incident, and every reply row, from the gateway's
    /// database.
    fn gateway_rows(&self) -> rusqlite::Result<(Vec<Incident>, Vec<Reply>)> {
        let db = rusqlite::Connection::open_with_flags(
            self.rig.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let incidents = db
            .prepare(
                "SELECT i.reference, COALESCE(m.sender, ''), m.text
                 FROM incidents i JOIN messages m ON m.id = i.message_id ORDER BY i.id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let replies = db
            .prepare(
                "SELECT recipient, text, state, attempts, COALESCE(last_error, '')
                 FROM outgoing ORDER BY id",
            )?
            .query_map([], |r| {
                Ok(Reply {
                    to: r.get(0)?,
                    text: r.get(1)?,
                    state: r.get(2)?,
                    attempts: r.get(3)?,
                    error: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((incidents, replies))
    }

    /// Replies the gateway handed to the modem more than 5 s ago without an outcome: a fault
    /// cut the send after the modem took it, and they wait for a technician's decision.
    fn sends_in_doubt(&self) -> u64 {
        let Ok(db) = rusqlite::Connection::open_with_flags(
            self.rig.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return 0;
        };
        let before = OffsetDateTime::now_utc().unix_timestamp() * 1000 - 5000;
        db.query_row(
            "SELECT COUNT(*) FROM outgoing WHERE state = 'sending' AND claimed_at_ms < ?1",
            [before],
            |r| r.get::<_, i64>(0),
        )
        .map_or(0, |n| n.unsigned_abs())
    }

    /// Everything delivered, acknowledged and drained; with `sends_cut`, a reply whose send the
    /// fault cut may stay unconfirmed.
    fn settled(&self, sends_cut: bool) -> bool {
        let d = self.rig.depths();
        let on_platform: HashSet<String> = self
            .rig
            .stub()
            .incidents()
            .into_iter()
            .map(|p| p.id)
            .collect();
        on_platform.len() >= MESSAGES
            && self.rig.sim.sim_used() == 0
            && self.rig.sim.network_queue_len() == 0
            && d.undecoded == 0
            && d.waiting_parts == 0
            && d.unhandled_messages == 0
            && d.undelivered_incidents == 0
            && d.queued_sms == 0
            && (d.unconfirmed_sms == 0 || sends_cut && d.unconfirmed_sms == self.sends_in_doubt())
            && self
                .gateway_rows()
                .is_ok_and(|(_, replies)| replies.len() >= MESSAGES)
    }

    /// Waits for the gateway to settle, then checks that nothing was lost. Returns the reply
    /// rows and the simulator's command log, for checks of the case's own.
    async fn finish(self, expect: Expect) -> (Vec<Reply>, Vec<String>) {
        self.wait(
            SETTLE,
            "the burst delivered, acknowledged and drained",
            || self.settled(expect.sends_cut),
        )
        .await;

        // On the platform exactly once by id, each injected message there once.
        let platform = exactly_once(self.rig.stub(), MESSAGES);
        assert_eq!(
            self.rig.stub().conflicts_seen(),
            0,
            "a retried batch never changes"
        );
        for i in 0..MESSAGES {
            let n = platform.iter().filter(|p| p.raw_text == text(i)).count();
            assert_eq!(n, 1, "message {i} on the platform {n} times");
        }

        // Stored once: each PDU once in `received`, each message once as an incident.
        let rows = stored_rows(&self.rig.db_path());
        let stored: HashMap<String, usize> =
            rows.iter().fold(HashMap::new(), |mut m, (_, _, pdu)| {
                *m.entry(pdu.to_ascii_uppercase()).or_default() += 1;
                m
            });
        for pdu in self.pdus.iter().flatten() {
            assert_eq!(
                stored.get(&pdu.to_ascii_uppercase()),
                Some(&1),
                "delivered PDU stored once: {pdu}"
            );
        }
        assert_eq!(
            rows.len(),
            self.total_pdus(),
            "nothing stored but the burst"
        );
        let (incidents, replies) = self.gateway_rows().expect("read the gateway database");
        assert_eq!(incidents.len(), MESSAGES);

        // Every report acknowledged: its reply, naming its reference, went out to its sender
        // (or, where the modem refuses sends, was given up after the store's last attempt).
        assert_eq!(replies.len(), MESSAGES, "one reply queued per report");
        let sent = self.rig.sim.sent();
        for i in 0..MESSAGES {
            let matching: Vec<_> = incidents.iter().filter(|r| r.2 == text(i)).collect();
            assert_eq!(matching.len(), 1, "message {i} is one incident");
            let (reference, from, _) = matching[0];
            assert_eq!(from, &sender(i));
            let reply = replies
                .iter()
                .find(|r| r.to == sender(i) && r.text.contains(reference.as_str()))
                .unwrap_or_else(|| panic!("no reply queued for {reference}"));
            // Never twice: a reply naming its reference reaches the network at most once.
            let copies = sent
                .iter()
                .filter(|s| s.to == sender(i) && s.text.contains(reference.as_str()))
                .count();
            assert!(
                copies <= 1,
                "the reply naming {reference} sent {copies} times"
            );
            if reply.state == "sending" && expect.sends_cut {
                // The modem took it and the fault hid the outcome: left for a technician.
                continue;
            }
            if reply.state == "failed" && expect.refusals {
                assert_eq!(reply.attempts, i64::from(MAX_SEND_ATTEMPTS), "{reply:?}");
                assert!(reply.error.contains("+CMS ERROR"), "{reply:?}");
                continue;
            }
            assert_eq!(reply.state, "sent", "{reply:?}");
            assert!(
                sent.iter()
                    .any(|s| s.to == sender(i) && s.text.contains(reference.as_str())),
                "no reply naming {reference} sent to {}",
                sender(i)
            );
        }

        // No SIM slot deleted before its message was committed.
        let full_log = self.rig.sim.command_log_timed();
        let log: Vec<LoggedCommand> = full_log
            .iter()
            .filter(|c| {
                !expect
                    .ignored
                    .is_some_and(|(from, to)| c.at >= from && c.at <= to)
            })
            .cloned()
            .collect();
        let deletes = check_deletes_after_commit(&log, &rows);
        assert!(deletes > 0);
        eprintln!(
            "{} PDUs, {deletes} deletes, {} SMS on the line, {} platform posts, {:?}",
            rows.len(),
            sent.len(),
            self.rig.stub().batch_posts(),
            self.started.elapsed()
        );
        // The whole gateway log, to see where a case spends its time.
        if std::env::var_os("FAULT_SUITE_LOG").is_some() {
            eprintln!("{}", self.gw.log_text());
        }
        let mut case = self;
        case.gw.kill();
        case.rig.shutdown().await;
        (replies, full_log.into_iter().map(|c| c.line).collect())
    }
}

/// An incident in the gateway's database: (reference, sender, text).
type Incident = (String, String, String);

/// One row of the gateway's outgoing queue.
#[derive(Debug)]
struct Reply {
    to: String,
    text: String,
    state: String,
    attempts: i64,
    error: String,
}

/// What a case allows beyond the common checks.
#[derive(Debug, Default)]
struct Expect {
    /// A time the modem ignored what it got (a hang): its log lines are left out of the check
    /// that slots are deleted only after their message is committed.
    ignored: Option<(OffsetDateTime, OffsetDateTime)>,
    /// The modem refuses sends: a reply may be given up after the store's last attempt.
    refusals: bool,
    /// The fault can cut a send after the modem took its PDU: that reply stays unconfirmed
    /// (`sending`), never sent again by itself.
    sends_cut: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_unplugged_for_ten_seconds_mid_burst_loses_nothing() {
    let case = Case::start(Options {
        sim_link: true,
        ..Options::default()
    })
    .await;
    case.inject(0..MESSAGES / 2);
    case.wait_received(10).await;
    case.rig.sim.unplug_for(Duration::from_secs(10)).await;
    case.inject(MESSAGES / 2..MESSAGES);
    case.finish(Expect {
        sends_cut: true,
        ..Expect::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_hung_for_thirty_seconds_mid_burst_loses_nothing() {
    let case = Case::start(Options::default()).await;
    case.inject(0..MESSAGES / 2);
    case.wait_received(10).await;
    let hung_from = OffsetDateTime::now_utc();
    case.rig.sim.set_hang(true);
    case.inject(MESSAGES / 2..MESSAGES);
    // The length of the fault, not a wait for a result.
    tokio::time::sleep(Duration::from_secs(30)).await;
    case.rig.sim.set_hang(false);
    let hung_to = OffsetDateTime::now_utc();
    case.finish(Expect {
        ignored: Some((hung_from, hung_to)),
        sends_cut: true,
        ..Expect::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_line_during_the_burst_loses_nothing() {
    let case = Case::start(Options::default()).await;
    // Noise before every answer, and noise, invalid UTF-8 and cut URCs between them.
    case.rig
        .sim
        .set_faults(|f| f.garbage_before_reply = Some(b"\xff\x00~~\r\nZX#\r\n".to_vec()));
    const NOISE: &[&[u8]] = &[
        b"\r\n\xc3\x28\xa0\xa1 \xf0\x28\x8c\xbc\r\n",
        b"\x07\x1b\x1a",
        b"\r\n+CMTI: \"SM\",\r\n",
        b"\r\n+CMTI: \"S",
        b"\r\n^WEIRD: 1\r\n",
        b"\r\n+CMT: ,23\r\n",
        b"\r\n+CDSI:\r\n",
        b"\r\n+CSQ: 1",
        b"~~~~\xff\xfe\xfd",
    ];
    case.inject(0..MESSAGES / 2);
    let total = case.total_pdus();
    let mut sent_noise = 0;
    let mut second_half = false;
    // Noise on every poll until the whole burst is committed.
    case.wait(SETTLE, "every PDU committed under noise", || {
        for _ in 0..3 {
            case.rig.sim.send_raw(NOISE[sent_noise % NOISE.len()]);
            sent_noise += 1;
        }
        if !second_half && case.received() >= 10 {
            case.inject(MESSAGES / 2..MESSAGES);
            second_half = true;
        }
        second_half && case.received() >= total
    })
    .await;
    case.rig.sim.set_faults(|f| f.garbage_before_reply = None);
    case.finish(Expect::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sim_during_the_burst_loses_nothing() {
    // Three slots for a burst of more than seventy PDUs: the network holds the rest.
    let case = Case::start(Options::slots(3)).await;
    case.inject(0..MESSAGES);
    assert!(case.rig.sim.network_queue_len() > 0, "the SIM is full");
    case.finish(Expect::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cms_error_on_every_third_send_loses_nothing() {
    let case = Case::start(Options::default()).await;
    case.rig
        .sim
        .set_faults(|f| f.fail_every_nth_send = Some((3, 38)));
    case.inject(0..MESSAGES);
    let (replies, log) = case
        .finish(Expect {
            refusals: true,
            ..Expect::default()
        })
        .await;
    // What the store promises: a refused send is tried again later, the first retry after
    // `sms.retry_after`, and given up after its fifth refusal. Each refusal the simulator gave
    // is one recorded attempt of a reply that was not its success.
    let sends = log.iter().filter(|l| l.starts_with("<PDU>")).count();
    let refused = sends / 3;
    let recorded: i64 = replies
        .iter()
        .map(|r| match r.state.as_str() {
            "sent" => r.attempts - 1,
            _ => r.attempts,
        })
        .sum();
    assert_eq!(
        recorded as usize, refused,
        "{sends} sends, every third refused"
    );
    assert!(refused >= MESSAGES / 3, "{refused} refusals");
    let sent_after_retry = replies
        .iter()
        .filter(|r| r.state == "sent" && r.attempts >= 2)
        .count();
    assert!(sent_after_retry > 0, "replies went out after a refusal");
    eprintln!(
        "{refused} refusals; {sent_after_retry} replies sent after a retry, {} given up",
        replies.iter().filter(|r| r.state == "failed").count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_down_for_the_whole_burst_loses_nothing() {
    let mut case = Case::start(Options::default()).await;
    case.rig.stop_stub().await;
    case.inject(0..MESSAGES);
    // Stored, acknowledged, and waiting for the platform.
    let total = case.total_pdus();
    case.wait(
        SETTLE,
        "the burst stored and acknowledged while offline",
        || {
            let d = case.rig.depths();
            case.received() >= total
                && d.undelivered_incidents == MESSAGES as u64
                && d.sms_to_settle() == 0
                && case.rig.sim.sent().len() >= MESSAGES
        },
    )
    .await;
    // Back, overloaded for a few posts first, then well.
    case.rig.restart_stub().await;
    case.rig.stub().fail_next(503, 3);
    case.finish(Expect::default()).await;
}
