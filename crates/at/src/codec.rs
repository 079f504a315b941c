//! Framing of the byte stream from a modem into lines and the `> ` send prompt, and of our requests
//! into bytes.
//!
//! The modem side of an AT link is not tidy: lines end in `\r\n`, `\n` or a lone `\r`; empty lines are
//! everywhere; a modem that boots or hangs spits NUL or random bytes; a broken one can send a line
//! that never ends. This decoder cleans each line, logs what it dropped, and caps a line's length so a
//! runaway modem can't eat the memory: an over-long line becomes one [`AtFrame::TooLong`] and the
//! rest of it is skipped up to the next line end. It never returns an error for the data it reads.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Longest line we accept. The longest legitimate line is a PDU of 176 octets (352 hex digits); the
/// cap leaves room for vendor info lines.
pub(crate) const MAX_LINE: usize = 4096;

/// How much of a dropped line is kept for the log.
const HEAD_LEN: usize = 64;

/// Ctrl-Z: ends the PDU after the send prompt.
const CTRL_Z: u8 = 0x1a;
/// ESC: abandons the PDU after the send prompt.
const ESC: u8 = 0x1b;

/// One unit from the modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtFrame {
    /// A non-empty line, without its line end, cleaned of control bytes and invalid UTF-8.
    Line(String),
    /// The `> ` prompt after `AT+CMGS=<n>`: the modem now waits for the PDU (no line end follows).
    Prompt,
    /// A line longer than the cap; `head` is its beginning, for the log.
    TooLong { length: usize, head: String },
}

/// What we send to the modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AtRequest {
    /// A command line, e.g. `AT+CMGL=4`; the encoder ends it with `\r`.
    Command(String),
    /// The text after the prompt (a PDU in hex); the encoder ends it with Ctrl-Z.
    Payload(String),
    /// ESC: tells a modem that waits after a prompt to give up the message.
    Cancel,
}

/// Decoder of [`AtFrame`]s, and encoder of what we send (command lines, the payload after a
/// prompt, ESC).
#[derive(Debug)]
pub struct AtCodec {
    max_line: usize,
    /// Inside an over-long line: how many bytes of it were dropped so far.
    discarding: Option<usize>,
}

impl Default for AtCodec {
    fn default() -> Self {
        AtCodec::new()
    }
}

impl AtCodec {
    pub fn new() -> AtCodec {
        AtCodec::with_max_line(MAX_LINE)
    }

    /// A codec with another line cap (tests use a small one).
    pub fn with_max_line(max_line: usize) -> AtCodec {
        AtCodec {
            max_line: max_line.max(16),
            discarding: None,
        }
    }
}

fn is_line_end(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

/// Turns the raw bytes of one line into text: drops control bytes, decodes UTF-8 lossily, and trims
/// replacement characters and blanks at both ends (that is where boot noise sticks to a line).
/// Returns `None` when nothing readable is left.
pub fn clean_line(raw: &[u8]) -> Option<String> {
    let plain = raw.iter().all(|b| (0x20..0x7f).contains(b));
    let text = if plain {
        // Only printable ASCII: valid UTF-8 by construction.
        String::from_utf8_lossy(raw).into_owned()
    } else {
        let kept: Vec<u8> = raw
            .iter()
            .copied()
            .filter(|b| *b >= 0x20 && *b != 0x7f || *b == b'\t')
            .collect();
        let text = String::from_utf8_lossy(&kept).into_owned();
        tracing::warn!(
            raw = %hex_head(raw),
            "modem line had control bytes or invalid UTF-8; kept the readable part"
        );
        text
    };
    let trimmed = text
        .trim_matches(|c: char| c.is_whitespace() || c == char::REPLACEMENT_CHARACTER)
        .to_string();
    if trimmed.is_empty() {
        if !plain {
            tracing::warn!(raw = %hex_head(raw), "skipped garbage bytes from the modem");
        }
        None
    } else {
        Some(trimmed)
    }
}

fn hex_head(raw: &[u8]) -> String {
    let n = raw.len().min(HEAD_LEN);
    let mut s = hex::encode(&raw[..n]);
    if raw.len() > n {
        s.push_str(&format!("... ({} bytes)", raw.len()));
    }
    s
}

fn text_head(raw: &[u8]) -> String {
    let n = raw.len().min(HEAD_LEN);
    String::from_utf8_lossy(&raw[..n]).into_owned()
}

impl Decoder for AtCodec {
    type Item = AtFrame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<AtFrame>, std::io::Error> {
        loop {
            if let Some(dropped) = self.discarding {
                match buf.iter().position(|b| is_line_end(*b)) {
                    Some(pos) => {
                        buf.advance(pos + 1);
                        tracing::warn!(
                            bytes = dropped + pos,
                            "end of an over-long modem line reached; its rest was skipped"
                        );
                        self.discarding = None;
                    }
                    None => {
                        self.discarding = Some(dropped + buf.len());
                        buf.clear();
                        return Ok(None);
                    }
                }
            }
            // Line ends and NULs between lines carry nothing.
            let skip = buf
                .iter()
                .take_while(|b| is_line_end(**b) || **b == 0)
                .count();
            buf.advance(skip);
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] == b'>' {
                match buf.get(1) {
                    Some(b' ') => {
                        buf.advance(2);
                        return Ok(Some(AtFrame::Prompt));
                    }
                    Some(b) if is_line_end(*b) => {
                        // A bare ">" on its own line: some modems drop the space.
                        buf.advance(2);
                        return Ok(Some(AtFrame::Prompt));
                    }
                    Some(_) => {}
                    // Wait for the byte after '>' to tell a prompt from a line.
                    None => return Ok(None),
                }
            }
            match buf.iter().position(|b| is_line_end(*b)) {
                Some(pos) if pos > self.max_line => {
                    let head = text_head(&buf[..pos]);
                    buf.advance(pos + 1);
                    tracing::warn!(length = pos, %head, "over-long modem line dropped");
                    return Ok(Some(AtFrame::TooLong { length: pos, head }));
                }
                Some(pos) => {
                    let raw = buf.split_to(pos + 1);
                    if let Some(line) = clean_line(&raw[..pos]) {
                        return Ok(Some(AtFrame::Line(line)));
                    }
                    // Only garbage on that line: look at the next one.
                }
                None if buf.len() > self.max_line => {
                    let length = buf.len();
                    let head = text_head(buf);
                    tracing::warn!(length, %head, "modem line over the cap; skipping to its end");
                    self.discarding = Some(length);
                    buf.clear();
                    return Ok(Some(AtFrame::TooLong { length, head }));
                }
                None => return Ok(None),
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<AtFrame>, std::io::Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        // A last line without its line end: give what is readable, never an error.
        if self.discarding.take().is_some() {
            buf.clear();
            return Ok(None);
        }
        let raw = buf.split();
        Ok(clean_line(&raw).map(AtFrame::Line))
    }
}

impl Encoder<AtRequest> for AtCodec {
    type Error = std::io::Error;

    fn encode(&mut self, req: AtRequest, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        match req {
            AtRequest::Command(line) => {
                dst.reserve(line.len() + 1);
                dst.put_slice(line.as_bytes());
                dst.put_u8(b'\r');
            }
            AtRequest::Payload(text) => {
                dst.reserve(text.len() + 1);
                dst.put_slice(text.as_bytes());
                dst.put_u8(CTRL_Z);
            }
            AtRequest::Cancel => dst.put_u8(ESC),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> AtFrame {
        AtFrame::Line(s.to_string())
    }

    /// Feeds `chunks` one by one, as separate reads, then EOF, and collects every frame.
    fn frames_of(codec: &mut AtCodec, chunks: &[&[u8]]) -> Vec<AtFrame> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        while let Some(f) = codec.decode_eof(&mut buf).unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn every_line_end_style_and_empty_lines() {
        let mut c = AtCodec::new();
        let got = frames_of(&mut c, &[b"\r\nOK\r\n\r\n+CSQ: 20,99\n\nRING\r\r\rERROR\r"]);
        assert_eq!(
            got,
            vec![line("OK"), line("+CSQ: 20,99"), line("RING"), line("ERROR")]
        );
    }

    #[test]
    fn a_line_split_across_reads_is_joined() {
        let mut c = AtCodec::new();
        let got = frames_of(&mut c, &[b"\r\n+CM", b"TI: \"SM\",", b"3\r", b"\nOK\r\n"]);
        assert_eq!(got, vec![line("+CMTI: \"SM\",3"), line("OK")]);
    }

    #[test]
    fn prompt_without_line_end() {
        let mut c = AtCodec::new();
        let got = frames_of(&mut c, &[b"\r\n> "]);
        assert_eq!(got, vec![AtFrame::Prompt]);
        // Split between '>' and its space.
        let got = frames_of(&mut c, &[b"\r\n>", b" ", b"\r\n+CMGS: 7\r\n\r\nOK\r\n"]);
        assert_eq!(got, vec![AtFrame::Prompt, line("+CMGS: 7"), line("OK")]);
    }

    #[test]
    fn a_line_that_starts_with_a_gt_sign_is_a_line() {
        let mut c = AtCodec::new();
        assert_eq!(frames_of(&mut c, &[b">>x\r\n"]), vec![line(">>x")]);
    }

    #[test]
    fn garbage_bytes_are_dropped_and_the_line_kept() {
        let mut c = AtCodec::new();
        let got = frames_of(
            &mut c,
            &[b"\x00\x00\xff\xfe\r\n\xffOK\r\n\x01\x02\x03\r\n+CMTI: \"SM\",\x001\r\n"],
        );
        assert_eq!(got, vec![line("OK"), line("+CMTI: \"SM\",1")]);
    }

    #[test]
    fn invalid_utf8_inside_a_line_is_replaced_not_fatal() {
        let mut c = AtCodec::new();
        let got = frames_of(&mut c, &[b"+CUSD: 0,\"Solde \xe9\",15\r\n"]);
        assert_eq!(got, vec![line("+CUSD: 0,\"Solde \u{fffd}\",15")]);
    }

    #[test]
    fn an_over_long_line_gives_one_error_frame_then_decoding_goes_on() {
        let mut c = AtCodec::with_max_line(32);
        let long = [b'A'; 100];
        let got = frames_of(&mut c, &[&long[..50], &long[50..], b"\r\nOK\r\n"]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(got[0], AtFrame::TooLong { length: 50, .. }));
        assert_eq!(got[1], line("OK"));
        // The same when the line end is already in the buffer.
        let mut long = vec![b'B'; 40];
        long.extend_from_slice(b"\r\nOK\r\n");
        let got = frames_of(&mut c, &[&long]);
        assert!(matches!(got[0], AtFrame::TooLong { length: 40, .. }));
        assert_eq!(got[1], line("OK"));
    }

    #[test]
    fn a_last_line_without_line_end_is_given_at_eof() {
        let mut c = AtCodec::new();
        assert_eq!(
            frames_of(&mut c, &[b"OK\r\nNO CARR", b"IER"]),
            vec![line("OK"), line("NO CARRIER")]
        );
        assert_eq!(frames_of(&mut c, &[b"\x00\xff"]), vec![]);
    }

    #[test]
    fn encoder_ends_commands_and_payloads() {
        let mut c = AtCodec::new();
        let mut dst = BytesMut::new();
        c.encode(AtRequest::Command("AT+CMGS=20".into()), &mut dst)
            .unwrap();
        c.encode(AtRequest::Payload("0011".into()), &mut dst)
            .unwrap();
        c.encode(AtRequest::Cancel, &mut dst).unwrap();
        assert_eq!(&dst[..], b"AT+CMGS=20\r0011\x1a\x1b");
    }
}
