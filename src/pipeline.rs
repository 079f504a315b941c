//! The processing stage: committed PDUs → decoded parts → whole messages → incidents with their
//! reply queued.
//!
//! It reads its work from the store and writes its results back in one transaction per step,
//! so it can stop anywhere and pick up on the next start. Work is handed to the store in groups
//! (many jobs in flight at once), so the store commits them together: one fsync for a burst.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::intake::{Intent, Keywords};
use crate::pdu::{self, AddressKind, Pdu};
use crate::reply::{self, ReplyPolicy, TemplateValues};
use crate::store::{
    DecodedPart, IncidentDraft, MessageRow, NewOutgoing, ReplyGuard, ReplyVerdict, Store,
    StoreError,
};

/// Rows taken from the store per step.
const STEP: usize = 256;
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
        }
    }

    /// Processes until `shutdown`; wakes when the modem links commit new PDUs.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let notify = self.store.received_notify();
        let mut expiry = tokio::time::interval(EXPIRY_CHECK);
        loop {
            match self.process_available().await {
                Ok(0) => {}
                Ok(_) => continue,
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
                }
            }
        }
    }

    /// One pass over everything waiting; returns how many rows it handled.
    pub async fn process_available(&self) -> Result<usize, StoreError> {
        let mut done = 0;
        let rows = self.store.pending_received(STEP).await?;
        done += rows.len();
        let results = join_all(rows.into_iter().map(|row| {
            let part = decode_part(&row.pdu_hex);
            if let DecodedPart::Undecodable { error } = &part {
                tracing::warn!(received_id = row.id, modem = %row.modem, %error, "undecodable PDU kept and forwarded as such");
            }
            self.store.record_decoded(row.id, part)
        }))
        .await;
        for r in results {
            r?;
        }
        let messages = self.store.unhandled_messages(STEP).await?;
        done += messages.len();
        let results = join_all(messages.into_iter().map(|m| self.handle_message(m))).await;
        for r in results {
            r?;
        }
        Ok(done)
    }

    async fn handle_message(&self, m: MessageRow) -> Result<(), StoreError> {
        let reading = self.keywords.read(&m.text);
        let reference = reply::reference(&self.reference_prefix, m.id);
        let incident_type = if m.decode_status == "undecodable" {
            crate::intake::UNKNOWN_TYPE.to_string()
        } else {
            self.keywords.type_id(&reading.intent).to_string()
        };
        let lang = reading.language.clone();
        let may_reply = self
            .policy
            .check(m.sender.as_deref(), m.sender_kind.as_deref());
        let template = match reading.intent {
            Intent::Report(_) => self.keywords.replies.ack.get(&lang),
            Intent::Unknown => self.keywords.replies.unknown.get(&lang),
            Intent::Help => self.keywords.replies.help.get(&lang),
        };
        let reply = match (&may_reply, template, &m.sender) {
            (Ok(()), Some(t), Some(sender)) if m.decode_status != "undecodable" => {
                let label = self.keywords.type_label(&reading.intent, &lang);
                let keywords = self.keywords.keyword_list(&lang);
                Some(NewOutgoing {
                    modem: m.modem.clone(),
                    recipient: sender.clone(),
                    text: reply::render(
                        t,
                        &TemplateValues {
                            reference: &reference,
                            type_label: &label,
                            keywords: &keywords,
                        },
                    ),
                    kind: if reading.intent == Intent::Help {
                        "help".into()
                    } else {
                        "ack".into()
                    },
                })
            }
            _ => None,
        };
        let draft = IncidentDraft {
            message_id: m.id,
            reference: reference.clone(),
            incident_type: incident_type.clone(),
            language: Some(lang.clone()),
            description: reading.description.clone(),
            location: None,
        };
        let (_, verdict) = self.store.record_incident(draft, reply, self.guard).await?;
        let from = crate::logging::mask_number(m.sender.as_deref());
        match (&verdict, &may_reply) {
            (Some(ReplyVerdict::Queued(_)), _) => {
                tracing::info!(reference = %reference, %incident_type, language = %lang, %from, parts = m.parts, modem = %m.modem, "SMS in: report recorded, reply queued")
            }
            (Some(ReplyVerdict::Refused(why)), _) => {
                tracing::warn!(reference = %reference, %incident_type, %from, reason = %why, "SMS in: report recorded, reply refused")
            }
            (None, Err(why)) => {
                tracing::info!(reference = %reference, %incident_type, %from, reason = %why, "SMS in: report recorded, no reply")
            }
            (None, Ok(())) => {
                tracing::info!(reference = %reference, %incident_type, %from, "SMS in: report recorded")
            }
        }
        Ok(())
    }
}

/// What the store should record for one committed PDU.
pub fn decode_part(pdu_hex: &str) -> DecodedPart {
    match pdu::decode(pdu_hex) {
        Ok(Pdu::Deliver(d)) => {
            let sender = d.sender.value.clone();
            let sender_kind = kind_name(&d.sender.kind).to_string();
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
        Ok(Pdu::StatusReport(s)) => DecodedPart::StatusReport(crate::store::DeliveryReport {
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

fn kind_name(kind: &AddressKind) -> &'static str {
    match kind {
        AddressKind::International => "international",
        AddressKind::National => "national",
        AddressKind::Alphanumeric => "alphanumeric",
        AddressKind::Other => "other",
    }
}
