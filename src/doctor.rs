//! `kufatilia-gateway doctor`: one screen per modem for the technician on site — is the device
//! there, what it is, SIM and PIN, network, signal, SIM storage, balance, and whether the platform
//! answers — with, for every problem, what to do about it.
//!
//! It opens each port exclusively like the daemon does, so it never talks to a modem the running
//! gateway is using: it says the port is busy instead. It never enters a PIN (a wrong one would
//! cost one of the SIM's three tries); it only checks that the gateway will find one.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::modem::port::{self, PortError};
use crate::modem::ussd;
use crate::modem::{personality_of, registration_word};
use at::commands::{
    At, Ccid, Cgmi, Cgmm, Cgmr, Cgsn, Cimi, Cmee, CpinQuery, CpmsSet, CregQuery, Csq, Cusd, Echo,
    PinState, Raw, RegStatus,
};
use at::{AtClient, AtCommand, AtError, ClientOptions, Urc};
use config::{Config, ModemConfig};

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
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            wake_timeout: Duration::from_secs(3),
            ussd_timeout: Duration::from_secs(15),
            http_timeout: Duration::from_secs(5),
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

/// One modem's screen.
struct Screen {
    lines: Vec<(String, String)>,
    problems: Vec<String>,
}

impl Screen {
    fn line(&mut self, what: &str, value: impl Into<String>) {
        self.lines.push((what.to_string(), value.into()));
    }
    fn problem(&mut self, what: &str, value: impl Into<String>, fix: impl Into<String>) {
        self.line(what, value);
        self.problems.push(format!("{what}: {}", fix.into()));
    }
}

/// Checks every modem of `config` and the platform.
pub async fn run(config: &Config, opts: &DoctorOptions) -> DoctorReport {
    let platform = platform_reachable(&config.platform.url, opts.http_timeout).await;
    let mut report = DoctorReport::default();
    if config.modems.is_empty() {
        report
            .problems
            .push("no [[modem]] in the config: add one (see `ls -l /dev/serial/by-id/`)".into());
    }
    for m in &config.modems {
        let mut screen = Screen {
            lines: Vec::new(),
            problems: Vec::new(),
        };
        check_modem(m, opts, &mut screen).await;
        match &platform {
            Ok(answer) => screen.line("platform", format!("reachable ({answer})")),
            Err(e) => screen.problem(
                "platform",
                format!("NOT reachable: {e}"),
                format!(
                    "check the internet link (mobile data, Wi-Fi cable) and `platform.url` ({}); reports wait safely in the store meanwhile",
                    config.platform.url
                ),
            ),
        }
        let _ = writeln!(
            report.text,
            "== modem {} ({}) ==",
            m.name,
            m.device.display()
        );
        for (what, value) in &screen.lines {
            let _ = writeln!(report.text, "  {what:<10} {value}");
        }
        if screen.problems.is_empty() {
            let _ = writeln!(report.text, "  -> all good");
        } else {
            let _ = writeln!(report.text, "  -> to fix:");
            for p in &screen.problems {
                let _ = writeln!(report.text, "     * {p}");
            }
        }
        let _ = writeln!(report.text);
        report.problems.extend(
            screen
                .problems
                .into_iter()
                .map(|p| format!("{}: {p}", m.name)),
        );
    }
    report
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

async fn check_modem(m: &ModemConfig, opts: &DoctorOptions, screen: &mut Screen) {
    let serial = match port::open(&m.device, m.baud) {
        Ok(s) => {
            screen.line("device", "found");
            s
        }
        Err(PortError::NotFound { .. }) => {
            screen.problem(
                "device",
                format!("NOT found ({})", serial_devices()),
                "plug the modem in (try another USB port or a powered hub); if it is listed under a different name, put that path in `device`",
            );
            return;
        }
        Err(e @ PortError::Busy { .. }) => {
            screen.problem(
                "device",
                format!("busy: {e}"),
                "the port is in use — most likely by the running gateway, which is fine (see `systemctl status kufatilia-gateway`); to run the doctor, stop it first (`systemctl stop kufatilia-gateway`) and start it again after; if ModemManager has it, `systemctl disable --now ModemManager`",
            );
            return;
        }
        Err(e) => {
            screen.problem(
                "device",
                format!("cannot open: {e}"),
                "check the `device` and `baud` keys, and that the service user is in the `dialout` group",
            );
            return;
        }
    };
    let (mut client, mut urcs) = AtClient::with_options(serial, ClientOptions::default());
    let mut answered = false;
    for _ in 0..3 {
        if client
            .run_with_timeout(&At, opts.wake_timeout)
            .await
            .is_ok()
        {
            answered = true;
            break;
        }
    }
    if !answered {
        screen.problem(
            "modem",
            "does not answer AT",
            "unplug the modem for 10 seconds and plug it back; check that `device` is its AT port (sticks have several)",
        );
        return;
    }
    let _ = ask(&mut client, &Echo(false)).await;
    let _ = ask(&mut client, &Cmee(1)).await;

    let manufacturer = ask(&mut client, &Cgmi).await.ok();
    let model = ask(&mut client, &Cgmm).await.ok();
    let revision = ask(&mut client, &Cgmr).await.ok();
    let imei = ask(&mut client, &Cgsn).await.ok();
    screen.line(
        "identity",
        format!(
            "{} {} (firmware {}, IMEI {}; quirks: {})",
            manufacturer.as_deref().unwrap_or("?"),
            model.as_deref().unwrap_or("?"),
            revision.as_deref().unwrap_or("?"),
            imei.as_deref().unwrap_or("?"),
            personality_of(manufacturer.as_deref(), model.as_deref())
        ),
    );

    let sim_ready = check_sim(&mut client, m, screen).await;
    if sim_ready {
        let imsi = ask(&mut client, &Cimi).await.ok();
        let iccid = ask(&mut client, &Ccid).await.ok();
        screen.line(
            "SIM id",
            format!(
                "IMSI {}, ICCID {}",
                imsi.as_deref().unwrap_or("?"),
                iccid.as_deref().unwrap_or("?")
            ),
        );
    }

    let registered = match ask(&mut client, &CregQuery).await {
        Ok(r) => {
            let word = registration_word(r.stat);
            match r.stat {
                RegStatus::Home => screen.line("network", "registered (home network)"),
                RegStatus::Roaming => screen.line(
                    "network",
                    "registered while ROAMING (every SMS may cost more)",
                ),
                _ => screen.problem(
                    "network",
                    format!("not registered ({word})"),
                    "check the antenna and the SIM's validity with the operator; move the box or the antenna where a phone on this operator has signal",
                ),
            }
            r.stat.is_registered()
        }
        Err(e) => {
            screen.problem(
                "network",
                format!("unknown ({e})"),
                "the modem does not say; if this persists, unplug and replug it",
            );
            false
        }
    };
    if registered {
        let operator = ask(&mut client, &Raw::new("AT+COPS?"))
            .await
            .ok()
            .and_then(|lines| {
                lines.iter().find_map(|l| {
                    at::params::params_after(l, "+COPS:")
                        .and_then(|p| p.get(2).map(|p| p.text.clone()))
                })
            });
        screen.line(
            "operator",
            format!(
                "{} (configured label: {})",
                operator.as_deref().unwrap_or("?"),
                m.operator.as_deref().unwrap_or("none")
            ),
        );
    }

    match ask(&mut client, &Csq).await {
        Ok(q) => match q.dbm() {
            Some(dbm) if q.word() == "weak" || q.word() == "none" => screen.problem(
                "signal",
                format!("{dbm} dBm ({})", q.word()),
                "raise the antenna or the modem (a USB extension cable near a window helps)",
            ),
            Some(dbm) => screen.line("signal", format!("{dbm} dBm ({})", q.word())),
            None => screen.problem(
                "signal",
                "none (unknown)",
                "no signal: check the antenna and the operator's coverage here",
            ),
        },
        Err(e) => screen.problem(
            "signal",
            format!("unknown ({e})"),
            "unplug and replug the modem",
        ),
    }

    if sim_ready {
        let cmd = CpmsSet {
            mem1: "SM".into(),
            mem2: "SM".into(),
            mem3: "SM".into(),
        };
        match ask(&mut client, &cmd).await {
            Ok(usage) => match usage.first() {
                Some(u) if u.total > 0 && u.used >= u.total => screen.problem(
                    "storage",
                    format!("SIM {}/{} messages — FULL", u.used, u.total),
                    "start the gateway: it takes every stored message into its store and frees the SIM",
                ),
                Some(u) => screen.line("storage", format!("SIM {}/{} messages", u.used, u.total)),
                None => screen.line("storage", "SIM usage not given"),
            },
            Err(e) => screen.line("storage", format!("unknown ({e})")),
        }
    }

    match (&m.balance_ussd, registered) {
        (None, _) => screen.line("balance", "not configured (`balance_ussd`)"),
        (Some(_), false) => screen.line("balance", "not asked (not registered)"),
        (Some(code), true) => {
            check_balance(&mut client, &mut urcs, code, m, opts, screen).await;
        }
    }
}

/// SIM state and PIN; true when the SIM is ready.
async fn check_sim(client: &mut AtClient, m: &ModemConfig, screen: &mut Screen) -> bool {
    match ask(client, &CpinQuery).await {
        Ok(PinState::Ready) => {
            screen.line("SIM", "ready (no PIN needed now)");
            true
        }
        Ok(PinState::SimPin) => {
            match &m.pin_file {
                None => screen.problem(
                    "SIM",
                    "asks for its PIN, and no `pin_file` is configured",
                    "write the PIN in a file (chmod 600) and name it in `pin_file`, or remove the PIN in a phone",
                ),
                Some(f) => match config::secrets::read_pin(f) {
                    Ok(_) => screen.line(
                        "SIM",
                        format!("asks for its PIN; the gateway will enter the one in {}", f.display()),
                    ),
                    Err(e) => screen.problem(
                        "SIM",
                        format!("asks for its PIN; {e}"),
                        "fix the PIN file: the PIN digits only, owned by the service user, chmod 600",
                    ),
                },
            }
            false
        }
        Ok(PinState::SimPuk) => {
            screen.problem(
                "SIM",
                "LOCKED: needs its PUK",
                "put the SIM in a phone, unlock it with the PUK from its card, set the PIN again, and check `pin_file`",
            );
            false
        }
        Ok(other) => {
            screen.problem(
                "SIM",
                format!("not ready ({other:?})"),
                "reseat the SIM card and restart the modem",
            );
            false
        }
        Err(e) if e.cme_code() == Some(10) => {
            screen.problem(
                "SIM",
                "NO SIM card",
                "insert the SIM card (power off the modem first)",
            );
            false
        }
        Err(e) => {
            screen.problem(
                "SIM",
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
            "balance",
            format!("USSD {code} refused ({e})"),
            "check `balance_ussd` with the operator",
        );
        return;
    }
    let deadline = tokio::time::Instant::now() + opts.ussd_timeout;
    loop {
        match tokio::time::timeout_at(deadline, urcs.recv()).await {
            Ok(Some(Urc::Ussd {
                status: 0 | 1,
                text: Some(text),
                dcs,
            })) => {
                let answer = ussd::decode_answer(&text, dcs);
                let amount = ussd::first_amount(&answer);
                match (amount, m.low_balance_below) {
                    (Some(a), Some(t)) if a < t => screen.problem(
                        "balance",
                        format!("{answer} — LOW (below {t})"),
                        "top up this SIM's airtime: replies stop when it runs out",
                    ),
                    _ => screen.line("balance", answer),
                }
                return;
            }
            Ok(Some(Urc::Ussd { status, .. })) => {
                screen.problem(
                    "balance",
                    format!("no answer to {code} (USSD status {status})"),
                    "check `balance_ussd` with the operator",
                );
                return;
            }
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                screen.problem(
                    "balance",
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

/// Any HTTP answer means the platform is reachable (even 401: the token is another matter).
async fn platform_reachable(url: &str, timeout: Duration) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))?;
    match client.get(url).send().await {
        Ok(r) => Ok(format!("HTTP {} from {url}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err(format!("no answer in {} s", timeout.as_secs())),
        Err(e) if e.is_connect() => Err(format!("cannot connect ({e})")),
        Err(e) => Err(e.to_string()),
    }
}
