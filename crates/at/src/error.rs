//! Errors of the AT layer, and the names of the `+CMS ERROR` / `+CME ERROR` codes a modem can give.
//!
//! A technician reads these in the log, so every code we know gets its 3GPP name (TS 27.005 §3.2.5 for
//! `+CMS ERROR`, TS 27.007 §9.2 for `+CME ERROR`, TS 24.011 / 23.040 for the network causes below 256).

use std::time::Duration;

/// What can go wrong with one AT command.
#[derive(Debug, thiserror::Error)]
pub enum AtError {
    /// No final result code within the command's own timeout. The client resynchronises before the
    /// next command, so a late answer is never taken for the next command's.
    #[error("modem did not answer `{command}` within {timeout:?}")]
    Timeout { command: String, timeout: Duration },
    /// The serial line reached end-of-file or failed: the modem was unplugged, reset or re-enumerated.
    #[error("modem gone (serial line closed or failed)")]
    ModemGone,
    /// Plain `ERROR` (the modem gives no reason, e.g. before `AT+CMEE=1` or for an unknown command).
    #[error("modem answered ERROR to `{command}`")]
    Error { command: String },
    /// `+CMS ERROR: <code>` (message service).
    #[error("modem answered +CMS ERROR: {code} ({name}) to `{command}`")]
    Cms {
        command: String,
        code: u16,
        name: &'static str,
    },
    /// `+CME ERROR: <code>` (equipment), numeric or in verbose text form that we could map to a code.
    #[error("modem answered +CME ERROR: {code} ({name}) to `{command}`")]
    Cme {
        command: String,
        code: u16,
        name: &'static str,
    },
    /// `+CME ERROR: <text>` in a verbose form that is not in our table.
    #[error("modem answered +CME ERROR: {text} to `{command}`")]
    CmeText { command: String, text: String },
    /// A call result that ends a command without success (`NO CARRIER`, `BUSY`, ...).
    #[error("modem answered {result} to `{command}`")]
    Failed { command: String, result: CallResult },
    /// The answer did not have the shape the command expects.
    #[error("unexpected answer to `{command}`: {line:?}")]
    Parse { command: String, line: String },
    /// A line longer than the codec's cap arrived inside the answer; the answer is refused rather than
    /// returned truncated.
    #[error("answer to `{command}` had a line of {length} bytes, over the {cap}-byte cap")]
    LineTooLong {
        command: String,
        length: usize,
        cap: usize,
    },
    /// Writing to the serial line failed for a reason other than the modem going away.
    #[error("serial I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The modem took the text given at its `> ` prompt (an SMS) and then gave no final result:
    /// it may have sent the message. A caller must not send it again by itself.
    #[error("modem took the message for `{command}` but {what}; it may have been sent")]
    PayloadUnanswered { command: String, what: NoAnswer },
}

/// How a command ended without its final result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The command's timeout passed.
    TimedOut,
    /// The serial line closed (the modem was unplugged, reset or re-enumerated).
    LineClosed,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoAnswer::TimedOut => "did not answer in time",
            NoAnswer::LineClosed => "the line closed before its answer",
        })
    }
}

impl AtError {
    /// True when the link itself is in doubt (no answer, line closed): the caller should resynchronise,
    /// reopen or reset the modem rather than retry the command as it is.
    pub fn is_link_fault(&self) -> bool {
        matches!(
            self,
            AtError::Timeout { .. }
                | AtError::ModemGone
                | AtError::Io(_)
                | AtError::PayloadUnanswered { .. }
        )
    }

    /// The `+CMS ERROR` code, if this is one.
    pub fn cms_code(&self) -> Option<u16> {
        match self {
            AtError::Cms { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The `+CME ERROR` code, if this is one.
    pub fn cme_code(&self) -> Option<u16> {
        match self {
            AtError::Cme { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// SIM storage is full (`+CMS ERROR: 322`, `+CME ERROR: 20`, or the network cause 208/211).
    pub fn is_memory_full(&self) -> bool {
        matches!(self.cms_code(), Some(322 | 208 | 211)) || self.cme_code() == Some(20)
    }
}

/// A final result code of a call (TS 27.007 §5.7.1; V.250 §5.7.1) that ends an AT command
/// without success for us: the gateway never makes calls, so any of these means a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallResult {
    NoCarrier,
    Busy,
    NoAnswer,
    NoDialtone,
    /// `COMMAND NOT SUPPORT`: some modems' word for an unknown command.
    CommandNotSupported,
}

/// Every call result; [`CallResult::as_str`] is their one spelling.
const CALL_RESULTS: [CallResult; 5] = [
    CallResult::NoCarrier,
    CallResult::Busy,
    CallResult::NoAnswer,
    CallResult::NoDialtone,
    CallResult::CommandNotSupported,
];

impl CallResult {
    /// The line as the modem sends it.
    fn as_str(self) -> &'static str {
        match self {
            CallResult::NoCarrier => "NO CARRIER",
            CallResult::Busy => "BUSY",
            CallResult::NoAnswer => "NO ANSWER",
            CallResult::NoDialtone => "NO DIALTONE",
            CallResult::CommandNotSupported => "COMMAND NOT SUPPORT",
        }
    }

    /// The call result `line` is (compared without case and surrounding blanks), if any.
    pub(crate) fn parse(line: &str) -> Option<CallResult> {
        let line = line.trim();
        CALL_RESULTS
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(line))
    }
}

impl std::fmt::Display for CallResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of a `+CMS ERROR` code.
pub(crate) fn cms_name(code: u16) -> &'static str {
    match code {
        // Network (RP) causes, TS 24.011 Annex E.
        1 => "unassigned (unallocated) number",
        8 => "operator determined barring",
        10 => "call barred",
        21 => "short message transfer rejected",
        27 => "destination out of service",
        28 => "unidentified subscriber",
        29 => "facility rejected",
        30 => "unknown subscriber",
        38 => "network out of order",
        41 => "temporary failure",
        42 => "congestion",
        47 => "resources unavailable, unspecified",
        50 => "requested facility not subscribed (no credit or no SMS plan?)",
        69 => "requested facility not implemented",
        81 => "invalid short message transfer reference value",
        95 => "invalid message, unspecified",
        96 => "invalid mandatory information",
        97 => "message type non-existent or not implemented",
        98 => "message not compatible with short message protocol state",
        99 => "information element non-existent or not implemented",
        111 => "protocol error, unspecified",
        127 => "interworking, unspecified",
        // TP failure causes, TS 23.040 §9.2.3.22.
        128 => "telematic interworking not supported",
        143 => "unspecified TP-PID error",
        144 => "data coding scheme (alphabet) not supported",
        159 => "unspecified TP-DCS error",
        160 => "command cannot be actioned",
        176 => "TPDU not supported",
        192 => "SC busy",
        193 => "no SC subscription",
        194 => "SC system failure",
        195 => "invalid SME address",
        196 => "destination SME barred",
        197 => "SM rejected: duplicate SM",
        198 => "TP-VPF not supported",
        199 => "TP-VP not supported",
        208 => "SIM SMS storage full",
        209 => "no SMS storage capability in SIM",
        210 => "error in MS",
        211 => "memory capacity exceeded",
        212 => "SIM application toolkit busy",
        213 => "SIM data download error",
        255 => "unspecified error cause",
        // ME / TA errors, TS 27.005 §3.2.5.
        300 => "ME failure",
        301 => "SMS service of ME reserved",
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        312 => "PH-SIM PIN required",
        313 => "SIM failure",
        314 => "SIM busy",
        315 => "SIM wrong",
        316 => "SIM PUK required",
        317 => "SIM PIN2 required",
        318 => "SIM PUK2 required",
        320 => "memory failure",
        321 => "invalid memory index",
        322 => "memory full",
        330 => "SMSC address unknown",
        331 => "no network service",
        332 => "network timeout",
        340 => "no +CNMA acknowledgement expected",
        500 => "unknown error",
        // Manufacturer-specific range: the meanings most modems share.
        512 => "manufacturer: network refused the message (MM establishment failure)",
        513 => "manufacturer: lower layer failure",
        514 => "manufacturer: congestion",
        515 => "manufacturer: busy, initialisation or command in progress",
        c if c < 128 => "network cause (unnamed)",
        c if c < 256 => "TP failure cause (unnamed)",
        c if c < 512 => "unnamed TA/ME error",
        _ => "manufacturer-specific error",
    }
}

/// Known `+CME ERROR` codes with their 3GPP TS 27.007 names, in both directions (modems in `AT+CMEE=2`
/// mode send the text).
const CME_NAMES: &[(u16, &str)] = &[
    (0, "phone failure"),
    (1, "no connection to phone"),
    (2, "phone-adaptor link reserved"),
    (3, "operation not allowed"),
    (4, "operation not supported"),
    (5, "PH-SIM PIN required"),
    (6, "PH-FSIM PIN required"),
    (7, "PH-FSIM PUK required"),
    (10, "SIM not inserted"),
    (11, "SIM PIN required"),
    (12, "SIM PUK required"),
    (13, "SIM failure"),
    (14, "SIM busy"),
    (15, "SIM wrong"),
    (16, "incorrect password"),
    (17, "SIM PIN2 required"),
    (18, "SIM PUK2 required"),
    (20, "memory full"),
    (21, "invalid index"),
    (22, "not found"),
    (23, "memory failure"),
    (24, "text string too long"),
    (25, "invalid characters in text string"),
    (26, "dial string too long"),
    (27, "invalid characters in dial string"),
    (30, "no network service"),
    (31, "network timeout"),
    (32, "network not allowed - emergency calls only"),
    (40, "network personalization PIN required"),
    (41, "network personalization PUK required"),
    (100, "unknown"),
    (103, "illegal MS"),
    (106, "illegal ME"),
    (107, "GPRS services not allowed"),
    (111, "PLMN not allowed"),
    (112, "location area not allowed"),
    (113, "roaming not allowed in this location area"),
];

/// The name of a `+CME ERROR` code.
pub fn cme_name(code: u16) -> &'static str {
    CME_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
        .unwrap_or(if code >= 256 {
            "manufacturer-specific error"
        } else {
            "unnamed equipment error"
        })
}

/// The code of a verbose `+CME ERROR: <text>`, compared without case.
pub(crate) fn cme_code_from_text(text: &str) -> Option<(u16, &'static str)> {
    let t = text.trim();
    CME_NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(t))
        .map(|(c, n)| (*c, *n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_the_field_codes() {
        assert_eq!(cms_name(322), "memory full");
        assert_eq!(cms_name(38), "network out of order");
        assert_eq!(cms_name(500), "unknown error");
        assert!(cms_name(512).starts_with("manufacturer"));
        assert!(cms_name(515).contains("busy"));
        assert_eq!(cme_name(10), "SIM not inserted");
        assert_eq!(cme_name(11), "SIM PIN required");
        assert_eq!(cme_name(12), "SIM PUK required");
        assert_eq!(cme_name(16), "incorrect password");
        assert_eq!(cme_name(30), "no network service");
        assert_eq!(
            cme_code_from_text("SIM PIN required"),
            Some((11, "SIM PIN required"))
        );
        assert_eq!(
            cme_code_from_text("sim not inserted").map(|c| c.0),
            Some(10)
        );
        assert_eq!(cme_code_from_text("mystery"), None);
    }

    #[test]
    fn every_call_result_reads_back_from_its_line() {
        for r in CALL_RESULTS {
            assert_eq!(CallResult::parse(r.as_str()), Some(r));
            assert_eq!(CallResult::parse(&r.as_str().to_ascii_lowercase()), Some(r));
        }
        assert_eq!(CallResult::parse("NO CARRIERS"), None);
        assert_eq!(CallResult::parse("OK"), None);
    }

    #[test]
    fn memory_full_is_recognised_in_every_form() {
        let cms = AtError::Cms {
            command: "AT+CMGS=20".into(),
            code: 322,
            name: cms_name(322),
        };
        let cme = AtError::Cme {
            command: "AT+CMGW".into(),
            code: 20,
            name: cme_name(20),
        };
        assert!(cms.is_memory_full());
        assert!(cme.is_memory_full());
        assert!(!AtError::ModemGone.is_memory_full());
        assert!(AtError::ModemGone.is_link_fault());
    }
}
