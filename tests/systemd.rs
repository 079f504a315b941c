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
