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

/// The one queued SMS of the full-disk send test, and its recipient.
const QUEUED_TO: &str = "+243820000999";
const QUEUED_TEXT: &str = "Jibu moja tu: ujumbe huu unatumwa mara moja [diski kamili]";

/// The SMS the simulated modem sent to [`QUEUED_TO`].
fn sent_to_queued(sim: &SimModem) -> usize {
    sim.sent().iter().filter(|s| s.to == QUEUED_TO).count()
}

/// Sweeps of the modem since `from` in its command log (the link sends the due SMS at each).
fn sweeps_since(sim: &SimModem, from: usize) -> usize {
    let log = sim.command_log();
    log[from.min(log.len())..]
        .iter()
        .filter(|l| l.to_ascii_uppercase().contains("+CMGL"))
        .count()
}

/// The state of an outgoing row, read as `status` reads it.
fn outgoing_state(db: &Path, id: i64) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("SELECT state FROM outgoing WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Fills the database up to its page cap: rows of `sent_parts` (the table recording a send
/// writes to) until one more no longer fits, then page-sized rows of a filler table until not a
/// page is free. Every write that needs room then fails, as on a full SD card. Returns the rows
/// written to `sent_parts`.
pub(crate) fn fill_the_disk(db: &Path, outgoing_id: i64) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch("CREATE TABLE test_filler (pad BLOB NOT NULL)")
        .unwrap();
    let pages: u32 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    conn.pragma_update(None, "max_page_count", pages).unwrap();
    let full = |r: rusqlite::Result<usize>| match r {
        Ok(_) => false,
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DiskFull => {
            true
        }
        Err(e) => panic!("filling the database: {e}"),
    };
    let mut parts = 0;
    while !full(conn.execute(
        "INSERT INTO sent_parts (outgoing_id, part, message_ref, recipient, sent_at_ms)
         VALUES (?1, 99, 0, '', 0)",
        [outgoing_id],
    )) {
        parts += 1;
        assert!(parts < 1_000_000, "the database never filled up");
    }
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    for size in [page_size, page_size / 4, 16] {
        while !full(conn.execute(
            "INSERT INTO test_filler (pad) VALUES (zeroblob(?1))",
            [size],
        )) {}
    }
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert_eq!(free, 0, "not a page left free");
    parts
}

/// One reply is queued and the disk fills before it is sent. Today's gateway sent it, failed to
/// record it, found it still queued and sent it again at every round, spending the partner's
/// airtime and harassing the reporter. Now each SMS is claimed in a committed transaction
/// before the modem gets it: the claim cannot commit on the full disk, so nothing is sent and
/// the link says it has stopped sending (heartbeat). Once the disk has room again, with no
/// restart, the gateway sends the reply by itself, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_never_sends_a_reply_twice_and_sending_resumes_by_itself() {
    let deadline = Instant::now() + BOUND;
    let options = Options {
        gateway_id: "disk-send-gw".into(),
        reference_prefix: None,
        signed: false,
        modem: "sweep_interval = \"500ms\"\nsend_gap = \"10ms\"".into(),
        platform: "flush_after = \"100ms\"\nretry_max = \"1s\"\nheartbeat_interval = \"200ms\""
            .into(),
        ..Options::default()
    };
    let rig = Rig::start(options).await;
    let (sim, stub) = (&rig.sim, rig.stub());
    let db = rig.db_path();
    let mut gw = rig.binary();

    // A working gateway first: one report and its acknowledgement give the database its schema
    // and a send on record.
    start(&mut gw, None);
    let (from, t) = text(0);
    sim.inject(&from, &t);
    gw.wait_until("the first acknowledgement", deadline, || {
        sim.sent().iter().any(|s| s.to == from) && stub.incidents().len() == 1
    })
    .await;
    gw.kill();
    let acked: i64 = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row(
            "SELECT id FROM outgoing WHERE state = 'sent' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };

    // One reply waits in the queue, and then the disk fills.
    let queued = {
        let store = store::Store::open(&db).unwrap();
        store
            .queue_outgoing(store::NewOutgoing {
                modem: "vodacom".into(),
                recipient: QUEUED_TO.into(),
                text: QUEUED_TEXT.into(),
                kind: store::ReplyKind::Platform,
            })
            .await
            .unwrap()
    };
    let filler = fill_the_disk(&db, acked);
    assert!(filler > 0);

    start(&mut gw, Some(1));
    let heartbeats_from = stub.heartbeats().len();
    let stopped = |stub: &platform_stub::PlatformStub| {
        stub.heartbeats()[heartbeats_from.min(stub.heartbeats().len())..]
            .iter()
            .any(|h| h.modems.iter().any(|m| m.sending_stopped.is_some()))
    };
    gw.wait_until(
        "the gateway to stop sending (or to send the reply twice)",
        deadline,
        || stopped(stub) || sent_to_queued(sim) >= 2,
    )
    .await;
    // A few more rounds: each would have sent the reply again.
    let from_log = sim.command_log().len();
    gw.wait_until("a few more send rounds", deadline, || {
        sweeps_since(sim, from_log) >= 4
    })
    .await;
    let while_full = sent_to_queued(sim);
    eprintln!("disk full: the one queued reply was sent {while_full} time(s)");
    assert_eq!(
        while_full, 0,
        "on a full disk the claim cannot commit, so the reply is not sent (it was sent {while_full} times)"
    );
    assert_eq!(outgoing_state(&db, queued), "queued", "nothing was claimed");

    // Room again (the technician deletes old files): the gateway resumes by itself.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let freed = conn
            .execute("DELETE FROM sent_parts WHERE part = 99", [])
            .unwrap();
        assert_eq!(freed, filler);
        conn.execute_batch("DROP TABLE test_filler").unwrap();
    }
    gw.wait_until("the reply sent and recorded", deadline, || {
        sent_to_queued(sim) >= 1 && outgoing_state(&db, queued) == "sent"
    })
    .await;
    let heartbeats_from = stub.heartbeats().len();
    gw.wait_until("a heartbeat after the resumption", deadline, || {
        stub.heartbeats().len() > heartbeats_from
    })
    .await;
    let from_log = sim.command_log().len();
    gw.wait_until("a few more send rounds", deadline, || {
        sweeps_since(sim, from_log) >= 3
    })
    .await;
    gw.kill();
    let total = sent_to_queued(sim);
    eprintln!("room again: the reply was sent {total} time(s) in all");
    assert_eq!(total, 1, "the reply is sent exactly once");
    let last = stub.heartbeats().last().cloned().unwrap();
    assert_eq!(last.modems[0].sending_stopped, None, "sending resumed");
    assert_eq!(last.queues.unconfirmed_sms, 0);
    let log = gw.log_text();
    assert_eq!(
        log.matches("sending stopped, so no SMS is sent twice")
            .count(),
        1,
        "the stop is logged once, not at every round"
    );
    assert_eq!(log.matches("sending resumed").count(), 1);
    rig.shutdown().await;
}
