//! The transcript personality: a recorded session (`doctor --record`, or one written by hand from
//! a modem's manual) played back. Lines the modem sent before the first command are its boot
//! lines. When the gateway sends the command recorded next, the modem answers with the lines
//! recorded after it, up to the next command — its answer, then any unsolicited lines, in
//! order. A command out of the recorded order gets the answer it had last time it was recorded
//! (a poll repeated more often than in the recording), else the first recorded later (the
//! recording is skipped ahead to it); a command never recorded gets `OK` for a bare `AT` and
//! `ERROR` otherwise.

use at::transcript::{Direction, Transcript, WITHHELD_PDU};

#[derive(Debug, Clone)]
pub(crate) struct Replay {
    transcript: Transcript,
    /// Index of the next recorded line the gateway is expected to send.
    cursor: usize,
}

/// Does the recorded line stand for what the gateway sent? A starred PIN stands for any PIN, a
/// withheld PDU for any PDU.
fn same_command(recorded: &str, sent: &str) -> bool {
    let (r, s) = (recorded.trim(), sent.trim());
    if r.eq_ignore_ascii_case(s) {
        return true;
    }
    let upper = s.to_ascii_uppercase();
    (r == "AT+CPIN=\"****\"" && upper.starts_with("AT+CPIN="))
        || (r.starts_with(WITHHELD_PDU) && s.ends_with("^Z"))
}

/// How the modem writes a recorded line on the wire.
fn wire(line: &str) -> String {
    if line.trim() == ">" {
        "\r\n> ".into()
    } else {
        format!("\r\n{line}\r\n")
    }
}

impl Replay {
    pub(crate) fn new(transcript: Transcript) -> Replay {
        Replay {
            transcript,
            cursor: 0,
        }
    }

    fn is_sent(&self, i: usize) -> bool {
        self.transcript
            .lines
            .get(i)
            .is_some_and(|l| l.direction == Direction::Sent)
    }

    /// The modem's lines from `from` up to the next recorded command; the index of that command.
    fn received_from(&self, from: usize) -> (String, usize) {
        let mut out = String::new();
        let mut i = from;
        while let Some(l) = self.transcript.lines.get(i) {
            if l.direction == Direction::Sent {
                break;
            }
            out.push_str(&wire(&l.text));
            i += 1;
        }
        (out, i)
    }

    /// Starts the recording again from its beginning; the boot lines.
    pub(crate) fn boot(&mut self) -> String {
        let (out, next) = self.received_from(0);
        self.cursor = next;
        out
    }

    /// The answer to one line the gateway sent (a command, or a payload ended by `^Z`).
    pub(crate) fn answer(&mut self, sent: &str) -> String {
        let lines = &self.transcript.lines;
        let matches = |i: usize| self.is_sent(i) && same_command(&lines[i].text, sent);
        if matches(self.cursor) {
            let (out, next) = self.received_from(self.cursor + 1);
            self.cursor = next;
            return out;
        }
        if let Some(i) = (0..self.cursor).rev().find(|&i| matches(i)) {
            return self.received_from(i + 1).0;
        }
        if let Some(i) = (self.cursor..lines.len()).find(|&i| matches(i)) {
            let (out, next) = self.received_from(i + 1);
            self.cursor = next;
            return out;
        }
        if sent.trim().eq_ignore_ascii_case("AT") {
            wire("OK")
        } else {
            wire("ERROR")
        }
    }

    /// The last answer played ends with a send prompt: what follows is a payload.
    pub(crate) fn awaits_payload(answer: &str) -> bool {
        answer.ends_with("> ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_in_order_repeats_the_last_answer_and_skips_ahead() {
        let t = Transcript::parse(
            "0 < +WIND: 3\n0.1 > AT\n0.1 < OK\n0.2 > AT+CMGF=0\n0.2 < +CME ERROR: 515\n0.3 < +WIND: 4\n\
             0.5 > AT+CMGF=0\n0.5 < OK\n0.6 > AT+CREG?\n0.6 < +CREG: 0,6\n0.6 < OK\n0.7 > AT+CSQ\n0.7 < +CSQ: 20,99\n0.7 < OK\n",
        )
        .unwrap();
        let mut r = Replay::new(t);
        assert_eq!(r.boot(), "\r\n+WIND: 3\r\n");
        assert_eq!(r.answer("AT"), "\r\nOK\r\n");
        assert_eq!(
            r.answer("AT+CMGF=0"),
            "\r\n+CME ERROR: 515\r\n\r\n+WIND: 4\r\n"
        );
        assert_eq!(r.answer("at+cmgf=0"), "\r\nOK\r\n");
        // Skipped ahead past AT+CREG?, which is then answered from the past.
        assert_eq!(r.answer("AT+CSQ"), "\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
        assert_eq!(r.answer("AT+CREG?"), "\r\n+CREG: 0,6\r\n\r\nOK\r\n");
        assert_eq!(r.answer("AT+CREG?"), "\r\n+CREG: 0,6\r\n\r\nOK\r\n");
        assert_eq!(r.answer("AT+COPS?"), "\r\nERROR\r\n");
        assert_eq!(r.answer("AT"), "\r\nOK\r\n");
        assert_eq!(r.boot(), "\r\n+WIND: 3\r\n");
    }

    #[test]
    fn a_starred_pin_stands_for_any_pin() {
        assert!(same_command("AT+CPIN=\"****\"", "AT+CPIN=\"1234\""));
        assert!(!same_command("AT+CPIN?", "AT+CPIN=\"1234\""));
        assert!(same_command("<PDU withheld>^Z", "0011AA^Z"));
    }
}
