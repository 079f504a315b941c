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
        self.more_due = false;
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
        // Only a full round that went to its end may be followed at once by another: one that
        // stopped (a restart, the store, a stop) waits for its cause.
        let full = due.len() >= self.link.opts.send_batch;
        for out in due {
            if self.restart_seen || self.stopping.is_cancelled() {
                // Set the modem up again (or stop) first; the rest of the queue stays due.
                return Ok(());
            }
            // The claim is on disk before the modem sees the SMS: whatever happens next (a
            // crash, a disk that fills), this row is never sent again by itself.
            match self.link.store.claim_outgoing(out.id).await {
                Ok(true) => self.store_commits(),
                Ok(false) => continue,
                Err(e) => {
                    // Nothing was sent: the row stays queued, and the next round's claim tries
                    // the store again.
                    self.store_cannot_commit(format!("cannot claim SMS {}: {e}", out.id));
                    return Ok(());
                }
            }
            self.send_one(owner, out).await?;
            if self.link.status.sending_stopped() {
                return Ok(());
            }
        }
        self.more_due |= full;
        Ok(())
    }

    /// A claim committed: sending goes on, and a stop for the store ends here (said once).
    fn store_commits(&mut self) {
        let was_stopped = self.link.status.sending_stopped();
        if was_stopped {
            tracing::warn!(modem = %self.name(), "the store commits again: sending resumed");
            self.link.status.update(|s| s.sending_stopped = None);
        }
    }

    /// The store could not commit what sending needs: no SMS goes out until it can (said once,
    /// not at every round).
    fn store_cannot_commit(&mut self, why: String) {
        let was_stopped = self.link.status.sending_stopped();
        if !was_stopped {
            tracing::error!(modem = %self.name(), error = %why, "the store cannot commit (disk full or read-only?): sending stopped, so no SMS is sent twice; it resumes by itself once the database can be written");
        }
        self.link.status.update(|s| {
            s.sending_stopped = Some(format!(
                "sending stopped: the database cannot be written ({why})"
            ))
        });
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
        for (i, part) in parts.into_iter().enumerate() {
            if let Err(end) = self.pause_taking_messages(self.link.cfg.send_gap).await {
                if i == 0 {
                    // The modem got nothing of it: the claim goes back, the SMS is due again.
                    if let Err(e) = self.link.store.release_claim(out.id).await {
                        tracing::error!(modem = %self.name(), id = out.id, error = %e, "cannot give back the claim of an SMS not sent; it stays unconfirmed");
                    }
                } else {
                    // Some parts went out: sending it all again would repeat them.
                    tracing::error!(modem = %self.name(), id = out.id, parts_sent = i, "the modem went away in the middle of a long SMS; it stays unconfirmed (`kufatilia-gateway unconfirmed`)");
                }
                return Err(end);
            }
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
                    // The row stays `sending`: never sent again without a technician's word.
                    tracing::error!(modem = %self.name(), id = out.id, error = %e, "sent, but the store could not record it; it stays unconfirmed (`kufatilia-gateway unconfirmed`)");
                    self.store_cannot_commit(format!("cannot record SMS {} as sent: {e}", out.id));
                }
                tracing::info!(modem = %self.name(), queue = owner, id = out.id, kind = %out.kind, reference = out.reference.as_deref().unwrap_or("-"), to = %pdu::mask_number(Some(&out.recipient)), "SMS out: sent");
                self.link.status.update(|s| {
                    s.sent += 1;
                    s.last_sent_at = Some(OffsetDateTime::now_utc());
                });
            }
            Some(e) if matches!(e, AtError::PayloadUnanswered { .. }) || !references.is_empty() => {
                // The modem may have sent it (it took the PDU and never answered), or some
                // parts went out: sending it again could charge the partner twice and give
                // the reporter a second copy. It stays `sending` until a technician decides.
                tracing::error!(modem = %self.name(), id = out.id, parts_sent = references.len(), error = %e, "the SMS may have gone out; it stays unconfirmed (`kufatilia-gateway unconfirmed`)");
                self.link.status.update(|s| s.send_failures += 1);
                if e.is_link_fault() {
                    return Err(e.into());
                }
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
            // Not sent, but the row stays `sending` until the store can say so: a technician
            // decides (`kufatilia-gateway unconfirmed`).
            tracing::error!(modem = %self.name(), id, error = %e, "cannot record the send failure; it stays unconfirmed");
            self.store_cannot_commit(format!("cannot record the failure of SMS {id}: {e}"));
        }
    }
}
