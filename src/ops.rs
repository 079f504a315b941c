//! The technician's commands that work on the database while the daemon runs: `status`,
//! `send` (a test SMS) and `export` (incidents for partners who work in spreadsheets).
//!
//! What a reporter wrote and their number leave the box only when asked for (`--show-numbers`,
//! `--show-texts`). Everything a reporter, an operator or the platform sent is attacker-controlled:
//! on a terminal its control characters are escaped, in CSV a formula start is defused.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use time::format_description::well_known::Rfc3339;

use crate::forward::rfc3339_ms;
use crate::platform::Diagnosis;
use config::Config;
use config::secrets;
use platform_api::sign;
use store::{
    ForwardingPause, IncidentSummary, NewOutgoing, OutgoingState, QuarantineEntry, QueueDepths,
    RefusalCounts, ReplyKind, SavedModemStatus, Settle, Store, StoreError, StoreReader,
};

/// What `status` and `export` reveal beyond pseudonyms and counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reveal {
    /// Reporters' phone numbers (masked to the last three digits otherwise).
    pub numbers: bool,
    /// What reporters wrote, the places they named, the replies (left out otherwise).
    pub texts: bool,
}

impl Reveal {
    /// The warning to print on stderr when something is revealed.
    pub fn warning(&self) -> Option<String> {
        let what = match (self.numbers, self.texts) {
            (false, false) => return None,
            (true, false) => "reporters' phone numbers",
            (false, true) => "what reporters wrote (texts, places, replies)",
            (true, true) => "reporters' phone numbers and what they wrote",
        };
        Some(format!(
            "this output shows {what}: it can put reporters at risk; do not share, paste or keep it"
        ))
    }

    fn number(&self, n: Option<&str>) -> Option<String> {
        n.map(|n| {
            if self.numbers {
                n.to_string()
            } else {
                pdu::mask_number(Some(n))
            }
        })
    }

    fn text<'a>(&self, t: Option<&'a str>) -> Option<&'a str> {
        t.filter(|_| self.texts)
    }
}

/// A report as `status --json` shows it: no number nor text unless revealed.
#[derive(Debug, serde::Serialize)]
struct ReportView<'a> {
    reference: &'a str,
    incident_type: &'a str,
    language: Option<&'a str>,
    sender: Option<String>,
    sender_kind: Option<pdu::AddressKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
    received_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_text: Option<&'a str>,
    reply_state: Option<OutgoingState>,
    batch_id: Option<&'a str>,
    delivered: bool,
}

impl<'a> ReportView<'a> {
    fn new(i: &'a IncidentSummary, reveal: Reveal) -> ReportView<'a> {
        ReportView {
            reference: &i.reference,
            incident_type: &i.incident_type,
            language: i.language.as_deref(),
            sender: reveal.number(i.sender.as_deref()),
            sender_kind: i.sender_kind,
            text: reveal.text(Some(&i.text)),
            description: reveal.text(Some(&i.description)),
            location: reveal.text(i.location.as_deref()),
            received_at_ms: i.received_at_ms,
            reply_text: reveal.text(i.reply_text.as_deref()),
            reply_state: i.reply_state,
            batch_id: i.batch_id.as_deref(),
            delivered: i.delivered,
        }
    }
}

/// `text` safe to print on a terminal: control characters (C0, DEL, C1, so also every escape
/// sequence's ESC or CSI) are shown as `\u{1b}`, never passed on. A reporter's SMS could otherwise
/// rewrite the screen, the window title or the clipboard of whoever runs `status`.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON as serde writes it, with the C1 control characters it leaves raw (U+0080 to U+009F, which
/// some terminals take as escape sequences) written as `\u00XX` escapes: the same JSON value.
fn json_for_terminal(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() && !c.is_ascii() {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` safe in a spreadsheet cell: control characters but the line break escaped, and a cell
/// that would start a formula (`= + - @`, tab or carriage return first) prefixed with `'`
/// (OWASP, CSV injection).
pub fn spreadsheet_safe(text: &str) -> String {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let mut out = String::with_capacity(text.len() + 1);
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints the box's state: modems, queues, quarantine, last reports.
pub fn status(
    config: &Config,
    json: bool,
    reveal: Reveal,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let reader = StoreReader::open(&config.database)?;
    let depths = reader.queue_depths()?;
    let modems = reader.modem_statuses()?;
    let quarantined = reader.quarantined_batches()?;
    let paused = reader.forwarding_pause()?;
    let last = reader.last_incidents(5)?;
    let refusals = reader.refusals_last_day()?;
    if json {
        let value = serde_json::json!({
            "gateway_id": config.gateway_id,
            "queues": depths,
            "modems": modems,
            "quarantined_batches": quarantined,
            "forwarding_paused": paused.as_ref().map(|p| {
                let d = Diagnosis::of_refusal(p.status, &p.error);
                serde_json::json!({
                    "batch_id": p.batch_id,
                    "status": p.status,
                    "error": p.error,
                    "attempts": p.attempts,
                    "problem": d.problem(),
                    "fix": d.fix(),
                })
            }),
            "replies_refused_last_24h": { "total": refusals.total, "by_kind": refusals.by_kind },
            "intake": {
                "messages_last_hour": depths.messages_last_hour,
                "alarm_above": config.intake.alarm_reports_per_hour,
                "alarm": intake_alarm(&depths, config.intake.alarm_reports_per_hour),
            },
            "last_reports": last.iter().map(|i| ReportView::new(i, reveal)).collect::<Vec<_>>(),
        });
        writeln!(
            out,
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&value)?)
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "Kufatilia Gateway {}",
        terminal_safe(&config.gateway_id)
    )?;
    write_modems(out, &modems, now_ms())?;
    write_queues(out, &depths, &refusals)?;
    write_intake(out, &depths, config.intake.alarm_reports_per_hour)?;
    write_forwarding(out, paused.as_ref())?;
    write_quarantine(out, &quarantined)?;
    write_last_reports(out, &last, reveal)
}

/// One line per modem, as its link last saved it.
fn write_modems(out: &mut dyn Write, modems: &[SavedModemStatus], now: i64) -> anyhow::Result<()> {
    writeln!(out, "Modems:")?;
    if modems.is_empty() {
        writeln!(out, "  (no status saved yet: is the gateway running?)")?;
    }
    for m in modems {
        let s = &m.status;
        // The operator name and the balance come from the network: escaped like a reporter's text.
        let field = |k: &str| match &s[k] {
            serde_json::Value::Null => "-".to_string(),
            serde_json::Value::String(v) => terminal_safe(v),
            v => terminal_safe(&v.to_string()),
        };
        writeln!(
            out,
            "  {:<10} {:<12} signal {} dBm ({}), operator {}, SIM {}/{}, balance {}, last message {}{}",
            terminal_safe(&m.name),
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
            writeln!(out, "             {}", terminal_safe(detail))?;
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
    if depths.escalations_pending > 0 {
        writeln!(
            out,
            "Escalations: {} urgent report(s) texted to focal points while the platform was out of reach, not taken (ACK) yet",
            depths.escalations_pending
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

fn intake_alarm(depths: &QueueDepths, alarm_above: u32) -> bool {
    depths.messages_last_hour > u64::from(alarm_above)
}

/// The messages of the last hour against the alarm level.
pub(crate) fn write_intake(
    out: &mut dyn Write,
    depths: &QueueDepths,
    alarm_above: u32,
) -> anyhow::Result<()> {
    if intake_alarm(depths, alarm_above) {
        writeln!(
            out,
            "Intake: ALARM, {} message(s) in the last hour (alarm above {alarm_above}): a flood, a robot or a real emergency; every report is kept (intake.alarm_reports_per_hour)",
            depths.messages_last_hour
        )?;
    } else {
        writeln!(
            out,
            "Intake: {} message(s) in the last hour (alarm above {alarm_above})",
            depths.messages_last_hour
        )?;
    }
    Ok(())
}

/// Whether batches flow, or wait for the technician to fix what the platform refuses.
fn write_forwarding(out: &mut dyn Write, paused: Option<&ForwardingPause>) -> anyhow::Result<()> {
    let Some(p) = paused else {
        writeln!(out, "Forwarding: running")?;
        return Ok(());
    };
    let d = Diagnosis::of_refusal(p.status, &p.error);
    writeln!(
        out,
        "Forwarding: PAUSED, {} (batch {}, {} attempts): {}",
        d.problem(),
        terminal_safe(&p.batch_id),
        p.attempts,
        terminal_safe(&p.error)
    )?;
    writeln!(
        out,
        "  to fix: {}. Every report waits and is sent by itself once fixed; nothing is quarantined.",
        d.fix()
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
        "Quarantined batches: {} (the platform refused their content; see its error; `kufatilia-gateway requeue --all --dry-run` once the platform is fixed):",
        quarantined.len()
    )?;
    for q in quarantined {
        writeln!(
            out,
            "  {} ({} incidents, {} attempts): {}",
            terminal_safe(&q.id),
            q.incidents,
            q.attempts,
            terminal_safe(q.error.as_deref().unwrap_or("-"))
        )?;
    }
    Ok(())
}

fn write_last_reports(
    out: &mut dyn Write,
    last: &[IncidentSummary],
    reveal: Reveal,
) -> anyhow::Result<()> {
    writeln!(out, "Last reports:")?;
    if last.is_empty() {
        writeln!(out, "  none yet")?;
    }
    for i in last {
        writeln!(
            out,
            "  {:<10} {:<14} {}  {}",
            terminal_safe(&i.reference),
            terminal_safe(&i.incident_type),
            rfc3339_ms(i.received_at_ms),
            if i.delivered {
                "delivered"
            } else {
                "waiting for the platform"
            }
        )?;
        if let Some(n) = reveal
            .number(i.sender.as_deref())
            .filter(|_| reveal.numbers)
        {
            writeln!(out, "             from {}", terminal_safe(&n))?;
        }
        if let Some(t) = reveal.text(Some(&i.text)) {
            writeln!(out, "             text: {}", terminal_safe(t))?;
        }
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
    // Queued now, an SMS would go out whenever the gateway next starts, long after the
    // technician stopped waiting for it: nothing is queued unless a gateway runs.
    if !crate::running::is_running(&config.database) {
        anyhow::bail!(
            "the gateway is not running (on {}), so nothing was queued: start it with \
             `sudo systemctl start kufatilia-gateway` (or `kufatilia-gateway run --config FILE`), \
             check it with `systemctl status kufatilia-gateway`, then send again",
            config.database.display()
        );
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

/// What `requeue` acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequeueChoice {
    /// Only list the quarantined batches.
    List,
    One(String),
    All,
}

/// Puts quarantined batches back in the forwarding queue (or, with `dry_run`, says which it
/// would): for batches the platform refused by mistake and now takes.
pub async fn requeue(
    config: &Config,
    choice: RequeueChoice,
    dry_run: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (batch, dry_run) = match choice {
        RequeueChoice::List => (None, true),
        RequeueChoice::One(id) => (Some(id), dry_run),
        RequeueChoice::All => (None, dry_run),
    };
    let store = Store::open(&config.database)?;
    let chosen = store.requeue_quarantined(batch.clone(), dry_run).await?;
    if let (Some(id), true) = (&batch, chosen.is_empty()) {
        return Err(UsageError(format!(
            "{id} is not a quarantined batch (`kufatilia-gateway requeue` lists them)"
        ))
        .into());
    }
    if chosen.is_empty() {
        writeln!(out, "No quarantined batch.")?;
        return Ok(());
    }
    let verb = if dry_run { "would requeue" } else { "requeued" };
    for b in &chosen {
        writeln!(
            out,
            "{verb} {} (quarantined since {}: {})",
            terminal_safe(&b.id),
            rfc3339_ms(b.since_ms),
            terminal_safe(&b.error)
        )?;
    }
    if dry_run {
        writeln!(
            out,
            "{} batch(es); nothing changed. Requeue with --batch ID or --all (without --dry-run).",
            chosen.len()
        )?;
    } else {
        writeln!(
            out,
            "{} batch(es) back in the queue; the running gateway sends them within a minute.",
            chosen.len()
        )?;
    }
    Ok(())
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
struct ExportRow {
    reference: String,
    incident_type: String,
    language: String,
    received_at: String,
    description: String,
    location: String,
    reporter: String,
    delivered_to_platform: bool,
}

impl ExportRow {
    /// Every text cell defused for a spreadsheet (JSON is escaped by its encoder).
    fn for_spreadsheet(self) -> ExportRow {
        ExportRow {
            reference: spreadsheet_safe(&self.reference),
            incident_type: spreadsheet_safe(&self.incident_type),
            language: spreadsheet_safe(&self.language),
            received_at: self.received_at,
            description: spreadsheet_safe(&self.description),
            location: spreadsheet_safe(&self.location),
            reporter: spreadsheet_safe(&self.reporter),
            delivered_to_platform: self.delivered_to_platform,
        }
    }
}

/// Writes incidents received since `since` as CSV or JSON: reporters as pseudonyms (or masked
/// numbers when the config shares numbers), descriptions and places left empty, unless revealed.
pub fn export(
    config: &Config,
    since: time::OffsetDateTime,
    format: ExportFormat,
    reveal: Reveal,
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
        (None, n) => reveal.number(n).unwrap_or_default(),
        (Some(_), Some(n)) if n.chars().any(char::is_alphabetic) => n.to_string(),
        (Some(k), Some(n)) => sign::pseudonym(k, n),
    };
    let export_rows: Vec<ExportRow> = rows
        .iter()
        .map(|i| ExportRow {
            reference: i.reference.clone(),
            incident_type: i.incident_type.clone(),
            language: i.language.clone().unwrap_or_default(),
            received_at: rfc3339_ms(i.received_at_ms),
            description: reveal.text(Some(&i.description)).unwrap_or("").to_string(),
            location: reveal.text(i.location.as_deref()).unwrap_or("").to_string(),
            reporter: reporter(i),
            delivered_to_platform: i.delivered,
        })
        .collect();
    let n = export_rows.len();
    match format {
        ExportFormat::Json => {
            let json = serde_json::to_string_pretty(&export_rows)?;
            writeln!(out, "{}", json_for_terminal(&json))?;
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            for row in export_rows {
                w.serialize(row.for_spreadsheet())?;
            }
            w.flush()?;
        }
    }
    Ok(n)
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

    #[test]
    fn hostile_text_is_escaped_for_terminals_and_defused_for_spreadsheets() {
        let title = "AJALI \u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m";
        let shown = terminal_safe(title);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(shown, "AJALI \\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}31m");
        for start in ["=", "+", "-", "@", "\t", "\r"] {
            let cell = spreadsheet_safe(&format!("{start}HYPERLINK(\"http://x\")"));
            assert!(cell.starts_with('\''), "{cell:?}");
            assert!(!cell.chars().any(char::is_control), "{cell:?}");
        }
        assert_eq!(spreadsheet_safe("mgodi\nwa Kalimbi"), "mgodi\nwa Kalimbi");
    }
}
