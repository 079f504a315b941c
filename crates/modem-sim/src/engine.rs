//! The simulated modem's behaviour, without any I/O: a command line (or the PDU after a prompt) in,
//! the bytes a real modem would answer out. The pty runtime in [`super`] feeds it; a standalone
//! process could too.

use std::collections::VecDeque;
use std::time::Duration;

use super::config::{Personality, SimConfig, UssdEncoding};
use super::replay::Replay;
use super::sms;

mod commands;

/// One line the simulated modem received, with when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedCommand {
    pub at: time::OffsetDateTime,
    pub line: String,
}

/// An SMS (one part of it, for a long one) the gateway sent through the simulated modem, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub to: String,
    pub text: String,
    /// Reference, count and number of this part, for a long message.
    pub concat: Option<pdu::Concat>,
    /// The PDU as the gateway gave it after the prompt.
    pub pdu: String,
    /// The message reference the modem answered.
    pub message_reference: u8,
}

/// Faults the tests switch on and off.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Stop answering anything (the modem hangs). Received lines are still logged.
    pub hang: bool,
    /// Hung as with `hang`, except that `AT+CFUN=1,1` still restarts it (the firmware's reset
    /// path survives a hung AT stack on many sticks).
    pub hang_until_reset: bool,
    /// Bytes put before every answer (line noise).
    pub garbage_before_reply: Option<Vec<u8>>,
    /// Every Nth AT+CMGS fails with `+CMS ERROR: <code>`.
    pub fail_every_nth_send: Option<(u64, u16)>,
    /// The next answer comes this late.
    pub delay_next_reply: Option<Duration>,
    /// The next answer with information lines gets this URC line in its middle.
    pub urc_inside_next_reply: Option<String>,
    /// The next SMS given at the prompt goes out, then the modem hangs before answering
    /// (until `AT+CFUN=1,1`), as sticks do after a network stall: the sender cannot know.
    pub hang_after_next_send: bool,
}

/// The answer to one input.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub bytes: Vec<u8>,
    pub delay: Option<Duration>,
    /// The modem restarted (AT+CFUN=1,1): the runtime may act on it.
    pub rebooted: bool,
}

#[derive(Debug, Clone)]
struct Stored {
    pdu: String,
    /// 0 received unread, 1 received read.
    stat: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mem {
    Sm,
    Me,
}

impl Mem {
    fn parse(s: &str) -> Option<Mem> {
        match at::Storage::parse(s) {
            at::Storage::Sim => Some(Mem::Sm),
            at::Storage::Modem | at::Storage::AnyOfModem => Some(Mem::Me),
            _ => None,
        }
    }
    fn name(&self) -> at::Storage {
        match self {
            Mem::Sm => at::Storage::Sim,
            Mem::Me => at::Storage::Modem,
        }
    }
}

/// A character set of `AT+CSCS`: the ones this modem offers in its `AT+CSCS=?` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Gsm,
    Ira,
    Ucs2,
}

impl Charset {
    const ALL: [Charset; 3] = [Charset::Gsm, Charset::Ira, Charset::Ucs2];

    fn name(self) -> &'static str {
        match self {
            Charset::Gsm => "GSM",
            Charset::Ira => "IRA",
            Charset::Ucs2 => "UCS2",
        }
    }

    /// The set an `AT+CSCS=` argument names (quoted or not, any case).
    fn parse(arg: &str) -> Option<Charset> {
        let name = arg.trim().trim_matches('"');
        Charset::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// Settings that a restart resets.
#[derive(Debug, Clone)]
struct Volatile {
    echo: bool,
    cmee: u8,
    cmgf: u8,
    cnmi: [u8; 5],
    cpms: [Mem; 3],
    creg_n: u8,
    cmms: u8,
    cscs: Charset,
    curc: bool,
    cfun: u8,
    /// Waiting for a PDU of this TPDU length after a prompt.
    prompt: Option<usize>,
    pin_entered: bool,
}

impl Volatile {
    fn at_boot() -> Volatile {
        Volatile {
            echo: true,
            cmee: 0,
            cmgf: 0,
            cnmi: [0; 5],
            cpms: [Mem::Sm; 3],
            creg_n: 0,
            cmms: 0,
            cscs: Charset::Gsm,
            curc: true,
            cfun: 1,
            prompt: None,
            pin_entered: false,
        }
    }
}

enum Fail {
    Error,
    Cms(u16),
    Cme(u16),
}

enum Outcome {
    Ok,
    Prompt,
    Fail(Fail),
}

/// The modem.
#[derive(Debug)]
pub(crate) struct Engine {
    cfg: SimConfig,
    v: Volatile,
    sm: Vec<Option<Stored>>,
    me: Vec<Option<Stored>>,
    /// Messages the network holds because the storage was full.
    network_queue: VecDeque<(String, bool)>,
    pin_tries_left: u8,
    puk_required: bool,
    pub faults: Faults,
    log: Vec<LoggedCommand>,
    sent: Vec<SentSms>,
    next_mr: u8,
    sends: u64,
    /// URCs to put after the answer being built.
    after_reply: Vec<String>,
    /// The recorded session, for [`Personality::Transcript`].
    replay: Option<Replay>,
}

fn crlf(line: &str) -> String {
    format!("\r\n{line}\r\n")
}

/// Packs text into GSM 7-bit septets, as hex. Only the characters whose GSM code is their ASCII
/// code are kept (letters, digits, space, CR, LF and most punctuation); others become '?'. Enough for the
/// balance answers a test needs.
pub fn pack_gsm7_hex(text: &str) -> String {
    let septets: Vec<u8> = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " !\"#%&'()*+,-./:;<=>?\r\n".contains(c) {
                c as u8
            } else {
                b'?'
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for s in septets {
        acc |= u32::from(s) << bits;
        bits += 7;
        while bits >= 8 {
            out.push((acc & 0xFF) as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push((acc & 0xFF) as u8);
    }
    out.iter().map(|b| format!("{b:02X}")).collect()
}

/// TPDU length of a PDU in hex that starts with its SMSC field, if the hex is well formed.
pub(crate) fn tpdu_len(pdu_hex: &str) -> Option<usize> {
    if pdu_hex.len() < 2
        || !pdu_hex.len().is_multiple_of(2)
        || !pdu_hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let smsc_len = usize::from_str_radix(&pdu_hex[..2], 16).ok()?;
    (pdu_hex.len() / 2).checked_sub(1 + smsc_len)
}

/// Splits `+CMGS=20;+CSQ` and `E0V1+CMEE=1` into single commands.
fn split_commands(body: &str) -> Vec<String> {
    let b: Vec<char> = body.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == ';' || c == ' ' {
            i += 1;
        } else if matches!(c, '+' | '^' | '$' | '*' | '#' | '%') {
            let mut j = i + 1;
            let mut quoted = false;
            while j < b.len() && (quoted || b[j] != ';') {
                if b[j] == '"' {
                    quoted = !quoted;
                }
                j += 1;
            }
            out.push(b[i..j].iter().collect());
            i = j;
        } else if c.eq_ignore_ascii_case(&'D') {
            out.push(b[i..].iter().collect());
            break;
        } else if c == '&' || c.is_ascii_alphabetic() {
            let mut j = i + if c == '&' { 2 } else { 1 };
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == '=' || b[j] == '?') {
                j += 1;
            }
            out.push(b[i..j.min(b.len())].iter().collect());
            i = j;
        } else {
            out.push(b[i..].iter().collect());
            break;
        }
    }
    out
}

/// The form of an extended command: `+X=?`, `+X?`, `+X=args`, `+X`.
#[derive(Clone, Copy)]
enum Form<'a> {
    Test,
    Query,
    Set(&'a str),
    Exec,
}

fn form_of(cmd: &str) -> (String, Form<'_>) {
    if let Some(pos) = cmd.find(['=', '?']) {
        let name = cmd[..pos].to_ascii_uppercase();
        let rest = &cmd[pos..];
        let form = if rest == "=?" {
            Form::Test
        } else if rest == "?" {
            Form::Query
        } else {
            Form::Set(rest.trim_start_matches('='))
        };
        (name, form)
    } else {
        (cmd.to_ascii_uppercase(), Form::Exec)
    }
}

fn args(s: &str) -> Vec<String> {
    at::split_params(s).into_iter().map(|p| p.text).collect()
}

impl Engine {
    pub(crate) fn new(cfg: SimConfig) -> Engine {
        let cfg_personality = cfg.personality;
        let transcript = cfg.transcript.clone();
        let sm = vec![None; cfg.slots];
        let me = vec![None; cfg.me_slots];
        Engine {
            cfg,
            v: Volatile::at_boot(),
            sm,
            me,
            network_queue: VecDeque::new(),
            pin_tries_left: 3,
            puk_required: false,
            faults: Faults::default(),
            log: Vec::new(),
            sent: Vec::new(),
            next_mr: 0,
            sends: 0,
            after_reply: Vec::new(),
            replay: (cfg_personality == Personality::Transcript).then(|| Replay::new(transcript)),
        }
    }

    pub(crate) fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// (Re)starts: settings back to defaults, the SIM locked again if it has a PIN. Returns the boot
    /// lines of this make.
    pub(crate) fn boot(&mut self) -> Vec<u8> {
        self.v = Volatile::at_boot();
        if self.cfg.pin.is_none() {
            self.v.pin_entered = true;
        }
        if let Some(r) = self.replay.as_mut() {
            return r.boot().into_bytes();
        }
        let mut out = String::new();
        for line in self.cfg.personality.boot_lines() {
            if *line == "+CPIN: READY" && !self.v.pin_entered {
                out.push_str(&crlf("+CPIN: SIM PIN"));
            } else {
                out.push_str(&crlf(line));
            }
        }
        if self.faults.hang {
            Vec::new()
        } else {
            out.into_bytes()
        }
    }

    pub(crate) fn in_prompt(&self) -> bool {
        self.v.prompt.is_some()
    }

    pub(crate) fn command_log(&self) -> &[LoggedCommand] {
        &self.log
    }

    pub(crate) fn sent(&self) -> &[SentSms] {
        &self.sent
    }

    pub(crate) fn set_registration(&mut self, stat: u8) {
        self.cfg.registration = stat;
    }

    fn storage(&self, m: Mem) -> &Vec<Option<Stored>> {
        match m {
            Mem::Sm => &self.sm,
            Mem::Me => &self.me,
        }
    }

    fn storage_mut(&mut self, m: Mem) -> &mut Vec<Option<Stored>> {
        match m {
            Mem::Sm => &mut self.sm,
            Mem::Me => &mut self.me,
        }
    }

    pub(crate) fn used_sim(&self) -> usize {
        self.sm.iter().filter(|s| s.is_some()).count()
    }

    pub(crate) fn network_queue_len(&self) -> usize {
        self.network_queue.len()
    }

    /// The network delivers a message (PDU with SMSC prefix). Returns the bytes to send now
    /// (`+CMTI`/`+CMT`), or nothing when indications are off, the modem hangs, or the storage is
    /// full (then the network keeps it until a slot frees).
    pub(crate) fn deliver(&mut self, pdu: String) -> Vec<u8> {
        let mt = self.v.cnmi[1];
        if mt == 2 && self.v.cnmi[0] != 0 && self.v.pin_entered {
            let len = tpdu_len(&pdu).unwrap_or(0);
            return self.unsolicited(&[format!("+CMT: ,{len}"), pdu]);
        }
        self.network_queue.push_back((pdu, false));
        self.store_from_network()
    }

    /// The network returns a status report (PDU with SMSC prefix) for a message sent earlier. As
    /// `AT+CNMI`'s `<ds>` says: 1 straight to the line (`+CDS`), 2 stored and announced with
    /// `+CDSI`, 0 stored silently (a sweep finds it).
    pub(crate) fn deliver_status_report(&mut self, pdu: String) -> Vec<u8> {
        if self.v.cnmi[3] == 1 && self.v.cnmi[0] != 0 && self.v.pin_entered {
            let len = tpdu_len(&pdu).unwrap_or(0);
            return self.unsolicited(&[format!("+CDS: {len}"), pdu]);
        }
        self.network_queue.push_back((pdu, true));
        self.store_from_network()
    }

    /// Moves what the network holds into free slots; the `+CMTI`s to send.
    fn store_from_network(&mut self) -> Vec<u8> {
        if !self.v.pin_entered {
            // A locked SIM is not on the network: nothing arrives.
            return Vec::new();
        }
        let mem = self.v.cpms[2];
        let first = self.cfg.personality.first_index();
        let mut lines = Vec::new();
        while let Some(slot) = self.storage(mem).iter().position(Option::is_none) {
            let Some((pdu, report)) = self.network_queue.pop_front() else {
                break;
            };
            self.storage_mut(mem)[slot] = Some(Stored { pdu, stat: 0 });
            if report {
                if self.v.cnmi[0] != 0 && self.v.cnmi[3] == 2 {
                    lines.push(format!("+CDSI: \"{}\",{}", mem.name(), slot as u32 + first));
                }
            } else if self.v.cnmi[0] != 0 && self.v.cnmi[1] == 1 {
                lines.push(format!("+CMTI: \"{}\",{}", mem.name(), slot as u32 + first));
            }
        }
        self.unsolicited(&lines)
    }

    fn unsolicited(&self, lines: &[String]) -> Vec<u8> {
        if self.faults.hang || self.faults.hang_until_reset || lines.is_empty() {
            return Vec::new();
        }
        lines
            .iter()
            .map(|l| crlf(l))
            .collect::<String>()
            .into_bytes()
    }

    /// A Huawei flood tick: `^RSSI`/`^MODE` while `AT^CURC` has not silenced them.
    pub(crate) fn flood_tick(&self) -> Vec<u8> {
        if self.cfg.personality != Personality::Huawei || !self.v.curc {
            return Vec::new();
        }
        self.unsolicited(&[format!("^RSSI: {}", self.cfg.rssi), "^MODE: 5,4".into()])
    }

    fn log_line(&mut self, line: &str) {
        self.log.push(LoggedCommand {
            at: time::OffsetDateTime::now_utc(),
            line: line.to_string(),
        });
    }

    fn finish(&mut self, mut body: Vec<u8>, echo: Option<String>) -> Reply {
        if self.faults.hang {
            return Reply::default();
        }
        let mut bytes = Vec::new();
        if let Some(e) = echo {
            bytes.extend_from_slice(e.as_bytes());
        }
        if let Some(g) = &self.faults.garbage_before_reply {
            bytes.extend_from_slice(g);
        }
        bytes.append(&mut body);
        for u in std::mem::take(&mut self.after_reply) {
            bytes.extend_from_slice(crlf(&u).as_bytes());
        }
        Reply {
            bytes,
            delay: self.faults.delay_next_reply.take(),
            rebooted: false,
        }
    }

    fn render(&mut self, info: Vec<String>, outcome: Outcome) -> Vec<u8> {
        let mut s = String::new();
        if !info.is_empty() {
            let mut lines = info;
            if let Some(u) = self.faults.urc_inside_next_reply.take() {
                let mid = lines.len().div_ceil(2);
                lines.insert(mid, u);
            }
            s.push_str("\r\n");
            for l in lines {
                s.push_str(&l);
                s.push_str("\r\n");
            }
        }
        match outcome {
            Outcome::Ok => s.push_str("\r\nOK\r\n"),
            Outcome::Prompt => s.push_str("\r\n> "),
            Outcome::Fail(Fail::Error) => s.push_str("\r\nERROR\r\n"),
            Outcome::Fail(Fail::Cms(code)) => s.push_str(&crlf(&format!("+CMS ERROR: {code}"))),
            Outcome::Fail(Fail::Cme(code)) => match self.v.cmee {
                0 => s.push_str("\r\nERROR\r\n"),
                1 => s.push_str(&crlf(&format!("+CME ERROR: {code}"))),
                _ => s.push_str(&crlf(&format!("+CME ERROR: {}", at::cme_name(code)))),
            },
        }
        s.into_bytes()
    }

    /// One command line from the DTE (without its `\r`).
    pub(crate) fn on_line(&mut self, raw: &str) -> Reply {
        let line = raw.trim();
        self.log_line(line);
        let echo = self.v.echo.then(|| format!("{raw}\r"));
        if self.faults.hang_until_reset {
            if !line.eq_ignore_ascii_case("AT+CFUN=1,1") {
                return Reply::default();
            }
            self.faults.hang_until_reset = false;
        }
        if self.faults.hang {
            return Reply::default();
        }
        if let Some(r) = self.replay.as_mut() {
            // The recording holds the echo, if the modem gave one.
            let answer = r.answer(line);
            self.v.prompt = Replay::awaits_payload(&answer).then_some(0);
            return self.finish(answer.into_bytes(), None);
        }
        // Modems look for "AT" and ignore what comes before it (noise, a stray ESC); a line without
        // it gets no answer at all.
        let Some(start) = line.to_ascii_uppercase().find("AT") else {
            return self.finish(Vec::new(), echo);
        };
        let mut info = Vec::new();
        let mut outcome = Outcome::Ok;
        let mut rebooted = false;
        for cmd in split_commands(&line[start + 2..]) {
            match self.exec(&cmd, &mut info, &mut rebooted) {
                Outcome::Ok => {}
                other => {
                    outcome = other;
                    break;
                }
            }
        }
        let body = self.render(info, outcome);
        let mut reply = self.finish(body, echo);
        if rebooted {
            reply.bytes.extend(self.boot());
            reply.rebooted = true;
        }
        reply
    }

    /// The text after a prompt, up to Ctrl-Z.
    pub(crate) fn on_payload(&mut self, payload: &str) -> Reply {
        let pdu = payload.trim().to_string();
        self.log_line(&format!("<PDU> {pdu}"));
        let echo = self.v.echo.then(|| pdu.clone());
        let Some(expected) = self.v.prompt.take() else {
            return self.finish(Vec::new(), echo);
        };
        if let Some(r) = self.replay.as_mut() {
            let answer = r.answer(&format!("{pdu}^Z"));
            return self.finish(answer.into_bytes(), None);
        }
        if self.faults.hang {
            return Reply::default();
        }
        let outcome = self.submit(&pdu, expected);
        if outcome.is_ok() && std::mem::take(&mut self.faults.hang_after_next_send) {
            self.faults.hang_until_reset = true;
            return Reply::default();
        }
        let info = match &outcome {
            Ok(mr) => vec![format!("+CMGS: {mr}")],
            Err(_) => Vec::new(),
        };
        let body = self.render(
            info,
            outcome.map(|_| Outcome::Ok).unwrap_or_else(Outcome::Fail),
        );
        self.finish(body, echo)
    }

    /// ESC after a prompt: the message is given up.
    pub(crate) fn on_cancel(&mut self) -> Reply {
        self.log_line("<ESC>");
        self.v.prompt = None;
        let body = self.render(Vec::new(), Outcome::Ok);
        self.finish(body, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Reply) -> String {
        String::from_utf8_lossy(&r.bytes).into_owned()
    }

    const DELIVER: &str =
        "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

    #[test]
    fn echo_until_ate0_and_unknown_commands() {
        let mut e = Engine::new(SimConfig::default());
        e.boot();
        assert_eq!(text(&e.on_line("AT")), "AT\r\r\nOK\r\n");
        assert_eq!(text(&e.on_line("ATE0")), "ATE0\r\r\nOK\r\n");
        assert_eq!(text(&e.on_line("AT")), "\r\nOK\r\n");
        assert_eq!(text(&e.on_line("AT+NOPE")), "\r\nERROR\r\n");
        assert_eq!(text(&e.on_line("ATE0V1+CMEE=1;+CMGF=0")), "\r\nOK\r\n");
        for cmd in [
            "AT+CSCS=?",
            "AT+CFUN=1",
            "AT+CUSD=1",
            "AT+CMMS=2",
            "AT+CPMS=\"ME\"",
            "AT+CNMI=2,1,0,2,0",
            "AT+CMGF?",
        ] {
            assert!(text(&e.on_line(cmd)).ends_with("OK\r\n"), "{cmd}");
        }
        assert_eq!(e.command_log().len(), 12);
    }

    #[test]
    fn store_notify_list_read_delete_and_the_network_queue() {
        let cfg = SimConfig {
            slots: 2,
            ..SimConfig::default()
        };
        let mut e = Engine::new(cfg);
        e.boot();
        e.on_line("ATE0");
        // No indication before AT+CNMI.
        assert!(e.deliver(DELIVER.into()).is_empty());
        e.on_line("AT+CNMI=2,1,0,0,0");
        assert_eq!(
            String::from_utf8_lossy(&e.deliver(DELIVER.into())),
            "\r\n+CMTI: \"SM\",2\r\n"
        );
        // Full: the third waits in the network.
        assert!(e.deliver(DELIVER.into()).is_empty());
        assert_eq!(e.network_queue_len(), 1);
        let list = text(&e.on_line("AT+CMGL=4"));
        assert!(list.contains("+CMGL: 1,0,,"), "{list}");
        assert!(list.contains("+CMGL: 2,0,,"), "{list}");
        assert!(text(&e.on_line("AT+CMGR=1")).contains("+CMGR: 1,,"));
        // Deleting frees a slot; the waiting message lands there, announced after the OK.
        assert_eq!(
            text(&e.on_line("AT+CMGD=1")),
            "\r\nOK\r\n\r\n+CMTI: \"SM\",1\r\n"
        );
        assert_eq!(e.network_queue_len(), 0);
        assert_eq!(text(&e.on_line("AT+CMGR=9")), "\r\n+CMS ERROR: 321\r\n");
        assert!(text(&e.on_line("AT+CPMS?")).contains("+CPMS: \"SM\",2,2,"));
    }

    #[test]
    fn pin_then_puk() {
        let cfg = SimConfig {
            pin: Some("1234".into()),
            ..SimConfig::default()
        };
        let mut e = Engine::new(cfg);
        e.boot();
        e.on_line("ATE0");
        e.on_line("AT+CMEE=1");
        assert!(text(&e.on_line("AT+CPIN?")).contains("SIM PIN"));
        assert!(text(&e.on_line("AT+CMGL=4")).contains("+CMS ERROR: 311"));
        assert!(text(&e.on_line("AT+CPIN=\"0000\"")).contains("+CME ERROR: 16"));
        assert!(text(&e.on_line("AT+CPIN=\"1234\"")).ends_with("OK\r\n"));
        assert!(text(&e.on_line("AT+CPIN?")).contains("READY"));
        e.boot();
        e.on_line("ATE0");
        e.on_line("AT+CMEE=1");
        for _ in 0..3 {
            e.on_line("AT+CPIN=\"0000\"");
        }
        assert!(text(&e.on_line("AT+CPIN?")).contains("SIM PUK"));
        assert!(text(&e.on_line("AT+CPIN=\"1234\"")).contains("+CME ERROR: 16"));
    }

    #[test]
    fn personalities() {
        let mut e = Engine::new(SimConfig {
            personality: Personality::Sim800,
            ..SimConfig::default()
        });
        let boot = String::from_utf8(e.boot()).unwrap();
        assert!(boot.contains("SMS Ready"));
        e.on_line("ATE0");
        assert_eq!(text(&e.on_line("AT+CMGR=1")), "\r\nOK\r\n");
        let mut h = Engine::new(SimConfig {
            personality: Personality::Huawei,
            ..SimConfig::default()
        });
        assert!(String::from_utf8(h.boot()).unwrap().contains("^BOOT"));
        h.on_line("ATE0");
        h.on_line("AT+CNMI=2,1,0,0,0");
        assert_eq!(
            String::from_utf8_lossy(&h.deliver(DELIVER.into())),
            "\r\n+CMTI: \"SM\",0\r\n"
        );
        assert!(!h.flood_tick().is_empty());
        h.on_line("AT^CURC=0");
        assert!(h.flood_tick().is_empty());
    }

    #[test]
    fn ussd_and_hang() {
        let mut e = Engine::new(SimConfig::default());
        e.boot();
        e.on_line("ATE0");
        assert_eq!(
            text(&e.on_line("AT+CUSD=1,\"*100#\",15")),
            "\r\nOK\r\n\r\n+CUSD: 0,\"Solde: 1250.00 FC\",15\r\n"
        );
        e.faults.hang = true;
        assert!(e.on_line("AT").bytes.is_empty());
        assert_eq!(e.command_log().last().map(|l| l.line.as_str()), Some("AT"));
    }

    #[test]
    fn cmgs_checks_the_length_before_anything() {
        let mut e = Engine::new(SimConfig::default());
        e.boot();
        e.on_line("ATE0");
        assert_eq!(text(&e.on_line("AT+CMGS=5")), "\r\n> ");
        assert!(e.in_prompt());
        assert_eq!(text(&e.on_payload("0001000100")), "\r\n+CMS ERROR: 304\r\n");
        assert!(!e.in_prompt());
        e.on_line("AT+CMGS=5");
        assert_eq!(text(&e.on_cancel()), "\r\nOK\r\n");
    }

    #[test]
    fn every_charset_round_trips_through_its_name() {
        for c in Charset::ALL {
            assert_eq!(Charset::parse(c.name()), Some(c));
            assert_eq!(
                Charset::parse(&format!("\"{}\"", c.name().to_lowercase())),
                Some(c)
            );
        }
        assert_eq!(Charset::parse("\"8859-1\""), None);
        let mut e = Engine::new(SimConfig::default());
        e.boot();
        e.on_line("ATE0");
        assert_eq!(
            text(&e.on_line("AT+CSCS=?")),
            "\r\n+CSCS: (\"GSM\",\"IRA\",\"UCS2\")\r\n\r\nOK\r\n"
        );
        assert!(text(&e.on_line("AT+CSCS=\"UCS2\"")).ends_with("OK\r\n"));
        assert_eq!(
            text(&e.on_line("AT+CSCS?")),
            "\r\n+CSCS: \"UCS2\"\r\n\r\nOK\r\n"
        );
        assert_eq!(text(&e.on_line("AT+CSCS=\"PCCP437\"")), "\r\nERROR\r\n");
    }

    #[test]
    fn splitting_and_lengths() {
        assert_eq!(
            split_commands("E0V1+CMEE=1;+CMGF=0"),
            ["E0", "V1", "+CMEE=1", "+CMGF=0"]
        );
        assert_eq!(
            split_commands("+CPMS=\"SM;x\",\"SM\""),
            ["+CPMS=\"SM;x\",\"SM\""]
        );
        assert_eq!(split_commands("&F"), ["&F"]);
        assert_eq!(tpdu_len(DELIVER), Some(DELIVER.len() / 2 - 8));
        assert_eq!(tpdu_len("0011"), Some(1));
        assert_eq!(tpdu_len("0G"), None);
    }
}
