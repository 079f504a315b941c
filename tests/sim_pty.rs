//! The simulated modem seen from the outside: raw bytes over its pty, as gammu-smsd or smstools
//! would send them.

use std::time::Duration;

use kufatilia_gateway::port;
use modem_sim::{SimConfig, SimModem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);

/// Sends `line` and reads until the answer ends with one of `ends`.
async fn exchange(port: &mut port::Line, line: &[u8], ends: &[&str]) -> String {
    port.write_all(line).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if ends.iter().any(|e| text.ends_with(e)) {
            return text;
        }
        let n = tokio::time::timeout_at(deadline, port.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no end of answer to {:?}; got {text:?}",
                    String::from_utf8_lossy(line)
                )
            })
            .unwrap();
        assert!(n > 0, "line closed");
        got.extend_from_slice(&buf[..n]);
    }
}

const DONE: &[&str] = &["OK\r\n", "ERROR\r\n"];

#[tokio::test]
async fn answers_what_gammu_and_smstools_send() {
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let mut port = port::open(&sim.device_path(), 115200).unwrap();
    // Echo is on until ATE0.
    assert_eq!(exchange(&mut port, b"AT\r", DONE).await, "AT\r\r\nOK\r\n");
    assert_eq!(
        exchange(&mut port, b"ATE0\r", DONE).await,
        "ATE0\r\r\nOK\r\n"
    );
    for cmd in [
        "AT+CSCS=?",
        "AT+CFUN=1",
        "AT+CUSD=1",
        "AT+CMMS=2",
        "AT+CPMS=\"ME\"",
        "AT+CNMI=2,1,0,2,0",
        "AT+CMGF?",
        "AT+CMEE=1",
        "ATZ",
        "AT&F",
        "ATE0V1",
        "AT+CPMS=\"SM\",\"SM\",\"SM\"",
        "AT+CGSN",
        "AT+CIMI",
        "AT+CCID",
        "AT+CSQ",
        "AT+CREG?",
        "AT+CSCA?",
        "AT+CPIN?",
        "AT+COPS?",
        "ATI",
    ] {
        let answer = exchange(&mut port, format!("{cmd}\r").as_bytes(), DONE).await;
        assert!(answer.ends_with("\r\nOK\r\n"), "{cmd}: {answer:?}");
    }
    let answer = exchange(&mut port, b"AT+XYZZY\r", DONE).await;
    assert!(answer.ends_with("\r\nERROR\r\n"), "{answer:?}");
    let answer = exchange(&mut port, b"AT+CMGR=1\r", &["\r\n"]).await;
    assert_eq!(answer, "\r\n+CMS ERROR: 321\r\n");

    // The prompt has no line end; ESC gives the message up.
    assert_eq!(
        exchange(&mut port, b"AT+CMGS=10\r", &["> "]).await,
        "\r\n> "
    );
    assert_eq!(exchange(&mut port, b"\x1b", DONE).await, "\r\nOK\r\n");

    let log = sim.command_log_timed();
    assert_eq!(log.first().map(|c| c.line.as_str()), Some("AT"));
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(sim.command_log().iter().any(|l| l == "<ESC>"));
}

#[tokio::test]
async fn replug_keeps_the_link_path_and_the_sim() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-modem-if00");
    let sim = SimModem::start(SimConfig {
        link: Some(link.clone()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(sim.device_path(), link);
    assert!(std::fs::read_link(&link).is_ok());
    sim.inject_pdu("07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07");
    let mut port = port::open(&link, 9600).unwrap();

    sim.unplug().await;
    assert!(!sim.is_plugged());
    assert!(std::fs::symlink_metadata(&link).is_err());
    // The open port sees the end of the line, not a hang.
    let mut buf = [0u8; 16];
    let end = tokio::time::timeout(WAIT, port.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(end, Ok(0) | Err(_)), "{end:?}");
    drop(port);
    assert!(matches!(
        port::open(&link, 9600),
        Err(port::PortError::NotFound { .. })
    ));

    sim.replug().await.unwrap();
    assert!(std::fs::read_link(&link).is_ok());
    let mut port = port::open(&link, 9600).unwrap();
    exchange(&mut port, b"ATE0\r", DONE).await;
    assert_eq!(sim.sim_used(), 1);
    let list = exchange(&mut port, b"AT+CMGL=4\r", DONE).await;
    assert!(list.contains("+CMGL: 1,0,,"), "{list:?}");
}

#[tokio::test]
async fn the_port_is_opened_at_a_known_speed_only() {
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    assert!(matches!(
        port::open(&sim.device_path(), 12345),
        Err(port::PortError::BadBaud(12345))
    ));
    for baud in port::BAUD_RATES {
        drop(port::open(&sim.device_path(), *baud).unwrap());
    }
}

#[tokio::test]
async fn a_reset_drops_the_device_and_a_new_one_appears_at_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-modem-if00");
    let sim = SimModem::start(SimConfig {
        link: Some(link.clone()),
        reset_gone_for: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut port = port::open(&link, 115200).unwrap();
    exchange(&mut port, b"ATE0\r", DONE).await;
    let ok = exchange(&mut port, b"AT+CFUN=1,1\r", DONE).await;
    assert!(ok.ends_with("OK\r\n"), "{ok:?}");
    // The old device goes away: its line ends.
    let mut buf = [0u8; 64];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, port.read(&mut buf))
            .await
            .expect("the line never ended after the reset")
        {
            Ok(0) | Err(_) => break,
            Ok(_) => continue, // boot lines, if any
        }
    }
    drop(port);
    // Gone from the bus for a while (the path disappears), then back at the same path.
    let deadline = tokio::time::Instant::now() + WAIT;
    while std::fs::symlink_metadata(&link).is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "never went away");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = loop {
        if let Ok(p) = std::fs::read_link(&link)
            && sim.is_plugged()
        {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline, "never came back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(after.exists(), "a new device after re-enumeration");
    assert_eq!(sim.resets(), 1);
    let mut port = port::open(&link, 115200).unwrap();
    // A fresh start: echo is on again.
    let answer = exchange(&mut port, b"AT\r", DONE).await;
    assert!(answer.contains("AT\r"), "{answer:?}");
}

#[tokio::test]
async fn status_reports_follow_the_cnmi_ds_setting() {
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let mut port = port::open(&sim.device_path(), 115200).unwrap();
    exchange(&mut port, b"ATE0\r", DONE).await;
    const REPORT: &str = "0006D60B911326880736F4111011719551401110117195714000";
    // ds=1: straight to the line.
    exchange(&mut port, b"AT+CNMI=2,1,0,1,0\r", DONE).await;
    sim.inject_status_report(REPORT);
    let pushed = exchange(&mut port, b"", &[&format!("{REPORT}\r\n")]).await;
    assert!(pushed.contains("+CDS: 25\r\n"), "{pushed:?}");
    assert_eq!(sim.sim_used(), 0);
    // ds=2: stored and announced.
    exchange(&mut port, b"AT+CNMI=2,1,0,2,0\r", DONE).await;
    sim.inject_status_report(REPORT);
    let announced = exchange(&mut port, b"", &["+CDSI: \"SM\",1\r\n"]).await;
    assert!(announced.contains("+CDSI"), "{announced:?}");
    assert_eq!(sim.sim_used(), 1);
}

#[tokio::test]
async fn a_program_started_beside_the_simulator_does_not_hold_its_pty() {
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    // What a child process holds open, by target (the gateway binary in the daemon tests).
    let out = std::process::Command::new("sh")
        .args(["-c", "for f in /proc/$$/fd/*; do readlink \"$f\"; done"])
        .output()
        .expect("sh lists its descriptors");
    let held = String::from_utf8_lossy(&out.stdout);
    let slave = sim.device_path();
    assert!(
        held.lines()
            .all(|l| l != "/dev/ptmx" && std::path::Path::new(l) != slave),
        "a child inherited the simulator's pty (an unplug would not hang it up): {held}"
    );
}
