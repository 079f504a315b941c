//! The outbound stage: pulls the platform's messages for reporters ("your case is being
//! followed up"), turns the pseudonym or incident id into a phone number from the local map,
//! queues the SMS on the modem that received that reporter's last report, and reports each
//! message's state back (accepted, sent, failed, undeliverable).
//!
//! A message is queued once per platform id, whatever the platform re-offers after a lost answer
//! or a restart; states are re-sent until the platform acknowledges them.
//!
//! Every message goes through the reply guard (`store::OutboundGuard`): the reply policy on the
//! number it resolves to (an operator's robot that "reported" gets nothing), its length in SMS
//! parts, a daily limit per number and a daily budget of parts of its own. A refused message is
//! reported undeliverable with the reason. A platform that hands out more messages than asked
//! for gets the extra ones back on a later pull, never all at once.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::forward::rfc3339_ms;
use crate::platform::{Backoff, PlatformClient, PostError};
use platform_api::{
    OutboundMessage, OutboundState, OutboundStatus, OutboundStatusReport, Recipient,
};
use store::{OutboundGuard, OutboundOutcome, RecipientKind, Store};

use crate::reply::ReplyPolicy;

/// Messages asked for in one pull.
const PULL_LIMIT: u32 = 20;
/// States reported in one request.
const REPORT_LIMIT: usize = 100;
/// While sent SMS are awaited, states are looked at this often (between pulls).
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// The outbound stage.
pub(crate) struct OutboundPuller {
    store: Store,
    client: Arc<PlatformClient>,
    gateway_id: String,
    poll: Duration,
    guard: OutboundGuard,
    transliterate: bool,
}

impl OutboundPuller {
    pub(crate) fn new(
        store: Store,
        client: Arc<PlatformClient>,
        config: &config::Config,
    ) -> OutboundPuller {
        let policy = ReplyPolicy::from_config(config);
        let limits = &config.outbound;
        OutboundPuller {
            store,
            client,
            gateway_id: config.gateway_id.clone(),
            poll: config.platform.outbound_poll_interval,
            guard: OutboundGuard {
                max_parts: limits.max_parts,
                max_per_recipient_per_day: limits.max_per_recipient_per_day,
                max_parts_per_day: limits.max_parts_per_day,
                recipient_check: Arc::new(move |number: &str| {
                    policy
                        .check(Some(number), None)
                        .err()
                        .map(|no| (no.kind(), no.to_string()))
                }),
            },
            transliterate: config.sms.transliterate,
        }
    }

    /// Pulls and reports until `shutdown`.
    pub(crate) async fn run(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = Backoff::new(Duration::from_secs(1), self.poll.max(REPORT_EVERY));
        let mut since_pull = self.poll;
        loop {
            let mut wait = self.poll.min(REPORT_EVERY);
            let mut result = self.report().await;
            if result.is_ok() && since_pull >= self.poll {
                since_pull = Duration::ZERO;
                result = match self.pull().await {
                    // A full pull may mean more are waiting: ask again at once.
                    Ok(n) if n >= PULL_LIMIT as usize => {
                        since_pull = self.poll;
                        Ok(())
                    }
                    other => other.map(|_| ()),
                };
                if result.is_ok() {
                    result = self.report().await;
                }
            }
            match result {
                Ok(()) => backoff.reset(),
                Err(StepError::Platform(e)) if e.is_clock_refusal() => {
                    let offset = self.client.adopt_observed_clock();
                    tracing::warn!(offset_secs = ?offset, "outbound: platform refused our timestamp; clock offset adjusted");
                }
                Err(StepError::Platform(PostError::Retry {
                    reason,
                    retry_after,
                })) => {
                    wait = backoff.next_delay(retry_after);
                    tracing::warn!(%reason, retry_in = ?wait, "outbound: platform not reachable");
                }
                Err(StepError::Platform(e)) => {
                    tracing::error!(error = %e, "outbound: platform refused the request");
                    wait = self.poll;
                }
                Err(StepError::Store(e)) => return Err(e.into()),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
            since_pull = since_pull.saturating_add(wait);
        }
    }

    /// One pull: every message is queued or found undeliverable. Returns how many were taken.
    async fn pull(&self) -> Result<usize, StepError> {
        let mut messages = self
            .client
            .pull_outbound(&self.gateway_id, PULL_LIMIT)
            .await?;
        if messages.len() > PULL_LIMIT as usize {
            // Left untaken and unreported: the platform offers them again when their lease ends.
            tracing::warn!(
                got = messages.len(),
                asked = PULL_LIMIT,
                "platform sent more messages than asked for; the rest wait for a later pull"
            );
            messages.truncate(PULL_LIMIT as usize);
        }
        for m in &messages {
            self.take(m).await?;
        }
        Ok(messages.len())
    }

    async fn take(&self, m: &OutboundMessage) -> Result<(), StepError> {
        let (kind, recipient) = match &m.to {
            Recipient::Reporter(r) => (RecipientKind::Reporter, r.as_str()),
            Recipient::Incident(i) => (RecipientKind::Incident, i.as_str()),
        };
        let parts = pdu::sms_cost(&m.text, self.transliterate).parts;
        let outcome = self
            .store
            .accept_outbound(
                &m.id,
                kind,
                recipient,
                &m.text,
                u32::try_from(parts).unwrap_or(u32::MAX),
                &self.gateway_id,
                &self.guard,
            )
            .await?;
        match outcome {
            OutboundOutcome::Accepted { outgoing_id, modem } => {
                tracing::info!(outbound = %m.id, sms = outgoing_id, %modem, "platform message queued for a reporter")
            }
            OutboundOutcome::Undeliverable(why) => {
                tracing::warn!(outbound = %m.id, %why, "platform message cannot be delivered")
            }
            OutboundOutcome::Refused(why) => {
                tracing::warn!(outbound = %m.id, %why, "platform message refused by the reply guard; the platform is told why")
            }
            OutboundOutcome::AlreadyKnown => {
                tracing::debug!(outbound = %m.id, "platform message offered again; not sent twice")
            }
        }
        Ok(())
    }

    /// Sends every state the platform has not acknowledged yet.
    async fn report(&self) -> Result<(), StepError> {
        loop {
            let pending = self.store.unreported_outbound(REPORT_LIMIT).await?;
            if pending.is_empty() {
                return Ok(());
            }
            let statuses: Vec<OutboundStatus> = pending
                .iter()
                .map(|p| OutboundStatus {
                    id: p.id.clone(),
                    state: api_state(p.state),
                    at: rfc3339_ms(p.updated_at_ms),
                    detail: p.detail.clone(),
                })
                .collect();
            let ack = self
                .client
                .post_outbound_status(&OutboundStatusReport {
                    gateway_id: self.gateway_id.clone(),
                    statuses,
                })
                .await?;
            if !ack.unknown.is_empty() {
                // Telling it again would not help: the platform has forgotten these ids.
                tracing::warn!(ids = %ack.unknown.join(","), "platform does not know these outbound messages");
            }
            let full = pending.len() >= REPORT_LIMIT;
            self.store
                .mark_outbound_reported(pending.into_iter().map(|p| (p.id, p.state)).collect())
                .await?;
            if !full {
                return Ok(());
            }
        }
    }
}

/// The platform's name for a state the store keeps.
fn api_state(state: store::OutboundState) -> OutboundState {
    match state {
        store::OutboundState::Accepted => OutboundState::Accepted,
        store::OutboundState::Sent => OutboundState::Sent,
        store::OutboundState::Failed => OutboundState::Failed,
        store::OutboundState::Undeliverable => OutboundState::Undeliverable,
    }
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Platform(#[from] PostError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}
