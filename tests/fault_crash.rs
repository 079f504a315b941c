//! Crash consistency: the real daemon binary, SIGKILLed at random points (fixed seed) during a
//! 200-message burst and restarted right away each time, on the simulated modem (a real pty) and
//! the reference platform receiver (127.0.0.1) that live in this test process.
//!
//! Afterwards every injected message is on the platform exactly once, every PDU the simulator
//! delivered is in the gateway's `received` table, and the simulator's command log shows that no
//! SIM slot was deleted before its message was read and committed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::burst::{self, tag};
use crate::common::daemon::{Options, Rig, exactly_once};
use crate::common::slots::{check_deletes_after_commit, stored_rows};
use modem_sim::encode_deliver;

const MESSAGES: usize = 200;
const KILLS: usize = 30;
/// The burst comes in this many waves, one every `KILLS / WAVES` kills.
const WAVES: usize = 5;
const SEED: u64 = 0x6b75_6661_7469_6c69;
/// Worst case for the whole test; each wait below takes a share of it.
const BOUND: Duration = Duration::from_secs(180);

/// One injected message: its text (unique) and the PDUs the network delivered for it.
struct Injected {
    text: String,
    pdus: Vec<String>,
}

fn message(i: usize) -> (String, String) {
    let sender = format!("+24381{:07}", 1000 + i);
    // Every 25th a long one.
    let text = burst::text(i, i % 25 == 7);
    (sender, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_loses_nothing_and_deletes_only_committed_slots() {
    let started = Instant::now();
    let deadline = started + BOUND;
    let mut options = Options {
        gateway_id: "crash-gw".into(),
        modem: "operator = \"Vodacom\"\nsweep_interval = \"1s\"\nsend_gap = \"10ms\"".into(),
        platform: "flush_after = \"100ms\"\nbatch_max = 16\nretry_max = \"1s\"".into(),
        ..Options::default()
    };
    options.sim.slots = 30;
    let smsc = options.sim.smsc.clone();
    let rig = Rig::start(options).await;
    let (sim, stub) = (&rig.sim, rig.stub());
    let mut gw = rig.spawn_binary();

    let mut injected = Vec::with_capacity(MESSAGES);
    let now = time::OffsetDateTime::now_utc();
    for i in 0..MESSAGES {
        let (sender, text) = message(i);
        let pdus = encode_deliver(&sender, &text, now, &smsc, i as u8).unwrap();
        injected.push(Injected { text, pdus });
    }
    let long = injected.iter().filter(|m| m.pdus.len() > 1).count();
    assert!(long >= 5, "a few multipart messages ({long})");

    // The burst arrives in a few waves while the gateway is killed at random points: during
    // start-up, while reading, between commit and delete, while replying or forwarding.
    let mut rng = StdRng::seed_from_u64(SEED);
    let per_wave = MESSAGES / WAVES;
    let mut next = 0;
    let mut kills_with_work_in_flight = 0;
    for k in 0..KILLS {
        let wave = k % (KILLS / WAVES) == 0 && next < MESSAGES;
        if wave {
            for m in &injected[next..next + per_wave] {
                for pdu in &m.pdus {
                    sim.inject_pdu(pdu);
                }
            }
            next += per_wave;
        }
        // Right after a wave the kill comes soon, while the wave is surely in flight (the
        // gateway takes a wave in well under a second); the others land anywhere.
        let run_for = Duration::from_millis(if wave {
            rng.random_range(20..120)
        } else {
            rng.random_range(30..600)
        });
        tokio::time::sleep(run_for).await;
        if stub.incidents().len() < next || sim.sim_used() > 0 || sim.network_queue_len() > 0 {
            kills_with_work_in_flight += 1;
        }
        gw.kill();
        gw.start();
    }
    assert_eq!(next, MESSAGES);
    assert!(
        kills_with_work_in_flight >= WAVES,
        "the kills hit a busy gateway ({kills_with_work_in_flight} of {KILLS} did)"
    );
    assert!(gw.starts > KILLS, "{} starts", gw.starts);

    let platform_has_all = || {
        let ids: HashSet<_> = stub.incidents().into_iter().map(|p| p.id).collect();
        ids.len() >= MESSAGES
    };
    gw.wait_until("every message on the platform", deadline, || {
        platform_has_all() && sim.sim_used() == 0 && sim.network_queue_len() == 0
    })
    .await;
    gw.kill();

    // Exactly once by id, and each injected text is there.
    let platform = exactly_once(stub, MESSAGES);
    for (i, m) in injected.iter().enumerate() {
        let tag = tag(i);
        let n = platform
            .iter()
            .filter(|p| p.description.contains(&tag))
            .count();
        assert_eq!(n, 1, "{tag:?} on the platform {n} times: {:?}", m.text);
    }

    // Every PDU the simulator delivered is committed; the command log agrees with the store.
    let rows = stored_rows(&rig.db_path());
    let stored: HashSet<String> = rows.iter().map(|r| r.2.to_ascii_uppercase()).collect();
    let delivered: Vec<&String> = injected.iter().flat_map(|m| &m.pdus).collect();
    for pdu in &delivered {
        assert!(
            stored.contains(&pdu.to_ascii_uppercase()),
            "delivered but not in `received`: {pdu}"
        );
    }
    let log = sim.command_log_timed();
    let deletes = check_deletes_after_commit(&log, &rows);
    assert!(
        deletes >= delivered.len(),
        "every slot was freed by a delete ({deletes} deletes, {} PDUs)",
        delivered.len()
    );
    eprintln!(
        "{} starts ({kills_with_work_in_flight} kills with work in flight), {} PDUs, {} deletes, {} platform posts, {:?}",
        gw.starts,
        delivered.len(),
        deletes,
        stub.batch_posts(),
        started.elapsed()
    );
    rig.shutdown().await;
}
