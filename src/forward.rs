//! The forwarding stage: cuts batches of incidents in the store and delivers them to the
//! platform, each until a 2xx (then marked delivered) or a refusal of its content (then
//! quarantined). A refusal of the box itself (token, signature, URL) pauses forwarding instead:
//! the batch is tried again with backoff until the technician fixes the cause.
//!
//! A batch's id and content are fixed in the store when it is cut, so every retry — after an
//! outage of days or a power cut — sends the same batch, and the platform deduplicates by id.
//! Only one batch is held in memory at a time, however long the backlog.
//!
//! One bad batch must not stop the others. A batch is cut to `platform.batch_max_bytes` before
//! its first attempt (and halved on a 413). After every `platform.quarantine_after` 5xx answers
//! for the oldest batch, it is *set aside* and the next batch is tried: if the platform accepts
//! that one, the set-aside batch gets one more try and, refused again, is halved (the other half
//! goes back to the queue) until the report at fault is alone, and then quarantined with its
//! reason; if the next batch fails too, the platform is at fault, the oldest goes first again
//! and nothing is quarantined. Texts are cleaned of NUL before they leave (`clean_text`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

use crate::platform::{Backoff, Diagnosis, PlatformClient, PostError};
use config::Config;
use platform_api::sign;
use platform_api::{
    Batch, DecodeStatus, Escalation, EscalationState, IncidentRecord, SCHEMA_VERSION,
};
use store::{IncidentRow, PendingBatch, ReporterSeen, Store, StoreError};

/// How often an idle forwarder looks for batches `requeue` put back.
const IDLE_RECHECK: Duration = Duration::from_secs(10);

/// How reporters are named in what leaves the box.
#[derive(Clone)]
pub enum ReporterId {
    /// A keyed pseudonym of the number (the default): the platform can group reports of one
    /// reporter without learning who it is.
    Pseudonym(Arc<Vec<u8>>),
    /// The phone number itself (`privacy.share_phone_numbers = true`).
    PhoneNumber,
}

impl ReporterId {
    /// How the platform knows the sender of `number`.
    pub(crate) fn name(&self, number: Option<&str>) -> String {
        match (self, number) {
            // An undecodable PDU names nobody we could read; the contract wants a word here,
            // and an empty one would have the whole batch refused.
            (_, None) => platform_api::UNKNOWN_REPORTER.to_string(),
            (ReporterId::PhoneNumber, Some(n)) => n.to_string(),
            // Operators' alphanumeric names identify nobody.
            (ReporterId::Pseudonym(_), Some(n)) if n.chars().any(char::is_alphabetic) => {
                n.to_string()
            }
            (ReporterId::Pseudonym(key), Some(n)) => sign::pseudonym(key, n),
        }
    }

    /// The raw PDUs as the platform gets them: as received when numbers are shared, else with
    /// the sender's number replaced by zeros (`pdu::redact_sender`), so the PDUs still decode
    /// to the same text and parts but name nobody.
    fn pdus(&self, incident: i64, pdus: &[String]) -> Vec<String> {
        if matches!(self, ReporterId::PhoneNumber) {
            return pdus.to_vec();
        }
        pdus.iter()
            .map(|raw| {
                let (hex, how) = pdu::redact_sender(raw);
                if how == pdu::Redaction::Blanked {
                    tracing::warn!(incident, "a raw PDU whose sender address cannot be located is forwarded blanked from where the address would start");
                }
                hex
            })
            .collect()
    }
}

/// The forwarding stage.
pub struct Forwarder {
    store: Store,
    client: Arc<PlatformClient>,
    gateway_id: String,
    batch_max: usize,
    batch_max_bytes: usize,
    quarantine_after: u32,
    flush_after: Duration,
    retry_max: Duration,
    reporter: ReporterId,
    operators: HashMap<String, String>,
}

impl Forwarder {
    pub fn new(
        config: &Config,
        store: Store,
        client: Arc<PlatformClient>,
        reporter: ReporterId,
    ) -> Forwarder {
        Forwarder {
            store,
            client,
            gateway_id: config.gateway_id.clone(),
            batch_max: config.platform.batch_max,
            batch_max_bytes: config.platform.batch_max_bytes,
            quarantine_after: config.platform.quarantine_after,
            flush_after: config.platform.flush_after,
            retry_max: config.platform.retry_max,
            reporter,
            operators: config
                .modems
                .iter()
                .filter_map(|m| Some((m.name.clone(), m.operator.clone()?)))
                .collect(),
        }
    }

    /// Delivers until `shutdown`.
    pub async fn run(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let notify = self.store.incidents_notify();
        let mut backoff = Backoff::new(Duration::from_secs(1), self.retry_max);
        let mut aside = Vec::new();
        loop {
            let wait = match self.step(&mut backoff, &mut aside).await {
                Ok(Step::Idle) => None,
                Ok(Step::Gather) => Some(self.flush_after),
                Ok(Step::Sent) => continue,
                Ok(Step::Retry(d)) => Some(d),
                Err(e) => {
                    tracing::error!(error = %e, "forwarding: store error; retrying in 5 s");
                    Some(Duration::from_secs(5))
                }
            };
            match wait {
                // Batches put back by `requeue` (another process) wake no one: look again now
                // and then.
                None => tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(IDLE_RECHECK) => {}
                },
                Some(d) => tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(d) => {}
                },
            }
        }
    }

    /// One delivery attempt. `aside` holds the batches set aside (see the module doc).
    async fn step(
        &self,
        backoff: &mut Backoff,
        aside: &mut Vec<String>,
    ) -> Result<Step, StoreError> {
        let (unbatched, _) = self.store.unbatched_count().await?;
        let depths = self.store.pending_batch_count().await?;
        if depths == 0 && unbatched == 0 {
            aside.clear();
            return Ok(Step::Idle);
        }
        // Let a report that just came in wait a moment for others, unless a batch is full.
        if depths == 0 && (unbatched as usize) < self.batch_max && !self.gathered().await? {
            return Ok(Step::Gather);
        }
        let next = self
            .store
            .next_batch_skipping(&self.gateway_id, self.batch_max, aside.clone())
            .await?;
        let batch = match next {
            Some(batch) => batch,
            // Only set-aside batches wait: nothing else can tell, so retry the oldest of them.
            None => match aside.first().cloned() {
                Some(id) => match self.store.pending_batch(&id).await? {
                    Some(batch) => batch,
                    None => {
                        aside.retain(|a| a != &id);
                        return Ok(Step::Sent);
                    }
                },
                None => return Ok(Step::Idle),
            },
        };
        let batch = self.fit_bytes(batch).await?;
        let set_aside = aside.contains(&batch.id);
        match self.deliver(&batch, backoff).await? {
            Outcome::Delivered => {
                aside.retain(|a| a != &batch.id);
                if !set_aside {
                    // The platform takes batches: one it keeps refusing is at fault itself.
                    self.judge_set_aside(aside).await?;
                }
                Ok(Step::Sent)
            }
            Outcome::Busy { status, delay } => {
                if !set_aside && !aside.is_empty() {
                    // The next batch failed too: the platform, not the set-aside batch, is at
                    // fault. Back to the oldest first; asked again after `quarantine_after` more.
                    aside.clear();
                    return Ok(Step::Retry(delay));
                }
                let attempts = batch.attempts.saturating_add(1);
                if !set_aside && status >= 500 && attempts.is_multiple_of(self.quarantine_after) {
                    tracing::warn!(batch = %batch.id, attempts, status,
                        "the platform keeps refusing this batch; trying the next batch to tell whether the batch or the platform is at fault");
                    aside.push(batch.id.clone());
                    return Ok(Step::Sent);
                }
                Ok(Step::Retry(delay))
            }
            Outcome::Split => Ok(Step::Sent),
            Outcome::Wait(delay) => Ok(Step::Retry(delay)),
            Outcome::Quarantined => {
                aside.retain(|a| a != &batch.id);
                Ok(Step::Sent)
            }
        }
    }

    /// After another batch was accepted: each set-aside batch gets one more try, and is
    /// quarantined (with its reason) if the platform refuses it again.
    async fn judge_set_aside(&self, aside: &mut Vec<String>) -> Result<(), StoreError> {
        for id in std::mem::take(aside) {
            let Some(batch) = self.store.pending_batch(&id).await? else {
                continue;
            };
            let body = self.to_api(&batch);
            match self.client.post_batch(&body).await {
                Ok(_) => {
                    self.store.mark_batch_delivered(&batch.id).await?;
                    tracing::info!(batch = %batch.id, "set-aside batch delivered");
                }
                Err(e) if e.answered_status().is_some_and(|s| s >= 500 || s == 413) => {
                    let status = e.answered_status().unwrap_or(0);
                    if batch.incidents.len() > 1 {
                        // One report may be what the platform cannot take: halve the batch
                        // until it is alone, so its batch-mates are delivered.
                        let keep = batch.incidents.len() / 2;
                        tracing::warn!(batch = %batch.id, incidents = batch.incidents.len(), kept = keep, status,
                            "the platform refuses this batch but accepts others; halved to find the report at fault");
                        self.store.split_batch(&batch.id, keep).await?;
                        continue;
                    }
                    let error = format!(
                        "refused {} times while the platform accepted other batches; last: {e}",
                        batch.attempts.saturating_add(1)
                    );
                    tracing::error!(batch = %batch.id, %error, "batch quarantined (see `kufatilia-gateway status`; `requeue` sends it again)");
                    self.store
                        .quarantine_batch(&batch.id, status, error)
                        .await?;
                }
                // A network failure or another answer says nothing about this batch: keep it.
                Err(e) => {
                    self.store
                        .mark_batch_attempt_failed(&batch.id, e.to_string())
                        .await?;
                    aside.push(id);
                }
            }
        }
        Ok(())
    }

    /// Cuts a batch never sent yet down to `batch_max_bytes` (at least one incident).
    async fn fit_bytes(&self, batch: PendingBatch) -> Result<PendingBatch, StoreError> {
        if batch.attempts > 0 || batch.incidents.len() < 2 {
            return Ok(batch);
        }
        let keep = self.incidents_within(&batch, self.batch_max_bytes);
        if keep >= batch.incidents.len() {
            return Ok(batch);
        }
        if self.store.shrink_unsent_batch(&batch.id, keep).await? {
            tracing::info!(batch = %batch.id, kept = keep, of = batch.incidents.len(), max_bytes = self.batch_max_bytes, "batch cut to its byte limit");
            if let Some(cut) = self.store.pending_batch(&batch.id).await? {
                return Ok(cut);
            }
        }
        Ok(batch)
    }

    /// How many of the batch's first incidents fit in `max_bytes` of JSON (at least one).
    fn incidents_within(&self, batch: &PendingBatch, max_bytes: usize) -> usize {
        let mut body = self.to_api(batch);
        let records = std::mem::take(&mut body.incidents);
        let mut size = serde_json::to_vec(&body).map_or(0, |v| v.len());
        let mut keep = 0;
        for record in &records {
            size += serde_json::to_vec(record).map_or(0, |v| v.len()) + 1;
            if size > max_bytes && keep > 0 {
                break;
            }
            keep += 1;
        }
        keep
    }

    /// Posts one batch and records the outcome in the store.
    async fn deliver(
        &self,
        batch: &PendingBatch,
        backoff: &mut Backoff,
    ) -> Result<Outcome, StoreError> {
        let body = self.to_api(batch);
        // The map is written before the post: a reply may come back for a reporter as soon as
        // the platform has the batch.
        self.store
            .remember_reporters(self.reporters_of(batch, &body))
            .await?;
        match self.client.post_batch(&body).await {
            Ok(ack) => {
                self.store.mark_batch_delivered(&batch.id).await?;
                backoff.reset();
                let references: Vec<&str> = batch
                    .incidents
                    .iter()
                    .map(|i| i.reference.as_str())
                    .collect();
                tracing::info!(batch = %batch.id, incidents = batch.incidents.len(), accepted = ack.accepted, duplicates = ack.duplicates, references = %references.join(","), "batch delivered");
                Ok(Outcome::Delivered)
            }
            Err(e @ PostError::Retry { .. }) => {
                let delay = backoff.next_delay(e.retry_after());
                let status = e.answered_status().unwrap_or(0);
                let PostError::Retry { reason, .. } = e else {
                    return Ok(Outcome::Wait(delay));
                };
                tracing::warn!(batch = %batch.id, attempt = batch.attempts + 1, %reason, retry_in = ?delay, "platform not reachable; batch kept for retry");
                self.store
                    .mark_batch_attempt_failed(&batch.id, reason)
                    .await?;
                Ok(Outcome::Busy { status, delay })
            }
            Err(e) if e.is_clock_refusal() => {
                // No RTC: the clock may be hours off after a power cut without network time.
                // That is no fault of the batch; sign with the platform's clock and retry.
                let delay = backoff.next_delay(None);
                match self.client.adopt_observed_clock() {
                    Some(offset) => {
                        tracing::warn!(batch = %batch.id, offset_secs = offset, "platform refused our timestamp; signing with the platform's clock from now on")
                    }
                    None => {
                        tracing::error!(batch = %batch.id, "platform refused our timestamp and sent no usable Date; check the gateway clock")
                    }
                }
                self.store
                    .mark_batch_attempt_failed(&batch.id, e.to_string())
                    .await?;
                Ok(Outcome::Wait(delay))
            }
            Err(PostError::Rejected { status, body })
                if Diagnosis::of_refusal(status, &body).pauses_forwarding() =>
            {
                // The token, the signature or the URL: every batch would be refused alike, and
                // none of them is at fault. All wait (none is quarantined) and the same batch is
                // tried again with backoff, so delivery resumes by itself once the cause is fixed.
                let diagnosis = Diagnosis::of_refusal(status, &body);
                let delay = backoff.next_delay(None);
                let error = format!("HTTP {status}: {body}");
                tracing::error!(batch = %batch.id, %error, problem = diagnosis.problem(), fix = diagnosis.fix(), retry_in = ?delay,
                    "FORWARDING PAUSED: the platform refuses this gateway's requests; every report is kept and sent once this is fixed");
                self.store
                    .mark_batch_paused(&batch.id, status, error)
                    .await?;
                Ok(Outcome::Wait(delay))
            }
            Err(PostError::Rejected { status: 413, .. }) if batch.incidents.len() > 1 => {
                // Too large for this platform: it took none of it, so the batch may be cut in
                // half and both halves sent (incident ids stay; the platform deduplicates).
                let keep = batch.incidents.len() / 2;
                tracing::warn!(batch = %batch.id, incidents = batch.incidents.len(), kept = keep, "platform answered 413 (too large); batch halved");
                self.store.split_batch(&batch.id, keep).await?;
                Ok(Outcome::Split)
            }
            Err(PostError::Rejected { status, body }) => {
                let error = format!("HTTP {status}: {body}");
                tracing::error!(batch = %batch.id, %error, "platform refused the batch; quarantined (see `kufatilia-gateway status`)");
                self.store
                    .quarantine_batch(&batch.id, status, error)
                    .await?;
                Ok(Outcome::Quarantined)
            }
        }
    }

    /// Who the platform will know by which name, for routing its replies back.
    fn reporters_of(&self, batch: &PendingBatch, body: &Batch) -> Vec<ReporterSeen> {
        batch
            .incidents
            .iter()
            .zip(&body.incidents)
            .filter_map(|(row, record)| {
                let number = row.sender.clone()?;
                // Operators' names and purged numbers cannot be answered.
                if record.reporter.is_empty() || !number.chars().any(|c| c.is_ascii_digit()) {
                    return None;
                }
                Some(ReporterSeen {
                    name: record.reporter.clone(),
                    number,
                    modem: row.modem.clone(),
                    incident_id: row.id,
                    seen_ms: row.received_at_ms,
                })
            })
            .collect()
    }

    /// True when the oldest unbatched incident has waited `flush_after` already.
    async fn gathered(&self) -> Result<bool, StoreError> {
        let (_, oldest) = self.store.unbatched_count().await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let waited = oldest.map_or(0, |t| (now as i64 - t).max(0));
        // A clock that jumped backwards (no RTC, then NTP) must not hold reports back for ever.
        Ok(waited >= self.flush_after.as_millis() as i64 || oldest.is_some_and(|t| t > now as i64))
    }

    fn to_api(&self, batch: &PendingBatch) -> Batch {
        Batch {
            schema_version: SCHEMA_VERSION,
            gateway_id: self.gateway_id.clone(),
            batch_id: batch.id.clone(),
            created_at: rfc3339_ms(batch.created_at_ms),
            incidents: batch.incidents.iter().map(|i| self.record(i)).collect(),
        }
    }

    fn record(&self, i: &IncidentRow) -> IncidentRecord {
        IncidentRecord {
            id: format!("{}-{}", self.gateway_id, i.id),
            reference: i.reference.clone(),
            incident_type: i.incident_type.clone(),
            language: i.language.clone(),
            description: clean_text(&i.description),
            location: i.location.as_deref().map(clean_text),
            survey_answers: i
                .survey_answers
                .iter()
                .map(|(k, v)| (clean_text(k), clean_text(v)))
                .collect(),
            reporter: self.reporter.name(i.sender.as_deref()),
            received_at_smsc: i.smsc_time.clone(),
            received_at_gateway: rfc3339_ms(i.received_at_ms),
            modem: i.modem.clone(),
            operator: self.operators.get(&i.modem).cloned(),
            raw_text: clean_text(&i.text),
            parts: i.parts,
            decode_status: api_decode_status(i.decode_status),
            raw_pdus: self.reporter.pdus(i.id, &i.raw_pdus),
            flood: i.flood,
            escalations: i.escalations.iter().map(api_escalation).collect(),
        }
    }
}

enum Step {
    Idle,
    Gather,
    Sent,
    Retry(Duration),
}

/// What became of one post of a batch.
enum Outcome {
    Delivered,
    /// Not delivered, worth retrying; `status` is the platform's answer (0: no answer).
    Busy {
        status: u16,
        delay: Duration,
    },
    /// Too large: cut in two, send again now.
    Split,
    /// Not the batch's fault (clock, credentials, URL): wait and retry the same batch.
    Wait(Duration),
    Quarantined,
}

/// A reporter's text as it goes on the wire: NUL (U+0000), which JSON carries but many
/// platforms' databases refuse (a batch refused for ever), becomes U+FFFD. The raw PDUs still
/// carry every original byte.
fn clean_text(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text.to_string()
    }
}

/// An escalation as the platform reads it.
fn api_escalation(e: &store::EscalationRow) -> Escalation {
    Escalation {
        partner: e.partner.clone(),
        focal_point: e.label.clone(),
        state: match e.state {
            store::EscalationState::Queued => EscalationState::Sent,
            store::EscalationState::Refused => EscalationState::Refused,
        },
        at: rfc3339_ms(e.created_at_ms),
        refused_reason: e.reason.clone(),
        acknowledged_at: e.acked_at_ms.map(rfc3339_ms),
    }
}

/// The platform's name for how a message's text came about.
fn api_decode_status(status: store::DecodeStatus) -> DecodeStatus {
    match status {
        store::DecodeStatus::Ok => DecodeStatus::Ok,
        store::DecodeStatus::Undecodable => DecodeStatus::Undecodable,
        store::DecodeStatus::Incomplete => DecodeStatus::Incomplete,
    }
}

/// Unix milliseconds as RFC 3339 UTC.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}
