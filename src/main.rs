//! The `kufatilia-gateway` command: the daemon and the technician's tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use config::Config;
#[cfg(feature = "demo")]
use kufatilia_gateway::demo;
use kufatilia_gateway::{daemon, logging, ops};

/// Exit codes from sysexits.h, so scripts and systemd can tell failures apart.
mod exit {
    pub(crate) const USAGE: u8 = 64;
    pub(crate) const DATA: u8 = 65;
    pub(crate) const UNAVAILABLE: u8 = 69;
    pub(crate) const SOFTWARE: u8 = 70;
    pub(crate) const CONFIG: u8 = 78;
}

const DEFAULT_CONFIG: &str = "/etc/kufatilia-gateway/gateway.toml";

#[derive(Parser)]
#[command(
    name = "kufatilia-gateway",
    version,
    about = "SMS gateway for incident reports: GSM modem in, SQLite store, batches to the follow-up platform",
    after_help = "Start with `kufatilia-gateway demo` to see one run end to end without hardware."
)]
struct Cli {
    /// More detail in the log (same as RUST_LOG=debug).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (what the systemd service starts).
    #[command(
        after_help = "Example:\n  kufatilia-gateway run --config /etc/kufatilia-gateway/gateway.toml"
    )]
    Run {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Check the config and keyword files; exit 0 when they are good, 78 otherwise.
    #[command(
        name = "check-config",
        after_help = "Example:\n  kufatilia-gateway check-config --config /etc/kufatilia-gateway/gateway.toml"
    )]
    CheckConfig {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Check each modem (device, identity, SIM, PIN, network, signal, storage, balance) and the
    /// platform, with what to fix; exit 0 when all is good, 69 otherwise.
    #[command(
        after_help = "Examples:\n  kufatilia-gateway doctor --config /etc/kufatilia-gateway/gateway.toml\n  kufatilia-gateway doctor --record modem.transcript\n\nThe modems the running gateway holds show as busy: stop the service first to check them.\nWith --record, every line sent to and received from each modem is written to FILE (one file\na modem, named FILE-<modem> when there are several), with the time since the port opened;\nsend it to the developers when a modem misbehaves. PINs, message PDUs and phone numbers are\nwithheld from it."
    )]
    Doctor {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Write a transcript of each modem's session to FILE, replayable by the simulator.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
    },
    /// Run the whole path on a simulated modem and a local platform, and print what happens.
    #[cfg(feature = "demo")]
    #[command(
        after_help = "Examples:\n  kufatilia-gateway demo\n  kufatilia-gateway demo --platform-url http://127.0.0.1:8787 --token-file platform.token --secret-file platform.secret\n\nWith --platform-url the reports go to that receiver (yours) instead of the built-in one;\nits token and signing secret are read from the files named (docs/platform-api.md)."
    )]
    Demo {
        /// Forward to this platform receiver instead of starting the reference one (its base
        /// URL, as `platform.url`: https://, or http:// on this machine).
        #[arg(long, value_name = "URL")]
        platform_url: Option<String>,
        /// File holding the bearer token your receiver expects (with --platform-url).
        #[arg(long, value_name = "FILE", requires = "platform_url")]
        token_file: Option<PathBuf>,
        /// File holding the HMAC secret your receiver checks signatures with (with
        /// --platform-url).
        #[arg(long, value_name = "FILE", requires = "platform_url")]
        secret_file: Option<PathBuf>,
    },
    /// Show the box's state: modems, queues, quarantined batches, last reports.
    #[command(
        after_help = "Examples:\n  kufatilia-gateway status\n  kufatilia-gateway status --json"
    )]
    Status {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        reveal: RevealArgs,
    },
    /// Send a test SMS through the running gateway.
    #[command(
        after_help = "Example:\n  kufatilia-gateway send --modem vodacom +243812345678 \"Test Kufatilia\" --wait 60"
    )]
    Send {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// The modem's name in the config.
        #[arg(long)]
        modem: String,
        /// The recipient, e.g. +243812345678.
        number: String,
        text: String,
        /// Wait up to this many seconds for the gateway to send it.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
    /// List the SMS handed to a modem whose outcome was never recorded (a crash or a full disk
    /// at that moment), or decide one: they are never sent again without this decision.
    #[command(
        after_help = "Examples:\n  kufatilia-gateway unconfirmed\n  kufatilia-gateway unconfirmed --resend 42   (the reporter may get it twice)\n  kufatilia-gateway unconfirmed --sent 42\n  kufatilia-gateway unconfirmed --failed 42"
    )]
    Unconfirmed {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Queue SMS ID for sending again.
        #[arg(long, value_name = "ID", group = "decision")]
        resend: Option<i64>,
        /// Record SMS ID as sent (the reporter has it).
        #[arg(long, value_name = "ID", group = "decision")]
        sent: Option<i64>,
        /// Record SMS ID as failed (it is not sent again).
        #[arg(long, value_name = "ID", group = "decision")]
        failed: Option<i64>,
    },
    /// List the batches the platform refused (quarantined), or put them back in the queue once
    /// the platform takes them.
    #[command(
        after_help = "Examples:\n  kufatilia-gateway requeue\n  kufatilia-gateway requeue --all --dry-run\n  kufatilia-gateway requeue --batch goma-01-b000042"
    )]
    Requeue {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Requeue this quarantined batch.
        #[arg(long, value_name = "ID", conflicts_with = "all")]
        batch: Option<String>,
        /// Requeue every quarantined batch.
        #[arg(long)]
        all: bool,
        /// Say what would be requeued; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Export incidents as CSV or JSON: reporters as pseudonyms (masked numbers when the config
    /// shares numbers), without what they wrote unless --show-texts.
    #[command(
        after_help = "Examples:\n  kufatilia-gateway export --since 2026-11-01 --format csv > incidents.csv\n  kufatilia-gateway export --since 2026-11-20T00:00:00+02:00 --format json"
    )]
    Export {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// A date (2026-11-01) or an RFC 3339 time.
        #[arg(long)]
        since: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: ops::ExportFormat,
        #[command(flatten)]
        reveal: RevealArgs,
    },
    /// Decode one SMS PDU (hex, as a modem prints it) into JSON.
    #[command(
        name = "decode-pdu",
        after_help = "Examples:\n  kufatilia-gateway decode-pdu 07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07\n  kufatilia-gateway decode-pdu < pdus.txt      (one PDU a line; `-` reads standard input too)"
    )]
    DecodePdu {
        /// The PDU in hex, with the SMSC part first; `-` or nothing reads one PDU a line from
        /// standard input.
        hex: Option<String>,
    },
    /// Run the reference platform receiver (for tests, demos and platform developers).
    #[cfg(feature = "demo")]
    #[command(
        name = "platform-stub",
        after_help = "Example:\n  kufatilia-gateway platform-stub --listen 127.0.0.1:8080 --db platform.db --gateway-id goma-01 --token-file token --secret-file secret\n\nSecret files must be mode 0600 and belong to the user running the stub."
    )]
    PlatformStub {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[arg(long)]
        db: PathBuf,
        /// The one gateway's id (its requests must carry it); without it the token may speak
        /// for any id.
        #[arg(long, conflicts_with = "gateways")]
        gateway_id: Option<String>,
        /// File holding the bearer token the gateway must present.
        #[arg(long, conflicts_with = "gateways")]
        token_file: Option<PathBuf>,
        /// File holding the HMAC secret the gateway signs with.
        #[arg(long, conflicts_with = "gateways")]
        secret_file: Option<PathBuf>,
        /// The key id of that secret.
        #[arg(long, default_value = "k1", conflicts_with = "gateways")]
        key_id: String,
        /// Several gateways, each with its token and secrets (two during a rotation): a TOML
        /// file of `[[gateway]]` tables (docs/platform-api.md).
        #[arg(long)]
        gateways: Option<PathBuf>,
        /// File holding the token of the admin endpoints (off without it).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
        /// Also accept v1 signatures (replayable inside the clock window), while gateways upgrade.
        #[arg(long)]
        accept_v1: bool,
        /// Allow listening on an address other than loopback (warned about).
        #[arg(long)]
        allow_remote: bool,
    },
}

/// What `status` and `export` reveal; each flag prints a warning on stderr.
#[derive(clap::Args)]
struct RevealArgs {
    /// Show reporters' full phone numbers (masked otherwise).
    #[arg(long)]
    show_numbers: bool,
    /// Show what reporters wrote, the places they named and the replies (left out otherwise).
    #[arg(long)]
    show_texts: bool,
}

impl RevealArgs {
    /// The choice, after saying on stderr what is revealed.
    fn announce(&self) -> ops::Reveal {
        let reveal = ops::Reveal {
            numbers: self.show_numbers,
            texts: self.show_texts,
        };
        if let Some(w) = reveal.warning() {
            eprintln!("warning: {w}");
        }
        reveal
    }
}

fn main() -> ExitCode {
    one_malloc_arena();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => exit::USAGE,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    logging::init(cli.verbose);
    if matches!(
        cli.command,
        Command::CheckConfig { .. }
            | Command::DecodePdu { .. }
            | Command::Status { .. }
            | Command::Export { .. }
    ) {
        die_quietly_on_closed_pipe();
    }
    match cli.command {
        Command::Run { config } => run(config),
        Command::CheckConfig { config } => check_config(config),
        Command::Doctor { config, record } => doctor(config, record),
        #[cfg(feature = "demo")]
        Command::Demo {
            platform_url,
            token_file,
            secret_file,
        } => {
            let options = demo::DemoOptions {
                platform: platform_url.map(|url| demo::OwnPlatform {
                    url,
                    token_file,
                    secret_file,
                }),
                ..demo::DemoOptions::default()
            };
            with_runtime(|rt| rt.block_on(demo::run(options)))
        }
        Command::DecodePdu { hex } => decode_pdu(hex.as_deref()),
        Command::Status {
            config,
            json,
            reveal,
        } => {
            let reveal = reveal.announce();
            with_config(&config, |c| {
                ops::status(c, json, reveal, &mut std::io::stdout().lock())
            })
        }
        Command::Send {
            config,
            modem,
            number,
            text,
            wait,
        } => send(&config, &modem, &number, &text, wait),
        Command::Unconfirmed {
            config,
            resend,
            sent,
            failed,
        } => {
            let decision = resend
                .map(|id| (id, store::Settle::Resend))
                .or(sent.map(|id| (id, store::Settle::Sent)))
                .or(failed.map(|id| (id, store::Settle::Failed)));
            unconfirmed(&config, decision)
        }
        Command::Requeue {
            config,
            batch,
            all,
            dry_run,
        } => {
            let choice = match (batch, all) {
                (Some(id), _) => ops::RequeueChoice::One(id),
                (None, true) => ops::RequeueChoice::All,
                (None, false) => ops::RequeueChoice::List,
            };
            requeue(&config, choice, dry_run)
        }
        Command::Export {
            config,
            since,
            format,
            reveal,
        } => export(&config, &since, format, reveal.announce()),
        #[cfg(feature = "demo")]
        Command::PlatformStub {
            listen,
            db,
            gateway_id,
            token_file,
            secret_file,
            key_id,
            gateways,
            admin_token_file,
            accept_v1,
            allow_remote,
        } => {
            let access = match gateways {
                Some(file) => stub_gateways_file(&file),
                None => stub_one_gateway(gateway_id, token_file, secret_file, key_id),
            };
            let admin = admin_token_file.as_deref().map(stub_token).transpose();
            match (access, admin) {
                (Ok(gateways), Ok(admin_token)) => {
                    let cfg = platform_stub::StubConfig {
                        db,
                        gateways,
                        admin_token,
                        accept_v1,
                    };
                    with_runtime(|rt| {
                        rt.block_on(platform_stub::run_cli(listen, cfg, allow_remote))
                    })
                }
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(exit::CONFIG)
                }
            }
        }
    }
}

/// One malloc arena for every thread. glibc gives each thread that allocates an arena of its own
/// (the runtime, the store thread, the resolver's), each keeping its freed memory: for a
/// daemon that allocates little and rarely at once, they only add resident memory
/// (docs/benchmarks.md, "What holds the memory").
fn one_malloc_arena() {
    // SAFETY: mallopt only sets a malloc parameter; called first in main, before any thread.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}

/// A printing command piped into `head` must end quietly when the pipe closes, as Unix filters
/// do, instead of panicking on the failed write. Only for commands that talk to no socket: with
/// SIGPIPE at its default a write to a closed TCP connection would kill the process.
fn die_quietly_on_closed_pipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called before any other thread exists, and SIG_DFL installs no handler code.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
    }
}

/// One thread runs every task: the daemon's work is waiting on the modems, the store thread and
/// the platform, and a second worker only added wake-ups across threads (futex calls, cache
/// misses) and a stack (docs/benchmarks.md, "Where the CPU goes"). SQLite runs on the store's
/// own thread, so a commit's fsync never holds the modem links up.
fn with_runtime(f: impl FnOnce(&tokio::runtime::Runtime) -> anyhow::Result<()>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::SOFTWARE);
        }
    };
    match f(&rt) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit_for(&e),
    }
}

/// Runs a synchronous command on a loaded config; errors exit 69 (the box's state) or 64.
fn with_config(path: &Path, f: impl FnOnce(&Config) -> anyhow::Result<()>) -> ExitCode {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match f(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit_for(&e),
    }
}

fn exit_for(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    if e.downcast_ref::<ops::UsageError>().is_some() {
        ExitCode::from(exit::USAGE)
    } else if e.downcast_ref::<daemon::ConfigProblem>().is_some() {
        ExitCode::from(exit::CONFIG)
    } else {
        ExitCode::from(exit::UNAVAILABLE)
    }
}

fn load_config(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(exit::CONFIG)
    })
}

/// The config and the keyword table it names; either one unreadable or invalid exits 78.
fn load_config_and_keywords(path: &Path) -> Result<(Config, intake::Keywords), ExitCode> {
    let config = load_config(path)?;
    let keywords = intake::Keywords::load(&config.keywords).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(exit::CONFIG)
    })?;
    Ok((config, keywords))
}

fn run(config: PathBuf) -> ExitCode {
    let (config, keywords) = match load_config_and_keywords(&config) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    // What check-config refuses, run refuses with the same words (and exit 78, which the
    // systemd unit does not restart on).
    let report = daemon::check(&config, &keywords);
    if !report.errors.is_empty() {
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        return ExitCode::from(exit::CONFIG);
    }
    with_runtime(|rt| rt.block_on(daemon::run(config, keywords)))
}

fn check_config(path: PathBuf) -> ExitCode {
    let (config, keywords) = match load_config_and_keywords(&path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let report = daemon::check(&config, &keywords);
    for line in &report.lines {
        println!("{line}");
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    if report.errors.is_empty() {
        println!("{}: OK", path.display());
        ExitCode::SUCCESS
    } else {
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        ExitCode::from(exit::CONFIG)
    }
}

fn doctor(path: PathBuf, record: Option<PathBuf>) -> ExitCode {
    let config = match load_config(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut good = false;
    let code = with_runtime(|rt| {
        let report = rt.block_on(kufatilia_gateway::doctor::run(
            &config,
            &kufatilia_gateway::doctor::DoctorOptions {
                record,
                ..kufatilia_gateway::doctor::DoctorOptions::default()
            },
        ));
        print!("{}", report.text);
        good = report.all_good();
        if good {
            println!("all good");
        } else {
            println!("{} problem(s) to fix", report.problems.len());
        }
        Ok(())
    });
    if good {
        code
    } else {
        ExitCode::from(exit::UNAVAILABLE)
    }
}

fn send(config: &Path, modem: &str, number: &str, text: &str, wait: Option<u64>) -> ExitCode {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    with_runtime(|rt| {
        rt.block_on(ops::send(
            &config,
            modem,
            number,
            text,
            wait.map(std::time::Duration::from_secs),
            &mut std::io::stdout().lock(),
        ))
    })
}

fn unconfirmed(config: &Path, decision: Option<(i64, store::Settle)>) -> ExitCode {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    with_runtime(|rt| {
        rt.block_on(ops::unconfirmed(
            &config,
            decision,
            &mut std::io::stdout().lock(),
        ))
    })
}

fn requeue(config: &Path, choice: ops::RequeueChoice, dry_run: bool) -> ExitCode {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    with_runtime(|rt| {
        rt.block_on(ops::requeue(
            &config,
            choice,
            dry_run,
            &mut std::io::stdout().lock(),
        ))
    })
}

fn export(config: &Path, since: &str, format: ops::ExportFormat, reveal: ops::Reveal) -> ExitCode {
    let since = match ops::parse_since(since) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    with_config(config, |c| {
        let n = ops::export(c, since, format, reveal, &mut std::io::stdout().lock())?;
        eprintln!("{n} incident(s) exported");
        if !reveal.texts {
            eprintln!("descriptions and places left out (--show-texts includes them)");
        }
        Ok(())
    })
}

/// Decodes the PDU given, or each non-empty line of standard input (`-` or no argument).
fn decode_pdu(hex: Option<&str>) -> ExitCode {
    let input = match hex {
        Some(h) if h != "-" => h.to_string(),
        _ => {
            let mut text = String::new();
            if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                eprintln!("error: cannot read standard input: {e}");
                return ExitCode::from(exit::DATA);
            }
            text
        }
    };
    let pdus: Vec<&str> = input
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if pdus.is_empty() {
        eprintln!("error: no PDU given: write it after decode-pdu, or pipe one PDU a line into it");
        return ExitCode::from(exit::USAGE);
    }
    let mut code = ExitCode::SUCCESS;
    for (i, hex) in pdus.iter().enumerate() {
        let which = if pdus.len() > 1 {
            format!(" (line {})", i + 1)
        } else {
            String::new()
        };
        match pdu::decode(hex) {
            Ok(p) => match serde_json::to_string_pretty(&pdu::to_json(&p)) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("error: cannot print the decoded PDU{which}: {e}");
                    return ExitCode::from(exit::SOFTWARE);
                }
            },
            Err(e) => {
                eprintln!("error: not a valid SMS PDU{which}: {e}");
                code = ExitCode::from(exit::DATA);
            }
        }
    }
    code
}

/// A stub credential file: mode 0600 and owned by the user running the stub, or refused.
#[cfg(feature = "demo")]
fn stub_secret(path: &Path) -> Result<Vec<u8>, String> {
    config::secrets::read_owned_secret(path).map_err(|e| e.to_string())
}

#[cfg(feature = "demo")]
fn stub_token(path: &Path) -> Result<String, String> {
    let bytes = stub_secret(path)?;
    String::from_utf8(bytes)
        .ok()
        .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            format!(
                "token file {} is not a single line of printable ASCII",
                path.display()
            )
        })
}

#[cfg(feature = "demo")]
fn stub_one_gateway(
    gateway_id: Option<String>,
    token_file: Option<PathBuf>,
    secret_file: Option<PathBuf>,
    key_id: String,
) -> Result<Vec<platform_stub::GatewayAccess>, String> {
    let token_file = token_file.ok_or(
        "platform-stub needs --token-file FILE (the gateway's bearer token, chmod 600) or --gateways FILE",
    )?;
    let token = stub_token(&token_file)?;
    let keys = match secret_file {
        Some(f) => vec![(key_id, stub_secret(&f)?)],
        None => Vec::new(),
    };
    Ok(vec![platform_stub::GatewayAccess {
        gateway_id,
        token,
        keys,
    }])
}

/// `--gateways FILE`: `[[gateway]]` tables with `id`, `token_file` and `secret_files`
/// (key id → file); relative paths are relative to FILE's directory.
#[cfg(feature = "demo")]
fn stub_gateways_file(file: &Path) -> Result<Vec<platform_stub::GatewayAccess>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Gateways {
        gateway: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        id: String,
        token_file: PathBuf,
        #[serde(default)]
        secret_files: std::collections::BTreeMap<String, PathBuf>,
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let parsed: Gateways = toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    parsed
        .gateway
        .into_iter()
        .map(|g| {
            let keys = g
                .secret_files
                .iter()
                .map(|(key_id, f)| Ok((key_id.clone(), stub_secret(&base.join(f))?)))
                .collect::<Result<Vec<_>, String>>()?;
            Ok(platform_stub::GatewayAccess {
                gateway_id: Some(g.id),
                token: stub_token(&base.join(&g.token_file))?,
                keys,
            })
        })
        .collect()
}
