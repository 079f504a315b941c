//! Folding text into the GSM 7-bit alphabet so that a reply costs one SMS, not two or three:
//! typographic quotes, dashes, ellipses and the accented letters GSM-7 lacks (ç ê â î ô û ë ï
//! œ …) become their closest GSM-7 form. Letters GSM-7 already has (é è ù ì ò à Ç Ä Ñ …) are
//! kept as they are.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::gsm7;

/// Characters whose closest GSM-7 form is not their compatibility decomposition.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        // GSM-7 0x09 is the capital Ç, which many handsets show as a capital: "reÇu" reads
        // worse than "recu", so the small letter loses its cedilla instead.
        'ç' => "c",
        'œ' => "oe",
        'Œ' => "OE",
        'ł' => "l",
        'Ł' => "L",
        'đ' | 'ð' => "d",
        'Đ' | 'Ð' => "D",
        'þ' => "th",
        'Þ' => "Th",
        'ı' => "i",
        'ĸ' => "k",
        'ŋ' => "n",
        'Ŋ' => "N",
        '‘' | '’' | '‚' | '‛' | '′' | '`' | '´' | 'ʼ' | '‹' | '›' => "'",
        '“' | '”' | '„' | '‟' | '″' | '«' | '»' => "\"",
        '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '•' => "-",
        '…' => "...",
        '·' => ".",
        '×' => "x",
        '÷' => "/",
        '©' => "(c)",
        '®' => "(R)",
        '°' => "o",
        '\t' => " ",
        // Spaces of every width (French puts a narrow no-break space before ; : ! ?).
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        // Invisible characters that would force UCS-2 for nothing.
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => "",
        _ => return None,
    })
}

/// Folds `text` towards GSM-7. Characters with no close GSM-7 form (most non-Latin scripts,
/// emoji) are left as they are, so the result may still need UCS-2.
pub fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // NFC first, so that "e" + combining acute is the GSM-7 "é" rather than a fold to "e".
    for c in text.nfc() {
        if gsm7::encode_char(c).is_some() {
            out.push(c);
        } else if let Some(folded) = fold(c) {
            out.push_str(folded);
        } else {
            // Compatibility decomposition without the combining marks: ê -> e, Â -> A,
            // ﬁ -> fi, ª -> a, fullwidth Ａ -> A. Used only when all of it is GSM-7.
            let base: String = std::iter::once(c)
                .nfkd()
                .filter(|d| !is_combining_mark(*d))
                .collect();
            if !base.is_empty() && gsm7::fits(&base) {
                out.push_str(&base);
            } else {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_folds_into_gsm7() {
        let text = "Ça y est : reçu, forêt, âne, île, côte, sûr, Noël, naïve, cœur, ex æquo. \
                    «Merci» – l’équipe… “OK” — fin";
        let folded = transliterate(text);
        assert_eq!(
            folded,
            "Ça y est : recu, foret, ane, ile, cote, sur, Noel, naive, coeur, ex æquo. \
             \"Merci\" - l'équipe... \"OK\" - fin"
        );
        assert!(gsm7::fits(&folded));
    }

    #[test]
    fn gsm7_letters_are_kept() {
        let text = "é è ù ì ò à Ç É Ä Ö Ñ Ü ä ö ñ ü ß Ø ø Å å Æ æ € £ ¥ § ¿ ¡";
        assert_eq!(transliterate(text), text);
    }

    #[test]
    fn other_latin_letters() {
        assert_eq!(
            transliterate("ÀÂÊÎÔÛŸ áíóú ãõ ŁĐ ł ž š ć"),
            "AAEIOUY aiou ao LD l z s c"
        );
        // Decomposed input is composed first: e + U+0301 is the GSM-7 é.
        assert_eq!(transliterate("e\u{301}t\u{e9}"), "été");
        // Narrow no-break space before "!" and a zero-width space vanish into GSM-7.
        assert_eq!(transliterate("Asante\u{202F}!\u{200B}"), "Asante !");
    }

    #[test]
    fn what_cannot_fold_is_kept() {
        assert_eq!(transliterate("Привет 😀"), "Привет 😀");
        assert_eq!(transliterate("ω"), "ω");
    }
}
