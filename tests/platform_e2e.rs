//! The platform contract end to end with real parts: the simulated modem on a pseudo-terminal,
//! the gateway daemon on a SQLite file, and the reference receiver on 127.0.0.1. Outages are
//! time-compressed (short retry caps), never mocked.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::daemon::{Gateway, Options, Rig, SECRET};
use platform_api::Recipient;
use platform_stub::MessageState;
use store::{OutboundGuard, OutboundOutcome, RecipientKind, RefusalKind};

/// Longest wait for anything below.
const BOUND: Duration = Duration::from_secs(180);

/// `gateway_secret`: what the gateway signs with (the stub always expects `SECRET`).
async fn rig(sim_slots: usize, gateway_secret: &str, extra: &str) -> Gateway {
    Gateway::start(Options {
        gateway_secret: gateway_secret.into(),
        platform: "flush_after = \"200ms\"\nbatch_max = 25\nretry_max = \"500ms\"\n\
                   heartbeat_interval = \"300ms\"\noutbound_poll_interval = \"200ms\""
            .into(),
        extra: extra.into(),
        ..Options::slots(sim_slots)
    })
    .await
}

/// Waits until `done` holds, or fails the test after a generous bound.
async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    crate::common::wait_until(BOUND, what, done).await
}

async fn wait_for_depths(
    r: &Gateway,
    what: &str,
    mut done: impl FnMut(&store::QueueDepths) -> bool,
) {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let d = r.daemon().store.queue_depths().await.unwrap();
        if done(&d) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sender(i: usize) -> String {
    format!("+24381{i:07}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_reports_during_an_outage_arrive_exactly_once() {
    // Replies off: this test is about the platform side, and 500 acks would only slow it.
    // `quarantine_after` out of reach: with the default, the forwarder tries the next batch
    // now and then during the 503s (to tell a bad batch from a down platform), and recovery
    // could land on such a try, delivering one batch before the oldest; the order is the point.
    let mut r = Gateway::start(Options {
        gateway_secret: SECRET.into(),
        platform: "flush_after = \"200ms\"\nbatch_max = 25\nretry_max = \"500ms\"\n\
                   heartbeat_interval = \"300ms\"\noutbound_poll_interval = \"200ms\"\n\
                   quarantine_after = 100"
            .into(),
        extra: "[replies]\nenabled = false".into(),
        ..Options::slots(30)
    })
    .await;
    // First half of the burst: the platform is unreachable (connections refused).
    r.stop_stub().await;
    for i in 0..250 {
        r.sim.inject(&sender(i), &format!("AJALI mgodi namba {i}"));
    }
    wait_for_depths(&r, "250 incidents stored while offline", |d| {
        d.undelivered_incidents == 250
    })
    .await;
    // Second half: the platform is back but overloaded (503 with Retry-After).
    r.restart_stub().await;
    r.stub().fail_next_with_retry_after(503, 1_000_000, "1");
    for i in 250..500 {
        r.sim
            .inject(&sender(i), &format!("VURUGU sokoni namba {i}"));
    }
    wait_for_depths(&r, "500 incidents stored", |d| {
        d.undelivered_incidents == 500
    })
    .await;
    wait_until("the gateway trying the overloaded platform", || {
        r.stub().batch_posts() > 0
    })
    .await;
    assert!(r.stub().incidents().is_empty(), "nothing got through a 503");
    // Recovery.
    r.stub().fail_next(503, 0);
    wait_until("all 500 reports on the platform", || {
        r.stub().incidents().len() >= 500
    })
    .await;
    wait_for_depths(&r, "everything marked delivered", |d| {
        d.undelivered_incidents == 0
    })
    .await;
    let incidents = r.stub().incidents();
    assert_eq!(incidents.len(), 500);
    let ids: HashSet<_> = incidents.iter().map(|i| i.id.clone()).collect();
    assert_eq!(ids.len(), 500, "each report exactly once");
    assert_eq!(
        r.stub().conflicts_seen(),
        0,
        "a retried batch never changes"
    );
    let texts: HashSet<_> = incidents.iter().map(|i| i.raw_text.clone()).collect();
    for i in 0..500 {
        let word = if i < 250 {
            "AJALI mgodi"
        } else {
            "VURUGU sokoni"
        };
        assert!(
            texts.contains(&format!("{word} namba {i}")),
            "report {i} arrived"
        );
    }
    // Delivered in order: platform arrival order follows the gateway's incident ids.
    let local: Vec<u64> = incidents
        .iter()
        .map(|i| i.id.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    let mut sorted = local.clone();
    sorted.sort_unstable();
    assert_eq!(local, sorted, "the backlog drains oldest first");
    let db = rusqlite::Connection::open(r.db_path()).unwrap();
    let (batches, largest): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), MAX(n) FROM
               (SELECT COUNT(*) AS n FROM incidents GROUP BY batch_id)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert!(largest <= 25, "batch_max holds: {largest}");
    assert_eq!(r.stub().batches_received() as i64, batches);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_with_400_is_quarantined_and_reported_while_the_rest_flows() {
    let r = rig(20, SECRET, "").await;
    r.stub().fail_next(400, 1);
    r.sim.inject(&sender(1), "AJALI mgodi wa Kalimbi");
    wait_for_depths(&r, "one quarantined batch", |d| d.quarantined_batches == 1).await;
    let q = r.daemon().store.quarantined_batches(10).await.unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].status, 400);
    assert!(q[0].error.contains("injected_failure"), "{:?}", q[0].error);

    r.sim.inject(&sender(2), "Vurugu sokoni karibu na mgodi");
    wait_until("the next report delivered", || {
        r.stub().incidents().len() == 1
    })
    .await;
    wait_until("a heartbeat naming the quarantined batch", || {
        r.stub().heartbeats().iter().any(|h| {
            h.queues.quarantined_batches == 1
                && h.quarantined
                    .iter()
                    .any(|b| b.batch_id == q[0].id && b.status == 400)
        })
    })
    .await;
    r.stop().await;
}

/// The gateway's binary on the rig's config: `status` or `doctor`, with what it printed.
fn cli(r: &Gateway, command: &str) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .arg(command)
        .arg("--config")
        .arg(&r.config_path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A wrong secret is no batch's fault: nothing is quarantined, forwarding pauses and says why
/// (log, `status`, `doctor`) while it keeps trying; once the secret file is fixed and the
/// gateway restarted, every report arrives exactly once, with no other command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_pauses_forwarding_and_every_report_arrives_once_it_is_fixed() {
    let mut r = rig(20, "not-the-secret", "").await;
    for i in 0..3 {
        r.sim
            .inject(&sender(i), &format!("AJALI mgodi wa Kalimbi {i}"));
    }
    wait_for_depths(&r, "three reports stored", |d| d.undelivered_incidents == 3).await;
    // Refused again and again (the backoff cap is 500 ms), never quarantined.
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let pause = r.daemon().store.forwarding_pause().await.unwrap();
        if pause.as_ref().is_some_and(|p| p.attempts >= 3) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{pause:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pause = r.daemon().store.forwarding_pause().await.unwrap().unwrap();
    assert_eq!(pause.status, 401);
    assert!(pause.error.contains("bad_signature"), "{:?}", pause.error);
    let d = r.daemon().store.queue_depths().await.unwrap();
    assert_eq!(
        d.quarantined_batches, 0,
        "a wrong secret is no batch's fault"
    );
    assert!(r.stub().incidents().is_empty(), "nothing unsigned got in");
    assert!(
        r.stub().heartbeats().is_empty(),
        "heartbeats are signed too"
    );

    let (_, status) = cli(&r, "status");
    assert!(
        status.contains("Forwarding: PAUSED, the platform refuses the request signature"),
        "{status}"
    );
    assert!(status.contains("`platform.hmac_secret_file`"), "{status}");
    assert!(status.contains("Quarantined batches: none"), "{status}");
    let (code, doctor) = cli(&r, "doctor");
    assert_eq!(code, 69, "{doctor}");
    assert!(
        doctor.contains("forwarding PAUSED: the platform refuses the request signature"),
        "{doctor}"
    );

    // The technician writes the right secret and restarts the service.
    config::secrets::write_secret(&r.dir.path().join("secret"), SECRET.as_bytes()).unwrap();
    r.restart().await;
    wait_until("every report delivered", || r.stub().incidents().len() == 3).await;
    crate::common::daemon::exactly_once(r.stub(), 3);
    wait_for_depths(&r, "nothing waiting", |d| d.undelivered_incidents == 0).await;
    assert_eq!(r.daemon().store.forwarding_pause().await.unwrap(), None);
    let (_, status) = cli(&r, "status");
    assert!(status.contains("Forwarding: running"), "{status}");
    r.stop().await;
}

/// A batch quarantined by mistake goes back with `requeue` while the gateway runs, and the
/// running gateway delivers it with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requeued_batch_is_delivered_by_the_running_gateway() {
    let r = rig(20, SECRET, "").await;
    r.stub().fail_next(400, 1);
    r.sim.inject(&sender(1), "AJALI mgodi wa Kalimbi");
    wait_for_depths(&r, "one quarantined batch", |d| d.quarantined_batches == 1).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .args(["requeue", "--all", "--config"])
        .arg(&r.config_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    wait_until("the requeued batch delivered", || {
        r.stub().incidents().len() == 1
    })
    .await;
    crate::common::daemon::exactly_once(r.stub(), 1);
    wait_for_depths(&r, "nothing quarantined", |d| d.quarantined_batches == 0).await;
    r.stop().await;
}

/// A platform answering 404 (the url is wrong) pauses forwarding the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_url_pauses_forwarding_instead_of_quarantining() {
    let r = rig(20, SECRET, "").await;
    r.stub().fail_next(404, 3);
    r.sim.inject(&sender(1), "AJALI mgodi wa Kalimbi");
    wait_until("the report delivered after the 404s", || {
        r.stub().incidents().len() == 1
    })
    .await;
    let d = r.daemon().store.queue_depths().await.unwrap();
    assert_eq!(d.quarantined_batches, 0, "a wrong url is no batch's fault");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_clock_is_corrected_from_the_platform_and_the_batch_delivered() {
    let r = rig(20, SECRET, "").await;
    // A Pi without RTC that booted two hours in the past.
    r.daemon().client.set_clock_offset(-7200);
    r.sim.inject(&sender(1), "AJALI mgodi wa Kalimbi");
    wait_until("the report delivered", || r.stub().incidents().len() == 1).await;
    // This machine's clock is right, so the corrected offset cancels the injected error.
    assert!(
        r.daemon().client.clock_offset().abs() <= 2,
        "offset now {}",
        r.daemon().client.clock_offset()
    );
    let d = r.daemon().store.queue_depths().await.unwrap();
    assert_eq!(d.quarantined_batches, 0, "a clock problem is not a refusal");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_reports_modems_queues_and_clock() {
    let r = rig(20, SECRET, "").await;
    r.sim.inject(&sender(1), "AJALI mgodi wa Kalimbi");
    wait_until("a heartbeat after the report", || {
        r.stub().heartbeats().iter().any(|h| {
            h.modems.len() == 1
                && h.modems[0].name == "vodacom"
                && h.modems[0].state == "ready"
                && h.modems[0].last_message_at.is_some()
                && h.queues.undelivered_incidents == 0
        })
    })
    .await;
    let h = r.stub().heartbeats().pop().unwrap();
    assert_eq!(h.gateway_id, "test-gw");
    assert_eq!(h.version, env!("CARGO_PKG_VERSION"));
    assert!(h.modems[0].signal_dbm.is_some(), "{h:?}");
    assert_eq!(h.modems[0].operator.as_deref(), Some("Vodacom"));
    assert!(
        time::OffsetDateTime::parse(&h.clock, &time::format_description::well_known::Rfc3339)
            .is_ok()
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_from_the_platform_reaches_the_reporter_and_its_status_comes_back() {
    let r = rig(20, SECRET, "").await;
    let to = sender(7);
    r.sim.inject(&to, "AJALI mgodi wa Kalimbi");
    wait_until("the report on the platform and its ack", || {
        r.stub().incidents().len() == 1 && r.sim.sent().len() == 1
    })
    .await;
    let incident = r.stub().incidents().pop().unwrap();
    assert!(!incident.reporter.starts_with("+243"), "a pseudonym");

    let by_reporter = r
        .stub()
        .enqueue_outbound(
            Recipient::Reporter(incident.reporter.clone()),
            "Kesi yako inafuatiliwa",
        )
        .unwrap();
    let by_incident = r
        .stub()
        .enqueue_outbound(Recipient::Incident(incident.id.clone()), "Tutakupigia simu")
        .unwrap();
    wait_until("both messages on the line", || {
        let sent = r.sim.sent();
        sent.iter()
            .any(|s| s.to == to && s.text == "Kesi yako inafuatiliwa")
            && sent
                .iter()
                .any(|s| s.to == to && s.text == "Tutakupigia simu")
    })
    .await;
    wait_until("both reported sent to the platform", || {
        let out = r.stub().outbound();
        [&by_reporter.id, &by_incident.id].iter().all(|id| {
            out.iter()
                .any(|o| &&o.id == id && o.state == MessageState::Sent)
        })
    })
    .await;
    // Offered again (our status report lost, the lease ran out): never queued twice.
    let anyone = OutboundGuard {
        max_parts: 10,
        max_per_recipient_per_day: 50,
        max_parts_per_day: 1000,
        recipient_check: std::sync::Arc::new(|_: &str| None),
    };
    let again = r
        .daemon()
        .store
        .accept_outbound(
            &by_reporter.id,
            RecipientKind::Reporter,
            &incident.reporter,
            "Kesi yako inafuatiliwa",
            1,
            "test-gw",
            &anyone,
        )
        .await
        .unwrap();
    assert_eq!(again, OutboundOutcome::AlreadyKnown);
    let db = rusqlite::Connection::open(r.db_path()).unwrap();
    let platform_sms: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM outgoing WHERE kind = 'platform'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(platform_sms, 2);
    assert_eq!(r.sim.sent().iter().filter(|s| s.to == to).count(), 3);

    // After the retention purge the box no longer knows the number: undeliverable, said so.
    r.daemon()
        .store
        .purge_before(time::OffsetDateTime::now_utc().unix_timestamp() * 1000 + 60_000)
        .await
        .unwrap();
    let late = r
        .stub()
        .enqueue_outbound(Recipient::Incident(incident.id.clone()), "Habari?")
        .unwrap();
    wait_until("the late message reported undeliverable", || {
        r.stub()
            .outbound()
            .iter()
            .any(|o| o.id == late.id && o.state == MessageState::Undeliverable)
    })
    .await;
    assert_eq!(r.sim.sent().iter().filter(|s| s.to == to).count(), 3);
    r.stop().await;
}

/// Queues `text` for `to` on the platform and waits until the gateway reported what became of
/// it; returns its state and detail.
async fn platform_message(r: &Gateway, to: Recipient, text: &str) -> (MessageState, String) {
    let queued = r.stub().enqueue_outbound(to, text).unwrap();
    let mut last = None;
    wait_until("the platform message's final state reported", || {
        last = r
            .stub()
            .outbound()
            .into_iter()
            .find(|o| o.id == queued.id)
            .filter(|o| {
                matches!(
                    o.state,
                    MessageState::Sent | MessageState::Failed | MessageState::Undeliverable
                )
            });
        last.is_some()
    })
    .await;
    let last = last.unwrap();
    (last.state, last.detail.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_messages_go_through_the_reply_guard_with_their_own_budget() {
    let r = rig(
        20,
        SECRET,
        "[replies]\nmax_per_day = 2\nblock_list = [\"+243899000009\"]\n\n\
         [outbound]\nmax_parts = 2\nmax_per_recipient_per_day = 2\nmax_parts_per_day = 3\n",
    )
    .await;
    let reporter = sender(1);
    // A blocked number's report is kept and forwarded, never answered. (An operator's short
    // code sends service messages, which are no incidents the platform could answer.)
    let robot = "+243899000009";
    r.sim.inject(&reporter, "AJALI mgodi wa Kalimbi");
    r.sim.inject(robot, "AJALI promo ya bure");
    wait_until("both reports on the platform, one ack", || {
        r.stub().incidents().len() == 2 && r.sim.sent().len() == 1
    })
    .await;
    let incidents = r.stub().incidents();
    let of = |text: &str| {
        incidents
            .iter()
            .find(|i| i.raw_text.contains(text))
            .unwrap()
            .clone()
    };
    let (from_reporter, from_robot) = (of("Kalimbi"), of("promo"));
    let sent_to = |number: &str| r.sim.sent().iter().filter(|s| s.to == number).count();

    // A blocked robot "reported": the platform cannot make the gateway answer it.
    let (state, detail) = platform_message(
        &r,
        Recipient::Incident(from_robot.id.clone()),
        "Tutakupigia simu",
    )
    .await;
    assert_eq!(state, MessageState::Undeliverable);
    assert!(detail.contains("blocked"), "{detail}");
    assert!(
        !detail.contains(robot),
        "the number stays on the box: {detail}"
    );

    // Three SMS parts are over outbound.max_parts.
    let long = "Kesi yako inafuatiliwa na timu yetu. ".repeat(10);
    assert_eq!(pdu::sms_cost(&long, true).parts, 3);
    let (state, detail) =
        platform_message(&r, Recipient::Incident(from_reporter.id.clone()), &long).await;
    assert_eq!(state, MessageState::Undeliverable);
    assert!(detail.contains("too_long"), "{detail}");

    // Two a day to one reporter, the third refused.
    let by_reporter = Recipient::Reporter(from_reporter.reporter.clone());
    for text in ["Habari 1", "Habari 2"] {
        let (state, _) = platform_message(&r, by_reporter.clone(), text).await;
        assert_eq!(state, MessageState::Sent);
    }
    let (state, detail) = platform_message(&r, by_reporter.clone(), "Habari 3").await;
    assert_eq!(state, MessageState::Undeliverable);
    assert!(detail.contains("recipient_daily_limit"), "{detail}");

    // The platform messages did not spend the replies' budget: a new reporter still gets an
    // acknowledgement (replies.max_per_day = 2, one spent)...
    let second = sender(2);
    r.sim.inject(&second, "AJALI shimo limeanguka");
    wait_until("the second report's ack and incident", || {
        sent_to(&second) == 1 && r.stub().incidents().len() == 3
    })
    .await;
    // ...but a two-part message for them is over the platform's own budget (2 of 3 parts spent).
    let second_incident = r
        .stub()
        .incidents()
        .into_iter()
        .find(|i| i.raw_text.contains("shimo"))
        .unwrap();
    let two_parts = "Tunafuatilia kesi yako. ".repeat(8);
    assert_eq!(pdu::sms_cost(&two_parts, true).parts, 2);
    let (state, detail) = platform_message(
        &r,
        Recipient::Incident(second_incident.id.clone()),
        &two_parts,
    )
    .await;
    assert_eq!(state, MessageState::Undeliverable);
    assert!(detail.contains("platform_budget"), "{detail}");

    // What the modem actually sent: one ack and two platform messages to the reporter, one ack
    // to the second, nothing to the robot.
    assert_eq!(sent_to(&reporter), 3);
    assert_eq!(sent_to(&second), 1);
    assert_eq!(sent_to(robot), 0);
    assert_eq!(r.sim.sent().len(), 4);
    let refusals = r.daemon().store.reply_refusal_counts(0).await.unwrap();
    let count = |kind: RefusalKind| {
        refusals
            .by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    };
    // The robot's ack and the platform's message to it.
    assert_eq!(count(RefusalKind::Blocked), 2);
    assert_eq!(count(RefusalKind::TooLong), 1);
    assert_eq!(count(RefusalKind::RecipientDailyLimit), 1);
    assert_eq!(count(RefusalKind::PlatformBudget), 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_ignoring_the_pull_limit_gets_no_more_taken_than_asked() {
    let rig = Rig::start(Options {
        platform: "flush_after = \"200ms\"\nheartbeat_interval = \"300ms\"\n\
                   outbound_poll_interval = \"200ms\""
            .into(),
        extra: "[outbound]\nmax_per_recipient_per_day = 50\nmax_parts_per_day = 1000\n".into(),
        ..Options::slots(20)
    })
    .await;
    let daemon = rig.daemon().await;
    let to = sender(3);
    rig.sim.inject(&to, "AJALI mgodi wa Kalimbi");
    wait_until("the report on the platform and its ack", || {
        rig.stub().incidents().len() == 1 && rig.sim.sent().len() == 1
    })
    .await;
    let incident = rig.stub().incidents().pop().unwrap();
    // Twenty-five messages wait while the gateway is stopped; the platform then hands them all
    // out in its first answer, though the gateway asks for twenty.
    daemon.stop().await;
    rig.stub().ignore_pull_limit(true);
    rig.stub().set_outbound_lease(Duration::from_secs(1));
    let texts: Vec<String> = (0..25).map(|n| format!("Ujumbe {n}")).collect();
    for t in &texts {
        rig.stub()
            .enqueue_outbound(Recipient::Incident(incident.id.clone()), t)
            .unwrap();
    }
    let daemon = rig.daemon().await;
    wait_until("every message reported sent", || {
        let out = rig.stub().outbound();
        out.len() == 25 && out.iter().all(|o| o.state == MessageState::Sent)
    })
    .await;
    // The five beyond the limit were left for the lease to run out, and taken on a later pull.
    let pulled_again = rig.stub().outbound().iter().filter(|o| o.pulls > 1).count();
    assert!(pulled_again >= 5, "{pulled_again} pulled more than once");
    // Each sent once all the same.
    let sent = rig.sim.sent();
    for t in &texts {
        assert_eq!(
            sent.iter().filter(|s| s.to == to && &s.text == t).count(),
            1,
            "{t}"
        );
    }
    assert_eq!(sent.len(), 26);
    daemon.stop().await;
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_number_is_kept_and_flagged_but_not_answered() {
    let r = rig(
        40,
        SECRET,
        "[replies]\nmax_per_sender_per_hour = 50\n\n\
         [intake]\nmax_reports_per_sender_per_hour = 3\nalarm_reports_per_hour = 6\n",
    )
    .await;
    let flooder = sender(1);
    let other = sender(2);
    for n in 0..8 {
        r.sim.inject(&flooder, &format!("AJALI ripoti nambari {n}"));
    }
    r.sim.inject(&other, "AJALI shimo limeanguka");
    wait_until("every report on the platform", || {
        r.stub().incidents().len() == 9
    })
    .await;
    wait_until("the alarm in a heartbeat", || {
        r.stub()
            .heartbeats()
            .iter()
            .any(|h| h.intake_alarm && h.messages_last_hour == 9)
    })
    .await;
    wait_for_depths(&r, "every reply sent", |d| {
        d.sms_to_settle() == 0 && d.unconfirmed_sms == 0
    })
    .await;

    // Every report kept and forwarded; those past the third of the hour flagged for the platform.
    let incidents = r.stub().incidents();
    let flagged: Vec<_> = incidents.iter().filter(|i| i.flood).collect();
    assert_eq!(flagged.len(), 5, "{incidents:#?}");
    assert!(
        flagged
            .iter()
            .all(|i| i.raw_text.starts_with("AJALI ripoti"))
    );
    // What the modem actually sent: three acks to the flooder, one to the other reporter.
    let sent_to = |number: &str| r.sim.sent().iter().filter(|s| s.to == number).count();
    assert_eq!(sent_to(&flooder), 3);
    assert_eq!(sent_to(&other), 1);
    let refusals = r.daemon().store.reply_refusal_counts(0).await.unwrap();
    assert_eq!(refusals.total, 5);
    assert_eq!(refusals.by_kind, vec![(RefusalKind::Flood, 5)]);

    // `status` shows the alarm to the technician.
    let mut out = Vec::new();
    kufatilia_gateway::ops::status(
        &r.config(),
        false,
        kufatilia_gateway::ops::Reveal::default(),
        &mut out,
    )
    .unwrap();
    let status = String::from_utf8(out).unwrap();
    assert!(
        status.contains("Intake: ALARM, 9 message(s) in the last hour (alarm above 6)"),
        "{status}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_erases_numbers_and_texts_of_delivered_reports_only() {
    let mut r = rig(20, SECRET, "").await;
    r.sim.inject(&sender(1), "AJALI mgodi wa Kalimbi");
    wait_for_depths(&r, "the first report delivered", |d| {
        d.undelivered_incidents == 0 && d.unhandled_messages == 0 && d.sms_to_settle() == 0
    })
    .await;
    wait_until("delivered", || r.stub().incidents().len() == 1).await;
    r.stop_stub().await;
    r.sim.inject(&sender(2), "Vurugu sokoni karibu na mgodi");
    wait_for_depths(&r, "the second report stored, undelivered", |d| {
        d.undelivered_incidents == 1 && d.sms_to_settle() == 0
    })
    .await;

    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    // Nothing was delivered 90 days ago.
    let none = r
        .daemon()
        .store
        .purge_before(now_ms - 90 * 86_400_000)
        .await
        .unwrap();
    assert_eq!(none.incidents, 0);
    let counts = r
        .daemon()
        .store
        .purge_before(now_ms + 60_000)
        .await
        .unwrap();
    assert_eq!(counts.incidents, 1, "{counts:?}");
    assert!(
        counts.pdus >= 1 && counts.sms >= 1 && counts.reporters >= 1,
        "{counts:?}"
    );

    let db = rusqlite::Connection::open(r.db_path()).unwrap();
    let rows: Vec<(String, String, String, Option<String>, String, bool)> = db
        .prepare(
            "SELECT i.reference, i.incident_type, i.description, m.sender, m.text,
                    i.delivered_at_ms IS NOT NULL
             FROM incidents i JOIN messages m ON m.id = i.message_id ORDER BY i.id",
        )
        .unwrap()
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    let (reference, kind, description, number, text, delivered) = &rows[0];
    assert!(reference.starts_with("K7-") && *delivered);
    assert_eq!(kind, "accident", "the skeleton stays");
    assert_eq!(
        (description.as_str(), number, text.as_str()),
        ("", &None, "")
    );
    let (_, _, _, number, text, delivered) = &rows[1];
    assert!(!*delivered);
    assert_eq!(
        number.as_deref(),
        Some(sender(2).as_str()),
        "undelivered: kept"
    );
    assert!(text.starts_with("Vurugu"));
    let leftover: i64 = db
        .query_row(
            "SELECT (SELECT COUNT(*) FROM received WHERE pdu_hex != ''
                       AND message_id = (SELECT message_id FROM incidents ORDER BY id LIMIT 1))
                  + (SELECT COUNT(*) FROM outgoing WHERE recipient = ?1)
                  + (SELECT COUNT(*) FROM reporters WHERE number = ?1)",
            [sender(1)],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(
        leftover, 0,
        "no raw PDU, reply or map entry of the purged reporter"
    );
    r.stop().await;
}
