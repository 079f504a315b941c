//! Incident intake: the keyword table (`keywords.toml`) and what a reporter's text says — the
//! incident type, the language, and the description that follows the keyword.
//!
//! Matching works on normalised words (lower case, accents and punctuation removed) so that
//! "Ajali!", "AJALI" and "ajalí" are the same word on a feature phone, and tolerates one typo in
//! keywords of five letters or more unless two types would then match equally well.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The same words for a wrong key or value as gateway.toml's: one text, compiled into both
/// (this crate and `config` are leaves, neither uses the other).
mod toml_words {
    include!("../../config/src/toml_words.rs");
}

/// Type given to a message in which no keyword was found.
pub const UNKNOWN_TYPE: &str = "unknown";

/// Keywords are looked for at the start of the message and in its second word ("Habari, AJALI").
const KEYWORD_START_WORDS: usize = 2;
/// Keywords at least this long tolerate one typo.
const TYPO_MIN_LEN: usize = 5;

/// A problem in the keyword table.
#[derive(Debug, thiserror::Error)]
pub enum KeywordsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeywordsFile {
    default_language: String,
    languages: BTreeMap<String, String>,
    types: Vec<TypeEntry>,
    #[serde(default)]
    help: Option<HelpEntry>,
    #[serde(default)]
    location: Option<LocationEntry>,
    #[serde(default)]
    info: Vec<InfoEntry>,
    #[serde(default)]
    survey: Option<Survey>,
    replies: Replies,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationEntry {
    words: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoEntry {
    id: String,
    keywords: BTreeMap<String, Vec<String>>,
    reply: BTreeMap<String, String>,
}

/// An info keyword: a canned reply (prices, contacts), never an incident.
#[derive(Debug, Clone)]
pub struct Info {
    pub id: String,
    pub reply: BTreeMap<String, String>,
}

/// The Kufatilia survey: its trigger words and its steps (see `dialogue`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    /// Words that start the survey, in any language.
    pub(crate) keywords: Vec<String>,
    /// The language menu: the first code is answer 1, and so on.
    pub languages: Vec<String>,
    /// Put before a question asked again after a bad answer.
    pub invalid: BTreeMap<String, String>,
    pub steps: Vec<SurveyStep>,
}

/// One question of the survey.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyStep {
    /// Names the answer in the forwarded report; `place` fills the incident's location and
    /// `description` its description.
    pub id: String,
    pub answer: AnswerKind,
    /// The question per language; `{menu}` is replaced by the numbered list of types.
    pub question: BTreeMap<String, String>,
}

/// What a survey step accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerKind {
    /// A number of the survey's language menu.
    Language,
    /// A number of the incident type menu (or a type's keyword).
    Type,
    /// Any non-empty text.
    Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeEntry {
    id: String,
    menu: u32,
    label: BTreeMap<String, String>,
    keywords: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HelpEntry {
    keywords: BTreeMap<String, Vec<String>>,
}

/// Reply templates per language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replies {
    pub ack: BTreeMap<String, String>,
    pub unknown: BTreeMap<String, String>,
    pub help: BTreeMap<String, String>,
    /// Languages whose replies may name the incident type (`{type}`). Off unless set to true:
    /// a phone seized at a checkpoint shows its owner's inbox, and "Armed men ... received"
    /// says what was reported.
    #[serde(default)]
    pub ack_names_type: BTreeMap<String, bool>,
}

impl Replies {
    /// Whether a reply in `language` may name the incident type.
    pub fn names_type(&self, language: &str) -> bool {
        self.ack_names_type.get(language).copied().unwrap_or(false)
    }
}

/// One incident type of the table.
#[derive(Debug, Clone)]
pub struct IncidentType {
    pub id: String,
    pub menu: u32,
    pub label: BTreeMap<String, String>,
    pub(crate) keywords: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Type(usize),
    Help,
    Info(usize),
    Survey,
}

#[derive(Debug, Clone)]
struct Phrase {
    words: Vec<String>,
    target: Target,
    language: String,
}

/// The loaded, checked keyword table.
#[derive(Debug, Clone)]
pub struct Keywords {
    pub default_language: String,
    /// Language codes and names, in the order of the file.
    pub languages: BTreeMap<String, String>,
    pub types: Vec<IncidentType>,
    pub replies: Replies,
    /// Info keywords and their canned replies.
    pub info: Vec<Info>,
    /// The survey dialogue, when the table defines one.
    pub survey: Option<Survey>,
    phrases: Vec<Phrase>,
    /// Words that introduce a place ("karibu na", "pres de", "at"), normalised.
    location_words: Vec<Vec<String>>,
    /// The file the table came from, to name it in errors.
    pub origin: PathBuf,
    /// Its text, to give the line of a text an error is about.
    source: String,
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// A report of this incident type (index into [`Keywords::types`]).
    Report(usize),
    /// No keyword: still a report, of type `unknown`.
    Unknown,
    /// The reporter asks for the menu.
    Help,
    /// An info keyword (index into [`Keywords::info`]): a canned reply.
    Info(usize),
    /// The survey's trigger word.
    Survey,
}

/// The reading of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub intent: Intent,
    pub language: String,
    /// The reporter's words after the keyword, as they wrote them.
    pub description: String,
    /// The place named after a location word ("karibu na Kalimbi"), in a report.
    pub location: Option<String>,
}

impl Keywords {
    /// Loads and checks the table from a file.
    pub fn load(path: &Path) -> Result<Keywords, KeywordsError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeywordsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Keywords::parse(&text, path)
    }

    /// The table shipped with the gateway (`config/keywords.toml`).
    pub fn builtin() -> Result<Keywords, KeywordsError> {
        Keywords::parse(
            include_str!("../../../config/keywords.toml"),
            Path::new("keywords.toml (built in)"),
        )
    }

    /// Parses and checks table text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Keywords, KeywordsError> {
        let invalid = |message: String| KeywordsError::Invalid {
            path: origin.to_path_buf(),
            message,
        };
        let de = toml::Deserializer::parse(text)
            .map_err(|e| invalid(format!("(syntax) {}", e.to_string().trim())))?;
        let file: KeywordsFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let message = toml_words::explain_serde_error(&e.into_inner().to_string());
            if key == "." {
                invalid(message)
            } else {
                invalid(format!("`{key}`: {message}"))
            }
        })?;
        file.check().map_err(invalid)?;
        let phrases = file.phrases().map_err(invalid)?;
        let location_words = file.location_words().map_err(invalid)?;
        let mut keywords = file.into_keywords(phrases, location_words);
        keywords.origin = origin.to_path_buf();
        keywords.source = text.to_string();
        Ok(keywords)
    }

    /// The line (from 1) of the first line holding `needle` at or after the first line holding
    /// `after` (the whole file when `after` is not found); spaces are ignored in both, so
    /// `fr = ""` finds `fr=""`.
    pub fn line_of(&self, after: &str, needle: &str) -> Option<usize> {
        let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let (after, needle) = (squeeze(after), squeeze(needle));
        let lines: Vec<String> = self.source.lines().map(squeeze).collect();
        let start = lines.iter().position(|l| l.contains(&after)).unwrap_or(0);
        lines
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, l)| l.contains(&needle))
            .map(|(i, _)| i + 1)
    }

    /// Reads one message.
    pub fn read(&self, text: &str) -> Reading {
        let words: Vec<Word> = words(text).collect();
        let found = self.exact_match(&words).or_else(|| self.typo_match(&words));
        match found {
            Some((phrase, start, len)) => {
                let end = words[start + len - 1].end;
                let description = text[end..]
                    .trim_start_matches(|c: char| !c.is_alphanumeric())
                    .trim_end()
                    .to_string();
                let language = self.pick_language(phrase, &words);
                let p = &self.phrases[phrase];
                let location = match p.target {
                    Target::Type(_) => self.location(&description),
                    _ => None,
                };
                Reading {
                    intent: match p.target {
                        Target::Type(i) => Intent::Report(i),
                        Target::Help => Intent::Help,
                        Target::Info(i) => Intent::Info(i),
                        Target::Survey => Intent::Survey,
                    },
                    language,
                    description,
                    location,
                }
            }
            None => Reading {
                intent: Intent::Unknown,
                language: self.guess_language(&words, None),
                description: text.trim().to_string(),
                location: None,
            },
        }
    }

    /// The type's id for an intent.
    pub fn type_id(&self, intent: &Intent) -> &str {
        match intent {
            Intent::Report(i) => self.types.get(*i).map_or(UNKNOWN_TYPE, |t| t.id.as_str()),
            _ => UNKNOWN_TYPE,
        }
    }

    /// The type's label as a reply to the reporter may show it: empty unless the language
    /// opted in with `replies.ack_names_type`.
    pub fn reply_type_label(&self, intent: &Intent, language: &str) -> String {
        if self.replies.names_type(language) {
            self.type_label(intent, language)
        } else {
            String::new()
        }
    }

    /// The type's label in a language (falls back to the id).
    pub fn type_label(&self, intent: &Intent, language: &str) -> String {
        match intent {
            Intent::Report(i) => self
                .types
                .get(*i)
                .and_then(|t| t.label.get(language).or_else(|| t.label.values().next()))
                .cloned()
                .unwrap_or_else(|| UNKNOWN_TYPE.into()),
            _ => UNKNOWN_TYPE.into(),
        }
    }

    /// The first keyword of every type in a language, upper case, for help texts.
    pub fn keyword_list(&self, language: &str) -> String {
        self.types
            .iter()
            .filter_map(|t| {
                t.keywords
                    .get(language)
                    .or_else(|| t.keywords.values().next())
                    .and_then(|k| k.first())
            })
            .map(|k| k.to_uppercase())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The numbered type menu in a language: "1 Ajali 2 Vurugu ...".
    pub fn type_menu(&self, language: &str) -> String {
        let mut types: Vec<&IncidentType> = self.types.iter().collect();
        types.sort_by_key(|t| t.menu);
        types
            .iter()
            .map(|t| {
                let label = t
                    .label
                    .get(language)
                    .or_else(|| t.label.values().next())
                    .map_or(t.id.as_str(), String::as_str);
                format!("{} {label}", t.menu)
            })
            .collect::<Vec<_>>()
            // The numbers already part the labels; commas would cost a second SMS.
            .join(" ")
    }

    /// The place named after the first location word of `description`: up to four words,
    /// stopping at punctuation, without a leading article ("at the Bisie mine, two men" →
    /// "Bisie mine").
    pub(crate) fn location(&self, description: &str) -> Option<String> {
        let ws: Vec<Word> = words(description).collect();
        for i in 0..ws.len() {
            let Some(n) = self
                .location_words
                .iter()
                .find(|lw| {
                    i + lw.len() <= ws.len()
                        && ws[i..i + lw.len()]
                            .iter()
                            .zip(lw.iter())
                            .all(|(w, l)| w.norm == *l)
                })
                .map(Vec::len)
            else {
                continue;
            };
            let mut j = i + n;
            while j < ws.len() && ARTICLES.contains(&ws[j].norm.as_str()) {
                j += 1;
            }
            if n == 1 && !self.is_place_after_one_letter(description, &ws, i, j) {
                continue;
            }
            let mut end = j;
            while end < ws.len() && end - j < PLACE_MAX_WORDS {
                if STOP_WORDS.contains(&ws[end].norm.as_str()) {
                    break;
                }
                end += 1;
                // Punctuation right after a word closes the place.
                let gap = &description
                    [ws[end - 1].end..ws.get(end).map_or(description.len(), |w| w.start)];
                if gap.chars().any(|c| ",.;:!?()\n".contains(c)) {
                    break;
                }
            }
            // "puits de" without what follows is no place name.
            while end > j && CONNECTORS.contains(&ws[end - 1].norm.as_str()) {
                end -= 1;
            }
            if end > j {
                return Some(description[ws[j].start..ws[end - 1].end].to_string());
            }
        }
        None
    }

    /// French "à" is written "a" on most phones, and "a" is also "has" ("il y a un problème",
    /// "il a vu"): an unaccented one-letter location word counts only when a name follows it
    /// (a capital letter) and no subject comes before it. Written "à", it always counts.
    fn is_place_after_one_letter(
        &self,
        description: &str,
        ws: &[Word],
        i: usize,
        j: usize,
    ) -> bool {
        let w = &ws[i];
        if w.norm.chars().count() != 1 {
            return true;
        }
        let raw = &description[w.start..w.end];
        if raw.to_lowercase() != w.norm {
            return true;
        }
        if i > 0 && SUBJECTS.contains(&ws[i - 1].norm.as_str()) {
            return false;
        }
        ws.get(j)
            .and_then(|next| description[next.start..].chars().next())
            .is_some_and(char::is_uppercase)
    }

    fn exact_match(&self, words: &[Word]) -> Option<(usize, usize, usize)> {
        for start in 0..KEYWORD_START_WORDS.min(words.len()) {
            for (i, p) in self.phrases.iter().enumerate() {
                let n = p.words.len();
                if start + n <= words.len()
                    && words[start..start + n]
                        .iter()
                        .zip(&p.words)
                        .all(|(w, k)| w.norm == *k)
                {
                    return Some((i, start, n));
                }
            }
        }
        None
    }

    /// One typo (Damerau–Levenshtein distance 1) in a one-word keyword of five letters or more,
    /// accepted only when every keyword at that distance means the same thing.
    fn typo_match(&self, words: &[Word]) -> Option<(usize, usize, usize)> {
        for (start, word) in words.iter().enumerate().take(KEYWORD_START_WORDS) {
            if word.norm.chars().count() < TYPO_MIN_LEN - 1 {
                continue;
            }
            let close: Vec<usize> = self
                .phrases
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    p.words.len() == 1
                        && p.words[0].chars().count() >= TYPO_MIN_LEN
                        && strsim::damerau_levenshtein(&word.norm, &p.words[0]) == 1
                })
                .map(|(i, _)| i)
                .collect();
            let Some(&first) = close.first() else {
                continue;
            };
            if close
                .iter()
                .all(|&i| self.phrases[i].target == self.phrases[first].target)
            {
                return Some((first, start, 1));
            }
            // A tie between two meanings: better "unknown" than a wrong type.
            return None;
        }
        None
    }

    /// The keyword's language; when the keyword is shared by several languages, the one whose
    /// common words appear most in the message.
    fn pick_language(&self, phrase: usize, words: &[Word]) -> String {
        let p = &self.phrases[phrase];
        let candidates: Vec<&str> = self
            .phrases
            .iter()
            .filter(|q| q.words == p.words)
            .map(|q| q.language.as_str())
            .collect();
        if candidates.len() == 1 {
            return p.language.clone();
        }
        self.guess_language(words, Some(&candidates))
    }

    fn guess_language(&self, words: &[Word], among: Option<&[&str]>) -> String {
        let mut best: Option<(&str, usize)> = None;
        for lang in self.languages.keys() {
            if among.is_some_and(|a| !a.contains(&lang.as_str())) {
                continue;
            }
            let hints = common_words(lang);
            let score = words
                .iter()
                .filter(|w| hints.contains(&w.norm.as_str()))
                .count();
            if score > 0 && best.is_none_or(|(_, s)| score > s) {
                best = Some((lang, score));
            }
        }
        match (best, among) {
            (Some((lang, _)), _) => lang.to_string(),
            (None, Some(a)) if a.contains(&self.default_language.as_str()) => {
                self.default_language.clone()
            }
            (None, Some(a)) if !a.is_empty() => a[0].to_string(),
            _ => self.default_language.clone(),
        }
    }
}

fn describe(types: &[TypeEntry], target: Target) -> String {
    match target {
        Target::Type(i) => format!("type {:?}", types.get(i).map_or("?", |t| t.id.as_str())),
        Target::Help => "help".into(),
        Target::Info(i) => format!("info #{}", i + 1),
        Target::Survey => "the survey".into(),
    }
}

impl KeywordsFile {
    /// What serde cannot check: every language named is in `[languages]`, every text exists in
    /// every language, ids and menu numbers are unique.
    fn check(&self) -> Result<(), String> {
        if !self.languages.contains_key(&self.default_language) {
            return Err(format!(
                "default_language {:?} is not in [languages]",
                self.default_language
            ));
        }
        self.check_types()?;
        self.check_info()?;
        if let Some(survey) = &self.survey {
            check_survey(survey, &self.languages, &self.types)?;
        }
        for (name, set) in [
            ("ack", &self.replies.ack),
            ("unknown", &self.replies.unknown),
            ("help", &self.replies.help),
        ] {
            self.in_every_language(set, || format!("replies.{name} has no template"))?;
        }
        self.known_languages(&self.replies.ack_names_type, || {
            "replies.ack_names_type".to_string()
        })?;
        Ok(())
    }

    fn check_types(&self) -> Result<(), String> {
        let mut menus = std::collections::HashSet::new();
        for t in &self.types {
            if t.id.is_empty() || t.id == UNKNOWN_TYPE {
                return Err(format!("type id {:?} is reserved or empty", t.id));
            }
            if !menus.insert(t.menu) {
                return Err(format!("menu number {} is used by two types", t.menu));
            }
            self.in_every_language(&t.label, || format!("type {:?} has no label", t.id))?;
            self.known_languages(&t.keywords, || format!("type {:?}", t.id))?;
        }
        Ok(())
    }

    fn check_info(&self) -> Result<(), String> {
        for info in &self.info {
            self.in_every_language(&info.reply, || format!("info {:?} has no reply", info.id))?;
            self.known_languages(&info.keywords, || format!("info {:?}", info.id))?;
        }
        Ok(())
    }

    /// `texts` has an entry for every language of the table; `missing` starts the error.
    fn in_every_language<T>(
        &self,
        texts: &BTreeMap<String, T>,
        missing: impl Fn() -> String,
    ) -> Result<(), String> {
        match self
            .languages
            .keys()
            .find(|lang| !texts.contains_key(*lang))
        {
            Some(lang) => Err(format!("{} in {lang:?}", missing())),
            None => Ok(()),
        }
    }

    /// Every language `by_language` names is in `[languages]`; `owner` starts the error.
    fn known_languages<T>(
        &self,
        by_language: &BTreeMap<String, T>,
        owner: impl Fn() -> String,
    ) -> Result<(), String> {
        match by_language
            .keys()
            .find(|lang| !self.languages.contains_key(*lang))
        {
            Some(lang) => Err(format!(
                "{}: language {lang:?} is not in [languages]",
                owner()
            )),
            None => Ok(()),
        }
    }

    /// Every keyword (types, help, info, survey) as normalised words with its meaning, longest
    /// first.
    fn phrases(&self) -> Result<Vec<Phrase>, String> {
        let mut table = PhraseTable {
            types: &self.types,
            phrases: Vec::new(),
        };
        for (i, t) in self.types.iter().enumerate() {
            table.add_all(&t.keywords, Target::Type(i))?;
        }
        if let Some(help) = &self.help {
            table.add_all(&help.keywords, Target::Help)?;
        }
        for (i, info) in self.info.iter().enumerate() {
            table.add_all(&info.keywords, Target::Info(i))?;
        }
        if let Some(survey) = &self.survey {
            for kw in &survey.keywords {
                table.add(kw, Target::Survey, &self.default_language)?;
            }
        }
        let mut phrases = table.phrases;
        // Longer phrases first, so "travail force" wins over "force".
        phrases.sort_by_key(|p| std::cmp::Reverse(p.words.len()));
        Ok(phrases)
    }

    /// The location words of every language, normalised, longest first.
    fn location_words(&self) -> Result<Vec<Vec<String>>, String> {
        let mut location_words = Vec::new();
        if let Some(loc) = &self.location {
            self.known_languages(&loc.words, || "location".to_string())?;
            for w in loc.words.values().flatten() {
                let norm: Vec<String> = words(w).map(|w| w.norm).collect();
                if norm.is_empty() {
                    return Err(format!("empty location word {w:?}"));
                }
                location_words.push(norm);
            }
        }
        location_words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        Ok(location_words)
    }

    /// The checked table, ready to read messages.
    fn into_keywords(self, phrases: Vec<Phrase>, location_words: Vec<Vec<String>>) -> Keywords {
        Keywords {
            default_language: self.default_language,
            languages: self.languages,
            types: self
                .types
                .into_iter()
                .map(|t| IncidentType {
                    id: t.id,
                    menu: t.menu,
                    label: t.label,
                    keywords: t.keywords,
                })
                .collect(),
            replies: self.replies,
            info: self
                .info
                .into_iter()
                .map(|i| Info {
                    id: i.id,
                    reply: i.reply,
                })
                .collect(),
            survey: self.survey,
            phrases,
            location_words,
            origin: PathBuf::new(),
            source: String::new(),
        }
    }
}

/// The keywords gathered so far, for [`KeywordsFile::phrases`].
struct PhraseTable<'a> {
    /// To name a type in an error.
    types: &'a [TypeEntry],
    phrases: Vec<Phrase>,
}

impl PhraseTable<'_> {
    fn add_all(
        &mut self,
        by_language: &BTreeMap<String, Vec<String>>,
        target: Target,
    ) -> Result<(), String> {
        for (lang, kws) in by_language {
            for kw in kws {
                self.add(kw, target, lang)?;
            }
        }
        Ok(())
    }

    /// One keyword. The same words may not mean two things; the same keyword in a second
    /// language is kept (the message's other words then tell the language), a repeat in the
    /// same language is not.
    fn add(&mut self, kw: &str, target: Target, lang: &str) -> Result<(), String> {
        let words: Vec<String> = words(kw).map(|w| w.norm).collect();
        if words.is_empty() {
            return Err(format!("empty keyword {kw:?}"));
        }
        if let Some(other) = self.phrases.iter().find(|p| p.words == words) {
            if other.target != target {
                return Err(format!(
                    "keyword {kw:?} is used for two different meanings ({} and {})",
                    describe(self.types, other.target),
                    describe(self.types, target)
                ));
            }
            if other.language == lang {
                return Ok(());
            }
        }
        self.phrases.push(Phrase {
            words,
            target,
            language: lang.to_string(),
        });
        Ok(())
    }
}

/// Most words kept as a place.
const PLACE_MAX_WORDS: usize = 4;
/// Skipped between a location word and the place.
const ARTICLES: &[&str] = &["the", "le", "la", "les", "l", "du"];
/// Words before "a" that make it the verb ("il y a", "elle a"), not the place word "à".
const SUBJECTS: &[&str] = &["y", "il", "elle", "on", "qui", "ils", "elles", "j", "tu"];
/// Words that cannot end a place.
const CONNECTORS: &[&str] = &["de", "du", "des", "wa", "ya", "of", "la", "le", "the"];
/// Words that end a place ("at Bisie since this morning").
const STOP_WORDS: &[&str] = &[
    "since",
    "and",
    "today",
    "yesterday",
    "depuis",
    "et",
    "hier",
    "aujourd",
    "tangu",
    "leo",
    "jana",
    "na",
    "ni",
];

fn check_survey(
    survey: &Survey,
    langs: &BTreeMap<String, String>,
    types: &[TypeEntry],
) -> Result<(), String> {
    if survey.keywords.is_empty() {
        return Err("survey.keywords is empty".into());
    }
    for l in &survey.languages {
        if !langs.contains_key(l) {
            return Err(format!("survey.languages: {l:?} is not in [languages]"));
        }
    }
    if survey.steps.is_empty() {
        return Err("survey.steps is empty".into());
    }
    if types.is_empty() {
        return Err("the survey needs at least one type".into());
    }
    let mut ids = std::collections::HashSet::new();
    for (i, step) in survey.steps.iter().enumerate() {
        if !ids.insert(step.id.as_str()) {
            return Err(format!("survey.steps[{i}]: id {:?} is used twice", step.id));
        }
        if step.answer == AnswerKind::Language && survey.languages.is_empty() {
            return Err(format!(
                "survey.steps[{i}]: a language step needs survey.languages"
            ));
        }
        for lang in langs.keys() {
            match step.question.get(lang) {
                Some(q) if !q.trim().is_empty() => {}
                _ => {
                    return Err(format!(
                        "survey.steps[{i}] ({}) has no question in {lang:?}",
                        step.id
                    ));
                }
            }
        }
    }
    for lang in langs.keys() {
        if !survey.invalid.contains_key(lang) {
            return Err(format!("survey.invalid has no text in {lang:?}"));
        }
    }
    Ok(())
}

/// Frequent short words of each built-in language, to tell the language of a message.
fn common_words(lang: &str) -> &'static [&'static str] {
    match lang {
        "sw" => &[
            "na",
            "ya",
            "wa",
            "kwa",
            "ni",
            "katika",
            "mgodi",
            "watu",
            "hapa",
            "leo",
            "habari",
            "sana",
            "kuna",
            "wamejeruhiwa",
            "karibu",
            "jana",
            "wanalazimisha",
        ],
        "fr" => &[
            "le", "la", "les", "de", "des", "du", "un", "une", "est", "et", "au", "dans", "pres",
            "sur", "il", "ils", "nous", "a", "ont", "blesse", "blesses", "hier", "aujourd",
        ],
        "en" => &[
            "the",
            "a",
            "an",
            "is",
            "at",
            "in",
            "of",
            "and",
            "near",
            "on",
            "were",
            "was",
            "are",
            "people",
            "today",
            "yesterday",
            "injured",
            "two",
            "men",
        ],
        _ => &[],
    }
}

/// A word of the message: its normalised form and where it ends in the original text.
struct Word {
    norm: String,
    start: usize,
    end: usize,
}

/// Splits text into words (letters and digits), normalised for matching.
fn words(text: &str) -> impl Iterator<Item = Word> + '_ {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        // Skip separators.
        while let Some(&(_, c)) = rest.peek() {
            if c.is_alphanumeric() {
                break;
            }
            rest.next();
        }
        let mut raw = String::new();
        let start = rest.peek().map_or(0, |&(i, _)| i);
        let mut end = 0;
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() && !is_combining_mark(c) {
                break;
            }
            raw.push(c);
            end = i + c.len_utf8();
            rest.next();
        }
        if raw.is_empty() {
            None
        } else {
            Some(Word {
                norm: normalise(&raw),
                start,
                end,
            })
        }
    })
}

/// Lower case, without accents: "Barrière" → "barriere", "Œuvre" → "oeuvre".
pub(crate) fn normalise(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw() -> Keywords {
        Keywords::builtin().unwrap()
    }

    fn read(text: &str) -> (String, String, String) {
        let k = kw();
        let r = k.read(text);
        (k.type_id(&r.intent).to_string(), r.language, r.description)
    }

    #[test]
    fn table_of_real_looking_messages() {
        let cases = [
            (
                "AJALI mgodi wa Kalimbi, watu wawili wamejeruhiwa",
                "accident",
                "sw",
                "mgodi wa Kalimbi, watu wawili wamejeruhiwa",
            ),
            (
                "ajali: shimo limeanguka",
                "accident",
                "sw",
                "shimo limeanguka",
            ),
            (
                "Habari, AJALI kwenye mgodi",
                "accident",
                "sw",
                "kwenye mgodi",
            ),
            (
                "Barrière à Nyabibwe, on paie 5000 FC",
                "illegal_tax",
                "fr",
                "à Nyabibwe, on paie 5000 FC",
            ),
            ("BARRIERE a Nyabibwe", "illegal_tax", "fr", "a Nyabibwe"),
            (
                "accident at the Bisie mine, two men injured",
                "accident",
                "en",
                "at the Bisie mine, two men injured",
            ),
            (
                "Accident dans le puits de la mine",
                "accident",
                "fr",
                "dans le puits de la mine",
            ),
            (
                "travail forcé au site de Lemera",
                "forced_labour",
                "fr",
                "au site de Lemera",
            ),
            (
                "Groupe armé près de Walikale",
                "armed_group",
                "fr",
                "près de Walikale",
            ),
            (
                "watoto wanachimba madini",
                "child_labour",
                "sw",
                "wanachimba madini",
            ),
            ("RUSHWA kwa polisi", "fraud", "sw", "kwa polisi"),
            ("theft of tools", "theft", "en", "of tools"),
        ];
        for (text, ty, lang, desc) in cases {
            let got = read(text);
            assert_eq!(got, (ty.into(), lang.into(), desc.into()), "{text}");
        }
    }

    #[test]
    fn one_typo_is_tolerated_in_long_keywords() {
        assert_eq!(read("VURUUGU sokoni").0, "violence");
        assert_eq!(read("rushw polisi").0, "fraud", "a letter missing");
        assert_eq!(
            read("kodo ya barabara").0,
            "unknown",
            "four-letter keywords match exactly"
        );
        assert_eq!(
            read("mazingria mto mchafu").0,
            "environment",
            "transposition"
        );
        // Short keywords must match exactly.
        assert_eq!(read("vok ya simu").0, "unknown");
    }

    #[test]
    fn no_keyword_is_unknown_with_the_whole_text() {
        let (ty, lang, desc) = read("Bonjour, il y a un problème à la mine");
        assert_eq!(ty, "unknown");
        assert_eq!(lang, "fr");
        assert_eq!(desc, "Bonjour, il y a un problème à la mine");
    }

    #[test]
    fn help_words_ask_for_help() {
        let k = kw();
        assert_eq!(k.read("MSAADA").intent, Intent::Help);
        assert_eq!(k.read("aide").language, "fr");
    }

    #[test]
    fn a_keyword_with_two_meanings_is_rejected() {
        let text = include_str!("../../../config/keywords.toml").replace(
            "en = [\"theft\", \"stolen\"]",
            "en = [\"theft\", \"ajali\"]",
        );
        let e = Keywords::parse(&text, Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("two different meanings"), "{e}");
    }

    #[test]
    fn each_check_of_the_table_names_what_is_wrong() {
        let shipped = include_str!("../../../config/keywords.toml");
        let cases = [
            (
                "default_language = \"sw\"",
                "default_language = \"ln\"",
                "default_language \"ln\" is not in [languages]",
            ),
            (
                "id = \"violence\"",
                "id = \"unknown\"",
                "type id \"unknown\" is reserved or empty",
            ),
            (
                "menu = 2\n",
                "menu = 1\n",
                "menu number 1 is used by two types",
            ),
            (
                "label = { sw = \"Ajali\", ",
                "label = { ",
                "type \"accident\" has no label in \"sw\"",
            ),
            (
                "keywords = { sw = [\"ajali\"], ",
                "keywords = { ln = [\"ajali\"], ",
                "type \"accident\": language \"ln\" is not in [languages]",
            ),
            (
                "keywords = { sw = [\"ajali\"], ",
                "keywords = { sw = [\"!!\"], ",
                "empty keyword \"!!\"",
            ),
            (
                "[location]\nwords = { ",
                "[location]\nwords = { ln = [\"pembeni\"], ",
                "location: language \"ln\" is not in [languages]",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(shipped.contains(from), "{from:?}");
            let text = shipped.replacen(from, to, 1);
            let e = Keywords::parse(&text, Path::new("k.toml")).unwrap_err();
            assert_eq!(e.to_string(), format!("k.toml: {expected}"));
        }
    }

    /// The French verb "a" ("il y a", "il a vu") is no place; "à" and "a" before a name are.
    #[test]
    fn french_a_is_a_place_only_before_a_name() {
        let k = kw();
        let place = |text: &str| k.read(text).location;
        assert_eq!(place("Accident, il y a deux blesses"), None);
        assert_eq!(place("Accident il y a un probleme a la mine"), None);
        assert_eq!(place("Violence, le chef a frappe un creuseur"), None);
        assert_eq!(
            place("Taxe: il a demande 5000 FC a Nyabibwe").as_deref(),
            Some("Nyabibwe")
        );
        assert_eq!(place("BARRIERE a Nyabibwe").as_deref(), Some("Nyabibwe"));
        assert_eq!(
            place("Barrière à Nyabibwe, on paie").as_deref(),
            Some("Nyabibwe")
        );
        assert_eq!(
            place("accident à la mine de kalimbi").as_deref(),
            Some("mine de kalimbi")
        );
        assert_eq!(
            place("accident au puits de Lemera").as_deref(),
            Some("puits de Lemera")
        );
        assert_eq!(
            place("AJALI karibu na Kalimbi, watu wawili").as_deref(),
            Some("Kalimbi")
        );
    }

    /// An unknown key in keywords.toml is refused with the closest known key, as in
    /// gateway.toml; a wrong kind of value is said in the file's words.
    #[test]
    fn an_unknown_key_gets_a_suggestion() {
        let shipped = include_str!("../../../config/keywords.toml");
        for (from, to, expected) in [
            (
                "default_language = ",
                "default_langage = ",
                "did you mean `default_language`?",
            ),
            (
                "menu = 2\n",
                "menu = 2\nlable = { sw = \"x\" }\n",
                "did you mean `label`?",
            ),
            (
                "menu = 2\n",
                "menu = \"two\"\n",
                "\"two\" is not a whole number",
            ),
        ] {
            let e = Keywords::parse(&shipped.replacen(from, to, 1), Path::new("k.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("k.toml: "), "{e}");
            assert!(e.contains(expected), "{e}");
            assert!(!e.contains("u32"), "{e}");
        }
    }

    #[test]
    fn normalise_folds_accents_and_case() {
        assert_eq!(normalise("Barrière"), "barriere");
        assert_eq!(normalise("ÉBOULEMENT"), "eboulement");
        assert_eq!(normalise("Œuvre"), "oeuvre");
    }

    #[test]
    fn keyword_list_is_per_language() {
        let k = kw();
        assert!(k.keyword_list("sw").starts_with("AJALI, VURUGU"));
        assert!(k.keyword_list("fr").starts_with("ACCIDENT, VIOLENCE"));
    }
}
