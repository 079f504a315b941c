//! Sending the queued SMS: paced by `send_gap`, with the modem's indications served in every
//! gap, the fallback for a modem that is down, and failures handed back to the store's retry.

use super::*;
use store::Outgoing;

impl Session<'_> {
    /// Waits `gap` before the next send while still taking what arrives: a report must not wait
    /// behind a queue of replies (20 replies with the default half-second gap is 10 s).
    pub(super) async fn pause_taking_messages(&mut self, gap: Duration) -> Result<(), SessionEnd> {
        let until = Instant::now() + gap;
        loop {
            tokio::select! {
                _ = sleep_until(until) => return Ok(()),
                _ = self.stopping.cancelled() => return Ok(()),
                urc = self.urcs.recv() => match urc {
                    None => return Err(AtError::ModemGone.into()),
                    Some(u) => {
                        if self.on_urc(u).await? {
                            self.restart_seen = true;
                        }
                    }
                },
            }
        }
    }

    /// Sends what the store has queued for this modem, then, for each modem this one covers and
    /// that has been down long enough, that modem's queue.
    pub(super) async fn send_due(&mut self) -> Result<(), SessionEnd> {
        let own = self.link.cfg.name.clone();
        let lock = self.link.send_lock.clone();
        self.send_queue(&own, &lock, None).await?;
        for i in 0..self.link.covers.len() {
            let c = &self.link.covers[i];
            if !c.status.snapshot().down_for_at_least(c.after) {
                continue;
            }
            let (name, lock, status, after) = (
                c.name.clone(),
                c.send_lock.clone(),
                c.status.clone(),
                c.after,
            );
            self.send_queue(&name, &lock, Some((status, after))).await?;
        }
        Ok(())
    }

    /// Sends the due rows of `owner`'s queue, paced by `send_gap`, holding `owner`'s send lock so
    /// that the owner and its fallback never send the same row. `covering` is the owner's status
    /// when this link sends for another modem: checked again under the lock, since the owner may
    /// have come back meanwhile.
    pub(super) async fn send_queue(
        &mut self,
        owner: &str,
        lock: &Arc<Mutex<()>>,
        covering: Option<(StatusHandle, Duration)>,
    ) -> Result<(), SessionEnd> {
        let _sending = lock.lock().await;
        if let Some((status, after)) = &covering
            && !status.snapshot().down_for_at_least(*after)
        {
            return Ok(());
        }
        let due = match self
            .link
            .store
            .due_outgoing(owner, self.link.opts.send_batch)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(modem = %self.name(), error = %e, "cannot read the outgoing queue");
                return Ok(());
            }
        };
        if covering.is_some() && !due.is_empty() {
            tracing::warn!(modem = %self.name(), down = owner, count = due.len(), "sending the replies of a modem that is down (fallback)");
        }
        for out in due {
            if self.restart_seen || self.stopping.is_cancelled() {
                // Set the modem up again (or stop) first; the rest of the queue stays due.
                break;
            }
            self.send_one(owner, out).await?;
        }
        Ok(())
    }

    /// Sends one queued SMS (all its parts) and records the outcome; a failure goes back to
    /// the store's retry, and ends the session only when the line is at fault.
    async fn send_one(&mut self, owner: &str, out: Outgoing) -> Result<(), SessionEnd> {
        let reference = self.link.next_concat_reference();
        let opts = SubmitOptions {
            concat_reference: reference,
            ..self.link.opts.submit.clone()
        };
        let parts = match encode_submit(&out.recipient, &out.text, &opts) {
            Ok(p) => p,
            Err(e) => {
                // The error may quote the recipient; it goes to the log and to the platform.
                let why = match e {
                    pdu::PduError::InvalidInput { field, reason, .. } => {
                        format!("{field}: {reason}")
                    }
                    other => other.to_string(),
                };
                self.send_failed(out.id, format!("cannot encode the SMS: {why}"))
                    .await;
                return Ok(());
            }
        };
        let mut references = Vec::with_capacity(parts.len());
        let mut failure = None;
        for part in parts {
            self.pause_taking_messages(self.link.cfg.send_gap).await?;
            match self
                .cmd(&Cmgs {
                    tpdu_len: part.tpdu_len,
                    pdu: part.hex,
                })
                .await
            {
                Ok(mr) => references.push(mr),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        match failure {
            None => {
                if let Err(e) = self.link.store.mark_sent(out.id, references).await {
                    tracing::error!(modem = %self.name(), id = out.id, error = %e, "sent, but the store could not record it");
                }
                tracing::info!(modem = %self.name(), queue = owner, id = out.id, kind = %out.kind, reference = out.reference.as_deref().unwrap_or("-"), to = %pdu::mask_number(Some(&out.recipient)), "SMS out: sent");
                self.link.status.update(|s| {
                    s.sent += 1;
                    s.last_sent_at = Some(OffsetDateTime::now_utc());
                });
            }
            Some(e) => {
                let link_fault = e.is_link_fault();
                let memory_full = e.cms_code() == Some(322) || e.cme_code() == Some(20);
                self.send_failed(out.id, e.to_string()).await;
                if link_fault {
                    return Err(e.into());
                }
                if memory_full {
                    // Some modems keep a copy of what they send: make room by taking what
                    // is stored, then the retry finds space.
                    tracing::warn!(modem = %self.name(), "modem memory full while sending; taking the stored messages first");
                    self.sweep().await?;
                }
            }
        }
        Ok(())
    }

    pub(super) async fn send_failed(&mut self, id: i64, error: String) {
        tracing::warn!(modem = %self.name(), id, %error, "SMS not sent; the store schedules a retry");
        self.link.status.update(|s| s.send_failures += 1);
        let first_retry = self.link.opts.send_retry_after;
        if let Err(e) = self
            .link
            .store
            .mark_send_failed_after(id, error, first_retry)
            .await
        {
            tracing::error!(modem = %self.name(), id, error = %e, "cannot record the send failure");
        }
    }
}
