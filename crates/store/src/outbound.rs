//! Messages pulled from the platform for reporters: each platform id is queued as an SMS at most
//! once, however often the platform offers it again, and its state (accepted, sent, failed,
//! undeliverable) is kept until the platform has acknowledged it.

use crate::CachedSql;
use rusqlite::{Connection, OptionalExtension, params};

use super::guard::{OutboundGuard, ReplyVerdict, apply_outbound};
use super::kinds::{OutboundState, RecipientKind, ReplyKind};
use super::outgoing::NewOutgoing;
use super::reporters::resolve_name;
use super::{Store, StoreError, now_ms};

/// What became of a pulled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundOutcome {
    /// Queued as SMS `outgoing_id` on `modem`.
    Accepted { outgoing_id: i64, modem: String },
    /// Nobody to send it to (unknown pseudonym or incident, or the number was purged).
    Undeliverable(String),
    /// The reply guard refused it (a short code, a limit...): the reason, as the platform is
    /// told it.
    Refused(String),
    /// Seen before: nothing new was queued; its state will be reported again.
    AlreadyKnown,
}

/// A state the platform has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreportedOutbound {
    pub id: String,
    pub state: OutboundState,
    pub detail: Option<String>,
    pub updated_at_ms: i64,
}

impl Store {
    /// Takes a pulled message of `parts` SMS parts: queues its SMS (kind `platform`) in the same
    /// transaction that records its id if `guard` allows it, or records it as undeliverable
    /// (with the guard's reason when it refused). An incident is named by its platform id
    /// (`<gateway>-<n>`) or its reference.
    #[allow(clippy::too_many_arguments)]
    pub async fn accept_outbound(
        &self,
        id: &str,
        kind: RecipientKind,
        recipient: &str,
        text: &str,
        parts: u32,
        gateway_id: &str,
        guard: &OutboundGuard,
    ) -> Result<OutboundOutcome, StoreError> {
        let pulled = Pulled {
            id: id.to_string(),
            kind,
            recipient: recipient.to_string(),
            text: text.to_string(),
            parts,
            gateway_id: gateway_id.to_string(),
        };
        let guard = guard.clone();
        let signals = self.signals.clone();
        let outcome = self.call(move |conn| accept(conn, &pulled, &guard)).await?;
        if matches!(outcome, OutboundOutcome::Accepted { .. }) {
            signals.outgoing.notify_waiters();
            signals.outgoing.notify_one();
        }
        Ok(outcome)
    }

    /// Moves accepted messages whose SMS was sent or given up to `sent` / `failed`, then lists
    /// up to `limit` states the platform has not acknowledged.
    pub async fn unreported_outbound(
        &self,
        limit: usize,
    ) -> Result<Vec<UnreportedOutbound>, StoreError> {
        self.call(move |conn| {
            conn.exec(
                "UPDATE outbound SET
                    state = (SELECT o.state FROM outgoing o WHERE o.id = outbound.outgoing_id),
                    detail = (SELECT o.last_error FROM outgoing o WHERE o.id = outbound.outgoing_id),
                    updated_at_ms = ?1
                 WHERE state = 'accepted' AND outgoing_id IN
                    (SELECT id FROM outgoing WHERE state IN ('sent', 'failed'))",
                [now_ms()],
            )?;
            let mut stmt = conn.prepare_cached(
                "SELECT id, state, detail, updated_at_ms FROM outbound
                 WHERE reported_state IS NULL OR reported_state != state
                 ORDER BY updated_at_ms, id LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit as i64], |r| {
                    Ok(UnreportedOutbound {
                        id: r.get(0)?,
                        state: r.get(1)?,
                        detail: r.get(2)?,
                        updated_at_ms: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// The platform acknowledged these states.
    pub async fn mark_outbound_reported(
        &self,
        reported: Vec<(String, OutboundState)>,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "UPDATE outbound SET reported_state = ?2 WHERE id = ?1 AND state = ?2",
            )?;
            for (id, state) in &reported {
                stmt.execute(params![id, state])?;
            }
            Ok(())
        })
        .await
    }
}

/// A platform message for a reporter, as pulled, on its way to the store thread.
struct Pulled {
    id: String,
    kind: RecipientKind,
    recipient: String,
    text: String,
    parts: u32,
    gateway_id: String,
}

fn accept(
    conn: &Connection,
    pulled: &Pulled,
    guard: &OutboundGuard,
) -> Result<OutboundOutcome, StoreError> {
    let Pulled {
        id,
        kind,
        recipient,
        text,
        parts,
        gateway_id,
    } = pulled;
    let kind = *kind;
    let now = now_ms();
    let known = conn
        .row("SELECT 1 FROM outbound WHERE id = ?1", [id], |_| Ok(()))
        .optional()?;
    if known.is_some() {
        // Offered again: our status report may have been lost, so send it once more.
        conn.exec(
            "UPDATE outbound SET reported_state = NULL WHERE id = ?1",
            [id],
        )?;
        return Ok(OutboundOutcome::AlreadyKnown);
    }
    let target = match kind {
        RecipientKind::Reporter => resolve_name(conn, recipient)?,
        RecipientKind::Incident => resolve_incident(conn, recipient, gateway_id)?,
    };
    let (outgoing_id, state, detail, outcome) = match target {
        Some((number, modem)) if !number.is_empty() => {
            let out = NewOutgoing {
                modem: modem.clone(),
                recipient: number,
                text: text.clone(),
                kind: ReplyKind::Platform,
            };
            match apply_outbound(conn, &out, *parts, guard, now)? {
                ReplyVerdict::Queued(outgoing_id) => (
                    Some(outgoing_id),
                    OutboundState::Accepted,
                    None,
                    OutboundOutcome::Accepted { outgoing_id, modem },
                ),
                ReplyVerdict::Refused { kind, reason } => {
                    // The platform is told why, without the number: it knows whom it addressed.
                    let why = format!("refused ({kind}): {reason}");
                    (
                        None,
                        OutboundState::Undeliverable,
                        Some(why.clone()),
                        OutboundOutcome::Refused(why),
                    )
                }
            }
        }
        _ => {
            let why = format!("no reporter known for {kind} {recipient:?} on this gateway");
            (
                None,
                OutboundState::Undeliverable,
                Some(why.clone()),
                OutboundOutcome::Undeliverable(why),
            )
        }
    };
    conn.exec(
        "INSERT INTO outbound (id, recipient_kind, recipient, outgoing_id, state, detail,
                               received_at_ms, updated_at_ms, parts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        params![id, kind, recipient, outgoing_id, state, detail, now, parts],
    )?;
    Ok(outcome)
}

/// The reporter of an incident: its number and the modem of that reporter's latest report.
fn resolve_incident(
    conn: &Connection,
    incident: &str,
    gateway_id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let local_id = incident
        .strip_prefix(gateway_id)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse::<i64>().ok());
    let found: Option<(Option<String>, String)> = conn
        .row(
            "SELECT m.sender, m.modem FROM incidents i JOIN messages m ON m.id = i.message_id
             WHERE i.id = ?1 OR i.reference = ?2",
            params![local_id, incident],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((Some(number), modem)) = found else {
        return Ok(None);
    };
    let latest: Option<String> = conn
        .row(
            "SELECT modem FROM reporters WHERE number = ?1 ORDER BY last_seen_ms DESC LIMIT 1",
            [&number],
            |r| r.get(0),
        )
        .optional()?;
    Ok(Some((number, latest.unwrap_or(modem))))
}
