//! `kufatilia-gateway doctor`: one screen per modem for the technician on site — is the device
//! there, what it is, SIM and PIN, network, signal, SIM storage, balance, and whether the platform
//! answers — with, for every problem, what to do about it.
//!
//! It opens each port exclusively like the daemon does, so it never talks to a modem the running
//! gateway is using: it says the port is busy instead. It never enters a PIN (a wrong one would
//! cost one of the SIM's three tries); it only checks that the gateway will find one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::modem::port::{self, Line, PortError};
use crate::modem::ussd;
use crate::modem::{personality_of, registration_word};
use crate::platform::Diagnosis;
use at::commands::{
    At, Ccid, Cgmi, Cgmm, Cgmr, Cgsn, Cimi, Cmee, CpinQuery, CpmsSet, CregQuery, Csq, Cusd, Echo,
    PinState, Raw, RegStatus, SignalLevel,
};
use at::transcript::Recording;
use at::{AtClient, AtCommand, AtError, ClientOptions, Storage, Urc};
use config::{Config, ModemConfig};
use platform_api::{Heartbeat, SCHEMA_VERSION};

/// Where USB serial devices show up under their stable names.
const BY_ID: &str = "/dev/serial/by-id";

/// Time limits of the checks.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// Longest wait for a modem's first answer.
    pub wake_timeout: Duration,
    /// Longest wait for the network's USSD answer.
    pub ussd_timeout: Duration,
    /// Time limit of the request to the platform.
    pub http_timeout: Duration,
    /// Write each modem's session to this file (`FILE-<modem>` when there are several), in the
    /// transcript format the simulator replays.
    pub record: Option<PathBuf>,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            wake_timeout: Duration::from_secs(3),
            ussd_timeout: Duration::from_secs(15),
            http_timeout: Duration::from_secs(5),
            record: None,
        }
    }
}

/// What the doctor found.
#[derive(Debug, Default)]
pub struct DoctorReport {
    /// The text to print, one screen per modem.
    pub text: String,
    /// Problems found, each with its fix.
    pub problems: Vec<String>,
}

impl DoctorReport {
    pub fn all_good(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What a line of a modem's screen is about; its label is what the technician reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Device,
    Modem,
    Identity,
    Sim,
    SimId,
    Network,
    Operator,
    Signal,
    Storage,
    Balance,
    Platform,
    Database,
    Forwarding,
    Quarantine,
    Unconfirmed,
    Record,
    Intake,
    Escalation,
    Modems,
}

impl Check {
    fn label(self) -> &'static str {
        match self {
            Check::Device => "device",
            Check::Modem => "modem",
            Check::Identity => "identity",
            Check::Sim => "SIM",
            Check::SimId => "SIM id",
            Check::Network => "network",
            Check::Operator => "operator",
            Check::Signal => "signal",
            Check::Storage => "storage",
            Check::Balance => "balance",
            Check::Platform => "platform",
            Check::Database => "database",
            Check::Forwarding => "forwarding",
            Check::Quarantine => "quarantine",
            Check::Unconfirmed => "SMS",
            Check::Record => "record",
            Check::Intake => "intake",
            Check::Escalation => "escalation",
            Check::Modems => "modems",
        }
    }
}

/// One section of the doctor's screen (a modem, the database).
#[derive(Default)]
struct Screen {
    lines: Vec<(Check, String)>,
    problems: Vec<String>,
}

impl Screen {
    /// A finding that needs nothing done.
    fn line(&mut self, what: Check, value: impl Into<String>) {
        self.lines.push((what, value.into()));
    }
    /// A finding with what to do about it.
    fn problem(&mut self, what: Check, value: impl Into<String>, fix: impl Into<String>) {
        self.line(what, value);
        self.problems
            .push(format!("{}: {}", what.label(), fix.into()));
    }
    /// The screen as the technician reads it: a heading, one line per finding, and either "all
    /// good" or what to fix.
    fn print(&self, heading: &str, out: &mut String) {
        let _ = writeln!(out, "== {heading} ==");
        for (what, value) in &self.lines {
            let _ = writeln!(out, "  {:<10} {value}", what.label());
        }
        if self.problems.is_empty() {
            let _ = writeln!(out, "  -> all good");
        } else {
            let _ = writeln!(out, "  -> to fix:");
            for p in &self.problems {
                let _ = writeln!(out, "     * {p}");
            }
        }
    }
}

/// Checks every modem of `config` and the platform.
pub async fn run(config: &Config, opts: &DoctorOptions) -> DoctorReport {
    let mut report = DoctorReport::default();
    check_config(config, &mut report);
    let mut screen = Screen::default();
    match platform_answers(config, opts.http_timeout).await {
        Ok(answer) => screen.line(Check::Platform, answer),
        Err((what, fix)) => screen.problem(Check::Platform, what, fix),
    }
    print_screen(&mut report, "platform", screen);
    if config.modems.is_empty() {
        // Said on a screen of its own, so the count at the end matches the fixes printed.
        let mut screen = Screen::default();
        screen.problem(
            Check::Modems,
            "NONE in the config: the gateway would receive nothing",
            "add a [[modem]] section with its `device` (find it with `ls -l /dev/serial/by-id/`)",
        );
        print_screen(&mut report, "modems", screen);
    }
    let several = config.modems.len() > 1;
    let mut modem_results: Vec<(String, usize)> = Vec::new();
    for m in &config.modems {
        let mut screen = Screen::default();
        let record = opts.record.as_ref().map(|file| {
            if several {
                let mut name = file.as_os_str().to_owned();
                name.push(format!("-{}", m.name));
                PathBuf::from(name)
            } else {
                file.clone()
            }
        });
        check_modem(m, opts, record.as_deref(), &mut screen).await;
        let heading = format!("modem {} ({})", m.name, m.device.display());
        screen.print(&heading, &mut report.text);
        let _ = writeln!(report.text);
        modem_results.push((m.name.clone(), screen.problems.len()));
        report.problems.extend(
            screen
                .problems
                .into_iter()
                .map(|p| format!("{}: {p}", m.name)),
        );
    }
    if several {
        // One line over all the modems: a technician with several reads the summary first.
        let ready: Vec<&str> = modem_results
            .iter()
            .filter(|(_, n)| *n == 0)
            .map(|(name, _)| name.as_str())
            .collect();
        let not: Vec<String> = modem_results
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{name} ({n} to fix)"))
            .collect();
        let mut line = format!("{} of {} ready", ready.len(), modem_results.len());
        if !ready.is_empty() {
            line.push_str(&format!(": {}", ready.join(", ")));
        }
        if !not.is_empty() {
            line.push_str(&format!("; not ready: {}", not.join(", ")));
        }
        let _ = writeln!(
            report.text,
            "== modems ==\n  {:<10} {line}\n",
            Check::Modems.label()
        );
    }
    let mut screen = Screen::default();
    check_database(config, &mut screen).await;
    let heading = format!("database ({})", config.database.display());
    print_screen(&mut report, &heading, screen);
    report
}

/// A screen that is not a modem's: printed, then its problems counted as they are.
fn print_screen(report: &mut DoctorReport, heading: &str, screen: Screen) {
    screen.print(heading, &mut report.text);
    let _ = writeln!(report.text);
    report.problems.extend(screen.problems);
}

/// Whether the database takes writes (the gateway sends no SMS while it cannot) and the SMS
/// whose outcome was never recorded. A database not created yet is no problem.
async fn check_database(config: &Config, screen: &mut Screen) {
    if !config.database.exists() {
        screen.line(
            Check::Database,
            "not created yet (the gateway creates it at its first start)",
        );
        return;
    }
    let store = match store::Store::open(&config.database) {
        Ok(s) => s,
        Err(e) => {
            screen.problem(
                Check::Database,
                format!("CANNOT be opened: {e}"),
                "see the error above; a corrupt file is moved away and the gateway starts a new one",
            );
            return;
        }
    };
    match store.check_room().await {
        Ok(()) => screen.line(Check::Database, "writable"),
        Err(e) => screen.problem(
            Check::Database,
            format!("CANNOT be written: {e}"),
            "free space on the SD card (`df -h`) or find why it is read-only (`mount`); the gateway sends no SMS until it can write, then resumes by itself",
        ),
    }
    match store.forwarding_pause().await {
        Ok(None) => screen.line(Check::Forwarding, "running"),
        Ok(Some(p)) => {
            let d = Diagnosis::of_refusal(p.status, &p.error);
            screen.problem(
                Check::Forwarding,
                format!(
                    "PAUSED: {} (batch {}, {} attempts: {})",
                    d.problem(),
                    p.batch_id,
                    p.attempts,
                    p.error
                ),
                format!(
                    "{}; every report waits and is sent by itself once fixed",
                    d.fix()
                ),
            );
        }
        Err(e) => screen.problem(
            Check::Forwarding,
            format!("cannot be read: {e}"),
            "see the database line",
        ),
    }
    match store.quarantined_batches(usize::MAX).await {
        Ok(q) if q.is_empty() => screen.line(Check::Quarantine, "no batch quarantined"),
        Ok(q) => {
            let mut reasons = std::collections::BTreeMap::<u16, usize>::new();
            for b in &q {
                *reasons.entry(b.status).or_default() += 1;
            }
            let reasons: Vec<String> = reasons
                .iter()
                .map(|(status, n)| {
                    format!(
                        "{n} with HTTP {status} ({})",
                        Diagnosis::of_refusal(*status, "").problem()
                    )
                })
                .collect();
            screen.problem(
                Check::Quarantine,
                format!(
                    "{} batch(es) refused by the platform: {}",
                    q.len(),
                    reasons.join(", ")
                ),
                "see their errors with `kufatilia-gateway status`; once the platform takes them, `kufatilia-gateway requeue --all`",
            );
        }
        Err(e) => screen.problem(
            Check::Quarantine,
            format!("cannot be listed: {e}"),
            "see the database line",
        ),
    }
    match store.unconfirmed_outgoing().await {
        Ok(rows) if rows.is_empty() => screen.line(Check::Unconfirmed, "none unconfirmed"),
        Ok(rows) => screen.problem(
            Check::Unconfirmed,
            format!(
                "{} unconfirmed: handed to a modem, outcome never recorded (a crash or a full disk then)",
                rows.len()
            ),
            "decide each with `kufatilia-gateway unconfirmed` (--resend, --sent or --failed); they are never sent again on their own",
        ),
        Err(e) => screen.problem(
            Check::Unconfirmed,
            format!("cannot be listed: {e}"),
            "see the database line",
        ),
    }
    let focal_points = config.escalation.focal_points.len();
    match store.queue_depths().await {
        Ok(_) if focal_points == 0 => screen.line(
            Check::Escalation,
            "off: no [[escalation.focal_point]] configured (docs/install.md)",
        ),
        Ok(d) if d.escalations_pending == 0 => screen.line(
            Check::Escalation,
            format!("{focal_points} focal point(s); no escalated report waiting to be taken"),
        ),
        Ok(d) => screen.problem(
            Check::Escalation,
            format!(
                "{} urgent report(s) texted to focal points while the platform was out of reach, not taken (ACK) yet",
                d.escalations_pending
            ),
            "make sure a focal point has them (they answer ACK <reference>); see why the platform is out of reach on the platform line",
        ),
        Err(e) => screen.problem(
            Check::Escalation,
            format!("cannot be counted: {e}"),
            "see the database line",
        ),
    }
    let alarm_above = config.intake.alarm_reports_per_hour;
    match store.messages_last_hour().await {
        Ok(n) if n > u64::from(alarm_above) => screen.problem(
            Check::Intake,
            format!("ALARM: {n} message(s) in the last hour (alarm above {alarm_above})"),
            "a flood, a robot or a real emergency: look at the senders (`kufatilia-gateway status`); every report is kept, numbers over intake.max_reports_per_sender_per_hour get no reply",
        ),
        Ok(n) => screen.line(
            Check::Intake,
            format!("{n} message(s) in the last hour (alarm above {alarm_above})"),
        ),
        Err(e) => screen.problem(
            Check::Intake,
            format!("cannot be counted: {e}"),
            "see the database line",
        ),
    }
}

/// What exists under `/dev/serial/by-id`, for the technician to compare with the config.
fn serial_devices() -> String {
    match std::fs::read_dir(BY_ID) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| Path::new(BY_ID).join(e.file_name()).display().to_string())
                .collect();
            names.sort();
            if names.is_empty() {
                format!("nothing under {BY_ID}")
            } else {
                format!("under {BY_ID}: {}", names.join(", "))
            }
        }
        Err(_) => format!("no {BY_ID} (no USB serial device plugged in)"),
    }
}

/// The modem's port, recorded into `record` when asked.
fn recorded(serial: Line, record: Option<&Path>, screen: &mut Screen) -> Box<dyn Port> {
    let Some(path) = record else {
        return Box::new(serial);
    };
    match std::fs::File::create(path) {
        Ok(f) => {
            screen.line(
                Check::Record,
                format!("session written to {}", path.display()),
            );
            Box::new(Recording::new(serial, Box::new(f)))
        }
        Err(e) => {
            // The file is the one thing that failed: the doctor still checks, unrecorded.
            screen.problem(
                Check::Record,
                format!("cannot write {}: {e}", path.display()),
                "give --record a path in a writable directory (e.g. modem.transcript)",
            );
            Box::new(serial)
        }
    }
}

/// What the AT client can run on: the port itself, or the port being recorded.
trait Port: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Port for T {}

async fn check_modem(
    m: &ModemConfig,
    opts: &DoctorOptions,
    record: Option<&Path>,
    screen: &mut Screen,
) {
    let Some(serial) = open_device(m, screen) else {
        return;
    };
    let port = recorded(serial, record, screen);
    let (mut client, mut urcs) = AtClient::with_options(port, ClientOptions::default());
    if !wake(&mut client, opts, screen).await {
        return;
    }
    let _ = ask(&mut client, &Echo(false)).await;
    let _ = ask(&mut client, &Cmee(1)).await;
    check_identity(&mut client, screen).await;
    let sim_ready = check_sim(&mut client, m, screen).await;
    if sim_ready {
        check_sim_id(&mut client, screen).await;
    }
    let registered = check_network(&mut client, screen).await;
    if registered {
        check_operator(&mut client, m, screen).await;
    }
    check_signal(&mut client, screen).await;
    if sim_ready {
        check_storage(&mut client, screen).await;
    }
    match (&m.balance_ussd, registered) {
        (None, _) => screen.line(Check::Balance, "not configured (`balance_ussd`)"),
        (Some(_), false) => screen.line(Check::Balance, "not asked (not registered)"),
        (Some(code), true) => {
            check_balance(&mut client, &mut urcs, code, m, opts, screen).await;
        }
    }
}

/// Opens the modem's port as the daemon does; `None` (and the problem on the screen) when it
/// cannot.
fn open_device(m: &ModemConfig, screen: &mut Screen) -> Option<Line> {
    match port::open(&m.device, m.baud) {
        Ok(s) => {
            screen.line(Check::Device, "found");
            Some(s)
        }
        Err(PortError::NotFound { .. }) => {
            screen.problem(
                Check::Device,
                format!("NOT found ({})", serial_devices()),
                "plug the modem in (try another USB port or a powered hub); if it is listed under a different name, put that path in `device`",
            );
            None
        }
        Err(e @ PortError::Busy { .. }) => {
            screen.problem(
                Check::Device,
                format!("busy: {e}"),
                "the port is in use — most likely by the running gateway, which is fine (see `systemctl status kufatilia-gateway`); to run the doctor, stop it first (`systemctl stop kufatilia-gateway`) and start it again after; if ModemManager has it, `systemctl disable --now ModemManager`",
            );
            None
        }
        Err(e) => {
            screen.problem(
                Check::Device,
                format!("cannot open: {e}"),
                "check the `device` and `baud` keys, and that the service user is in the `dialout` group",
            );
            None
        }
    }
}

/// Three tries at the first `AT`; false (and the problem on the screen) when the modem never
/// answers.
async fn wake(client: &mut AtClient, opts: &DoctorOptions, screen: &mut Screen) -> bool {
    for _ in 0..3 {
        if client
            .run_with_timeout(&At, opts.wake_timeout)
            .await
            .is_ok()
        {
            return true;
        }
    }
    screen.problem(
        Check::Modem,
        "does not answer AT",
        "unplug the modem for 10 seconds and plug it back; check that `device` is its AT port (sticks have several)",
    );
    false
}

async fn check_identity(client: &mut AtClient, screen: &mut Screen) {
    let manufacturer = ask(client, &Cgmi).await.ok();
    let model = ask(client, &Cgmm).await.ok();
    let revision = ask(client, &Cgmr).await.ok();
    let imei = ask(client, &Cgsn).await.ok();
    screen.line(
        Check::Identity,
        format!(
            "{} {} (firmware {}, IMEI {}; quirks: {})",
            manufacturer.as_deref().unwrap_or("?"),
            model.as_deref().unwrap_or("?"),
            revision.as_deref().unwrap_or("?"),
            imei.as_deref().unwrap_or("?"),
            personality_of(manufacturer.as_deref(), model.as_deref())
        ),
    );
}

async fn check_sim_id(client: &mut AtClient, screen: &mut Screen) {
    let imsi = ask(client, &Cimi).await.ok();
    let iccid = ask(client, &Ccid).await.ok();
    screen.line(
        Check::SimId,
        format!(
            "IMSI {}, ICCID {}",
            imsi.as_deref().unwrap_or("?"),
            iccid.as_deref().unwrap_or("?")
        ),
    );
}

/// Network registration; true when registered.
async fn check_network(client: &mut AtClient, screen: &mut Screen) -> bool {
    match ask(client, &CregQuery).await {
        Ok(r) => {
            let word = registration_word(r.stat);
            match r.stat {
                RegStatus::Home => screen.line(Check::Network, "registered (home network)"),
                s if s.is_roaming() => screen.line(
                    Check::Network,
                    format!("registered while ROAMING ({word}; every SMS may cost more)"),
                ),
                s if s.is_registered() => screen.line(Check::Network, format!("registered ({word})")),
                _ => screen.problem(
                    Check::Network,
                    format!("not registered ({word})"),
                    "check the antenna and the SIM's validity with the operator; move the box or the antenna where a phone on this operator has signal",
                ),
            }
            r.stat.is_registered()
        }
        Err(e) => {
            screen.problem(
                Check::Network,
                format!("unknown ({e})"),
                "the modem does not say; if this persists, unplug and replug it",
            );
            false
        }
    }
}

async fn check_operator(client: &mut AtClient, m: &ModemConfig, screen: &mut Screen) {
    let operator = ask(client, &Raw::new("AT+COPS?"))
        .await
        .ok()
        .and_then(|lines| {
            lines.iter().find_map(|l| {
                at::params_after(l, "+COPS:").and_then(|p| p.get(2).map(|p| p.text.clone()))
            })
        });
    screen.line(
        Check::Operator,
        format!(
            "{} (configured label: {})",
            operator.as_deref().unwrap_or("?"),
            m.operator.as_deref().unwrap_or("none")
        ),
    );
}

async fn check_signal(client: &mut AtClient, screen: &mut Screen) {
    match ask(client, &Csq).await {
        Ok(q) => match q.dbm() {
            Some(dbm) if matches!(q.level(), SignalLevel::Weak | SignalLevel::NoSignal) => screen
                .problem(
                    Check::Signal,
                    format!("{dbm} dBm ({})", q.level()),
                    "raise the antenna or the modem (a USB extension cable near a window helps)",
                ),
            Some(dbm) => screen.line(Check::Signal, format!("{dbm} dBm ({})", q.level())),
            None => screen.problem(
                Check::Signal,
                "none (unknown)",
                "no signal: check the antenna and the operator's coverage here",
            ),
        },
        Err(e) => screen.problem(
            Check::Signal,
            format!("unknown ({e})"),
            "unplug and replug the modem",
        ),
    }
}

/// How full the SIM's message storage is (the gateway empties it).
async fn check_storage(client: &mut AtClient, screen: &mut Screen) {
    let cmd = CpmsSet::all(Storage::Sim);
    match ask(client, &cmd).await {
        Ok(usage) => match usage.first() {
            Some(u) if u.total > 0 && u.used >= u.total => screen.problem(
                Check::Storage,
                format!("SIM {}/{} messages — FULL", u.used, u.total),
                "start the gateway: it takes every stored message into its store and frees the SIM",
            ),
            Some(u) => screen.line(
                Check::Storage,
                format!("SIM {}/{} messages", u.used, u.total),
            ),
            None => screen.line(Check::Storage, "SIM usage not given"),
        },
        Err(e) => screen.line(Check::Storage, format!("unknown ({e})")),
    }
}

/// SIM state and PIN; true when the SIM is ready.
async fn check_sim(client: &mut AtClient, m: &ModemConfig, screen: &mut Screen) -> bool {
    match ask(client, &CpinQuery).await {
        Ok(PinState::Ready) => {
            screen.line(Check::Sim, "ready (no PIN needed now)");
            true
        }
        Ok(PinState::SimPin) => {
            match &m.pin_file {
                None => screen.problem(
                    Check::Sim,
                    "asks for its PIN, and no `pin_file` is configured",
                    "write the PIN in a file (chmod 600) and name it in `pin_file`, or remove the PIN in a phone",
                ),
                Some(f) => match config::secrets::read_pin(f) {
                    Ok(_) => screen.line(
                        Check::Sim,
                        format!("asks for its PIN; the gateway will enter the one in {}", f.display()),
                    ),
                    Err(e) => screen.problem(
                        Check::Sim,
                        format!("asks for its PIN; {e}"),
                        "fix the PIN file: the PIN digits only, owned by the service user, chmod 600",
                    ),
                },
            }
            false
        }
        Ok(s) if s.allows_sms() => {
            screen.line(
                Check::Sim,
                format!("ready for SMS (the SIM says {s}, which only guards PIN2 features)"),
            );
            true
        }
        Ok(s) if s.is_personalisation_lock() => {
            screen.problem(
                Check::Sim,
                format!("the MODEM is locked to another SIM or operator ({s})"),
                "ask the modem's seller for its unlock code, or use another modem",
            );
            false
        }
        Ok(PinState::SimPuk) => {
            screen.problem(
                Check::Sim,
                "LOCKED: needs its PUK",
                "put the SIM in a phone, unlock it with the PUK from its card, set the PIN again, and check `pin_file`",
            );
            false
        }
        Ok(other) => {
            screen.problem(
                Check::Sim,
                format!("not ready ({other})"),
                "reseat the SIM card and restart the modem",
            );
            false
        }
        Err(e) if e.cme_code() == Some(10) => {
            screen.problem(
                Check::Sim,
                "NO SIM card",
                "insert the SIM card (power off the modem first)",
            );
            false
        }
        Err(e) => {
            screen.problem(
                Check::Sim,
                format!("state unknown ({e})"),
                "reseat the SIM card and restart the modem",
            );
            false
        }
    }
}

async fn check_balance(
    client: &mut AtClient,
    urcs: &mut mpsc::Receiver<Urc>,
    code: &str,
    m: &ModemConfig,
    opts: &DoctorOptions,
    screen: &mut Screen,
) {
    let cmd = Cusd {
        code: code.into(),
        dcs: 15,
    };
    if let Err(e) = ask(client, &cmd).await {
        screen.problem(
            Check::Balance,
            format!("USSD {code} refused ({e})"),
            "check `balance_ussd` with the operator",
        );
        return;
    }
    let deadline = tokio::time::Instant::now() + opts.ussd_timeout;
    loop {
        match tokio::time::timeout_at(deadline, urcs.recv()).await {
            Ok(Some(Urc::Ussd {
                status,
                text: Some(text),
                dcs,
            })) if ussd::carries_answer(status) => {
                let answer = ussd::decode_answer(&text, dcs);
                let amount = ussd::first_amount(&answer);
                // The form it came in, so a wrong decoding can be told from a wrong code.
                let shown = format!("{answer} [as received: {}]", ussd::raw_form(&text, dcs));
                match (amount, m.low_balance_below) {
                    (Some(a), Some(t)) if a < t => screen.problem(
                        Check::Balance,
                        format!("{shown} — LOW (below {t})"),
                        "top up this SIM's airtime: replies stop when it runs out",
                    ),
                    _ => screen.line(Check::Balance, shown),
                }
                return;
            }
            Ok(Some(Urc::Ussd { status, .. })) => {
                screen.problem(
                    Check::Balance,
                    format!("no answer to {code} (USSD status {status})"),
                    "check `balance_ussd` with the operator",
                );
                return;
            }
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                screen.problem(
                    Check::Balance,
                    format!("no answer to {code} in {} s", opts.ussd_timeout.as_secs()),
                    "the network is slow or the code is wrong; try it from a phone with this SIM",
                );
                return;
            }
        }
    }
}

async fn ask<C: AtCommand>(client: &mut AtClient, cmd: &C) -> Result<C::Response, AtError> {
    client.run_with_timeout(cmd, cmd.timeout()).await
}

/// The checks `check-config` and `run` make: a config `run` refuses is a problem here too.
fn check_config(config: &Config, report: &mut DoctorReport) {
    let errors = match intake::Keywords::load(&config.keywords) {
        Ok(keywords) => crate::daemon::check(config, &keywords).errors,
        Err(e) => vec![e.to_string()],
    };
    let _ = writeln!(report.text, "== config ==");
    if errors.is_empty() {
        let _ = writeln!(report.text, "  -> all good");
    } else {
        let _ = writeln!(
            report.text,
            "  -> to fix (the gateway does not start until then, exit 78):"
        );
        for e in &errors {
            let _ = writeln!(report.text, "     * {e}");
        }
    }
    let _ = writeln!(report.text);
    report
        .problems
        .extend(errors.into_iter().map(|e| format!("config: {e}")));
}

/// Sends the platform a real heartbeat with the daemon's own client (same URL, token,
/// signature, CA and TLS): only a 2xx means reports will be taken. Otherwise what is wrong and
/// the fix.
async fn platform_answers(config: &Config, timeout: Duration) -> Result<String, (String, String)> {
    let mut config = config.clone();
    config.platform.timeout = config.platform.timeout.min(timeout);
    let client = crate::daemon::platform_client(&config).map_err(|e| {
        (
            format!("NOT checked: {e}"),
            "fix the config (see the config screen)".to_string(),
        )
    })?;
    let heartbeat = Heartbeat {
        schema_version: SCHEMA_VERSION,
        gateway_id: config.gateway_id.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        clock: platform_api::rfc3339(time::OffsetDateTime::now_utc()),
        ..Heartbeat::default()
    };
    match client.post_heartbeat(&heartbeat).await {
        Ok(_) => Ok(format!(
            "takes this gateway's signed requests ({})",
            config.platform.url
        )),
        Err(e) => {
            let d = e.diagnosis();
            Err((
                format!("NOT working: {}: {e}", d.problem()),
                format!("{} (`platform.url` is {})", d.fix(), config.platform.url),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Check;

    #[test]
    fn every_check_has_its_own_label_within_the_column() {
        let all = [
            Check::Device,
            Check::Modem,
            Check::Identity,
            Check::Sim,
            Check::SimId,
            Check::Network,
            Check::Operator,
            Check::Signal,
            Check::Storage,
            Check::Balance,
            Check::Platform,
            Check::Database,
            Check::Forwarding,
            Check::Quarantine,
            Check::Unconfirmed,
            Check::Record,
            Check::Intake,
        ];
        let labels: std::collections::BTreeSet<&str> = all.iter().map(|c| c.label()).collect();
        assert_eq!(labels.len(), all.len(), "{labels:?}");
        // The screen prints them in a 10-character column.
        assert!(labels.iter().all(|l| l.len() <= 10), "{labels:?}");
    }
}
