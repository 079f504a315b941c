//! Final result codes: the line that ends the answer to a command (`OK`, `ERROR`, `+CMS ERROR: n`,
//! `+CME ERROR: n`, `NO CARRIER`, ...).

use super::error::{AtError, CallResult, cme_code_from_text, cme_name, cms_name};
use super::params::strip_prefix;

/// One final result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalResult {
    Ok,
    Error,
    Cms(u16),
    Cme(u16),
    /// `+CME ERROR: <text>` whose text is not in our table.
    CmeText(String),
    /// `NO CARRIER`, `BUSY`, `NO ANSWER`, `NO DIALTONE`: call results, failures for us.
    Failed(CallResult),
}

/// Is `line` a final result code?
pub fn final_result(line: &str) -> Option<FinalResult> {
    let l = line.trim();
    if l.eq_ignore_ascii_case("OK") {
        return Some(FinalResult::Ok);
    }
    if l.eq_ignore_ascii_case("ERROR") {
        return Some(FinalResult::Error);
    }
    if let Some(rest) = strip_prefix(l, "+CMS ERROR:") {
        return Some(match rest.parse::<u16>() {
            Ok(code) => FinalResult::Cms(code),
            // Verbose +CMS text is rare; "unknown error" keeps it a failure with a code.
            Err(_) => FinalResult::Cms(500),
        });
    }
    if let Some(rest) = strip_prefix(l, "+CME ERROR:") {
        return Some(match rest.parse::<u16>() {
            Ok(code) => FinalResult::Cme(code),
            Err(_) => match cme_code_from_text(rest) {
                Some((code, _)) => FinalResult::Cme(code),
                None => FinalResult::CmeText(rest.to_string()),
            },
        });
    }
    CallResult::parse(l).map(FinalResult::Failed)
}

impl FinalResult {
    /// The error this result means for `command`, or `None` for `OK`.
    pub fn into_error(self, command: &str) -> Option<AtError> {
        let command = command.to_string();
        match self {
            FinalResult::Ok => None,
            FinalResult::Error => Some(AtError::Error { command }),
            FinalResult::Cms(code) => Some(AtError::Cms {
                command,
                code,
                name: cms_name(code),
            }),
            FinalResult::Cme(code) => Some(AtError::Cme {
                command,
                code,
                name: cme_name(code),
            }),
            FinalResult::CmeText(text) => Some(AtError::CmeText { command, text }),
            FinalResult::Failed(result) => Some(AtError::Failed { command, result }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_results() {
        assert_eq!(final_result("OK"), Some(FinalResult::Ok));
        assert_eq!(final_result("ERROR"), Some(FinalResult::Error));
        assert_eq!(final_result("+CMS ERROR: 322"), Some(FinalResult::Cms(322)));
        assert_eq!(final_result("+CMS ERROR:38"), Some(FinalResult::Cms(38)));
        assert_eq!(final_result("+CME ERROR: 10"), Some(FinalResult::Cme(10)));
        assert_eq!(
            final_result("+CME ERROR: SIM PIN required"),
            Some(FinalResult::Cme(11))
        );
        assert_eq!(
            final_result("+CME ERROR: strange thing"),
            Some(FinalResult::CmeText("strange thing".into()))
        );
        assert_eq!(
            final_result("NO CARRIER"),
            Some(FinalResult::Failed(CallResult::NoCarrier))
        );
        assert_eq!(final_result("+CMGS: 4"), None);
        assert_eq!(final_result("OKAY"), None);
        let e = FinalResult::Cms(322).into_error("AT+CMGS=20").unwrap();
        assert!(e.is_memory_full());
        assert!(e.to_string().contains("memory full"), "{e}");
        assert!(FinalResult::Ok.into_error("AT").is_none());
    }
}
