//! The systemd integration: the unit's hardening score, and the daemon's READY/STATUS messages
//! on a real notify socket (what `Type=notify` relies on).

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::daemon::{Options, Rig};

#[test]
fn unit_exposure_is_at_most_2() {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/systemd/kufatilia-gateway.service"
        ))
        .output()
        .expect("systemd-analyze is needed for this test (Debian package `systemd`)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure line in:\n{text}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");
}

#[test]
fn unit_is_type_notify_with_watchdog_and_state_directory() {
    let unit = include_str!("../systemd/kufatilia-gateway.service");
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=always",
        "StateDirectory=kufatilia-gateway",
        "ConfigurationDirectory=kufatilia-gateway",
        "SupplementaryGroups=dialout",
    ] {
        assert!(unit.contains(line), "missing {line}");
    }
}

/// A broken config exits 78 (`run` checks as check-config does): systemd must not restart
/// it in a loop, and a unit failing for other reasons stops after a few tries in a row.
#[test]
fn a_config_error_is_not_restarted_and_failed_starts_are_limited() {
    let unit = include_str!("../systemd/kufatilia-gateway.service");
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in the unit"))
            .trim()
            .to_string()
    };
    assert!(
        value("RestartPreventExitStatus")
            .split_whitespace()
            .any(|c| c == "78"),
        "exit 78 (config error) must not be restarted"
    );
    assert!(
        !unit.contains("ExecStartPre="),
        "a failing ExecStartPre is restarted whatever its exit status"
    );
    assert!(value("StartLimitBurst").parse::<u32>().unwrap() >= 1);
    assert!(!value("StartLimitIntervalSec").is_empty());
    // The start limit belongs to [Unit]; in [Service] systemd ignores it.
    let service_at = unit.find("[Service]").unwrap();
    assert!(unit.find("StartLimitBurst=").unwrap() < service_at);
    // systemd itself reads the unit without complaint.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/systemd/kufatilia-gateway.service"
        ))
        .output()
        .expect("systemd-analyze is needed for this test (Debian package `systemd`)");
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        !errors.contains("Unknown key") && !errors.contains("Unknown section"),
        "{errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_tells_systemd_it_is_ready_and_what_it_does() {
    let r = Rig::start(Options {
        gateway_id: "sd".into(),
        signed: false,
        ..Options::default()
    })
    .await;
    let config = r.config_path.clone();
    let socket_path = r.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 4096];
    while !(seen.contains("READY=1") && seen.contains("STATUS=") && seen.contains("WATCHDOG=1"))
        && Instant::now() < deadline
    {
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            seen.push('\n');
        }
    }
    // SIGTERM, as systemd stops it.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(seen.contains("READY=1"), "{seen}");
    assert!(seen.contains("STATUS="), "{seen}");
    // What a technician reads in `systemctl status`.
    assert!(seen.contains("1 of 1 modem(s) up"), "{seen}");
    assert!(seen.contains("SMS queued"), "{seen}");
    assert!(seen.contains("no report yet"), "{seen}");
    assert!(seen.contains("WATCHDOG=1"), "{seen}");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    r.shutdown().await;
}
