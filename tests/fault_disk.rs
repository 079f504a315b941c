//! A store on a full disk: the real daemon binary with its database capped by the test-only
//! `KUFATILIA_TEST_MAX_PAGES` hook (SQLite's `max_page_count`, so every write that needs a new
//! page fails with "database or disk is full", as on a full SD card). The gateway must stop
//! deleting from the SIM and say why; once the disk has room again (restart without the cap),
//! every message reaches the platform exactly once.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kufatilia_gateway::platform::stub::{PlatformStub, StubConfig};
use kufatilia_gateway::secrets;
use kufatilia_gateway::sim::{SimConfig, SimModem};
use kufatilia_gateway::store::TEST_MAX_PAGES;

const TOKEN: &str = "disk-token";
/// Before the disk fills: these go through normally and give the database its schema and size.
const BEFORE: usize = 4;
/// While the disk is full.
const DURING: usize = 40;
const BOUND: Duration = Duration::from_secs(150);

fn text(i: usize) -> (String, String) {
    (
        format!("+24382{:07}", 500 + i),
        format!("AJALI mgodi wa Kalimbi, watu wamejeruhiwa; shimo limeanguka asubuhi [diski {i}]"),
    )
}

struct Gateway {
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Gateway {
    fn start(&mut self, max_pages: Option<u32>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"));
        cmd.args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .env_remove(TEST_MAX_PAGES)
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(p) = max_pages {
            cmd.env(TEST_MAX_PAGES, p.to_string());
        }
        self.child = Some(cmd.spawn().expect("start the gateway binary"));
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
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

fn deletes(sim: &SimModem) -> usize {
    sim.command_log()
        .iter()
        .filter(|l| l.to_ascii_uppercase().contains("+CMGD="))
        .count()
}

fn received_rows(db: &Path) -> usize {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("SELECT count(*) FROM received", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_keeps_messages_on_the_sim_until_there_is_room() {
    let deadline = Instant::now() + BOUND;
    let dir = tempfile::tempdir().unwrap();
    secrets::write_secret(&dir.path().join("token"), TOKEN.as_bytes()).unwrap();
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
            secret: None,
        },
    )
    .await
    .unwrap();
    let sim = SimModem::start(SimConfig {
        slots: 50,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "gateway_id = \"disk-gw\"\ndatabase = \"gateway.db\"\n\
             [[modem]]\nname = \"m\"\ndevice = {:?}\nsweep_interval = \"500ms\"\nsend_gap = \"10ms\"\n\
             [platform]\nurl = {:?}\ntoken_file = \"token\"\nflush_after = \"100ms\"\nretry_max = \"1s\"\n",
            sim.device_path(),
            stub.url()
        ),
    )
    .unwrap();
    let db = dir.path().join("gateway.db");
    let mut gw = Gateway {
        config,
        log: dir.path().join("gateway.log"),
        child: None,
    };

    // A working gateway first: the database gets its schema and a few messages.
    gw.start(None);
    for i in 0..BEFORE {
        let (from, t) = text(i);
        sim.inject(&from, &t);
    }
    wait_until("the first messages on the platform", deadline, &gw, || {
        stub.incidents().len() == BEFORE && sim.sim_used() == 0
    })
    .await;
    gw.kill();

    // The disk is full: the file may not grow by a single page.
    gw.start(Some(1));
    let deletes_before = deletes(&sim);
    let rows_before = received_rows(&db);
    for i in BEFORE..BEFORE + DURING {
        let (from, t) = text(i);
        sim.inject(&from, &t);
    }
    wait_until("the gateway to refuse a message", deadline, &gw, || {
        gw.log_text()
            .contains("store refused the message; it stays on the SIM")
    })
    .await;
    // Let it try for a few more sweeps: nothing it cannot commit is ever deleted.
    let sweeps_from = sim.command_log().len();
    wait_until("a few more sweeps", deadline, &gw, || {
        sim.command_log()[sweeps_from.min(sim.command_log().len())..]
            .iter()
            .filter(|l| l.to_ascii_uppercase().contains("+CMGL"))
            .count()
            >= 3
    })
    .await;
    gw.kill();

    let log = gw.log_text();
    let refusal = log
        .lines()
        .find(|l| l.contains("store refused the message"))
        .unwrap();
    assert!(
        refusal.contains("full"),
        "the log says the disk is full: {refusal}"
    );
    let committed = received_rows(&db) - rows_before;
    let deleted = deletes(&sim) - deletes_before;
    assert!(
        committed < DURING,
        "the cap took effect ({committed} of {DURING} committed)"
    );
    assert!(
        deleted <= committed,
        "{deleted} deletes but only {committed} messages committed while the disk was full"
    );
    assert_eq!(
        sim.sim_used(),
        DURING - deleted,
        "every message not deleted is still on the SIM"
    );
    assert!(sim.sim_used() > 0, "the refused messages stayed on the SIM");
    assert!(stub.incidents().len() < BEFORE + DURING);
    eprintln!(
        "disk full: {committed} of {DURING} committed, {deleted} deleted, {} left on the SIM",
        sim.sim_used()
    );

    // Room again: everything arrives, once.
    gw.start(None);
    wait_until("every message on the platform", deadline, &gw, || {
        stub.incidents().len() >= BEFORE + DURING && sim.sim_used() == 0
    })
    .await;
    gw.kill();
    let platform = stub.incidents();
    let ids: HashSet<_> = platform.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids.len(), platform.len(), "an incident id twice");
    assert_eq!(platform.len(), BEFORE + DURING);
    for i in 0..BEFORE + DURING {
        let tag = format!("[diski {i}]");
        let n = platform
            .iter()
            .filter(|p| p.description.contains(&tag))
            .count();
        assert_eq!(n, 1, "{tag} on the platform {n} times");
    }
    assert_eq!(received_rows(&db), BEFORE + DURING);
    stub.shutdown().await;
}
