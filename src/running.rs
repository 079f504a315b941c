//! Whether a gateway is running on a database: the daemon holds an exclusive `flock` on
//! `<database>.lock` for as long as it runs (the kernel lets go when the process ends, even
//! killed), and `send` asks for it before queueing an SMS nobody would send.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// The lock a running daemon holds; dropping it lets go.
pub(crate) struct RunLock {
    _lock: Option<Flock<File>>,
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock for a daemon starting on `database`. A lock it cannot take (another gateway
/// on the same database, a read-only directory) is logged, never fatal: the lock only tells
/// `send` that a gateway runs.
pub(crate) fn hold(database: &Path) -> RunLock {
    let path = lock_path(database);
    let file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(
                "cannot create {}: {e}; `send` will say the gateway is not running",
                path.display()
            );
            return RunLock { _lock: None };
        }
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => RunLock { _lock: Some(lock) },
        Err((_, e)) => {
            tracing::warn!(
                "{} is held ({e}): is another gateway running on the same database?",
                path.display()
            );
            RunLock { _lock: None }
        }
    }
}

/// True while a daemon holds the lock of `database`.
pub(crate) fn is_running(database: &Path) -> bool {
    let Ok(file) = File::open(lock_path(database)) else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // We got it: nobody holds it exclusively. Dropping it lets go at once.
        Ok(_) => false,
        Err((_, e)) => e == nix::errno::Errno::EWOULDBLOCK,
    }
}
