//! Survey sessions: one row per reporter in the middle of a Kufatilia survey, and the
//! transaction that applies the daemon's decision about one message — the session, the
//! incident, the message marked handled and the reply through the guard (or its refusal) — all
//! or nothing. What a session's state means is the daemon's business (`dialogue`); here it is a
//! row.

use crate::CachedSql;
use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use serde::{Deserialize, Serialize};

use super::guard::{ReplyGuard, ReplyPlan, ReplyVerdict, apply_reply};
use super::incidents::{IncidentDraft, insert_incident};
use super::kinds::RefusalKind;
use super::received::{DecodedPart, DecodedRow, MessageRow, decode_rows};
use super::{Signals, Store, StoreError, in_savepoint, now_ms};

/// Where one reporter's survey stands; kept as JSON in `sessions.state` between messages. The
/// store keeps it; `dialogue` (in the daemon) decides what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// Index of the step whose answer is awaited.
    pub step: usize,
    /// Bad answers already given to this step.
    pub retries: u32,
    /// The reporter's language (the default until they choose).
    pub language: String,
    /// Answers by step id: a language code, a type id, or the reporter's text.
    pub answers: BTreeMap<String, String>,
}

impl SessionState {
    /// The answer of the step with this id.
    pub fn answer(&self, id: &str) -> Option<&str> {
        self.answers.get(id).map(String::as_str)
    }
}

/// What one message does, decided by the caller from the sender's session (if any).
#[derive(Debug, Clone)]
pub enum TurnWrite {
    /// A report in one message: an incident.
    Incident(IncidentDraft),
    /// Help or info: the message is handled; nothing to forward.
    Handled,
    /// A survey starts or goes on; `partial` is what is forwarded if it is never finished.
    Continue {
        state: SessionState,
        partial: IncidentDraft,
        answers: BTreeMap<String, String>,
    },
    /// The survey is complete: its incident, with the answers; the session ends.
    Finish {
        draft: IncidentDraft,
        answers: BTreeMap<String, String>,
    },
}

/// The decision for one message.
#[derive(Debug, Clone)]
pub struct TurnPlan {
    pub write: TurnWrite,
    pub reply: ReplyPlan,
}

/// Limits a turn is applied under.
#[derive(Debug, Clone, Copy)]
pub struct TurnSettings {
    pub guard: ReplyGuard,
    /// A sender with more messages than this in the last hour gets no reply, and the incident
    /// is flagged (`intake.max_reports_per_sender_per_hour`).
    pub max_reports_per_sender_per_hour: u32,
    /// A session not answered for this long is closed as a partial report.
    pub session_timeout_ms: i64,
}

/// What a turn did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnResult {
    /// False when the message had been handled already (nothing was done again).
    pub applied: bool,
    pub incident_id: Option<i64>,
    pub verdict: Option<ReplyVerdict>,
    /// Reference of the sender's stale survey closed as a partial report first, if any.
    pub closed_partial: Option<String>,
}

impl Signals {
    /// Wakes the stages a turn gave work: the forwarder for an incident, the links for a reply.
    fn after_turn(&self, result: &TurnResult) {
        if result.incident_id.is_some() || result.closed_partial.is_some() {
            self.incidents.notify_one();
        }
        if matches!(result.verdict, Some(ReplyVerdict::Queued(_))) {
            self.outgoing.notify_waiters();
            self.outgoing.notify_one();
        }
    }

    /// `after_turn` for each turn applied.
    fn after_turns<T>(&self, turns: &[UnhandledTurn<T>]) {
        for t in turns {
            if let Ok(result) = &t.result {
                self.after_turn(result);
            }
        }
    }
}

/// The turns of [`Store::decode_and_turn`], inside the caller's transaction.
fn turn_rows<F, T>(
    conn: &Connection,
    limit: usize,
    settings: TurnSettings,
    decide: &mut F,
) -> Result<Vec<UnhandledTurn<T>>, StoreError>
where
    F: FnMut(&MessageRow, Option<SessionState>) -> (TurnPlan, T),
{
    let messages = super::received::unhandled_messages(conn, limit)?;
    let mut turns = Vec::with_capacity(messages.len());
    for message in messages {
        let mut decided = None;
        let result = in_savepoint(conn, || {
            turn(
                conn,
                message.id,
                &message.modem,
                message.sender.clone(),
                settings,
                |session| {
                    let (plan, note) = decide(&message, session);
                    decided = Some(note);
                    plan
                },
            )
        })?;
        turns.push(UnhandledTurn {
            message,
            result,
            decided,
        });
    }
    Ok(turns)
}

/// One message of [`Store::decode_and_turn`].
#[derive(Debug)]
pub struct UnhandledTurn<T> {
    pub message: MessageRow,
    /// The turn applied, or why it was not (the message stays unhandled).
    pub result: Result<TurnResult, StoreError>,
    /// What `decide` returned beside the plan (`None` when the turn ended before asking).
    pub decided: Option<T>,
}

impl Store {
    /// Applies one message of a conversation. `decide` gets the sender's live session, if any,
    /// and runs inside the store transaction, so two messages of one sender never race.
    pub async fn conversation_turn<F>(
        &self,
        message_id: i64,
        modem: String,
        sender: Option<String>,
        settings: TurnSettings,
        decide: F,
    ) -> Result<TurnResult, StoreError>
    where
        F: FnOnce(Option<SessionState>) -> TurnPlan + Send + 'static,
    {
        let signals = self.signals.clone();
        let result = self
            .call_lazy(move |conn| turn(conn, message_id, &modem, sender, settings, decide))
            .await?;
        signals.after_turn(&result);
        Ok(result)
    }

    /// [`Store::decode_pending`], then the conversation turn of every whole message not yet
    /// handled (oldest first, at most `limit`), all in one job: what
    /// [`Store::unhandled_messages`] and a [`Store::conversation_turn`] per message do, without a
    /// store round trip per message, and with a report's PDU decoded and its turn taken
    /// (incident, reply queued) in one transaction, so the message's rows go to the WAL once
    /// (docs/benchmarks.md, "Where the CPU goes"). `decide` gets each message and its sender's
    /// live session, and returns the plan and what the caller wants back about it. Each PDU and
    /// each turn is applied in its own savepoint: one that fails leaves its row as it was and
    /// the others applied.
    pub async fn decode_and_turn<F, T>(
        &self,
        limit: usize,
        decode: fn(&str) -> DecodedPart,
        settings: TurnSettings,
        mut decide: F,
    ) -> Result<(Vec<DecodedRow>, Vec<UnhandledTurn<T>>), StoreError>
    where
        F: FnMut(&MessageRow, Option<SessionState>) -> (TurnPlan, T) + Send + 'static,
        T: Send + 'static,
    {
        let signals = self.signals.clone();
        let (decoded, turns) = self
            .call_lazy(move |conn| {
                let decoded = decode_rows(conn, limit, decode)?;
                let turns = turn_rows(conn, limit, settings, &mut decide)?;
                Ok((decoded, turns))
            })
            .await?;
        signals.after_turns(&turns);
        Ok((decoded, turns))
    }

    /// Closes every survey unanswered for `timeout_ms` as a partial report; returns their
    /// references.
    pub async fn expire_sessions(&self, timeout_ms: i64) -> Result<Vec<String>, StoreError> {
        let signals = self.signals.clone();
        let refs = self
            .call(move |conn| {
                let cutoff = now_ms().saturating_sub(timeout_ms);
                let senders: Vec<String> = conn
                    .prepare_cached("SELECT sender FROM sessions WHERE updated_at_ms < ?1")?
                    .query_map([cutoff], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut refs = Vec::new();
                for s in senders {
                    refs.extend(close_partial(conn, &s)?);
                }
                Ok(refs)
            })
            .await?;
        if !refs.is_empty() {
            signals.incidents.notify_one();
        }
        Ok(refs)
    }

    /// Surveys in progress.
    pub async fn open_sessions(&self) -> Result<u64, StoreError> {
        self.call(|conn| {
            let n: i64 = conn.row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }
}

fn turn<F>(
    conn: &Connection,
    message_id: i64,
    modem: &str,
    sender: Option<String>,
    settings: TurnSettings,
    decide: F,
) -> Result<TurnResult, StoreError>
where
    F: FnOnce(Option<SessionState>) -> TurnPlan,
{
    let Some(text) = unhandled_text(conn, message_id)? else {
        return Ok(TurnResult::default());
    };
    let now = now_ms();
    let (session, closed_partial) = match &sender {
        Some(sender) => live_session(conn, sender, settings.session_timeout_ms, now)?,
        None => (None, None),
    };
    let plan = decide(session);
    let flood = match &sender {
        Some(sender) => flood(
            conn,
            sender,
            message_id,
            settings.max_reports_per_sender_per_hour,
            now,
        )?,
        None => None,
    };
    let incident_id = write_turn(conn, message_id, modem, sender.as_deref(), plan.write, now)?;
    let is_flood = flood.is_some();
    let reply = match (flood, plan.reply) {
        (Some(reason), ReplyPlan::Send(out)) => ReplyPlan::Refused {
            recipient: out.recipient,
            kind: RefusalKind::Flood,
            reason,
        },
        (_, reply) => reply,
    };
    if let (true, Some(id)) = (is_flood, incident_id) {
        conn.prepare_cached("UPDATE incidents SET flood = 1 WHERE id = ?1")?
            .execute([id])?;
    }
    let verdict = apply_reply(conn, reply, incident_id, &text, &settings.guard, now)?;
    Ok(TurnResult {
        applied: true,
        incident_id,
        verdict,
        closed_partial,
    })
}

/// Why `sender` is over the intake quota (more than `limit` messages in the last hour up to
/// message `message_id`, that one included), if so. Messages that came after it do not count:
/// a burst is handled in one go, and its first messages are still answered.
fn flood(
    conn: &Connection,
    sender: &str,
    message_id: i64,
    limit: u32,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages
             WHERE sender = ?1 AND id <= ?2 AND received_at_ms > ?3",
        )?
        .query_row(params![sender, message_id, now - HOUR_MS], |r| r.get(0))?;
    Ok((n > i64::from(limit)).then(|| {
        format!(
            "{n} messages from this number in the last hour (limit \
             intake.max_reports_per_sender_per_hour = {limit}): report kept and flagged, no reply"
        )
    }))
}

const HOUR_MS: i64 = 3_600_000;

/// The text of message `message_id`, unless it was handled already.
fn unhandled_text(conn: &Connection, message_id: i64) -> Result<Option<String>, StoreError> {
    let message: Option<(bool, String)> = conn
        .prepare_cached("SELECT handled, text FROM messages WHERE id = ?1")?
        .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match message {
        Some((false, text)) => Some(text),
        _ => None,
    })
}

/// The sender's session if it is still live; a stale (or unreadable) one is closed as a partial
/// report first, and its reference returned beside.
fn live_session(
    conn: &Connection,
    sender: &str,
    timeout_ms: i64,
    now: i64,
) -> Result<(Option<SessionState>, Option<String>), StoreError> {
    let row: Option<(String, i64)> = conn
        .prepare_cached("SELECT state, updated_at_ms FROM sessions WHERE sender = ?1")?
        .query_row([sender], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((state, updated)) = row else {
        return Ok((None, None));
    };
    let stale = now.saturating_sub(updated) >= timeout_ms;
    match serde_json::from_str::<SessionState>(&state) {
        Ok(state) if !stale => Ok((Some(state), None)),
        Ok(_) => Ok((None, close_partial(conn, sender)?)),
        Err(e) => {
            // Not ours (an older format): forward what it holds rather than guess.
            tracing::warn!(error = %e, "unreadable survey session closed as a partial report");
            Ok((None, close_partial(conn, sender)?))
        }
    }
}

/// Writes what the message does; returns the incident it records, if any.
fn write_turn(
    conn: &Connection,
    message_id: i64,
    modem: &str,
    sender: Option<&str>,
    write: TurnWrite,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    match write {
        TurnWrite::Incident(draft) => Ok(Some(insert_incident(conn, &draft, None, now)?)),
        TurnWrite::Handled => {
            mark_handled(conn, message_id)?;
            Ok(None)
        }
        TurnWrite::Continue {
            state,
            partial,
            answers,
        } => {
            let Some(sender) = sender else {
                return Err(StoreError::Invalid(
                    "a survey needs the sender's number".into(),
                ));
            };
            save_session(conn, sender, modem, &state, &partial, &answers, now)?;
            mark_handled(conn, message_id)?;
            Ok(None)
        }
        TurnWrite::Finish { draft, answers } => {
            let answers = to_json(&answers)?;
            let incident_id = insert_incident(conn, &draft, Some(&answers), now)?;
            if let Some(sender) = sender {
                conn.exec("DELETE FROM sessions WHERE sender = ?1", [sender])?;
            }
            Ok(Some(incident_id))
        }
    }
}

fn mark_handled(conn: &Connection, message_id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE messages SET handled = 1 WHERE id = ?1")?
        .execute([message_id])?;
    Ok(())
}

/// Starts or moves on the sender's session, with the partial report it would leave.
fn save_session(
    conn: &Connection,
    sender: &str,
    modem: &str,
    state: &SessionState,
    partial: &IncidentDraft,
    answers: &BTreeMap<String, String>,
    now: i64,
) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO sessions (sender, modem, state, last_message_id, reference,
                               incident_type, language, description, location, answers,
                               started_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT (sender) DO UPDATE SET modem = excluded.modem,
            state = excluded.state, last_message_id = excluded.last_message_id,
            reference = excluded.reference, incident_type = excluded.incident_type,
            language = excluded.language, description = excluded.description,
            location = excluded.location, answers = excluded.answers,
            updated_at_ms = excluded.updated_at_ms",
        params![
            sender,
            modem,
            to_json(state)?,
            partial.message_id,
            partial.reference,
            partial.incident_type,
            partial.language,
            partial.description,
            partial.location,
            to_json(answers)?,
            now
        ],
    )?;
    Ok(())
}

/// Turns the sender's session into a partial report and ends it.
fn close_partial(conn: &Connection, sender: &str) -> Result<Option<String>, StoreError> {
    let row = conn
        .row(
            "SELECT last_message_id, reference, incident_type, language, description, location,
                    answers
             FROM sessions WHERE sender = ?1",
            [sender],
            |r| {
                Ok((
                    IncidentDraft {
                        message_id: r.get(0)?,
                        reference: r.get(1)?,
                        incident_type: r.get(2)?,
                        language: r.get(3)?,
                        description: r.get(4)?,
                        location: r.get(5)?,
                    },
                    r.get::<_, String>(6)?,
                ))
            },
        )
        .optional()?;
    conn.exec("DELETE FROM sessions WHERE sender = ?1", [sender])?;
    let Some((draft, answers)) = row else {
        return Ok(None);
    };
    let exists: Option<i64> = conn
        .row(
            "SELECT id FROM incidents WHERE message_id = ?1",
            [draft.message_id],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Ok(None);
    }
    insert_incident(conn, &draft, Some(&answers), now_ms())?;
    Ok(Some(draft.reference))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("cannot encode survey state: {e}")))
}
