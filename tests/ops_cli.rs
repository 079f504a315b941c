//! `status`, `send` and `export` run as separate processes against a running gateway (the
//! daemon on the pty simulator and the reference receiver), as a technician would.

use std::process::Command;
use std::time::Duration;

use crate::common::daemon::{Gateway, Options};

fn gateway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_send_and_export_work_beside_the_daemon() {
    let r = Gateway::start(Options {
        gateway_id: "ops".into(),
        reference_prefix: None,
        signed: false,
        platform: "flush_after = \"100ms\"".into(),
        ..Options::default()
    })
    .await;
    let config_path = r.config_path.clone();
    r.sim.inject("+243812345601", "AJALI mgodi wa Kalimbi");
    r.sim.inject("+243823456702", "Barrière à Nyabibwe");
    crate::common::wait_until(Duration::from_secs(60), "reports delivered", || {
        r.stub().incidents().len() >= 2
    })
    .await;

    let status = gateway()
        .args(["status", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{text}");
    assert!(text.contains("Quarantined batches: none"), "{text}");
    assert!(text.contains("K-0001"), "{text}");

    let csv = gateway()
        .args([
            "export",
            "--since",
            "2020-01-01",
            "--format",
            "csv",
            "--config",
        ])
        .arg(&config_path)
        .output()
        .unwrap();
    let csv_text = String::from_utf8_lossy(&csv.stdout);
    assert_eq!(csv.status.code(), Some(0));
    assert!(
        csv_text.starts_with("reference,incident_type,"),
        "{csv_text}"
    );
    assert_eq!(csv_text.lines().count(), 3, "{csv_text}");
    assert!(
        !csv_text.contains("+243"),
        "reporters are pseudonyms: {csv_text}"
    );

    let json = gateway()
        .args([
            "export",
            "--since",
            "2020-01-01",
            "--format",
            "json",
            "--config",
        ])
        .arg(&config_path)
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[1]["incident_type"], "illegal_tax");

    let sent_before = r.sim.sent().len();
    let send = tokio::task::spawn_blocking({
        let config_path = config_path.clone();
        move || {
            gateway()
                .args([
                    "send",
                    "--modem",
                    "vodacom",
                    "+243990000777",
                    "Test Kufatilia",
                    "--wait",
                    "60",
                    "--config",
                ])
                .arg(&config_path)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(
        send.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    let sent = r.sim.sent();
    assert_eq!(sent.len(), sent_before + 1);
    assert_eq!(sent.last().unwrap().to, "+243990000777");
    assert_eq!(sent.last().unwrap().text, "Test Kufatilia");

    let wrong = gateway()
        .args(["send", "--modem", "nope", "+243990000777", "x", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(64));
    r.stop().await;
}
