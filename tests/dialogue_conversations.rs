//! Reporter conversations with real parts: the simulated modem on a real pseudo-terminal, the
//! daemon with its SQLite file, and the reference platform receiver on 127.0.0.1. The Kufatilia
//! survey in three languages across a daemon restart, partial reports, help and info replies,
//! the hourly limit, the daily budget and a robot that answers every reply.

use std::time::Duration;

use crate::common::daemon::{Gateway, Options};
use store::RefusalKind;

/// Longest wait for anything below.
const BOUND: Duration = Duration::from_secs(90);

/// The gateway, with what a conversation needs.
struct Rig(Gateway);

impl std::ops::Deref for Rig {
    type Target = Gateway;
    fn deref(&self) -> &Gateway {
        &self.0
    }
}

impl std::ops::DerefMut for Rig {
    fn deref_mut(&mut self) -> &mut Gateway {
        &mut self.0
    }
}

/// `replies`: lines of the `[replies]` table.
async fn rig(replies: &str) -> Rig {
    Rig(Gateway::start(Options {
        extra: format!("[replies]\n{replies}"),
        ..Options::default()
    })
    .await)
}

impl Rig {
    fn sent_to(&self, to: &str) -> Vec<String> {
        self.sim
            .sent()
            .into_iter()
            .filter(|s| s.to == to)
            .map(|s| s.text)
            .collect()
    }

    /// Sends `text` from `from` and returns the gateway's answer.
    async fn say(&self, from: &str, text: &str) -> String {
        let before = self.sent_to(from).len();
        self.sim.inject(from, text);
        wait_until(&format!("an answer to {from} after {text:?}"), || {
            self.sent_to(from).len() > before
        })
        .await;
        self.sent_to(from)[before].clone()
    }

    async fn incidents_from(&self, from: &str) -> usize {
        self.daemon()
            .store
            .incident_summaries(0, 10_000)
            .await
            .unwrap()
            .iter()
            .filter(|s| s.sender.as_deref() == Some(from))
            .count()
    }

    async fn refusals(&self, kind: RefusalKind) -> u64 {
        let counts = self.daemon().store.reply_refusal_counts(0).await.unwrap();
        counts
            .by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    async fn stop(self) {
        self.0.stop().await;
    }
}

/// Waits until `done` holds, or fails the test after a generous bound.
async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    crate::common::wait_until(BOUND, what, done).await
}

async fn wait_until_async<F, Fut>(what: &str, done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    crate::common::eventually_within(BOUND, what, done).await
}

/// One reporter's survey: (sender, [(answer, start of the gateway's reply)]), and what the
/// platform must get.
struct Survey {
    from: &'static str,
    turns: &'static [(&'static str, &'static str)],
    incident_type: &'static str,
    language: &'static str,
    place: &'static str,
    description: &'static str,
    ack: &'static str,
}

const SURVEYS: &[Survey] = &[
    Survey {
        from: "+243812000001",
        turns: &[
            ("KUFATILIA", "Kufatilia. Lugha/Langue/Language?"),
            ("1", "Tuma namba: 1 Ajali 2 Vurugu"),
            ("4", "Wapi?"),
            ("Kizuizi cha Nyabibwe", "Eleza kwa ufupi"),
            (
                "Askari wanadai 5000 FC kila gunia",
                "Asante. Ripoti yako K7-",
            ),
        ],
        incident_type: "illegal_tax",
        language: "sw",
        place: "Kizuizi cha Nyabibwe",
        description: "Askari wanadai 5000 FC kila gunia",
        ack: "imepokelewa. Tutafuatilia.",
    },
    Survey {
        from: "+243812000002",
        turns: &[
            ("kufatilia", "Kufatilia. Lugha/Langue/Language?"),
            ("2", "Envoyez le numero: 1 Accident 2 Violence"),
            ("1", "Ou?"),
            ("Puits de Bisie, Walikale", "Decrivez brievement"),
            (
                "Éboulement, deux creuseurs blessés",
                "Merci. Votre rapport K7-",
            ),
        ],
        incident_type: "accident",
        language: "fr",
        place: "Puits de Bisie, Walikale",
        description: "Éboulement, deux creuseurs blessés",
        ack: "est bien",
    },
    Survey {
        from: "+243812000003",
        turns: &[
            ("Kufatilia!", "Kufatilia. Lugha/Langue/Language?"),
            ("3", "Send the number: 1 Accident 2 Violence"),
            // A bad answer is asked again once, with a word in front.
            ("twelve", "Sorry. Send the number: 1 Accident"),
            ("5", "Where?"),
            ("Kamituga, shaft 7", "Describe briefly"),
            ("Children digging at night", "Thank you. Your report K7-"),
        ],
        incident_type: "child_labour",
        language: "en",
        place: "Kamituga, shaft 7",
        description: "Children digging at night",
        ack: "was received",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_in_each_language_survives_a_restart_half_way() {
    let mut r = rig("").await;
    let longest = SURVEYS.iter().map(|s| s.turns.len()).max().unwrap();
    let mut acks = vec![String::new(); SURVEYS.len()];
    for step in 0..longest {
        if step == 2 {
            // Half-way: every survey is waiting for an answer.
            assert_eq!(r.daemon().store.open_sessions().await.unwrap(), 3);
            r.restart().await;
        }
        for (i, s) in SURVEYS.iter().enumerate() {
            let Some((text, expected)) = s.turns.get(step) else {
                continue;
            };
            let answer = r.say(s.from, text).await;
            assert!(
                answer.starts_with(expected),
                "{}: after {text:?} got {answer:?}, want {expected:?}",
                s.from
            );
            acks[i] = answer;
        }
    }
    assert_eq!(r.daemon().store.open_sessions().await.unwrap(), 0);
    wait_until("three surveys on the platform", || {
        r.stub().incidents().len() == SURVEYS.len()
    })
    .await;
    let summaries = r.daemon().store.incident_summaries(0, 100).await.unwrap();
    assert_eq!(
        summaries.len(),
        3,
        "one incident per survey, none per answer"
    );
    let platform = r.stub().incidents();
    for (s, ack) in SURVEYS.iter().zip(&acks) {
        assert!(ack.contains(s.ack), "{ack:?}");
        // The default acknowledgement names no type: the phone may be seized.
        assert!(!ack.contains('('), "{ack:?}");
        let mine = summaries
            .iter()
            .find(|i| i.sender.as_deref() == Some(s.from))
            .unwrap();
        assert!(
            ack.contains(&mine.reference),
            "{ack:?} names {}",
            mine.reference
        );
        // The reference comes from the last message of the survey.
        assert_eq!(mine.text, s.turns.last().unwrap().0);
        let record = platform
            .iter()
            .find(|p| p.reference == mine.reference)
            .unwrap();
        assert_eq!(record.incident_type, s.incident_type);
        assert_eq!(record.language.as_deref(), Some(s.language));
        assert_eq!(record.location.as_deref(), Some(s.place));
        assert_eq!(record.description, s.description);
        assert_eq!(record.survey_answers["survey"], "complete");
        assert_eq!(record.survey_answers["language"], s.language);
        assert_eq!(record.survey_answers["type"], s.incident_type);
        assert_eq!(record.survey_answers["place"], s.place);
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_left_half_done_is_forwarded_as_a_partial_report() {
    let r = rig("").await;
    let from = "+243812000010";
    r.say(from, "KUFATILIA").await;
    r.say(from, "2").await;
    let last = r.say(from, "6").await;
    assert!(last.starts_with("Ou?"), "{last}");
    // A one-message report from someone else skips the dialogue.
    let ack = r
        .say("+243812000011", "AJALI karibu na Kalimbi, watu wawili")
        .await;
    assert!(ack.starts_with("Asante. Ripoti yako K7-"), "{ack}");
    assert_eq!(r.daemon().store.open_sessions().await.unwrap(), 1);
    // What the processing stage does once the session timeout has passed.
    let closed = r.daemon().store.expire_sessions(0).await.unwrap();
    assert_eq!(closed.len(), 1);
    wait_until("both reports on the platform", || {
        r.stub().incidents().len() == 2
    })
    .await;
    let platform = r.stub().incidents();
    let partial = platform.iter().find(|p| p.reference == closed[0]).unwrap();
    assert_eq!(partial.incident_type, "forced_labour");
    assert_eq!(partial.language.as_deref(), Some("fr"));
    assert_eq!(partial.location, None);
    assert_eq!(partial.raw_text, "6", "the last message of the survey");
    assert_eq!(partial.survey_answers["survey"], "partial");
    let one = platform.iter().find(|p| p.reference != closed[0]).unwrap();
    assert_eq!(one.incident_type, "accident");
    assert_eq!(one.location.as_deref(), Some("Kalimbi"));
    assert!(one.survey_answers.is_empty());
    // The next message after the survey was closed is a message of its own.
    let again = r.say(from, "Hello?").await;
    assert!(again.starts_with("Ripoti K7-"), "{again}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_survey_is_closed_when_its_reporter_writes_again() {
    let r = rig("[dialogue]\nsession_timeout = \"1s\"").await;
    let from = "+243812000030";
    r.say(from, "KUFATILIA").await;
    let q = r.say(from, "3").await;
    assert!(q.starts_with("Send the number"), "{q}");
    // Longer than the session timeout (a wait, not a timing assert).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ack = r.say(from, "AJALI at Kalimbi").await;
    assert!(ack.starts_with("Asante. Ripoti yako"), "{ack}");
    wait_until("the partial survey and the report on the platform", || {
        r.stub().incidents().len() == 2
    })
    .await;
    let platform = r.stub().incidents();
    let partial = platform
        .iter()
        .find(|p| p.survey_answers.get("survey").map(String::as_str) == Some("partial"))
        .unwrap();
    assert_eq!(partial.incident_type, "unknown");
    assert_eq!(partial.survey_answers["language"], "en");
    assert_eq!(partial.raw_text, "3");
    let report = platform
        .iter()
        .find(|p| p.survey_answers.is_empty())
        .unwrap();
    assert_eq!(report.incident_type, "accident");
    assert_eq!(report.location.as_deref(), Some("Kalimbi"));
    assert_eq!(r.daemon().store.open_sessions().await.unwrap(), 0);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_once_an_hour_and_info_replies() {
    let r = rig("").await;
    let from = "+243812000020";
    let prices = r.say(from, "PRIX").await;
    assert!(prices.starts_with("Prix du jour Goma"), "{prices}");
    let help = r.say(from, "msaada").await;
    assert!(help.starts_with("Tuma neno na maelezo: AJALI"), "{help}");
    r.sim.inject(from, "MSAADA");
    r.sim.inject(from, "habari yako");
    wait_until_async("two help texts refused", || async {
        r.refusals(RefusalKind::HelpOncePerHour).await == 2
    })
    .await;
    assert_eq!(r.sent_to(from).len(), 2, "one help text in the hour");
    assert_eq!(
        r.incidents_from(from).await,
        1,
        "help and info are no incidents"
    );
    // From an operator, "aide" is a service message: kept, no reply, no incident.
    r.sim.inject("Airtel", "AIDE: rechargez avec *555#");
    wait_until_async("the promo handled", || async {
        r.refusals(RefusalKind::Alphanumeric).await == 1
    })
    .await;
    assert_eq!(r.incidents_from("Airtel").await, 0);
    assert!(r.sent_to("Airtel").is_empty());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robot_that_answers_every_reply_gets_at_most_the_hourly_limit() {
    let r = rig("max_per_sender_per_hour = 4").await;
    // A robot that sends back a report with every reply it gets.
    let robot = "+243899000001";
    let mut sent = 0;
    r.sim.inject(robot, "AJALI robot 0");
    loop {
        sent += 1;
        assert!(sent < 50, "the robot is still getting replies");
        wait_until_async("the robot's message handled", || async {
            r.incidents_from(robot).await == sent
        })
        .await;
        let replies = r.sent_to(robot).len();
        let queued = r
            .daemon()
            .store
            .incident_summaries(0, 10_000)
            .await
            .unwrap()
            .iter()
            .filter(|s| s.sender.as_deref() == Some(robot) && s.reply_text.is_some())
            .count();
        if queued < sent {
            break;
        }
        wait_until("the reply on the line", || r.sent_to(robot).len() >= queued).await;
        assert!(replies <= 4);
        let last = r.sent_to(robot).pop().unwrap_or_default();
        r.sim.inject(robot, &format!("AJALI {last}"));
    }
    assert_eq!(
        sent, 5,
        "four replies, then the fifth was refused and the loop stopped"
    );
    assert_eq!(r.sent_to(robot).len(), 4);
    assert_eq!(r.refusals(RefusalKind::RateLimit).await, 1);

    // A robot that echoes every reply verbatim gets no reply to its echo.
    let echo = "+243899000002";
    let first = r.say(echo, "Hi").await;
    assert!(first.starts_with("Ripoti K7-"), "{first}");
    r.sim.inject(echo, &first);
    wait_until_async("the echo handled", || async {
        r.incidents_from(echo).await == 2
    })
    .await;
    assert_eq!(r.refusals(RefusalKind::Echo).await, 1);
    assert_eq!(r.sent_to(echo).len(), 1);

    // A robot restarting the survey again and again is held by the same limit.
    let survey_bot = "+243899000003";
    // (Different texts: the same PDU twice is taken for the same SIM slot read twice.)
    for i in 0..6 {
        r.sim.inject(survey_bot, &format!("KUFATILIA {i}"));
    }
    wait_until_async("six survey starts handled", || async {
        r.refusals(RefusalKind::RateLimit).await == 3
    })
    .await;
    wait_until("four questions on the line", || {
        r.sent_to(survey_bot).len() == 4
    })
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_budget_holds_for_all_numbers_together() {
    let r = rig("max_per_day = 3").await;
    for i in 0..5 {
        r.sim.inject(&format!("+24381300000{i}"), "Vurugu sokoni");
    }
    r.sim
        .inject("Vodacom", "Vodacom: Bonus 500MB pour 1000 FC! Tapez *123#");
    r.sim.inject("4040", "Votre solde est de 200 FC");
    // The operator's promotion and balance notice are service messages: no incident.
    wait_until_async("every message handled", || async {
        let d = r.daemon().store.queue_depths().await.unwrap();
        let incidents = r.daemon().store.incident_summaries(0, 100).await.unwrap();
        d.unhandled_messages == 0 && d.undecoded == 0 && incidents.len() == 5
    })
    .await;
    wait_until("three replies on the line", || r.sim.sent().len() == 3).await;
    assert_eq!(r.refusals(RefusalKind::DailyBudget).await, 2);
    assert_eq!(r.refusals(RefusalKind::Alphanumeric).await, 1);
    assert_eq!(r.refusals(RefusalKind::ShortCode).await, 1);
    let counts = r.daemon().store.reply_refusal_counts(0).await.unwrap();
    assert_eq!(counts.total, 4);
    wait_until("every report forwarded", || r.stub().incidents().len() == 5).await;
    let incidents = r.daemon().store.incident_summaries(0, 100).await.unwrap();
    assert!(
        incidents
            .iter()
            .all(|i| !matches!(i.sender.as_deref(), Some("Vodacom" | "4040"))),
        "{incidents:?}"
    );
    r.stop().await;
}
