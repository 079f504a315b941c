//! Table-driven tests of the keyword table as shipped: real-looking messages in Kiswahili,
//! French and English, typos, accents, ties between two meanings, places, info keywords, the
//! survey trigger, and what `check-config` refuses.

use std::path::Path;

use config::Config;
use intake::{Intent, Keywords};
use kufatilia_gateway::check_templates;

const SHIPPED: &str = include_str!("../config/keywords.toml");

fn kw() -> Keywords {
    Keywords::builtin().unwrap()
}

/// (message, type id or intent name, language, location)
const MESSAGES: &[(&str, &str, &str, Option<&str>)] = &[
    // Kiswahili
    (
        "AJALI mgodi wa Kalimbi, watu wawili wamejeruhiwa",
        "accident",
        "sw",
        Some("Kalimbi"),
    ),
    (
        "Habari, ajali karibu na Nyabibwe leo",
        "accident",
        "sw",
        Some("Nyabibwe"),
    ),
    (
        "vurugu sokoni kwenye mgodi wa Rubaya",
        "violence",
        "sw",
        Some("mgodi wa Rubaya"),
    ),
    ("Waasi wamefika kijijini", "armed_group", "sw", None),
    ("kodi haramu kizuizini", "illegal_tax", "sw", None),
    ("Mtoto anachimba shimoni", "child_labour", "sw", None),
    ("RUSHWA: polisi wanadai pesa", "fraud", "sw", None),
    (
        "uchafuzi wa mto karibu na Kamituga",
        "environment",
        "sw",
        Some("Kamituga"),
    ),
    ("wizi wa jenereta usiku", "theft", "sw", None),
    // French, with and without accents
    (
        "Éboulement au puits 3 de Bisie, deux blessés",
        "accident",
        "fr",
        Some("puits 3 de Bisie"),
    ),
    ("eboulement au puits", "accident", "fr", Some("puits")),
    (
        "Barrière à Nyabibwe, on paie 5000 FC",
        "illegal_tax",
        "fr",
        Some("Nyabibwe"),
    ),
    ("BARRIERE a Nyabibwe", "illegal_tax", "fr", Some("Nyabibwe")),
    (
        "Groupe armé près de Walikale depuis hier",
        "armed_group",
        "fr",
        Some("Walikale"),
    ),
    (
        "travail forcé au site de Lemera",
        "forced_labour",
        "fr",
        Some("site de Lemera"),
    ),
    (
        "Bonjour, fraude sur la pesée du coltan",
        "fraud",
        "fr",
        None,
    ),
    ("vol de matériel au dépôt", "theft", "fr", Some("dépôt")),
    // English
    (
        "Accident at the Bisie mine, two men injured",
        "accident",
        "en",
        Some("Bisie mine"),
    ),
    (
        "armed men near Mubi since this morning",
        "armed_group",
        "en",
        Some("Mubi"),
    ),
    ("Roadblock on the road to Mubi", "illegal_tax", "en", None),
    (
        "children working at the shaft",
        "child_labour",
        "en",
        Some("shaft"),
    ),
    ("theft of tools", "theft", "en", None),
    // Typos (one letter, keywords of five letters or more)
    ("VURUUGU sokoni", "violence", "sw", None),
    ("rushw polisi", "fraud", "sw", None),
    ("mazingria mto mchafu", "environment", "sw", None),
    ("acident at the mine", "accident", "en", Some("mine")),
    ("Barriére à Kalehe", "illegal_tax", "fr", Some("Kalehe")),
    ("Barier de Kalehe", "unknown", "fr", None),
    // Short keywords match exactly only
    ("wiz wa simu", "unknown", "sw", None),
    ("kodo ya barabara", "unknown", "sw", None),
    // Not a keyword in the first two words
    ("Leo asubuhi kulikuwa na ajali", "unknown", "sw", None),
    (
        "Bonjour, il y a un problème à la mine",
        "unknown",
        "fr",
        None,
    ),
    // Help, info and the survey
    ("MSAADA", "help", "sw", None),
    ("aide svp", "help", "fr", None),
    ("Help", "help", "en", None),
    ("bei ya leo?", "info:prices", "sw", None),
    ("PRIX", "info:prices", "fr", None),
    ("contacts please", "info:contacts", "en", None),
    ("Kufatilia", "survey", "sw", None),
    ("kufatlia", "survey", "sw", None),
];

fn name(k: &Keywords, intent: &Intent) -> String {
    match intent {
        Intent::Help => "help".into(),
        Intent::Survey => "survey".into(),
        Intent::Info(i) => format!("info:{}", k.info[*i].id),
        other => k.type_id(other).to_string(),
    }
}

#[test]
fn real_looking_messages_in_three_languages() {
    let k = kw();
    let mut wrong = Vec::new();
    for &(text, want, lang, location) in MESSAGES {
        let r = k.read(text);
        let got = (name(&k, &r.intent), r.language.clone(), r.location.clone());
        let expected = (
            want.to_string(),
            lang.to_string(),
            location.map(str::to_string),
        );
        if got != expected {
            wrong.push(format!("{text:?}: got {got:?}, want {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn a_typo_between_two_meanings_is_unknown() {
    // "bribes" (theft, made up for the test) and "bribe" (fraud) are both one letter from
    // "bribex": neither wins.
    let text = SHIPPED.replace(
        "en = [\"theft\", \"stolen\"]",
        "en = [\"theft\", \"stolen\", \"bribes\"]",
    );
    let k = Keywords::parse(&text, Path::new("k.toml")).unwrap();
    assert_eq!(k.type_id(&k.read("bribex at the mine").intent), "unknown");
    assert_eq!(k.type_id(&k.read("bribe at the mine").intent), "fraud");
    assert_eq!(k.type_id(&k.read("bribes at the mine").intent), "theft");
}

#[test]
fn a_keyword_shared_by_two_types_or_two_languages_with_different_meanings_is_refused() {
    let cases = [
        // two types, same language
        (
            "en = [\"theft\", \"stolen\"]",
            "en = [\"theft\", \"attack\"]",
        ),
        // two languages, different meanings ("vol" is French theft; here also English fraud)
        ("en = [\"fraud\", \"bribe\"]", "en = [\"fraud\", \"vol\"]"),
        // an info keyword that is a type's keyword
        ("fr = [\"prix\"]", "fr = [\"taxe\"]"),
        // the survey word used by a type
        ("sw = [\"wizi\"]", "sw = [\"wizi\", \"kufatilia\"]"),
        // help word used by a type
        ("en = [\"help\"]", "en = [\"injury\"]"),
    ];
    for (from, to) in cases {
        assert!(SHIPPED.contains(from), "{from}");
        let e = Keywords::parse(&SHIPPED.replacen(from, to, 1), Path::new("k.toml"))
            .expect_err(to)
            .to_string();
        assert!(e.contains("two different meanings"), "{to}: {e}");
    }
    // The same word in two languages with the same meaning is fine.
    let same = SHIPPED.replace("sw = [\"wizi\"]", "sw = [\"wizi\", \"theft\"]");
    assert!(Keywords::parse(&same, Path::new("k.toml")).is_ok());
}

#[test]
fn a_survey_without_a_question_in_every_language_is_refused() {
    let text = SHIPPED.replace(
        "question = { sw = \"Wapi? Mgodi, kijiji au wilaya.\", ",
        "question = { ",
    );
    let e = Keywords::parse(&text, Path::new("k.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no question in \"sw\""), "{e}");
}

fn config(extra: &str) -> Config {
    let text = format!(
        "gateway_id = \"t\"\nreference_prefix = \"K7\"\n[platform]\nurl = \"http://127.0.0.1:1\"\n[replies]\n{extra}\n"
    );
    Config::parse(&text, Path::new("t"), Path::new("/")).unwrap()
}

#[test]
fn every_shipped_reply_fits_one_sms() {
    let (costs, errors) = check_templates(&config(""), &kw());
    assert!(errors.is_empty(), "{errors:?}");
    assert!(costs.iter().any(|c| c.name.starts_with("survey.steps[1]")));
    assert!(costs.iter().any(|c| c.name.starts_with("info \"prices\"")));
    assert!(costs.iter().all(|c| c.cost.parts == 1));
}

#[test]
fn a_reply_longer_than_one_sms_is_refused_unless_allowed() {
    let long = SHIPPED.replace(
        "en = \"Send a word and the details: {keywords}\"",
        "en = \"Send one of these words and then tell us what happened, where and when, as precisely as you can: {keywords}\"",
    );
    let k = Keywords::parse(&long, Path::new("k.toml")).unwrap();
    let (_, errors) = check_templates(&config(""), &k);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("replies.help.en costs 2 SMS"),
        "{}",
        errors[0]
    );
    let (_, errors) = check_templates(&config("allow_multipart = true"), &k);
    assert!(errors.is_empty());
}
