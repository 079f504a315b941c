//! Kufatilia Gateway beside gammu-smsd and smstools, on the same simulated modem and the same job:
//! every report stored and acknowledged by SMS. For each daemon: receive latency (from the
//! message landing in the SIM, announced by `+CMTI`, to the message stored: our store, their inbox
//! file), report-to-acknowledgement time (to the `AT+CMGS` of the reply reaching the modem), CPU
//! seconds (children included) and peak RSS once every acknowledgement has gone out, and what
//! reached the disk per report (bytes and fsyncs); then the idle cost and, for ours, the start-up
//! time to `READY=1` (systemd notify). Ours also runs with 4 modems at once and under a flood.
//!
//! Each daemon is a separate process opening the simulator's pty exactly as it would open a USB
//! modem; this harness runs the simulator, injects the messages and watches for them to be stored
//! and acknowledged, polling every millisecond (far below the latencies measured). Every daemon
//! runs with its packaged defaults; only the device and the directories are set, and the peers
//! acknowledge as their users script it: gammu-smsd's `RunOnReceive` calling
//! `gammu-smsd-inject`, smstools' `eventhandler` writing the reply into `outgoing/`.
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
    /// Modems of our 4-modem run (0: none); each gets `--messages` reports, one every `--gap-ms`.
    #[arg(long, default_value_t = 4)]
    modems: usize,
    /// Reports of the flood run on one modem for ours (0: none), injected every `--flood-gap-ms`.
    #[arg(long, default_value_t = 1000)]
    flood: usize,
    #[arg(long, default_value_t = 10)]
    flood_gap_ms: u64,
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
    /// The child is `perf stat` counting the daemon's fsyncs: its own pid is not the daemon's.
    counted: Option<Instant>,
    /// Our store, once the daemon created it.
    db: Option<rusqlite::Connection>,
    last_message_id: i64,
    seen_files: std::collections::HashSet<PathBuf>,
}

const TOKEN: &str = "bench-token";

/// What the peers answer to a report: about the length of ours.
const PEER_ACK: &str = "Asante, ripoti yako imepokelewa. Tutaifuatilia. Kumbukumbu itafuata.";

/// What a run needs of the daemon beyond its defaults.
#[derive(Clone, Default)]
struct Setup {
    /// Lines added to our `[[modem]]` sections (e.g. a shorter `send_gap` for the flood).
    modem_extra: String,
    /// Lines added to our `[replies]` section (the daily budget, for runs above 300 reports).
    replies_extra: String,
    /// Count fsyncs with `perf stat` around the daemon.
    count_fsyncs: bool,
    /// Wait for `READY=1` on a notify socket (ours): start-up time and RSS then.
    notify: bool,
}

/// The syscalls counted as the daemon's flushes to the card.
const FSYNC_EVENTS: &str = "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_sync_file_range,syscalls:sys_enter_msync";

/// Whether `perf` can count syscalls here (root, or a permissive perf_event_paranoid).
fn perf_counts_syscalls() -> bool {
    std::env::var_os("PEERS_NO_PERF").is_none()
        && Command::new("perf")
            .args(["stat", "-x,", "-e", FSYNC_EVENTS, "--", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn start(
    peer: Peer,
    dir: &Path,
    devices: &[PathBuf],
    gateway: &Path,
    platform_url: &str,
    setup: &Setup,
) -> anyhow::Result<Running> {
    let log = std::fs::File::create(dir.join("daemon.log"))?;
    let device = &devices[0];
    let mut cmd = match peer {
        Peer::Kufatilia => {
            secrets::write_secret(&dir.join("token"), TOKEN.as_bytes())?;
            std::fs::write(
                dir.join("keywords.toml"),
                include_str!("../config/keywords.toml"),
            )?;
            let mut conf = String::from("gateway_id = \"bench\"\ndatabase = \"gateway.db\"\n\n");
            for (i, d) in devices.iter().enumerate() {
                conf += &format!(
                    "[[modem]]\nname = \"sim{i}\"\ndevice = {d:?}\n{}\n",
                    setup.modem_extra
                );
            }
            conf += &format!(
                "[platform]\nurl = {platform_url:?}\ntoken_file = \"token\"\n\n\
                 [privacy]\npseudonym_secret_file = \"pseudonym.key\"\n\n[replies]\n{}\n",
                setup.replies_extra
            );
            std::fs::write(dir.join("gateway.toml"), conf)?;
            let mut c = Command::new(gateway);
            c.arg("run").arg("--config").arg(dir.join("gateway.toml"));
            c
        }
        Peer::Gammu => {
            for d in ["inbox", "outbox", "sent", "error"] {
                std::fs::create_dir_all(dir.join(d))?;
            }
            // As gammu-smsd's manual scripts it: RunOnReceive gets SMS_MESSAGES and
            // SMS_n_NUMBER in its environment, and queues the answer with gammu-smsd-inject.
            let script = dir.join("ack.sh");
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\ni=1\nwhile [ \"$i\" -le \"${{SMS_MESSAGES:-0}}\" ]; do\n\
                     \teval \"num=\\$SMS_${{i}}_NUMBER\"\n\
                     \tgammu-smsd-inject -c {} TEXT \"$num\" -text {PEER_ACK:?} >/dev/null 2>&1\n\
                     \ti=$((i + 1))\ndone\n",
                    dir.join("smsdrc").display()
                ),
            )?;
            make_executable(&script)?;
            std::fs::write(
                dir.join("smsdrc"),
                format!(
                    "[gammu]\ndevice = {}\nconnection = at\n{}\n[smsd]\nservice = files\n\
                     inboxpath = {}/\noutboxpath = {}/\nsentsmspath = {}/\nerrorsmspath = {}/\n\
                     logfile = {}\ndebuglevel = {}\nrunonreceive = {}\n",
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
                    script.display(),
                ),
            )?;
            let mut c = Command::new("gammu-smsd");
            c.arg("--config").arg(dir.join("smsdrc"));
            c
        }
        Peer::Smstools => {
            for d in ["incoming", "outgoing", "checked", "failed", "sent", "tmp"] {
                std::fs::create_dir_all(dir.join(d))?;
            }
            // As smstools' manual scripts it: the eventhandler gets RECEIVED and the message
            // file, and drops the answer into outgoing/ in one rename.
            let script = dir.join("ack.sh");
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\n[ \"$1\" = RECEIVED ] || exit 0\n\
                     from=$(sed -n 's/^From: //p' \"$2\" | head -n 1)\n\
                     tmp=$(mktemp {tmp}/ack.XXXXXX)\n\
                     printf 'To: %s\\n\\n%s\\n' \"$from\" {PEER_ACK:?} > \"$tmp\"\n\
                     mv \"$tmp\" {out}/\n",
                    tmp = dir.join("tmp").display(),
                    out = dir.join("outgoing").display(),
                ),
            )?;
            make_executable(&script)?;
            std::fs::write(
                dir.join("smsd.conf"),
                format!(
                    "devices = GSM1\nincoming = {}\noutgoing = {}\nchecked = {}\nfailed = {}\n\
                     sent = {}\nlogfile = {}\nloglevel = {}\ninfofile = {}\npidfile = {}\n\
                     eventhandler = {}\n\n\
                     [GSM1]\ndevice = {}\nincoming = yes\n",
                    dir.join("incoming").display(),
                    dir.join("outgoing").display(),
                    dir.join("checked").display(),
                    dir.join("failed").display(),
                    dir.join("sent").display(),
                    dir.join("smsd.log").display(),
                    if std::env::var_os("PEERS_KEEP").is_some() {
                        7
                    } else {
                        5
                    },
                    dir.join("smsd.working").display(),
                    dir.join("smsd.pid").display(),
                    script.display(),
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
    if setup.count_fsyncs {
        let mut wrapped = Command::new("perf");
        wrapped
            .args(["stat", "-x,", "-I", "100", "-e", FSYNC_EVENTS, "-o"])
            .arg(dir.join("fsyncs.csv"))
            .arg("--")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        cmd = wrapped;
    }
    let notify = if setup.notify {
        let path = dir.join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path)?;
        cmd.env("NOTIFY_SOCKET", &path);
        Some(socket)
    } else {
        None
    };
    use std::os::unix::process::CommandExt;
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let spawned = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", peer.label()))?;
    let mut run = Running {
        peer,
        dir: dir.to_owned(),
        child,
        counted: setup.count_fsyncs.then_some(spawned),
        db: None,
        last_message_id: 0,
        seen_files: Default::default(),
    };
    if let Some(socket) = notify {
        run.wait_notify_ready(&socket, spawned)?;
    }
    Ok(run)
}

fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Start-up of one daemon: from spawn to `READY=1`, and its RSS then.
#[derive(Clone, Copy)]
struct StartUp {
    ms: f64,
    rss_kib: u64,
}

impl Running {
    /// Waits for `READY=1` on the notify socket and records the start-up in `startup.txt`.
    fn wait_notify_ready(
        &mut self,
        socket: &std::os::unix::net::UnixDatagram,
        spawned: Instant,
    ) -> anyhow::Result<()> {
        socket.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut buf = [0u8; 4096];
        loop {
            let n = socket
                .recv(&mut buf)
                .context("no READY=1 on the notify socket within 60 s")?;
            let ms = spawned.elapsed().as_secs_f64() * 1e3;
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1")
            {
                let rss = status_kib(&self.pids(), "VmRSS:");
                std::fs::write(self.dir.join("startup.txt"), format!("{ms} {rss}"))?;
                return Ok(());
            }
        }
    }

    fn startup(&self) -> Option<StartUp> {
        let text = std::fs::read_to_string(self.dir.join("startup.txt")).ok()?;
        let mut f = text.split_whitespace();
        Some(StartUp {
            ms: f.next()?.parse().ok()?,
            rss_kib: f.next()?.parse().ok()?,
        })
    }

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

    /// The daemon's processes (without `perf` when it counts around it).
    fn pids(&self) -> Vec<u32> {
        let mut pids = process_tree(self.child.id());
        if self.counted.is_some() {
            pids.retain(|p| *p != self.child.id());
        }
        pids
    }

    /// Fsyncs counted between two instants (perf's 100 ms intervals that end between them).
    fn fsyncs_between(&self, from: Instant, to: Instant) -> Option<u64> {
        let spawned = self.counted?;
        let text = std::fs::read_to_string(self.dir.join("fsyncs.csv")).ok()?;
        let (a, b) = (
            from.duration_since(spawned).as_secs_f64(),
            to.duration_since(spawned).as_secs_f64() + 0.1,
        );
        Some(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let mut f = l.split(',');
                    let t: f64 = f.next()?.trim().parse().ok()?;
                    let n: u64 = f.next()?.trim().parse().ok()?;
                    (t > a && t <= b).then_some(n)
                })
                .sum(),
        )
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

/// What the processes (their reaped children included, which the kernel adds to the parent
/// when it reaps them) wrote so far: bytes handed to `write` and bytes sent to the disk.
#[derive(Clone, Copy, Default)]
struct Io {
    wchar: u64,
    write_bytes: u64,
}

fn io(pids: &[u32]) -> Io {
    let mut sum = Io::default();
    for p in pids {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{p}/io")) else {
            continue;
        };
        for l in text.lines() {
            let mut f = l.split(':');
            let (Some(k), Some(v)) = (
                f.next(),
                f.next().and_then(|v| v.trim().parse::<u64>().ok()),
            ) else {
                continue;
            };
            match k {
                "wchar" => sum.wchar += v,
                "write_bytes" => sum.write_bytes += v,
                _ => {}
            }
        }
    }
    sum
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
    reports: usize,
    latencies_ms: Vec<f64>,
    ack_ms: Vec<f64>,
    stored: usize,
    acked: usize,
    cpu_s: f64,
    peak_rss_kib: u64,
    io: Io,
    fsyncs: Option<u64>,
}

impl RunResult {
    fn cpu_ms_per_report(&self) -> f64 {
        self.cpu_s * 1e3 / self.reports as f64
    }
    fn kb_per_report(&self) -> f64 {
        self.io.write_bytes as f64 / 1024.0 / self.reports as f64
    }
    fn fsyncs_per_report(&self) -> Option<f64> {
        Some(self.fsyncs? as f64 / self.reports as f64)
    }
}

struct IdleResult {
    cpu_s: f64,
    rss_kib: u64,
    peak_rss_kib: u64,
    startup: Option<StartUp>,
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

async fn new_sim(dir: &Path, i: usize) -> anyhow::Result<SimModem> {
    Ok(SimModem::start(SimConfig {
        // Room for the whole burst: the measured time is the daemon's, not a full SIM's.
        slots: 255,
        me_slots: 255,
        link: Some(dir.join(format!("modem{i}"))),
        ..SimConfig::default()
    })
    .await?)
}

/// Fresh simulated modems and the daemon started on them, once it is ready.
async fn launch(
    peer: Peer,
    args: &Args,
    stub_url: &str,
    modems: usize,
    setup: &Setup,
) -> anyhow::Result<(tempfile::TempDir, Vec<SimModem>, Running)> {
    let dir = run_dir()?;
    let mut sims = Vec::new();
    for i in 0..modems {
        sims.push(new_sim(dir.path(), i).await?);
    }
    let devices: Vec<PathBuf> = sims.iter().map(SimModem::device_path).collect();
    let mut run = tokio::task::block_in_place(|| {
        start(peer, dir.path(), &devices, &args.gateway, stub_url, setup)
    })?;
    for sim in &sims {
        tokio::task::block_in_place(|| wait_ready(sim, &mut run))?;
    }
    Ok((dir, sims, run))
}

/// The digits of a phone number: the peers write it without the `+`.
fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// One run: `per_modem` reports on each of `modems` simulated modems, one every `gap` on each,
/// each from its own number; waits until every report is stored and acknowledged.
#[allow(clippy::too_many_arguments)]
async fn latency_run(
    peer: Peer,
    args: &Args,
    stub_url: &str,
    run_number: usize,
    modems: usize,
    per_modem: usize,
    gap: Duration,
    setup: &Setup,
) -> anyhow::Result<RunResult> {
    let (_dir, sims, mut run) = launch(peer, args, stub_url, modems, setup).await?;
    let total = modems * per_modem;
    let number = |i: usize| format!("+2438{:04}{:05}", run_number % 10_000, i);
    let by_number: HashMap<String, usize> = (0..total).map(|i| (digits(&number(i)), i)).collect();

    let pids = run.pids();
    let cpu_before = cpu_seconds(&pids);
    let io_before = io(&pids);
    let smsc = "+243990000001";
    let mut injected_at: Vec<Option<Instant>> = vec![None; total];
    let mut stored_at: Vec<Option<Instant>> = vec![None; total];
    let mut acked_at: Vec<Option<Instant>> = vec![None; total];
    let mut sent_seen = vec![0usize; modems];
    let started = Instant::now();
    let mut next = 0;
    let (mut stored, mut acked) = (0, 0);
    // Acknowledgements are paced (ours: `send_gap`, 0.5 s by default): room for all of them.
    let deadline_after_last =
        Duration::from_secs(120) + Duration::from_millis(600) * per_modem as u32;
    let mut last_injected = None;
    let mut polls = 0u64;
    loop {
        // Message i goes to modem i % modems; each modem gets one every `gap`.
        while next < total && started.elapsed() >= gap * (next / modems) as u32 {
            let text = format!("{} kb{next:04}", REPORTS[next % REPORTS.len()]);
            let pdus = modem_sim::encode_deliver(
                &number(next),
                &text,
                time::OffsetDateTime::now_utc(),
                smsc,
                (next % 250) as u8,
            )
            .map_err(anyhow::Error::msg)?;
            injected_at[next] = Some(Instant::now());
            for p in pdus {
                sims[next % modems].inject_pdu(&p);
            }
            next += 1;
            if next == total {
                last_injected = Some(Instant::now());
            }
        }
        for t in run.newly_stored() {
            if t < total && stored_at[t].is_none() {
                stored_at[t] = Some(Instant::now());
                stored += 1;
            }
        }
        // The sent list is copied out of the simulator: every 10 ms is plenty for acknowledgements
        // that take seconds, and leaves the simulated modem's lock to the daemon's exchanges.
        let look_at_acks = polls.is_multiple_of(10);
        polls += 1;
        for (m, sim) in sims.iter().enumerate().filter(|_| look_at_acks) {
            let sent = sim.sent();
            for s in &sent[sent_seen[m].min(sent.len())..] {
                if let Some(&i) = by_number.get(&digits(&s.to))
                    && acked_at[i].is_none()
                {
                    acked_at[i] = Some(Instant::now());
                    acked += 1;
                }
            }
            sent_seen[m] = sent.len();
        }
        if stored == total && acked == total {
            break;
        }
        if last_injected.is_some_and(|l| l.elapsed() > deadline_after_last) {
            eprintln!(
                "  {} stored {stored} and acknowledged {acked} of {total} reports within {:?} of the last one",
                peer.label(),
                deadline_after_last
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let done = Instant::now();
    let pids = run.pids();
    let cpu_s = cpu_seconds(&pids) - cpu_before;
    let io_after = io(&pids);
    let peak_rss_kib = status_kib(&pids, "VmHWM:");
    // perf writes an interval 100 ms after it ends.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let fsyncs = run.fsyncs_between(started, done);
    run.stop();
    drop(sims);
    let spans = |to: &[Option<Instant>]| {
        let mut v: Vec<f64> = injected_at
            .iter()
            .zip(to)
            .filter_map(|(i, s)| Some(s.as_ref()?.duration_since(*i.as_ref()?).as_secs_f64() * 1e3))
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    Ok(RunResult {
        reports: total,
        latencies_ms: spans(&stored_at),
        ack_ms: spans(&acked_at),
        stored,
        acked,
        cpu_s,
        peak_rss_kib,
        io: Io {
            wchar: io_after.wchar.saturating_sub(io_before.wchar),
            write_bytes: io_after.write_bytes.saturating_sub(io_before.write_bytes),
        },
        fsyncs,
    })
}

async fn idle_run(peer: Peer, args: &Args, stub_url: &str) -> anyhow::Result<IdleResult> {
    let setup = Setup {
        notify: peer == Peer::Kufatilia,
        ..Setup::default()
    };
    let (_dir, _sims, run) = launch(peer, args, stub_url, 1, &setup).await?;
    // Past start-up (first heartbeat, first sweep) before the window opens.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pids = run.pids();
    let before = cpu_seconds(&pids);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let pids = run.pids();
    if std::env::var_os("PEERS_KEEP").is_some() {
        for p in &pids {
            for what in ["status", "smaps_rollup", "smaps"] {
                let _ = std::fs::copy(
                    format!("/proc/{p}/{what}"),
                    run.dir.join(format!("{what}.{p}")),
                );
            }
        }
    }
    let result = IdleResult {
        cpu_s: cpu_seconds(&pids) - before,
        rss_kib: status_kib(&pids, "VmRSS:"),
        peak_rss_kib: status_kib(&pids, "VmHWM:"),
        startup: run.startup(),
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
    if ms.is_nan() {
        "-".into()
    } else if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

/// A labelled set of runs (one daemon, one kind of run) and its medians.
struct Summary {
    label: String,
    peer: Peer,
    runs: Vec<RunResult>,
}

impl Summary {
    fn med(&self, f: impl Fn(&RunResult) -> f64) -> f64 {
        median(self.runs.iter().map(f).collect())
    }
    fn pct(&self, which: fn(&RunResult) -> &Vec<f64>, p: f64) -> f64 {
        self.med(|r| percentile(which(r), p))
    }
}

fn stored(r: &RunResult) -> &Vec<f64> {
    &r.latencies_ms
}
fn acks(r: &RunResult) -> &Vec<f64> {
    &r.ack_ms
}

fn describe(r: &RunResult) -> String {
    format!(
        "receive {} / {} / {}, ack {} / {} / {}, {} stored and {} acknowledged of {}, {:.2} CPU s \
         ({:.2} ms per report), peak RSS {:.1} MiB, {:.1} KiB written per report, {} fsyncs per report",
        fmt_ms(percentile(&r.latencies_ms, 50.0)),
        fmt_ms(percentile(&r.latencies_ms, 95.0)),
        fmt_ms(percentile(&r.latencies_ms, 99.0)),
        fmt_ms(percentile(&r.ack_ms, 50.0)),
        fmt_ms(percentile(&r.ack_ms, 95.0)),
        fmt_ms(percentile(&r.ack_ms, 99.0)),
        r.stored,
        r.acked,
        r.reports,
        r.cpu_s,
        r.cpu_ms_per_report(),
        r.peak_rss_kib as f64 / 1024.0,
        r.kb_per_report(),
        r.fsyncs_per_report()
            .map_or_else(|| "n/a".into(), |f| format!("{f:.2}")),
    )
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

/// Runs of one kind; `run_number` numbers them so that every report comes from its own number.
#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    url: &str,
    run_number: &mut usize,
    label: String,
    peer: Peer,
    runs: usize,
    modems: usize,
    per_modem: usize,
    gap: Duration,
    setup: Setup,
) -> anyhow::Result<Summary> {
    let mut rs = Vec::new();
    for i in 0..runs {
        eprintln!("{label}: run {}/{runs}", i + 1);
        *run_number += 1;
        let r = latency_run(peer, args, url, *run_number, modems, per_modem, gap, &setup).await?;
        eprintln!("  {}", describe(&r));
        rs.push(r);
    }
    Ok(Summary {
        label,
        peer,
        runs: rs,
    })
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
    let count_fsyncs = perf_counts_syscalls();
    if !count_fsyncs {
        eprintln!("perf cannot count syscalls here: fsyncs are not counted");
    }
    let gap = Duration::from_millis(args.gap_ms);

    let mut summaries: Vec<Summary> = Vec::new();
    let mut run_number = 0;
    let base = Setup {
        count_fsyncs,
        ..Setup::default()
    };
    for &peer in &peers {
        let s = measure(
            &args,
            &url,
            &mut run_number,
            peer.label().to_owned(),
            peer,
            args.runs,
            1,
            args.messages,
            gap,
            base.clone(),
        )
        .await?;
        summaries.push(s);
    }
    let mut extra = Vec::new();
    if peers.contains(&Peer::Kufatilia) && args.modems > 1 {
        let n = args.modems * args.messages;
        let s = measure(
            &args,
            &url,
            &mut run_number,
            format!("Kufatilia Gateway, {} modems", args.modems),
            Peer::Kufatilia,
            1,
            args.modems,
            args.messages,
            gap,
            Setup {
                replies_extra: format!("max_per_day = {}\n", n * 2),
                ..base.clone()
            },
        )
        .await?;
        extra.push(s);
    }
    if peers.contains(&Peer::Kufatilia) && args.flood > 0 {
        let s = measure(
            &args,
            &url,
            &mut run_number,
            format!("Kufatilia Gateway, flood of {}", args.flood),
            Peer::Kufatilia,
            1,
            1,
            args.flood,
            Duration::from_millis(args.flood_gap_ms),
            Setup {
                modem_extra: "send_gap = \"50ms\"\n".into(),
                replies_extra: format!("max_per_day = {}\n", args.flood * 2),
                ..base.clone()
            },
        )
        .await?;
        extra.push(s);
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
                    "  {:.3} CPU s, RSS {} KiB, peak {} KiB, start-up {}",
                    r.cpu_s,
                    r.rss_kib,
                    r.peak_rss_kib,
                    r.startup
                        .map_or_else(|| "-".into(), |s| format!("{:.0} ms", s.ms))
                );
                rs.push(r);
            }
            idle.push((peer, rs));
        }
    }
    print_report(&args, &machine, count_fsyncs, &summaries, &extra, &idle);
    Ok(())
}

fn print_report(
    args: &Args,
    machine: &str,
    counted: bool,
    summaries: &[Summary],
    extra: &[Summary],
    idle: &[(Peer, Vec<IdleResult>)],
) {
    println!(
        "Machine: {machine}. The same job for each daemon: {} reports per run, one every {} ms, \
         each stored and acknowledged by SMS; {} run(s) per daemon, each figure the median over \
         the runs. CPU (user + system, reaped children included) and peak RSS are read once \
         every acknowledgement has gone out.\n",
        args.messages, args.gap_ms, args.runs
    );
    for s in summaries {
        println!("- {}: {}", s.label, s.peer.version(&args.gateway));
    }
    println!();
    println!(
        "| daemon | receive p50 | p95 | p99 | report to ack p50 | p95 | p99 | stored, acked | CPU s | CPU per report | peak RSS |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
    );
    for s in summaries.iter().chain(extra) {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} ms | {:.1} MiB |",
            s.label,
            fmt_ms(s.pct(stored, 50.0)),
            fmt_ms(s.pct(stored, 95.0)),
            fmt_ms(s.pct(stored, 99.0)),
            fmt_ms(s.pct(acks, 50.0)),
            fmt_ms(s.pct(acks, 95.0)),
            fmt_ms(s.pct(acks, 99.0)),
            s.runs
                .iter()
                .map(|r| format!("{}+{}/{}", r.stored, r.acked, r.reports))
                .collect::<Vec<_>>()
                .join(", "),
            s.med(|r| r.cpu_s),
            s.med(RunResult::cpu_ms_per_report),
            s.med(|r| r.peak_rss_kib as f64) / 1024.0
        );
    }
    if let Some(ours) = summaries.iter().find(|s| s.peer == Peer::Kufatilia) {
        println!();
        for s in summaries.iter().filter(|s| s.peer != Peer::Kufatilia) {
            println!(
                "- Beside {}: receive latency {:.0}× lower (p50), report to acknowledgement {:.0}× \
                 lower (p50), {:.1}× less CPU per report.",
                s.label,
                s.pct(stored, 50.0) / ours.pct(stored, 50.0),
                s.pct(acks, 50.0) / ours.pct(acks, 50.0),
                s.med(RunResult::cpu_ms_per_report) / ours.med(RunResult::cpu_ms_per_report),
            );
        }
    }
    println!(
        "\nWhat reached the disk over the same runs, per report (`write_bytes` of `/proc/PID/io`: \
         bytes sent to the block device, reaped children included; `wchar`: bytes handed to \
         `write`; fsyncs: `fsync`, `fdatasync`, `sync_file_range` and `msync` calls counted by \
         `perf stat` on the syscall tracepoints{}):\n",
        if counted {
            ""
        } else {
            ", not available on this machine"
        }
    );
    println!(
        "| daemon | KiB to disk per report | KiB written (wchar) per report | fsyncs per report |\n\
         | --- | ---: | ---: | ---: |"
    );
    for s in summaries.iter().chain(extra) {
        let fs: Vec<f64> = s
            .runs
            .iter()
            .filter_map(RunResult::fsyncs_per_report)
            .collect();
        println!(
            "| {} | {:.1} | {:.1} | {} |",
            s.label,
            s.med(RunResult::kb_per_report),
            s.med(|r| r.io.wchar as f64 / 1024.0 / r.reports as f64),
            if fs.is_empty() {
                "n/a".into()
            } else {
                format!("{:.2}", median(fs))
            }
        );
    }
    println!("\nEvery run:\n");
    for s in summaries.iter().chain(extra) {
        for r in &s.runs {
            println!("- {}: {}", s.label, describe(r));
        }
    }
    if idle.is_empty() {
        return;
    }
    println!(
        "\nIdle cost: one idle modem, {} s window after start-up, median of {} run(s). Start-up: \
         from the process started to `READY=1` on its notify socket (systemd's `Type=notify`), \
         and its RSS then (ours; the peers do not notify):\n",
        args.idle_secs, args.runs
    );
    println!(
        "| daemon | CPU s in the window | CPU % | RSS at the end | peak RSS | start-up to ready | RSS at ready |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (peer, rs) in idle {
        let cpu = median(rs.iter().map(|r| r.cpu_s).collect());
        let rss = median(rs.iter().map(|r| r.rss_kib as f64).collect());
        let peak = median(rs.iter().map(|r| r.peak_rss_kib as f64).collect());
        let ups: Vec<StartUp> = rs.iter().filter_map(|r| r.startup).collect();
        let (up, up_rss) = if ups.is_empty() {
            ("-".to_owned(), "-".to_owned())
        } else {
            (
                fmt_ms(median(ups.iter().map(|u| u.ms).collect())),
                format!(
                    "{:.1} MiB",
                    median(ups.iter().map(|u| u.rss_kib as f64).collect()) / 1024.0
                ),
            )
        };
        println!(
            "| {} | {:.3} | {:.3} % | {:.1} MiB | {:.1} MiB | {up} | {up_rss} |",
            peer.label(),
            cpu,
            cpu / args.idle_secs as f64 * 100.0,
            rss / 1024.0,
            peak / 1024.0
        );
    }
}
