//! Transcripts of a modem session: every line sent and received, with its direction and the time
//! since the session began, in a text format a technician can read and the simulated modem can
//! play back (`doctor --record FILE`, then a test with the simulator's transcript personality).
//!
//! ```text
//! # kufatilia-gateway modem transcript 1
//! 0.000 > AT
//! 0.004 < AT
//! 0.004 < OK
//! 1.250 < +WIND: 4
//! ```
//!
//! `>` is a line the gateway sent, `<` one the modem sent; the text follows the direction and one
//! blank, as it was (a send prompt is the text `>`; Ctrl-Z and ESC after a payload are written
//! `^Z` and `^[`). Lines starting with `#` and blank lines are comments.
//!
//! A recording never holds what could reveal a reporter: a PIN is starred, message PDUs and
//! international phone numbers are withheld (see [`Recording`]). A modem's identifiers (IMEI,
//! IMSI, ICCID) are kept: they say which SIM misbehaved.

use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// First line of every transcript.
pub const HEADER: &str = "# kufatilia-gateway modem transcript 1";
/// What a withheld PDU line reads as.
pub const WITHHELD_PDU: &str = "<PDU withheld>";
/// What a withheld phone number reads as.
pub const WITHHELD_NUMBER: &str = "+<number withheld>";

/// Who sent a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the gateway to the modem.
    Sent,
    /// From the modem to the gateway.
    Received,
}

impl Direction {
    fn mark(self) -> char {
        match self {
            Direction::Sent => '>',
            Direction::Received => '<',
        }
    }
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptLine {
    /// Time since the session began.
    pub at: Duration,
    pub direction: Direction,
    pub text: String,
}

impl TranscriptLine {
    fn render(&self) -> String {
        format!(
            "{}.{:03} {} {}",
            self.at.as_secs(),
            self.at.subsec_millis(),
            self.direction.mark(),
            self.text
        )
    }
}

/// A transcript that does not read.
#[derive(Debug, thiserror::Error)]
#[error("transcript line {line}: {problem}")]
pub struct TranscriptError {
    /// 1-based line number in the file.
    pub line: usize,
    pub problem: String,
}

/// A whole recorded session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    pub lines: Vec<TranscriptLine>,
}

impl Transcript {
    /// Reads the text format (see the module documentation).
    pub fn parse(text: &str) -> Result<Transcript, TranscriptError> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let row = raw.trim_end_matches('\r');
            if row.trim().is_empty() || row.trim_start().starts_with('#') {
                continue;
            }
            let bad = |problem: &str| TranscriptError {
                line: i + 1,
                problem: format!("{problem}: {row:?}"),
            };
            let (time, rest) = row
                .trim_start()
                .split_once(' ')
                .ok_or_else(|| bad("expected `<seconds> <direction> <text>`"))?;
            let seconds: f64 = time
                .parse()
                .map_err(|_| bad("the time is not a number of seconds"))?;
            if !seconds.is_finite() || seconds < 0.0 {
                return Err(bad("the time is negative"));
            }
            let (direction, text) = match rest.split_at_checked(1) {
                Some((">", t)) => (Direction::Sent, t),
                Some(("<", t)) => (Direction::Received, t),
                _ => return Err(bad("the direction is neither `>` nor `<`")),
            };
            lines.push(TranscriptLine {
                at: Duration::from_secs_f64(seconds),
                direction,
                text: text.strip_prefix(' ').unwrap_or(text).to_string(),
            });
        }
        Ok(Transcript { lines })
    }

    /// The text format, header included.
    pub fn render(&self) -> String {
        let mut out = format!("{HEADER}\n");
        for l in &self.lines {
            out.push_str(&l.render());
            out.push('\n');
        }
        out
    }
}

/// Replaces what could identify a reporter or unlock the SIM in a line about to be recorded.
fn redact(direction: Direction, text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    if direction == Direction::Sent && upper.starts_with("AT+CPIN=") {
        return "AT+CPIN=\"****\"".into();
    }
    if direction == Direction::Sent && upper.starts_with("AT+CPWD=") {
        return "AT+CPWD=\"****\"".into();
    }
    let bare = text.trim_end_matches(['^', 'Z', '[']).trim();
    if bare.len() >= 20 && bare.bytes().all(|b| b.is_ascii_hexdigit()) {
        return if direction == Direction::Sent {
            format!("{WITHHELD_PDU}^Z")
        } else {
            WITHHELD_PDU.into()
        };
    }
    withhold_numbers(text)
}

/// `+` followed by seven digits or more is a phone number (a caller in `+CLIP`, a sender in a
/// text-mode header), and so is a quoted run of seven digits or more starting with `0` (the
/// national form: `+CLIP: "0812345678",129`). Identifiers of the box itself (IMEI, IMSI,
/// ICCID) never start that way, so a replay still shows them.
fn withhold_numbers(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let national = bytes[i] == b'"' && bytes.get(i + 1) == Some(&b'0');
        if bytes[i] == b'+' || national {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits >= 7 {
                if national {
                    out.push('"');
                }
                out.push_str(WITHHELD_NUMBER);
                i += 1 + digits;
                continue;
            }
        }
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// Cuts one direction's bytes into lines and writes them to the sink.
struct Side {
    direction: Direction,
    partial: Vec<u8>,
}

struct Recorder {
    sink: Box<dyn Write + Send>,
    start: Instant,
    sent: Side,
    received: Side,
    failed: bool,
}

impl Recorder {
    fn side(&mut self, direction: Direction) -> &mut Side {
        match direction {
            Direction::Sent => &mut self.sent,
            Direction::Received => &mut self.received,
        }
    }

    fn emit(&mut self, direction: Direction, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        if text.trim().is_empty() {
            return;
        }
        let line = TranscriptLine {
            at: self.start.elapsed(),
            direction,
            text: redact(direction, text.trim_matches(['\r', '\n'])),
        };
        if self.failed {
            return;
        }
        let written = writeln!(self.sink, "{}", line.render()).and_then(|()| self.sink.flush());
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot write the transcript; recording stops");
            self.failed = true;
        }
    }

    fn take(&mut self, direction: Direction, bytes: &[u8]) {
        // A prompt or a payload is the end of what the other side had to say: flush it first.
        let other = match direction {
            Direction::Sent => Direction::Received,
            Direction::Received => Direction::Sent,
        };
        let pending = std::mem::take(&mut self.side(other).partial);
        if !pending.is_empty() {
            self.emit(other, &pending);
        }
        for &b in bytes {
            match b {
                b'\r' | b'\n' => {
                    let line = std::mem::take(&mut self.side(direction).partial);
                    self.emit(direction, &line);
                }
                0x1a | 0x1b => {
                    let mut line = std::mem::take(&mut self.side(direction).partial);
                    line.extend_from_slice(if b == 0x1a { b"^Z" } else { b"^[" });
                    self.emit(direction, &line);
                }
                _ => self.side(direction).partial.push(b),
            }
        }
        // The send prompt has no line end: it is complete as soon as it is there.
        if direction == Direction::Received && self.received.partial.trim_ascii() == b">" {
            self.received.partial.clear();
            self.emit(Direction::Received, b">");
        }
    }
}

/// A port whose traffic is recorded line by line as it passes (for `doctor --record`).
pub struct Recording<S> {
    inner: S,
    recorder: Arc<Mutex<Recorder>>,
}

impl<S> std::fmt::Debug for Recording<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").finish_non_exhaustive()
    }
}

impl<S> Recording<S> {
    /// Records what passes through `inner` into `sink`, which gets the header now. A sink that
    /// fails is logged once and no longer written: the session itself goes on.
    pub fn new(inner: S, mut sink: Box<dyn Write + Send>) -> Recording<S> {
        let header = writeln!(
            sink,
            "{HEADER}\n# seconds since the port was opened; > gateway to modem, < modem to gateway"
        )
        .and_then(|()| sink.flush());
        if let Err(e) = &header {
            tracing::warn!(error = %e, "cannot write the transcript; recording stops");
        }
        Recording {
            inner,
            recorder: Arc::new(Mutex::new(Recorder {
                sink,
                start: Instant::now(),
                sent: Side {
                    direction: Direction::Sent,
                    partial: Vec::new(),
                },
                received: Side {
                    direction: Direction::Received,
                    partial: Vec::new(),
                },
                failed: header.is_err(),
            })),
        }
    }

    fn note(&self, direction: Direction, bytes: &[u8]) {
        let mut r = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        debug_assert_eq!(r.side(direction).direction, direction);
        r.take(direction, bytes);
    }
}

impl<S> Drop for Recording<S> {
    fn drop(&mut self) {
        let mut r = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        for direction in [Direction::Received, Direction::Sent] {
            let rest = std::mem::take(&mut r.side(direction).partial);
            r.emit(direction, &rest);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let fresh = buf.filled()[before..].to_vec();
            if !fresh.is_empty() {
                self.note(Direction::Received, &fresh);
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            let written = buf[..n].to_vec();
            self.note(Direction::Sent, &written);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn numbers_are_withheld_in_international_and_quoted_national_form() {
        assert_eq!(
            withhold_numbers("+CLIP: \"0812345678\",129"),
            format!("+CLIP: \"{WITHHELD_NUMBER}\",129")
        );
        assert_eq!(
            withhold_numbers("+CMT: \"+243812345678\",,\"26/12/07\""),
            format!("+CMT: \"{WITHHELD_NUMBER}\",,\"26/12/07\"")
        );
        // The box's own identifiers and short values stay.
        for kept in [
            "+CCID: \"8924301234567890123\"",
            "+COPS: 0,2,\"63001\"",
            "+CSQ: 17,99",
        ] {
            assert_eq!(withhold_numbers(kept), kept);
        }
    }

    #[test]
    fn the_text_format_reads_back() {
        let t = Transcript::parse(
            "# a comment\n\n0.000 > AT\n0.004 < OK\n12.5 <  +CUSD: 0,\"x\",15\n1.000 < >\n",
        )
        .unwrap();
        assert_eq!(t.lines.len(), 4);
        assert_eq!(t.lines[0].direction, Direction::Sent);
        assert_eq!(t.lines[2].text, " +CUSD: 0,\"x\",15");
        assert_eq!(t.lines[2].at, Duration::from_millis(12_500));
        assert_eq!(t.lines[3].text, ">");
        assert_eq!(Transcript::parse(&t.render()).unwrap(), t);
        let e = Transcript::parse("0.1 ! AT").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(Transcript::parse("x > AT").is_err());
    }

    #[tokio::test]
    async fn a_recording_keeps_both_directions_and_withholds_pins_pdus_and_numbers() {
        let (port, mut modem) = tokio::io::duplex(4096);
        let sink = Shared::default();
        let mut rec = Recording::new(port, Box::new(sink.clone()));
        rec.write_all(b"AT+CPIN=\"4321\"\r").await.unwrap();
        let mut buf = [0u8; 64];
        let n = modem.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"AT+CPIN=\"4321\"\r");
        modem
            .write_all(b"\r\nOK\r\n\r\nRING\r\n\r\n+CLIP: \"+243812345678\",145\r\n")
            .await
            .unwrap();
        let expected = b"\r\nOK\r\n\r\nRING\r\n\r\n+CLIP: \"+243812345678\",145\r\n".len();
        let mut got = vec![0u8; 64];
        let mut total = 0;
        while total < expected {
            total += rec.read(&mut got[total..]).await.unwrap();
        }
        rec.write_all(b"AT+CMGS=20\r").await.unwrap();
        modem.write_all(b"\r\n> ").await.unwrap();
        let _ = rec.read(&mut got).await.unwrap();
        rec.write_all(b"0011000C914263183254760000AA05C8329BFD06\x1a")
            .await
            .unwrap();
        drop(rec);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("4321"), "{text}");
        assert!(!text.contains("812345678"), "{text}");
        assert!(!text.contains("C8329BFD06"), "{text}");
        let t = Transcript::parse(&text).unwrap();
        let texts: Vec<(Direction, &str)> = t
            .lines
            .iter()
            .map(|l| (l.direction, l.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                (Direction::Sent, "AT+CPIN=\"****\""),
                (Direction::Received, "OK"),
                (Direction::Received, "RING"),
                (Direction::Received, "+CLIP: \"+<number withheld>\",145"),
                (Direction::Sent, "AT+CMGS=20"),
                (Direction::Received, ">"),
                (Direction::Sent, "<PDU withheld>^Z"),
            ]
        );
    }
}
