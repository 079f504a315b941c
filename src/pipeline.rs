//! The processing stage: committed PDUs → decoded parts → whole messages → incidents with their
//! reply queued.
//!
//! It reads its work from the store and writes its results back in one transaction per step,
//! so it can stop anywhere and pick up on the next start. Work is handed to the store in groups
//! (many jobs in flight at once), so the store commits them together: one fsync for a burst.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

use crate::dialogue::{self, Action, Incoming};
use crate::escalate::Commands;
use crate::reply::{self, ReplyPolicy};
use config::Config;
use intake::Keywords;
use pdu::{self, Pdu};
use store::{
    DecodedPart, MessageRow, ReplyGuard, ReplyVerdict, SessionState, Store, StoreError, TurnPlan,
    TurnResult, TurnSettings, TurnWrite,
};

/// Rows taken from the store per step.
const STEP: usize = 256;

/// What one pass over the waiting rows did.
struct Pass {
    /// Rows handled.
    done: usize,
    /// A full step was taken: more may be waiting.
    more: bool,
}

/// Least time between two counts of the last hour's messages for the intake alarm: counting
/// after every report was a store round trip per report for an alarm about hours.
const INTAKE_CHECK: Duration = Duration::from_secs(10);

/// How often waiting parts are checked against the reassembly timeout.
const EXPIRY_CHECK: Duration = Duration::from_secs(60);

/// The processing stage.
#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    keywords: Arc<Keywords>,
    policy: ReplyPolicy,
    guard: ReplyGuard,
    reference_prefix: String,
    reassembly_timeout: Duration,
    session_timeout: Duration,
    max_reports_per_sender_per_hour: u32,
    alarm_reports_per_hour: u32,
    /// Whether the intake alarm is raised, so it is logged once per change.
    alarm: Arc<AtomicBool>,
    /// When the intake was last counted.
    intake_checked: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
    /// The focal points' answers to escalations, read before any report (none configured:
    /// `None`).
    commands: Option<Commands>,
}

impl Pipeline {
    pub fn new(config: &Config, keywords: Arc<Keywords>, store: Store) -> Pipeline {
        Pipeline {
            store,
            keywords,
            policy: ReplyPolicy::from_config(config),
            guard: ReplyGuard {
                max_per_sender_per_hour: config.replies.max_per_sender_per_hour,
                max_per_day: config.replies.max_per_day,
            },
            reference_prefix: config.reference_prefix.clone(),
            reassembly_timeout: config.sms.reassembly_timeout,
            session_timeout: config.dialogue.session_timeout,
            max_reports_per_sender_per_hour: config.intake.max_reports_per_sender_per_hour,
            alarm_reports_per_hour: config.intake.alarm_reports_per_hour,
            alarm: Arc::new(AtomicBool::new(false)),
            intake_checked: Arc::default(),
            commands: Commands::new(config),
        }
    }

    /// Raises or lowers the intake alarm from the messages of the last hour; logs each change.
    async fn watch_intake(&self) {
        if let Ok(mut last) = self.intake_checked.lock() {
            let now = tokio::time::Instant::now();
            if last.is_some_and(|t| now.duration_since(t) < INTAKE_CHECK) {
                return;
            }
            *last = Some(now);
        }
        let n = match self.store.messages_last_hour().await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "cannot count the messages of the last hour");
                return;
            }
        };
        let limit = self.alarm_reports_per_hour;
        let raised = n > u64::from(limit);
        if self.alarm.swap(raised, Ordering::Relaxed) == raised {
            return;
        }
        if raised {
            tracing::warn!(
                messages_last_hour = n,
                alarm_above = limit,
                "intake alarm: far more messages than usual in the last hour (a flood, a robot, or a real emergency); every report is kept"
            );
        } else {
            tracing::info!(
                messages_last_hour = n,
                alarm_above = limit,
                "intake alarm over: messages back under the hourly alarm level"
            );
        }
    }

    /// Processes until `shutdown`; wakes when the modem links commit new PDUs.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let notify = self.store.received_notify();
        let mut expiry = tokio::time::interval(EXPIRY_CHECK);
        loop {
            match self.process_pass().await {
                // A pass that took less than a full step of each kind left nothing behind: what
                // arrives later rings `notify`, whose permit is kept while this pass runs. Going
                // round again only to find nothing was two store round trips per report.
                Ok(Pass { more: true, .. }) => continue,
                Ok(_) => self.watch_intake().await,
                Err(e) => {
                    tracing::error!(error = %e, "processing stage: store error; retrying in 5 s");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = notify.notified() => {}
                _ = expiry.tick() => {
                    let timeout = i64::try_from(self.reassembly_timeout.as_millis()).unwrap_or(i64::MAX);
                    match self.store.expire_incomplete(timeout).await {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!(messages = n, "long SMS still missing parts after the reassembly timeout: forwarded as incomplete"),
                        Err(e) => tracing::error!(error = %e, "cannot check waiting SMS parts"),
                    }
                    if let Err(e) = self.expire_sessions().await {
                        tracing::error!(error = %e, "cannot close stale surveys");
                    }
                    self.watch_intake().await;
                }
            }
        }
    }

    /// One pass over everything waiting; returns how many rows it handled.
    pub async fn process_available(&self) -> Result<usize, StoreError> {
        Ok(self.process_pass().await?.done)
    }

    async fn process_pass(&self) -> Result<Pass, StoreError> {
        if self.commands.is_none() {
            // Without focal points every message goes straight to its turn: decoding and the
            // turns are one store job.
            let keywords = self.keywords.clone();
            let policy = self.policy.clone();
            let prefix = self.reference_prefix.clone();
            let (rows, turns) = self
                .store
                .decode_and_turn(
                    STEP,
                    decode_part,
                    self.turn_settings(),
                    move |m, session| {
                        let incoming = incoming(&keywords, &policy, &prefix, m.clone());
                        let (plan, decided) = decide(&keywords, &incoming, session);
                        (plan, (incoming, decided))
                    },
                )
                .await?;
            let decoded = rows.len();
            // The turns taken are logged even when a PDU could not be recorded.
            let recorded = check_decoded(rows);
            let handled = log_turns(turns)?;
            recorded?;
            return Ok(Pass {
                done: decoded + handled,
                more: decoded == STEP || handled == STEP,
            });
        }
        let rows = self.store.decode_pending(STEP, decode_part).await?;
        let decoded = rows.len();
        check_decoded(rows)?;
        let messages = self.store.unhandled_messages(STEP).await?;
        let handled = messages.len();
        let results = join_all(messages.into_iter().map(|m| self.handle_message(m))).await;
        for r in results {
            r?;
        }
        Ok(Pass {
            done: decoded + handled,
            more: decoded == STEP || handled == STEP,
        })
    }

    async fn handle_message(&self, m: MessageRow) -> Result<(), StoreError> {
        if let Some(commands) = &self.commands
            && commands.handle(&self.store, &m).await?
        {
            return Ok(());
        }
        let incoming = incoming(&self.keywords, &self.policy, &self.reference_prefix, m);
        let keywords = self.keywords.clone();
        let decided = Arc::new(std::sync::Mutex::new(None));
        let decided_in = decided.clone();
        let for_turn = incoming.clone();
        let result = self
            .store
            .conversation_turn(
                incoming.message.id,
                incoming.message.modem.clone(),
                incoming.message.sender.clone(),
                self.turn_settings(),
                move |session| {
                    let (plan, d) = decide(&keywords, &for_turn, session);
                    if let Ok(mut slot) = decided_in.lock() {
                        *slot = Some(d);
                    }
                    plan
                },
            )
            .await?;
        let decided = decided.lock().ok().and_then(|mut d| d.take());
        log_turn(
            &incoming,
            &result,
            decided.unwrap_or((Action::Report, None)),
        );
        Ok(())
    }

    fn turn_settings(&self) -> TurnSettings {
        TurnSettings {
            guard: self.guard,
            session_timeout_ms: i64::try_from(self.session_timeout.as_millis()).unwrap_or(i64::MAX),
            max_reports_per_sender_per_hour: self.max_reports_per_sender_per_hour,
        }
    }

    /// Closes surveys left unanswered past the session timeout as partial reports.
    async fn expire_sessions(&self) -> Result<usize, StoreError> {
        let refs = self
            .store
            .expire_sessions(self.turn_settings().session_timeout_ms)
            .await?;
        for r in &refs {
            tracing::info!(reference = %r, "survey left unanswered: forwarded as a partial report");
        }
        Ok(refs.len())
    }
}

/// Everything known about a message before its sender's session is looked up.
fn incoming(keywords: &Keywords, policy: &ReplyPolicy, prefix: &str, m: MessageRow) -> Incoming {
    Incoming {
        reference: reply::reference(prefix, m.id),
        may_reply: policy.check(m.sender.as_deref(), m.sender_kind),
        service: m.decode_status != store::DecodeStatus::Undecodable
            && policy.is_service_message(m.sender.as_deref(), m.sender_kind, &m.text),
        reading: keywords.read(&m.text),
        message: m,
    }
}

/// What the message does (`dialogue::plan`), and, for the log, its action and incident type.
fn decide(
    keywords: &Keywords,
    incoming: &Incoming,
    session: Option<SessionState>,
) -> (TurnPlan, (Action, Option<String>)) {
    let (plan, action) = dialogue::plan(keywords, incoming, session);
    let incident_type = match &plan.write {
        TurnWrite::Incident(d) | TurnWrite::Finish { draft: d, .. } => {
            Some(d.incident_type.clone())
        }
        _ => None,
    };
    (plan, (action, incident_type))
}

/// The log line of one applied turn (the sender masked).
fn log_turn(incoming: &Incoming, result: &TurnResult, decided: (Action, Option<String>)) {
    if !result.applied {
        return;
    }
    let (action, incident_type) = decided;
    let m = &incoming.message;
    let action = action.name();
    let reference = &incoming.reference;
    let incident_type = incident_type.unwrap_or_default();
    let from = pdu::mask_number(m.sender.as_deref());
    if let Some(partial) = &result.closed_partial {
        tracing::info!(reference = %partial, %from, "survey left unanswered: forwarded as a partial report");
    }
    match &result.verdict {
        Some(ReplyVerdict::Queued(_)) => {
            tracing::info!(%reference, %action, %incident_type, language = %incoming.reading.language, %from, parts = m.parts, modem = %m.modem, "SMS in: recorded, reply queued")
        }
        Some(ReplyVerdict::Refused { kind, reason }) => {
            tracing::warn!(%reference, %action, %incident_type, %from, %kind, %reason, "SMS in: recorded, reply refused")
        }
        None => {
            tracing::info!(%reference, %action, %incident_type, %from, "SMS in: recorded, no reply")
        }
    }
}

/// What the store should record for one committed PDU.
pub fn decode_part(pdu_hex: &str) -> DecodedPart {
    match pdu::decode(pdu_hex) {
        Ok(Pdu::Deliver(d)) => {
            if let Some(problem) = &d.problem {
                // Neither sender nor text: the log may be read by anyone on the box.
                tracing::warn!(%problem, "received message read despite a malformed PDU; kept as it arrived");
            }
            let sender = d.sender.value.clone();
            let sender_kind = d.sender.kind;
            let smsc_time = d
                .timestamp
                .to_offset_datetime()
                .and_then(|t| t.format(&Rfc3339).ok());
            let text = match &d.text {
                Some(t) => t.clone(),
                None => format!("[8-bit data {}]", hex::encode_upper(&d.data)),
            };
            match d.concat {
                Some(c) if c.total > 1 => DecodedPart::Part {
                    sender,
                    sender_kind,
                    smsc_time,
                    text,
                    reference: c.reference,
                    total: c.total,
                    seq: c.seq,
                    encoding: d.encoding,
                    user_data: d.data,
                },
                _ => DecodedPart::Single {
                    sender,
                    sender_kind,
                    smsc_time,
                    text,
                },
            }
        }
        Ok(Pdu::StatusReport(s)) => DecodedPart::StatusReport(store::DeliveryReport {
            message_reference: s.message_reference,
            recipient: s.recipient.value.clone(),
            status: s.status,
            state: s.delivery_state(),
            status_text: s.status_text().to_string(),
            discharge_time: s
                .discharge_time
                .to_offset_datetime()
                .and_then(|t| t.format(&Rfc3339).ok()),
        }),
        Ok(Pdu::Submit(_)) => DecodedPart::NotAMessage {
            note: "an SMS-SUBMIT (outgoing) found in the inbox".into(),
        },
        Err(e) => DecodedPart::Undecodable {
            error: e.to_string(),
        },
    }
}

/// Logs each PDU that could not be decoded; the first that could not be recorded is the error.
fn check_decoded(rows: Vec<store::DecodedRow>) -> Result<(), StoreError> {
    let mut failed = None;
    for row in rows {
        if let Some(error) = &row.undecodable {
            tracing::warn!(received_id = row.id, modem = %row.modem, %error, "undecodable PDU kept and forwarded as such");
        }
        if let Err(e) = row.recorded {
            failed.get_or_insert(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

/// What `decide` said of a message, beside its plan: the message as read, and the decision.
type Decided = (Incoming, (Action, Option<String>));

/// Logs each turn taken; returns how many messages there were, or the first turn's error.
fn log_turns(turns: Vec<store::UnhandledTurn<Decided>>) -> Result<usize, StoreError> {
    let n = turns.len();
    let mut failed = None;
    for t in turns {
        match t.result {
            Ok(result) => {
                if let Some((incoming, decided)) = t.decided {
                    log_turn(&incoming, &result, decided);
                }
            }
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(n),
    }
}
