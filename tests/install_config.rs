//! The config a technician ends up with: the shipped file with only what docs/install.md says
//! to fill, and the configs `run` would refuse, which `check-config` and `doctor` must refuse
//! alike (exit 78, same words), so systemd never restarts a broken config in a loop.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::daemon::{SECRET, TOKEN, exactly_once, start_daemon};
use config::Config;
use config::secrets;
use modem_sim::{SimConfig, SimModem};
use platform_stub::{PlatformStub, StubConfig};

fn gateway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
}

/// The shipped `config/gateway.toml` with only the fields install.md step 4 tells the
/// technician to fill (the modem's device, the platform url) and the secret files it tells them
/// to write, against a platform that checks signatures: every report is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_config_filled_as_install_md_says_delivers_to_a_signing_platform() {
    let dir = tempfile::tempdir().unwrap();
    let stub = PlatformStub::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        StubConfig::single(
            dir.path().join("platform.db"),
            TOKEN,
            Some(SECRET.as_bytes()),
        ),
    )
    .await
    .unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let shipped = include_str!("../config/gateway.toml");
    // Only what step 4 of install.md tells the technician to set, and of that only what differs
    // on this machine (gateway_id and operator are already as the example says).
    let install = include_str!("../docs/install.md");
    assert!(
        install
            .contains("Set at least `gateway_id` (e.g. `\"goma-01\"`), the `[[modem]]` `device`"),
        "install.md's step 4 changed: check what this test fills"
    );
    assert!(install.contains("and the platform `url`"));
    let mut text = shipped.to_string();
    for (from, to) in [
        (
            "device = \"/dev/kufatilia-modem0\"".to_string(),
            format!("device = {:?}", sim.device_path()),
        ),
        (
            "url = \"https://platform.example.org/api/gateway\"".to_string(),
            format!("url = {:?}", stub.url()),
        ),
    ] {
        assert!(text.contains(&from), "the shipped config has no {from}");
        text = text.replace(&from, &to);
    }
    // The box's directories, here in the test's: nothing else changes.
    let here = format!("{}/", dir.path().display());
    text = text
        .replace("/etc/kufatilia-gateway/", &here)
        .replace("/var/lib/kufatilia-gateway/", &here);
    std::fs::write(dir.path().join("gateway.toml"), &text).unwrap();
    std::fs::write(
        dir.path().join("keywords.toml"),
        include_str!("../config/keywords.toml"),
    )
    .unwrap();
    // install.md: `echo 'TOKEN-FROM-THE-PLATFORM' | sudo install -m 600 ... platform.token`.
    secrets::write_secret(
        &dir.path().join("platform.token"),
        format!("{TOKEN}\n").as_bytes(),
    )
    .unwrap();
    secrets::write_secret(
        &dir.path().join("platform.secret"),
        format!("{SECRET}\n").as_bytes(),
    )
    .unwrap();

    let config_path = dir.path().join("gateway.toml");
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let daemon = start_daemon(Config::load(&config_path).unwrap()).await;
    sim.inject("+243812345678", "AJALI mgodi wa Kalimbi");
    sim.inject("+243812345679", "VURUGU sokoni");
    crate::common::wait_until(Duration::from_secs(120), "both reports accepted", || {
        stub.incidents().len() == 2
    })
    .await;
    exactly_once(&stub, 2);
    let d = daemon.store.queue_depths().await.unwrap();
    assert_eq!(d.quarantined_batches, 0);
    daemon.stop().await;
    stub.shutdown().await;
}

/// Runs `run` until it exits (it must: every config here is refused), with a bound.
fn run_exits(config: &Path) -> (Option<i32>, String) {
    let child = gateway()
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = crate::common::output_within(child, Duration::from_secs(60));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The `error:` lines of a command's stderr (the log lines of `run` aside).
fn errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_string)
        .collect()
}

/// Every config `run` refuses, `check-config` refuses with the same message and both exit 78;
/// `doctor` names the same problem.
#[test]
fn check_config_run_and_doctor_refuse_the_same_configs_with_the_same_words() {
    let cases = [
        (
            "a remote platform without a signing secret",
            "url = \"https://platform.example.org/api/gateway\"\ntoken_file = \"token\"",
            "`platform.hmac_secret_file`: is missing",
        ),
        (
            "the url with the version at its end",
            "url = \"https://platform.example.org/api/gateway/v1\"\ntoken_file = \"token\"\nhmac_secret_file = \"secret\"",
            "write \"https://platform.example.org/api/gateway\"",
        ),
        (
            "plain http to another machine",
            "url = \"http://192.0.2.7/api\"\ntoken_file = \"token\"\nhmac_secret_file = \"secret\"",
            "plain http://",
        ),
        (
            "a CA file that is not there",
            "url = \"https://platform.example.org/api\"\ntoken_file = \"token\"\nhmac_secret_file = \"secret\"\nextra_ca_file = \"missing-ca.pem\"",
            "`platform.extra_ca_file`: cannot read the extra CA file",
        ),
        (
            "a CA file that holds no certificate",
            "url = \"https://platform.example.org/api\"\ntoken_file = \"token\"\nhmac_secret_file = \"secret\"\nextra_ca_file = \"keywords.toml\"",
            "`platform.extra_ca_file`",
        ),
        (
            "no token file",
            "url = \"https://platform.example.org/api\"\nhmac_secret_file = \"secret\"",
            "`platform.token_file`: is missing",
        ),
        (
            "a token file that is not there",
            "url = \"https://platform.example.org/api\"\ntoken_file = \"nowhere\"\nhmac_secret_file = \"secret\"",
            "`platform.token_file`",
        ),
        (
            "an empty secret file",
            "url = \"https://platform.example.org/api\"\ntoken_file = \"token\"\nhmac_secret_file = \"empty\"",
            "`platform.hmac_secret_file`",
        ),
    ];
    for (what, platform, message) in cases {
        refused_alike(
            what,
            platform,
            include_str!("../config/keywords.toml"),
            message,
        );
    }
}

/// A reply template with a placeholder nothing fills, or with no text, is refused by
/// `check-config`, `run` and `doctor` alike, in every language, with the file, the line and the
/// placeholder meant.
#[test]
fn a_template_with_a_mistyped_placeholder_or_no_text_is_refused_with_its_line() {
    let shipped = include_str!("../config/keywords.toml");
    let line_of = |needle: &str| {
        shipped
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    let platform = "url = \"http://127.0.0.1:9\"\ntoken_file = \"token\"";
    let fr_ack = "fr = \"Merci. Votre rapport {reference} est bien reçu. Nous suivons.\"";
    let en_help = "en = \"Send a word and the details: {keywords}\"";
    let sw_question = "Tuma namba: {menu}";
    let prices = "Prix du jour Goma";
    for (what, from, to, message) in [
        (
            "{referense} in French",
            fr_ack,
            fr_ack.replace("{reference}", "{referense}"),
            format!(
                "keywords.toml line {}: replies.ack.fr has the unknown placeholder {{referense}}, which would reach the reporter as written: did you mean {{reference}}?",
                line_of(fr_ack)
            ),
        ),
        (
            "an empty help text in English",
            en_help,
            "en = \"  \"".to_string(),
            format!(
                "keywords.toml line {}: replies.help.en is empty",
                line_of(en_help)
            ),
        ),
        (
            "{manu} in a survey question",
            sw_question,
            "Tuma namba: {manu}".to_string(),
            format!(
                "keywords.toml line {}: survey.steps[1] (type) question.sw has the unknown placeholder {{manu}}, which would reach the reporter as written: did you mean {{menu}}?",
                line_of(sw_question)
            ),
        ),
        (
            "a placeholder in an info reply, which nothing fills",
            prices,
            format!("{prices} {{reference}}"),
            format!(
                "keywords.toml line {}: info \"prices\" reply.fr has the unknown placeholder {{reference}}, which would reach the reporter as written: this text takes no placeholder",
                line_of(prices)
            ),
        ),
    ] {
        assert!(shipped.contains(from), "{what}");
        refused_alike(what, platform, &shipped.replacen(from, &to, 1), &message);
    }
}

/// `check-config` and `run` refuse the config with the same `error:` lines and exit 78;
/// `doctor` names the problem and does not say all is good.
fn refused_alike(what: &str, platform: &str, keywords: &str, message: &str) {
    {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keywords.toml"), keywords).unwrap();
        secrets::write_secret(&dir.path().join("token"), TOKEN.as_bytes()).unwrap();
        secrets::write_secret(&dir.path().join("secret"), SECRET.as_bytes()).unwrap();
        secrets::write_secret(&dir.path().join("empty"), b"").unwrap();
        let config = dir.path().join("gateway.toml");
        std::fs::write(
            &config,
            format!("gateway_id = \"goma-01\"\ndatabase = \"g.db\"\n[platform]\n{platform}\n"),
        )
        .unwrap();

        let check = gateway()
            .args(["check-config", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let check_errors = errors(&String::from_utf8_lossy(&check.stderr));
        assert_eq!(check.status.code(), Some(78), "{what}: {check_errors:?}");
        assert!(
            check_errors.iter().any(|e| e.contains(message)),
            "{what}: {message:?} not in {check_errors:?}"
        );

        let (code, stderr) = run_exits(&config);
        assert_eq!(code, Some(78), "{what}: run: {stderr}");
        assert_eq!(errors(&stderr), check_errors, "{what}: run says otherwise");
        assert!(!dir.path().join("g.db").exists(), "{what}: run went on");

        let doctor = gateway()
            .args(["doctor", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&doctor.stdout),
            String::from_utf8_lossy(&doctor.stderr)
        );
        assert_ne!(doctor.status.code(), Some(0), "{what}: {text}");
        assert!(text.contains(message), "{what}: doctor: {text}");
    }
}

/// A batch quarantined for its content goes back to the queue with `requeue` once the platform
/// takes it; `--dry-run` and the bare command change nothing.
#[test]
fn requeue_lists_dry_runs_and_puts_quarantined_batches_back() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keywords.toml"),
        include_str!("../config/keywords.toml"),
    )
    .unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        "gateway_id = \"goma-01\"\ndatabase = \"g.db\"\n[platform]\nurl = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let db = dir.path().join("g.db");
    drop(store::Store::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "INSERT INTO batches (id, seq, created_at_ms, state, last_status, last_error,
                              quarantined_at_ms)
         VALUES ('goma-01-b000001', 1, 1, 'quarantined', 400, 'HTTP 400: invalid_batch', 2),
                ('goma-01-b000002', 2, 1, 'quarantined', 422, 'HTTP 422: no', 2),
                ('goma-01-b000003', 3, 1, 'delivered', NULL, NULL, NULL);",
    )
    .unwrap();
    let states = || -> Vec<String> {
        conn.prepare("SELECT state FROM batches ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let requeue = |args: &[&str]| {
        let out = gateway()
            .arg("requeue")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    for args in [&[][..], &["--all", "--dry-run"][..]] {
        let (code, out) = requeue(args);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("would requeue goma-01-b000001"), "{out}");
        assert!(out.contains("would requeue goma-01-b000002"), "{out}");
        assert!(out.contains("nothing changed"), "{out}");
        assert_eq!(states(), ["quarantined", "quarantined", "delivered"]);
    }
    let (code, out) = requeue(&["--batch", "goma-01-b000003"]);
    assert_eq!(code, Some(64), "a delivered batch is not requeued: {out}");
    let (code, out) = requeue(&["--batch", "goma-01-b000002"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("requeued goma-01-b000002"), "{out}");
    assert_eq!(states(), ["quarantined", "pending", "delivered"]);
    let (code, out) = requeue(&["--all"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(states(), ["pending", "pending", "delivered"]);
}
