//! A simulated GSM modem on a real pseudo-terminal, for the tests, the demo and trying the gateway
//! (or gammu-smsd, smstools) without hardware.
//!
//! [`engine`] is the modem's behaviour without I/O; this module runs it on a pty, with an optional
//! symlink that stays at the same path when the modem is unplugged and plugged back (as
//! `/dev/serial/by-id/...` does). Faults are switches ([`Faults`]): hang, line noise, `+CMS ERROR`
//! on every Nth send, a late answer, a URC inside an answer, unplug/replug; the [`SimConfig`] sets
//! the SIM (slots, PIN), the network (signal, registration, USSD) and the make ([`Personality`]),
//! or a recorded session to play back ([`SimConfig::replaying`]).

mod config;
mod engine;
mod pty;
mod replay;
mod sms;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

pub use config::{Personality, SimConfig, UssdEncoding, UssdReply};
use engine::Engine;
pub use engine::{Faults, LoggedCommand, SentSms, pack_gsm7_hex};
use pty::Pty;
pub use sms::encode_deliver;

/// Longest command line the simulated modem keeps; the rest is dropped, like a real modem's buffer.
const MAX_INPUT: usize = 4096;
/// How long the answer to `AT+CFUN=1,1` stays readable before the device goes away.
const RESET_DRAIN: Duration = Duration::from_millis(100);
/// How long a write may wait for a reader before the output is dropped.
const WRITE_LIMIT: Duration = Duration::from_secs(2);

struct Plugged {
    slave_path: PathBuf,
    out_tx: mpsc::UnboundedSender<Vec<u8>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

struct Inner {
    engine: Mutex<Engine>,
    link: Option<PathBuf>,
    sent_notify: Notify,
    plugged: Mutex<Option<Plugged>>,
    concat_reference: AtomicU8,
    resets: AtomicUsize,
}

/// A running simulated modem. Dropping it unplugs it.
pub struct SimModem {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimModem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimModem")
            .field("device", &self.device_path())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SimModem {
    /// Opens a pty (and the link, if configured) and starts answering.
    pub async fn start(cfg: SimConfig) -> std::io::Result<SimModem> {
        let link = cfg.link.clone();
        let sim = SimModem {
            inner: Arc::new(Inner {
                engine: Mutex::new(Engine::new(cfg)),
                link,
                sent_notify: Notify::new(),
                plugged: Mutex::new(None),
                concat_reference: AtomicU8::new(1),
                resets: AtomicUsize::new(0),
            }),
        };
        sim.replug().await?;
        Ok(sim)
    }

    /// What the gateway opens: the link if there is one, else the pty's own path (which changes at
    /// every replug).
    pub fn device_path(&self) -> PathBuf {
        if let Some(l) = &self.inner.link {
            return l.clone();
        }
        lock(&self.inner.plugged)
            .as_ref()
            .map(|p| p.slave_path.clone())
            .unwrap_or_default()
    }

    pub fn is_plugged(&self) -> bool {
        lock(&self.inner.plugged).is_some()
    }

    /// The modem disappears: the pty closes (the gateway's reads end) and the link goes away. The
    /// SIM keeps its messages.
    pub async fn unplug(&self) {
        unplug(&self.inner).await;
    }

    /// The modem comes back (after an unplug, or a USB re-enumeration): a new pty, the same link
    /// path, and a fresh start (echo on, indications off, PIN asked again).
    pub async fn replug(&self) -> std::io::Result<()> {
        replug(&self.inner).await
    }

    /// Unplugs now and plugs back at the same link path after `gone_for`, without waiting (as
    /// a stick does that browns out on a weak USB hub).
    pub async fn unplug_for(&self, gone_for: Duration) {
        unplug(&self.inner).await;
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(gone_for).await;
            if let Err(e) = replug(&inner).await {
                tracing::error!(error = %e, "simulated modem could not come back");
            }
        });
    }

    /// The network sends a status report (PDU hex with its SMSC prefix, e.g. `00` for none).
    pub fn inject_status_report(&self, pdu_hex: &str) {
        let bytes =
            lock(&self.inner.engine).deliver_status_report(pdu_hex.trim().to_ascii_uppercase());
        self.send_out(bytes);
    }

    /// Times the modem restarted by `AT+CFUN=1,1`.
    pub fn resets(&self) -> usize {
        self.inner.resets.load(Ordering::Relaxed)
    }

    fn send_out(&self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if let Some(p) = lock(&self.inner.plugged).as_ref() {
            let _ = p.out_tx.send(bytes);
        }
    }

    /// The network delivers an SMS from `from`: real SMS-DELIVER PDUs (several if long) go into
    /// the SIM, announced by `+CMTI` when the gateway enabled it. Errors are logged; see
    /// [`SimModem::try_inject`].
    pub fn inject(&self, from: &str, text: &str) {
        if let Err(e) = self.try_inject(from, text) {
            tracing::error!(from, error = %e, "simulated modem could not build the SMS to inject");
        }
    }

    /// As [`SimModem::inject`]; returns the number of parts.
    fn try_inject(&self, from: &str, text: &str) -> Result<usize, String> {
        let smsc = lock(&self.inner.engine).config().smsc.clone();
        let reference = self.inner.concat_reference.fetch_add(1, Ordering::Relaxed);
        let offset = time::UtcOffset::from_hms(2, 0, 0).unwrap_or(time::UtcOffset::UTC);
        // The network's clock, not this machine's: a Pi without RTC may think it is 1970, and
        // a service-centre timestamp can't say that.
        let mut now = time::OffsetDateTime::now_utc().to_offset(offset);
        if !(1990..2090).contains(&now.year()) {
            now = time::macros::datetime!(2026-01-01 12:00 +02:00);
        }
        let pdus = sms::encode_deliver(from, text, now, &smsc, reference)?;
        let n = pdus.len();
        for pdu in pdus {
            self.inject_pdu(&pdu);
        }
        Ok(n)
    }

    /// The network delivers this PDU (hex, with SMSC prefix) as it is.
    pub fn inject_pdu(&self, pdu_hex: &str) {
        let bytes = lock(&self.inner.engine).deliver(pdu_hex.trim().to_ascii_uppercase());
        self.send_out(bytes);
    }

    /// Sends these bytes on the line now (noise, a URC by hand).
    pub fn send_raw(&self, bytes: &[u8]) {
        self.send_out(bytes.to_vec());
    }

    /// What the gateway sent, decoded.
    pub fn sent(&self) -> Vec<SentSms> {
        lock(&self.inner.engine).sent().to_vec()
    }

    /// Waits until at least `n` SMS were sent, or `timeout`; returns what was sent by then.
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<SentSms> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.sent_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.sent();
            }
        }
    }

    /// Messages stored in the SIM.
    pub fn sim_used(&self) -> usize {
        lock(&self.inner.engine).used_sim()
    }

    /// Messages the network holds because the storage is full.
    pub fn network_queue_len(&self) -> usize {
        lock(&self.inner.engine).network_queue_len()
    }

    /// Every line received, in order (a PDU after a prompt shows as `<PDU> ...`).
    pub fn command_log(&self) -> Vec<String> {
        lock(&self.inner.engine)
            .command_log()
            .iter()
            .map(|c| c.line.clone())
            .collect()
    }

    /// As [`SimModem::command_log`], with the time of each line.
    pub fn command_log_timed(&self) -> Vec<LoggedCommand> {
        lock(&self.inner.engine).command_log().to_vec()
    }

    /// Changes the fault switches.
    pub fn set_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut lock(&self.inner.engine).faults);
    }

    pub fn set_hang(&self, hang: bool) {
        self.set_faults(|f| f.hang = hang);
    }

    pub fn set_registration(&self, stat: u8) {
        lock(&self.inner.engine).set_registration(stat);
    }
}

impl Drop for SimModem {
    fn drop(&mut self) {
        if let Some(p) = lock(&self.inner.plugged).take() {
            p.task.abort();
        }
        if let Some(l) = &self.inner.link {
            pty::remove_link(l);
        }
    }
}

async fn unplug(inner: &Arc<Inner>) {
    let plugged = lock(&inner.plugged).take();
    if let Some(mut p) = plugged {
        if let Some(stop) = p.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = (&mut p.task).await
            && e.is_panic()
        {
            tracing::error!("simulated modem task panicked");
        }
    }
    if let Some(l) = &inner.link {
        pty::remove_link(l);
    }
}

async fn replug(inner: &Arc<Inner>) -> std::io::Result<()> {
    unplug(inner).await;
    let pty = Pty::open()?;
    let slave_path = pty.slave_path().to_path_buf();
    if let Some(l) = &inner.link {
        pty::make_link(l, &slave_path)?;
    }
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let boot = lock(&inner.engine).boot();
    if !boot.is_empty() {
        let _ = out_tx.send(boot);
    }
    let (stop, stop_rx) = oneshot::channel();
    let task = tokio::spawn(io_task(pty, Arc::clone(inner), out_rx, stop_rx));
    *lock(&inner.plugged) = Some(Plugged {
        slave_path,
        out_tx,
        stop: Some(stop),
        task,
    });
    Ok(())
}

/// `AT+CFUN=1,1` on a USB stick: it answers, drops off the bus (the device goes away), and comes
/// back as a new device after a while.
fn reset_reenumerate(inner: Arc<Inner>) {
    inner.resets.fetch_add(1, Ordering::Relaxed);
    let gone_for = lock(&inner.engine).config().reset_gone_for;
    tokio::spawn(async move {
        unplug(&inner).await;
        tokio::time::sleep(gone_for).await;
        if let Err(e) = replug(&inner).await {
            tracing::error!(error = %e, "simulated modem could not come back after its reset");
        }
    });
}

async fn tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Reads the gateway's bytes, feeds the engine, writes its answers and the URCs queued for it.
async fn io_task(
    pty: Pty,
    inner: Arc<Inner>,
    mut out_rx: mpsc::UnboundedReceiver<Vec<u8>>,
    mut stop_rx: oneshot::Receiver<()>,
) {
    let mut buf = [0u8; 1024];
    let mut input: Vec<u8> = Vec::new();
    let flood = lock(&inner.engine).config().flood_every;
    let mut ticker = flood.map(tokio::time::interval);
    loop {
        tokio::select! {
            _ = &mut stop_rx => break,
            r = pty.read(&mut buf) => {
                let n = match r {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "simulated modem: reading its pty failed");
                        break;
                    }
                };
                if !answer_input(&pty, &inner, &mut input, &buf[..n]).await {
                    break;
                }
            }
            Some(bytes) = out_rx.recv() => {
                if pty.write_all(&bytes, WRITE_LIMIT).await.is_err() {
                    break;
                }
            }
            _ = tick(&mut ticker) => {
                let bytes = lock(&inner.engine).flood_tick();
                if !bytes.is_empty() && pty.write_all(&bytes, WRITE_LIMIT).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Ctrl-Z: ends the PDU after a send prompt.
const CTRL_Z: u8 = 0x1a;
/// ESC: gives up the message after a send prompt.
const ESC: u8 = 0x1b;

/// Feeds the bytes read to the engine and writes each answer they complete. `false` when the
/// modem's line must close: the gateway stopped reading, or the modem restarted.
async fn answer_input(pty: &Pty, inner: &Arc<Inner>, input: &mut Vec<u8>, bytes: &[u8]) -> bool {
    for &b in bytes {
        let (reply, was_payload) = {
            let mut engine = lock(&inner.engine);
            let was_payload = b == CTRL_Z && engine.in_prompt();
            (feed_byte(&mut engine, input, b), was_payload)
        };
        if input.len() > MAX_INPUT {
            tracing::warn!("simulated modem: input line too long, dropped");
            input.clear();
        }
        let Some(reply) = reply else { continue };
        if let Some(d) = reply.delay {
            tokio::time::sleep(d).await;
        }
        if pty.write_all(&reply.bytes, WRITE_LIMIT).await.is_err() {
            return false;
        }
        if was_payload {
            inner.sent_notify.notify_waiters();
        }
        if reply.rebooted {
            reset_reenumerate(Arc::clone(inner));
            // The device goes away: its pty closes with this task, once the reader had time
            // to take the answer (a hangup discards unread input).
            tokio::time::sleep(RESET_DRAIN).await;
            return false;
        }
    }
    true
}

/// One byte from the gateway: the answer when it completes a command line, the PDU after a
/// prompt (Ctrl-Z) or a cancel (ESC); else it is kept in `input`.
fn feed_byte(engine: &mut Engine, input: &mut Vec<u8>, b: u8) -> Option<engine::Reply> {
    if engine.in_prompt() {
        return match b {
            CTRL_Z => Some(engine.on_payload(&String::from_utf8_lossy(&std::mem::take(input)))),
            ESC => {
                input.clear();
                Some(engine.on_cancel())
            }
            _ => {
                input.push(b);
                None
            }
        };
    }
    match b {
        b'\r' | b'\n' if input.is_empty() => None,
        b'\r' | b'\n' => {
            let line = String::from_utf8_lossy(&std::mem::take(input)).into_owned();
            Some(engine.on_line(&line))
        }
        // Control bytes outside a prompt (a stray ESC or Ctrl-Z) mean nothing.
        _ if b < 0x20 => None,
        _ => {
            input.push(b);
            None
        }
    }
}
