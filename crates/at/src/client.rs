//! The AT client: sends one command at a time and collects its answer, while a reader task owns the
//! read half of the port.
//!
//! The reader sorts every frame: URCs go to a channel (two-line ones joined with their PDU), lines of
//! the command in flight go to [`AtClient`], and lines with no command in flight are logged and
//! dropped. At end-of-file or on a read error the reader ends — no retry loop, so an unplugged modem
//! costs no CPU — and every command from then on fails with [`AtError::ModemGone`].
//!
//! After a timeout the modem may still answer. Before the next command the client resynchronises:
//! it waits until the line has been quiet for a while, probes with a plain `AT` until one gets `OK`
//! (a late `OK` may be taken for the probe's, which is harmless), then waits for quiet again, so the
//! probe's own `OK` is drained too. Only then does the next command go out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tokio_util::codec::{FramedRead, FramedWrite};

use super::codec::{AtCodec, AtFrame, AtRequest, MAX_LINE};
use super::commands::AtCommand;
use super::error::{AtError, NoAnswer};
use super::params::looks_like_pdu;
use super::result::{FinalResult, final_result};
use super::urc::{
    MAX_CONTINUATION_LINES, TwoLine, Urc, UrcMatch, classify_urc, complete_urc, continue_urc,
};

/// How many URCs may wait for the consumer. A full queue drops URCs (logged); the periodic sweep
/// finds any message whose `+CMTI` was dropped.
const URC_QUEUE: usize = 1024;

/// Timings of the resynchronisation after a timeout.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The line counts as quiet after this long without a frame.
    pub quiet: Duration,
    /// Longest wait for quiet (a modem flooding URCs is never quiet; URCs don't count anyway).
    pub max_drain: Duration,
    /// Timeout of one `AT` probe.
    pub probe_timeout: Duration,
    /// Probes before giving up (the caller then reopens or resets the modem).
    pub probe_attempts: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            quiet: Duration::from_millis(300),
            max_drain: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(2),
            probe_attempts: 3,
        }
    }
}

/// What the reader needs to know about the command in flight.
#[derive(Debug, Default)]
struct InFlight {
    active: bool,
    /// Answer prefixes of the command, which win over the URC table.
    prefixes: &'static [&'static str],
}

/// One command line as the client sends it.
#[derive(Debug)]
struct Request<'a> {
    line: &'a str,
    /// The line as it may appear in logs and errors.
    log_line: &'a str,
    /// Text to give after the `> ` prompt.
    payload: Option<&'a str>,
    /// Answer prefixes of the command, which win over the URC table.
    prefixes: &'static [&'static str],
    /// How long the final result code may lag behind the answer line.
    grace: Option<Duration>,
}

/// The `AT` that probes a modem while resynchronising.
const RESYNC_PROBE: Request<'static> = Request {
    line: "AT",
    log_line: "AT (resync probe)",
    payload: None,
    prefixes: &[],
    grace: None,
};

type Writer = FramedWrite<Box<dyn AsyncWrite + Send + Unpin>, AtCodec>;

/// A line to a modem. See the module documentation.
pub struct AtClient {
    writer: Writer,
    frames: mpsc::UnboundedReceiver<AtFrame>,
    in_flight: Arc<Mutex<InFlight>>,
    reader: JoinHandle<()>,
    /// Set after a timeout; `Some(true)` when the modem may still wait after a `> ` prompt.
    resync_needed: Option<bool>,
    gone: bool,
    options: ClientOptions,
}

impl std::fmt::Debug for AtClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtClient")
            .field("gone", &self.gone)
            .field("resync_needed", &self.resync_needed)
            .finish_non_exhaustive()
    }
}

impl Drop for AtClient {
    fn drop(&mut self) {
        // The reader holds the read half: ending it lets the port close.
        self.reader.abort();
    }
}

fn lock(m: &Mutex<InFlight>) -> std::sync::MutexGuard<'_, InFlight> {
    // The lock is never held across a panic point that matters; a poisoned one is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Write errors that mean the device went away rather than a passing failure.
fn is_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::BrokenPipe | K::NotConnected | K::UnexpectedEof | K::ConnectionReset
    ) || matches!(
        e.raw_os_error(),
        Some(code) if code == nix::libc::EIO || code == nix::libc::ENXIO || code == nix::libc::ENODEV
    )
}

impl AtClient {
    /// Starts the reader task on `port` and returns the client and the URC channel. Must be called
    /// inside a tokio runtime.
    pub fn new<S>(port: S) -> (AtClient, mpsc::Receiver<Urc>)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        AtClient::with_options(port, ClientOptions::default())
    }

    pub fn with_options<S>(port: S, options: ClientOptions) -> (AtClient, mpsc::Receiver<Urc>)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read_half, write_half) = tokio::io::split(port);
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let (urc_tx, urc_rx) = mpsc::channel(URC_QUEUE);
        let in_flight = Arc::new(Mutex::new(InFlight::default()));
        let sorter = Sorter {
            in_flight: Arc::clone(&in_flight),
            frames_tx,
            urc_tx,
            header: None,
            unfinished: None,
        };
        let reader = tokio::spawn(read_loop(
            FramedRead::new(read_half, AtCodec::new()),
            sorter,
        ));
        let writer: Writer = FramedWrite::new(Box::new(write_half), AtCodec::new());
        let client = AtClient {
            writer,
            frames,
            in_flight,
            reader,
            resync_needed: None,
            gone: false,
            options,
        };
        (client, urc_rx)
    }

    /// False once the line reached EOF or failed (the reader task has ended).
    pub fn is_connected(&self) -> bool {
        !self.gone && !self.reader.is_finished()
    }

    /// Runs `cmd` with its own timeout.
    pub async fn run<C: AtCommand>(&mut self, cmd: &C) -> Result<C::Response, AtError> {
        self.run_with_timeout(cmd, cmd.timeout()).await
    }

    /// Runs `cmd` with another timeout than its own.
    pub async fn run_with_timeout<C: AtCommand>(
        &mut self,
        cmd: &C,
        timeout: Duration,
    ) -> Result<C::Response, AtError> {
        if self.gone {
            return Err(AtError::ModemGone);
        }
        if let Some(after_prompt) = self.resync_needed {
            self.resync(after_prompt).await?;
        }
        let line = cmd.line();
        let log_line = cmd.log_line();
        let payload = cmd.prompt_payload();
        let request = Request {
            line: &line,
            log_line: &log_line,
            payload: payload.as_deref(),
            prefixes: cmd.answer_prefixes(),
            grace: cmd.answer_grace(),
        };
        let lines = self.exchange(&request, timeout).await?;
        cmd.parse(&lines)
    }

    /// Sends one command line and collects its information lines up to the final result code;
    /// after a timeout, the next command resynchronises first.
    async fn exchange(
        &mut self,
        request: &Request<'_>,
        timeout: Duration,
    ) -> Result<Vec<String>, AtError> {
        self.drop_stale_frames(request.log_line);
        self.set_in_flight(request.prefixes);
        let result = self.collect(request, timeout).await;
        self.clear_in_flight();
        match &result {
            Err(AtError::ModemGone)
            | Err(AtError::PayloadUnanswered {
                what: NoAnswer::LineClosed,
                ..
            }) => self.gone = true,
            Err(AtError::PayloadUnanswered {
                what: NoAnswer::TimedOut,
                ..
            }) => {
                tracing::warn!(
                    command = request.log_line,
                    ?timeout,
                    "modem took the message and did not answer in time"
                );
                self.resync_needed = Some(true);
            }
            Err(AtError::Timeout { .. }) => {
                tracing::warn!(
                    command = request.log_line,
                    ?timeout,
                    "modem did not answer in time"
                );
                self.resync_needed = Some(request.payload.is_some());
            }
            _ => {}
        }
        result
    }

    /// Anything queued now came after its command ended: never part of the next answer.
    fn drop_stale_frames(&mut self, log_line: &str) {
        while let Ok(frame) = self.frames.try_recv() {
            tracing::warn!(
                ?frame,
                "dropped a stale modem line before sending {log_line}"
            );
        }
    }

    /// Tells the reader that lines now belong to a command, and which answer prefixes are its own.
    fn set_in_flight(&self, prefixes: &'static [&'static str]) {
        let mut f = lock(&self.in_flight);
        f.active = true;
        f.prefixes = prefixes;
    }

    /// Tells the reader that no command is in flight any more.
    fn clear_in_flight(&self) {
        let mut f = lock(&self.in_flight);
        f.active = false;
        f.prefixes = &[];
    }

    async fn write(&mut self, req: AtRequest) -> Result<(), AtError> {
        self.writer.send(req).await.map_err(|e| {
            if is_gone(&e) {
                tracing::warn!(error = %e, "writing to the modem failed: line gone");
                AtError::ModemGone
            } else {
                AtError::Io(e)
            }
        })
    }

    /// Writes the command line, then reads frames until the answer is complete: gives the payload
    /// at the prompt, and fails when the deadline passes or the line closes.
    async fn collect(
        &mut self,
        request: &Request<'_>,
        timeout: Duration,
    ) -> Result<Vec<String>, AtError> {
        tracing::debug!(command = request.log_line, "-> modem");
        self.write(AtRequest::Command(request.line.to_string()))
            .await?;
        let mut deadline = Instant::now() + timeout;
        let mut answer = Answer::new(request);
        let mut answered_at: Option<Instant> = None;
        loop {
            let frame = match self.next_frame(deadline).await {
                Ok(frame) => frame,
                // Once the modem has the payload, the message may be on its way: the caller
                // must know that apart from a command that never reached it.
                Err(wait) if answer.payload_sent => {
                    return Err(AtError::PayloadUnanswered {
                        command: request.log_line.to_string(),
                        what: match wait {
                            FrameWait::Closed => NoAnswer::LineClosed,
                            FrameWait::TimedOut => NoAnswer::TimedOut,
                        },
                    });
                }
                Err(FrameWait::Closed) => return Err(AtError::ModemGone),
                Err(FrameWait::TimedOut) if answered_at.is_some() => {
                    // The answer came, its OK did not: take the answer; a late OK is drained
                    // before the next command.
                    tracing::warn!(
                        command = request.log_line,
                        "answer came without its final OK; taken as it is"
                    );
                    self.resync_needed = Some(false);
                    return Ok(std::mem::take(&mut answer.lines));
                }
                Err(FrameWait::TimedOut) => {
                    return Err(AtError::Timeout {
                        command: request.log_line.to_string(),
                        timeout,
                    });
                }
            };
            match answer.take(frame) {
                Step::More => {
                    if let (Some(grace), None) = (request.grace, answered_at)
                        && answer.has_own_line()
                    {
                        let now = Instant::now();
                        answered_at = Some(now);
                        deadline = deadline.min(now + grace);
                    }
                }
                Step::SendPayload(payload) => {
                    self.write(AtRequest::Payload(payload.to_string())).await?;
                }
                Step::Done(result) => return result,
            }
        }
    }

    /// The next frame the reader passes on, waiting until `deadline` at most.
    async fn next_frame(&mut self, deadline: Instant) -> Result<AtFrame, FrameWait> {
        match timeout_at(deadline, self.frames.recv()).await {
            Err(_) => Err(FrameWait::TimedOut),
            Ok(None) => Err(FrameWait::Closed),
            Ok(Some(frame)) => Ok(frame),
        }
    }

    /// Waits until no frame came for `quiet`, dropping (and logging) what arrives.
    async fn drain_until_quiet(&mut self) -> Result<(), AtError> {
        let hard_stop = Instant::now() + self.options.max_drain;
        // Late lines are taken here (and dropped), not logged by the reader as strays.
        self.set_in_flight(&[]);
        let outcome = loop {
            let until = (Instant::now() + self.options.quiet).min(hard_stop);
            match self.next_frame(until).await {
                Err(FrameWait::TimedOut) => break Ok(()),
                Err(FrameWait::Closed) => break Err(AtError::ModemGone),
                Ok(frame) => {
                    tracing::info!(?frame, "late modem answer dropped while resynchronising");
                    if Instant::now() >= hard_stop {
                        break Ok(());
                    }
                }
            }
        };
        self.clear_in_flight();
        if matches!(outcome, Err(AtError::ModemGone)) {
            self.gone = true;
        }
        outcome
    }

    /// Brings the line back to a known state after a timeout (see the module documentation).
    async fn resync(&mut self, after_prompt: bool) -> Result<(), AtError> {
        tracing::info!("resynchronising with the modem after a timeout");
        if after_prompt {
            // The modem may still wait for a PDU after its prompt: ESC makes it give that up.
            self.write(AtRequest::Cancel).await?;
        }
        self.drain_until_quiet().await?;
        let attempts = self.options.probe_attempts.max(1);
        for attempt in 1..=attempts {
            let probe_timeout = self.options.probe_timeout;
            match self.exchange(&RESYNC_PROBE, probe_timeout).await {
                Ok(_) => {
                    // This OK may have been a late one; the probe's own is drained here.
                    self.drain_until_quiet().await?;
                    self.resync_needed = None;
                    tracing::info!(attempt, "modem answers again");
                    return Ok(());
                }
                Err(AtError::ModemGone) => return Err(AtError::ModemGone),
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "resync probe failed");
                    if matches!(e, AtError::Timeout { .. }) {
                        // Still stuck after a prompt? ESC again costs nothing.
                        self.write(AtRequest::Cancel).await?;
                    }
                    self.drain_until_quiet().await?;
                }
            }
        }
        self.resync_needed = Some(after_prompt);
        Err(AtError::Timeout {
            command: RESYNC_PROBE.log_line.into(),
            timeout: self.options.probe_timeout,
        })
    }
}

/// Why no frame came.
enum FrameWait {
    /// The deadline passed first.
    TimedOut,
    /// The reader ended: the line is closed.
    Closed,
}

/// The answer to one command, built from its frames as they come.
struct Answer<'a> {
    request: &'a Request<'a>,
    payload_sent: bool,
    lines: Vec<String>,
    /// Length of an over-long line met in the answer: the answer is then refused.
    too_long: Option<usize>,
}

/// What one frame meant for the answer.
enum Step<'a> {
    /// Keep reading.
    More,
    /// The prompt came: write this payload, then keep reading.
    SendPayload(&'a str),
    /// The final result code came: the answer (or the error it means).
    Done(Result<Vec<String>, AtError>),
}

impl<'a> Answer<'a> {
    fn new(request: &'a Request<'a>) -> Answer<'a> {
        Answer {
            request,
            payload_sent: false,
            lines: Vec::new(),
            too_long: None,
        }
    }

    fn take(&mut self, frame: AtFrame) -> Step<'a> {
        let log_line = self.request.log_line;
        match frame {
            AtFrame::Line(l) => {
                if let Some(result) = final_result(&l) {
                    tracing::debug!(command = log_line, result = %l, "<- modem");
                    return Step::Done(self.finish(result));
                }
                if self.is_echo(&l) {
                    tracing::trace!(line = %l, "echo skipped");
                } else {
                    self.lines.push(l);
                }
                Step::More
            }
            AtFrame::Prompt => match self.request.payload {
                Some(p) if !self.payload_sent => {
                    self.payload_sent = true;
                    Step::SendPayload(p)
                }
                _ => {
                    tracing::warn!(command = log_line, "unexpected '> ' prompt ignored");
                    Step::More
                }
            },
            AtFrame::TooLong { length, .. } => {
                self.too_long = Some(length);
                Step::More
            }
        }
    }

    /// An information line with one of the command's own prefixes came.
    fn has_own_line(&self) -> bool {
        self.lines.iter().any(|l| {
            self.request
                .prefixes
                .iter()
                .any(|p| crate::params::strip_prefix(l, p).is_some())
        })
    }

    /// The modem repeating our command line, or (once given) our payload.
    fn is_echo(&self, line: &str) -> bool {
        let echo_of_payload = self.payload_sent
            && self
                .request
                .payload
                .is_some_and(|p| p.eq_ignore_ascii_case(line));
        line.eq_ignore_ascii_case(self.request.line) || echo_of_payload
    }

    /// The answer once its final result code came.
    fn finish(&mut self, result: FinalResult) -> Result<Vec<String>, AtError> {
        let log_line = self.request.log_line;
        if let Some(e) = result.into_error(log_line) {
            return Err(e);
        }
        if let Some(length) = self.too_long {
            return Err(AtError::LineTooLong {
                command: log_line.to_string(),
                length,
                cap: MAX_LINE,
            });
        }
        Ok(std::mem::take(&mut self.lines))
    }
}

/// The reader task: sorts frames until EOF or a read error, then ends.
async fn read_loop<R: AsyncRead + Unpin>(mut framed: FramedRead<R, AtCodec>, mut sorter: Sorter) {
    loop {
        match framed.next().await {
            None => {
                tracing::warn!("modem line closed (end of file): modem gone");
                break;
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "reading from the modem failed: modem gone");
                break;
            }
            Some(Ok(frame)) => sorter.sort(frame),
        }
    }
}

/// Where the reader sends each frame: URCs to their channel, the rest to the command in flight.
struct Sorter {
    in_flight: Arc<Mutex<InFlight>>,
    frames_tx: mpsc::UnboundedSender<AtFrame>,
    urc_tx: mpsc::Sender<Urc>,
    /// The header line of a two-line URC whose PDU line comes next.
    header: Option<(TwoLine, String)>,
    /// A `+CUSD` whose quoted text goes on over the next lines, and how many lines it has.
    unfinished: Option<(String, usize)>,
}

impl Sorter {
    fn sort(&mut self, frame: AtFrame) {
        if self.completes_two_line_urc(&frame) || self.continues_urc(&frame) {
            return;
        }
        let (active, prefixes) = {
            let f = lock(&self.in_flight);
            (f.active, f.prefixes)
        };
        if let AtFrame::Line(l) = &frame
            && self.took_urc(l, prefixes)
        {
            return;
        }
        if active {
            // The client may be gone already (dropped); nothing to do then.
            let _ = self.frames_tx.send(frame);
        } else {
            tracing::info!(frame = %loggable(&frame), "modem line with no command in flight dropped");
        }
    }

    /// True when `frame` is the PDU line of the two-line URC whose header came last. A header
    /// followed by anything else is dropped, and the frame sorted as usual.
    fn completes_two_line_urc(&mut self, frame: &AtFrame) -> bool {
        let Some((kind, head)) = self.header.take() else {
            return false;
        };
        match frame {
            AtFrame::Line(l) if looks_like_pdu(l) => {
                deliver_urc(&self.urc_tx, complete_urc(kind, l));
                true
            }
            _ => {
                tracing::warn!(header = %head, "two-line URC came without its PDU line; header dropped");
                false
            }
        }
    }

    /// True when `frame` is one more line of an unfinished `+CUSD`. A network that never closes
    /// its quote gets the text so far once the line count runs out.
    fn continues_urc(&mut self, frame: &AtFrame) -> bool {
        let Some((so_far, count)) = self.unfinished.take() else {
            return false;
        };
        let AtFrame::Line(line) = frame else {
            tracing::warn!(urc = %so_far, "USSD answer cut short by a prompt; kept as it came");
            self.deliver_match(classify_urc(&format!("{so_far}\""), &[]));
            return false;
        };
        match continue_urc(&so_far, line) {
            UrcMatch::Unfinished(more) if count + 1 >= MAX_CONTINUATION_LINES => {
                tracing::warn!(urc = %more, "USSD answer never closed its quote; kept as it came");
                self.deliver_match(classify_urc(&format!("{more}\""), &[]));
            }
            UrcMatch::Unfinished(more) => self.unfinished = Some((more, count + 1)),
            done => self.deliver_match(Some(done)),
        }
        true
    }

    fn deliver_match(&mut self, m: Option<UrcMatch>) {
        match m {
            Some(UrcMatch::Complete(u)) => deliver_urc(&self.urc_tx, u),
            Some(other) => {
                tracing::warn!(urc = ?other, "unexpected shape of a joined URC; dropped")
            }
            None => {}
        }
    }

    /// True when `line` is a URC (delivered) or a two-line URC's header (kept for its PDU line).
    fn took_urc(&mut self, line: &str, prefixes: &[&str]) -> bool {
        match classify_urc(line, prefixes) {
            Some(UrcMatch::Unfinished(start)) => {
                self.unfinished = Some((start, 1));
                true
            }
            Some(UrcMatch::Complete(u)) => {
                tracing::debug!(%line, "URC");
                deliver_urc(&self.urc_tx, u);
                true
            }
            Some(UrcMatch::Header(kind)) => {
                self.header = Some((kind, line.to_string()));
                true
            }
            None => false,
        }
    }
}

/// A frame as the log may show it: a PDU line holds a sender's or recipient's number, so only
/// its length is shown.
fn loggable(frame: &AtFrame) -> String {
    match frame {
        AtFrame::Line(l) if looks_like_pdu(l) => format!("a PDU line of {} characters", l.len()),
        other => format!("{other:?}"),
    }
}

fn deliver_urc(tx: &mpsc::Sender<Urc>, u: Urc) {
    match tx.try_send(u) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(u)) => {
            let urc = match &u {
                Urc::Deliver { .. } => "+CMT (an SMS)".to_string(),
                Urc::StatusReport { .. } => "+CDS (a status report)".to_string(),
                other => format!("{other:?}"),
            };
            tracing::warn!(%urc, "URC queue full; URC dropped (the periodic sweep will catch messages)")
        }
        // Nobody listens to URCs: fine for a one-off client such as `doctor`.
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Cgmi, Cmgl, Cmgs, Csq, ListFilter};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    #[test]
    fn a_pdu_line_is_logged_by_its_length_only() {
        let pdu = "07913422180000F0040C914328214365870000623041906235800441E19008";
        let shown = loggable(&AtFrame::Line(pdu.into()));
        assert!(!shown.contains("432821436587"), "{shown}");
        assert_eq!(shown, format!("a PDU line of {} characters", pdu.len()));
        assert!(loggable(&AtFrame::Line("RING".into())).contains("RING"));
    }

    /// The far end of an in-memory line: reads what the client wrote up to `\r` or Ctrl-Z.
    async fn read_request(modem: &mut DuplexStream) -> String {
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        loop {
            if modem.read(&mut b).await.unwrap() == 0 {
                break;
            }
            if b[0] == b'\r' || b[0] == 0x1a {
                break;
            }
            out.push(b[0]);
        }
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn a_urc_in_the_middle_of_an_answer_is_routed_away() {
        let (port, mut modem) = tokio::io::duplex(4096);
        let (mut client, mut urcs) = AtClient::new(port);
        let far = tokio::spawn(async move {
            assert_eq!(read_request(&mut modem).await, "AT+CMGL=4");
            modem
                .write_all(b"\r\n+CMGL: 1,0,,3\r\n+CMTI: \"SM\",2\r\n0000AA\r\n+CMT: ,3\r\n")
                .await
                .unwrap();
            modem
                .write_all(b"0000BB\r\nRING\r\n\r\nOK\r\n")
                .await
                .unwrap();
            modem
        });
        let list = client.run(&Cmgl(ListFilter::All)).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].pdu, "0000AA");
        assert_eq!(
            urcs.recv().await,
            Some(Urc::NewMessage {
                storage: crate::Storage::Sim,
                index: 2
            })
        );
        assert_eq!(
            urcs.recv().await,
            Some(Urc::Deliver {
                pdu: "0000BB".into()
            })
        );
        assert_eq!(urcs.recv().await, Some(Urc::Ring));
        drop(far.await.unwrap());
    }

    #[tokio::test]
    async fn a_two_line_urc_split_across_reads_is_joined_and_not_glued_to_the_answer() {
        let (port, mut modem) = tokio::io::duplex(4096);
        let (mut client, mut urcs) = AtClient::new(port);
        let far = tokio::spawn(async move {
            modem.write_all(b"\r\n+CDS: 6\r").await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            modem.write_all(b"\n0006AABBCCDD\r\n").await.unwrap();
            assert_eq!(read_request(&mut modem).await, "AT+CSQ");
            modem
                .write_all(b"\r\n+CSQ: 18,99\r\n\r\nOK\r\n")
                .await
                .unwrap();
            modem
        });
        assert_eq!(
            urcs.recv().await,
            Some(Urc::StatusReport {
                pdu: "0006AABBCCDD".into()
            })
        );
        let s = client.run(&Csq).await.unwrap();
        assert_eq!(s.rssi, 18);
        drop(far.await.unwrap());
    }

    #[tokio::test]
    async fn send_waits_for_the_prompt_then_gives_the_pdu_and_ctrl_z() {
        let (port, mut modem) = tokio::io::duplex(4096);
        let (mut client, _urcs) = AtClient::new(port);
        let far = tokio::spawn(async move {
            // Echo is on here: the modem repeats the command and the PDU.
            assert_eq!(read_request(&mut modem).await, "AT+CMGS=2");
            modem.write_all(b"AT+CMGS=2\r\r\n> ").await.unwrap();
            let pdu = read_request(&mut modem).await;
            modem
                .write_all(format!("{pdu}\x1a\r\n+CMGS: 9\r\n\r\nOK\r\n").as_bytes())
                .await
                .unwrap();
            (modem, pdu)
        });
        let mr = client
            .run(&Cmgs {
                tpdu_len: 2,
                pdu: "00AABB".into(),
            })
            .await
            .unwrap();
        assert_eq!(mr, 9);
        let (_modem, pdu) = far.await.unwrap();
        assert_eq!(pdu, "00AABB");
    }

    #[tokio::test]
    async fn a_cpin_answer_without_its_ok_is_taken_and_the_late_ok_drained() {
        let (port, mut modem) = tokio::io::duplex(4096);
        let (mut client, _urcs) = AtClient::new(port);
        let far = tokio::spawn(async move {
            assert_eq!(read_request(&mut modem).await, "AT+CPIN?");
            modem.write_all(b"\r\n+CPIN: READY\r\n").await.unwrap();
            // The OK comes long after, when the next command already waits.
            tokio::time::sleep(Duration::from_millis(2500)).await;
            modem.write_all(b"\r\nOK\r\n").await.unwrap();
            loop {
                let line = read_request(&mut modem).await;
                if line == "AT+CSQ" {
                    break;
                }
                assert_eq!(line, "AT");
                modem.write_all(b"\r\nOK\r\n").await.unwrap();
            }
            modem
                .write_all(b"\r\n+CSQ: 18,99\r\n\r\nOK\r\n")
                .await
                .unwrap();
            modem
        });
        let state = client.run(&crate::commands::CpinQuery).await.unwrap();
        assert_eq!(state, crate::commands::PinState::Ready);
        assert_eq!(client.run(&Csq).await.unwrap().rssi, 18);
        drop(far.await.unwrap());
    }

    #[tokio::test]
    async fn a_ussd_answer_split_over_lines_arrives_whole() {
        let (port, mut modem) = tokio::io::duplex(4096);
        let (_client, mut urcs) = AtClient::new(port);
        modem
            .write_all(
                b"\r\n+CUSD: 0,\"Solde: 1250 FC\r\nBonus: 300 MB\",15\r\n+CMTI: \"SM\",1\r\n",
            )
            .await
            .unwrap();
        assert_eq!(
            urcs.recv().await,
            Some(Urc::Ussd {
                status: 0,
                text: Some("Solde: 1250 FC\nBonus: 300 MB".into()),
                dcs: Some(15)
            })
        );
        assert!(matches!(
            urcs.recv().await,
            Some(Urc::NewMessage { index: 1, .. })
        ));
    }

    #[tokio::test]
    async fn errors_are_named() {
        let (port, mut modem) = tokio::io::duplex(4096);
        let (mut client, _urcs) = AtClient::new(port);
        let far = tokio::spawn(async move {
            read_request(&mut modem).await;
            modem.write_all(b"\r\n+CMS ERROR: 322\r\n").await.unwrap();
            read_request(&mut modem).await;
            modem.write_all(b"\r\n+CME ERROR: 10\r\n").await.unwrap();
            modem
        });
        let e = client
            .run(&Cmgs {
                tpdu_len: 2,
                pdu: "00AABB".into(),
            })
            .await
            .unwrap_err();
        assert!(e.is_memory_full(), "{e}");
        let e = client.run(&Cgmi).await.unwrap_err();
        assert_eq!(e.cme_code(), Some(10));
        drop(far.await.unwrap());
    }

    #[tokio::test]
    async fn an_over_long_line_fails_the_command_instead_of_truncating() {
        let (port, mut modem) = tokio::io::duplex(64 * 1024);
        let (mut client, _urcs) = AtClient::new(port);
        let far = tokio::spawn(async move {
            read_request(&mut modem).await;
            let long = vec![b'A'; MAX_LINE + 100];
            modem.write_all(b"\r\n").await.unwrap();
            modem.write_all(&long).await.unwrap();
            modem.write_all(b"\r\nOK\r\n").await.unwrap();
            read_request(&mut modem).await;
            modem.write_all(b"\r\nSIMCOM_Ltd\r\nOK\r\n").await.unwrap();
            modem
        });
        let e = client.run(&Cgmi).await.unwrap_err();
        assert!(matches!(e, AtError::LineTooLong { .. }), "{e}");
        assert_eq!(client.run(&Cgmi).await.unwrap(), "SIMCOM_Ltd");
        drop(far.await.unwrap());
    }

    #[tokio::test]
    async fn eof_is_modem_gone_and_the_reader_ends() {
        let (port, modem) = tokio::io::duplex(4096);
        let (mut client, mut urcs) = AtClient::new(port);
        drop(modem);
        let e = client.run(&Cgmi).await.unwrap_err();
        assert!(matches!(e, AtError::ModemGone), "{e}");
        assert!(matches!(client.run(&Cgmi).await, Err(AtError::ModemGone)));
        // The URC channel closes too: the reader is done, not spinning.
        assert_eq!(urcs.recv().await, None);
        assert!(!client.is_connected());
    }
}
