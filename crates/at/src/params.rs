//! Reading the lines of an answer: splitting the parameter list of an information line
//! (`+CMGL: 3,1,,24`, `+CSCA: "+243",145`), and telling a PDU line.
//!
//! Commas inside double quotes belong to the value; quotes are removed; an empty field is kept as an
//! empty value because its position matters (`+CMGR: 0,,23`).

/// One parameter of an information line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub text: String,
    /// The value was in double quotes (so an empty one was given, not left out).
    pub(crate) quoted: bool,
}

impl Param {
    pub(crate) fn as_u32(&self) -> Option<u32> {
        self.text.trim().parse().ok()
    }
    pub(crate) fn as_u8(&self) -> Option<u8> {
        self.text.trim().parse().ok()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }
}

/// The text after `prefix` (e.g. `"+CSQ:"`), without surrounding blanks, if `line` starts with it.
/// The prefix is compared without case: some modems answer `+cmgl:`.
pub(crate) fn strip_prefix<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        line.get(prefix.len()..).map(str::trim)
    } else {
        None
    }
}

/// Splits `a,"b,c",,d` into four parameters.
pub fn split_params(rest: &str) -> Vec<Param> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    for ch in rest.chars() {
        match ch {
            '"' => {
                in_quotes = !in_quotes;
                quoted = true;
            }
            ',' if !in_quotes => {
                let text = if quoted {
                    cur.clone()
                } else {
                    cur.trim().to_string()
                };
                out.push(Param { text, quoted });
                cur.clear();
                quoted = false;
            }
            c => cur.push(c),
        }
    }
    let text = if quoted { cur } else { cur.trim().to_string() };
    out.push(Param { text, quoted });
    out
}

/// The parameters of `line` after `prefix`, if it starts with it.
pub fn params_after(line: &str, prefix: &str) -> Option<Vec<Param>> {
    strip_prefix(line, prefix).map(split_params)
}

/// Does `line` look like a PDU (hex digits only, even count)? Used to check the line after a
/// `+CMGL`/`+CMGR` header or a two-line URC's header before taking it.
pub fn looks_like_pdu(line: &str) -> bool {
    !line.is_empty() && line.len().is_multiple_of(2) && line.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_commas_empty_fields_and_case() {
        let p = params_after("+cmgl: 3,1,\"a,b\",,24", "+CMGL:").unwrap();
        let texts: Vec<&str> = p.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["3", "1", "a,b", "", "24"]);
        assert!(p[2].quoted);
        assert!(p[3].is_empty());
        assert_eq!(p[4].as_u32(), Some(24));
        assert_eq!(params_after("+CSQ: 1,2", "+CMGL:"), None);
        assert_eq!(strip_prefix("OK", "+CMGL:"), None);
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
