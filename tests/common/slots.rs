//! The simulator's command log checked against the gateway's store: no SIM slot is deleted
//! before the message read from it is committed (invariant 1 of docs/ARCHITECTURE.md).

use std::collections::HashMap;
use std::path::Path;

use modem_sim::LoggedCommand;

/// One row of the `received` table: (SIM index or -1, gateway-clock ms, PDU hex).
pub type ReceivedRow = (i64, i64, String);

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
/// rows from slot i received by t. Returns the number of deletes.
pub fn check_deletes_after_commit(log: &[LoggedCommand], rows: &[ReceivedRow]) -> usize {
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

/// The `received` table of the gateway database at `db`, read-only.
pub fn stored_rows(db: &Path) -> Vec<ReceivedRow> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the gateway database read-only");
    let mut stmt = conn
        .prepare("SELECT COALESCE(sim_index, -1), received_at_ms, pdu_hex FROM received")
        .expect("the received table");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))
        .expect("read the received table")
        .map(|r| r.expect("a received row"))
        .collect()
}
