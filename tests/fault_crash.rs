//! Crash consistency: the real daemon binary, SIGKILLed at random points (fixed seed) during a
//! 200-message burst and restarted right away each time, on the simulated modem (a real pty) and
//! the reference platform receiver (127.0.0.1) that live in this test process.
//!
//! Afterwards every injected message is on the platform exactly once, every PDU the simulator
//! delivered is in the gateway's `received` table, and the simulator's command log shows that no
//! SIM slot was deleted before its message was read and committed.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use kufatilia_gateway::platform::stub::{PlatformStub, StubConfig};
use kufatilia_gateway::secrets;
use kufatilia_gateway::sim::engine::LoggedCommand;
use kufatilia_gateway::sim::{SimConfig, SimModem, sms};

const TOKEN: &str = "crash-token";
const SECRET: &str = "crash-secret";
const MESSAGES: usize = 200;
const KILLS: usize = 30;
/// The burst comes in this many waves, one every `KILLS / WAVES` kills.
const WAVES: usize = 5;
const SEED: u64 = 0x6b75_6661_7469_6c69;
/// Worst case for the whole test; each wait below takes a share of it.
const BOUND: Duration = Duration::from_secs(180);

const OPENINGS: &[&str] = &[
    "AJALI mgodi wa Kalimbi, watu wamejeruhiwa",
    "Vurugu sokoni karibu na mgodi",
    "USHURU haramu kwenye kizuizi",
    "Barrière à Nyabibwe, 5000 FC par sac",
    "Travail forcé au site de Lemera",
    "Accident at the Bisie mine, two men injured",
    "Armed men at the Bisie mine since this morning",
    "Fraud at the buying house, the scale is wrong",
];

/// One injected message: its text (unique) and the PDUs the network delivered for it.
struct Injected {
    text: String,
    pdus: Vec<String>,
}

/// What makes message `i`'s text unique (its end, where a keyword never is).
fn tag(i: usize) -> String {
    format!("[namba {i}]")
}

fn message(i: usize) -> (String, String) {
    let sender = format!("+24381{:07}", 1000 + i);
    let opening = OPENINGS[i % OPENINGS.len()];
    let text = if i % 25 == 7 {
        // A long one: three parts.
        format!(
            "{opening}. Ujumbe mrefu namba {i}: watu wengi walikuja asubuhi na kuchukua mifuko ya \
             madini bila kulipa, walisema ni amri ya mkubwa wao, na wachimbaji wakakimbia porini; \
             tunaomba msaada wa haraka kwa sababu hali ni mbaya sana na watoto wapo pia hapa. \
             Mwisho {}",
            tag(i)
        )
    } else {
        format!("{opening} {}", tag(i))
    };
    (sender, text)
}

fn config_text(sim: &SimModem, stub: &PlatformStub) -> String {
    format!(
        r#"
gateway_id = "crash-gw"
reference_prefix = "K7"
database = "gateway.db"

[[modem]]
name = "vodacom"
device = {:?}
operator = "Vodacom"
sweep_interval = "1s"
send_gap = "10ms"

[platform]
url = {:?}
token_file = "token"
hmac_secret_file = "secret"
flush_after = "100ms"
batch_max = 16
retry_max = "1s"
"#,
        sim.device_path(),
        stub.url()
    )
}

struct Gateway {
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    starts: usize,
}

impl Gateway {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the gateway binary");
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL: no shutdown path runs, as when the power goes.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `AT+CMGD=3` → Delete(3); `AT+CMGR=3` → Read(3); `AT+CMGL=...` → List.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotOp {
    Read(u32),
    List,
    Delete(u32),
}

fn slot_ops(line: &str) -> Vec<SlotOp> {
    let upper = line.trim().to_ascii_uppercase();
    let Some(body) = upper.strip_prefix("AT") else {
        return Vec::new();
    };
    let mut ops = Vec::new();
    for cmd in body.split(';') {
        let cmd = cmd.trim();
        let cmd = cmd.strip_prefix('+').unwrap_or(cmd);
        if cmd.starts_with("CMGL") {
            ops.push(SlotOp::List);
        } else if let Some(a) = cmd.strip_prefix("CMGR=") {
            if let Ok(i) = a.trim().parse() {
                ops.push(SlotOp::Read(i));
            }
        } else if let Some(a) = cmd.strip_prefix("CMGD=") {
            let mut args = a.split(',');
            let index: u32 = args
                .next()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_else(|| panic!("unreadable delete {line:?}"));
            let flag = args.next().map(str::trim).unwrap_or("0");
            assert_eq!(
                flag, "0",
                "the gateway never bulk-deletes the SIM: {line:?}"
            );
            ops.push(SlotOp::Delete(index));
        }
    }
    ops
}

fn millis(c: &LoggedCommand) -> i64 {
    (c.at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Checks the command log against the store: each delete of a slot follows a read of it (since
/// the slot's previous delete), and the n-th delete of slot i at time t has at least n committed
/// rows from slot i received by t.
fn check_deletes_after_commit(log: &[LoggedCommand], rows: &[(i64, i64, String)]) -> usize {
    let mut read_since_delete: HashMap<u32, bool> = HashMap::new();
    let mut deletes: HashMap<u32, usize> = HashMap::new();
    let mut any_list = false;
    let mut total = 0;
    for c in log {
        for op in slot_ops(&c.line) {
            match op {
                SlotOp::List => {
                    any_list = true;
                    for v in read_since_delete.values_mut() {
                        *v = true;
                    }
                }
                SlotOp::Read(i) => {
                    read_since_delete.insert(i, true);
                }
                SlotOp::Delete(i) => {
                    let read = read_since_delete.get(&i).copied().unwrap_or(any_list);
                    assert!(
                        read,
                        "slot {i} deleted at {} without a read of it since its last delete",
                        c.at
                    );
                    read_since_delete.insert(i, false);
                    let n = deletes.entry(i).or_default();
                    *n += 1;
                    total += 1;
                    let t = millis(c);
                    let committed = rows
                        .iter()
                        .filter(|(idx, at, _)| *idx == i64::from(i) && *at <= t)
                        .count();
                    assert!(
                        committed >= *n,
                        "delete #{n} of slot {i} at {} but only {committed} message(s) from that slot were stored by then",
                        c.at
                    );
                }
            }
        }
    }
    total
}

async fn wait_until(what: &str, deadline: Instant, gw: &Gateway, mut done: impl FnMut() -> bool) {
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; gateway log tail:\n{}",
            gw.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stored_rows(db: &Path) -> Vec<(i64, i64, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT COALESCE(sim_index, -1), received_at_ms, pdu_hex FROM received")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_loses_nothing_and_deletes_only_committed_slots() {
    let started = Instant::now();
    let deadline = started + BOUND;
    let dir = tempfile::tempdir().unwrap();
    secrets::write_secret(&dir.path().join("token"), TOKEN.as_bytes()).unwrap();
    secrets::write_secret(&dir.path().join("secret"), SECRET.as_bytes()).unwrap();
    std::fs::write(
        dir.path().join("keywords.toml"),
        include_str!("../config/keywords.toml"),
    )
    .unwrap();
    let stub = PlatformStub::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        StubConfig {
            db: dir.path().join("platform.db"),
            token: TOKEN.into(),
            secret: Some(SECRET.as_bytes().to_vec()),
        },
    )
    .await
    .unwrap();
    let sim_config = SimConfig {
        slots: 30,
        ..SimConfig::default()
    };
    let smsc = sim_config.smsc.clone();
    let sim = SimModem::start(sim_config).await.unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, config_text(&sim, &stub)).unwrap();
    let mut gw = Gateway {
        config,
        log: dir.path().join("gateway.log"),
        child: None,
        starts: 0,
    };

    let mut injected = Vec::with_capacity(MESSAGES);
    let now = time::OffsetDateTime::now_utc();
    for i in 0..MESSAGES {
        let (sender, text) = message(i);
        let pdus = sms::encode_deliver(&sender, &text, now, &smsc, i as u8).unwrap();
        injected.push(Injected { text, pdus });
    }
    let long = injected.iter().filter(|m| m.pdus.len() > 1).count();
    assert!(long >= 5, "a few multipart messages ({long})");

    // The burst arrives in a few waves while the gateway is killed at random points: during
    // start-up, while reading, between commit and delete, while replying or forwarding.
    let mut rng = StdRng::seed_from_u64(SEED);
    let per_wave = MESSAGES / WAVES;
    let mut next = 0;
    let mut kills_with_work_in_flight = 0;
    gw.start();
    for k in 0..KILLS {
        if k % (KILLS / WAVES) == 0 && next < MESSAGES {
            for m in &injected[next..next + per_wave] {
                for pdu in &m.pdus {
                    sim.inject_pdu(pdu);
                }
            }
            next += per_wave;
        }
        let run_for = Duration::from_millis(rng.random_range(30..600));
        tokio::time::sleep(run_for).await;
        if stub.incidents().len() < next || sim.sim_used() > 0 || sim.network_queue_len() > 0 {
            kills_with_work_in_flight += 1;
        }
        gw.kill();
        gw.start();
    }
    assert_eq!(next, MESSAGES);
    assert!(
        kills_with_work_in_flight >= WAVES,
        "the kills hit a busy gateway ({kills_with_work_in_flight} of {KILLS} did)"
    );
    assert!(gw.starts > KILLS, "{} starts", gw.starts);

    let platform_has_all = || {
        let ids: HashSet<_> = stub.incidents().into_iter().map(|p| p.id).collect();
        ids.len() >= MESSAGES
    };
    wait_until("every message on the platform", deadline, &gw, || {
        platform_has_all() && sim.sim_used() == 0 && sim.network_queue_len() == 0
    })
    .await;
    gw.kill();

    // Exactly once by id, and each injected text is there.
    let platform = stub.incidents();
    let ids: HashSet<_> = platform.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        ids.len(),
        platform.len(),
        "an incident id twice on the platform"
    );
    assert_eq!(
        platform.len(),
        MESSAGES,
        "one incident per injected message"
    );
    for (i, m) in injected.iter().enumerate() {
        let tag = tag(i);
        let n = platform
            .iter()
            .filter(|p| p.description.contains(&tag))
            .count();
        assert_eq!(n, 1, "{tag:?} on the platform {n} times: {:?}", m.text);
    }

    // Every PDU the simulator delivered is committed; the command log agrees with the store.
    let rows = stored_rows(&dir.path().join("gateway.db"));
    let stored: HashSet<String> = rows.iter().map(|r| r.2.to_ascii_uppercase()).collect();
    let delivered: Vec<&String> = injected.iter().flat_map(|m| &m.pdus).collect();
    for pdu in &delivered {
        assert!(
            stored.contains(&pdu.to_ascii_uppercase()),
            "delivered but not in `received`: {pdu}"
        );
    }
    let log = sim.command_log_timed();
    let deletes = check_deletes_after_commit(&log, &rows);
    assert!(
        deletes >= delivered.len(),
        "every slot was freed by a delete ({deletes} deletes, {} PDUs)",
        delivered.len()
    );
    eprintln!(
        "{} starts ({kills_with_work_in_flight} kills with work in flight), {} PDUs, {} deletes, {} platform posts, {:?}",
        gw.starts,
        delivered.len(),
        deletes,
        stub.batch_posts(),
        started.elapsed()
    );
    stub.shutdown().await;
}
