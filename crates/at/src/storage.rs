//! Message storages, as `+CPMS` (`<mem1>`..`<mem3>`), `+CMTI` and `+CDSI` name them (3GPP TS
//! 27.005 §3.1 and §3.2.2).

use std::fmt;

/// One message storage of the modem.
///
/// A modem may name a storage that TS 27.005 does not list (vendors add their own); that name is
/// kept in [`Storage::Other`] rather than refused, so an indication about it still reaches the
/// log and the sweep.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Storage {
    /// `"SM"`: the SIM card.
    Sim,
    /// `"ME"`: the modem's own memory.
    Modem,
    /// `"MT"`: any storage of the modem (its memory and the SIM together).
    AnyOfModem,
    /// `"BM"`: cell broadcast messages.
    Broadcast,
    /// `"SR"`: status reports.
    StatusReports,
    /// `"TA"`: the terminal adaptor.
    Adaptor,
    /// A name not in TS 27.005, as the modem gave it (without quotes and blanks).
    Other(String),
}

/// Every storage TS 27.005 names; [`Storage::as_str`] is their one spelling.
const NAMED: [Storage; 6] = [
    Storage::Sim,
    Storage::Modem,
    Storage::AnyOfModem,
    Storage::Broadcast,
    Storage::StatusReports,
    Storage::Adaptor,
];

impl Storage {
    /// The name on the AT line: `"SM"`, `"ME"`, `"MT"`, `"BM"`, `"SR"`, `"TA"`, or the modem's own.
    pub fn as_str(&self) -> &str {
        match self {
            Storage::Sim => "SM",
            Storage::Modem => "ME",
            Storage::AnyOfModem => "MT",
            Storage::Broadcast => "BM",
            Storage::StatusReports => "SR",
            Storage::Adaptor => "TA",
            Storage::Other(name) => name,
        }
    }

    /// Reads a storage name from a modem's answer: blanks and quotes around it are dropped, and
    /// case does not matter (some modems answer `"sm"`). Never fails: an unknown name is kept.
    pub fn parse(text: &str) -> Storage {
        let name = text.trim().trim_matches('"').trim();
        NAMED
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
            .unwrap_or_else(|| Storage::Other(name.to_string()))
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_storage_reads_back_from_its_name() {
        for s in NAMED {
            assert_eq!(Storage::parse(s.as_str()), s);
            assert_eq!(Storage::parse(&s.as_str().to_ascii_lowercase()), s);
            assert_eq!(Storage::parse(&format!(" \"{s}\" ")), s);
        }
        assert_eq!(Storage::Sim.as_str(), "SM");
        assert_eq!(Storage::Modem.as_str(), "ME");
        assert_eq!(Storage::StatusReports.as_str(), "SR");
    }

    #[test]
    fn an_unknown_storage_is_kept_as_the_modem_named_it() {
        let s = Storage::parse("\"XM\"");
        assert_eq!(s, Storage::Other("XM".into()));
        assert_eq!(s.as_str(), "XM");
        assert_eq!(Storage::parse(s.as_str()), s);
        assert_eq!(Storage::parse(""), Storage::Other(String::new()));
    }
}
