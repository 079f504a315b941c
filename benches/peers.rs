//! Kufatilia Gateway beside gammu-smsd and smstools, on the same simulated modem: receive latency
//! (from the message landing in the SIM, announced by `+CMTI`, to the message stored: our store,
//! their inbox file), CPU seconds and peak RSS of each daemon over the run, then the idle cost of
//! each with one idle modem.
//!
//! Each daemon is a separate process opening the simulator's pty exactly as it would open a USB
//! modem; this harness runs the simulator, injects the messages and watches for them to be stored,
//! polling every millisecond (far below the latencies measured). Every daemon runs with its
//! packaged defaults; only the device and the directories are set.
//!
//! Run by `bench/run.sh`, or by hand:
//! `cargo bench --bench peers -- --gateway target/release/kufatilia-gateway --runs 3`.
//! It prints a Markdown report on stdout and progress on stderr.
// A benchmark may unwrap: it measures, it does not run in the field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use config::secrets;
use modem_sim::{SimConfig, SimModem};
use platform_stub::{PlatformStub, StubConfig};

#[derive(Parser, Debug)]
struct Args {
    /// The gateway binary to measure (a release build).
    #[arg(long, default_value = "target/release/kufatilia-gateway")]
    gateway: PathBuf,
    /// Daemons to measure, comma-separated: kufatilia, gammu, smstools.
    #[arg(
        long,
        default_value = "kufatilia,gammu,smstools",
        value_delimiter = ','
    )]
    peers: Vec<String>,
    /// Runs per daemon; the report gives the median of the runs.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Messages injected per run.
    #[arg(long, default_value_t = 200)]
    messages: usize,
    /// Gap between two injected messages, in milliseconds.
    #[arg(long, default_value_t = 100)]
    gap_ms: u64,
    /// Length of each idle measurement, in seconds (0: no idle measurement).
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// Only run the simulated modem at this path (a symlink to its pty) and print what it
    /// receives, injecting a report every 5 s: to try a daemon against it by hand.
    #[arg(long)]
    sim_only: Option<PathBuf>,
    /// `cargo bench` passes this; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Kufatilia,
    Gammu,
    Smstools,
}

impl Peer {
    fn parse(s: &str) -> anyhow::Result<Peer> {
        Ok(match s.trim() {
            "kufatilia" => Peer::Kufatilia,
            "gammu" => Peer::Gammu,
            "smstools" => Peer::Smstools,
            other => bail!("unknown daemon {other:?}: expected kufatilia, gammu or smstools"),
        })
    }

    fn label(self) -> &'static str {
        match self {
            Peer::Kufatilia => "Kufatilia Gateway",
            Peer::Gammu => "gammu-smsd",
            Peer::Smstools => "smstools (smsd)",
        }
    }

    fn version(self, gateway: &Path) -> String {
        let (prog, arg) = match self {
            Peer::Kufatilia => (gateway.as_os_str().to_owned(), "--version"),
            Peer::Gammu => ("gammu-smsd".into(), "--version"),
            Peer::Smstools => ("smsd".into(), "-V"),
        };
        Command::new(prog)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                text.lines()
                    .map(str::trim)
                    .find(|l| l.chars().any(|c| c.is_ascii_digit()))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "unknown version".into())
    }
}

/// One daemon running against the simulator, in its own directory.
struct Running {
    peer: Peer,
    dir: PathBuf,
    child: Child,
    /// Our store, once the daemon created it.
    db: Option<rusqlite::Connection>,
    last_message_id: i64,
    seen_files: std::collections::HashSet<PathBuf>,
}

const TOKEN: &str = "bench-token";

fn start(
    peer: Peer,
    dir: &Path,
    device: &Path,
    gateway: &Path,
    platform_url: &str,
) -> anyhow::Result<Running> {
    let log = std::fs::File::create(dir.join("daemon.log"))?;
    let mut cmd = match peer {
        Peer::Kufatilia => {
            secrets::write_secret(&dir.join("token"), TOKEN.as_bytes())?;
            std::fs::write(
                dir.join("keywords.toml"),
                include_str!("../config/keywords.toml"),
            )?;
            std::fs::write(
                dir.join("gateway.toml"),
                format!(
                    "gateway_id = \"bench\"\ndatabase = \"gateway.db\"\n\n[[modem]]\nname = \"sim\"\n\
                     device = {device:?}\n\n[platform]\nurl = {platform_url:?}\ntoken_file = \"token\"\n\n\
                     [privacy]\npseudonym_secret_file = \"pseudonym.key\"\n"
                ),
            )?;
            let mut c = Command::new(gateway);
            c.arg("run").arg("--config").arg(dir.join("gateway.toml"));
            c
        }
        Peer::Gammu => {
            for d in ["inbox", "outbox", "sent", "error"] {
                std::fs::create_dir_all(dir.join(d))?;
            }
            std::fs::write(
                dir.join("smsdrc"),
                format!(
                    "[gammu]\ndevice = {}\nconnection = at\n{}\n[smsd]\nservice = files\n\
                     inboxpath = {}/\noutboxpath = {}/\nsentsmspath = {}/\nerrorsmspath = {}/\n\
                     logfile = {}\ndebuglevel = {}\n",
                    device.display(),
                    if std::env::var_os("PEERS_KEEP").is_some() {
                        format!(
                            "logfile = {}\nlogformat = textalldate\n",
                            dir.join("gammu.log").display()
                        )
                    } else {
                        String::new()
                    },
                    dir.join("inbox").display(),
                    dir.join("outbox").display(),
                    dir.join("sent").display(),
                    dir.join("error").display(),
                    dir.join("smsd.log").display(),
                    if std::env::var_os("PEERS_KEEP").is_some() {
                        3
                    } else {
                        0
                    },
                ),
            )?;
            let mut c = Command::new("gammu-smsd");
            c.arg("--config").arg(dir.join("smsdrc"));
            c
        }
        Peer::Smstools => {
            for d in ["incoming", "outgoing", "checked", "failed", "sent"] {
                std::fs::create_dir_all(dir.join(d))?;
            }
            std::fs::write(
                dir.join("smsd.conf"),
                format!(
                    "devices = GSM1\nincoming = {}\noutgoing = {}\nchecked = {}\nfailed = {}\n\
                     sent = {}\nlogfile = {}\nloglevel = 5\ninfofile = {}\npidfile = {}\n\n\
                     [GSM1]\ndevice = {}\nincoming = yes\n",
                    dir.join("incoming").display(),
                    dir.join("outgoing").display(),
                    dir.join("checked").display(),
                    dir.join("failed").display(),
                    dir.join("sent").display(),
                    dir.join("smsd.log").display(),
                    dir.join("smsd.working").display(),
                    dir.join("smsd.pid").display(),
                    device.display(),
                ),
            )?;
            let mut c = Command::new("smsd");
            c.arg("-t")
                .arg(format!("-c{}", dir.join("smsd.conf").display()))
                .arg("-uroot")
                .arg("-groot");
            c
        }
    };
    use std::os::unix::process::CommandExt;
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", peer.label()))?;
    Ok(Running {
        peer,
        dir: dir.to_owned(),
        child,
        db: None,
        last_message_id: 0,
        seen_files: Default::default(),
    })
}

impl Running {
    /// Tokens of the messages stored since the last call.
    fn newly_stored(&mut self) -> Vec<usize> {
        match self.peer {
            Peer::Kufatilia => self.new_in_store(),
            Peer::Gammu => self.new_files("inbox"),
            Peer::Smstools => self.new_files("incoming"),
        }
    }

    fn new_in_store(&mut self) -> Vec<usize> {
        if self.db.is_none() {
            let path = self.dir.join("gateway.db");
            if !path.exists() {
                return Vec::new();
            }
            self.db = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .ok();
        }
        let Some(db) = &self.db else {
            return Vec::new();
        };
        let rows: Vec<(i64, String)> = db
            .prepare_cached("SELECT id, text FROM messages WHERE id > ?1 ORDER BY id")
            .and_then(|mut st| {
                st.query_map([self.last_message_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .unwrap_or_default();
        if let Some((id, _)) = rows.last() {
            self.last_message_id = *id;
        }
        rows.iter().filter_map(|(_, t)| token_in(t)).collect()
    }

    fn new_files(&mut self, sub: &str) -> Vec<usize> {
        let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            if self.seen_files.contains(&path) {
                continue;
            }
            // A file still being written has no token yet: look again at the next poll.
            if let Some(t) = std::fs::read(&path)
                .ok()
                .and_then(|b| token_in(&String::from_utf8_lossy(&b)))
            {
                self.seen_files.insert(path);
                found.push(t);
            }
        }
        found
    }

    fn pids(&self) -> Vec<u32> {
        process_tree(self.child.id())
    }

    fn stop(mut self) {
        let pgid = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The number after "kb" in a message text: each injected message carries its own.
fn token_in(text: &str) -> Option<usize> {
    let at = text.find(" kb")?;
    let digits: String = text[at + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Reports as miners write them, in the three languages; each gets a token at the end.
const REPORTS: &[&str] = &[
    "AJALI mgodi wa Kalimbi, watu wawili wamejeruhiwa",
    "USHURU haramu kwenye kizuizi cha Nyabibwe",
    "Barriere a Nyabibwe, 5000 FC par sac",
    "Groupe arme pres de Walikale",
    "Accident at the Bisie mine, two men injured",
    "Children working at the shaft",
];

/// `pid` and its descendants (smstools runs one process per modem beside its main one).
fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ppid) = stat_fields(p).and_then(|f| f.get(1).and_then(|s| s.parse().ok())) {
                parents.entry(ppid).or_default().push(p);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = parents.get(&out[i]) {
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// Fields of /proc/PID/stat after the command name (field 3, the state, comes first).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.get(text.rfind(')')? + 2..)?;
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// CPU seconds used so far by these processes, with their reaped children.
fn cpu_seconds(pids: &[u32]) -> f64 {
    // /proc counts in USER_HZ, which Linux fixes at 100 on every architecture.
    let ticks = 100.0;
    pids.iter()
        .filter_map(|p| stat_fields(*p))
        // utime, stime, cutime, cstime are fields 14..=17; the slice starts at field 3.
        .map(|f| {
            f.get(11..15)
                .unwrap_or_default()
                .iter()
                .filter_map(|s| s.parse::<f64>().ok())
                .sum::<f64>()
        })
        .sum::<f64>()
        / ticks
}

/// Sum over the processes of a /proc/PID/status field in KiB (VmHWM: peak RSS, VmRSS: now).
fn status_kib(pids: &[u32], field: &str) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

/// Waits until the daemon has set the modem up and looked at its storage once.
fn wait_ready(sim: &SimModem, run: &mut Running) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let log = sim.command_log();
        // Indications asked for, or the storage looked at: the start-up is nearly over.
        let looked = log.iter().any(|l| {
            l.starts_with("AT+CNMI=")
                || l.starts_with("AT+CMGL")
                || l.starts_with("AT+CMGR")
                || l.starts_with("AT+CPMS?")
        });
        if looked {
            // Let the rest of its start-up sequence go by.
            std::thread::sleep(Duration::from_secs(3));
            return Ok(());
        }
        if let Ok(Some(status)) = run.child.try_wait() {
            let log = std::fs::read_to_string(run.dir.join("daemon.log")).unwrap_or_default();
            bail!(
                "{} exited ({status}) before it was ready; it said:\n{log}",
                run.peer.label()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} never read the modem's storage; its commands: {:?}",
                run.peer.label(),
                log.iter().rev().take(20).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct RunResult {
    latencies_ms: Vec<f64>,
    stored: usize,
    cpu_s: f64,
    peak_rss_kib: u64,
}

struct IdleResult {
    cpu_s: f64,
    rss_kib: u64,
    peak_rss_kib: u64,
}

/// A directory for one daemon run; kept (and named on stderr) when `PEERS_KEEP` is set, to read
/// the daemons' logs after a failed run.
fn run_dir() -> anyhow::Result<tempfile::TempDir> {
    let mut dir = tempfile::Builder::new().prefix("peers-").tempdir()?;
    if std::env::var_os("PEERS_KEEP").is_some() {
        dir.disable_cleanup(true);
        eprintln!("  kept: {}", dir.path().display());
    }
    Ok(dir)
}

async fn new_sim(dir: &Path) -> anyhow::Result<SimModem> {
    Ok(SimModem::start(SimConfig {
        // Room for the whole burst: the measured time is the daemon's, not a full SIM's.
        slots: 255,
        me_slots: 255,
        link: Some(dir.join("modem")),
        ..SimConfig::default()
    })
    .await?)
}

/// A fresh simulated modem and the daemon started on it, once it is ready.
async fn launch(
    peer: Peer,
    args: &Args,
    stub_url: &str,
) -> anyhow::Result<(tempfile::TempDir, SimModem, Running)> {
    let dir = run_dir()?;
    let sim = new_sim(dir.path()).await?;
    let mut run = start(
        peer,
        dir.path(),
        &sim.device_path(),
        &args.gateway,
        stub_url,
    )?;
    tokio::task::block_in_place(|| wait_ready(&sim, &mut run))?;
    Ok((dir, sim, run))
}

async fn latency_run(
    peer: Peer,
    args: &Args,
    stub_url: &str,
    sim_number: usize,
) -> anyhow::Result<RunResult> {
    let (_dir, sim, mut run) = launch(peer, args, stub_url).await?;

    let pids = run.pids();
    let cpu_before = cpu_seconds(&pids);
    let smsc = "+243990000001";
    let mut injected_at: Vec<Option<Instant>> = vec![None; args.messages];
    let mut stored_at: Vec<Option<Instant>> = vec![None; args.messages];
    let gap = Duration::from_millis(args.gap_ms);
    let started = Instant::now();
    let mut next = 0;
    let mut stored = 0;
    let deadline_after_last = Duration::from_secs(120);
    let mut last_injected = None;
    loop {
        if next < args.messages && started.elapsed() >= gap * next as u32 {
            let from = format!("+24381{:03}{:04}", sim_number % 1000, next);
            let text = format!("{} kb{next:04}", REPORTS[next % REPORTS.len()]);
            let pdus = modem_sim::encode_deliver(
                &from,
                &text,
                time::OffsetDateTime::now_utc(),
                smsc,
                (next % 250) as u8,
            )
            .map_err(anyhow::Error::msg)?;
            injected_at[next] = Some(Instant::now());
            for p in pdus {
                sim.inject_pdu(&p);
            }
            next += 1;
            if next == args.messages {
                last_injected = Some(Instant::now());
            }
        }
        for t in run.newly_stored() {
            if t < args.messages && stored_at[t].is_none() {
                stored_at[t] = Some(Instant::now());
                stored += 1;
            }
        }
        if stored == args.messages {
            break;
        }
        if last_injected.is_some_and(|l| l.elapsed() > deadline_after_last) {
            eprintln!(
                "  {} stored {stored} of {} messages within {:?} of the last one",
                peer.label(),
                args.messages,
                deadline_after_last
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let pids = run.pids();
    let cpu_s = cpu_seconds(&pids) - cpu_before;
    let peak_rss_kib = status_kib(&pids, "VmHWM:");
    run.stop();
    drop(sim);
    let mut latencies_ms: Vec<f64> = injected_at
        .iter()
        .zip(&stored_at)
        .filter_map(|(i, s)| Some(s.as_ref()?.duration_since(*i.as_ref()?).as_secs_f64() * 1e3))
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    Ok(RunResult {
        latencies_ms,
        stored,
        cpu_s,
        peak_rss_kib,
    })
}

async fn idle_run(peer: Peer, args: &Args, stub_url: &str) -> anyhow::Result<IdleResult> {
    let (_dir, _sim, run) = launch(peer, args, stub_url).await?;
    // Past start-up (first heartbeat, first sweep) before the window opens.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pids = run.pids();
    let before = cpu_seconds(&pids);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let pids = run.pids();
    if std::env::var_os("PEERS_KEEP").is_some() {
        for p in &pids {
            let _ = std::fs::copy(
                format!("/proc/{p}/status"),
                run.dir.join(format!("status.{p}")),
            );
            let _ = std::fs::copy(
                format!("/proc/{p}/smaps_rollup"),
                run.dir.join(format!("smaps_rollup.{p}")),
            );
            let _ = std::fs::copy(
                format!("/proc/{p}/smaps"),
                run.dir.join(format!("smaps.{p}")),
            );
        }
    }
    let result = IdleResult {
        cpu_s: cpu_seconds(&pids) - before,
        rss_kib: status_kib(&pids, "VmRSS:"),
        peak_rss_kib: status_kib(&pids, "VmHWM:"),
    };
    run.stop();
    Ok(result)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    format!("{cores} cores, {cpu}, load average {load} at the start")
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

struct PeerSummary {
    peer: Peer,
    p50: f64,
    p95: f64,
    p99: f64,
    stored: String,
    cpu_s: f64,
    peak_rss_kib: u64,
    runs: Vec<RunResult>,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    let peers: Vec<Peer> = args
        .peers
        .iter()
        .map(|p| Peer::parse(p))
        .collect::<anyhow::Result<_>>()?;
    if let Some(link) = args.sim_only.clone() {
        return tokio::runtime::Runtime::new()?.block_on(sim_only(link));
    }
    if !args.gateway.exists() {
        bail!(
            "{} not found: build it first (cargo build --release)",
            args.gateway.display()
        );
    }
    // The daemons run in their own directories.
    args.gateway = std::fs::canonicalize(&args.gateway)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run_all(args, peers))
}

async fn sim_only(link: PathBuf) -> anyhow::Result<()> {
    let sim = SimModem::start(SimConfig {
        slots: 255,
        link: Some(link.clone()),
        ..SimConfig::default()
    })
    .await?;
    eprintln!("simulated modem at {}; Ctrl-C to stop", link.display());
    let mut shown = 0;
    let mut n = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let log = sim.command_log();
        for line in &log[shown.min(log.len())..] {
            eprintln!("<- {line}");
        }
        shown = log.len();
        n += 1;
        if n % 50 == 0 {
            sim.inject("+243810000001", &format!("{} kb{:04}", REPORTS[0], n / 50));
            eprintln!("-- injected kb{:04}", n / 50);
        }
    }
}

async fn run_all(args: Args, peers: Vec<Peer>) -> anyhow::Result<()> {
    let machine = machine();
    let stub_dir = tempfile::tempdir()?;
    let stub = PlatformStub::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        StubConfig::single(stub_dir.path().join("platform.db"), TOKEN, None),
    )
    .await?;
    let url = stub.url();

    let mut summaries = Vec::new();
    let mut sim_number = 0;
    for &peer in &peers {
        let mut runs = Vec::new();
        for i in 0..args.runs {
            sim_number += 1;
            eprintln!(
                "receive latency: {} run {}/{}",
                peer.label(),
                i + 1,
                args.runs
            );
            let r = latency_run(peer, &args, &url, sim_number).await?;
            eprintln!(
                "  p50 {} p95 {} p99 {}, {} stored, {:.2} CPU s, peak RSS {} KiB",
                fmt_ms(percentile(&r.latencies_ms, 50.0)),
                fmt_ms(percentile(&r.latencies_ms, 95.0)),
                fmt_ms(percentile(&r.latencies_ms, 99.0)),
                r.stored,
                r.cpu_s,
                r.peak_rss_kib
            );
            runs.push(r);
        }
        let med = |f: &dyn Fn(&RunResult) -> f64| median(runs.iter().map(f).collect());
        summaries.push(PeerSummary {
            peer,
            p50: med(&|r| percentile(&r.latencies_ms, 50.0)),
            p95: med(&|r| percentile(&r.latencies_ms, 95.0)),
            p99: med(&|r| percentile(&r.latencies_ms, 99.0)),
            stored: runs
                .iter()
                .map(|r| r.stored.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            cpu_s: med(&|r| r.cpu_s),
            peak_rss_kib: med(&|r| r.peak_rss_kib as f64) as u64,
            runs,
        });
    }

    let mut idle = Vec::new();
    if args.idle_secs > 0 {
        for &peer in &peers {
            let mut rs = Vec::new();
            for i in 0..args.runs {
                eprintln!(
                    "idle cost: {} run {}/{} ({} s)",
                    peer.label(),
                    i + 1,
                    args.runs,
                    args.idle_secs
                );
                let r = idle_run(peer, &args, &url).await?;
                eprintln!(
                    "  {:.3} CPU s, RSS {} KiB, peak {} KiB",
                    r.cpu_s, r.rss_kib, r.peak_rss_kib
                );
                rs.push(r);
            }
            idle.push((peer, rs));
        }
    }
    print_report(&args, &machine, &summaries, &idle);
    Ok(())
}

fn print_report(
    args: &Args,
    machine: &str,
    summaries: &[PeerSummary],
    idle: &[(Peer, Vec<IdleResult>)],
) {
    println!(
        "Machine: {machine}. {} messages per run, one every {} ms, {} run(s) per daemon; \
         each figure is the median over the runs.\n",
        args.messages, args.gap_ms, args.runs
    );
    for s in summaries {
        println!("- {}: {}", s.peer.label(), s.peer.version(&args.gateway));
    }
    println!();
    println!(
        "| daemon | p50 | p95 | p99 | stored per run | CPU s over the run | peak RSS |\n\
         | --- | ---: | ---: | ---: | --- | ---: | ---: |"
    );
    for s in summaries {
        println!(
            "| {} | {} | {} | {} | {} of {} | {:.2} | {:.1} MiB |",
            s.peer.label(),
            fmt_ms(s.p50),
            fmt_ms(s.p95),
            fmt_ms(s.p99),
            s.stored,
            args.messages,
            s.cpu_s,
            s.peak_rss_kib as f64 / 1024.0
        );
    }
    if let Some(ours) = summaries.iter().find(|s| s.peer == Peer::Kufatilia) {
        println!();
        for s in summaries.iter().filter(|s| s.peer != Peer::Kufatilia) {
            println!(
                "- Median receive latency: Kufatilia Gateway is {:.0}× lower than {} \
                 (p95: {:.0}×, p99: {:.0}×).",
                s.p50 / ours.p50,
                s.peer.label(),
                s.p95 / ours.p95,
                s.p99 / ours.p99
            );
        }
    }
    println!("\nEvery run (p50 / p95 / p99, CPU s, peak RSS):\n");
    for s in summaries {
        let runs: Vec<String> = s
            .runs
            .iter()
            .map(|r| {
                format!(
                    "{} / {} / {}, {:.2} s, {:.1} MiB",
                    fmt_ms(percentile(&r.latencies_ms, 50.0)),
                    fmt_ms(percentile(&r.latencies_ms, 95.0)),
                    fmt_ms(percentile(&r.latencies_ms, 99.0)),
                    r.cpu_s,
                    r.peak_rss_kib as f64 / 1024.0
                )
            })
            .collect();
        println!("- {}: {}", s.peer.label(), runs.join("; "));
    }
    if idle.is_empty() {
        return;
    }
    println!(
        "\nIdle cost: one idle modem, {} s window after start-up, median of {} run(s):\n",
        args.idle_secs, args.runs
    );
    println!(
        "| daemon | CPU s in the window | CPU % | RSS at the end | peak RSS |\n\
         | --- | ---: | ---: | ---: | ---: |"
    );
    for (peer, rs) in idle {
        let cpu = median(rs.iter().map(|r| r.cpu_s).collect());
        let rss = median(rs.iter().map(|r| r.rss_kib as f64).collect());
        let peak = median(rs.iter().map(|r| r.peak_rss_kib as f64).collect());
        println!(
            "| {} | {:.3} | {:.3} % | {:.1} MiB | {:.1} MiB |",
            peer.label(),
            cpu,
            cpu / args.idle_secs as f64 * 100.0,
            rss / 1024.0,
            peak / 1024.0
        );
    }
}
