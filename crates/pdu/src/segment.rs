//! Choosing the alphabet and cutting a text into SMS parts: GSM-7 when every character fits
//! (extension characters count two septets), else UCS-2; 160 septets / 70 UTF-16 units in a
//! single SMS, 153 / 67 per part of a concatenated one (the 6-octet header takes the rest).
//! A part never ends between an escape and its character, nor inside a surrogate pair.

use serde::Serialize;

use super::dcs::Encoding;
use super::{gsm7, translit, ucs2};

/// Septets in a single GSM-7 SMS.
pub(crate) const GSM7_SINGLE: usize = 160;
/// Septets per part of a concatenated GSM-7 SMS (140 octets less a 6-octet header with its
/// fill bit = 153 septets).
pub(crate) const GSM7_PART: usize = 153;
/// UTF-16 units in a single UCS-2 SMS.
pub(crate) const UCS2_SINGLE: usize = 70;
/// UTF-16 units per part of a concatenated UCS-2 SMS.
pub(crate) const UCS2_PART: usize = 67;

/// A text cut into parts, ready to be packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Septets of each part (escapes included).
    Gsm7(Vec<Vec<u8>>),
    /// UTF-16 units of each part.
    Ucs2(Vec<Vec<u16>>),
}

impl Plan {
    pub(crate) fn parts(&self) -> usize {
        match self {
            Plan::Gsm7(p) => p.len(),
            Plan::Ucs2(p) => p.len(),
        }
    }

    pub(crate) fn encoding(&self) -> Encoding {
        match self {
            Plan::Gsm7(_) => Encoding::Gsm7,
            Plan::Ucs2(_) => Encoding::Ucs2,
        }
    }
}

/// Cuts `units` into chunks of at most `max`, moving a cut back by one where `straddles`
/// says the unit before it begins a pair.
fn cut<T: Copy>(units: &[T], max: usize, straddles: impl Fn(T) -> bool) -> Vec<Vec<T>> {
    let mut parts = Vec::new();
    let mut rest = units;
    while !rest.is_empty() {
        let mut n = rest.len().min(max);
        if n < rest.len() && n > 1 && rest.get(n - 1).copied().is_some_and(&straddles) {
            n -= 1;
        }
        let (head, tail) = rest.split_at(n);
        parts.push(head.to_vec());
        rest = tail;
    }
    if parts.is_empty() {
        parts.push(Vec::new());
    }
    parts
}

/// Plans `text` as it will be sent (no transliteration here).
pub(crate) fn plan(text: &str, force_ucs2: bool) -> Plan {
    if !force_ucs2 && let Some(septets) = gsm7::to_septets(text) {
        let max = if septets.len() <= GSM7_SINGLE {
            GSM7_SINGLE
        } else {
            GSM7_PART
        };
        // Every ESC in an encoded text starts an escape pair.
        return Plan::Gsm7(cut(&septets, max, |s| s == gsm7::ESC));
    }
    let units = ucs2::units(text);
    let max = if units.len() <= UCS2_SINGLE {
        UCS2_SINGLE
    } else {
        UCS2_PART
    };
    Plan::Ucs2(cut(&units, max, ucs2::is_high_surrogate))
}

/// The text that will be sent: the transliterated one when asked and when that makes it fit
/// GSM-7; otherwise the original, since UCS-2 carries it unchanged at the same price.
pub(crate) fn text_to_send(text: &str, transliterate: bool) -> std::borrow::Cow<'_, str> {
    if transliterate && !gsm7::fits(text) {
        let folded = translit::transliterate(text);
        if gsm7::fits(&folded) {
            return std::borrow::Cow::Owned(folded);
        }
    }
    std::borrow::Cow::Borrowed(text)
}

/// What sending a text costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmsCost {
    /// SMS parts billed.
    pub parts: usize,
    /// Alphabet used.
    pub encoding: Encoding,
    /// Septets (GSM-7, escapes counted) or UTF-16 units (UCS-2) of the whole text.
    pub septets_or_chars: usize,
}

/// What `text` costs to send, exactly as [`super::encode_submit`] would cut it.
pub fn sms_cost(text: &str, transliterate: bool) -> SmsCost {
    let text = text_to_send(text, transliterate);
    let plan = plan(&text, false);
    let septets_or_chars = match &plan {
        Plan::Gsm7(parts) => parts.iter().map(Vec::len).sum(),
        Plan::Ucs2(parts) => parts.iter().map(Vec::len).sum(),
    };
    SmsCost {
        parts: plan.parts(),
        encoding: plan.encoding(),
        septets_or_chars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_gsm7() {
        let cost = |n: usize| sms_cost(&"a".repeat(n), false);
        assert_eq!(cost(0).parts, 1);
        assert_eq!(cost(160).parts, 1);
        assert_eq!(cost(161).parts, 2);
        assert_eq!(cost(306).parts, 2);
        assert_eq!(cost(307).parts, 3);
        assert_eq!(cost(160).encoding, Encoding::Gsm7);
        // Extension characters count two septets.
        assert_eq!(sms_cost(&"€".repeat(80), false).parts, 1);
        assert_eq!(sms_cost(&"€".repeat(81), false).parts, 2);
        assert_eq!(sms_cost(&"€".repeat(81), false).septets_or_chars, 162);
    }

    #[test]
    fn boundaries_ucs2() {
        let cost = |n: usize| sms_cost(&"ж".repeat(n), false);
        assert_eq!(cost(70).parts, 1);
        assert_eq!(cost(71).parts, 2);
        assert_eq!(cost(134).parts, 2);
        assert_eq!(cost(135).parts, 3);
        assert_eq!(cost(1).encoding, Encoding::Ucs2);
        // An emoji is two UTF-16 units.
        assert_eq!(sms_cost(&"😀".repeat(35), false).parts, 1);
        assert_eq!(sms_cost(&"😀".repeat(36), false).parts, 2);
    }

    #[test]
    fn escape_pair_never_straddles_a_part() {
        // 152 'a' then '€': ESC would be septet 153, its code septet 154.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
        let Plan::Gsm7(parts) = plan(&text, false) else {
            panic!("expected GSM-7")
        };
        assert_eq!(parts[0].len(), 152);
        assert_eq!(parts[1][0], gsm7::ESC);
    }

    #[test]
    fn surrogate_pair_never_straddles_a_part() {
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
        let Plan::Ucs2(parts) = plan(&text, false) else {
            panic!("expected UCS-2")
        };
        assert_eq!(parts[0].len(), 66);
        assert!(ucs2::is_high_surrogate(parts[1][0]));
    }

    #[test]
    fn transliteration_only_when_it_makes_the_text_fit() {
        let french = "Merci. Votre rapport K7-4821 a été reçu à la mine — l’équipe s’en occupe.";
        assert_eq!(sms_cost(french, false).encoding, Encoding::Ucs2);
        assert_eq!(sms_cost(french, true).encoding, Encoding::Gsm7);
        assert_eq!(sms_cost(french, true).parts, 1);
        // An emoji keeps the text in UCS-2: then the original is sent untouched.
        assert_eq!(text_to_send("reçu 😀", true), "reçu 😀");
    }
}
