//! Urgent reports while the platform is out of reach (issue 19): the whole gateway in this
//! process, the simulated modem on a real pty, the reference platform on 127.0.0.1 stopped and
//! started again. Every SMS counted is one the simulated modem was handed.

use std::time::Duration;

use crate::common::daemon::{Gateway, Options};
use crate::common::{eventually, wait_until};
use modem_sim::SentSms;
use platform_api::{EscalationState, IncidentRecord};
use store::{RefusalKind, StoreReader};

const REPORTER: &str = "+243812345601";
const AMANI: &str = "+243990000001";
const BAHATI: &str = "+243990000002";
const STRANGER: &str = "+243970000009";

/// Two focal points of two partners, a short delay (tests only) and `extra` lines of
/// `[escalation]`.
fn options(offline_after: &str, extra: &str) -> Options {
    Options {
        extra: format!(
            "[escalation]\noffline_after = {offline_after:?}\n{extra}\n\
             [[escalation.focal_point]]\npartner = \"ong-goma\"\nnumber = \"{AMANI}\"\nlanguage = \"sw\"\nname = \"Amani\"\n\
             [[escalation.focal_point]]\npartner = \"ong-bukavu\"\nnumber = \"{BAHATI}\"\nlanguage = \"fr\"\n"
        ),
        ..Options::default()
    }
}

/// The SMS parts the modem sent to `number`.
fn sent_to(g: &Gateway, number: &str) -> Vec<SentSms> {
    g.sim
        .sent()
        .into_iter()
        .filter(|s| s.to == number)
        .collect()
}

/// The reference the reporter got back.
async fn reference_of_reply(g: &Gateway) -> String {
    let mut reference = None;
    wait_until(
        crate::common::WAIT,
        "the reporter's acknowledgement",
        || {
            reference = sent_to(g, REPORTER).iter().find_map(|s| {
                let at = s.text.find("K7-")?;
                Some(
                    s.text[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect::<String>(),
                )
            });
            reference.is_some()
        },
    )
    .await;
    reference.unwrap_or_default()
}

/// Platform down: each focal point gets exactly one SMS about the report, in its language,
/// without the reporter's number; an unknown number's ACK is ignored as a command; a focal
/// point's ACK is recorded and its INFO answered within the cap; the platform learns all of it
/// once it is back.
/// Starts the platform again and returns the report with `reference` once it is there.
async fn platform_back(g: &mut Gateway, reference: &str) -> IncidentRecord {
    g.restart_stub().await;
    eventually("the report on the platform", || async {
        g.stub()
            .incidents()
            .iter()
            .any(|i| i.reference == reference)
    })
    .await;
    g.stub()
        .incidents()
        .into_iter()
        .find(|i| i.reference == reference)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_down_texts_each_focal_point_once_and_takes_their_answers() {
    let mut g = Gateway::start(options("1s", "info_max_parts = 2")).await;
    g.stop_stub().await;
    // Long enough for three SMS parts: INFO must cut it to two.
    let text = format!(
        "SILAHA wanamgambo mgodi wa Bisie {}",
        "watu wenye bunduki wanachukua madini na kupiga wachimbaji ".repeat(7)
    );
    g.sim.inject(REPORTER, &text);
    let reference = reference_of_reply(&g).await;

    wait_until(crate::common::WAIT, "an SMS to each focal point", || {
        !sent_to(&g, AMANI).is_empty() && !sent_to(&g, BAHATI).is_empty()
    })
    .await;
    let amani = sent_to(&g, AMANI);
    let bahati = sent_to(&g, BAHATI);
    assert!(
        amani[0].text.starts_with(&format!("DHARURA {reference}")),
        "{}",
        amani[0].text
    );
    assert!(
        bahati[0].text.starts_with(&format!("URGENT {reference}")),
        "{}",
        bahati[0].text
    );
    for alert in [&amani[0], &bahati[0]] {
        assert!(
            alert.concat.is_none(),
            "one SMS, not parts: {:?}",
            alert.concat
        );
        assert!(
            !alert.text.contains("812345601"),
            "the reporter's number: {}",
            alert.text
        );
        assert!(alert.text.contains("r-"), "the pseudonym: {}", alert.text);
        assert!(alert.text.contains("Bisie"), "the place: {}", alert.text);
    }
    assert_eq!(g.depths().escalations_pending, 1);

    // Someone else tries the focal points' command: nothing of the report comes back.
    g.sim.inject(STRANGER, &format!("ACK {reference}"));
    g.sim.inject(STRANGER, &format!("INFO {reference}"));
    // Amani takes it; Bahati asks for the text.
    g.sim
        .inject(AMANI, &format!("ack {}", reference.to_lowercase()));
    g.sim.inject(BAHATI, &format!("INFO {reference}"));
    wait_until(crate::common::WAIT, "the INFO answer", || {
        sent_to(&g, BAHATI).len() > 1
    })
    .await;
    eventually("the ACK recorded", || async {
        g.depths().escalations_pending == 0
    })
    .await;
    // The stranger's messages were ordinary messages: kept as reports, answered as any other.
    eventually("the stranger's messages handled", || async {
        g.depths().unhandled_messages == 0 && g.depths().sms_to_settle() == 0
    })
    .await;

    // Several more rounds of the escalation stage: nobody gets a second alert.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let amani = sent_to(&g, AMANI);
    assert_eq!(amani.len(), 1, "one SMS to Amani: {amani:?}");
    let bahati = sent_to(&g, BAHATI);
    let info: Vec<&SentSms> = bahati.iter().skip(1).collect();
    assert!(
        !info.is_empty() && info.len() <= 2,
        "the INFO answer within escalation.info_max_parts = 2: {info:?}"
    );
    assert!(
        info[0].text.starts_with(&format!("{reference}: SILAHA")),
        "{}",
        info[0].text
    );
    assert!(
        info.last().is_some_and(|p| p.text.ends_with("..")),
        "cut, and says so"
    );
    for s in sent_to(&g, STRANGER) {
        assert!(
            !s.text.contains(&reference),
            "the stranger learnt the reference: {}",
            s.text
        );
        assert!(
            !s.text.contains("Bisie"),
            "the stranger learnt the report: {}",
            s.text
        );
    }

    // The platform comes back and learns who was texted and who took it.
    let incident = platform_back(&mut g, &reference).await;
    let e = &incident.escalations;
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(
        (e[0].partner.as_str(), e[0].focal_point.as_str()),
        ("ong-goma", "Amani")
    );
    assert_eq!(
        (e[1].partner.as_str(), e[1].focal_point.as_str()),
        ("ong-bukavu", "…002")
    );
    assert!(e.iter().all(|e| e.state == EscalationState::Sent));
    assert!(e[0].acknowledged_at.is_some() && e[1].acknowledged_at.is_none());
    // The stranger's ACK reaches the platform as what it was: a message from a reporter (in a
    // later batch than the urgent report, which was cut while the platform was down).
    eventually("the stranger's message on the platform", || async {
        g.stub()
            .incidents()
            .iter()
            .any(|i| i.raw_text == format!("ACK {reference}"))
    })
    .await;
    g.stop().await;
}

/// The platform is back before the delay: the report is delivered and nobody is texted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_back_before_the_delay_texts_nobody() {
    // A delay the restart below beats by far, even on a loaded machine.
    let mut g = Gateway::start(options("6s", "")).await;
    g.stop_stub().await;
    g.sim
        .inject(REPORTER, "AJALI mgodi wa Kalimbi, watu wawili wamejeruhiwa");
    let reference = reference_of_reply(&g).await;
    platform_back(&mut g, &reference).await;
    // Delivered: the stage no longer sees it. A few of its rounds later, nobody was texted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(sent_to(&g, AMANI).is_empty() && sent_to(&g, BAHATI).is_empty());
    assert_eq!(g.depths().escalations_pending, 0);
    g.stop().await;
}

/// The escalations' budget is spent: the second focal point gets nothing, the refusal is
/// recorded (and the platform told), and it is not tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_sends_nothing_and_records_why() {
    let mut o = options("1s", "max_parts_per_day = 1");
    o.platform.push_str("\nheartbeat_interval = \"1s\"");
    let mut g = Gateway::start(o).await;
    g.stop_stub().await;
    g.sim
        .inject(REPORTER, "VURUGU sokoni karibu na mgodi wa Lemera");
    let reference = reference_of_reply(&g).await;
    eventually("the budget refusal", || async {
        StoreReader::open(&g.db_path())
            .and_then(|r| r.refusals_last_day())
            .is_ok_and(|c| {
                c.by_kind
                    .iter()
                    .any(|(k, n)| *k == RefusalKind::EscalationBudget && *n == 1)
            })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let to_focal_points = sent_to(&g, AMANI).len() + sent_to(&g, BAHATI).len();
    assert_eq!(to_focal_points, 1, "one part of budget, one SMS");
    let refusals = StoreReader::open(&g.db_path())
        .unwrap()
        .refusals_last_day()
        .unwrap();
    assert!(
        refusals
            .by_kind
            .contains(&(RefusalKind::EscalationBudget, 1)),
        "refused once, never tried again: {refusals:?}"
    );
    // Nobody answered ACK: `status` says a report waits to be taken, and so does the heartbeat
    // once the platform is back.
    let mut screen = Vec::new();
    kufatilia_gateway::ops::status(
        &g.config(),
        false,
        kufatilia_gateway::ops::Reveal {
            numbers: false,
            texts: false,
        },
        &mut screen,
    )
    .unwrap();
    let screen = String::from_utf8(screen).unwrap();
    assert!(
        screen.contains("Escalations: 1 urgent report(s) texted to focal points"),
        "{screen}"
    );
    // And doctor, with its fix.
    let report = kufatilia_gateway::doctor::run(
        &g.config(),
        &kufatilia_gateway::doctor::DoctorOptions {
            wake_timeout: Duration::from_millis(500),
            ussd_timeout: Duration::from_secs(1),
            http_timeout: Duration::from_secs(2),
            record: None,
        },
    )
    .await;
    assert!(
        report.text.contains(
            "1 urgent report(s) texted to focal points while the platform was out of reach"
        ),
        "{}",
        report.text
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.starts_with("escalation: make sure a focal point has them")),
        "{:?}",
        report.problems
    );
    let incident = platform_back(&mut g, &reference).await;
    eventually("a heartbeat counting the escalation", || async {
        g.stub()
            .heartbeats()
            .iter()
            .any(|h| h.queues.escalations_pending == 1)
    })
    .await;
    let states: Vec<EscalationState> = incident.escalations.iter().map(|e| e.state).collect();
    assert_eq!(states, [EscalationState::Sent, EscalationState::Refused]);
    assert!(
        incident.escalations[1]
            .refused_reason
            .as_deref()
            .is_some_and(|r| r.contains("escalation.max_parts_per_day")),
        "{:?}",
        incident.escalations[1]
    );
    g.stop().await;
}

/// The `[escalation]` block docs/install.md tells a partner to write is a valid config, and
/// the one validation (`daemon::check`) names an urgent type the keyword table lacks.
#[test]
fn the_focal_points_block_of_install_md_loads_and_a_wrong_type_is_named() {
    let install = include_str!("../docs/install.md");
    let section = &install[install.find("### Focal points").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let base = "gateway_id = \"goma-01\"\n[platform]\nurl = \"http://127.0.0.1:8080\"\n";
    let parse = |text: &str| {
        config::Config::parse(
            text,
            std::path::Path::new("gateway.toml"),
            std::path::Path::new("/etc/kufatilia-gateway"),
        )
    };
    let c = parse(&format!("{base}{block}")).unwrap();
    assert_eq!(c.escalation.focal_points.len(), 1);
    assert_eq!(c.escalation.focal_points[0].language, "sw");
    let keywords = intake::Keywords::builtin().unwrap();
    let report = kufatilia_gateway::daemon::check(&c, &keywords);
    assert!(
        !report.errors.iter().any(|e| e.contains("escalation")),
        "{:?}",
        report.errors
    );
    let wrong = parse(&format!(
        "{base}{}",
        block.replace("\"armed_group\"", "\"armed_groups\"")
    ))
    .unwrap();
    let report = kufatilia_gateway::daemon::check(&wrong, &keywords);
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("`escalation.urgent_types[0]`") && e.contains("armed_groups")),
        "{:?}",
        report.errors
    );
}
