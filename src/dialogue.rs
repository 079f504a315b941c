//! Reporter conversations: what one message does — a report, help, an info reply, or a turn of
//! the Kufatilia survey (one question per SMS, the steps taken from the keyword table's
//! `[survey]`, each answer checked and asked again once when it does not fit).
//!
//! This module only decides: given where a reporter's survey stands and their new message, what
//! to record and which reply to send. The store keeps the state per sender and applies the
//! decision in one transaction (see `store::sessions`), so a restart or a modem change never
//! loses a half-done survey.
//!
//! Since it knows every text a message can get back, it also costs them all in SMS for
//! `check-config` and the start-up check ([`check_templates`]).

use std::collections::BTreeMap;

use crate::reply::{self, NoReply, TemplateValues};
use config::Config;
use intake::{AnswerKind, Intent, Keywords, Reading, Survey, UNKNOWN_TYPE};
use store::{
    DecodeStatus, IncidentDraft, MessageRow, NewOutgoing, ReplyKind, ReplyPlan, SessionState,
    TurnPlan, TurnWrite,
};

/// The chosen incident type of a survey, if that step was answered.
fn incident_type<'a>(state: &'a SessionState, survey: &Survey) -> Option<&'a str> {
    survey
        .steps
        .iter()
        .find(|s| s.answer == AnswerKind::Type)
        .and_then(|s| state.answer(&s.id))
}

/// What a message does to a survey.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Turn {
    /// Ask `question`; the survey is now `state`.
    Ask {
        state: SessionState,
        question: String,
    },
    /// The last step is answered: record the report.
    Done { state: SessionState },
}

/// Everything known about a message before its sender's session is looked up.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub(crate) message: MessageRow,
    pub(crate) reading: Reading,
    /// The reference this message's incident gets (survey reports: the last message's).
    pub(crate) reference: String,
    /// Whether the sender may get a reply at all.
    pub(crate) may_reply: Result<(), NoReply>,
    /// An operator's or a service's message (`ReplyPolicy::is_service_message`): kept, never
    /// an incident, never answered.
    pub(crate) service: bool,
}

/// What the message did, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Report,
    Help,
    Info,
    SurveyStarted,
    SurveyAnswer,
    SurveyDone,
    Service,
}

impl Action {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Action::Report => "report",
            Action::Help => "help",
            Action::Info => "info",
            Action::SurveyStarted => "survey started",
            Action::SurveyAnswer => "survey answer",
            Action::SurveyDone => "survey complete",
            Action::Service => "service message (operator): not forwarded",
        }
    }
}

/// Decides what `m` does, given the sender's live survey (if any).
pub(crate) fn plan(
    keywords: &Keywords,
    m: &Incoming,
    session: Option<SessionState>,
) -> (TurnPlan, Action) {
    let msg = &m.message;
    if m.service {
        // An operator's promotion or notice: kept on the box, but no incident for the platform
        // and no reply (recorded as refused, with the sender's kind).
        let reply = match &m.may_reply {
            Err(why) => ReplyPlan::Refused {
                recipient: msg.sender.clone().unwrap_or_default(),
                kind: why.kind(),
                reason: why.to_string(),
            },
            Ok(()) => ReplyPlan::None,
        };
        return (
            TurnPlan {
                write: TurnWrite::Handled,
                reply,
            },
            Action::Service,
        );
    }
    let decoded = msg.decode_status != DecodeStatus::Undecodable;
    // Only a reporter we may answer can hold a survey: a robot gets no questions.
    let survey = keywords
        .survey
        .as_ref()
        .filter(|_| decoded && m.may_reply.is_ok() && msg.sender.is_some());
    if let Some(survey) = survey {
        let turn = match (&m.reading.intent, session) {
            // The trigger word (re)starts the survey, even in the middle of one.
            (Intent::Survey, _) => Some((start(keywords, survey, &m.reading.language), true)),
            (_, Some(state)) => Some((answer(keywords, survey, state, &msg.text), false)),
            (_, None) => None,
        };
        if let Some((turn, started)) = turn {
            return survey_plan(keywords, survey, m, turn, started);
        }
    }
    let lang = m.reading.language.as_str();
    // Help and info from a number we never answer (a blocked number) are kept as reports, so
    // nothing a reporter sent goes unforwarded.
    let answerable = decoded && m.may_reply.is_ok();
    let (write, template, kind, action) = match (&m.reading.intent, answerable) {
        (Intent::Help, true) => (
            TurnWrite::Handled,
            keywords.replies.help.get(lang).cloned(),
            ReplyKind::Help,
            Action::Help,
        ),
        (Intent::Info(i), true) => (
            TurnWrite::Handled,
            keywords
                .info
                .get(*i)
                .and_then(|info| info.reply.get(lang).cloned()),
            ReplyKind::Info,
            Action::Info,
        ),
        (intent, _) => {
            let (template, kind) = match intent {
                Intent::Report(_) => (keywords.replies.ack.get(lang), ReplyKind::Ack),
                _ => (keywords.replies.unknown.get(lang), ReplyKind::Unknown),
            };
            let incident_type = if decoded {
                keywords.type_id(intent).to_string()
            } else {
                UNKNOWN_TYPE.to_string()
            };
            let draft = IncidentDraft {
                message_id: msg.id,
                reference: m.reference.clone(),
                incident_type,
                language: Some(lang.to_string()),
                description: m.reading.description.clone(),
                location: m.reading.location.clone(),
            };
            (
                TurnWrite::Incident(draft),
                template.filter(|_| decoded).cloned(),
                kind,
                Action::Report,
            )
        }
    };
    let text = template.map(|t| {
        reply::render(
            &t,
            &TemplateValues {
                reference: &m.reference,
                type_label: &keywords.reply_type_label(&m.reading.intent, lang),
                keywords: &keywords.keyword_list(lang),
            },
        )
    });
    let reply = reply_plan(m, text, kind);
    (TurnPlan { write, reply }, action)
}

fn survey_plan(
    keywords: &Keywords,
    survey: &Survey,
    m: &Incoming,
    turn: Turn,
    started: bool,
) -> (TurnPlan, Action) {
    match turn {
        Turn::Ask { state, question } => {
            let partial = survey_draft(survey, m, &state);
            let answers = answers_with(&state, SurveyStatus::Partial);
            let kind = if started {
                ReplyKind::Survey
            } else {
                ReplyKind::Question
            };
            let reply = reply_plan(m, Some(question), kind);
            (
                TurnPlan {
                    write: TurnWrite::Continue {
                        state,
                        partial,
                        answers,
                    },
                    reply,
                },
                if started {
                    Action::SurveyStarted
                } else {
                    Action::SurveyAnswer
                },
            )
        }
        Turn::Done { state } => {
            let draft = survey_draft(survey, m, &state);
            let lang = state.language.as_str();
            let intent = keywords
                .types
                .iter()
                .position(|t| t.id == draft.incident_type)
                .map_or(Intent::Unknown, Intent::Report);
            let text = keywords.replies.ack.get(lang).map(|t| {
                reply::render(
                    t,
                    &TemplateValues {
                        reference: &m.reference,
                        type_label: &keywords.reply_type_label(&intent, lang),
                        keywords: &keywords.keyword_list(lang),
                    },
                )
            });
            let reply = reply_plan(m, text, ReplyKind::Ack);
            let answers = answers_with(&state, SurveyStatus::Complete);
            (
                TurnPlan {
                    write: TurnWrite::Finish { draft, answers },
                    reply,
                },
                Action::SurveyDone,
            )
        }
    }
}

/// The incident a survey gives, as far as it got; its reference is this message's.
fn survey_draft(survey: &Survey, m: &Incoming, state: &SessionState) -> IncidentDraft {
    IncidentDraft {
        message_id: m.message.id,
        reference: m.reference.clone(),
        incident_type: incident_type(state, survey)
            .unwrap_or(UNKNOWN_TYPE)
            .to_string(),
        language: Some(state.language.clone()),
        description: state.answer("description").unwrap_or_default().to_string(),
        location: state.answer("place").map(str::to_string),
    }
}

/// How far a forwarded survey got, in its answers under [`SurveyStatus::KEY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SurveyStatus {
    /// Every step answered (or skipped after a second bad answer).
    Complete,
    /// Left unanswered: what the reporter gave so far, forwarded after the session timeout.
    Partial,
}

impl SurveyStatus {
    /// The answer key the platform reads the status under.
    const KEY: &str = "survey";

    fn as_str(self) -> &'static str {
        match self {
            SurveyStatus::Complete => "complete",
            SurveyStatus::Partial => "partial",
        }
    }
}

/// The answers as forwarded, with the survey's status.
fn answers_with(state: &SessionState, status: SurveyStatus) -> BTreeMap<String, String> {
    let mut answers = state.answers.clone();
    answers.insert(SurveyStatus::KEY.into(), status.as_str().into());
    answers
}

fn reply_plan(m: &Incoming, text: Option<String>, kind: ReplyKind) -> ReplyPlan {
    let Some(text) = text else {
        return ReplyPlan::None;
    };
    match (&m.may_reply, &m.message.sender) {
        (Ok(()), Some(sender)) => ReplyPlan::Send(NewOutgoing {
            modem: m.message.modem.clone(),
            recipient: sender.clone(),
            text,
            kind,
        }),
        (Err(why), sender) => ReplyPlan::Refused {
            recipient: sender.clone().unwrap_or_default(),
            kind: why.kind(),
            reason: why.to_string(),
        },
        (Ok(()), None) => ReplyPlan::Refused {
            recipient: String::new(),
            kind: NoReply::NoSender.kind(),
            reason: NoReply::NoSender.to_string(),
        },
    }
}

/// Starts a survey in `language` (the trigger's): the first question.
fn start(keywords: &Keywords, survey: &Survey, language: &str) -> Turn {
    let state = SessionState {
        step: 0,
        retries: 0,
        language: language.to_string(),
        answers: BTreeMap::new(),
    };
    next(keywords, survey, state)
}

/// Takes the reporter's answer to the step awaited in `state`.
fn answer(keywords: &Keywords, survey: &Survey, mut state: SessionState, text: &str) -> Turn {
    let Some(step) = survey.steps.get(state.step) else {
        return Turn::Done { state };
    };
    match validate(keywords, survey, step.answer, text) {
        Some(value) => {
            if step.answer == AnswerKind::Language {
                state.language = value.clone();
            }
            state.answers.insert(step.id.clone(), value);
            state.step += 1;
            state.retries = 0;
            next(keywords, survey, state)
        }
        None if state.retries == 0 => {
            state.retries = 1;
            let question = format!(
                "{} {}",
                text_in(&survey.invalid, &state.language, &keywords.default_language),
                question(keywords, survey, state.step, &state.language)
            );
            Turn::Ask { state, question }
        }
        // A second bad answer: leave the step empty rather than hold the reporter (or a robot)
        // in a loop of questions.
        None => {
            state.step += 1;
            state.retries = 0;
            next(keywords, survey, state)
        }
    }
}

/// The question of step `step` in `language`, with the type menu filled in.
fn question(keywords: &Keywords, survey: &Survey, step: usize, language: &str) -> String {
    let Some(s) = survey.steps.get(step) else {
        return String::new();
    };
    text_in(&s.question, language, &keywords.default_language)
        .replace("{menu}", &keywords.type_menu(language))
}

fn next(keywords: &Keywords, survey: &Survey, state: SessionState) -> Turn {
    if state.step >= survey.steps.len() {
        return Turn::Done { state };
    }
    let question = question(keywords, survey, state.step, &state.language);
    Turn::Ask { state, question }
}

/// The answer as stored, or None when it does not fit the step.
fn validate(keywords: &Keywords, survey: &Survey, kind: AnswerKind, text: &str) -> Option<String> {
    let text = text.trim();
    match kind {
        AnswerKind::Language => {
            let n = menu_number(text)?;
            survey.languages.get(n.checked_sub(1)? as usize).cloned()
        }
        AnswerKind::Type => {
            if let Some(n) = menu_number(text) {
                return keywords
                    .types
                    .iter()
                    .find(|t| t.menu == n)
                    .map(|t| t.id.clone());
            }
            // "ajali" is as good an answer as "1".
            match keywords.read(text).intent {
                Intent::Report(i) => keywords.types.get(i).map(|t| t.id.clone()),
                _ => None,
            }
        }
        AnswerKind::Text => text
            .chars()
            .any(char::is_alphanumeric)
            .then(|| text.to_string()),
    }
}

/// "2", "2.", " 2 " → 2; anything else is not a menu number.
fn menu_number(text: &str) -> Option<u32> {
    let t = text.trim_end_matches(|c: char| c == '.' || c == ')' || c.is_whitespace());
    if t.is_empty() || t.len() > 3 || !t.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn text_in<'a>(set: &'a BTreeMap<String, String>, language: &str, default: &str) -> &'a str {
    set.get(language)
        .or_else(|| set.get(default))
        .or_else(|| set.values().next())
        .map_or("", String::as_str)
}

/// The SMS cost of one reply template, rendered with worst-case values.
#[derive(Debug, Clone)]
pub struct TemplateCost {
    /// Where it is in the keyword table, e.g. `replies.ack.sw` or `survey.steps[1].fr`.
    pub name: String,
    pub cost: pdu::SmsCost,
    pub(crate) characters: usize,
}

/// Every text the gateway may send (reply templates, info replies, survey questions, a
/// question asked again), each rendered with the longest values it can get and costed with the
/// gateway's transliteration. Errors name each text that needs more than one SMS, unless
/// `replies.allow_multipart` is set.
pub fn check_templates(config: &Config, keywords: &Keywords) -> (Vec<TemplateCost>, Vec<String>) {
    let mut errors = check_template_words(keywords);
    let reference = format!("{}-000000", config.reference_prefix);
    let mut texts: Vec<(String, String)> = Vec::new();
    for (name, set) in [
        ("ack", &keywords.replies.ack),
        ("unknown", &keywords.replies.unknown),
        ("help", &keywords.replies.help),
    ] {
        for (lang, template) in set {
            let longest_label = keywords
                .types
                .iter()
                .filter_map(|t| t.label.get(lang))
                .max_by_key(|l| l.chars().count())
                .filter(|_| keywords.replies.names_type(lang))
                .cloned()
                .unwrap_or_default();
            let v = TemplateValues {
                reference: &reference,
                type_label: &longest_label,
                keywords: &keywords.keyword_list(lang),
            };
            texts.push((
                format!("replies.{name}.{lang}"),
                reply::render(template, &v),
            ));
        }
    }
    for info in &keywords.info {
        for (lang, text) in &info.reply {
            texts.push((format!("info {:?}.{lang}", info.id), text.clone()));
        }
    }
    if let Some(survey) = &keywords.survey {
        for (i, step) in survey.steps.iter().enumerate() {
            for lang in keywords.languages.keys() {
                let q = question(keywords, survey, i, lang);
                let again = format!("{} {q}", survey.invalid.get(lang).map_or("", |s| s));
                // The question asked again is the longer of the two.
                texts.push((
                    format!("survey.steps[{i}] ({}).{lang}, asked again", step.id),
                    again,
                ));
            }
        }
    }
    let mut costs = Vec::new();
    for (name, text) in texts {
        let cost = pdu::sms_cost(&text, config.sms.transliterate);
        if cost.parts > 1 && !config.replies.allow_multipart {
            errors.push(format!(
                "{name} costs {} SMS ({} characters, {}); shorten it to fit one SMS or set replies.allow_multipart = true",
                cost.parts,
                text.chars().count(),
                cost.encoding.as_str()
            ));
        }
        costs.push(TemplateCost {
            name,
            characters: text.chars().count(),
            cost,
        });
    }
    (costs, errors)
}

/// Placeholders of the reply templates (`reply::render` fills them).
const REPLY_PLACEHOLDERS: &[&str] = &["reference", "type", "keywords"];
/// Placeholders of a survey question (`question` fills it).
const QUESTION_PLACEHOLDERS: &[&str] = &["menu"];

/// One text of the keyword table a reporter may get, with what may fill it.
struct TableText<'a> {
    /// Where it is, e.g. `replies.ack.fr`.
    name: String,
    /// A line of the file at or before it (its section), to find its line.
    section: String,
    language: &'a str,
    text: &'a str,
    placeholders: &'static [&'static str],
}

/// Every text of the table a reporter may get, in every language: refused when empty, or when
/// it holds a `{placeholder}` nothing fills (it would reach the reporter as written). Each error
/// names the file, the line, the text and the closest placeholder.
fn check_template_words(keywords: &Keywords) -> Vec<String> {
    let mut texts: Vec<TableText<'_>> = Vec::new();
    for (name, set) in [
        ("ack", &keywords.replies.ack),
        ("unknown", &keywords.replies.unknown),
        ("help", &keywords.replies.help),
    ] {
        for (lang, text) in set {
            texts.push(TableText {
                name: format!("replies.{name}.{lang}"),
                section: format!("[replies.{name}]"),
                language: lang,
                text,
                placeholders: REPLY_PLACEHOLDERS,
            });
        }
    }
    for t in &keywords.types {
        for (lang, text) in &t.label {
            texts.push(TableText {
                name: format!("type {:?} label.{lang}", t.id),
                section: format!("id = {:?}", t.id),
                language: lang,
                text,
                placeholders: &[],
            });
        }
    }
    for info in &keywords.info {
        for (lang, text) in &info.reply {
            texts.push(TableText {
                name: format!("info {:?} reply.{lang}", info.id),
                section: format!("id = {:?}", info.id),
                language: lang,
                text,
                placeholders: &[],
            });
        }
    }
    if let Some(survey) = &keywords.survey {
        for (lang, text) in &survey.invalid {
            texts.push(TableText {
                name: format!("survey.invalid.{lang}"),
                section: "[survey]".into(),
                language: lang,
                text,
                placeholders: &[],
            });
        }
        for (i, step) in survey.steps.iter().enumerate() {
            for (lang, text) in &step.question {
                texts.push(TableText {
                    name: format!("survey.steps[{i}] ({}) question.{lang}", step.id),
                    section: format!("id = {:?}", step.id),
                    language: lang,
                    text,
                    placeholders: QUESTION_PLACEHOLDERS,
                });
            }
        }
    }
    let file = keywords.origin.display();
    let mut errors = Vec::new();
    for t in texts {
        let at = |needle: &str| {
            keywords
                .line_of(&t.section, needle)
                .map_or_else(|| file.to_string(), |line| format!("{file} line {line}"))
        };
        if t.text.trim().is_empty() {
            errors.push(format!(
                "{}: {} is empty: write the text a reporter gets in this language",
                at(&format!("{} = \"", t.language)),
                t.name
            ));
            continue;
        }
        for word in placeholders_in(t.text) {
            if t.placeholders.contains(&word) {
                continue;
            }
            let known = t
                .placeholders
                .iter()
                .map(|p| format!("{{{p}}}"))
                .collect::<Vec<_>>();
            let fix = match closest(word, t.placeholders) {
                Some(p) => format!("did you mean {{{p}}}?"),
                None if known.is_empty() => "this text takes no placeholder".into(),
                None => format!("it takes {}", known.join(", ")),
            };
            let placeholder = format!("{{{word}}}");
            let line = if keywords.line_of(&t.section, t.text).is_some() {
                at(t.text)
            } else {
                at(&placeholder)
            };
            errors.push(format!(
                "{line}: {} has the unknown placeholder {placeholder}, which would reach the reporter as written: {fix}",
                t.name
            ));
        }
    }
    errors
}

/// The words between braces in a text: `{reference}` gives `reference`.
fn placeholders_in(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(word, _)| word))
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// The placeholder nearest to a mistyped one, if it is near enough to be meant.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&word.to_lowercase(), k), *k))
        .filter(|(d, k)| *d <= 3.min(k.len() / 2 + 1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw() -> Keywords {
        Keywords::builtin().unwrap()
    }

    fn ask(turn: Turn) -> (SessionState, String) {
        match turn {
            Turn::Ask { state, question } => (state, question),
            Turn::Done { state } => panic!("survey ended early: {state:?}"),
        }
    }

    #[test]
    fn a_french_survey_from_start_to_end() {
        let k = kw();
        let s = k.survey.clone().unwrap();
        let (st, q) = ask(start(&k, &s, "sw"));
        assert!(q.contains("1 Kiswahili 2 Francais 3 English"), "{q}");
        let (st, q) = ask(answer(&k, &s, st, "2"));
        assert_eq!(st.language, "fr");
        assert!(
            q.starts_with("Envoyez le numero: 1 Accident 2 Violence"),
            "{q}"
        );
        let (st, q) = ask(answer(&k, &s, st, " 4. "));
        assert!(q.starts_with("Ou?"), "{q}");
        let (st, _) = ask(answer(&k, &s, st, "Nyabibwe"));
        let Turn::Done { state } = answer(&k, &s, st, "Ils prennent 5000 FC par sac") else {
            panic!("not done")
        };
        assert_eq!(incident_type(&state, &s), Some("illegal_tax"));
        assert_eq!(state.answer("place"), Some("Nyabibwe"));
        assert_eq!(state.answers.len(), 4);
    }

    #[test]
    fn a_bad_answer_is_asked_again_once_then_skipped() {
        let k = kw();
        let s = k.survey.clone().unwrap();
        let (st, _) = ask(start(&k, &s, "sw"));
        let (st, _) = ask(answer(&k, &s, st, "3"));
        let (st, q) = ask(answer(&k, &s, st, "99"));
        assert!(q.starts_with("Sorry. Send the number"), "{q}");
        assert_eq!(st.step, 1);
        let (st, q) = ask(answer(&k, &s, st, "what?"));
        assert!(q.starts_with("Where?"), "moved on: {q}");
        assert_eq!(incident_type(&st, &s), None);
        let (st, q) = ask(answer(&k, &s, st, "  ...  "));
        assert!(q.starts_with("Sorry. Where?"), "{q}");
        assert_eq!(st.step, 2);
    }

    #[test]
    fn a_type_keyword_answers_the_menu() {
        let k = kw();
        let s = k.survey.clone().unwrap();
        let (st, _) = ask(start(&k, &s, "sw"));
        let (st, _) = ask(answer(&k, &s, st, "1"));
        let (st, _) = ask(answer(&k, &s, st, "ajali"));
        assert_eq!(incident_type(&st, &s), Some("accident"));
    }

    /// The acknowledgement a report `text` from a reporter gets.
    fn ack_for(k: &Keywords, text: &str) -> String {
        let m = Incoming {
            message: MessageRow {
                id: 1,
                modem: "vodacom".into(),
                sender: Some("+243812345678".into()),
                sender_kind: Some(pdu::AddressKind::International),
                text: text.into(),
                parts: 1,
                decode_status: DecodeStatus::Ok,
            },
            reading: k.read(text),
            reference: "K7-0001".into(),
            may_reply: Ok(()),
            service: false,
        };
        match plan(k, &m, None) {
            (
                TurnPlan {
                    reply: ReplyPlan::Send(out),
                    ..
                },
                Action::Report,
            ) => out.text,
            other => panic!("{text:?} is not a report with a reply: {other:?}"),
        }
    }

    /// " word word " in lower case, to look for whole words and phrases.
    fn words_of(text: &str) -> String {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        format!(" {} ", words.join(" "))
    }

    /// Each type's first keyword in `lang` with the type's labels in every language.
    fn reports(k: &Keywords, lang: &str) -> Vec<(String, Vec<String>)> {
        let firsts = k.keyword_list(lang);
        firsts
            .split(", ")
            .zip(&k.types)
            .map(|(keyword, t)| {
                let mut names: Vec<String> = t.label.values().cloned().collect();
                names.push(keyword.to_string());
                (format!("{keyword} mgodini leo asubuhi"), names)
            })
            .collect()
    }

    #[test]
    fn the_default_ack_does_not_say_what_was_reported() {
        let k = kw();
        let every_name: Vec<String> = k
            .languages
            .keys()
            .flat_map(|lang| reports(&k, lang))
            .flat_map(|(_, names)| names)
            .collect();
        for lang in k.languages.keys() {
            assert!(!k.replies.names_type(lang), "{lang} opted in by default");
            for (text, _) in reports(&k, lang) {
                let ack = ack_for(&k, &text);
                assert!(ack.contains("K7-0001"), "{ack:?}");
                let ack_words = words_of(&ack);
                for name in &every_name {
                    assert!(
                        !ack_words.contains(&words_of(name)),
                        "the ack to {text:?} names {name:?}: {ack:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_language_that_opts_in_names_the_type() {
        let text = include_str!("../config/keywords.toml")
            .replace(
                "{reference} imepokelewa",
                "{reference} ({type}) imepokelewa",
            )
            .replace("{reference} est bien", "{reference} ({type}) est bien")
            .replace(
                "{reference} was received",
                "{reference} ({type}) was received",
            );
        let opted = text.replace("sw = false", "sw = true");
        let k = Keywords::parse(&opted, std::path::Path::new("keywords.toml")).unwrap();
        for (text, _) in reports(&k, "sw") {
            let reading = k.read(&text);
            let label = k.type_label(&reading.intent, &reading.language);
            let ack = ack_for(&k, &text);
            if reading.language == "sw" {
                assert!(ack.contains(&format!("({label})")), "{ack:?}");
            } else {
                assert!(
                    !ack.contains('('),
                    "{} did not opt in: {ack:?}",
                    reading.language
                );
            }
        }
        // {type} in a template of a language that did not opt in is left out, not filled.
        let k = Keywords::parse(&text, std::path::Path::new("keywords.toml")).unwrap();
        let ack = ack_for(&k, "AJALI mgodini");
        assert_eq!(
            ack,
            "Asante. Ripoti yako K7-0001 imepokelewa. Tutafuatilia."
        );
    }

    #[test]
    fn survey_statuses_have_their_own_names() {
        assert_eq!(SurveyStatus::Complete.as_str(), "complete");
        assert_eq!(SurveyStatus::Partial.as_str(), "partial");
    }

    #[test]
    fn menu_numbers() {
        assert_eq!(menu_number("2"), Some(2));
        assert_eq!(menu_number("10."), Some(10));
        assert_eq!(menu_number("2 3"), None);
        assert_eq!(menu_number("-1"), None);
        assert_eq!(menu_number("99999"), None);
        assert_eq!(menu_number(""), None);
    }
}
