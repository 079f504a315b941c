//! The heartbeat stage: every `platform.heartbeat_interval` it tells the platform that the box
//! is alive and how it is doing — version, uptime, each modem (state, signal, operator, balance,
//! last message), queue depths, the oldest undelivered report, quarantined batches and the clock —
//! so a partner sees a dead modem or a stuck queue before reporters notice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::forward::rfc3339_ms;
use crate::modem::{ModemStatus, StatusHandle};
use crate::platform::PlatformClient;
use platform_api::{self as api, Heartbeat, ModemHealth, QuarantinedBatch, SCHEMA_VERSION};
use store::{Store, StoreError};

/// Most quarantined batches listed in one heartbeat (the count is always complete).
const QUARANTINE_LISTED: usize = 20;

/// The heartbeat stage.
pub(crate) struct HeartbeatSender {
    store: Store,
    client: Arc<PlatformClient>,
    modems: Vec<StatusHandle>,
    gateway_id: String,
    interval: Duration,
    started: Instant,
    alarm_reports_per_hour: u32,
}

impl HeartbeatSender {
    pub(crate) fn new(
        store: Store,
        client: Arc<PlatformClient>,
        modems: Vec<StatusHandle>,
        gateway_id: String,
        interval: Duration,
        started: Instant,
        alarm_reports_per_hour: u32,
    ) -> HeartbeatSender {
        HeartbeatSender {
            store,
            client,
            modems,
            gateway_id,
            interval,
            started,
            alarm_reports_per_hour,
        }
    }

    /// Sends one heartbeat at start and then one per interval, until `shutdown`. A heartbeat
    /// that fails is not retried: the next one carries fresher news.
    pub(crate) async fn run(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        loop {
            let heartbeat = self.build().await?;
            match self.client.post_heartbeat(&heartbeat).await {
                Ok(_) => tracing::debug!("heartbeat sent"),
                Err(e) if e.is_clock_refusal() => {
                    let offset = self.client.adopt_observed_clock();
                    tracing::warn!(offset_secs = ?offset, "heartbeat: platform refused our timestamp; clock offset adjusted");
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat not delivered"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// The heartbeat as it would be sent now.
    async fn build(&self) -> Result<Heartbeat, StoreError> {
        let depths = self.store.queue_depths().await?;
        let quarantined = self
            .store
            .quarantined_batches(QUARANTINE_LISTED)
            .await?
            .into_iter()
            .map(|q| QuarantinedBatch {
                batch_id: q.id,
                status: q.status,
                error: q.error,
                since: rfc3339_ms(q.since_ms),
            })
            .collect();
        Ok(Heartbeat {
            schema_version: SCHEMA_VERSION,
            gateway_id: self.gateway_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            clock: api::rfc3339(OffsetDateTime::now_utc()),
            uptime_secs: self.started.elapsed().as_secs(),
            modems: self
                .modems
                .iter()
                .map(|m| modem_health(&m.snapshot()))
                .collect(),
            queues: api::QueueDepths {
                undelivered_incidents: depths.undelivered_incidents,
                outgoing_sms: depths.queued_sms,
                quarantined_batches: depths.quarantined_batches,
                unconfirmed_sms: depths.unconfirmed_sms,
                escalations_pending: depths.escalations_pending,
            },
            oldest_undelivered_age_secs: depths.oldest_undelivered_secs,
            quarantined,
            messages_last_hour: depths.messages_last_hour,
            intake_alarm: depths.messages_last_hour > u64::from(self.alarm_reports_per_hour),
        })
    }
}

fn modem_health(s: &ModemStatus) -> ModemHealth {
    ModemHealth {
        name: s.name.clone(),
        state: s.state.as_str().to_string(),
        signal_dbm: s.signal_dbm,
        operator: s.operator.clone(),
        balance: s.balance.clone(),
        last_message_at: s.last_message_at.map(api::rfc3339),
        low_balance: s.low_balance,
        clock_warning: s.clock_warning.clone(),
        sending_stopped: s.sending_stopped.clone(),
    }
}
