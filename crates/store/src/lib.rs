//! The store: the SQLite database that is the single source of truth between the stages.
//!
//! One read-write connection, behind a lock, and one dedicated thread that runs the jobs async
//! tasks send it over a channel. The thread runs every job that is waiting in one transaction
//! (each job in its own savepoint, so one failing job does not undo the others) and answers the
//! jobs only after the commit: an `Ok` from a durable write method means the data is on disk
//! (WAL, `synchronous=FULL`); from a lazy one, that it is committed and will be on disk by the
//! next durable commit (below).
//! Grouping the jobs this way gives one fsync for many messages under load, which is what makes a
//! durable commit per SMS affordable on an SD card.
//!
//! Two kinds of job, to spare the card: a *durable* job (`call`) is committed with
//! `synchronous=FULL` (the WAL is fsynced before the answer); a *lazy* one (`call_lazy`) with
//! `synchronous=NORMAL` (written to the WAL, fsynced by the next durable commit or checkpoint).
//! The WAL is one file written in order, so a durable commit also makes every lazy commit before
//! it durable: nothing the outside world can see (a SIM copy deleted, an SMS handed to the modem,
//! a batch posted) ever depends on a lazy write that a power cut could still take back. A group
//! holding at least one durable job is committed durably. Lazy jobs are only those whose loss at
//! a power cut is harmless because they are redone from what is durable (docs/ARCHITECTURE.md,
//! "Durability").
//!
//! A lazy job finds the connection free most of the time (the thread is idle, or waiting for
//! the next job): it then runs at once on the caller's thread instead of being handed over.
//! It never waits for the lock (the thread may hold it through an fsync, and the caller is the
//! async runtime), so a busy connection sends it down the channel as before; and it never
//! checkpoints the WAL (a checkpoint copies up to `WAL_CHECKPOINT_PAGES` pages and fsyncs
//! twice): when its commit takes the WAL past that size it asks the store thread for the
//! checkpoint instead (`checkpoint_when_due`). Handing a job
//! over wakes the store thread and then the runtime: two context switches per job, about 9 of
//! the 34 a report cost (docs/benchmarks.md, "Where the CPU goes").

mod batches;
mod escalations;
mod guard;
mod incidents;
mod inspect;
mod kinds;
mod outbound;
mod outgoing;
mod received;
mod reporters;
mod reports;
mod retention;
mod schema;
mod sessions;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Notify, mpsc, oneshot};

pub use batches::{ForwardingPause, PendingBatch, QuarantinedBatch, QueueDepths};
pub use escalations::{
    EscalatedReport, EscalationOutcome, EscalationRow, NewEscalation, UrgentPending,
};
pub use guard::{
    EscalationGuard, OutboundGuard, RecipientCheck, RefusalCounts, ReplyGuard, ReplyPlan,
    ReplyVerdict,
};
pub use incidents::{IncidentDraft, IncidentRow, IncidentSummary};
pub use inspect::{QuarantineEntry, SavedModemStatus, StoreReader};
pub use kinds::{
    DecodeStatus, EscalationState, OutboundState, OutgoingState, RecipientKind, RefusalKind,
    ReplyKind,
};
pub use outbound::{OutboundOutcome, UnreportedOutbound};
pub use outgoing::{
    FIRST_SEND_RETRY, MAX_SEND_ATTEMPTS, NewOutgoing, Outgoing, Settle, Unconfirmed,
};
pub use received::{DecodedPart, DecodedRow, Inserted, MessageRow, NewReceived, ReceivedRow};
pub use reporters::ReporterSeen;
pub use reports::{Delivery, DeliveryReport, StoredReport};
pub use retention::PurgeCounts;
pub use sessions::{SessionState, TurnPlan, TurnResult, TurnSettings, TurnWrite, UnhandledTurn};

/// Test-only: the environment variable that caps the database's page count (a full disk).
pub const TEST_MAX_PAGES: &str = "KUFATILIA_TEST_MAX_PAGES";

/// Most jobs the store thread runs in one transaction.
const MAX_JOBS_PER_COMMIT: usize = 512;

/// Page size of a new database, in bytes.
const PAGE_SIZE: i64 = 1024;

/// The writer connection's page cache, in KiB (negative `cache_size`: KiB, not pages).
const CACHE_KIB: i64 = -512;

/// WAL pages written before the store checkpoints them into the database (SQLite's
/// autocheckpoint default: 1000). A checkpoint copies every page the WAL changed into the
/// database file and fsyncs both; the pages a report changes are mostly the same few (the
/// newest leaves of each table and index), so a longer WAL copies each of them once for more
/// reports (docs/benchmarks.md, "SD-card wear"). 4 MiB of WAL at most before a checkpoint,
/// replayed in well under a second after a power cut.
const WAL_CHECKPOINT_PAGES: i64 = 4000;

thread_local! {
    /// Set on the store thread: the one thread that checkpoints the WAL.
    static ON_STORE_THREAD: Cell<bool> = const { Cell::new(false) };
    /// Set by `checkpoint_when_due` on another thread: its commit took the WAL past
    /// `WAL_CHECKPOINT_PAGES`, and the store thread is to checkpoint.
    static CHECKPOINT_WANTED: Cell<bool> = const { Cell::new(false) };
}

/// SQLite's WAL hook on the writer, called after each commit that wrote to the WAL with the
/// pages it now holds: a passive checkpoint (what SQLite's autocheckpoint does) once there are
/// `WAL_CHECKPOINT_PAGES`, on the store thread only; any other thread leaves a request.
fn checkpoint_when_due(wal: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    if i64::from(pages) < WAL_CHECKPOINT_PAGES {
        return Ok(());
    }
    if ON_STORE_THREAD.get() {
        #[cfg(test)]
        tests::record_checkpoint();
        // Committed already: an error here must not fail the commit's statement, as with
        // SQLite's own autocheckpoint; the next commit tries again.
        if let Err(e) = wal.checkpoint() {
            tracing::warn!(error = %e, "store: WAL checkpoint failed; retried after the next commit");
        }
    } else {
        CHECKPOINT_WANTED.set(true);
    }
    Ok(())
}

/// The checkpoint a lazy job asked for, run by the store thread between groups.
fn checkpoint(conn: &mut Connection) {
    #[cfg(test)]
    tests::record_checkpoint();
    if let Err(e) = conn.row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "store: WAL checkpoint failed; retried after the next commit");
    }
}

/// Prepared statements kept by the writer connection.
const STATEMENT_CACHE: usize = 64;

/// Errors from the store. Every variant says what the technician can look at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} failed its integrity check: {detail} (restore it from a backup or move it away to start a new one)"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot bring the database schema up to date: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("the database could not commit ({detail}); nothing of it was saved")]
    Commit { detail: String, disk_problem: bool },
    #[error("the store thread has stopped")]
    Closed,
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// True when the disk is full or the file cannot be written: the caller must keep its copy.
    pub(crate) fn is_disk_problem(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, DiskFull | SystemIoFailure | ReadOnly | CannotOpen)
            }
            StoreError::Commit { disk_problem, .. } => *disk_problem,
            _ => false,
        }
    }
}

type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A job gets the connection (or the reason there is none) and says whether it succeeded, so the
/// thread can roll back its savepoint, plus what to do once the transaction is committed.
type Job = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> (bool, Completion) + Send>;
/// Work that must run outside any transaction (a WAL checkpoint, VACUUM), between groups.
type Maintenance = Box<dyn FnOnce(&mut Connection) + Send>;

/// How a job's commit reaches the disk (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Durability {
    /// `synchronous=FULL`: on disk when answered.
    Durable,
    /// `synchronous=NORMAL`: in the WAL when answered, on disk at the next durable commit.
    Lazy,
}

/// What the store thread is sent.
enum Work {
    /// A job, and whether its commit must be fsynced before it is answered.
    Job(Job, Durability),
    Maintenance(Maintenance),
}

/// Wake-ups for the stages, so that none of them polls the database in a tight loop.
#[derive(Default)]
struct Signals {
    received: Arc<Notify>,
    outgoing: Arc<Notify>,
    incidents: Arc<Notify>,
}

/// The read-write connection and its `synchronous` setting, taken by the store thread for each
/// group of jobs and by a lazy job that finds it free.
struct Writer {
    conn: Connection,
    sync: SyncMode,
}

/// Takes the writer, whatever a panicking holder left behind (see `recover`).
fn lock_writer(writer: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    writer.lock().unwrap_or_else(|p| {
        writer.clear_poison();
        recover(p.into_inner())
    })
}

/// The writer if nobody holds it now.
fn try_lock_writer(writer: &Mutex<Writer>) -> Option<MutexGuard<'_, Writer>> {
    match writer.try_lock() {
        Ok(w) => Some(w),
        Err(TryLockError::Poisoned(p)) => {
            writer.clear_poison();
            Some(recover(p.into_inner()))
        }
        Err(TryLockError::WouldBlock) => None,
    }
}

/// The writer after a holder panicked inside a job: its transaction is rolled back (nothing of
/// that group was answered as committed), so the next group does not begin inside it.
fn recover(mut w: MutexGuard<'_, Writer>) -> MutexGuard<'_, Writer> {
    if !w.conn.is_autocommit() {
        tracing::error!("store: a job stopped in the middle of its transaction; rolling it back");
        if let Err(e) = w.conn.exec("ROLLBACK", []) {
            tracing::error!(error = %e, "store: cannot roll back the interrupted transaction");
        }
    }
    // A failed setting is in doubt: set it again before the next group.
    w.sync = SyncMode::default();
    w
}

/// A cheap, cloneable handle to the store.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::UnboundedSender<Work>,
    writer: Arc<Mutex<Writer>>,
    signals: Arc<Signals>,
}

impl Store {
    /// Opens (or creates) the database, checks it, brings the schema up to date and starts the
    /// store thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = open_connection(path)?;
        check_integrity(&conn, path)?;
        schema::migrate(&mut conn)?;
        // Instead of SQLite's autocheckpoint, which runs in whichever thread's commit takes the
        // WAL past its size: on the caller's thread, a lazy job would block the runtime for it.
        conn.wal_hook(Some(checkpoint_when_due));
        let (jobs, rx) = mpsc::unbounded_channel::<Work>();
        let writer = Arc::new(Mutex::new(Writer {
            conn,
            sync: SyncMode::default(),
        }));
        let thread_writer = writer.clone();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || store_thread(&thread_writer, rx))
            .map_err(|e| StoreError::Invalid(format!("cannot start the store thread: {e}")))?;
        Ok(Store {
            jobs,
            writer,
            signals: Arc::default(),
        })
    }

    /// Runs `f` on the store thread inside a transaction and returns its result once committed
    /// and fsynced.
    async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.call_with(Durability::Durable, f).await
    }

    /// As `call`, for a write whose loss at a power cut is harmless (it is redone from durable
    /// rows): committed without an fsync of its own, made durable by the next durable commit;
    /// run on the caller's thread when the writer is free (see the module doc).
    async fn call_lazy<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.call_with(Durability::Lazy, f).await
    }

    async fn call_with<R, F>(&self, durability: Durability, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, StoreError>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => f(conn),
                Err(e) => Err(StoreError::Invalid(format!(
                    "cannot begin a transaction: {e}"
                ))),
            };
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit: Result<(), &StoreError>| {
                let answer = match commit {
                    Ok(()) => result,
                    // The job's own error names the cause (a full disk) better than the commit's.
                    Err(_) if result.as_ref().is_err_and(StoreError::is_disk_problem) => result,
                    Err(StoreError::Commit {
                        detail,
                        disk_problem,
                    }) => Err(StoreError::Commit {
                        detail: detail.clone(),
                        disk_problem: *disk_problem,
                    }),
                    Err(e) => Err(StoreError::Commit {
                        detail: e.to_string(),
                        disk_problem: e.is_disk_problem(),
                    }),
                };
                let _ = tx.send(answer);
            });
            (ok, completion)
        });
        let job = match durability {
            Durability::Lazy => match try_lock_writer(&self.writer) {
                Some(mut w) => {
                    let w = &mut *w;
                    run_group(&mut w.conn, &mut w.sync, vec![job], false);
                    if CHECKPOINT_WANTED.replace(false) {
                        // Not awaited: the job is answered, the checkpoint follows on the
                        // store thread after what is queued before it.
                        let _ = self.jobs.send(Work::Maintenance(Box::new(checkpoint)));
                    }
                    None
                }
                None => Some(job),
            },
            Durability::Durable => Some(job),
        };
        if let Some(job) = job {
            self.jobs
                .send(Work::Job(job, durability))
                .map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on the store thread outside any transaction, after the jobs sent before it are
    /// committed.
    async fn maintain<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, StoreError>>();
        let work: Maintenance = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs
            .send(Work::Maintenance(work))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Signalled when a PDU was committed and waits for decoding.
    pub fn received_notify(&self) -> Arc<Notify> {
        self.signals.received.clone()
    }

    /// Signalled when an SMS was queued for sending.
    pub fn outgoing_notify(&self) -> Arc<Notify> {
        self.signals.outgoing.clone()
    }

    /// Signalled when an incident waits for forwarding.
    pub fn incidents_notify(&self) -> Arc<Notify> {
        self.signals.incidents.clone()
    }
}

/// Now on the gateway clock, in Unix milliseconds (the unit of every `*_ms` column).
pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Statements run through the connection's cache of prepared statements. The store's SQL is a
/// fixed set, and parsing it again at every call (what `Connection::execute` and `query_row`
/// do) was a seventh of the CPU a report cost (docs/benchmarks.md, "Where the CPU goes").
pub(crate) trait CachedSql {
    /// `Connection::execute` through the statement cache.
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    /// `Connection::query_row` through the statement cache.
    fn row<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl CachedSql for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, map)
    }
}

/// Runs `f` in a savepoint of the open transaction, so that a failure takes back its writes
/// only. The outer error is the savepoint's own (the transaction is then in doubt); the inner
/// one is `f`'s.
pub(crate) fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<Result<T, StoreError>, StoreError> {
    conn.exec("SAVEPOINT part", [])?;
    let result = f();
    if result.is_err() {
        conn.exec("ROLLBACK TO part", [])?;
    }
    conn.exec("RELEASE part", [])?;
    Ok(result)
}

/// Runs a query and collects every row through `map`.
pub(crate) fn query_all<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params, map)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let open = |e| StoreError::Open {
        path: path.to_path_buf(),
        source: e,
    };
    let conn = Connection::open(path).map_err(open)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(open)?;
    // A new database gets 1 KiB pages (SQLite's default is 4 KiB): every commit writes each page
    // it changed to the WAL, and a report changes a few rows in a few tables and indexes, so the
    // page size is most of what reaches the SD card per report (docs/benchmarks.md, "SD-card
    // wear"). An existing database keeps its page size (this is a no-op on it).
    conn.pragma_update(None, "page_size", PAGE_SIZE)
        .map_err(open)?;
    // WAL keeps readers (the `status` command) off the writer's back; FULL makes each commit
    // durable before the modem is told to delete its copy.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(open)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open)?;
    // What the retention purge erases is overwritten with zeros, not just unlinked: a seized
    // card read with `strings` must not give back a purged number.
    conn.pragma_update(None, "secure_delete", "ON")
        .map_err(open)?;
    // SQLite's default page cache grows to 2 MiB per connection; the writer's working set (the
    // newest rows and the indexes' top pages) fits in far less, and a bigger cache only raised
    // the peak RSS under a flood (docs/benchmarks.md). Pages it drops stay in the OS page cache.
    conn.pragma_update(None, "cache_size", CACHE_KIB.to_string())
        .map_err(open)?;
    // The hot statements (commit a PDU, decode it, record the incident and its reply) are
    // prepared once and reused: more of them than rusqlite's default cache of 16 holds.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Without the query planner's stability guarantee SQLite prepares a statement again each
    // time a new value is bound to a parameter that may change its plan (every `LIMIT ?1`):
    // that was a twentieth of the CPU a report cost, and a fixed plan is what a store with a
    // fixed set of queries and indexes wants anyway.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(open)?;
    // Test-only write-failure injection (tests/fault_disk.rs): caps the file at this many pages
    // (never below its current size), so SQLite answers "database or disk is full" as on a full
    // SD card. Not a setting: production never sets this variable.
    if let Some(pages) = std::env::var(TEST_MAX_PAGES)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        tracing::warn!(
            pages,
            "{TEST_MAX_PAGES} is set: the database is capped (test only)"
        );
        conn.pragma_update(None, "max_page_count", pages)
            .map_err(open)?;
    }
    Ok(conn)
}

fn check_integrity(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let detail: String = conn.row("PRAGMA quick_check", [], |r| r.get(0))?;
    if detail == "ok" {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        })
    }
}

fn store_thread(writer: &Mutex<Writer>, mut rx: mpsc::UnboundedReceiver<Work>) {
    ON_STORE_THREAD.set(true);
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = Vec::new();
        let mut durable = false;
        let mut next = Some(first);
        while let Some(work) = next.take() {
            match work {
                Work::Job(job, d) => {
                    durable |= d == Durability::Durable;
                    jobs.push(job);
                }
                Work::Maintenance(m) => {
                    let mut w = lock_writer(writer);
                    let w = &mut *w;
                    // The jobs sent before it are committed first, in order.
                    if !jobs.is_empty() {
                        run_group(&mut w.conn, &mut w.sync, std::mem::take(&mut jobs), durable);
                        durable = false;
                    }
                    // Maintenance (a checkpoint, the purge) runs as the database was opened.
                    let _ = w.sync.set(&w.conn, true);
                    m(&mut w.conn);
                }
            }
            if jobs.len() < MAX_JOBS_PER_COMMIT {
                next = rx.try_recv().ok();
            }
        }
        if !jobs.is_empty() {
            let mut w = lock_writer(writer);
            let w = &mut *w;
            run_group(&mut w.conn, &mut w.sync, jobs, durable);
        }
    }
}

/// Runs a group of jobs in one transaction, committed with FULL when one of them is durable.
fn run_group(conn: &mut Connection, sync: &mut SyncMode, jobs: Vec<Job>, durable: bool) {
    if let Err(e) = sync.set(conn, durable) {
        if durable {
            // A durable job must never be answered after a commit that was not fsynced.
            let e = StoreError::from(e);
            tracing::error!(error = %e, "store: cannot make the commit durable");
            fail_all(jobs, &e);
            return;
        }
        // Staying on FULL is always safe: the lazy group just costs an fsync.
        tracing::warn!(error = %e, "store: cannot commit without an fsync");
    }
    run_jobs(conn, jobs);
}

/// Answers every job with `e` without running it against the database.
fn fail_all(jobs: impl IntoIterator<Item = Job>, e: &StoreError) {
    for job in jobs {
        let (_, completion) = job(Err(e));
        completion(Err(e));
    }
}

/// The writer connection's `synchronous` setting, changed only between transactions (SQLite
/// refuses it inside one) and only when a group needs the other one.
#[derive(Default)]
struct SyncMode {
    /// `Some(true)`: FULL; `Some(false)`: NORMAL; `None`: not set here yet.
    full: Option<bool>,
}

impl SyncMode {
    fn set(&mut self, conn: &Connection, full: bool) -> rusqlite::Result<()> {
        if self.full == Some(full) {
            return Ok(());
        }
        // Unknown until it is set again: a failure leaves FULL in doubt.
        self.full = None;
        conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })?;
        self.full = Some(full);
        Ok(())
    }
}

fn run_jobs(conn: &mut Connection, jobs: Vec<Job>) {
    if let Err(e) = conn.exec("BEGIN", []) {
        let e = StoreError::from(e);
        tracing::error!(error = %e, "store: cannot begin a transaction");
        fail_all(jobs, &e);
        return;
    }
    // A job alone in its group needs no savepoint of its own: if it fails, the whole
    // transaction is rolled back instead (most groups on a quiet box hold one job, and the
    // savepoint's statement journal was a twentieth of a report's CPU).
    let alone = jobs.len() == 1;
    let mut completions = Vec::with_capacity(jobs.len());
    let mut rest = jobs.into_iter();
    while let Some(job) = rest.next() {
        if alone {
            let (ok, completion) = job(Ok(&*conn));
            if !ok && !conn.is_autocommit() {
                if let Err(e) = conn.exec("ROLLBACK", []) {
                    tracing::error!(error = %e, "store: cannot roll back a failed job");
                }
                // Nothing to commit: the job's own error is its answer.
                completion(Ok(()));
                return;
            }
            completions.push(completion);
        } else {
            match conn.exec("SAVEPOINT job", []) {
                Ok(_) => {
                    let (ok, completion) = job(Ok(&*conn));
                    // A job that failed takes back its own writes only.
                    let end = if ok {
                        conn.exec("RELEASE job", [])
                    } else {
                        conn.exec("ROLLBACK TO job", [])
                            .and_then(|_| conn.exec("RELEASE job", []))
                    };
                    if let Err(e) = end {
                        tracing::error!(error = %e, "store: cannot close a savepoint");
                    }
                    completions.push(completion);
                }
                Err(e) => {
                    let e = StoreError::from(e);
                    let (_, completion) = job(Err(&e));
                    completion(Err(&e));
                }
            }
        }
        if conn.is_autocommit() {
            // SQLite rolled back the whole transaction itself, as it does when the disk
            // is full or failing: nothing of this group is saved, and the jobs left must
            // not run outside a transaction.
            let e = StoreError::Commit {
                detail: "SQLite rolled back the transaction: the disk is full or cannot be written"
                    .into(),
                disk_problem: true,
            };
            tracing::error!(error = %e, "store: nothing of this group was saved");
            completions.into_iter().for_each(|c| c(Err(&e)));
            fail_all(rest, &e);
            return;
        }
    }
    match conn.exec("COMMIT", []) {
        Ok(_) => completions.into_iter().for_each(|c| c(Ok(()))),
        Err(e) => {
            let e = StoreError::from(e);
            // A failed COMMIT can leave the transaction open: take it back whole, so the next
            // group does not begin inside it.
            if !conn.is_autocommit() {
                let _ = conn.exec("ROLLBACK", []);
            }
            tracing::error!(error = %e, "store: commit failed; nothing of this group was saved");
            completions.into_iter().for_each(|c| c(Err(&e)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A job that inserts `size` bytes and records how its group ended (`Err(true)`: a disk
    /// problem).
    fn insert_job(size: usize, ends: &Arc<Mutex<Vec<Result<(), bool>>>>) -> Job {
        let ends = Arc::clone(ends);
        Box::new(move |conn| {
            let ok = conn
                .map(|c| {
                    c.execute("INSERT INTO t VALUES (?1)", [vec![7u8; size]])
                        .is_ok()
                })
                .unwrap_or(false);
            let completion: Completion = Box::new(move |commit| {
                let end = commit.map_err(StoreError::is_disk_problem);
                ends.lock().unwrap_or_else(|p| p.into_inner()).push(end);
            });
            (ok, completion)
        })
    }

    /// A job that inserts a row, then fails.
    fn failing_job() -> Job {
        Box::new(|conn| {
            if let Ok(c) = conn {
                c.execute("INSERT INTO t VALUES (x'00')", []).unwrap();
            }
            let completion: Completion = Box::new(|_| {});
            (false, completion)
        })
    }

    fn rows(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_failed_job_takes_back_its_own_writes_alone_or_in_a_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_connection(&dir.path().join("jobs.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let ends = Arc::new(Mutex::new(Vec::new()));
        // Alone in its group (no savepoint): the whole transaction is rolled back.
        run_jobs(&mut conn, vec![failing_job()]);
        assert_eq!(rows(&conn), 0);
        assert!(conn.is_autocommit(), "no transaction left open");
        // In a group: only its own writes go.
        run_jobs(
            &mut conn,
            vec![insert_job(10, &ends), failing_job(), insert_job(10, &ends)],
        );
        assert_eq!(rows(&conn), 2);
        assert_eq!(*ends.lock().unwrap(), vec![Ok(()), Ok(())]);
        // And a job alone that succeeds is committed.
        run_jobs(&mut conn, vec![insert_job(10, &ends)]);
        assert_eq!(rows(&conn), 3);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_cached_statement_is_not_prepared_again_when_its_limit_changes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_connection(&dir.path().join("plan.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            .unwrap();
        let sql = "SELECT x FROM t ORDER BY x LIMIT ?1";
        for limit in [1, 2, 3, 1] {
            let n = query_all(&conn, sql, [limit], |r| r.get::<_, i64>(0))
                .unwrap()
                .len();
            assert_eq!(n, limit as usize);
        }
        // Without the planner's stability guarantee SQLite would have prepared it again at
        // every new LIMIT (three times here).
        let stmt = conn.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }

    /// The threads that checkpointed the WAL, by name.
    static CHECKPOINTED_ON: Mutex<Vec<String>> = Mutex::new(Vec::new());

    pub(super) fn record_checkpoint() {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        CHECKPOINTED_ON
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_lazy_job_on_the_callers_thread_leaves_the_checkpoint_to_the_store_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.db");
        let store = Store::open(&path).unwrap();
        let caller = std::thread::current().name().unwrap_or("").to_owned();
        store
            .call(|c| Ok(c.execute_batch("CREATE TABLE t (x BLOB)")?))
            .await
            .unwrap();
        let db_size = || std::fs::metadata(&path).unwrap().len();
        let before = db_size();
        // One lazy commit that takes the WAL past the checkpoint size, run on this thread.
        let blob = vec![7u8; (WAL_CHECKPOINT_PAGES * PAGE_SIZE) as usize];
        let ran_on = store
            .call_lazy(move |c| {
                c.execute("INSERT INTO t VALUES (?1)", [blob])?;
                Ok(std::thread::current().name().unwrap_or("").to_owned())
            })
            .await
            .unwrap();
        assert_eq!(ran_on, caller, "the writer was free: the job ran here");
        // The checkpoint request is queued before this job: once it is answered, the pages
        // are in the database file, copied there by the store thread.
        store.call(|_| Ok(())).await.unwrap();
        assert!(
            db_size() > before + (WAL_CHECKPOINT_PAGES * PAGE_SIZE) as u64 / 2,
            "checkpointed into the database file"
        );
        let threads = CHECKPOINTED_ON.lock().unwrap().clone();
        assert!(threads.iter().any(|t| t == "store"), "{threads:?}");
        assert!(!threads.contains(&caller), "{threads:?}");
    }

    /// The name of the thread a job of `durability` ran on.
    async fn thread_of(store: &Store, durability: Durability) -> String {
        store
            .call_with(durability, |_| {
                Ok(std::thread::current().name().unwrap_or("").to_owned())
            })
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_lazy_job_runs_on_the_callers_thread_unless_the_writer_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("inline.db")).unwrap();
        let caller = std::thread::current().name().unwrap_or("").to_owned();
        assert_ne!(caller, "store");
        // Free writer: the lazy job is not handed over; a durable one always is (its fsync
        // must not stall the runtime).
        assert_eq!(thread_of(&store, Durability::Lazy).await, caller);
        assert_eq!(thread_of(&store, Durability::Durable).await, "store");
        // Busy writer (the store thread in a group, through its fsync): the lazy job does not
        // wait for it on the runtime, it goes down the channel and is answered once the
        // writer is free.
        let held = lock_writer(&store.writer);
        let job = thread_of(&store, Durability::Lazy);
        let release = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
        };
        let (ran_on, ()) = tokio::join!(job, release);
        assert_eq!(ran_on, "store");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_job_that_panicked_inside_its_transaction_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("poison.db")).unwrap();
        store
            .call(|c| Ok(c.execute_batch("CREATE TABLE t (x INTEGER)")?))
            .await
            .unwrap();
        // A holder that panics between BEGIN and COMMIT: the lock is poisoned with the
        // transaction open.
        let writer = store.writer.clone();
        let panicked = std::thread::spawn(move || {
            let w = lock_writer(&writer);
            w.conn
                .execute_batch("BEGIN; INSERT INTO t VALUES (1);")
                .unwrap();
            panic!("a job panicked");
        })
        .join();
        assert!(panicked.is_err());
        assert!(store.writer.is_poisoned());
        // The next jobs, lazy (on this thread) and durable (on the store thread), run in
        // transactions of their own, and the interrupted insert is not there.
        store
            .call_lazy(|c| Ok(c.execute("INSERT INTO t VALUES (2)", [])?))
            .await
            .unwrap();
        store
            .call(|c| Ok(c.execute("INSERT INTO t VALUES (3)", [])?))
            .await
            .unwrap();
        let rows: Vec<i64> = store
            .call(|c| query_all(c, "SELECT x FROM t ORDER BY x", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(rows, vec![2, 3]);
    }

    #[test]
    fn a_full_disk_fails_the_whole_group_with_the_disk_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_connection(&dir.path().join("full.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let pages: u32 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "max_page_count", pages).unwrap();
        let ends = Arc::new(Mutex::new(Vec::new()));
        run_jobs(
            &mut conn,
            vec![
                insert_job(10, &ends),
                insert_job(200_000, &ends),
                insert_job(10, &ends),
            ],
        );
        assert_eq!(
            *ends.lock().unwrap(),
            vec![Err(true), Err(true), Err(true)],
            "every job of the group hears that the disk is full"
        );
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "no job ran outside the rolled-back transaction");
    }
}
