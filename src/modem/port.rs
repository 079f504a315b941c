//! Opening a modem's serial port: the configured speed, 8N1, no flow control, and exclusive, so that
//! another program (ModemManager, a technician's minicom) cannot slip commands in between ours.
//!
//! Exclusive twice over (done by `serialport`): `TIOCEXCL`, which root ignores, and an advisory
//! `flock` on the device, which root respects too, as do ModemManager and our `doctor`.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_serial::{ClearBuffer, SerialPort, SerialPortBuilderExt, SerialStream};

/// Speeds the gateway accepts (USB modems ignore it; real UART modules need the right one):
/// the list the configuration is checked against.
pub use config::BAUD_RATES;

/// Why a port could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("baud rate {0} is not one of 9600, 19200, 38400, 57600, 115200")]
    BadBaud(u32),
    #[error(
        "modem device {device} does not exist (unplugged, or another path under /dev/serial/by-id?)"
    )]
    NotFound { device: String },
    #[error(
        "modem device {device} is busy (another program such as ModemManager has it open): {detail}"
    )]
    Busy { device: String, detail: String },
    #[error("cannot open modem device {device}: {detail}")]
    Open { device: String, detail: String },
}

/// An open modem port, as the AT client reads and writes it.
///
/// Its flush does not wait for the line to drain. `SerialStream`'s flush is `tcdrain`, a
/// blocking call on the async runtime's only thread: it returns once the device took every byte,
/// which a USB modem that hangs may never do, and nothing else (not even the AT timeout that
/// would notice the hang) runs meanwhile. The bytes are in the kernel's buffer once written,
/// and the AT exchange waits for the modem's answer under its own deadline anyway; on a healthy
/// line the `tcdrain` was one more system call per command (docs/benchmarks.md).
#[derive(Debug)]
pub struct Line(SerialStream);

impl AsyncRead for Line {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Line {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Opens `device` at `baud`, exclusively, and drops whatever the modem said while nobody listened.
pub fn open(device: &Path, baud: u32) -> Result<Line, PortError> {
    if !BAUD_RATES.contains(&baud) {
        return Err(PortError::BadBaud(baud));
    }
    let name = device.to_string_lossy().into_owned();
    if !device.exists() {
        return Err(PortError::NotFound { device: name });
    }
    let builder = tokio_serial::new(&name, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None);
    let mut port = builder
        .open_native_async()
        .map_err(|e| classify(&name, e))?;
    // serialport opens exclusively by default; say it here so that no later default can undo it.
    port.set_exclusive(true).map_err(|e| classify(&name, e))?;
    if let Err(e) = port.clear(ClearBuffer::All) {
        tracing::debug!(device = %name, error = %e, "could not flush the port's buffers");
    }
    Ok(Line(port))
}

fn classify(device: &str, e: tokio_serial::Error) -> PortError {
    let detail = e.to_string();
    match e.kind {
        // serialport says "no device" both when it is gone and when another program holds
        // the port (TIOCEXCL's EBUSY, or the flock taken).
        tokio_serial::ErrorKind::NoDevice if Path::new(device).exists() => PortError::Busy {
            device: device.into(),
            detail,
        },
        tokio_serial::ErrorKind::NoDevice => PortError::NotFound {
            device: device.into(),
        },
        tokio_serial::ErrorKind::Io(std::io::ErrorKind::NotFound) => PortError::NotFound {
            device: device.into(),
        },
        _ if detail.contains("busy")
            || detail.contains("EBUSY")
            || detail.contains("WouldBlock") =>
        {
            PortError::Busy {
                device: device.into(),
                detail,
            }
        }
        _ => PortError::Open {
            device: device.into(),
            detail,
        },
    }
}
