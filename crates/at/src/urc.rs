//! Unsolicited result codes: lines the modem sends on its own, at any time, even in the middle of the
//! answer to a command. They are recognised by prefix and taken out of the answer.
//!
//! Two of them (`+CMT`, `+CDS`) are a header line followed by a PDU line; [`classify_urc`] says so
//! with [`UrcMatch::Header`] and [`complete_urc`] joins the two.

use super::commands::{PinState, RegStatus, parse_registration};
use super::params::{Param, params_after, strip_prefix};
use super::storage::Storage;

/// One unsolicited result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI: "SM",3`: a new message was stored at that index.
    NewMessage { storage: Storage, index: u32 },
    /// `+CMT: [<alpha>],<length>` + PDU line: a message delivered straight to us, not stored.
    Deliver { pdu: String },
    /// `+CDS: <length>` + PDU line: a status report delivered straight to us.
    StatusReport { pdu: String },
    /// `+CDSI: "SM",4`: a status report was stored at that index.
    StatusReportIndex { storage: Storage, index: u32 },
    /// `+CUSD: <m>[,<str>[,<dcs>]]`: a USSD answer (status 0 done, 1 more input expected, 2 ended by
    /// the network, 4 not supported). The text is as the modem gave it; its decoding depends on dcs.
    Ussd {
        status: u8,
        text: Option<String>,
        dcs: Option<u8>,
    },
    /// `RING` / `+CRING`: an incoming call (we never answer; noted only).
    Ring,
    /// `^RSSI: <n>` (Huawei): signal strength on the `AT+CSQ` scale (0..31, 99 unknown).
    Signal { rssi: u8 },
    /// `+CREG: <stat>[,<lac>,<ci>[,<AcT>]]`: registration changed (the unsolicited form, without
    /// `<n>`; the answer form `<n>,<stat>,...` some modems repeat unasked is read too).
    Registration { stat: RegStatus },
    /// `+CGREG:` / `+CEREG:`: packet-switched registration changed (noted; SMS go by `+CREG`).
    PacketRegistration { stat: RegStatus },
    /// `+CPIN: READY` and friends when the modem says them at boot.
    SimState(PinState),
    /// `^BOOT:`, `^SYSSTART`: the modem (re)started.
    Boot,
    /// `RDY`, `SMS Ready`, `Call Ready`, `PB DONE`: start-up milestones (SIMCom and others).
    Ready(Milestone),
    /// `^SMMEMFULL` / `+SMMEMFULL`: message storage full.
    MemoryFull,
    /// Another known unsolicited line (`^MODE`, `^SRVST`, `+CGREG`, ...), kept as it came.
    Other(String),
}

/// The two-line URCs: a header, then the PDU on the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoLine {
    Deliver,
    StatusReport,
}

/// What [`classify_urc`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrcMatch {
    Complete(Urc),
    /// The header of a two-line URC: the next line is its PDU.
    Header(TwoLine),
    /// The start of a `+CUSD` whose quoted text goes on over the next lines (the network put
    /// line breaks in it): join lines with [`continue_urc`] until the quote closes.
    Unfinished(String),
}

/// Most lines one USSD answer may span; a quote never closed ends the wait there.
pub(crate) const MAX_CONTINUATION_LINES: usize = 30;

/// Prefixes of URCs we note but don't act on. Any line starting with one is never an answer line.
const OTHER_PREFIXES: &[&str] = &[
    "^MODE:",
    "^SRVST:",
    "^SIMST:",
    "^HCSQ:",
    "^DSFLOWRPT:",
    "^CSNR:",
    "^STIN:",
    "^CEND:",
    "^ORIG:",
    "^CONF:",
    "^CONN:",
    "^NWTIME:",
    // Wavecom: `+WIND: <event>` (1 SIM in, 3 ready for AT, 4 ready for all commands, 7
    // emergency calls only, 10 phone book status...).
    "+WIND:",
    // Telit / Wavecom / u-blox SIM and network status lines.
    "#QSS:",
    "+STKPCI:",
    "+PACSP",
    "+CSTAT:",
    "+UUSTATUS:",
    "+CIEV:",
    "+QIND:",
    "+CTZV:",
    "+CTZE:",
    "*PSUTTZ:",
    "DST:",
    "+PSUTTZ:",
    "+CLIP:",
    "+CFUN:",
    "UNDER-VOLTAGE",
    "OVER-VOLTAGE",
    "NORMAL POWER DOWN",
];

/// A start-up milestone line (SIMCom and others): the modem (re)started and is getting ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Milestone {
    /// `RDY`: the modem is up.
    Rdy,
    /// `SMS Ready`.
    SmsReady,
    /// `Call Ready`.
    CallReady,
    /// `PB DONE`: the phone book is loaded.
    PbDone,
    /// `+PBREADY`: the phone book is ready.
    PbReady,
    /// `SMS DONE`.
    SmsDone,
}

/// Every milestone; [`Milestone::as_str`] is their one spelling.
const MILESTONES: [Milestone; 6] = [
    Milestone::Rdy,
    Milestone::SmsReady,
    Milestone::CallReady,
    Milestone::PbDone,
    Milestone::PbReady,
    Milestone::SmsDone,
];

impl Milestone {
    /// The line as the modem sends it.
    fn as_str(self) -> &'static str {
        match self {
            Milestone::Rdy => "RDY",
            Milestone::SmsReady => "SMS Ready",
            Milestone::CallReady => "Call Ready",
            Milestone::PbDone => "PB DONE",
            Milestone::PbReady => "+PBREADY",
            Milestone::SmsDone => "SMS DONE",
        }
    }

    /// The milestone `line` is, compared without case.
    fn parse(line: &str) -> Option<Milestone> {
        MILESTONES
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(line))
    }
}

/// Is `line` an unsolicited result code? `own_prefixes` are the answer prefixes of the command in
/// flight: a `+CREG:` line is the answer to `AT+CREG?`, not a URC, while that command runs.
pub fn classify_urc(line: &str, own_prefixes: &[&str]) -> Option<UrcMatch> {
    if own_prefixes.iter().any(|p| strip_prefix(line, p).is_some()) {
        return None;
    }
    if let Some(p) = params_after(line, "+CMTI:") {
        return indexed(&p)
            .map(|(storage, index)| UrcMatch::Complete(Urc::NewMessage { storage, index }));
    }
    if let Some(p) = params_after(line, "+CDSI:") {
        return indexed(&p)
            .map(|(storage, index)| UrcMatch::Complete(Urc::StatusReportIndex { storage, index }));
    }
    if strip_prefix(line, "+CMT:").is_some() {
        return Some(UrcMatch::Header(TwoLine::Deliver));
    }
    if strip_prefix(line, "+CDS:").is_some() {
        return Some(UrcMatch::Header(TwoLine::StatusReport));
    }
    if strip_prefix(line, "+CUSD:").is_some() && line.matches('"').count() % 2 == 1 {
        return Some(UrcMatch::Unfinished(line.to_string()));
    }
    if let Some(p) = params_after(line, "+CUSD:") {
        let status = p.first().and_then(|p| p.as_u8())?;
        let text = p
            .get(1)
            .filter(|p| !p.is_empty() || p.quoted)
            .map(|p| p.text.clone());
        let dcs = p.get(2).and_then(|p| p.as_u8());
        return Some(UrcMatch::Complete(Urc::Ussd { status, text, dcs }));
    }
    if line.eq_ignore_ascii_case("RING") || strip_prefix(line, "+CRING:").is_some() {
        return Some(UrcMatch::Complete(Urc::Ring));
    }
    if let Some(p) = params_after(line, "^RSSI:") {
        let rssi = p.first().and_then(|p| p.as_u8()).unwrap_or(99);
        return Some(UrcMatch::Complete(Urc::Signal { rssi }));
    }
    if let Some(p) = params_after(line, "+CREG:") {
        let stat = parse_registration(&p)?.stat;
        return Some(UrcMatch::Complete(Urc::Registration { stat }));
    }
    for prefix in ["+CGREG:", "+CEREG:"] {
        if let Some(p) = params_after(line, prefix) {
            return Some(UrcMatch::Complete(match parse_registration(&p) {
                Some(r) => Urc::PacketRegistration { stat: r.stat },
                None => Urc::Other(line.to_string()),
            }));
        }
    }
    if let Some(rest) = strip_prefix(line, "+CPIN:") {
        return Some(UrcMatch::Complete(Urc::SimState(PinState::from_text(rest))));
    }
    if strip_prefix(line, "^BOOT:").is_some() || line.eq_ignore_ascii_case("^SYSSTART") {
        return Some(UrcMatch::Complete(Urc::Boot));
    }
    if let Some(m) = Milestone::parse(line) {
        return Some(UrcMatch::Complete(Urc::Ready(m)));
    }
    if strip_prefix(line, "^SMMEMFULL").is_some() || strip_prefix(line, "+SMMEMFULL").is_some() {
        return Some(UrcMatch::Complete(Urc::MemoryFull));
    }
    if OTHER_PREFIXES
        .iter()
        .any(|p| strip_prefix(line, p).is_some())
    {
        return Some(UrcMatch::Complete(Urc::Other(line.to_string())));
    }
    None
}

fn indexed(p: &[Param]) -> Option<(Storage, u32)> {
    let storage = Storage::parse(&p.first()?.text);
    let index = p.get(1)?.as_u32()?;
    Some((storage, index))
}

/// Adds the next line to an unfinished `+CUSD` (joined with a line break, as the network sent
/// it): the finished URC once its quote closes, else the text so far, still unfinished.
pub fn continue_urc(so_far: &str, line: &str) -> UrcMatch {
    let joined = format!("{so_far}\n{line}");
    if joined.matches('"').count() % 2 == 1 {
        return UrcMatch::Unfinished(joined);
    }
    match classify_urc(&joined, &[]) {
        Some(m) => m,
        None => UrcMatch::Complete(Urc::Other(joined)),
    }
}

/// Joins a two-line URC's header kind with its PDU line.
pub fn complete_urc(kind: TwoLine, pdu_line: &str) -> Urc {
    let pdu = pdu_line.to_string();
    match kind {
        TwoLine::Deliver => Urc::Deliver { pdu },
        TwoLine::StatusReport => Urc::StatusReport { pdu },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urc(line: &str) -> Option<Urc> {
        match classify_urc(line, &[]) {
            Some(UrcMatch::Complete(u)) => Some(u),
            _ => None,
        }
    }

    #[test]
    fn the_table() {
        assert_eq!(
            urc("+CMTI: \"SM\",3"),
            Some(Urc::NewMessage {
                storage: Storage::Sim,
                index: 3
            })
        );
        assert_eq!(
            urc("+CDSI: \"SR\",12"),
            Some(Urc::StatusReportIndex {
                storage: Storage::StatusReports,
                index: 12
            })
        );
        assert_eq!(
            classify_urc("+CMT: ,24", &[]),
            Some(UrcMatch::Header(TwoLine::Deliver))
        );
        assert_eq!(
            classify_urc("+CMT: \"\",24", &[]),
            Some(UrcMatch::Header(TwoLine::Deliver))
        );
        assert_eq!(
            classify_urc("+CDS: 25", &[]),
            Some(UrcMatch::Header(TwoLine::StatusReport))
        );
        assert_eq!(
            urc("+CUSD: 0,\"Solde: 1250 FC\",15"),
            Some(Urc::Ussd {
                status: 0,
                text: Some("Solde: 1250 FC".into()),
                dcs: Some(15)
            })
        );
        assert_eq!(
            urc("+CUSD: 4"),
            Some(Urc::Ussd {
                status: 4,
                text: None,
                dcs: None
            })
        );
        assert_eq!(urc("RING"), Some(Urc::Ring));
        assert_eq!(urc("^RSSI: 17"), Some(Urc::Signal { rssi: 17 }));
        assert_eq!(
            urc("+CREG: 5"),
            Some(Urc::Registration {
                stat: RegStatus::Roaming
            })
        );
        assert_eq!(
            urc("+CREG: 1,\"00C3\",\"1A2B\""),
            Some(Urc::Registration {
                stat: RegStatus::Home
            })
        );
        assert_eq!(urc("+CPIN: READY"), Some(Urc::SimState(PinState::Ready)));
        assert_eq!(urc("+CPIN: SIM PIN"), Some(Urc::SimState(PinState::SimPin)));
        assert_eq!(urc("^BOOT:20952548,0,0,0,75"), Some(Urc::Boot));
        assert_eq!(urc("SMS Ready"), Some(Urc::Ready(Milestone::SmsReady)));
        assert_eq!(urc("RDY"), Some(Urc::Ready(Milestone::Rdy)));
        assert_eq!(
            urc("+CMTI: \"XM\",7"),
            Some(Urc::NewMessage {
                storage: Storage::Other("XM".into()),
                index: 7
            })
        );
        assert_eq!(urc("^MODE: 5,4"), Some(Urc::Other("^MODE: 5,4".into())));
        assert_eq!(urc("^SRVST: 2"), Some(Urc::Other("^SRVST: 2".into())));
        assert_eq!(urc("^SMMEMFULL: \"SM\""), Some(Urc::MemoryFull));
    }

    #[test]
    fn registration_urcs_in_every_form() {
        for (line, stat) in [
            ("+CREG: 6,\"00C3\",\"1A2B\",7", RegStatus::HomeSmsOnly),
            ("+CREG: 10", RegStatus::RoamingCsfbNotPreferred),
            // The answer form, repeated unasked by some modems: the stat is the second field.
            ("+CREG: 2,6,\"00C3\",\"1A2B\",7", RegStatus::HomeSmsOnly),
            ("+CREG: 0,1", RegStatus::Home),
        ] {
            assert_eq!(urc(line), Some(Urc::Registration { stat }), "{line}");
        }
        assert_eq!(
            urc("+CGREG: 7,\"00C3\",\"1A2B\",7,\"01\""),
            Some(Urc::PacketRegistration {
                stat: RegStatus::RoamingSmsOnly
            })
        );
        assert_eq!(
            urc("+CEREG: 1,\"00C3\",\"0001A2B3\",7"),
            Some(Urc::PacketRegistration {
                stat: RegStatus::Home
            })
        );
    }

    #[test]
    fn wavecom_wind_lines_are_urcs() {
        for line in [
            "+WIND: 4",
            "+WIND: 3",
            "+WIND: 1",
            "+WIND: 7",
            "+WIND: 10,\"SM\",1",
        ] {
            assert_eq!(urc(line), Some(Urc::Other(line.into())), "{line}");
        }
    }

    #[test]
    fn a_ussd_answer_over_several_lines_is_joined() {
        let UrcMatch::Unfinished(start) = classify_urc("+CUSD: 0,\"Solde: 1250 FC", &[]).unwrap()
        else {
            panic!("not unfinished")
        };
        let UrcMatch::Unfinished(more) = continue_urc(&start, "Bonus: 300 MB") else {
            panic!("closed too early")
        };
        assert_eq!(
            continue_urc(&more, "Valide 30j\",15"),
            UrcMatch::Complete(Urc::Ussd {
                status: 0,
                text: Some("Solde: 1250 FC\nBonus: 300 MB\nValide 30j".into()),
                dcs: Some(15)
            })
        );
        assert_eq!(
            urc("+CUSD: 2,\"Merci\",15"),
            Some(Urc::Ussd {
                status: 2,
                text: Some("Merci".into()),
                dcs: Some(15)
            })
        );
    }

    #[test]
    fn answers_are_not_urcs() {
        for line in [
            "OK",
            "+CMGL: 1,0,,24",
            "+CMGR: 0,,24",
            "+CSQ: 20,99",
            "0791448720003023",
            "+CMGS: 12",
        ] {
            assert_eq!(classify_urc(line, &[]), None, "{line}");
        }
        // +CMTI must not be read as the header of +CMT.
        assert!(matches!(
            classify_urc("+CMTI: \"ME\",1", &[]),
            Some(UrcMatch::Complete(_))
        ));
    }

    #[test]
    fn the_command_in_flight_claims_its_own_prefix() {
        assert_eq!(classify_urc("+CREG: 0,1", &["+CREG:"]), None);
        assert_eq!(classify_urc("+CPIN: SIM PIN", &["+CPIN:"]), None);
        assert!(classify_urc("+CMTI: \"SM\",2", &["+CREG:"]).is_some());
    }

    #[test]
    fn every_milestone_reads_back_from_its_line() {
        for m in MILESTONES {
            assert_eq!(Milestone::parse(m.as_str()), Some(m));
            assert_eq!(urc(m.as_str()), Some(Urc::Ready(m)));
        }
        assert_eq!(Milestone::parse("SMS Readyish"), None);
    }
}
