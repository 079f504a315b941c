//! Escalation: an urgent report (a type in `escalation.urgent_types`) that cannot reach the
//! platform in time is texted to the partners' focal points, one SMS each, and their answers
//! (`ACK K7-0042`, `INFO K7-0042`) are taken in before report parsing.
//!
//! "In time" is `escalation.offline_after`: the platform has answered no request for that long
//! and the report has waited that long. Both are measured on the monotonic clock of this
//! process (`Instant`), not on the wall clock the store's `*_ms` columns use: a Pi has no
//! real-time clock, and NTP or the modem may set its wall clock hours forward or back at any
//! moment. A forward jump must not make every waiting report "late" at once, and a backward
//! jump must not hold one back for hours; the monotonic clock does neither. What it costs: after
//! a restart a report waits `offline_after` again before it is escalated — later, never earlier
//! and never twice (the store's `UNIQUE (incident_id, focal_point)` says no to a second one).
//!
//! Every SMS goes through the one guard (`store::EscalationGuard`, applied in the transaction
//! that records the escalation): the reply policy on the number, then the escalations' own
//! budget of parts per 24 hours. A refusal is logged and recorded, and the report is not tried
//! again for that focal point.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

use crate::forward::ReporterId;
use crate::platform::PlatformClient;
use crate::reply::{self, ReplyPolicy};
use config::{Config, FocalPoint};
use intake::{Intent, Keywords};
use pdu::Encoding;
use store::{
    EscalationGuard, EscalationOutcome, MessageRow, NewEscalation, NewOutgoing, ReplyKind,
    ReplyVerdict, Store, StoreError, UrgentPending,
};

/// Longest pause between two looks at the urgent reports.
const MAX_TICK: Duration = Duration::from_secs(30);

/// What the focal points' SMS say, in their language.
struct Words {
    urgent: &'static str,
    reporter: &'static str,
    reply: &'static str,
    or: &'static str,
}

fn words(language: &str) -> Words {
    match language {
        "fr" => Words {
            urgent: "URGENT",
            reporter: "Auteur",
            reply: "Repondez",
            or: "ou",
        },
        "sw" => Words {
            urgent: "DHARURA",
            reporter: "Mtoa taarifa",
            reply: "Jibu",
            or: "au",
        },
        _ => Words {
            urgent: "URGENT",
            reporter: "Reporter",
            reply: "Reply",
            or: "or",
        },
    }
}

/// The config of escalations and what every part of it needs.
#[derive(Clone)]
struct Settings {
    focal_points: Vec<FocalPoint>,
    guard: EscalationGuard,
    info_max_parts: u32,
    transliterate: bool,
    reference_prefix: String,
}

impl Settings {
    fn from_config(config: &Config) -> Settings {
        let policy = ReplyPolicy::from_config(config);
        Settings {
            focal_points: config.escalation.focal_points.clone(),
            guard: EscalationGuard {
                max_parts_per_day: config.escalation.max_parts_per_day,
                transliterate: config.sms.transliterate,
                recipient_check: Arc::new(move |number: &str| {
                    policy
                        .check(Some(number), None)
                        .err()
                        .map(|no| (no.kind(), no.to_string()))
                }),
            },
            info_max_parts: config.escalation.info_max_parts,
            transliterate: config.sms.transliterate,
            reference_prefix: config.reference_prefix.clone(),
        }
    }

    /// The focal point `sender` is, if any.
    fn focal_point(&self, sender: Option<&str>) -> Option<&FocalPoint> {
        let sender = sender?;
        self.focal_points
            .iter()
            .find(|f| reply::same_subscriber(&f.number, sender))
    }
}

/// The escalation stage.
pub(crate) struct Escalator {
    store: Store,
    client: Arc<PlatformClient>,
    keywords: Arc<Keywords>,
    settings: Settings,
    urgent_types: Vec<String>,
    offline_after: Duration,
    reporter: ReporterId,
    share_number: bool,
    /// When the stage started: the platform counts as last heard of then, until it answers.
    started: Instant,
}

impl Escalator {
    /// The stage, or `None` when no focal point is configured.
    pub(crate) fn new(
        config: &Config,
        store: Store,
        client: Arc<PlatformClient>,
        keywords: Arc<Keywords>,
        reporter: ReporterId,
    ) -> Option<Escalator> {
        if config.escalation.focal_points.is_empty() {
            return None;
        }
        Some(Escalator {
            store,
            client,
            keywords,
            settings: Settings::from_config(config),
            urgent_types: config.escalation.urgent_types.clone(),
            offline_after: config.escalation.offline_after,
            reporter,
            share_number: config.escalation.share_reporter_number,
            started: Instant::now(),
        })
    }

    /// Looks at the urgent reports now and then until `shutdown`.
    pub(crate) async fn run(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // When this stage first saw each urgent report waiting (see the module's comment).
        let mut first_seen: HashMap<i64, Instant> = HashMap::new();
        let tick = (self.offline_after / 4).clamp(Duration::from_millis(100), MAX_TICK);
        loop {
            if let Err(e) = self.step(&mut first_seen).await {
                tracing::error!(error = %e, "escalation: store error; trying again");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    async fn step(&self, first_seen: &mut HashMap<i64, Instant>) -> Result<(), StoreError> {
        let waiting = self
            .store
            .urgent_undelivered(self.urgent_types.clone())
            .await?;
        let now = Instant::now();
        first_seen.retain(|id, _| waiting.iter().any(|w| w.incident_id == *id));
        for w in &waiting {
            first_seen.entry(w.incident_id).or_insert(now);
        }
        let unheard_for = self
            .client
            .since_last_success()
            .unwrap_or_else(|| self.started.elapsed());
        if unheard_for < self.offline_after {
            return Ok(());
        }
        for w in &waiting {
            let waited = first_seen
                .get(&w.incident_id)
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(*t));
            if waited < self.offline_after {
                continue;
            }
            for fp in &self.settings.focal_points {
                if !w.done.iter().any(|d| d == &fp.number) {
                    self.escalate(w, fp).await?;
                }
            }
        }
        Ok(())
    }

    async fn escalate(&self, w: &UrgentPending, fp: &FocalPoint) -> Result<(), StoreError> {
        // The number only when `escalation.share_reporter_number` asks for it; else the
        // pseudonym the platform knows, and nothing when the platform is given numbers
        // (`privacy.share_phone_numbers`): that is no reason to text them to anyone.
        let who = match (self.share_number, &self.reporter, w.sender.as_deref()) {
            (true, _, Some(n)) => n.to_string(),
            (_, ReporterId::PhoneNumber, _) => String::new(),
            (_, _, number) => self.reporter.name(number),
        };
        let alert = Alert {
            reference: &w.reference,
            type_label: &self.type_label(&w.incident_type, &fp.language),
            place: w.location.as_deref().unwrap_or(""),
            time: &when(w.smsc_time.as_deref(), w.received_at_ms),
            who: &who,
        };
        let text = alert.text(&fp.language);
        let parts = u32::try_from(pdu::sms_cost(&text, false).parts).unwrap_or(u32::MAX);
        let e = NewEscalation {
            incident_id: w.incident_id,
            partner: fp.partner.clone(),
            label: fp.label(),
            out: NewOutgoing {
                modem: w.modem.clone(),
                recipient: fp.number.clone(),
                text,
                kind: ReplyKind::Escalation,
            },
            parts,
        };
        let (reference, incident_type) = (&w.reference, &w.incident_type);
        let (partner, to) = (&fp.partner, fp.label());
        match self.store.escalate(e, self.settings.guard.clone()).await? {
            EscalationOutcome::Done(ReplyVerdict::Queued(_)) => tracing::warn!(
                %reference, %incident_type, %partner, %to,
                unheard_secs = self.client.since_last_success().map(|d| d.as_secs()),
                "ESCALATION: urgent report not delivered to the platform in time; texted to a focal point"
            ),
            EscalationOutcome::Done(ReplyVerdict::Refused { kind, reason }) => tracing::error!(
                %reference, %incident_type, %partner, %to, %kind, %reason,
                "escalation NOT sent: the guard refused it (it is not tried again for this focal point)"
            ),
            EscalationOutcome::AlreadyDone => {}
        }
        Ok(())
    }

    /// The type's label in the focal point's language (the id for a type the table lost).
    fn type_label(&self, id: &str, language: &str) -> String {
        match self.keywords.types.iter().position(|t| t.id == id) {
            Some(i) => self.keywords.type_label(&Intent::Report(i), language),
            None => id.to_string(),
        }
    }
}

/// The time of a report as a focal point reads it: the network's, in its own offset, when the
/// PDU had one (the box's clock may be wrong); else the box's, in UTC.
fn when(smsc_time: Option<&str>, received_at_ms: i64) -> String {
    let fmt = |t: OffsetDateTime, zone: &str| {
        format!(
            "{:02}/{:02} {:02}:{:02} {zone}",
            t.day(),
            u8::from(t.month()),
            t.hour(),
            t.minute()
        )
    };
    if let Some(t) = smsc_time.and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok()) {
        let offset = t.offset().whole_hours();
        return fmt(t, &format!("UTC{offset:+}"));
    }
    match OffsetDateTime::from_unix_timestamp_nanos(i128::from(received_at_ms) * 1_000_000) {
        Ok(t) => fmt(t, "UTC"),
        Err(_) => String::new(),
    }
}

/// What an escalation SMS says.
struct Alert<'a> {
    reference: &'a str,
    type_label: &'a str,
    place: &'a str,
    time: &'a str,
    /// How the reporter is named (empty: not at all).
    who: &'a str,
}

impl Alert<'_> {
    /// The SMS in `language`, in GSM-7 and one SMS: the place is cut word by word first, then
    /// the reporter, then the answer hint, then the text itself.
    fn text(&self, language: &str) -> String {
        let w = words(language);
        let hint_text = format!("{} ACK {r} {} INFO {r}", w.reply, w.or, r = self.reference);
        let who_text = format!("{} {}", w.reporter, self.who);
        let mut place: Vec<&str> = self.place.split_whitespace().collect();
        let compose = |place: &[&str], who: bool, hint: bool| {
            let mut fields = vec![format!("{} {}", w.urgent, self.reference)];
            fields.push(gsm7(self.type_label));
            if !place.is_empty() {
                fields.push(gsm7(&place.join(" ")));
            }
            if !self.time.is_empty() {
                fields.push(self.time.to_string());
            }
            let mut text = fields.join(", ") + ".";
            if who && !self.who.is_empty() {
                text.push(' ');
                text.push_str(&gsm7(&who_text));
                text.push('.');
            }
            if hint {
                text.push(' ');
                text.push_str(&hint_text);
            }
            text
        };
        let full = place.len();
        loop {
            let text = compose(&place, true, true);
            if fits_one(&text) || place.is_empty() {
                break;
            }
            place.pop();
        }
        if place.len() < full && !place.is_empty() {
            place.push("..");
        }
        for (who, hint) in [(true, true), (false, true), (false, false)] {
            let text = compose(&place, who, hint);
            if fits_one(&text) {
                return text;
            }
        }
        let mut text = compose(&[], false, false);
        while !fits_one(&text) {
            text.pop();
        }
        text
    }
}

/// True when `text` goes as one GSM-7 SMS, as the encoder would cut it.
fn fits_one(text: &str) -> bool {
    let cost = pdu::sms_cost(text, false);
    cost.parts == 1 && cost.encoding == Encoding::Gsm7
}

/// `text` folded into the GSM-7 alphabet; a character with no GSM-7 form becomes `?`.
fn gsm7(text: &str) -> String {
    pdu::transliterate(text)
        .chars()
        .map(|c| {
            let mut buf = [0u8; 4];
            if pdu::sms_cost(c.encode_utf8(&mut buf), false).encoding == Encoding::Gsm7 {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// A focal point's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// They take the report.
    Ack(String),
    /// They want its text.
    Info(String),
}

/// Words that mean "I take it" and "send me the text", in the escalation languages.
const ACK_WORDS: &[&str] = &["ACK", "OK", "RECU", "POKEA", "NIMEPOKEA"];
const INFO_WORDS: &[&str] = &["INFO", "DETAILS", "MAELEZO"];

/// A message that is exactly a command and a reference of this box (`ACK K7-0042`, any case,
/// `K7-42` or `K7 42` too), with the reference written as the box writes it.
pub(crate) fn parse_command(text: &str, prefix: &str) -> Option<Command> {
    let upper = pdu::transliterate(text).to_uppercase();
    let mut tokens = upper.split_whitespace();
    let verb = tokens.next()?;
    let rest: String = tokens.collect::<Vec<_>>().join("");
    let digits = rest
        .strip_prefix(&prefix.to_uppercase())?
        .trim_start_matches('-')
        .trim_end_matches(['.', '!']);
    if digits.is_empty() || digits.len() > 12 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let reference = reply::reference(prefix, digits.parse().ok()?);
    if ACK_WORDS.contains(&verb) {
        Some(Command::Ack(reference))
    } else if INFO_WORDS.contains(&verb) {
        Some(Command::Info(reference))
    } else {
        None
    }
}

/// The focal points' commands, as the processing stage meets them.
#[derive(Clone)]
pub(crate) struct Commands {
    settings: Settings,
}

impl Commands {
    /// `None` when no focal point is configured: then no message is a command.
    pub(crate) fn new(config: &Config) -> Option<Commands> {
        (!config.escalation.focal_points.is_empty()).then(|| Commands {
            settings: Settings::from_config(config),
        })
    }

    /// Handles `m` when it is a focal point's command; returns false when it is an ordinary
    /// message (not a command, or a command from a number that is no focal point: it is then
    /// kept and answered as any other message, and tells its sender nothing about any report).
    pub(crate) async fn handle(&self, store: &Store, m: &MessageRow) -> Result<bool, StoreError> {
        let Some(command) = parse_command(&m.text, &self.settings.reference_prefix) else {
            return Ok(false);
        };
        let from = pdu::mask_number(m.sender.as_deref());
        let Some(fp) = self.settings.focal_point(m.sender.as_deref()) else {
            tracing::warn!(%from, "an escalation command from a number that is no focal point: ignored as a command, kept as an ordinary message");
            return Ok(false);
        };
        let (reference, is_info) = match &command {
            Command::Ack(r) => (r.clone(), false),
            Command::Info(r) => (r.clone(), true),
        };
        let report = store
            .escalated_report(reference.clone(), fp.number.clone())
            .await?;
        let (partner, by) = (&fp.partner, fp.label());
        let Some(report) = report else {
            if store.mark_message_handled(m.id).await? {
                tracing::warn!(%reference, %partner, %by, "a focal point's command names a report that was not escalated to them: nothing done");
            }
            return Ok(true);
        };
        if !is_info {
            if let Some(taken) = store
                .acknowledge_escalation(m.id, Some(report.incident_id), fp.number.clone())
                .await?
            {
                tracing::info!(%reference, %partner, %by, taken_by = %taken, "escalated report taken by a focal point (ACK)");
            }
            return Ok(true);
        }
        let answer = self.info_text(&report.reference, &report.text);
        let parts = u32::try_from(pdu::sms_cost(&answer, self.settings.transliterate).parts)
            .unwrap_or(u32::MAX);
        let out = NewOutgoing {
            modem: m.modem.clone(),
            recipient: fp.number.clone(),
            text: answer,
            kind: ReplyKind::EscalationInfo,
        };
        let verdict = store
            .answer_escalation_info(
                m.id,
                report.incident_id,
                Some((out, parts)),
                self.settings.guard.clone(),
            )
            .await?;
        match verdict {
            Some(ReplyVerdict::Queued(_)) => {
                tracing::info!(%reference, %partner, %by, parts, "report text sent to a focal point (INFO)")
            }
            Some(ReplyVerdict::Refused { kind, reason }) => {
                tracing::error!(%reference, %partner, %by, %kind, %reason, "INFO answer NOT sent: the guard refused it")
            }
            None => {}
        }
        Ok(true)
    }

    /// The report's text after its reference, cut to `escalation.info_max_parts` SMS.
    fn info_text(&self, reference: &str, text: &str) -> String {
        let mut answer = format!("{reference}: {}", text.trim());
        let cap = usize::try_from(self.settings.info_max_parts).unwrap_or(1);
        let transliterate = self.settings.transliterate;
        if pdu::sms_cost(&answer, transliterate).parts <= cap {
            return answer;
        }
        // Cut a word at a time, then a character at a time, keeping a mark that it was cut.
        while pdu::sms_cost(&format!("{answer} .."), transliterate).parts > cap {
            match answer.rfind(' ') {
                Some(i) if i > reference.len() + 1 => answer.truncate(i),
                _ => {
                    answer.pop();
                }
            }
        }
        answer + " .."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_in_any_case_and_the_reference_as_the_box_writes_it() {
        for (text, expected) in [
            ("ACK K7-0042", Some(Command::Ack("K7-0042".into()))),
            ("ack k7-42", Some(Command::Ack("K7-0042".into()))),
            ("  Reçu K7 42 ", Some(Command::Ack("K7-0042".into()))),
            ("info K7-0042.", Some(Command::Info("K7-0042".into()))),
            ("Maelezo K7-123456", Some(Command::Info("K7-123456".into()))),
            ("ACK", None),
            ("ACK K8-0042", None),
            ("AJALI K7-0042", None),
            ("OK mgodi wa Kalimbi", None),
            ("ACK K7-0042 na mimi", None),
        ] {
            assert_eq!(parse_command(text, "K7"), expected, "{text:?}");
        }
    }

    #[test]
    fn the_alert_is_one_gsm7_sms_whatever_the_place() {
        let long_place = "mgodi wa Kalimbi karibu na mto Nyabarongo upande wa kaskazini \
                          nyuma ya kanisa la Mtakatifu Yohane ambapo wachimbaji wengi hukaa";
        for (language, place, who) in [
            ("sw", "mgodi wa Kalimbi", "r-6a1690845a23495b"),
            ("fr", long_place, "r-6a1690845a23495b"),
            ("en", "Nyabibwe — près de l’école ☺", "+243812345601"),
            ("sw", &long_place.repeat(5), "r-6a1690845a23495b"),
        ] {
            let alert = Alert {
                reference: "K7-0042",
                type_label: "Watu wenye silaha",
                place,
                time: "07/12 05:20 UTC+2",
                who,
            };
            let text = alert.text(language);
            assert!(fits_one(&text), "{language}: {text:?}");
            assert!(text.contains("K7-0042"), "{text}");
            assert!(text.contains("07/12 05:20"), "{text}");
        }
        let short = Alert {
            reference: "K7-0042",
            // é is in the GSM-7 alphabet itself: kept.
            type_label: "Hommes armés",
            place: "Bisie",
            time: "07/12 05:20 UTC+2",
            who: "r-6a1690845a23495b",
        };
        let nameless = Alert { who: "", ..short };
        assert!(
            !nameless.text("fr").contains("Auteur"),
            "{}",
            nameless.text("fr")
        );
        assert_eq!(
            short.text("fr"),
            "URGENT K7-0042, Hommes armés, Bisie, 07/12 05:20 UTC+2. Auteur r-6a1690845a23495b. \
             Repondez ACK K7-0042 ou INFO K7-0042"
        );
    }

    #[test]
    fn the_time_is_the_networks_in_its_own_offset_else_the_boxs_in_utc() {
        assert_eq!(
            when(Some("2026-12-07T05:20:11+02:00"), 0),
            "07/12 05:20 UTC+2"
        );
        assert_eq!(when(None, 1_796_613_600_000), "07/12 03:20 UTC");
    }
}
