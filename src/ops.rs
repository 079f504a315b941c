//! The technician's commands that work on the database while the daemon runs: `status`,
//! `send` (a test SMS) and `export` (incidents for partners who work in spreadsheets).

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use time::format_description::well_known::Rfc3339;

use crate::forward::rfc3339_ms;
use config::Config;
use config::secrets;
use platform_api::sign;
use store::{
    IncidentSummary, NewOutgoing, OutgoingState, QuarantineEntry, QueueDepths, RefusalCounts,
    ReplyKind, SavedModemStatus, Settle, Store, StoreError, StoreReader,
};

/// Prints the box's state: modems, queues, quarantine, last reports.
pub fn status(config: &Config, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let reader = StoreReader::open(&config.database)?;
    let depths = reader.queue_depths()?;
    let modems = reader.modem_statuses()?;
    let quarantined = reader.quarantined_batches()?;
    let last = reader.last_incidents(5)?;
    let refusals = reader.refusals_last_day()?;
    if json {
        let value = serde_json::json!({
            "gateway_id": config.gateway_id,
            "queues": depths,
            "modems": modems,
            "quarantined_batches": quarantined,
            "replies_refused_last_24h": { "total": refusals.total, "by_kind": refusals.by_kind },
            "last_reports": last,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(out, "Kufatilia Gateway {}", config.gateway_id)?;
    write_modems(out, &modems, now_ms())?;
    write_queues(out, &depths, &refusals)?;
    write_quarantine(out, &quarantined)?;
    write_last_reports(out, &last)
}

/// One line per modem, as its link last saved it.
fn write_modems(out: &mut dyn Write, modems: &[SavedModemStatus], now: i64) -> anyhow::Result<()> {
    writeln!(out, "Modems:")?;
    if modems.is_empty() {
        writeln!(out, "  (no status saved yet: is the gateway running?)")?;
    }
    for m in modems {
        let s = &m.status;
        let field = |k: &str| match &s[k] {
            serde_json::Value::Null => "-".to_string(),
            serde_json::Value::String(v) => v.clone(),
            v => v.to_string(),
        };
        writeln!(
            out,
            "  {:<10} {:<12} signal {} dBm ({}), operator {}, SIM {}/{}, balance {}, last message {}{}",
            m.name,
            field("state"),
            field("signal_dbm"),
            field("signal"),
            field("operator"),
            field("sim_used"),
            field("sim_total"),
            field("balance"),
            field("last_message_at"),
            age_note(now - m.saved_at_ms),
        )?;
        if let serde_json::Value::String(detail) = &s["detail"] {
            writeln!(out, "             {detail}")?;
        }
        if let serde_json::Value::String(stopped) = &s["sending_stopped"] {
            writeln!(out, "             {stopped}")?;
        }
    }
    Ok(())
}

/// What waits in the store, and the replies refused.
fn write_queues(
    out: &mut dyn Write,
    depths: &QueueDepths,
    refusals: &RefusalCounts,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "Queues: {} PDU(s) to decode, {} part(s) waiting, {} report(s) waiting for the platform{}, {} SMS queued, {} SMS failed, {} SMS unconfirmed",
        depths.undecoded,
        depths.waiting_parts,
        depths.undelivered_incidents,
        depths
            .oldest_undelivered_secs
            .map(|s| format!(" (oldest {} min)", s / 60))
            .unwrap_or_default(),
        depths.queued_sms,
        depths.failed_sms,
        depths.unconfirmed_sms
    )?;
    if depths.unconfirmed_sms > 0 {
        writeln!(
            out,
            "  {} SMS went to a modem but their outcome was never recorded: they are not sent again until you decide (`kufatilia-gateway unconfirmed`)",
            depths.unconfirmed_sms
        )?;
    }
    let kinds: Vec<String> = refusals
        .by_kind
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    writeln!(
        out,
        "Replies refused in the last 24 h: {}{}",
        refusals.total,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        }
    )?;
    Ok(())
}

fn write_quarantine(out: &mut dyn Write, quarantined: &[QuarantineEntry]) -> anyhow::Result<()> {
    if quarantined.is_empty() {
        writeln!(out, "Quarantined batches: none")?;
        return Ok(());
    }
    writeln!(
        out,
        "Quarantined batches (the platform refused them; see its error):"
    )?;
    for q in quarantined {
        writeln!(
            out,
            "  {} ({} incidents, {} attempts): {}",
            q.id,
            q.incidents,
            q.attempts,
            q.error.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

fn write_last_reports(out: &mut dyn Write, last: &[IncidentSummary]) -> anyhow::Result<()> {
    writeln!(out, "Last reports:")?;
    if last.is_empty() {
        writeln!(out, "  none yet")?;
    }
    for i in last {
        writeln!(
            out,
            "  {:<10} {:<14} {}  {}",
            i.reference,
            i.incident_type,
            rfc3339_ms(i.received_at_ms),
            if i.delivered {
                "delivered"
            } else {
                "waiting for the platform"
            }
        )?;
    }
    Ok(())
}

fn age_note(ms: i64) -> String {
    if ms > 60_000 {
        format!(" (saved {} min ago: is the gateway running?)", ms / 60_000)
    } else {
        String::new()
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A problem with what the technician typed (exit 64), as opposed to the box's state.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

/// Queues a test SMS; with `wait`, waits until the running gateway sent it (or it failed).
pub async fn send(
    config: &Config,
    modem: &str,
    number: &str,
    text: &str,
    wait: Option<Duration>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if !config.modems.iter().any(|m| m.name == modem) {
        let names: Vec<&str> = config.modems.iter().map(|m| m.name.as_str()).collect();
        return Err(UsageError(format!(
            "no modem named {modem:?} in the config (modems: {})",
            names.join(", ")
        ))
        .into());
    }
    let digits = number.trim_start_matches('+');
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 20 {
        return Err(UsageError(format!(
            "{number:?} is not a phone number (digits, optionally with a leading +)"
        ))
        .into());
    }
    if text.trim().is_empty() {
        return Err(UsageError("the text is empty".into()).into());
    }
    let store = Store::open(&config.database)?;
    let id = store
        .queue_outgoing(NewOutgoing {
            modem: modem.to_string(),
            recipient: number.to_string(),
            text: text.to_string(),
            kind: ReplyKind::Test,
        })
        .await?;
    writeln!(
        out,
        "queued as SMS #{id} on modem {modem}; the running gateway sends it within seconds"
    )?;
    let Some(wait) = wait else {
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (state, error) = store.outgoing_state(id).await?;
        match state {
            OutgoingState::Sent => {
                writeln!(out, "sent")?;
                return Ok(());
            }
            OutgoingState::Failed => anyhow::bail!(
                "sending failed: {}",
                error.unwrap_or_else(|| "no reason given".into())
            ),
            _ if tokio::time::Instant::now() >= deadline => anyhow::bail!(
                "not sent after {} s (is the gateway running? last error: {})",
                wait.as_secs(),
                error.unwrap_or_else(|| "none".into())
            ),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Lists the SMS left `sending` (handed to a modem, outcome never recorded), or records the
/// technician's decision on one.
pub async fn unconfirmed(
    config: &Config,
    decision: Option<(i64, Settle)>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let Some((id, decision)) = decision else {
        let rows = StoreReader::open(&config.database)?.unconfirmed_outgoing()?;
        if rows.is_empty() {
            writeln!(out, "No unconfirmed SMS.")?;
            return Ok(());
        }
        writeln!(
            out,
            "{} SMS handed to a modem without a recorded outcome (the reporter may or may not have them):",
            rows.len()
        )?;
        for r in &rows {
            writeln!(
                out,
                "  #{} {} to {} on {} ({}), since {}",
                r.id,
                r.kind,
                pdu::mask_number(Some(&r.recipient)),
                r.modem,
                r.reference.as_deref().unwrap_or("no reference"),
                r.claimed_at_ms
                    .map(rfc3339_ms)
                    .unwrap_or_else(|| "-".into()),
            )?;
        }
        writeln!(
            out,
            "Decide each: --resend ID (may reach the reporter twice), --sent ID or --failed ID."
        )?;
        return Ok(());
    };
    let store = Store::open(&config.database)?;
    match store.settle_unconfirmed(id, decision).await {
        Ok(()) => {}
        Err(StoreError::Invalid(why)) => return Err(UsageError(why).into()),
        Err(e) => return Err(e.into()),
    }
    let done = match decision {
        Settle::Resend => "queued again; the running gateway sends it within seconds",
        Settle::Sent => "recorded as sent",
        Settle::Failed => "recorded as failed; it is not sent again",
    };
    writeln!(out, "SMS #{id} {done}")?;
    Ok(())
}

/// Output format of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

/// Parses `--since`: a date (`2026-11-01`, midnight UTC) or an RFC 3339 time.
pub fn parse_since(text: &str) -> Result<time::OffsetDateTime, UsageError> {
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            UsageError(format!(
                "--since {text:?}: give a date like 2026-11-01 or a time like 2026-11-01T08:00:00+02:00"
            ))
        })
}

/// One exported row: what a partner organisation may see (reporters as pseudonyms unless the
/// config shares numbers).
#[derive(Debug, serde::Serialize)]
struct ExportRow<'a> {
    reference: &'a str,
    incident_type: &'a str,
    language: &'a str,
    received_at: String,
    description: &'a str,
    location: &'a str,
    reporter: String,
    delivered_to_platform: bool,
}

/// Writes incidents received since `since` as CSV or JSON.
pub fn export(
    config: &Config,
    since: time::OffsetDateTime,
    format: ExportFormat,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let reader = StoreReader::open(&config.database)?;
    let since_ms = (since.unix_timestamp_nanos() / 1_000_000) as i64;
    let rows = reader.incidents_since(since_ms, usize::MAX >> 1)?;
    let key = if config.privacy.share_phone_numbers {
        None
    } else {
        let path = config
            .privacy
            .pseudonym_secret_file
            .clone()
            .unwrap_or_else(|| config.database.with_file_name("pseudonym.key"));
        Some(
            secrets::read_secret(&path)
                .with_context(|| "cannot read the pseudonym key to name reporters")?,
        )
    };
    let reporter = |i: &IncidentSummary| match (&key, i.sender.as_deref()) {
        (_, None) => String::new(),
        (None, Some(n)) => n.to_string(),
        (Some(_), Some(n)) if n.chars().any(char::is_alphabetic) => n.to_string(),
        (Some(k), Some(n)) => sign::pseudonym(k, n),
    };
    let export_rows: Vec<ExportRow> = rows
        .iter()
        .map(|i| ExportRow {
            reference: &i.reference,
            incident_type: &i.incident_type,
            language: i.language.as_deref().unwrap_or(""),
            received_at: rfc3339_ms(i.received_at_ms),
            description: &i.description,
            location: i.location.as_deref().unwrap_or(""),
            reporter: reporter(i),
            delivered_to_platform: i.delivered,
        })
        .collect();
    match format {
        ExportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &export_rows)?;
            writeln!(out)?;
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            for row in &export_rows {
                w.serialize(row)?;
            }
            w.flush()?;
        }
    }
    Ok(export_rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_or_a_time() {
        assert_eq!(
            parse_since("2026-11-01").unwrap().unix_timestamp(),
            1_793_491_200
        );
        assert!(parse_since("2026-11-01T08:00:00+02:00").is_ok());
        assert!(parse_since("yesterday").is_err());
    }
}
