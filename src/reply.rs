//! Replies to reporters: who may get one (never operator robots, short codes, the gateway's own
//! numbers or blocked numbers) and the text, rendered from the keyword table's templates.
//!
//! The rest of the reply guard (rate limits, the daily budget, help once an hour, echoes) is the
//! store's, in the same transaction that queues the reply (`store::ReplyGuard`).

use config::Config;
use pdu::{self, AddressKind};
use store::RefusalKind;

/// Why a sender gets no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NoReply {
    Disabled,
    NoSender,
    Alphanumeric,
    ShortCode,
    OwnNumber,
    Blocked,
}

impl std::fmt::Display for NoReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoReply::Disabled => "replies are disabled in the config",
            NoReply::NoSender => "the sender could not be decoded",
            NoReply::Alphanumeric => "alphanumeric sender (operator or service message)",
            NoReply::ShortCode => "short code sender (operator service)",
            NoReply::OwnNumber => "one of the gateway's own numbers",
            NoReply::Blocked => "number on the block list",
        })
    }
}

impl NoReply {
    /// The kind the refusal is counted under.
    pub(crate) fn kind(&self) -> RefusalKind {
        match self {
            NoReply::Disabled => RefusalKind::Disabled,
            NoReply::NoSender => RefusalKind::NoSender,
            NoReply::Alphanumeric => RefusalKind::Alphanumeric,
            NoReply::ShortCode => RefusalKind::ShortCode,
            NoReply::OwnNumber => RefusalKind::OwnNumber,
            NoReply::Blocked => RefusalKind::Blocked,
        }
    }
}

/// Who may receive a reply.
#[derive(Debug, Clone)]
pub(crate) struct ReplyPolicy {
    enabled: bool,
    short_code_max_digits: usize,
    own_numbers: Vec<String>,
    block_list: Vec<String>,
}

/// Digits compared when telling whether two numbers are the same subscriber: the national
/// significant number, so "+243812345678" and "0812345678" match.
const SIGNIFICANT_DIGITS: usize = 9;

fn significant(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let skip = digits.len().saturating_sub(SIGNIFICANT_DIGITS);
    digits[skip..].to_string()
}

/// True when two numbers are the same subscriber (the same national significant number).
pub(crate) fn same_subscriber(a: &str, b: &str) -> bool {
    let a = significant(a);
    a.len() == SIGNIFICANT_DIGITS && a == significant(b)
}

impl ReplyPolicy {
    pub(crate) fn from_config(config: &Config) -> ReplyPolicy {
        ReplyPolicy {
            enabled: config.replies.enabled,
            short_code_max_digits: config.replies.short_code_max_digits,
            own_numbers: config
                .modems
                .iter()
                .filter_map(|m| m.own_number.as_deref())
                .map(significant)
                .collect(),
            block_list: config
                .replies
                .block_list
                .iter()
                .map(|n| significant(n))
                .collect(),
        }
    }

    /// Whether `sender` (as decoded, with its address kind) may get a reply.
    pub(crate) fn check(
        &self,
        sender: Option<&str>,
        sender_kind: Option<AddressKind>,
    ) -> Result<(), NoReply> {
        if !self.enabled {
            return Err(NoReply::Disabled);
        }
        let Some(sender) = sender.filter(|s| !s.is_empty()) else {
            return Err(NoReply::NoSender);
        };
        if sender_kind == Some(AddressKind::Alphanumeric)
            || sender.chars().any(|c| c.is_alphabetic())
        {
            return Err(NoReply::Alphanumeric);
        }
        let digits = sender.chars().filter(char::is_ascii_digit).count();
        if digits <= self.short_code_max_digits {
            return Err(NoReply::ShortCode);
        }
        let sig = significant(sender);
        if self.own_numbers.contains(&sig) {
            return Err(NoReply::OwnNumber);
        }
        if self.block_list.contains(&sig) {
            return Err(NoReply::Blocked);
        }
        Ok(())
    }
}

impl ReplyPolicy {
    /// Whether a message is an operator's or a service's (a promotion, a balance notice), never
    /// a reporter's: its sender is a name ("Vodacom") or a short code ("4040"), or a number in
    /// neither international nor national form with a promotion's text. It is kept on the box
    /// but is no incident: no reply, nothing forwarded. Apart from `replies.enabled`, which
    /// says nothing about who sent it.
    pub(crate) fn is_service_message(
        &self,
        sender: Option<&str>,
        sender_kind: Option<AddressKind>,
        text: &str,
    ) -> bool {
        let Some(sender) = sender.filter(|s| !s.is_empty()) else {
            return false;
        };
        if sender_kind == Some(AddressKind::Alphanumeric) || sender.chars().any(char::is_alphabetic)
        {
            return true;
        }
        let digits = sender.chars().filter(char::is_ascii_digit).count();
        if digits <= self.short_code_max_digits {
            return true;
        }
        sender_kind == Some(AddressKind::Other) && looks_like_promotion(text)
    }
}

/// Words of operators' promotions and notices, in the three languages (normalised: lower case,
/// no accents).
const PROMOTION_WORDS: &[&str] = &[
    "bonus",
    "promo",
    "promotion",
    "offre",
    "forfait",
    "tapez",
    "composez",
    "recharge",
    "solde",
    "credit",
    "internet",
    "mb",
    "go",
    "gb",
    "dial",
    "bundle",
    "airtime",
    "balance",
    "kifurushi",
    "salio",
    "bando",
    "piga",
];

/// A text that reads like an operator's promotion: a USSD code to dial (`*123#`), or two of
/// its words.
fn looks_like_promotion(text: &str) -> bool {
    let ussd = text.split_whitespace().any(|w| {
        let w = w.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '#');
        w.starts_with('*')
            && w.ends_with('#')
            && w.len() >= 3
            && w.chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
    });
    let words = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| {
            let w = w.to_lowercase();
            let w = w.trim_start_matches(|c: char| c.is_ascii_digit());
            PROMOTION_WORDS.contains(&w)
        })
        .count();
    ussd || words >= 2
}

/// Values for a reply template's placeholders.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateValues<'a> {
    pub(crate) reference: &'a str,
    pub(crate) type_label: &'a str,
    pub(crate) keywords: &'a str,
}

/// Fills `{reference}`, `{type}` and `{keywords}` in a template. An empty `type_label` (the
/// language did not opt in to naming the type) takes `{type}` out with the brackets around it
/// and the space it leaves, so an old template still reads well.
pub(crate) fn render(template: &str, v: &TemplateValues<'_>) -> String {
    let text = template
        .replace("{reference}", v.reference)
        .replace("{keywords}", v.keywords);
    if !v.type_label.is_empty() {
        return text.replace("{type}", v.type_label);
    }
    if !text.contains("{type}") {
        return text;
    }
    let text = text
        .replace("({type})", "")
        .replace("[{type}]", "")
        .replace("{type}", "");
    let text = text
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    text.replace(" .", ".")
        .replace(" ,", ",")
        .replace(" :", ":")
}

/// The reference a reporter is given for an incident: short enough to copy from a screen,
/// unique per gateway.
pub(crate) fn reference(prefix: &str, message_id: i64) -> String {
    format!("{prefix}-{message_id:04}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn policy() -> ReplyPolicy {
        let text = r#"
gateway_id = "t"
[platform]
url = "http://127.0.0.1:1"
[replies]
block_list = ["+243 990 000 001"]
[[modem]]
name = "m"
device = "/dev/null"
own_number = "+243810000000"
"#;
        ReplyPolicy::from_config(&Config::parse(text, Path::new("t"), Path::new("/")).unwrap())
    }

    #[test]
    fn robots_and_own_numbers_get_no_reply() {
        let p = policy();
        use AddressKind::*;
        assert_eq!(p.check(Some("+243812345678"), Some(International)), Ok(()));
        assert_eq!(p.check(Some("0812345678"), Some(National)), Ok(()));
        assert_eq!(
            p.check(Some("Vodacom"), Some(Alphanumeric)),
            Err(NoReply::Alphanumeric)
        );
        assert_eq!(p.check(Some("1234"), Some(Other)), Err(NoReply::ShortCode));
        assert_eq!(
            p.check(Some("0810000000"), Some(National)),
            Err(NoReply::OwnNumber)
        );
        assert_eq!(
            p.check(Some("+243990000001"), Some(International)),
            Err(NoReply::Blocked)
        );
        assert_eq!(p.check(None, None), Err(NoReply::NoSender));
    }

    /// Operators' names and short codes send service messages whatever they say; a number in
    /// an odd form only with a promotion's text; a reporter's number never.
    #[test]
    fn operators_and_promotions_are_service_messages() {
        let p = policy();
        use AddressKind::*;
        let promo = "Vodacom: Bonus 500MB pour 1000 FC seulement! Tapez *123# avant minuit.";
        assert!(p.is_service_message(Some("Vodacom"), Some(Alphanumeric), promo));
        assert!(p.is_service_message(Some("Vodacom"), Some(Alphanumeric), "AJALI"));
        assert!(p.is_service_message(Some("4040"), Some(Other), "Votre solde est de 200 FC"));
        assert!(p.is_service_message(Some("1234567890"), Some(Other), promo));
        assert!(p.is_service_message(Some("1234567890"), Some(Other), "Piga *100# salio"));
        assert!(!p.is_service_message(Some("1234567890"), Some(Other), "AJALI mgodi wa Kalimbi"));
        assert!(!p.is_service_message(Some("+243812345678"), Some(International), promo));
        assert!(!p.is_service_message(Some("0812345678"), Some(National), "Bonus offre"));
        assert!(!p.is_service_message(None, None, promo));
    }

    #[test]
    fn templates_fill_placeholders() {
        let v = TemplateValues {
            reference: "K7-4821",
            type_label: "Ajali",
            keywords: "",
        };
        assert_eq!(
            render("Asante. Ripoti yako {reference} ({type}) imepokelewa.", &v),
            "Asante. Ripoti yako K7-4821 (Ajali) imepokelewa."
        );
        // Not opted in: the type is not named, and the text still reads well.
        let neutral = TemplateValues {
            type_label: "",
            ..v
        };
        assert_eq!(
            render(
                "Asante. Ripoti yako {reference} ({type}) imepokelewa.",
                &neutral
            ),
            "Asante. Ripoti yako K7-4821 imepokelewa."
        );
        assert_eq!(reference("K7", 42), "K7-0042");
        assert_eq!(reference("K7", 123456), "K7-123456");
    }
}
