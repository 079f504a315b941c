//! Unsolicited result codes: lines the modem sends on its own, at any time, even in the middle of the
//! answer to a command. They are recognised by prefix and taken out of the answer.
//!
//! Two of them (`+CMT`, `+CDS`) are a header line followed by a PDU line; [`classify`] says so with
//! [`UrcMatch::Header`] and [`complete`] joins the two.

use super::params::{params_after, strip_prefix};

/// One unsolicited result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI: "SM",3`: a new message was stored at that index.
    NewMessage { storage: String, index: u32 },
    /// `+CMT: [<alpha>],<length>` + PDU line: a message delivered straight to us, not stored.
    Deliver { pdu: String },
    /// `+CDS: <length>` + PDU line: a status report delivered straight to us.
    StatusReport { pdu: String },
    /// `+CDSI: "SM",4`: a status report was stored at that index.
    StatusReportIndex { storage: String, index: u32 },
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
    /// `+CREG: <stat>[,<lac>,<ci>]`: registration changed (the unsolicited form, without `<n>`).
    Registration { stat: u8 },
    /// `+CPIN: READY` and friends when the modem says them at boot.
    SimState(String),
    /// `^BOOT:`, `^SYSSTART`: the modem (re)started.
    Boot,
    /// `RDY`, `SMS Ready`, `Call Ready`, `PB DONE`: start-up milestones (SIMCom and others).
    Ready(String),
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

/// What [`classify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrcMatch {
    Complete(Urc),
    /// The header of a two-line URC: the next line is its PDU.
    Header(TwoLine),
}

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
    "+CGREG:",
    "+CEREG:",
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

/// Exact lines that are start-up milestones.
const READY_LINES: &[&str] = &[
    "RDY",
    "SMS Ready",
    "Call Ready",
    "PB DONE",
    "+PBREADY",
    "SMS DONE",
];

/// Is `line` an unsolicited result code? `own_prefixes` are the answer prefixes of the command in
/// flight: a `+CREG:` line is the answer to `AT+CREG?`, not a URC, while that command runs.
pub fn classify(line: &str, own_prefixes: &[&str]) -> Option<UrcMatch> {
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
        let stat = p.first().and_then(|p| p.as_u8())?;
        return Some(UrcMatch::Complete(Urc::Registration { stat }));
    }
    if let Some(rest) = strip_prefix(line, "+CPIN:") {
        return Some(UrcMatch::Complete(Urc::SimState(rest.to_string())));
    }
    if strip_prefix(line, "^BOOT:").is_some() || line.eq_ignore_ascii_case("^SYSSTART") {
        return Some(UrcMatch::Complete(Urc::Boot));
    }
    if let Some(r) = READY_LINES.iter().find(|r| line.eq_ignore_ascii_case(r)) {
        return Some(UrcMatch::Complete(Urc::Ready((*r).to_string())));
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

fn indexed(p: &[super::params::Param]) -> Option<(String, u32)> {
    let storage = p.first()?.text.clone();
    let index = p.get(1)?.as_u32()?;
    Some((storage, index))
}

/// Does `line` look like a PDU (hex digits only, even count)? Used to check the second line of a
/// two-line URC before taking it.
pub fn looks_like_pdu(line: &str) -> bool {
    !line.is_empty() && line.len().is_multiple_of(2) && line.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Joins a two-line URC's header kind with its PDU line.
pub fn complete(kind: TwoLine, pdu_line: &str) -> Urc {
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
        match classify(line, &[]) {
            Some(UrcMatch::Complete(u)) => Some(u),
            _ => None,
        }
    }

    #[test]
    fn the_table() {
        assert_eq!(
            urc("+CMTI: \"SM\",3"),
            Some(Urc::NewMessage {
                storage: "SM".into(),
                index: 3
            })
        );
        assert_eq!(
            urc("+CDSI: \"SR\",12"),
            Some(Urc::StatusReportIndex {
                storage: "SR".into(),
                index: 12
            })
        );
        assert_eq!(
            classify("+CMT: ,24", &[]),
            Some(UrcMatch::Header(TwoLine::Deliver))
        );
        assert_eq!(
            classify("+CMT: \"\",24", &[]),
            Some(UrcMatch::Header(TwoLine::Deliver))
        );
        assert_eq!(
            classify("+CDS: 25", &[]),
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
        assert_eq!(urc("+CREG: 5"), Some(Urc::Registration { stat: 5 }));
        assert_eq!(
            urc("+CREG: 1,\"00C3\",\"1A2B\""),
            Some(Urc::Registration { stat: 1 })
        );
        assert_eq!(urc("+CPIN: READY"), Some(Urc::SimState("READY".into())));
        assert_eq!(urc("^BOOT:20952548,0,0,0,75"), Some(Urc::Boot));
        assert_eq!(urc("SMS Ready"), Some(Urc::Ready("SMS Ready".into())));
        assert_eq!(urc("RDY"), Some(Urc::Ready("RDY".into())));
        assert_eq!(urc("^MODE: 5,4"), Some(Urc::Other("^MODE: 5,4".into())));
        assert_eq!(urc("^SRVST: 2"), Some(Urc::Other("^SRVST: 2".into())));
        assert_eq!(urc("^SMMEMFULL: \"SM\""), Some(Urc::MemoryFull));
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
            assert_eq!(classify(line, &[]), None, "{line}");
        }
        // +CMTI must not be read as the header of +CMT.
        assert!(matches!(
            classify("+CMTI: \"ME\",1", &[]),
            Some(UrcMatch::Complete(_))
        ));
    }

    #[test]
    fn the_command_in_flight_claims_its_own_prefix() {
        assert_eq!(classify("+CREG: 0,1", &["+CREG:"]), None);
        assert_eq!(classify("+CPIN: SIM PIN", &["+CPIN:"]), None);
        assert!(classify("+CMTI: \"SM\",2", &["+CREG:"]).is_some());
    }

    #[test]
    fn pdu_lines() {
        assert!(looks_like_pdu(
            "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
        ));
        assert!(!looks_like_pdu("OK"));
        assert!(!looks_like_pdu("ABC"));
    }
}
