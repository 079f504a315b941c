//! A store on a full disk: the real daemon binary with its database capped by the test-only
//! `KUFATILIA_TEST_MAX_PAGES` hook (SQLite's `max_page_count`, so every write that needs a new
//! page fails with "database or disk is full", as on a full SD card). The gateway must stop
//! deleting from the SIM and say why; once the disk has room again (restart without the cap),
//! every message reaches the platform exactly once.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::daemon::{GatewayProcess, Options, Rig, exactly_once};
use modem_sim::SimModem;
use store::TEST_MAX_PAGES;

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

/// Starts the gateway, its database capped at `max_pages` when given.
fn start(gw: &mut GatewayProcess, max_pages: Option<u32>) {
    gw.start_with(|cmd| {
        cmd.env_remove(TEST_MAX_PAGES);
        if let Some(p) = max_pages {
            cmd.env(TEST_MAX_PAGES, p.to_string());
        }
    });
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
    let mut options = Options {
        gateway_id: "disk-gw".into(),
        reference_prefix: None,
        signed: false,
        modem: "sweep_interval = \"500ms\"\nsend_gap = \"10ms\"".into(),
        platform: "flush_after = \"100ms\"\nretry_max = \"1s\"".into(),
        ..Options::default()
    };
    options.sim.slots = 50;
    let rig = Rig::start(options).await;
    let (sim, stub) = (&rig.sim, rig.stub());
    let db = rig.db_path();
    let mut gw = rig.binary();

    // A working gateway first: the database gets its schema and a few messages.
    start(&mut gw, None);
    for i in 0..BEFORE {
        let (from, t) = text(i);
        sim.inject(&from, &t);
    }
    gw.wait_until("the first messages on the platform", deadline, || {
        stub.incidents().len() == BEFORE && sim.sim_used() == 0
    })
    .await;
    gw.kill();

    // The disk is full: the file may not grow by a single page.
    start(&mut gw, Some(1));
    let deletes_before = deletes(sim);
    let rows_before = received_rows(&db);
    for i in BEFORE..BEFORE + DURING {
        let (from, t) = text(i);
        sim.inject(&from, &t);
    }
    gw.wait_until("the gateway to refuse a message", deadline, || {
        gw.log_text()
            .contains("store refused the message; it stays on the SIM")
    })
    .await;
    // Let it try for a few more sweeps: nothing it cannot commit is ever deleted.
    let sweeps_from = sim.command_log().len();
    gw.wait_until("a few more sweeps", deadline, || {
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
    let deleted = deletes(sim) - deletes_before;
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
    start(&mut gw, None);
    gw.wait_until("every message on the platform", deadline, || {
        stub.incidents().len() >= BEFORE + DURING && sim.sim_used() == 0
    })
    .await;
    gw.kill();
    let platform = exactly_once(stub, BEFORE + DURING);
    for i in 0..BEFORE + DURING {
        let tag = format!("[diski {i}]");
        let n = platform
            .iter()
            .filter(|p| p.description.contains(&tag))
            .count();
        assert_eq!(n, 1, "{tag} on the platform {n} times");
    }
    assert_eq!(received_rows(&db), BEFORE + DURING);
    rig.shutdown().await;
}
