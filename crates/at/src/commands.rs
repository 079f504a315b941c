//! Typed AT commands: one struct per command, one type per answer (the idea kept from `atat`).
//!
//! Each command says its line, its own timeout, the prefixes of its answer lines (so that, say, a
//! `+CREG:` answer is not taken for the unsolicited `+CREG:`), and how its information lines parse.
//! The client ([`crate::AtClient`]) strips echo, URCs and the final result code before
//! [`AtCommand::parse`] sees the lines.

use std::time::Duration;

use super::error::AtError;
use super::params::{Param, looks_like_pdu, params_after, strip_prefix};
use super::storage::Storage;

/// Timeout of a command that the modem answers from its own state.
const QUICK: Duration = Duration::from_secs(5);
/// Timeout of commands that touch the SIM (read, delete, list).
const SIM_ACCESS: Duration = Duration::from_secs(15);
/// Timeout of a send: the network can take its time.
const SEND: Duration = Duration::from_secs(60);

/// One AT command and the shape of its answer.
pub trait AtCommand {
    type Response;
    /// The command line, without the final `\r`.
    fn line(&self) -> String;
    /// How long the modem may take to give the final result code.
    fn timeout(&self) -> Duration {
        QUICK
    }
    /// The line as it may appear in logs and errors (a PIN never does).
    fn log_line(&self) -> String {
        self.line()
    }
    /// Text to send after the `> ` prompt (ended by Ctrl-Z), for commands that take one.
    fn prompt_payload(&self) -> Option<String> {
        None
    }
    /// Prefixes of this command's answer lines that would otherwise read as URCs.
    fn answer_prefixes(&self) -> &'static [&'static str] {
        &[]
    }
    /// How long the final result code may lag behind an answer line with one of
    /// [`AtCommand::answer_prefixes`] before the answer is taken without it. `None`: the final
    /// result code is awaited until the timeout.
    fn answer_grace(&self) -> Option<Duration> {
        None
    }
    /// Builds the answer from the information lines (without echo, URCs and final result code).
    fn parse(&self, lines: &[String]) -> Result<Self::Response, AtError>;
}

fn parse_error(cmd: &impl AtCommand, line: &str) -> AtError {
    AtError::Parse {
        command: cmd.log_line(),
        line: line.to_string(),
    }
}

/// The first line starting with `prefix`, as parameters.
fn params_of(cmd: &impl AtCommand, lines: &[String], prefix: &str) -> Result<Vec<Param>, AtError> {
    lines
        .iter()
        .find_map(|l| params_after(l, prefix))
        .ok_or_else(|| parse_error(cmd, &lines.join(" | ")))
}

macro_rules! simple_command {
    ($(#[$doc:meta])* $name:ident, $timeout:expr) => {
        $(#[$doc])*
        impl AtCommand for $name {
            type Response = ();
            fn line(&self) -> String {
                self.render()
            }
            fn timeout(&self) -> Duration {
                $timeout
            }
            fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
                Ok(())
            }
        }
    };
}

/// `AT`: the probe; answers `OK` when the modem listens.
#[derive(Debug, Clone, Copy)]
pub struct At;
impl At {
    fn render(&self) -> String {
        "AT".into()
    }
}
simple_command!(At, QUICK);

/// `ATE0` / `ATE1`: command echo off or on.
#[derive(Debug, Clone, Copy)]
pub struct Echo(pub bool);
impl Echo {
    fn render(&self) -> String {
        format!("ATE{}", u8::from(self.0))
    }
}
simple_command!(Echo, QUICK);

/// `AT+CMEE=<n>`: 1 numeric, 2 verbose `+CME ERROR`s.
#[derive(Debug, Clone, Copy)]
pub struct Cmee(pub u8);
impl Cmee {
    fn render(&self) -> String {
        format!("AT+CMEE={}", self.0)
    }
}
simple_command!(Cmee, QUICK);

/// `AT+CMGF=<mode>`: PDU (0) or text (1) mode; the gateway always uses PDU mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmgf {
    Pdu,
    Text,
}
impl Cmgf {
    fn render(&self) -> String {
        format!("AT+CMGF={}", if *self == Cmgf::Pdu { 0 } else { 1 })
    }
}
simple_command!(Cmgf, QUICK);

/// `AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>`: how new messages are indicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cnmi {
    pub mode: u8,
    pub mt: u8,
    pub bm: u8,
    pub ds: u8,
    pub bfr: u8,
}
impl Cnmi {
    /// Store every message and tell us its index with `+CMTI` (what the gateway wants: a stored
    /// message survives a crash between indication and commit).
    pub const STORE_AND_NOTIFY: Cnmi = Cnmi {
        mode: 2,
        mt: 1,
        bm: 0,
        ds: 0,
        bfr: 0,
    };
    fn render(&self) -> String {
        format!(
            "AT+CNMI={},{},{},{},{}",
            self.mode, self.mt, self.bm, self.ds, self.bfr
        )
    }
}
simple_command!(Cnmi, QUICK);

/// `AT+CMGD=<index>`: deletes one stored message.
#[derive(Debug, Clone, Copy)]
pub struct Cmgd(pub u32);
impl Cmgd {
    fn render(&self) -> String {
        format!("AT+CMGD={}", self.0)
    }
}
simple_command!(Cmgd, SIM_ACCESS);

/// `AT+CFUN=<fun>[,1]`: functionality level (1 full); `reset` restarts the modem.
#[derive(Debug, Clone, Copy)]
pub struct Cfun {
    pub fun: u8,
    pub reset: bool,
}
impl Cfun {
    fn render(&self) -> String {
        if self.reset {
            format!("AT+CFUN={},1", self.fun)
        } else {
            format!("AT+CFUN={}", self.fun)
        }
    }
}
simple_command!(Cfun, Duration::from_secs(30));

/// `AT+CUSD=1,"<code>",<dcs>`: starts a USSD session (balance query). The modem answers `OK`; the
/// network's answer comes later as the URC `+CUSD`.
#[derive(Debug, Clone)]
pub struct Cusd {
    pub code: String,
    pub dcs: u8,
}
impl Cusd {
    fn render(&self) -> String {
        format!("AT+CUSD=1,\"{}\",{}", self.code, self.dcs)
    }
}
simple_command!(Cusd, Duration::from_secs(10));

/// `AT+CPIN="<pin>"`: enters the SIM PIN. Never logged.
#[derive(Clone)]
pub struct CpinEnter {
    pub pin: String,
}
impl std::fmt::Debug for CpinEnter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CpinEnter { pin: \"****\" }")
    }
}
impl AtCommand for CpinEnter {
    type Response = ();
    fn line(&self) -> String {
        format!("AT+CPIN=\"{}\"", self.pin)
    }
    fn log_line(&self) -> String {
        "AT+CPIN=\"****\"".into()
    }
    fn timeout(&self) -> Duration {
        SIM_ACCESS
    }
    fn parse(&self, _lines: &[String]) -> Result<(), AtError> {
        Ok(())
    }
}

/// Any command, for the rare ones without a type (`AT^CURC=0`): the answer is its lines.
#[derive(Debug, Clone)]
pub struct Raw {
    line: String,
}
impl Raw {
    pub fn new(line: impl Into<String>) -> Raw {
        Raw { line: line.into() }
    }
}
impl AtCommand for Raw {
    type Response = Vec<String>;
    fn line(&self) -> String {
        self.line.clone()
    }
    fn parse(&self, lines: &[String]) -> Result<Vec<String>, AtError> {
        Ok(lines.to_vec())
    }
}

// ---- storage ----

/// Use of one message storage (the SIM, the modem's memory, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUsage {
    /// The storage: the one asked for after `AT+CPMS=`, the one the modem names after `AT+CPMS?`.
    pub storage: Option<Storage>,
    pub used: u32,
    pub total: u32,
}

/// `AT+CPMS="<mem1>","<mem2>","<mem3>"`: where messages are read/deleted, written/sent, and
/// received. Answers the use of each.
#[derive(Debug, Clone)]
pub struct CpmsSet {
    pub mem1: Storage,
    pub mem2: Storage,
    pub mem3: Storage,
}
impl CpmsSet {
    /// The same storage for all three.
    pub fn all(storage: Storage) -> CpmsSet {
        CpmsSet {
            mem1: storage.clone(),
            mem2: storage.clone(),
            mem3: storage,
        }
    }
}
impl AtCommand for CpmsSet {
    type Response = Vec<StorageUsage>;
    fn line(&self) -> String {
        format!(
            "AT+CPMS=\"{}\",\"{}\",\"{}\"",
            self.mem1, self.mem2, self.mem3
        )
    }
    fn timeout(&self) -> Duration {
        SIM_ACCESS
    }
    fn parse(&self, lines: &[String]) -> Result<Vec<StorageUsage>, AtError> {
        let p = params_of(self, lines, "+CPMS:")?;
        let names = [&self.mem1, &self.mem2, &self.mem3];
        let mut out = Vec::new();
        for (i, pair) in p.chunks(2).enumerate() {
            let (Some(used), Some(total)) = (
                pair.first().and_then(Param::as_u32),
                pair.get(1).and_then(Param::as_u32),
            ) else {
                return Err(parse_error(self, &lines.join(" | ")));
            };
            out.push(StorageUsage {
                storage: names.get(i).map(|s| (*s).clone()),
                used,
                total,
            });
        }
        Ok(out)
    }
}

/// `AT+CPMS?`: the storages in use and how full they are.
#[derive(Debug, Clone, Copy)]
pub struct CpmsQuery;
impl AtCommand for CpmsQuery {
    type Response = Vec<StorageUsage>;
    fn line(&self) -> String {
        "AT+CPMS?".into()
    }
    fn timeout(&self) -> Duration {
        SIM_ACCESS
    }
    fn parse(&self, lines: &[String]) -> Result<Vec<StorageUsage>, AtError> {
        let p = params_of(self, lines, "+CPMS:")?;
        p.chunks(3)
            .map(|t| {
                match (
                    t.first(),
                    t.get(1).and_then(Param::as_u32),
                    t.get(2).and_then(Param::as_u32),
                ) {
                    (Some(name), Some(used), Some(total)) => Ok(StorageUsage {
                        storage: Some(Storage::parse(&name.text)),
                        used,
                        total,
                    }),
                    _ => Err(parse_error(self, &lines.join(" | "))),
                }
            })
            .collect()
    }
}

// ---- messages ----

/// `<stat>` of a stored message in PDU mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStat {
    ReceivedUnread,
    ReceivedRead,
    StoredUnsent,
    StoredSent,
    Other(u8),
}
impl MessageStat {
    pub(crate) fn from_code(code: u8) -> MessageStat {
        match code {
            0 => MessageStat::ReceivedUnread,
            1 => MessageStat::ReceivedRead,
            2 => MessageStat::StoredUnsent,
            3 => MessageStat::StoredSent,
            n => MessageStat::Other(n),
        }
    }
    /// A message we received (as opposed to one written for sending).
    pub fn is_received(&self) -> bool {
        matches!(
            self,
            MessageStat::ReceivedUnread | MessageStat::ReceivedRead
        )
    }
}

/// Which messages `AT+CMGL` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    ReceivedUnread = 0,
    ReceivedRead = 1,
    StoredUnsent = 2,
    StoredSent = 3,
    All = 4,
}

/// One message listed by `AT+CMGL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    pub index: u32,
    pub stat: MessageStat,
    /// TPDU length in octets, as the modem says.
    pub length: u32,
    /// The PDU in hex, with the SMSC prefix.
    pub pdu: String,
}

/// `AT+CMGL=<stat>`: lists stored messages (PDU mode).
#[derive(Debug, Clone, Copy)]
pub struct Cmgl(pub ListFilter);
impl AtCommand for Cmgl {
    type Response = Vec<ListedMessage>;
    fn line(&self) -> String {
        format!("AT+CMGL={}", self.0 as u8)
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(30)
    }
    fn parse(&self, lines: &[String]) -> Result<Vec<ListedMessage>, AtError> {
        let mut out = Vec::new();
        let mut it = lines.iter();
        while let Some(line) = it.next() {
            let Some(p) = params_after(line, "+CMGL:") else {
                // A stray line between entries; the reader already logged what it routed.
                // Only its head: a stray PDU line holds a sender's number.
                let head: String = line.chars().take(8).collect();
                tracing::warn!(command = %self.line(), %head, length = line.len(), "unexpected line in message list, skipped");
                continue;
            };
            let (Some(index), Some(stat)) = (
                p.first().and_then(Param::as_u32),
                p.get(1).and_then(Param::as_u8),
            ) else {
                return Err(parse_error(self, line));
            };
            let length = p.last().and_then(Param::as_u32).unwrap_or(0);
            let line = it.next().ok_or_else(|| parse_error(self, line))?;
            let pdu = pdu_of_line(line, length).ok_or_else(|| parse_error(self, line))?;
            out.push(ListedMessage {
                index,
                stat: MessageStat::from_code(stat),
                length,
                pdu,
            });
        }
        Ok(out)
    }
}

/// The PDU of a `+CMGL`/`+CMGR` entry. Some firmwares end the line with a stray `"` or pad it;
/// the length the header announces (the TPDU octets, after the SMSC field) says where the PDU
/// ends, so the PDU is read by that length. `None` when the line holds no PDU.
fn pdu_of_line(line: &str, tpdu_len: u32) -> Option<String> {
    let hex: String = line
        .trim()
        .trim_end_matches(|c: char| c == '"' || c == ',' || c.is_whitespace())
        .trim_start_matches('"')
        .to_string();
    if looks_like_pdu(&hex) {
        return Some(hex);
    }
    // Only the hex the header announces, if that much is there: the rest is the stray tail.
    let smsc_len = usize::from_str_radix(hex.get(..2)?, 16).ok()?;
    let total = 2 * (1 + smsc_len + usize::try_from(tpdu_len).ok()?);
    let cut = hex.get(..total)?;
    (tpdu_len > 0 && looks_like_pdu(cut)).then(|| cut.to_string())
}

/// One message read by `AT+CMGR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMessage {
    pub stat: MessageStat,
    pub length: u32,
    pub pdu: String,
}

/// `AT+CMGR=<index>`: reads one message. `None` when the slot is empty (some modems answer a bare
/// `OK`, others `+CMS ERROR: 321`, which stays an error).
#[derive(Debug, Clone, Copy)]
pub struct Cmgr(pub u32);
impl AtCommand for Cmgr {
    type Response = Option<ReadMessage>;
    fn line(&self) -> String {
        format!("AT+CMGR={}", self.0)
    }
    fn timeout(&self) -> Duration {
        SIM_ACCESS
    }
    fn parse(&self, lines: &[String]) -> Result<Option<ReadMessage>, AtError> {
        let Some(pos) = lines
            .iter()
            .position(|l| strip_prefix(l, "+CMGR:").is_some())
        else {
            return if lines.is_empty() {
                Ok(None)
            } else {
                Err(parse_error(self, &lines.join(" | ")))
            };
        };
        let header = &lines[pos];
        let p = params_after(header, "+CMGR:").unwrap_or_default();
        let stat = p
            .first()
            .and_then(Param::as_u8)
            .ok_or_else(|| parse_error(self, header))?;
        let length = p.last().and_then(Param::as_u32).unwrap_or(0);
        // Some modems answer an empty slot with "+CMGR: 0,,0" and no PDU line.
        let Some(line) = lines.get(pos + 1) else {
            return if length == 0 {
                Ok(None)
            } else {
                Err(parse_error(self, header))
            };
        };
        let pdu = pdu_of_line(line, length).ok_or_else(|| parse_error(self, line))?;
        Ok(Some(ReadMessage {
            stat: MessageStat::from_code(stat),
            length,
            pdu,
        }))
    }
}

/// `AT+CMGS=<length>`, then the PDU after the `> ` prompt, ended by Ctrl-Z. Answers the message
/// reference the network gave.
#[derive(Debug, Clone)]
pub struct Cmgs {
    /// TPDU length in octets (without the SMSC prefix).
    pub tpdu_len: usize,
    /// The PDU in hex, with its SMSC prefix (`00` for the SIM's default SMSC).
    pub pdu: String,
}
impl AtCommand for Cmgs {
    type Response = u8;
    fn line(&self) -> String {
        format!("AT+CMGS={}", self.tpdu_len)
    }
    fn timeout(&self) -> Duration {
        SEND
    }
    fn prompt_payload(&self) -> Option<String> {
        Some(self.pdu.clone())
    }
    fn answer_prefixes(&self) -> &'static [&'static str] {
        &["+CMGS:"]
    }
    fn parse(&self, lines: &[String]) -> Result<u8, AtError> {
        let p = params_of(self, lines, "+CMGS:")?;
        p.first()
            .and_then(Param::as_u8)
            .ok_or_else(|| parse_error(self, &lines.join(" | ")))
    }
}

// ---- SIM, network ----

/// State of the SIM lock (`<code>` of `+CPIN:`, TS 27.007 §8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinState {
    Ready,
    SimPin,
    SimPuk,
    /// The phone is locked to this SIM (phone-to-SIM password).
    PhSimPin,
    /// Phone-to-very-first-SIM password and its unblocking key.
    PhFsimPin,
    PhFsimPuk,
    /// PIN2 or PUK2: they guard only the fixed dialling list and the like, not SMS.
    SimPin2,
    SimPuk2,
    /// Network, network-subset, service-provider and corporate personalisation (a modem locked
    /// to an operator), each with its unblocking key.
    PhNetPin,
    PhNetPuk,
    PhNetsubPin,
    PhNetsubPuk,
    PhSpPin,
    PhSpPuk,
    PhCorpPin,
    PhCorpPuk,
    /// A state not in the list above, as the modem gave it.
    Other(String),
}

/// Every named SIM state; [`PinState::as_str`] is their one spelling.
const PIN_STATES: [PinState; 16] = [
    PinState::Ready,
    PinState::SimPin,
    PinState::SimPuk,
    PinState::PhSimPin,
    PinState::PhFsimPin,
    PinState::PhFsimPuk,
    PinState::SimPin2,
    PinState::SimPuk2,
    PinState::PhNetPin,
    PinState::PhNetPuk,
    PinState::PhNetsubPin,
    PinState::PhNetsubPuk,
    PinState::PhSpPin,
    PinState::PhSpPuk,
    PinState::PhCorpPin,
    PinState::PhCorpPuk,
];

impl PinState {
    /// The words the modem uses: `READY`, `SIM PIN`, ... or its own for [`PinState::Other`].
    pub fn as_str(&self) -> &str {
        match self {
            PinState::Ready => "READY",
            PinState::SimPin => "SIM PIN",
            PinState::SimPuk => "SIM PUK",
            PinState::PhSimPin => "PH-SIM PIN",
            PinState::PhFsimPin => "PH-FSIM PIN",
            PinState::PhFsimPuk => "PH-FSIM PUK",
            PinState::SimPin2 => "SIM PIN2",
            PinState::SimPuk2 => "SIM PUK2",
            PinState::PhNetPin => "PH-NET PIN",
            PinState::PhNetPuk => "PH-NET PUK",
            PinState::PhNetsubPin => "PH-NETSUB PIN",
            PinState::PhNetsubPuk => "PH-NETSUB PUK",
            PinState::PhSpPin => "PH-SP PIN",
            PinState::PhSpPuk => "PH-SP PUK",
            PinState::PhCorpPin => "PH-CORP PIN",
            PinState::PhCorpPuk => "PH-CORP PUK",
            PinState::Other(text) => text,
        }
    }

    /// Reads the state after `+CPIN:`, without case, quotes and extra blanks (`SIM  PIN`); an
    /// unknown one is kept.
    pub(crate) fn from_text(text: &str) -> PinState {
        let words = text
            .trim()
            .trim_matches('"')
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        PIN_STATES
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(&words))
            .unwrap_or_else(|| PinState::Other(text.trim().to_string()))
    }

    /// The SIM can receive and send SMS in this state. PIN2/PUK2 only guard the SIM's
    /// fixed-dialling and charge settings (TS 27.007 §8.3): the SIM itself is unlocked.
    pub fn allows_sms(&self) -> bool {
        matches!(
            self,
            PinState::Ready | PinState::SimPin2 | PinState::SimPuk2
        )
    }

    /// The modem is locked to another operator, SIM or SIM family (personalisation): only the
    /// seller's unlock code helps.
    pub fn is_personalisation_lock(&self) -> bool {
        matches!(
            self,
            PinState::PhSimPin
                | PinState::PhFsimPin
                | PinState::PhFsimPuk
                | PinState::PhNetPin
                | PinState::PhNetPuk
                | PinState::PhNetsubPin
                | PinState::PhNetsubPuk
                | PinState::PhSpPin
                | PinState::PhSpPuk
                | PinState::PhCorpPin
                | PinState::PhCorpPuk
        )
    }
}

impl std::fmt::Display for PinState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `AT+CPIN?`: does the SIM want a PIN?
#[derive(Debug, Clone, Copy)]
pub struct CpinQuery;
impl AtCommand for CpinQuery {
    type Response = PinState;
    fn line(&self) -> String {
        "AT+CPIN?".into()
    }
    fn timeout(&self) -> Duration {
        SIM_ACCESS
    }
    fn answer_prefixes(&self) -> &'static [&'static str] {
        &["+CPIN:"]
    }
    /// Some modems give `+CPIN: READY` at once and their `OK` seconds later, or never while the
    /// SIM is still being read: the state line is the answer.
    fn answer_grace(&self) -> Option<Duration> {
        Some(Duration::from_secs(2))
    }
    fn parse(&self, lines: &[String]) -> Result<PinState, AtError> {
        lines
            .iter()
            .find_map(|l| strip_prefix(l, "+CPIN:"))
            .map(PinState::from_text)
            .ok_or_else(|| parse_error(self, &lines.join(" | ")))
    }
}

/// Network registration status (`<stat>` of `+CREG`, `+CGREG`, `+CEREG`; TS 27.007 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegStatus {
    /// 0: not registered, not searching.
    NotSearching,
    /// 1: registered, home network.
    Home,
    /// 2: not registered, searching.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown (out of coverage, say).
    Unknown,
    /// 5: registered, roaming.
    Roaming,
    /// 6: registered for SMS only, home network (an LTE modem without voice).
    HomeSmsOnly,
    /// 7: registered for SMS only, roaming.
    RoamingSmsOnly,
    /// 8: attached for emergency bearer services only: no SMS.
    EmergencyOnly,
    /// 9: registered, home, "CSFB not preferred" (SMS work).
    HomeCsfbNotPreferred,
    /// 10: registered, roaming, "CSFB not preferred".
    RoamingCsfbNotPreferred,
    Other(u8),
}
impl RegStatus {
    pub(crate) fn from_code(code: u8) -> RegStatus {
        match code {
            0 => RegStatus::NotSearching,
            1 => RegStatus::Home,
            2 => RegStatus::Searching,
            3 => RegStatus::Denied,
            4 => RegStatus::Unknown,
            5 => RegStatus::Roaming,
            6 => RegStatus::HomeSmsOnly,
            7 => RegStatus::RoamingSmsOnly,
            8 => RegStatus::EmergencyOnly,
            9 => RegStatus::HomeCsfbNotPreferred,
            10 => RegStatus::RoamingCsfbNotPreferred,
            n => RegStatus::Other(n),
        }
    }
    /// Registered well enough to send and receive SMS: 1, 5, 6, 7, 9 and 10.
    pub fn is_registered(&self) -> bool {
        matches!(
            self,
            RegStatus::Home
                | RegStatus::Roaming
                | RegStatus::HomeSmsOnly
                | RegStatus::RoamingSmsOnly
                | RegStatus::HomeCsfbNotPreferred
                | RegStatus::RoamingCsfbNotPreferred
        )
    }
    /// Registered on another operator's network: every SMS may cost more.
    pub fn is_roaming(&self) -> bool {
        matches!(
            self,
            RegStatus::Roaming | RegStatus::RoamingSmsOnly | RegStatus::RoamingCsfbNotPreferred
        )
    }
}

/// A registration answer or URC, whichever of its forms the modem used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub stat: RegStatus,
    pub lac: Option<String>,
    pub cell: Option<String>,
    /// `<AcT>`: the radio technology (0 GSM, 2 UTRAN, 7 E-UTRAN, ...), when given.
    pub act: Option<u8>,
}

/// Does this parameter look like a location area or cell id rather than a small number? Ids
/// come quoted in hex; some modems leave the quotes out.
fn looks_like_id(p: &Param) -> bool {
    p.quoted || p.text.trim().len() >= 4 || p.as_u8().is_none()
}

/// Reads the parameters of a `+CREG`/`+CGREG`/`+CEREG` line in any of its forms: the answer
/// to the query `<n>,<stat>[,<lac>,<ci>[,<AcT>...]]`, or the unsolicited
/// `<stat>[,<lac>,<ci>[,<AcT>...]]`. They are told apart by where the first id sits: after one
/// number in the URC, after two in the answer. `+CGREG`/`+CEREG` add routing-area or reject
/// fields after `<AcT>`, which are ignored.
pub fn parse_registration(p: &[Param]) -> Option<Registration> {
    let first_id = p.iter().position(looks_like_id);
    let stat_at = match (first_id, p.len()) {
        (Some(1), _) => 0,
        (Some(_), _) => 1,
        (None, 1) => 0,
        (None, _) => 1,
    };
    let stat = RegStatus::from_code(p.get(stat_at)?.as_u8()?);
    let id = |i: usize| {
        p.get(i)
            .map(|p| p.text.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    Some(Registration {
        stat,
        lac: id(stat_at + 1),
        cell: id(stat_at + 2),
        act: p.get(stat_at + 3).and_then(Param::as_u8),
    })
}

/// `AT+CREG?`: circuit-switched network registration (what SMS over GSM/UMTS needs).
#[derive(Debug, Clone, Copy)]
pub struct CregQuery;
impl AtCommand for CregQuery {
    type Response = Registration;
    fn line(&self) -> String {
        "AT+CREG?".into()
    }
    fn answer_prefixes(&self) -> &'static [&'static str] {
        &["+CREG:"]
    }
    fn parse(&self, lines: &[String]) -> Result<Registration, AtError> {
        let p = params_of(self, lines, "+CREG:")?;
        parse_registration(&p).ok_or_else(|| parse_error(self, &lines.join(" | ")))
    }
}

/// `AT+CGREG?`: packet-switched registration (some LTE modems carry SMS there).
#[derive(Debug, Clone, Copy)]
pub struct CgregQuery;
impl AtCommand for CgregQuery {
    type Response = Registration;
    fn line(&self) -> String {
        "AT+CGREG?".into()
    }
    fn answer_prefixes(&self) -> &'static [&'static str] {
        &["+CGREG:"]
    }
    fn parse(&self, lines: &[String]) -> Result<Registration, AtError> {
        let p = params_of(self, lines, "+CGREG:")?;
        parse_registration(&p).ok_or_else(|| parse_error(self, &lines.join(" | ")))
    }
}

/// Signal quality from `AT+CSQ` (or `^RSSI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalQuality {
    /// 0..31, 99 unknown.
    pub rssi: u8,
    /// Bit error rate class 0..7, 99 unknown.
    pub ber: u8,
}

/// `<rssi>` of `+CSQ` in dBm (TS 27.007 §8.5): 0 is -113 dBm or less, 31 is -51 or more.
pub fn rssi_to_dbm(rssi: u8) -> Option<i32> {
    (rssi <= 31).then(|| -113 + 2 * i32::from(rssi))
}

/// How usable a signal is, in a word a technician understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalLevel {
    /// Unknown, or at -111 dBm and below: no SMS will get through.
    NoSignal,
    /// Below -95 dBm: messages may be slow or fail.
    Weak,
    /// Below -83 dBm.
    Fair,
    Good,
}

impl SignalLevel {
    /// The level of a signal of `dbm` (`None`: unknown).
    pub fn from_dbm(dbm: Option<i32>) -> SignalLevel {
        match dbm {
            None => SignalLevel::NoSignal,
            Some(d) if d <= -111 => SignalLevel::NoSignal,
            Some(d) if d < -95 => SignalLevel::Weak,
            Some(d) if d < -83 => SignalLevel::Fair,
            Some(_) => SignalLevel::Good,
        }
    }

    /// The word shown in the status and by `doctor`: "none", "weak", "ok" or "good".
    pub fn as_str(self) -> &'static str {
        match self {
            SignalLevel::NoSignal => "none",
            SignalLevel::Weak => "weak",
            SignalLevel::Fair => "ok",
            SignalLevel::Good => "good",
        }
    }
}

impl std::fmt::Display for SignalLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SignalQuality {
    pub fn dbm(&self) -> Option<i32> {
        rssi_to_dbm(self.rssi)
    }
    pub fn level(&self) -> SignalLevel {
        SignalLevel::from_dbm(self.dbm())
    }
}

/// `AT+CSQ`: signal quality.
#[derive(Debug, Clone, Copy)]
pub struct Csq;
impl AtCommand for Csq {
    type Response = SignalQuality;
    fn line(&self) -> String {
        "AT+CSQ".into()
    }
    fn parse(&self, lines: &[String]) -> Result<SignalQuality, AtError> {
        let p = params_of(self, lines, "+CSQ:")?;
        match (
            p.first().and_then(Param::as_u8),
            p.get(1).and_then(Param::as_u8),
        ) {
            (Some(rssi), ber) => Ok(SignalQuality {
                rssi,
                ber: ber.unwrap_or(99),
            }),
            _ => Err(parse_error(self, &lines.join(" | "))),
        }
    }
}

/// `AT+CSCA?`: the SMS service centre address, if one is set.
#[derive(Debug, Clone, Copy)]
pub struct CscaQuery;
impl AtCommand for CscaQuery {
    type Response = Option<String>;
    fn line(&self) -> String {
        "AT+CSCA?".into()
    }
    fn parse(&self, lines: &[String]) -> Result<Option<String>, AtError> {
        let p = params_of(self, lines, "+CSCA:")?;
        Ok(p.first()
            .map(|p| p.text.trim().to_string())
            .filter(|s| !s.is_empty()))
    }
}

// ---- identification ----

/// Takes the value of an identification answer: the first line, without any `+XXX:` label some
/// modems put in front.
fn identity_value(cmd: &impl AtCommand, lines: &[String]) -> Result<String, AtError> {
    let line = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .ok_or_else(|| parse_error(cmd, ""))?;
    let value = match line.split_once(':') {
        Some((label, rest)) if label.starts_with(['+', '^']) && !label.contains(' ') => rest.trim(),
        _ => line,
    };
    Ok(value.trim_matches('"').to_string())
}

macro_rules! identity_command {
    ($(#[$doc:meta])* $name:ident, $line:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl AtCommand for $name {
            type Response = String;
            fn line(&self) -> String {
                $line.into()
            }
            fn parse(&self, lines: &[String]) -> Result<String, AtError> {
                identity_value(self, lines)
            }
        }
    };
}

identity_command!(
    /// `AT+CGMI`: manufacturer.
    Cgmi, "AT+CGMI"
);
identity_command!(
    /// `AT+CGMM`: model.
    Cgmm, "AT+CGMM"
);
identity_command!(
    /// `AT+CGMR`: firmware revision.
    Cgmr, "AT+CGMR"
);
identity_command!(
    /// `AT+CGSN`: IMEI.
    Cgsn, "AT+CGSN"
);
identity_command!(
    /// `AT+CIMI`: IMSI of the SIM.
    Cimi, "AT+CIMI"
);
identity_command!(
    /// `AT+CCID`: ICCID of the SIM (not every modem has it).
    Ccid, "AT+CCID"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_lines() {
        assert_eq!(Echo(false).line(), "ATE0");
        assert_eq!(Cmee(1).line(), "AT+CMEE=1");
        assert_eq!(Cmgf::Pdu.line(), "AT+CMGF=0");
        assert_eq!(Cnmi::STORE_AND_NOTIFY.line(), "AT+CNMI=2,1,0,0,0");
        assert_eq!(
            CpmsSet::all(Storage::Sim).line(),
            "AT+CPMS=\"SM\",\"SM\",\"SM\""
        );
        assert_eq!(
            CpmsSet {
                mem1: Storage::Modem,
                mem2: Storage::Sim,
                mem3: Storage::Sim
            }
            .line(),
            "AT+CPMS=\"ME\",\"SM\",\"SM\""
        );
        assert_eq!(Cmgl(ListFilter::All).line(), "AT+CMGL=4");
        assert_eq!(Cmgr(3).line(), "AT+CMGR=3");
        assert_eq!(Cmgd(3).line(), "AT+CMGD=3");
        assert_eq!(
            Cmgs {
                tpdu_len: 19,
                pdu: "00".into()
            }
            .line(),
            "AT+CMGS=19"
        );
        assert_eq!(
            Cusd {
                code: "*100#".into(),
                dcs: 15
            }
            .line(),
            "AT+CUSD=1,\"*100#\",15"
        );
        assert_eq!(
            Cfun {
                fun: 1,
                reset: true
            }
            .line(),
            "AT+CFUN=1,1"
        );
        assert_eq!(
            Cmgs {
                tpdu_len: 19,
                pdu: "00".into()
            }
            .timeout(),
            SEND
        );
    }

    #[test]
    fn the_pin_never_shows() {
        let c = CpinEnter { pin: "4321".into() };
        assert_eq!(c.line(), "AT+CPIN=\"4321\"");
        assert!(!c.log_line().contains("4321"));
        assert!(!format!("{c:?}").contains("4321"));
    }

    #[test]
    fn cpms() {
        let r = CpmsSet::all(Storage::Sim)
            .parse(&lines(&["+CPMS: 3,10,3,10,3,10"]))
            .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0],
            StorageUsage {
                storage: Some(Storage::Sim),
                used: 3,
                total: 10
            }
        );
        let r = CpmsQuery
            .parse(&lines(&["+CPMS: \"SM\",2,20,\"ME\",0,100,\"SM\",2,20"]))
            .unwrap();
        assert_eq!(
            r[1],
            StorageUsage {
                storage: Some(Storage::Modem),
                used: 0,
                total: 100
            }
        );
        assert!(CpmsQuery.parse(&lines(&["+CPMS: \"SM\",x,20"])).is_err());
    }

    #[test]
    fn cmgl_lists_index_stat_and_pdu() {
        let r = Cmgl(ListFilter::All)
            .parse(&lines(&[
                "+CMGL: 1,0,,24",
                "0791AABB",
                "+CMGL: 4,1,\"\",30",
                "0791CCDD",
            ]))
            .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].index, 1);
        assert_eq!(r[0].stat, MessageStat::ReceivedUnread);
        assert_eq!(r[1].index, 4);
        assert_eq!(r[1].length, 30);
        assert_eq!(r[1].pdu, "0791CCDD");
        assert_eq!(Cmgl(ListFilter::All).parse(&[]).unwrap(), vec![]);
        assert!(
            Cmgl(ListFilter::All)
                .parse(&lines(&["+CMGL: 1,0,,24"]))
                .is_err()
        );
        assert!(
            Cmgl(ListFilter::All)
                .parse(&lines(&["+CMGL: 1,0,,24", "NOT HEX"]))
                .is_err()
        );
    }

    #[test]
    fn cmgr_reads_or_says_empty() {
        let r = Cmgr(2)
            .parse(&lines(&["+CMGR: 1,,24", "0791AABB"]))
            .unwrap()
            .unwrap();
        assert_eq!(r.stat, MessageStat::ReceivedRead);
        assert_eq!(r.pdu, "0791AABB");
        assert_eq!(Cmgr(2).parse(&[]).unwrap(), None);
        assert_eq!(Cmgr(2).parse(&lines(&["+CMGR: 0,,0"])).unwrap(), None);
        assert!(Cmgr(2).parse(&lines(&["+CMGR: 0,,24"])).is_err());
    }

    #[test]
    fn a_pdu_line_with_a_stray_quote_is_read_by_the_announced_length() {
        let pdu = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37";
        // 8 octets of SMSC field, then 28 of TPDU.
        let r = Cmgr(1)
            .parse(&lines(&["+CMGR: 0,,28", &format!("{pdu}\"")]))
            .unwrap()
            .unwrap();
        assert_eq!(r.pdu, pdu);
        let r = Cmgr(1)
            .parse(&lines(&["+CMGR: 0,,28", &format!("{pdu}\"0")]))
            .unwrap()
            .unwrap();
        assert_eq!(r.pdu, pdu);
        let l = Cmgl(ListFilter::All)
            .parse(&lines(&["+CMGL: 1,0,,28", &format!("{pdu}\" ")]))
            .unwrap();
        assert_eq!(l[0].pdu, pdu);
        // Not hex at all is still refused.
        assert!(
            Cmgr(1)
                .parse(&lines(&["+CMGR: 0,,28", "ERRORXYZ"]))
                .is_err()
        );
    }

    #[test]
    fn cmgs_message_reference() {
        let c = Cmgs {
            tpdu_len: 19,
            pdu: "0011".into(),
        };
        assert_eq!(c.parse(&lines(&["+CMGS: 42"])).unwrap(), 42);
        assert_eq!(c.parse(&lines(&["+CMGS: 7,\"ack\""])).unwrap(), 7);
        assert!(c.parse(&[]).is_err());
        assert_eq!(c.prompt_payload().as_deref(), Some("0011"));
    }

    #[test]
    fn sim_and_network() {
        assert_eq!(
            CpinQuery.parse(&lines(&["+CPIN: READY"])).unwrap(),
            PinState::Ready
        );
        assert_eq!(
            CpinQuery.parse(&lines(&["+CPIN: SIM PIN"])).unwrap(),
            PinState::SimPin
        );
        assert_eq!(
            CpinQuery.parse(&lines(&["+CPIN: SIM PUK"])).unwrap(),
            PinState::SimPuk
        );
        let r = CregQuery
            .parse(&lines(&["+CREG: 2,5,\"00C3\",\"1A2B\""]))
            .unwrap();
        assert_eq!(r.stat, RegStatus::Roaming);
        assert!(r.stat.is_registered());
        assert_eq!(r.lac.as_deref(), Some("00C3"));
        assert_eq!(
            CregQuery.parse(&lines(&["+CREG: 0,2"])).unwrap().stat,
            RegStatus::Searching
        );
        let s = Csq.parse(&lines(&["+CSQ: 20,99"])).unwrap();
        assert_eq!(s.dbm(), Some(-73));
        assert_eq!(s.level(), SignalLevel::Good);
        assert_eq!(Csq.parse(&lines(&["+CSQ: 99,99"])).unwrap().dbm(), None);
        assert_eq!(rssi_to_dbm(0), Some(-113));
        assert_eq!(rssi_to_dbm(31), Some(-51));
        assert_eq!(SignalLevel::from_dbm(rssi_to_dbm(5)), SignalLevel::Weak);
        assert_eq!(SignalLevel::from_dbm(rssi_to_dbm(12)), SignalLevel::Fair);
        assert_eq!(SignalLevel::from_dbm(rssi_to_dbm(1)), SignalLevel::NoSignal);
        assert_eq!(SignalLevel::from_dbm(None), SignalLevel::NoSignal);
        assert_eq!(
            CscaQuery
                .parse(&lines(&["+CSCA: \"+243990000000\",145"]))
                .unwrap()
                .as_deref(),
            Some("+243990000000")
        );
        assert_eq!(CscaQuery.parse(&lines(&["+CSCA: \"\",129"])).unwrap(), None);
    }

    #[test]
    fn every_pin_state_reads_back_from_its_words() {
        for p in PIN_STATES {
            assert_eq!(PinState::from_text(p.as_str()), p);
            assert_eq!(
                PinState::from_text(&format!(" \"{}\"", p.as_str().to_lowercase())),
                p
            );
        }
        let odd = PinState::from_text("PH-FOO PIN");
        assert_eq!(odd, PinState::Other("PH-FOO PIN".into()));
        assert_eq!(PinState::from_text(odd.as_str()), odd);
    }

    #[test]
    fn every_27007_pin_code_is_named_and_pin2_states_leave_sms_usable() {
        let cases = [
            ("+CPIN: SIM PUK2", PinState::SimPuk2, true),
            ("+CPIN: SIM PIN2", PinState::SimPin2, true),
            ("+CPIN: READY", PinState::Ready, true),
            ("+CPIN: \"READY\"", PinState::Ready, true),
            ("+CPIN:SIM  PIN", PinState::SimPin, false),
            ("+CPIN: PH-SIM PIN", PinState::PhSimPin, false),
            ("+CPIN: PH-FSIM PIN", PinState::PhFsimPin, false),
            ("+CPIN: PH-FSIM PUK", PinState::PhFsimPuk, false),
            ("+CPIN: PH-NET PIN", PinState::PhNetPin, false),
            ("+CPIN: PH-NET PUK", PinState::PhNetPuk, false),
            ("+CPIN: PH-NETSUB PIN", PinState::PhNetsubPin, false),
            ("+CPIN: PH-NETSUB PUK", PinState::PhNetsubPuk, false),
            ("+CPIN: PH-SP PIN", PinState::PhSpPin, false),
            ("+CPIN: PH-SP PUK", PinState::PhSpPuk, false),
            ("+CPIN: PH-CORP PIN", PinState::PhCorpPin, false),
            ("+CPIN: PH-CORP PUK", PinState::PhCorpPuk, false),
        ];
        for (line, state, sms) in cases {
            let got = CpinQuery.parse(&lines(&[line])).unwrap();
            assert_eq!(got, state, "{line}");
            assert_eq!(got.allows_sms(), sms, "{line}");
        }
        assert!(PinState::PhNetPin.is_personalisation_lock());
        assert!(!PinState::SimPuk.is_personalisation_lock());
    }

    #[test]
    fn every_registration_form_and_state() {
        // (line, stat, registered for SMS, roaming, lac, act)
        type Case<'a> = (&'a str, RegStatus, bool, bool, Option<&'a str>, Option<u8>);
        let cases: [Case<'_>; 12] = [
            (
                "+CREG: 0,0",
                RegStatus::NotSearching,
                false,
                false,
                None,
                None,
            ),
            (
                "+CREG: 2,6,\"00C3\",\"1A2B\",7",
                RegStatus::HomeSmsOnly,
                true,
                false,
                Some("00C3"),
                Some(7),
            ),
            (
                "+CREG: 2,7,\"00C3\",\"0001A2B3\",7",
                RegStatus::RoamingSmsOnly,
                true,
                true,
                Some("00C3"),
                Some(7),
            ),
            (
                "+CREG: 0,8",
                RegStatus::EmergencyOnly,
                false,
                false,
                None,
                None,
            ),
            (
                "+CREG: 1,9",
                RegStatus::HomeCsfbNotPreferred,
                true,
                false,
                None,
                None,
            ),
            (
                "+CREG: 0,10",
                RegStatus::RoamingCsfbNotPreferred,
                true,
                true,
                None,
                None,
            ),
            (
                "+CREG: 2,1,\"00C3\",\"1A2B\"",
                RegStatus::Home,
                true,
                false,
                Some("00C3"),
                None,
            ),
            (
                "+CREG: 2,5,00C3,1A2B,2",
                RegStatus::Roaming,
                true,
                true,
                Some("00C3"),
                Some(2),
            ),
            ("+CREG: 1", RegStatus::Home, true, false, None, None),
            (
                "+CREG: 3,\"00C3\",\"1A2B\"",
                RegStatus::Denied,
                false,
                false,
                Some("00C3"),
                None,
            ),
            ("+CREG: 2,4", RegStatus::Unknown, false, false, None, None),
            (
                "+CREG: 0,11",
                RegStatus::Other(11),
                false,
                false,
                None,
                None,
            ),
        ];
        for (line, stat, registered, roaming, lac, act) in cases {
            let r = CregQuery.parse(&lines(&[line])).unwrap();
            assert_eq!(r.stat, stat, "{line}");
            assert_eq!(r.stat.is_registered(), registered, "{line}");
            assert_eq!(r.stat.is_roaming(), roaming, "{line}");
            assert_eq!(r.lac.as_deref(), lac, "{line}");
            assert_eq!(r.act, act, "{line}");
        }
        let r = CgregQuery
            .parse(&lines(&["+CGREG: 2,6,\"00C3\",\"1A2B\",7,\"01\""]))
            .unwrap();
        assert_eq!(r.stat, RegStatus::HomeSmsOnly);
        assert!(CregQuery.parse(&lines(&["+CREG: x"])).is_err());
    }

    #[test]
    fn signal_words() {
        let words: Vec<&str> = [
            SignalLevel::NoSignal,
            SignalLevel::Weak,
            SignalLevel::Fair,
            SignalLevel::Good,
        ]
        .into_iter()
        .map(SignalLevel::as_str)
        .collect();
        assert_eq!(words, ["none", "weak", "ok", "good"]);
    }

    #[test]
    fn identity_answers_with_or_without_label() {
        assert_eq!(Cgmi.parse(&lines(&["huawei"])).unwrap(), "huawei");
        assert_eq!(Cgmm.parse(&lines(&["+CGMM: E173"])).unwrap(), "E173");
        assert_eq!(
            Ccid.parse(&lines(&["+CCID: \"8924301234567890123\""]))
                .unwrap(),
            "8924301234567890123"
        );
        assert_eq!(
            Cgmr.parse(&lines(&["Revision:1418B05SIM800L24"])).unwrap(),
            "Revision:1418B05SIM800L24"
        );
        assert!(Cimi.parse(&[]).is_err());
    }
}
