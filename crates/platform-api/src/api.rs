//! The JSON contract between a gateway and the follow-up platform: batches of incidents, the
//! heartbeat and the outbound (platform → reporter) messages, plus the checks a receiver applies.
//!
//! `docs/platform-api.md` explains every field; `docs/openapi.yaml` is the same contract as
//! OpenAPI 3.1 and a test keeps the two in step with these types.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An enum of fixed words on the wire: each variant's word is written once, here, and serde, `as_str`
/// and `FromStr` all use it (an unknown word is an [`UnknownWord`], never a panic).
macro_rules! word_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(into = "&'static str", try_from = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            #[cfg(test)]
            const ALL: &[$name] = &[$($name::$variant,)+];

            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownWord::new($what, s)),
                }
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> Self {
                value.as_str()
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownWord;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

/// The `reporter` of a message whose sender the gateway could not read (an undecodable PDU).
pub const UNKNOWN_REPORTER: &str = "unknown";

/// Version of the JSON documents below. A receiver answers 400 to a version it does not speak.
pub const SCHEMA_VERSION: u32 = 1;

/// Largest number of incidents a receiver must accept in one batch.
pub const MAX_BATCH_INCIDENTS: usize = 1000;

/// Longest gateway id, batch id, incident id or outbound message id, in bytes.
pub(crate) const MAX_ID_LEN: usize = 128;

/// Largest request body a receiver must accept, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Endpoint paths, relative to the platform base URL.
pub const BATCHES_PATH: &str = "v1/batches";
pub const HEARTBEAT_PATH: &str = "v1/heartbeat";
pub const OUTBOUND_PULL_PATH: &str = "v1/outbound/pull";
pub const OUTBOUND_STATUS_PATH: &str = "v1/outbound/status";

/// One POST of incidents. `batch_id` and every incident `id` stay the same when the gateway
/// re-sends after a failure, so the platform can deduplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub schema_version: u32,
    pub gateway_id: String,
    pub batch_id: String,
    /// RFC 3339, gateway clock.
    pub created_at: String,
    pub incidents: Vec<IncidentRecord>,
}

/// One incident as received by SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// Stable across retries, unique per gateway, e.g. "goma-01-000123".
    pub id: String,
    /// The short reference the reporter got in the acknowledgement, e.g. "K7-4821".
    pub reference: String,
    /// Keyword table type, e.g. "accident", or "unknown".
    pub incident_type: String,
    /// Language of the keyword used ("sw", "fr", "en"), when one matched.
    pub language: Option<String>,
    pub description: String,
    pub location: Option<String>,
    /// Answers to follow-up questions, by question key. Empty when there was no survey.
    #[serde(default)]
    pub survey_answers: BTreeMap<String, String>,
    /// A keyed pseudonym ("r-" + 16 hex, see `sign::pseudonym`) or, when the gateway is set to
    /// share numbers, the phone number ("+243…"); [`UNKNOWN_REPORTER`] when the gateway could
    /// not read the sender (an undecodable PDU).
    pub reporter: String,
    /// RFC 3339 service-centre timestamp from the PDU; `None` when absent or impossible.
    pub received_at_smsc: Option<String>,
    /// RFC 3339, gateway clock (the Pi has no RTC: compare with `received_at_smsc`).
    pub received_at_gateway: String,
    pub modem: String,
    pub operator: Option<String>,
    /// The decoded text (all parts joined); empty when undecodable.
    pub raw_text: String,
    /// Number of SMS parts the message was announced with.
    pub parts: u32,
    pub decode_status: DecodeStatus,
    /// Every PDU received for this message, hex, as read from the modem.
    pub raw_pdus: Vec<String>,
    /// The sender had sent more than the gateway's intake limit
    /// (`intake.max_reports_per_sender_per_hour`) in the hour up to this message: the report is
    /// kept and forwarded but was not answered. A stuck phone, a prank, or someone flooding the
    /// line. Absent (older gateways) means false.
    #[serde(default)]
    pub flood: bool,
    /// An urgent report the gateway could not deliver in time (`escalation.offline_after`,
    /// default 30 min without a successful request): each partner focal point it texted
    /// meanwhile, and whether they took it (`ACK`). Empty when nothing was escalated; absent
    /// from older gateways.
    #[serde(default)]
    pub escalations: Vec<Escalation>,
}

/// One focal point texted about an incident while the platform was out of reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// The partner organisation, as in the gateway's config.
    pub partner: String,
    /// The focal point's name in the gateway's config, or their masked number ("…001").
    pub focal_point: String,
    /// `sent`: the SMS was queued on the gateway; `refused`: the gateway's escalation budget
    /// (or its policy on that number) stopped it, see `refused_reason`.
    pub state: EscalationState,
    /// When the gateway decided it, RFC 3339, gateway clock.
    pub at: String,
    #[serde(default)]
    pub refused_reason: Option<String>,
    /// When this focal point answered `ACK` (took the report), RFC 3339, gateway clock.
    #[serde(default)]
    pub acknowledged_at: Option<String>,
}

word_enum! {
    /// What became of an escalation SMS.
    pub enum EscalationState ("escalation state") {
        Sent = "sent",
        Refused = "refused",
    }
}

word_enum! {
    /// Whether `raw_text` is the whole message.
    pub enum DecodeStatus ("decode status") {
        Ok = "ok",
        /// The PDU could not be decoded; only `raw_pdus` carry the message.
        Undecodable = "undecodable",
        /// Some parts of a multipart message never arrived; `raw_text` holds the parts that did.
        Incomplete = "incomplete",
    }
}

/// A word that names none of an enum's values (`what` says which enum), e.g. a decode status
/// or an outbound state from a newer peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{word:?} is not a known {what}")]
pub struct UnknownWord {
    what: &'static str,
    word: String,
}

impl UnknownWord {
    fn new(what: &'static str, word: &str) -> UnknownWord {
        UnknownWord {
            what,
            // Enough to recognise it in a log, whatever a peer sent.
            word: word.chars().take(40).collect(),
        }
    }
}

/// The platform's answer to a batch. Any 2xx means every incident of the batch is safe on the
/// platform; `accepted + duplicates` equals the number of incidents sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAck {
    pub batch_id: String,
    /// Incidents stored for the first time.
    pub accepted: u32,
    /// Incidents the platform already had (same id), e.g. from a retried batch.
    pub duplicates: u32,
}

/// Health report, sent every few minutes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub schema_version: u32,
    pub gateway_id: String,
    /// Gateway software version.
    pub version: String,
    /// Gateway clock when sent, RFC 3339.
    pub clock: String,
    pub uptime_secs: u64,
    pub modems: Vec<ModemHealth>,
    pub queues: QueueDepths,
    /// Age of the oldest incident not yet delivered to the platform; `None` when all are delivered.
    pub oldest_undelivered_age_secs: Option<u64>,
    /// Batches the platform refused with a 4xx; they wait for a person.
    #[serde(default)]
    pub quarantined: Vec<QuarantinedBatch>,
    /// SMS received in the last hour, all numbers together.
    #[serde(default)]
    pub messages_last_hour: u64,
    /// `messages_last_hour` is above the gateway's `intake.alarm_reports_per_hour`: a flood, a
    /// robot, or a real emergency. Every report is still kept and forwarded.
    #[serde(default)]
    pub intake_alarm: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModemHealth {
    pub name: String,
    /// e.g. "ready", "initialising", "no_sim", "not_registered", "gone".
    pub state: String,
    /// Signal strength in dBm when known.
    pub signal_dbm: Option<i32>,
    pub operator: Option<String>,
    /// Airtime balance as the operator's USSD answer gave it, e.g. "1.25 USD".
    pub balance: Option<String>,
    /// RFC 3339 time of the last SMS received on this modem.
    pub last_message_at: Option<String>,
    /// The balance is below the modem's configured threshold: top up the SIM soon.
    #[serde(default)]
    pub low_balance: bool,
    /// The network's clock and the gateway's disagree (or the gateway's is before the release).
    #[serde(default)]
    pub clock_warning: Option<String>,
    /// Set while the modem sends nothing because the gateway's database cannot be written (a
    /// full or read-only SD card): no SMS is sent whose sending cannot be recorded, so none is
    /// ever sent twice. Cleared by itself once the database takes writes again.
    #[serde(default)]
    pub sending_stopped: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepths {
    /// Incidents stored but not yet acknowledged by the platform.
    pub undelivered_incidents: u64,
    /// SMS replies waiting to be sent.
    pub outgoing_sms: u64,
    pub quarantined_batches: u64,
    /// SMS handed to a modem whose outcome was never recorded (a crash or a full disk at that
    /// moment): the reporter may or may not have it. Never sent again until a technician
    /// decides on the box (`kufatilia-gateway unconfirmed`).
    #[serde(default)]
    pub unconfirmed_sms: u64,
    /// Urgent reports texted to partner focal points that none of them has taken (`ACK`) yet.
    #[serde(default)]
    pub escalations_pending: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedBatch {
    pub batch_id: String,
    pub status: u16,
    pub error: String,
    /// RFC 3339.
    pub since: String,
}

/// The platform's answer to a heartbeat: its own clock, which a gateway without RTC can compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    pub server_time: String,
}

/// Body of the outbound pull: "give me up to `limit` messages for my reporters".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundPullRequest {
    pub gateway_id: String,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundPull {
    pub messages: Vec<OutboundMessage>,
}

/// A message a partner wants sent to a reporter. The gateway resolves `to` to a phone number
/// from its own store; the platform never needs the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// Stable: a message pulled twice (lease expired) has the same id, so the gateway sends it once.
    pub id: String,
    pub to: Recipient,
    pub text: String,
    /// RFC 3339, platform clock.
    pub created_at: Option<String>,
}

/// Who an outbound message is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    /// The `reporter` value of an incident, exactly as the gateway sent it.
    Reporter(String),
    /// The reporter of this incident id.
    Incident(String),
}

/// The gateway's report on outbound messages it pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundStatusReport {
    pub gateway_id: String,
    pub statuses: Vec<OutboundStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundStatus {
    pub id: String,
    pub state: OutboundState,
    /// RFC 3339, gateway clock.
    pub at: String,
    pub detail: Option<String>,
}

word_enum! {
    /// What became of a platform message for a reporter.
    pub enum OutboundState ("outbound state") {
        /// Stored by the gateway; it will send it.
        Accepted = "accepted",
        /// Handed to the modem and accepted by the network.
        Sent = "sent",
        /// The gateway gave up sending it.
        Failed = "failed",
        /// The gateway cannot address it (unknown pseudonym or incident, number purged by
        /// retention).
        Undeliverable = "undeliverable",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundStatusAck {
    pub updated: u32,
    /// Ids the platform does not know (or that belong to another gateway).
    pub unknown: Vec<String>,
}

/// Body of every 4xx/5xx answer of the reference receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable, e.g. "bad_token", "bad_signature", "timestamp_out_of_window", "invalid_batch".
    pub code: ErrorCode,
    pub message: String,
    /// The receiver's clock, RFC 3339: tells a gateway with a wrong clock by how much it is off.
    pub server_time: Option<String>,
}

/// What an error answer's `code` says went wrong: the codes the reference receiver answers.
/// The contract lets a platform answer others; they are kept as they came, in `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum ErrorCode {
    /// Missing or wrong bearer token.
    BadToken,
    /// The signing timestamp header is missing or not unix seconds.
    BadTimestamp,
    /// The signature header is missing or has no `v1=<64 hex>`.
    MissingSignature,
    /// The signature does not match (wrong secret, or a changed body).
    BadSignature,
    /// The signing timestamp is too far from the receiver's clock: the gateway's clock is wrong.
    TimestampOutOfWindow,
    /// A v2 signature's nonce was already used inside the clock window: a replayed request.
    ReplayedNonce,
    /// A v2 signature names a key id the receiver does not hold for this gateway.
    UnknownKey,
    /// The request speaks for another gateway than the one its token belongs to.
    GatewayMismatch,
    InvalidBatch,
    InvalidHeartbeat,
    InvalidPull,
    InvalidStatus,
    /// An admin request to queue a message to a reporter is not one.
    InvalidMessage,
    /// The admin request names a reporter or incident the receiver never got.
    UnknownRecipient,
    /// The receiver could not store the request: try again later.
    StorageUnavailable,
    /// The reference receiver's test controls asked for this failure.
    InjectedFailure,
    NotFound,
    /// A code the reference receiver never answers, as the platform wrote it.
    Other(String),
}

impl ErrorCode {
    /// Every code but `Other`.
    const KNOWN: [ErrorCode; 17] = [
        ErrorCode::BadToken,
        ErrorCode::BadTimestamp,
        ErrorCode::MissingSignature,
        ErrorCode::BadSignature,
        ErrorCode::TimestampOutOfWindow,
        ErrorCode::ReplayedNonce,
        ErrorCode::UnknownKey,
        ErrorCode::GatewayMismatch,
        ErrorCode::InvalidBatch,
        ErrorCode::InvalidHeartbeat,
        ErrorCode::InvalidPull,
        ErrorCode::InvalidStatus,
        ErrorCode::InvalidMessage,
        ErrorCode::UnknownRecipient,
        ErrorCode::StorageUnavailable,
        ErrorCode::InjectedFailure,
        ErrorCode::NotFound,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::BadToken => "bad_token",
            ErrorCode::BadTimestamp => "bad_timestamp",
            ErrorCode::MissingSignature => "missing_signature",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::TimestampOutOfWindow => "timestamp_out_of_window",
            ErrorCode::ReplayedNonce => "replayed_nonce",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::GatewayMismatch => "gateway_mismatch",
            ErrorCode::InvalidBatch => "invalid_batch",
            ErrorCode::InvalidHeartbeat => "invalid_heartbeat",
            ErrorCode::InvalidPull => "invalid_pull",
            ErrorCode::InvalidStatus => "invalid_status",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::UnknownRecipient => "unknown_recipient",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::InjectedFailure => "injected_failure",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Other(code) => code,
        }
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> Self {
        ErrorCode::KNOWN
            .into_iter()
            .find(|k| k.as_str() == code)
            .unwrap_or(ErrorCode::Other(code))
    }
}

impl From<ErrorCode> for String {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Other(code) => code,
            known => known.as_str().to_string(),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A document that does not follow the contract; `field` is a path like `incidents[3].id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ContractViolation {
    pub(crate) field: String,
    pub(crate) problem: String,
}

impl ContractViolation {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ContractViolation {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Formats a time the way every time field of the contract is written.
pub fn rfc3339(t: OffsetDateTime) -> String {
    // Formatting only fails for years outside 0..=9999, which a clock never gives.
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parses a batch body, naming the first bad field (with the incident index) on failure.
pub fn parse_batch(body: &[u8]) -> Result<Batch, ContractViolation> {
    // The common case parses once; only a failure pays for the slower diagnosis below.
    if let Ok(batch) = serde_json::from_slice::<Batch>(body) {
        batch.validate()?;
        return Ok(batch);
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ContractViolation::new("body", format!("not JSON: {e}")))?;
    // A newer gateway's batch should be refused for its version, not for a field it renamed.
    check_schema_version(&value)?;
    // serde's message has no path: find the incident that fails, to name it.
    if let Some(list) = value.get("incidents").and_then(|v| v.as_array()) {
        for (i, item) in list.iter().enumerate() {
            if let Err(e) = IncidentRecord::deserialize(item) {
                return Err(ContractViolation::new(
                    format!("incidents[{i}]"),
                    e.to_string(),
                ));
            }
        }
    }
    match Batch::deserialize(&value) {
        Err(e) => Err(ContractViolation::new("batch", e.to_string())),
        // Unreachable in practice (the bytes did not parse), but harmless to handle.
        Ok(batch) => batch.validate().map(|()| batch),
    }
}

/// Parses and checks a heartbeat body.
pub fn parse_heartbeat(body: &[u8]) -> Result<Heartbeat, ContractViolation> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ContractViolation::new("body", format!("not JSON: {e}")))?;
    check_schema_version(&value)?;
    let hb: Heartbeat = serde_json::from_value(value)
        .map_err(|e| ContractViolation::new("heartbeat", e.to_string()))?;
    hb.validate()?;
    Ok(hb)
}

fn check_schema_version(value: &serde_json::Value) -> Result<(), ContractViolation> {
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        // A version past u32 is as unsupported as any other unknown one.
        Some(v) => check_version(u32::try_from(v).unwrap_or(u32::MAX)),
        None => Err(ContractViolation::new(
            "schema_version",
            "missing or not a number",
        )),
    }
}

fn check_id(field: &str, value: &str) -> Result<(), ContractViolation> {
    if value.is_empty() {
        return Err(ContractViolation::new(field, "must not be empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(ContractViolation::new(
            field,
            format!("longer than {MAX_ID_LEN} bytes"),
        ));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ContractViolation::new(
            field,
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

fn check_time(field: &str, value: &str) -> Result<(), ContractViolation> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map(|_| ())
        .map_err(|e| {
            ContractViolation::new(field, format!("{value:?} is not an RFC 3339 time: {e}"))
        })
}

fn check_version(version: u32) -> Result<(), ContractViolation> {
    if version != SCHEMA_VERSION {
        return Err(ContractViolation::new(
            "schema_version",
            format!("version {version} is not supported (this receiver speaks {SCHEMA_VERSION})"),
        ));
    }
    Ok(())
}

fn check_not_empty(field: &str, value: &str) -> Result<(), ContractViolation> {
    if value.trim().is_empty() {
        return Err(ContractViolation::new(field, "must not be empty"));
    }
    Ok(())
}

impl Batch {
    /// Checks what the types alone cannot: versions, ids, times, sizes.
    pub(crate) fn validate(&self) -> Result<(), ContractViolation> {
        check_version(self.schema_version)?;
        check_id("gateway_id", &self.gateway_id)?;
        check_id("batch_id", &self.batch_id)?;
        check_time("created_at", &self.created_at)?;
        if self.incidents.is_empty() {
            return Err(ContractViolation::new(
                "incidents",
                "a batch holds at least one incident",
            ));
        }
        if self.incidents.len() > MAX_BATCH_INCIDENTS {
            return Err(ContractViolation::new(
                "incidents",
                format!(
                    "{} incidents; at most {MAX_BATCH_INCIDENTS} per batch",
                    self.incidents.len()
                ),
            ));
        }
        for (i, incident) in self.incidents.iter().enumerate() {
            incident.validate().map_err(|v| {
                ContractViolation::new(format!("incidents[{i}].{}", v.field), v.problem)
            })?;
        }
        Ok(())
    }
}

impl IncidentRecord {
    pub(crate) fn validate(&self) -> Result<(), ContractViolation> {
        check_id("id", &self.id)?;
        check_not_empty("reference", &self.reference)?;
        check_not_empty("incident_type", &self.incident_type)?;
        check_not_empty("reporter", &self.reporter)?;
        check_not_empty("modem", &self.modem)?;
        check_time("received_at_gateway", &self.received_at_gateway)?;
        if let Some(smsc) = &self.received_at_smsc {
            check_time("received_at_smsc", smsc)?;
        }
        if self.parts == 0 {
            return Err(ContractViolation::new("parts", "must be at least 1"));
        }
        for (i, pdu) in self.raw_pdus.iter().enumerate() {
            if pdu.is_empty() || pdu.len() % 2 != 0 || !pdu.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ContractViolation::new(
                    format!("raw_pdus[{i}]"),
                    "must be a non-empty even-length hex string",
                ));
            }
        }
        if self.raw_pdus.is_empty() {
            // Without PDUs nobody can ever re-decode a disputed or undecodable message.
            return Err(ContractViolation::new(
                "raw_pdus",
                "must hold the received PDUs",
            ));
        }
        for (i, e) in self.escalations.iter().enumerate() {
            check_time(&format!("escalations[{i}].at"), &e.at)?;
            if let Some(t) = &e.acknowledged_at {
                check_time(&format!("escalations[{i}].acknowledged_at"), t)?;
            }
        }
        Ok(())
    }
}

impl Heartbeat {
    pub(crate) fn validate(&self) -> Result<(), ContractViolation> {
        check_version(self.schema_version)?;
        check_id("gateway_id", &self.gateway_id)?;
        check_time("clock", &self.clock)?;
        for (i, m) in self.modems.iter().enumerate() {
            check_not_empty(&format!("modems[{i}].name"), &m.name)?;
            if let Some(t) = &m.last_message_at {
                check_time(&format!("modems[{i}].last_message_at"), t)?;
            }
        }
        Ok(())
    }
}

impl OutboundPullRequest {
    pub fn validate(&self) -> Result<(), ContractViolation> {
        check_id("gateway_id", &self.gateway_id)?;
        if self.limit == 0 {
            return Err(ContractViolation::new("limit", "must be at least 1"));
        }
        Ok(())
    }
}

impl OutboundStatusReport {
    pub fn validate(&self) -> Result<(), ContractViolation> {
        check_id("gateway_id", &self.gateway_id)?;
        for (i, s) in self.statuses.iter().enumerate() {
            check_id(&format!("statuses[{i}].id"), &s.id)?;
            check_time(&format!("statuses[{i}].at"), &s.at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{sample_batch, sample_incident};

    #[test]
    fn a_good_batch_round_trips_and_validates() {
        let batch = sample_batch(vec![sample_incident("goma-01-000001")]);
        let json = serde_json::to_vec(&batch).unwrap();
        assert_eq!(parse_batch(&json).unwrap(), batch);
    }

    #[test]
    fn a_bad_incident_is_named_by_index() {
        let mut second = sample_incident("goma-01-000002");
        second.received_at_gateway = "yesterday".to_string();
        let batch = sample_batch(vec![sample_incident("goma-01-000001"), second]);
        let err = parse_batch(&serde_json::to_vec(&batch).unwrap()).unwrap_err();
        assert_eq!(err.field, "incidents[1].received_at_gateway");
    }

    #[test]
    fn a_missing_field_is_named_by_index() {
        let batch = sample_batch(vec![
            sample_incident("goma-01-000001"),
            sample_incident("goma-01-000002"),
        ]);
        let mut value = serde_json::to_value(&batch).unwrap();
        value["incidents"][1]
            .as_object_mut()
            .unwrap()
            .remove("reporter");
        let err = parse_batch(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert_eq!(err.field, "incidents[1]");
        assert!(err.problem.contains("reporter"), "{err}");
    }

    #[test]
    fn an_unknown_schema_version_is_refused_before_the_fields() {
        let body = br#"{"schema_version": 7, "whatever": true}"#;
        let err = parse_batch(body).unwrap_err();
        assert_eq!(err.field, "schema_version");
        assert!(err.problem.contains('7'));
    }

    #[test]
    fn garbage_and_empty_batches_are_refused() {
        assert_eq!(parse_batch(b"\x00\xff").unwrap_err().field, "body");
        let empty = sample_batch(vec![]);
        let err = parse_batch(&serde_json::to_vec(&empty).unwrap()).unwrap_err();
        assert_eq!(err.field, "incidents");
    }

    #[test]
    fn ids_with_spaces_and_bad_pdus_are_refused() {
        let mut bad_id = sample_incident("goma 01");
        assert_eq!(bad_id.validate().unwrap_err().field, "id");
        bad_id.id = "goma-01-000009".to_string();
        bad_id.raw_pdus = vec!["07F".to_string()];
        assert_eq!(bad_id.validate().unwrap_err().field, "raw_pdus[0]");
    }

    #[test]
    fn survey_answers_default_to_empty_and_decode_status_is_lowercase() {
        let mut value = serde_json::to_value(sample_incident("a-1")).unwrap();
        value.as_object_mut().unwrap().remove("survey_answers");
        value["decode_status"] = "incomplete".into();
        let back: IncidentRecord = serde_json::from_value(value).unwrap();
        assert!(back.survey_answers.is_empty());
        assert_eq!(back.decode_status, DecodeStatus::Incomplete);
        assert_eq!(back.decode_status.as_str(), "incomplete");
    }

    #[test]
    fn every_decode_status_round_trips_through_its_word() {
        for &status in DecodeStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::json!(status.as_str()));
            assert_eq!(
                serde_json::from_value::<DecodeStatus>(json).unwrap(),
                status
            );
        }
        assert!("partial".parse::<DecodeStatus>().is_err());
        assert!(serde_json::from_str::<DecodeStatus>("\"OK\"").is_err());
    }

    #[test]
    fn every_outbound_state_round_trips_through_its_word() {
        for &state in OutboundState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::json!(state.as_str()));
            assert_eq!(
                serde_json::from_value::<OutboundState>(json).unwrap(),
                state
            );
        }
        let err = "delivered".parse::<OutboundState>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"delivered\" is not a known outbound state"
        );
    }

    #[test]
    fn every_escalation_state_round_trips_through_its_word() {
        for &state in EscalationState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::json!(state.as_str()));
            assert_eq!(
                serde_json::from_value::<EscalationState>(json).unwrap(),
                state
            );
        }
        assert!("queued".parse::<EscalationState>().is_err());
    }

    #[test]
    fn every_error_code_round_trips_and_unknown_codes_are_kept() {
        for code in ErrorCode::KNOWN {
            let json = serde_json::to_value(&code).unwrap();
            assert_eq!(json, serde_json::json!(code.as_str()));
            assert_eq!(serde_json::from_value::<ErrorCode>(json).unwrap(), code);
            assert_eq!(ErrorCode::from(code.to_string()), code);
        }
        let theirs: ErrorCode = serde_json::from_str("\"quota_exceeded\"").unwrap();
        assert_eq!(theirs, ErrorCode::Other("quota_exceeded".to_string()));
        assert_eq!(
            serde_json::to_string(&theirs).unwrap(),
            "\"quota_exceeded\""
        );
        let body: ErrorBody = serde_json::from_str(
            r#"{"code": "timestamp_out_of_window", "message": "m", "server_time": null}"#,
        )
        .unwrap();
        assert_eq!(body.code, ErrorCode::TimestampOutOfWindow);
    }

    #[test]
    fn recipients_are_tagged_objects() {
        let m = OutboundMessage {
            id: "o-1".to_string(),
            to: Recipient::Incident("goma-01-000001".to_string()),
            text: "Kesi yako inafuatiliwa.".to_string(),
            created_at: None,
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["to"], serde_json::json!({"incident": "goma-01-000001"}));
    }
}
