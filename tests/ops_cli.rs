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
    let database = r.config_path.parent().unwrap().join("gateway.db");
    let mut r = r;
    r.stop_daemon().await;

    // The gateway stopped: `send` says so and how to start it, queues nothing, exits 69.
    let queued = || {
        store::StoreReader::open(&database)
            .unwrap()
            .queue_depths()
            .unwrap()
            .queued_sms
    };
    let queued_before = queued();
    let stopped = gateway()
        .args([
            "send",
            "--modem",
            "vodacom",
            "+243990000777",
            "x",
            "--config",
        ])
        .arg(&config_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(69), "{stderr}");
    assert!(stderr.contains("the gateway is not running"), "{stderr}");
    assert!(stderr.contains("nothing was queued"), "{stderr}");
    assert!(
        stderr.contains("systemctl start kufatilia-gateway"),
        "{stderr}"
    );
    assert_eq!(queued(), queued_before);
    r.stop().await;
}

/// An SMS claimed for the modem whose outcome was lost (the gateway died between the claim and
/// the modem's answer) is listed by `unconfirmed` and `status`, never sent by the running
/// gateway on its own, and sent once when the technician says `--resend`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_sms_waits_for_the_technician_and_is_sent_once_on_resend() {
    const TO: &str = "+243899000123";
    let r = Gateway::start(Options {
        gateway_id: "ops-unconfirmed".into(),
        reference_prefix: None,
        signed: false,
        modem: "sweep_interval = \"300ms\"\nsend_gap = \"10ms\"".into(),
        ..Options::default()
    })
    .await;
    let config_path = r.config_path.clone();
    let sent_to = |sim: &modem_sim::SimModem| sim.sent().iter().filter(|s| s.to == TO).count();
    // The claim of a send that never finished, as a crash leaves it. Written in one statement:
    // queued first, the running gateway could take and send it before the claim.
    let id = {
        let conn = rusqlite::Connection::open(r.db_path()).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        conn.execute(
            "INSERT INTO outgoing (modem, recipient, text, kind, state, next_attempt_ms,
                                   created_at_ms, claimed_at_ms)
             VALUES ('vodacom', ?1, 'Ujumbe wa jukwaa', 'platform', 'sending', ?2, ?2, ?2)",
            rusqlite::params![TO, now],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    // Several send rounds of the running gateway: it does not send the unconfirmed SMS.
    let from = r.sim.command_log().len();
    crate::common::wait_until(Duration::from_secs(60), "a few send rounds", || {
        r.sim.command_log()[from.min(r.sim.command_log().len())..]
            .iter()
            .filter(|l| l.to_ascii_uppercase().contains("+CMGL"))
            .count()
            >= 4
    })
    .await;
    assert_eq!(
        sent_to(&r.sim),
        0,
        "an unconfirmed SMS is never sent on its own"
    );

    let list = gateway()
        .args(["unconfirmed", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(list.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("#{id} platform")), "{text}");
    assert!(!text.contains(TO), "the number is masked: {text}");
    let status = gateway()
        .args(["status", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status_text.contains("1 SMS unconfirmed"), "{status_text}");

    let resend = gateway()
        .args(["unconfirmed", "--resend", &id.to_string(), "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert_eq!(
        resend.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resend.stderr)
    );
    crate::common::wait_until(Duration::from_secs(60), "the resent SMS", || {
        sent_to(&r.sim) >= 1
    })
    .await;
    // Deciding again is refused: the SMS is no longer unconfirmed.
    let again = gateway()
        .args(["unconfirmed", "--sent", &id.to_string(), "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(64));
    let from = r.sim.command_log().len();
    crate::common::wait_until(Duration::from_secs(60), "a few more send rounds", || {
        r.sim.command_log()[from.min(r.sim.command_log().len())..]
            .iter()
            .filter(|l| l.to_ascii_uppercase().contains("+CMGL"))
            .count()
            >= 2
    })
    .await;
    assert_eq!(sent_to(&r.sim), 1, "sent once, on the technician's word");
    r.stop().await;
}
