//! The whole path with real parts: the simulated modem on a real pseudo-terminal, the gateway
//! daemon with its SQLite file, and the reference platform receiver on 127.0.0.1.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::daemon::{Gateway, Options};

/// Longest wait for anything below.
const BOUND: Duration = Duration::from_secs(90);

/// Waits until `done` holds, or fails the test after a generous bound.
async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    crate::common::wait_until(BOUND, what, done).await
}

const REPORTS: &[(&str, &str)] = &[
    ("AJALI mgodi wa Kalimbi, watu wawili wamejeruhiwa", "Asante"),
    ("Vurugu sokoni karibu na mgodi", "Asante"),
    ("USHURU haramu kwenye kizuizi cha Nyabibwe", "Asante"),
    ("watoto wanachimba madini shimoni", "Asante"),
    ("RUSHWA kwa polisi wa mgodi", "Asante"),
    ("wizi wa vifaa usiku", "Asante"),
    ("mazingira: mto umechafuka", "Asante"),
    ("Barrière à Nyabibwe, 5000 FC par sac", "Merci"),
    ("Travail forcé au site de Lemera", "Merci"),
    ("Groupe armé près de Walikale", "Merci"),
    ("fraude sur la pesée du coltan", "Merci"),
    ("Enfants dans les puits de Kamituga", "Merci"),
    ("vol de matériel au dépôt", "Merci"),
    ("pollution de la rivière par le mercure", "Merci"),
    ("Accident at the Bisie mine, two men injured", "Thank you"),
    (
        "Armed men at the Bisie mine since this morning",
        "Thank you",
    ),
    (
        "Roadblock on the road to Mubi, they take a tax",
        "Thank you",
    ),
    ("Children working at the shaft", "Thank you"),
    ("Fraud at the buying house, the scale is wrong", "Thank you"),
    ("theft of the generator at night", "Thank you"),
];

fn sender(i: usize) -> String {
    format!("+2438123450{i:02}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reports_in_three_languages_flow_end_to_end() {
    // Ten slots for twenty reports: the network holds the rest until the gateway frees slots.
    let r = Gateway::start(Options::slots(10)).await;
    for (i, (text, _)) in REPORTS.iter().enumerate() {
        r.sim.inject(&sender(i), text);
    }
    r.sim
        .inject("Vodacom", "Vodacom: Bonus 500MB pour 1000 FC! Tapez *123#");
    // The operator's promotion is a service message: kept on the box, no incident, no reply.
    let total = REPORTS.len();
    wait_until(
        "every report on the platform and every ack on the line",
        || r.stub().incidents().len() == total && r.sim.sent().len() == REPORTS.len(),
    )
    .await;

    let summaries = r.daemon().store.incident_summaries(0, 1000).await.unwrap();
    assert_eq!(summaries.len(), total);
    let sent = r.sim.sent();
    for (i, (_, greeting)) in REPORTS.iter().enumerate() {
        let to = sender(i);
        let incident = summaries
            .iter()
            .find(|s| s.sender.as_deref() == Some(&to))
            .unwrap_or_else(|| panic!("no incident for {to}"));
        assert_ne!(incident.incident_type, "unknown", "{incident:?}");
        let acks: Vec<_> = sent.iter().filter(|s| s.to == to).collect();
        assert_eq!(acks.len(), 1, "one ack to {to}");
        assert!(
            acks[0].text.contains(&incident.reference),
            "ack {:?} names {}",
            acks[0].text,
            incident.reference
        );
        assert!(acks[0].text.starts_with(greeting), "{:?}", acks[0].text);
    }
    assert!(
        sent.iter().all(|s| s.to != "Vodacom"),
        "a promo never gets a reply"
    );
    assert!(
        summaries
            .iter()
            .all(|s| s.sender.as_deref() != Some("Vodacom")),
        "a promo is no incident"
    );

    let platform = r.stub().incidents();
    let ids: HashSet<_> = platform.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        ids.len(),
        total,
        "every report exactly once on the platform"
    );
    assert!(
        platform.iter().all(|p| !p.reporter.starts_with("+243")),
        "phone numbers stay on the box by default"
    );
    assert_eq!(r.sim.sim_used(), 0, "the SIM is empty afterwards");
    assert_eq!(r.sim.network_queue_len(), 0);
    crate::common::eventually_within(BOUND, "every report delivered, every ack sent", || async {
        let d = r.daemon().store.queue_depths().await.unwrap();
        d.undelivered_incidents == 0 && d.sms_to_settle() == 0
    })
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_answering_503_for_a_while_loses_nothing() {
    let r = Gateway::start(Options::slots(20)).await;
    r.stub().fail_next(503, 4);
    for (i, (text, _)) in REPORTS.iter().take(12).enumerate() {
        r.sim.inject(&sender(i), text);
    }
    wait_until("all twelve reports on the platform", || {
        r.stub().incidents().len() == 12
    })
    .await;
    let ids: HashSet<_> = r.stub().incidents().into_iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 12);
    assert!(
        r.stub().batch_posts() > r.stub().batches_received(),
        "the failed posts were retried ({} posts, {} batches)",
        r.stub().batch_posts(),
        r.stub().batches_received()
    );
    r.stop().await;
}

// The demo is built only with the `demo` feature (the default; off in the box's build).
#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_end_to_end() {
    let outcome = kufatilia_gateway::demo::run_quiet(
        kufatilia_gateway::demo::DemoOptions {
            timeout: Duration::from_secs(90),
            gap: Duration::from_millis(10),
            platform: None,
        },
        false,
    )
    .await
    .unwrap();
    // Every message but the operator's promotion, a service message, is a report.
    let n = kufatilia_gateway::demo::demo_reports();
    assert_eq!(n, kufatilia_gateway::demo::DEMO_MESSAGES.len() - 1);
    assert_eq!(outcome.incidents.len(), n);
    assert_eq!(outcome.platform_incidents, n);
    assert_eq!(outcome.replies_on_the_line, n, "all but the promo");
    assert_eq!(outcome.sim_left, 0);
    // The last phase: the platform stopped, the urgent report texted to the focal point once.
    assert_eq!(outcome.escalations.len(), 1, "{:?}", outcome.escalations);
    assert!(
        outcome.escalations[0].text.starts_with("DHARURA K7-"),
        "{}",
        outcome.escalations[0].text
    );
    let long = outcome
        .incidents
        .iter()
        .find(|i| i.sender.as_deref() == Some("+243812345604"))
        .unwrap();
    assert_eq!(long.incident_type, "child_labour");
    assert!(
        long.text.ends_with("haijatokea."),
        "parts joined: {}",
        long.text
    );
}

/// `demo --platform-url` sends the demo's reports to a receiver of the developer's own (here the
/// reference one, run as a platform team would run theirs), signed with the files given.
#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_forwards_to_a_platform_of_ones_own() {
    let dir = tempfile::tempdir().unwrap();
    let stub = platform_stub::PlatformStub::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        platform_stub::StubConfig::single(
            dir.path().join("platform.db"),
            "their-token",
            Some(b"their-secret"),
        ),
    )
    .await
    .unwrap();
    config::secrets::write_secret(&dir.path().join("token"), b"their-token").unwrap();
    config::secrets::write_secret(&dir.path().join("secret"), b"their-secret").unwrap();
    let url = stub.url();
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
                .current_dir(&dir)
                .args(["demo", "--platform-url", &url])
                .args(["--token-file", "token", "--secret-file", "secret"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(yours)"), "{stdout}");
    assert!(stdout.contains("your receiver accepted batch"), "{stdout}");
    assert_eq!(
        stub.incidents().len(),
        kufatilia_gateway::demo::demo_reports()
    );
    stub.shutdown().await;
}
