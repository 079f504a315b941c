//! A pseudo-terminal for the simulated modem: the master side is the modem, the slave side is the
//! device the gateway opens (optionally reached through a symlink, like `/dev/serial/by-id/...`).

use std::io;
use std::os::fd::{AsFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
use tokio::io::unix::AsyncFd;

/// One pty pair. Dropping it hangs up the device: the gateway's reads end.
pub(crate) struct Pty {
    master: AsyncFd<OwnedFd>,
    /// Held so that the master never sees "no one on the other side" between two opens by the
    /// gateway (a real modem stays there when the program closes its port).
    _slave: OwnedFd,
    slave_path: PathBuf,
}

impl std::fmt::Debug for Pty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pty")
            .field("slave_path", &self.slave_path)
            .finish()
    }
}

impl Pty {
    /// Opens a pty in raw mode (no echo, no line editing, no newline translation by the kernel).
    pub(crate) fn open() -> io::Result<Pty> {
        // Both ends are opened close-on-exec at once, not marked after: a program started
        // meanwhile by another thread (the gateway binary in a test) must never inherit a copy,
        // which would keep the device up after an unplug.
        let cloexec = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let ptm = nix::pty::posix_openpt(cloexec).map_err(io::Error::from)?;
        nix::pty::grantpt(&ptm).map_err(io::Error::from)?;
        nix::pty::unlockpt(&ptm).map_err(io::Error::from)?;
        let name = nix::pty::ptsname_r(&ptm).map_err(io::Error::from)?;
        let slave = nix::fcntl::open(name.as_str(), cloexec, nix::sys::stat::Mode::empty())
            .map_err(io::Error::from)?;
        // SAFETY: the descriptor comes from `ptm`, which gives up its ownership here.
        let master = unsafe { OwnedFd::from_raw_fd(ptm.into_raw_fd()) };
        let pair = nix::pty::OpenptyResult { master, slave };
        let mut t = tcgetattr(&pair.slave).map_err(io::Error::from)?;
        cfmakeraw(&mut t);
        tcsetattr(&pair.slave, SetArg::TCSANOW, &t).map_err(io::Error::from)?;
        let flags = fcntl(&pair.master, FcntlArg::F_GETFL).map_err(io::Error::from)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&pair.master, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
        let slave_path = nix::unistd::ttyname(&pair.slave).map_err(io::Error::from)?;
        // SAFETY: an OwnedFd stays open and is the same descriptor until it is dropped, and the
        // AsyncFd owns it for its whole life.
        let master = unsafe { AsyncFd::register(pair.master) }?;
        Ok(Pty {
            master,
            _slave: pair.slave,
            slave_path,
        })
    }

    pub(crate) fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// Reads what the gateway wrote. `Ok(0)` never happens while the slave is held.
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.readable().await?;
            match guard
                .try_io(|fd| nix::unistd::read(fd.get_ref().as_fd(), buf).map_err(io::Error::from))
            {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes everything, or gives up after `limit` when nobody reads (a real modem's UART loses
    /// bytes then too).
    pub(crate) async fn write_all(&self, mut data: &[u8], limit: Duration) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        while !data.is_empty() {
            let mut guard = match tokio::time::timeout_at(deadline, self.master.writable()).await {
                Ok(g) => g?,
                Err(_) => {
                    tracing::warn!(
                        bytes = data.len(),
                        "simulated modem: nobody reads the line; output dropped"
                    );
                    return Ok(());
                }
            };
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from))
            {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}

/// Points `link` at `target`, replacing an old link there.
pub(crate) fn make_link(link: &Path, target: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(m) if m.file_type().is_symlink() => std::fs::remove_file(link)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a symlink", link.display()),
            ));
        }
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link)
}

/// Removes `link` if it is a symlink.
pub(crate) fn remove_link(link: &Path) {
    if let Ok(m) = std::fs::symlink_metadata(link)
        && m.file_type().is_symlink()
        && let Err(e) = std::fs::remove_file(link)
    {
        tracing::warn!(link = %link.display(), error = %e, "could not remove the simulated modem's link");
    }
}
