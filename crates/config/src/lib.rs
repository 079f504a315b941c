//! The gateway's one configuration file (`gateway.toml`): loading, defaults, validation.
//!
//! Every error names the key it is about (`platform.url`, `modem[1].baud`), because the person
//! reading it is a technician with the file open in an editor, not a developer.

pub mod secrets;
/// Serde's errors in a technician's words. Shared with the keyword table's loader
/// (crates/intake), a leaf that cannot depend on this crate: one text, compiled into both.
mod toml_words;
use toml_words::explain_serde_error;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Serial speeds a GSM modem's AT port accepts.
pub const BAUD_RATES: &[u32] = &[9600, 19200, 38400, 57600, 115200];

/// Most incidents in one batch the platform contract allows (`platform_api::MAX_BATCH_INCIDENTS`;
/// a test holds the two equal): the bound of `platform.batch_max`.
pub const MAX_BATCH: usize = 1000;

/// A configuration problem, with the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// The whole configuration, as in `config/gateway.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Names this box in batch ids, incident ids and the heartbeat (e.g. `goma-01`).
    pub gateway_id: String,
    /// First part of the references given to reporters (`K7` gives `K7-0042`).
    #[serde(default = "defaults::reference_prefix")]
    pub reference_prefix: String,
    /// The SQLite database.
    #[serde(default = "defaults::database")]
    pub database: PathBuf,
    /// The keyword and reply table, relative to this file's directory unless absolute.
    #[serde(default = "defaults::keywords")]
    pub keywords: PathBuf,
    #[serde(default, rename = "modem")]
    pub modems: Vec<ModemConfig>,
    pub platform: PlatformConfig,
    #[serde(default)]
    pub replies: RepliesConfig,
    #[serde(default)]
    pub sms: SmsConfig,
    #[serde(default)]
    pub privacy: PrivacyConfig,
    #[serde(default)]
    pub dialogue: DialogueConfig,
    #[serde(default)]
    pub outbound: OutboundConfig,
    #[serde(default)]
    pub intake: IntakeConfig,
    #[serde(default)]
    pub escalation: EscalationConfig,
}

/// Languages the escalation SMS and its commands are written in (`escalation.focal_point[].language`).
pub const ESCALATION_LANGUAGES: &[&str] = &["sw", "fr", "en"];

/// Urgent reports that cannot reach the platform (`[escalation]`): after `offline_after`
/// without a successful platform request, each focal point gets one SMS per urgent report.
/// Off while no focal point is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Incident types (ids of keywords.toml's `[[types]]`) that are escalated.
    #[serde(default = "defaults::urgent_types")]
    pub urgent_types: Vec<String>,
    /// How long the platform must have answered no request (and the report waited) before the
    /// focal points are texted.
    #[serde(default = "defaults::offline_after", with = "humantime_serde")]
    pub offline_after: Duration,
    /// SMS parts spent on escalations and `INFO` answers over 24 hours, all focal points
    /// together, apart from the replies' and the platform messages' budgets.
    #[serde(default = "defaults::escalation_max_parts_per_day")]
    pub max_parts_per_day: u32,
    /// Longest `INFO` answer, in SMS parts: the report's text is cut to fit.
    #[serde(default = "defaults::escalation_info_max_parts")]
    pub info_max_parts: u32,
    /// Put the reporter's phone number in the escalation SMS instead of the pseudonym the
    /// platform knows them by.
    #[serde(default)]
    pub share_reporter_number: bool,
    /// Who gets the escalation SMS and may answer `ACK` / `INFO`.
    #[serde(default, rename = "focal_point")]
    pub focal_points: Vec<FocalPoint>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            urgent_types: defaults::urgent_types(),
            offline_after: defaults::offline_after(),
            max_parts_per_day: defaults::escalation_max_parts_per_day(),
            info_max_parts: defaults::escalation_info_max_parts(),
            share_reporter_number: false,
            focal_points: Vec::new(),
        }
    }
}

/// One person of a partner organisation who is texted about urgent reports.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FocalPoint {
    /// The partner organisation (shown to the platform with each escalation).
    pub partner: String,
    /// International number (`+243...`).
    pub number: String,
    /// Language of the SMS this person gets: one of [`ESCALATION_LANGUAGES`].
    pub language: String,
    /// A name the platform is told instead of the number (e.g. "Amani"); the masked number
    /// when left out.
    #[serde(default)]
    pub name: Option<String>,
}

impl FocalPoint {
    /// How this focal point is named to the platform and in logs.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => {
                let digits: String = self.number.chars().filter(char::is_ascii_digit).collect();
                let keep = digits.len().saturating_sub(3);
                format!("…{}", &digits[keep..])
            }
        }
    }
}

/// Limits on what comes in (`[intake]`): one number must not be able to make the gateway spend
/// airtime on a flood, and a flood of the whole box must be seen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// A number that sent more messages than this in the last hour still has its reports kept
    /// and forwarded (flagged `flood` for the platform), but gets no reply.
    #[serde(default = "defaults::max_reports_per_sender_per_hour")]
    pub max_reports_per_sender_per_hour: u32,
    /// More messages than this in the last hour, all numbers together, raise the intake alarm
    /// (a warning in the log, `status`, the heartbeat).
    #[serde(default = "defaults::alarm_reports_per_hour")]
    pub alarm_reports_per_hour: u32,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            max_reports_per_sender_per_hour: defaults::max_reports_per_sender_per_hour(),
            alarm_reports_per_hour: defaults::alarm_reports_per_hour(),
        }
    }
}

/// Limits on the platform's messages to reporters (`[outbound]`): the platform asks, but the
/// partner pays for every SMS and a reporter must not be flooded, so the gateway has its own
/// budget for them, apart from the replies' (`replies.max_per_day`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Longest message, in SMS parts; a longer one is refused back to the platform.
    #[serde(default = "defaults::outbound_max_parts")]
    pub max_parts: u32,
    /// Platform messages one number may get over 24 hours.
    #[serde(default = "defaults::outbound_max_per_recipient_per_day")]
    pub max_per_recipient_per_day: u32,
    /// SMS parts spent on platform messages over 24 hours, all numbers together.
    #[serde(default = "defaults::outbound_max_parts_per_day")]
    pub max_parts_per_day: u32,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            max_parts: defaults::outbound_max_parts(),
            max_per_recipient_per_day: defaults::outbound_max_per_recipient_per_day(),
            max_parts_per_day: defaults::outbound_max_parts_per_day(),
        }
    }
}

/// The Kufatilia survey dialogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialogueConfig {
    /// A survey with no answer for this long is closed and forwarded as a partial report.
    #[serde(default = "defaults::session_timeout", with = "humantime_serde")]
    pub session_timeout: Duration,
}

impl Default for DialogueConfig {
    fn default() -> Self {
        DialogueConfig {
            session_timeout: defaults::session_timeout(),
        }
    }
}

/// One GSM modem (one SIM, one operator).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModemConfig {
    /// Short name used in logs, the store and `send --modem`.
    pub name: String,
    /// The AT port; prefer a `/dev/serial/by-id/...` path or the udev name `/dev/kufatilia-modem0`.
    pub device: PathBuf,
    #[serde(default = "defaults::baud")]
    pub baud: u32,
    /// Operator label shown in status and forwarded with each report (e.g. `Vodacom`).
    #[serde(default)]
    pub operator: Option<String>,
    /// File holding the SIM PIN (mode 0600), if the SIM asks for one.
    #[serde(default)]
    pub pin_file: Option<PathBuf>,
    /// This SIM's own number, so the gateway never replies to itself.
    #[serde(default)]
    pub own_number: Option<String>,
    /// How often every message storage is swept for messages an indication missed.
    #[serde(default = "defaults::sweep_interval", with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// Least time between two sends, so the modem is never flooded.
    #[serde(default = "defaults::send_gap", with = "humantime_serde")]
    pub send_gap: Duration,
    /// Another modem's name to send this modem's replies through when it is down.
    #[serde(default)]
    pub fallback: Option<String>,
    /// USSD code that asks the operator for the airtime balance (e.g. `*100#`).
    #[serde(default)]
    pub balance_ussd: Option<String>,
    /// A balance (the first number of the USSD answer) below this raises a warning in the log
    /// and in the heartbeat.
    #[serde(default)]
    pub low_balance_below: Option<f64>,
    /// How long this modem must be down before its `fallback` sends its replies.
    #[serde(default = "defaults::fallback_after", with = "humantime_serde")]
    pub fallback_after: Duration,
}

/// Where and how incidents are forwarded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    /// Base URL of the follow-up platform's gateway API (`https://...`; plain `http://` only to
    /// this machine).
    pub url: String,
    /// File holding the bearer token (mode 0600).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// File holding the HMAC signing secret shared with the platform (mode 0600).
    #[serde(default)]
    pub hmac_secret_file: Option<PathBuf>,
    /// Send requests without a signature to a platform that is not on this machine. Only for a
    /// platform that checks no signature; logged as a warning at every start.
    #[serde(default)]
    pub allow_unsigned: bool,
    /// Which of the gateway's signing secrets `hmac_secret_file` holds, as the platform named
    /// it: sent with every signature so the platform can accept two secrets while one replaces
    /// the other (letters, digits, `-`, `_`, `.`; 1 to 64).
    #[serde(default = "defaults::key_id")]
    pub key_id: String,
    /// Most incidents in one batch.
    #[serde(default = "defaults::batch_max")]
    pub batch_max: usize,
    /// Most bytes in one batch request body: a batch is cut smaller when its JSON would be
    /// larger (one incident over the limit still goes, alone).
    #[serde(default = "defaults::batch_max_bytes")]
    pub batch_max_bytes: usize,
    /// Failed attempts (platform errors, not network failures) after which a batch that the
    /// platform keeps refusing while it accepts others is quarantined, so the rest flows.
    #[serde(default = "defaults::quarantine_after")]
    pub quarantine_after: u32,
    /// A platform that sends its answer slower than 1 KiB per `low_speed_time` is dropped (the
    /// request is retried later), so a trickling platform cannot hold the forwarder for the
    /// whole `timeout` (which still bounds the wait for the answer to start).
    #[serde(default = "defaults::low_speed_time", with = "humantime_serde")]
    pub low_speed_time: Duration,
    /// How long a new incident may wait for others before its batch is sent.
    #[serde(default = "defaults::flush_after", with = "humantime_serde")]
    pub flush_after: Duration,
    /// Time limit of one HTTP request.
    #[serde(default = "defaults::http_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Longest wait between two delivery attempts.
    #[serde(default = "defaults::retry_max", with = "humantime_serde")]
    pub retry_max: Duration,
    /// How often a heartbeat (health, queues, clock) is sent to the platform.
    #[serde(default = "defaults::heartbeat_interval", with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// How often the platform is asked for messages to reporters.
    #[serde(default = "defaults::outbound_poll_interval", with = "humantime_serde")]
    pub outbound_poll_interval: Duration,
    /// PEM file of extra CA certificates to trust (a platform with a private CA), on top of
    /// the Mozilla roots built into the gateway.
    #[serde(default)]
    pub extra_ca_file: Option<PathBuf>,
}

/// Who gets a reply, and how many.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepliesConfig {
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Numbers with at most this many digits are service short codes: never answered.
    #[serde(default = "defaults::short_code_max_digits")]
    pub short_code_max_digits: usize,
    #[serde(default = "defaults::max_per_sender_per_hour")]
    pub max_per_sender_per_hour: u32,
    /// Budget of replies over 24 hours, all senders together (technicians' test SMS excepted).
    /// Counted per clock hour: an SMS counts from the moment it is queued until the end of the
    /// 24th hour after its own (24 to 25 hours), never less than 24.
    #[serde(default = "defaults::max_per_day")]
    pub max_per_day: u32,
    /// Numbers never answered.
    #[serde(default)]
    pub block_list: Vec<String>,
    /// Allow reply templates that cost more than one SMS (refused at start by default).
    #[serde(default)]
    pub allow_multipart: bool,
}

/// SMS encoding options for what the gateway sends, and reassembly of what it receives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// Fold accented letters and typographic quotes into GSM-7 so a reply costs one SMS.
    #[serde(default = "defaults::yes")]
    pub transliterate: bool,
    /// Validity period asked of the SMSC for replies.
    #[serde(default, with = "humantime_serde")]
    pub validity: Option<Duration>,
    /// Ask the network for delivery reports.
    #[serde(default)]
    pub status_reports: bool,
    /// A long SMS still missing parts after this long is forwarded as incomplete.
    #[serde(default = "defaults::reassembly_timeout", with = "humantime_serde")]
    pub reassembly_timeout: Duration,
    /// Warn when the gateway's clock and a message's service-centre time differ by more.
    #[serde(default = "defaults::clock_warning_after", with = "humantime_serde")]
    pub clock_warning_after: Duration,
    /// First wait before a reply the modem refused is tried again; it doubles at each failure,
    /// up to an hour.
    #[serde(default = "defaults::send_retry_after", with = "humantime_serde")]
    pub retry_after: Duration,
}

/// What of the reporter leaves the box, and how long the box keeps it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Send reporters' phone numbers to the platform instead of pseudonyms.
    #[serde(default)]
    pub share_phone_numbers: bool,
    /// File holding the secret key of the pseudonyms (created on first start if missing).
    #[serde(default)]
    pub pseudonym_secret_file: Option<PathBuf>,
    /// Days after delivery when numbers, texts and raw PDUs are erased from this box
    /// (0: never).
    #[serde(default = "defaults::retention_days")]
    pub retention_days: u32,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            share_phone_numbers: false,
            pseudonym_secret_file: None,
            retention_days: defaults::retention_days(),
        }
    }
}

/// First wait before a reply the modem refused is sent again (`sms.retry_after`); the store
/// uses it too when no config is at hand. Defined here, not in the store: the fuzz targets
/// compile this file on its own.
pub const DEFAULT_SEND_RETRY_AFTER: Duration = Duration::from_secs(30);

mod defaults {
    use std::path::PathBuf;
    use std::time::Duration;

    pub(crate) fn reference_prefix() -> String {
        "K".into()
    }
    pub(crate) fn database() -> PathBuf {
        "/var/lib/kufatilia-gateway/gateway.db".into()
    }
    pub(crate) fn keywords() -> PathBuf {
        "keywords.toml".into()
    }
    pub(crate) fn baud() -> u32 {
        115_200
    }
    pub(crate) fn sweep_interval() -> Duration {
        Duration::from_secs(60)
    }
    pub(crate) fn send_gap() -> Duration {
        Duration::from_millis(500)
    }
    pub(crate) fn batch_max() -> usize {
        100
    }
    pub(crate) fn key_id() -> String {
        "k1".to_string()
    }
    pub(crate) fn batch_max_bytes() -> usize {
        1024 * 1024
    }
    pub(crate) fn quarantine_after() -> u32 {
        5
    }
    pub(crate) fn low_speed_time() -> Duration {
        Duration::from_secs(10)
    }
    pub(crate) fn flush_after() -> Duration {
        Duration::from_secs(2)
    }
    pub(crate) fn http_timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub(crate) fn retry_max() -> Duration {
        Duration::from_secs(600)
    }
    pub(crate) fn heartbeat_interval() -> Duration {
        Duration::from_secs(300)
    }
    pub(crate) fn outbound_poll_interval() -> Duration {
        Duration::from_secs(60)
    }
    pub(crate) fn retention_days() -> u32 {
        90
    }
    pub(crate) fn yes() -> bool {
        true
    }
    pub(crate) fn short_code_max_digits() -> usize {
        6
    }
    pub(crate) fn max_per_sender_per_hour() -> u32 {
        5
    }
    pub(crate) fn max_per_day() -> u32 {
        300
    }
    pub(crate) fn outbound_max_parts() -> u32 {
        3
    }
    pub(crate) fn outbound_max_per_recipient_per_day() -> u32 {
        3
    }
    pub(crate) fn outbound_max_parts_per_day() -> u32 {
        100
    }
    pub(crate) fn max_reports_per_sender_per_hour() -> u32 {
        // A survey's answers are messages too: room for a report, its answers and a correction.
        20
    }
    pub(crate) fn alarm_reports_per_hour() -> u32 {
        200
    }
    pub(crate) fn fallback_after() -> Duration {
        Duration::from_secs(120)
    }
    pub(crate) fn clock_warning_after() -> Duration {
        Duration::from_secs(600)
    }
    pub(crate) fn send_retry_after() -> Duration {
        super::DEFAULT_SEND_RETRY_AFTER
    }
    pub(crate) fn reassembly_timeout() -> Duration {
        Duration::from_secs(24 * 3600)
    }
    pub(crate) fn session_timeout() -> Duration {
        Duration::from_secs(24 * 3600)
    }
    pub(crate) fn urgent_types() -> Vec<String> {
        vec!["armed_group".into(), "violence".into(), "accident".into()]
    }
    pub(crate) fn offline_after() -> Duration {
        Duration::from_secs(30 * 60)
    }
    pub(crate) fn escalation_max_parts_per_day() -> u32 {
        30
    }
    pub(crate) fn escalation_info_max_parts() -> u32 {
        3
    }
}

impl Default for RepliesConfig {
    fn default() -> Self {
        RepliesConfig {
            enabled: true,
            short_code_max_digits: defaults::short_code_max_digits(),
            max_per_sender_per_hour: defaults::max_per_sender_per_hour(),
            max_per_day: defaults::max_per_day(),
            block_list: Vec::new(),
            allow_multipart: false,
        }
    }
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            transliterate: true,
            validity: None,
            status_reports: false,
            reassembly_timeout: defaults::reassembly_timeout(),
            clock_warning_after: defaults::clock_warning_after(),
            retry_after: defaults::send_retry_after(),
        }
    }
}

impl Config {
    /// Reads, parses and validates a config file; relative paths in it are taken from the file's
    /// directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, path, base)
    }

    /// Parses and validates config text. `origin` names it in errors; `base` resolves relative
    /// paths.
    pub fn parse(text: &str, origin: &Path, base: &Path) -> Result<Config, ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: origin.to_path_buf(),
            key,
            message,
        };
        let de = toml::Deserializer::parse(text)
            .map_err(|e| invalid("(syntax)".into(), e.to_string().trim().to_string()))?;
        let mut config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            invalid(key, explain_serde_error(&inner.to_string()))
        })?;
        config.resolve_paths(base);
        config.validate().map_err(|(key, msg)| invalid(key, msg))?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut self.database);
        resolve(&mut self.keywords);
        for m in &mut self.modems {
            if let Some(p) = &mut m.pin_file {
                resolve(p);
            }
        }
        if let Some(p) = &mut self.platform.token_file {
            resolve(p);
        }
        if let Some(p) = &mut self.platform.hmac_secret_file {
            resolve(p);
        }
        if let Some(p) = &mut self.platform.extra_ca_file {
            resolve(p);
        }
        if let Some(p) = &mut self.privacy.pseudonym_secret_file {
            resolve(p);
        }
    }

    /// What the types alone cannot check; the error names the key.
    fn validate(&self) -> Result<(), Invalid> {
        self.check_names()?;
        self.check_durations()?;
        self.check_numbers()?;
        self.check_modems()?;
        self.check_platform()?;
        self.check_outbound()?;
        self.check_escalation()?;
        Ok(())
    }

    /// The focal points and limits of `[escalation]`. The urgent types name the keyword table,
    /// which is checked with it (`daemon::check`).
    fn check_escalation(&self) -> Result<(), Invalid> {
        let e = &self.escalation;
        let mut numbers = std::collections::HashSet::new();
        for (i, f) in e.focal_points.iter().enumerate() {
            let key = |k: &str| format!("escalation.focal_point[{i}].{k}");
            if f.partner.trim().is_empty() {
                return invalid(&key("partner"), "must name the partner (e.g. \"ong-goma\")");
            }
            let digits = f.number.strip_prefix('+').unwrap_or("");
            if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
                return invalid(
                    &key("number"),
                    format!(
                        "{:?} must be an international number: + and 8 to 15 digits, no spaces \
                         (e.g. \"+243810000000\")",
                        f.number
                    ),
                );
            }
            if !numbers.insert(f.number.as_str()) {
                return invalid(
                    &key("number"),
                    format!("{:?} is listed twice: each focal point once", f.number),
                );
            }
            if !ESCALATION_LANGUAGES.contains(&f.language.as_str()) {
                return invalid(
                    &key("language"),
                    format!(
                        "{:?} is not a language of the escalation SMS; use one of {ESCALATION_LANGUAGES:?}",
                        f.language
                    ),
                );
            }
        }
        Ok(())
    }

    /// Every duration key against the range where it does its job: zero spins a loop or gives
    /// up at once, a huge value is never. The message names the key, the value and the range.
    fn check_durations(&self) -> Result<(), Invalid> {
        const MS: Duration = Duration::from_millis(1);
        const S: Duration = Duration::from_secs(1);
        const MIN: Duration = Duration::from_secs(60);
        const H: Duration = Duration::from_secs(3600);
        const DAY: Duration = Duration::from_secs(86_400);
        let p = &self.platform;
        let mut checks: Vec<(String, Duration, Duration, Duration)> = vec![
            (
                "platform.flush_after".into(),
                p.flush_after,
                Duration::ZERO,
                H,
            ),
            // Below a second no HTTPS request over mobile data can finish.
            ("platform.timeout".into(), p.timeout, S, 10 * MIN),
            (
                "platform.low_speed_time".into(),
                p.low_speed_time,
                S,
                10 * MIN,
            ),
            ("platform.retry_max".into(), p.retry_max, 100 * MS, DAY),
            (
                "platform.heartbeat_interval".into(),
                p.heartbeat_interval,
                100 * MS,
                DAY,
            ),
            (
                "platform.outbound_poll_interval".into(),
                p.outbound_poll_interval,
                100 * MS,
                DAY,
            ),
            (
                "sms.reassembly_timeout".into(),
                self.sms.reassembly_timeout,
                S,
                7 * DAY,
            ),
            (
                "sms.clock_warning_after".into(),
                self.sms.clock_warning_after,
                S,
                7 * DAY,
            ),
            // The wait doubles at each failure up to an hour: a longer first wait is no retry.
            ("sms.retry_after".into(), self.sms.retry_after, 100 * MS, H),
            (
                "dialogue.session_timeout".into(),
                self.dialogue.session_timeout,
                S,
                30 * DAY,
            ),
            (
                "escalation.offline_after".into(),
                self.escalation.offline_after,
                S,
                7 * DAY,
            ),
        ];
        if let Some(v) = self.sms.validity {
            // What the SMS validity period field can say (TS 23.040 9.2.3.12.1): 5 minutes to
            // 63 weeks.
            checks.push(("sms.validity".into(), v, 5 * MIN, 63 * 7 * DAY));
        }
        for (i, m) in self.modems.iter().enumerate() {
            let key = |k: &str| format!("modem[{i}].{k}");
            checks.push((key("sweep_interval"), m.sweep_interval, 100 * MS, H));
            checks.push((key("send_gap"), m.send_gap, Duration::ZERO, 10 * MIN));
            checks.push((key("fallback_after"), m.fallback_after, 100 * MS, DAY));
        }
        for (key, value, min, max) in checks {
            if value < min || value > max {
                return invalid(
                    &key,
                    format!(
                        "{} is out of range: write a duration from {} to {}",
                        show_duration(value),
                        show_duration(min),
                        show_duration(max),
                    ),
                );
            }
        }
        Ok(())
    }

    /// Every plain number key against the range where it does its job.
    fn check_numbers(&self) -> Result<(), Invalid> {
        let r = &self.replies;
        let e = &self.escalation;
        let checks: [(&str, u64, u64, u64, &str); 9] = [
            // The contract's limit: a receiver refuses a batch of more (docs/platform-api.md).
            (
                "platform.batch_max",
                self.platform.batch_max as u64,
                1,
                MAX_BATCH as u64,
                "",
            ),
            // 16 KiB holds several long reports; 16 MiB is the contract's largest request body.
            (
                "platform.batch_max_bytes",
                self.platform.batch_max_bytes as u64,
                16 * 1024,
                16 * 1024 * 1024,
                " (bytes)",
            ),
            (
                "platform.quarantine_after",
                u64::from(self.platform.quarantine_after),
                1,
                100,
                "",
            ),
            (
                "escalation.max_parts_per_day",
                u64::from(e.max_parts_per_day),
                1,
                10_000,
                "",
            ),
            (
                "escalation.info_max_parts",
                u64::from(e.info_max_parts),
                1,
                10,
                "",
            ),
            // A phone number has at least 9 significant digits: more would call reporters
            // short codes and never answer them.
            (
                "replies.short_code_max_digits",
                r.short_code_max_digits as u64,
                0,
                8,
                "",
            ),
            (
                "replies.max_per_sender_per_hour",
                u64::from(r.max_per_sender_per_hour),
                1,
                100,
                " (set replies.enabled = false to stop replies)",
            ),
            (
                "replies.max_per_day",
                u64::from(r.max_per_day),
                1,
                100_000,
                " (set replies.enabled = false to stop replies)",
            ),
            // Ten years; 0 keeps everything for ever.
            (
                "privacy.retention_days",
                u64::from(self.privacy.retention_days),
                0,
                3650,
                " (0 keeps everything for ever)",
            ),
        ];
        for (key, value, min, max, note) in checks {
            if value < min || value > max {
                return invalid(
                    key,
                    format!("{value} is out of range: write a number from {min} to {max}{note}"),
                );
            }
        }
        for (i, m) in self.modems.iter().enumerate() {
            if let Some(b) = m.low_balance_below
                && !(b.is_finite() && b >= 0.0)
            {
                return invalid(
                    &format!("modem[{i}].low_balance_below"),
                    format!("{b} is out of range: write a balance of 0 or more (e.g. 500)"),
                );
            }
        }
        Ok(())
    }

    /// The platform messages' limits: zero would refuse every message without saying why the
    /// platform's messages stopped, and a huge value is no limit at all.
    fn check_outbound(&self) -> Result<(), Invalid> {
        let o = &self.outbound;
        for (key, value, max) in [
            // 10 parts is about 1,500 letters: longer is a document, not an SMS.
            ("outbound.max_parts", o.max_parts, 10),
            (
                "outbound.max_per_recipient_per_day",
                o.max_per_recipient_per_day,
                50,
            ),
            ("outbound.max_parts_per_day", o.max_parts_per_day, 100_000),
            // Below a handful a survey could not finish; above, no limit at all.
            (
                "intake.max_reports_per_sender_per_hour",
                self.intake.max_reports_per_sender_per_hour,
                1_000,
            ),
            (
                "intake.alarm_reports_per_hour",
                self.intake.alarm_reports_per_hour,
                1_000_000,
            ),
        ] {
            if value == 0 || value > max {
                return invalid(
                    key,
                    format!("{value} is out of range: write a number from 1 to {max}"),
                );
            }
        }
        Ok(())
    }

    /// The gateway's id and the reference prefix: both end up in ids and in every reply.
    fn check_names(&self) -> Result<(), Invalid> {
        if self.gateway_id.is_empty()
            || !self
                .gateway_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return invalid(
                "gateway_id",
                format!(
                    "{:?} must be letters, digits, '-' or '_' (e.g. \"goma-01\")",
                    self.gateway_id
                ),
            );
        }
        if self.reference_prefix.is_empty()
            || self.reference_prefix.len() > 4
            || !self
                .reference_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        {
            return invalid(
                "reference_prefix",
                "must be 1 to 4 letters or digits (e.g. \"K7\"), since it is in every reply",
            );
        }
        Ok(())
    }

    /// Each modem on its own, then the fallbacks, which name other modems.
    fn check_modems(&self) -> Result<(), Invalid> {
        let mut names = std::collections::HashSet::new();
        for (i, m) in self.modems.iter().enumerate() {
            let key = |k: &str| format!("modem[{i}].{k}");
            if m.name.is_empty() || m.name.contains(char::is_whitespace) {
                return invalid(&key("name"), "must be a short name without spaces");
            }
            if !names.insert(m.name.as_str()) {
                return invalid(&key("name"), format!("{:?} is used by two modems", m.name));
            }
            if !BAUD_RATES.contains(&m.baud) {
                return invalid(
                    &key("baud"),
                    format!("{} is not a modem speed; use one of {BAUD_RATES:?}", m.baud),
                );
            }
            if let Some(code) = &m.balance_ussd {
                check_ussd_code(code).or_else(|message| invalid(&key("balance_ussd"), message))?;
            }
        }
        for (i, m) in self.modems.iter().enumerate() {
            if let Some(f) = &m.fallback
                && (!names.contains(f.as_str()) || f == &m.name)
            {
                return invalid(
                    &format!("modem[{i}].fallback"),
                    format!("{f:?} is not the name of another modem"),
                );
            }
        }
        Ok(())
    }

    fn check_platform(&self) -> Result<(), Invalid> {
        let url = self.platform.url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return invalid(
                "platform.url",
                format!("{url:?} must start with https:// (or http:// for this machine only)"),
            );
        };
        if scheme != "https" && scheme != "http" {
            return invalid(
                "platform.url",
                format!("{url:?} must start with https:// (or http:// for this machine only)"),
            );
        }
        let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        let host = url_host(authority);
        if host.is_empty() {
            return invalid("platform.url", format!("{url:?} names no host"));
        }
        let loopback = is_loopback_host(host);
        if scheme == "http" && !loopback {
            return invalid(
                "platform.url",
                format!(
                    "{url:?} uses plain http:// to another machine: write https:// (plain http \
                     only to 127.0.0.1, ::1 or localhost)"
                ),
            );
        }
        if path.contains(['?', '#']) {
            return invalid(
                "platform.url",
                format!("{url:?}: a base URL has no ?query or #fragment"),
            );
        }
        // The gateway appends `v1/batches`, `v1/heartbeat`...: a base ending in the version
        // would post to `.../v1/v1/batches` and get 404 for ever.
        let trimmed = path.trim_end_matches('/');
        if trimmed.ends_with("/v1") {
            let base = &url[..url.len() - (path.len() - trimmed.len()) - "/v1".len()];
            return invalid(
                "platform.url",
                format!("{url:?} ends in /v1, but the gateway adds v1/... itself: write {base:?}"),
            );
        }
        if self.platform.hmac_secret_file.is_none() && !loopback && !self.platform.allow_unsigned {
            return invalid(
                "platform.hmac_secret_file",
                "is missing: the platform refuses unsigned requests (HTTP 401) and nothing would \
                 be delivered. Write the file with the secret the platform gave this box \
                 (chmod 600) and name it here (e.g. \"/etc/kufatilia-gateway/platform.secret\"); \
                 `allow_unsigned = true` only for a platform that checks no signature",
            );
        }
        let key_id = &self.platform.key_id;
        if key_id.is_empty()
            || key_id.len() > 64
            || !key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return invalid(
                "platform.key_id",
                "must be 1 to 64 letters, digits, '-', '_' or '.', as the platform named the \
                 secret (e.g. \"k1\")",
            );
        }
        Ok(())
    }
}

impl PlatformConfig {
    /// True when the platform runs on this machine (loopback), where unsigned is allowed.
    pub fn is_local(&self) -> bool {
        let rest = self.url.trim().split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        is_loopback_host(url_host(authority))
    }
}

/// The host of a URL's authority (`user@host:port`), without brackets for IPv6.
fn url_host(authority: &str) -> &str {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']').map_or(v6, |(h, _)| h);
    }
    host_port.split_once(':').map_or(host_port, |(h, _)| h)
}

/// This machine: where the reference receiver runs for tests and the demo.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Longest USSD code accepted: real ones are a dozen characters; the network takes up to 182.
const MAX_USSD_CODE: usize = 40;

/// A USSD code goes between quotes on the AT line (`AT+CUSD=1,"<code>",15`): a CR would end the
/// command early and start another, a Ctrl-Z or ESC would end or abort an SMS being written, a
/// quote would close the code. USSD codes are digits, `*`, `#` and `+`, so only those pass.
fn check_ussd_code(code: &str) -> Result<(), String> {
    if code.is_empty() || code.len() > MAX_USSD_CODE {
        return Err(format!(
            "must be a USSD code of 1 to {MAX_USSD_CODE} characters (e.g. \"*100#\")"
        ));
    }
    match code
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, '*' | '#' | '+')))
    {
        Some(bad) => Err(format!(
            "{:?} is not allowed in a USSD code (only digits, '*', '#' and '+', e.g. \"*100#\"): \
             it would be sent to the modem as part of an AT command",
            bad
        )),
        None => Ok(()),
    }
}

/// A duration as a technician writes it in the file ("500ms", "90s", "10min", "2h", "7days").
fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let units: [(u128, &str); 5] = [
        (7 * 86_400_000, "weeks"),
        (86_400_000, "days"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1000, "s"),
    ];
    if ms == 0 {
        return "0s".into();
    }
    for (size, unit) in units {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A failed check: the key and what is wrong with its value.
type Invalid = (String, String);

fn invalid(key: &str, message: impl Into<String>) -> Result<(), Invalid> {
    Err((key.to_string(), message.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
gateway_id = "goma-01"
[platform]
url = "http://127.0.0.1:8080"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(
            text,
            Path::new("gateway.toml"),
            Path::new("/etc/kufatilia-gateway"),
        )
    }

    fn escalation(lines: &str) -> Result<Config, ConfigError> {
        parse(&format!("{MINIMAL}[escalation]\n{lines}\n"))
    }

    #[test]
    fn escalation_defaults_and_focal_points_are_checked_naming_the_key() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(
            c.escalation.urgent_types,
            ["armed_group", "violence", "accident"]
        );
        assert_eq!(c.escalation.offline_after, Duration::from_secs(1800));
        assert!(c.escalation.focal_points.is_empty());
        let fp = |number: &str, language: &str| {
            format!(
                "[[escalation.focal_point]]\npartner = \"ong\"\nnumber = {number:?}\nlanguage = {language:?}\n"
            )
        };
        let c = escalation(&format!(
            "offline_after = \"2s\"\n{}{}",
            fp("+243810000001", "fr"),
            fp("+243810000002", "sw")
        ))
        .unwrap();
        assert_eq!(c.escalation.focal_points.len(), 2);
        assert_eq!(c.escalation.focal_points[0].label(), "…001");
        for (lines, key) in [
            (fp("0810000001", "fr"), "escalation.focal_point[0].number"),
            (
                fp("+243810000001", "de"),
                "escalation.focal_point[0].language",
            ),
            (
                format!("{}{}", fp("+243810000001", "fr"), fp("+243810000001", "en")),
                "escalation.focal_point[1].number",
            ),
            (
                "offline_after = \"0s\"".to_string(),
                "escalation.offline_after",
            ),
            (
                "max_parts_per_day = 0".to_string(),
                "escalation.max_parts_per_day",
            ),
            (
                "info_max_parts = 11".to_string(),
                "escalation.info_max_parts",
            ),
        ] {
            let e = escalation(&lines).unwrap_err().to_string();
            assert!(e.contains(key), "{lines}: {e}");
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.platform.flush_after, Duration::from_secs(2));
        assert_eq!(c.replies.max_per_sender_per_hour, 5);
        assert_eq!(
            c.keywords,
            Path::new("/etc/kufatilia-gateway/keywords.toml")
        );
        assert!(c.modems.is_empty());
        assert_eq!(c.sms.retry_after, Duration::from_secs(30));
    }

    #[test]
    fn outbound_limits_have_defaults_and_bounds() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.outbound.max_parts, 3);
        assert_eq!(c.outbound.max_per_recipient_per_day, 3);
        assert_eq!(c.outbound.max_parts_per_day, 100);
        for (line, key) in [
            ("max_parts = 0", "outbound.max_parts"),
            ("max_parts = 11", "outbound.max_parts"),
            (
                "max_per_recipient_per_day = 0",
                "outbound.max_per_recipient_per_day",
            ),
            ("max_parts_per_day = 0", "outbound.max_parts_per_day"),
        ] {
            let err = parse(&format!("{MINIMAL}\n[outbound]\n{line}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{line}: {err}");
        }
        assert_eq!(c.intake.max_reports_per_sender_per_hour, 20);
        assert_eq!(c.intake.alarm_reports_per_hour, 200);
        for (line, key) in [
            (
                "max_reports_per_sender_per_hour = 0",
                "intake.max_reports_per_sender_per_hour",
            ),
            (
                "alarm_reports_per_hour = 0",
                "intake.alarm_reports_per_hour",
            ),
        ] {
            let err = parse(&format!("{MINIMAL}\n[intake]\n{line}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{line}: {err}");
        }
    }

    #[test]
    fn the_send_retry_can_be_shortened_but_not_to_nothing() {
        let c = parse(&format!("{MINIMAL}[sms]\nretry_after = \"2s\"\n")).unwrap();
        assert_eq!(c.sms.retry_after, Duration::from_secs(2));
        let e = parse(&format!("{MINIMAL}[sms]\nretry_after = \"0s\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sms.retry_after"), "{e}");
    }

    #[test]
    fn unknown_key_is_named_with_a_suggestion() {
        let text = format!("{MINIMAL}batch_maks = 3\n");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("platform"), "{e}");
        assert!(e.contains("did you mean `batch_max`"), "{e}");
    }

    fn with_balance_ussd(code: &str) -> Result<Config, ConfigError> {
        parse(&format!(
            "{MINIMAL}\n[[modem]]\nname = \"a\"\ndevice = \"/dev/ttyUSB0\"\n\
             [[modem]]\nname = \"b\"\ndevice = \"/dev/ttyUSB1\"\nbalance_ussd = {}\n",
            toml::Value::String(code.into())
        ))
    }

    /// Every byte that would end, abort or break out of `AT+CUSD=1,"<code>",15` is refused at
    /// load, with the key of the modem it is on.
    #[test]
    fn a_balance_code_that_would_break_the_at_line_is_refused() {
        assert_eq!(
            with_balance_ussd("*100#").unwrap().modems[1]
                .balance_ussd
                .as_deref(),
            Some("*100#")
        );
        let bad = [
            "*100#\r",
            "*100#\rAT+CMGS=\"+243810000001\"",
            "*100#\n",
            "*100#\u{1a}",
            "*100#\u{1b}",
            "*100#\"",
            "*100#\",15\rAT+CFUN=0",
            "",
        ];
        let mut refused = 0;
        for code in bad {
            match with_balance_ussd(code) {
                Ok(_) => {}
                Err(e) => {
                    let e = e.to_string();
                    assert!(e.contains("modem[1].balance_ussd"), "{code:?}: {e}");
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, bad.len(), "every unsafe code is refused");
    }

    #[test]
    fn bad_baud_names_the_modem_key() {
        let text =
            format!("{MINIMAL}\n[[modem]]\nname = \"a\"\ndevice = \"/dev/ttyUSB0\"\nbaud = 1234\n");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("modem[0].baud"), "{e}");
    }

    #[test]
    fn contract_v2_keys_have_defaults_and_bounds() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.platform.key_id, "k1");
        assert_eq!(c.platform.batch_max_bytes, 1024 * 1024);
        assert_eq!(c.platform.quarantine_after, 5);
        assert_eq!(c.platform.low_speed_time, Duration::from_secs(10));
        for (line, key) in [
            ("key_id = \"k 1\"", "platform.key_id"),
            ("key_id = \"\"", "platform.key_id"),
            ("batch_max_bytes = 1000", "platform.batch_max_bytes"),
            ("batch_max_bytes = 20000000", "platform.batch_max_bytes"),
            ("quarantine_after = 0", "platform.quarantine_after"),
            ("low_speed_time = \"0s\"", "platform.low_speed_time"),
            ("low_speed_time = \"1h\"", "platform.low_speed_time"),
        ] {
            let text = MINIMAL.replace("[platform]", &format!("[platform]\n{line}"));
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{line}: {e}");
        }
    }

    #[test]
    fn wrong_type_names_the_key() {
        let text = MINIMAL.replace("[platform]", "[platform]\nbatch_max = \"lots\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("platform.batch_max"), "{e}");
    }

    /// Every numeric and duration key is bounded: the message names the key, the value and
    /// the range, in the file's words.
    #[test]
    fn every_harmful_value_is_refused_with_key_value_and_range() {
        let modem = "[[modem]]\nname = \"a\"\ndevice = \"/dev/ttyUSB0\"\n";
        let cases: &[(&str, &str, &str)] = &[
            ("[platform]", "timeout = \"0s\"", "platform.timeout"),
            ("[platform]", "timeout = \"2h\"", "platform.timeout"),
            ("[platform]", "batch_max = 1001", "platform.batch_max"),
            ("[platform]", "batch_max = 10000", "platform.batch_max"),
            ("[platform]", "batch_max = 0", "platform.batch_max"),
            (
                "[platform]",
                "flush_after = \"2days\"",
                "platform.flush_after",
            ),
            ("[platform]", "retry_max = \"0s\"", "platform.retry_max"),
            (
                "[platform]",
                "heartbeat_interval = \"0s\"",
                "platform.heartbeat_interval",
            ),
            (
                "[platform]",
                "outbound_poll_interval = \"0s\"",
                "platform.outbound_poll_interval",
            ),
            (
                "[replies]",
                "short_code_max_digits = 20",
                "replies.short_code_max_digits",
            ),
            (
                "[replies]",
                "max_per_sender_per_hour = 0",
                "replies.max_per_sender_per_hour",
            ),
            ("[replies]", "max_per_day = 0", "replies.max_per_day"),
            ("[sms]", "validity = \"1s\"", "sms.validity"),
            (
                "[sms]",
                "reassembly_timeout = \"0s\"",
                "sms.reassembly_timeout",
            ),
            (
                "[sms]",
                "clock_warning_after = \"0s\"",
                "sms.clock_warning_after",
            ),
            ("[sms]", "retry_after = \"5h\"", "sms.retry_after"),
            (
                "[dialogue]",
                "session_timeout = \"0s\"",
                "dialogue.session_timeout",
            ),
            (
                "[privacy]",
                "retention_days = 100000",
                "privacy.retention_days",
            ),
            ("", "sweep_interval = \"0s\"", "modem[0].sweep_interval"),
            ("", "send_gap = \"1h\"", "modem[0].send_gap"),
            ("", "fallback_after = \"0s\"", "modem[0].fallback_after"),
            ("", "low_balance_below = -5", "modem[0].low_balance_below"),
        ];
        for (section, line, key) in cases {
            let text = if section.is_empty() {
                format!("{MINIMAL}{modem}{line}\n")
            } else if *section == "[platform]" {
                MINIMAL.replace("[platform]", &format!("[platform]\n{line}"))
            } else {
                format!("{MINIMAL}{section}\n{line}\n")
            };
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{line}: {e}");
            assert!(e.contains("out of range: write a"), "{line}: {e}");
            let value = line.split(" = ").nth(1).unwrap().trim_matches('"');
            assert!(e.contains(value), "{line}: the value is named: {e}");
        }
        let e = MINIMAL.replace("[platform]", "[platform]\ntimeout = \"0s\"");
        let e = parse(&e).unwrap_err().to_string();
        assert!(e.contains("from 1s to 10min"), "{e}");
    }

    /// A value of the wrong kind is described as the file writes it, never as a Rust type.
    #[test]
    fn a_wrong_kind_of_value_reads_like_the_file_not_like_rust() {
        let rust_words = [
            "usize",
            "u32",
            "u64",
            "f64",
            "Duration",
            "invalid type",
            "struct",
        ];
        for (line, says) in [
            ("batch_max = \"lots\"", "is not a whole number"),
            ("batch_max = -3", "is not a whole number"),
            ("timeout = 30", "is not a duration in quotes"),
            ("timeout = \"5 minutes please\"", "a duration in quotes"),
            ("timeout = \"5 minuts\"", "a duration in quotes"),
            ("allow_unsigned = \"yes\"", "is not true or false"),
            ("token_file = 3", "is not text in quotes"),
        ] {
            let text = MINIMAL.replace("[platform]", &format!("[platform]\n{line}"));
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(says), "{line}: {e}");
            for w in rust_words {
                assert!(!e.contains(w), "{line}: {w} in {e}");
            }
        }
        let e = parse(&format!("{MINIMAL}[sms]\nvalidity = 5\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sms.validity") && !e.contains("Duration"), "{e}");
        let e = parse(&format!(
            "{MINIMAL}[[modem]]\nname = \"a\"\ndevice = \"/dev/x\"\nlow_balance_below = \"x\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("is not a number") && !e.contains("f64"), "{e}");
    }

    #[test]
    fn duration_strings_parse() {
        let text = MINIMAL.replace("[platform]", "[platform]\nflush_after = \"500ms\"");
        assert_eq!(
            parse(&text).unwrap().platform.flush_after,
            Duration::from_millis(500)
        );
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn shipped_example_config_is_valid() {
        let c = Config::parse(
            include_str!("../../../config/gateway.toml"),
            Path::new("config/gateway.toml"),
            Path::new("/etc/kufatilia-gateway"),
        )
        .unwrap();
        assert_eq!(c.modems.len(), 1);
        assert_eq!(c.modems[0].baud, 115_200);
        // Requests to the platform are signed as shipped.
        assert!(c.platform.hmac_secret_file.is_some());
        assert!(!c.platform.allow_unsigned);
    }

    fn platform(lines: &str) -> Result<Config, ConfigError> {
        Config::parse(
            &format!("gateway_id = \"goma-01\"\n[platform]\n{lines}\n"),
            Path::new("gateway.toml"),
            Path::new("/etc/kufatilia-gateway"),
        )
    }

    #[test]
    fn a_remote_platform_needs_a_signing_secret_unless_unsigned_is_asked_for() {
        let e = platform("url = \"https://platform.example.org/api/gateway\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`platform.hmac_secret_file`: is missing"), "{e}");
        assert!(platform("url = \"https://p.example.org/api\"\nhmac_secret_file = \"s\"").is_ok());
        assert!(platform("url = \"https://p.example.org/api\"\nallow_unsigned = true").is_ok());
        // This machine (tests, the demo) may go unsigned.
        assert!(platform("url = \"http://127.0.0.1:8080\"").is_ok());
        assert!(platform("url = \"http://[::1]:8080/x\"").is_ok());
    }

    #[test]
    fn a_url_ending_in_the_api_version_is_refused_with_the_url_to_write() {
        for url in [
            "https://platform.example.org/api/gateway/v1",
            "https://platform.example.org/api/gateway/v1/",
        ] {
            let e = platform(&format!("url = {url:?}\nhmac_secret_file = \"s\""))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("write \"https://platform.example.org/api/gateway\""),
                "{e}"
            );
        }
        let e = platform("url = \"http://platform.example.org/api\"\nallow_unsigned = true")
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain http://"), "{e}");
    }
}
