//! `kufatilia-gateway doctor` as a technician runs it: the real binary against simulated modems on
//! real ptys and an HTTP server on 127.0.0.1.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use crate::common::daemon::{SECRET, TOKEN};
use config::secrets;
use platform_stub::{PlatformStub, StubConfig};

use kufatilia_gateway::port;
use modem_sim::{SimConfig, SimModem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server that answers every request with `status_line` (e.g. "403 Forbidden"), as a proxy
/// or a web server in front of the platform might.
async fn http_server(status_line: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = s.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status_line}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

/// The reference platform on 127.0.0.1, checking the token and the signature.
async fn platform(dir: &Path) -> PlatformStub {
    PlatformStub::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        StubConfig::single(dir.join("platform.db"), TOKEN, Some(SECRET.as_bytes())),
    )
    .await
    .unwrap()
}

/// The `[platform]` table for `url`, with the token and secret files written beside it.
fn platform_section(dir: &Path, url: &str, token: &str, secret: &str) -> String {
    secrets::write_secret(&dir.join("token"), token.as_bytes()).unwrap();
    secrets::write_secret(&dir.join("secret"), secret.as_bytes()).unwrap();
    format!("[platform]\nurl = {url:?}\ntoken_file = \"token\"\nhmac_secret_file = \"secret\"\n")
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn modem_section(name: &str, device: &Path, extra: &str) -> String {
    format!(
        "[[modem]]\nname = \"{name}\"\ndevice = \"{}\"\n{extra}\n",
        device.display()
    )
}

async fn doctor(dir: &Path, modems: &str, platform_port: u16) -> (i32, String) {
    doctor_args(dir, modems, platform_port, &[]).await
}

/// `doctor` with more arguments, against the platform on this port.
async fn doctor_args(
    dir: &Path,
    modems: &str,
    platform_port: u16,
    extra: &[&str],
) -> (i32, String) {
    let platform = platform_section(
        dir,
        &format!("http://127.0.0.1:{platform_port}/"),
        TOKEN,
        SECRET,
    );
    doctor_with(dir, modems, &platform, extra).await
}

async fn doctor_with(dir: &Path, modems: &str, platform: &str, extra: &[&str]) -> (i32, String) {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    std::fs::write(
        dir.join("keywords.toml"),
        include_str!("../config/keywords.toml"),
    )
    .unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!("gateway_id = \"test-01\"\ndatabase = \"gateway.db\"\n{modems}\n{platform}"),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
            .args(["doctor", "--config"])
            .arg(&config)
            .args(&extra)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_modem_and_platform_give_one_good_screen_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    sim.inject("+243812345678", "AJALI");
    let stub = platform(dir.path()).await;
    let port = stub.addr().port();
    let modems = modem_section(
        "vodacom",
        &sim.device_path(),
        "operator = \"Vodacom\"\nbalance_ussd = \"*100#\"\nlow_balance_below = 500",
    );
    let (code, out) = doctor(dir.path(), &modems, port).await;
    assert_eq!(code, 0, "{out}");
    for expected in [
        "== modem vodacom",
        "device     found",
        "Kufatilia SIMULATED-MODEM",
        "IMEI 356938035643809",
        "SIM        ready",
        "IMSI 630010123456789",
        "registered (home network)",
        "Vodacom CD",
        "-73 dBm (good)",
        "SIM 1/10 messages",
        "Solde: 1250.00 FC",
        "takes this gateway's signed requests",
        "all good",
    ] {
        assert!(out.contains(expected), "{expected:?} missing in:\n{out}");
    }
    // The doctor reads, never takes: the message is still on the SIM for the gateway.
    assert_eq!(sim.sim_used(), 1);
    // It sent the platform a real, signed heartbeat.
    assert_eq!(stub.heartbeats().len(), 1);
    assert_eq!(stub.heartbeats()[0].gateway_id, "test-01");
    stub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_busy_locked_and_offline_each_say_their_fix_and_exit_69() {
    let dir = tempfile::tempdir().unwrap();
    let busy = SimModem::start(SimConfig::default()).await.unwrap();
    // The running gateway holds this one.
    let _held = port::open(&busy.device_path(), 115200).unwrap();
    let pin = SimModem::start(SimConfig {
        pin: Some("1234".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let low = SimModem::start(SimConfig {
        rssi: 3,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let modems = [
        modem_section("gone", &dir.path().join("usb-Nothing-if00"), ""),
        modem_section("held", &busy.device_path(), ""),
        modem_section("locked", &pin.device_path(), ""),
        modem_section(
            "poor",
            &low.device_path(),
            "balance_ussd = \"*100#\"\nlow_balance_below = 5000",
        ),
    ]
    .concat();
    let (code, out) = doctor(dir.path(), &modems, closed_port()).await;
    assert_eq!(code, 69, "{out}");
    for expected in [
        "NOT found",
        "/dev/serial/by-id",
        "plug the modem in",
        "busy",
        "systemctl stop kufatilia-gateway",
        "asks for its PIN, and no `pin_file` is configured",
        "(weak)",
        "raise the antenna",
        "LOW (below 5000)",
        "top up",
        "NOT working",
        "connection refused",
        "problem(s) to fix",
    ] {
        assert!(out.contains(expected), "{expected:?} missing in:\n{out}");
    }
    // The PIN was never tried.
    assert!(!pin.command_log().iter().any(|l| l.starts_with("AT+CPIN=")));
    // The held port was never written to by the doctor.
    assert!(busy.command_log().is_empty(), "{:?}", busy.command_log());
}

/// The count at the end is the fixes printed above it, one "* " line each.
fn count_matches_fixes(out: &str) {
    let fixes = out
        .lines()
        .filter(|l| l.trim_start().starts_with("* "))
        .count();
    let said = out
        .lines()
        .find_map(|l| l.strip_suffix(" problem(s) to fix"))
        .map(|n| n.trim().parse::<usize>().unwrap())
        .unwrap_or(0);
    assert_eq!(said, fixes, "{out}");
}

/// No modem: a screen says so, with the fix, and the count at the end is that one problem. Two
/// modems: a screen each, a summary naming the ready one and the other, and the count right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_modem_and_two_modems_each_get_a_true_screen_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let stub = platform(dir.path()).await;
    let port = stub.addr().port();
    let (code, out) = doctor(dir.path(), "", port).await;
    assert_eq!(code, 69, "{out}");
    assert!(out.contains("== modems =="), "{out}");
    assert!(out.contains("NONE in the config"), "{out}");
    assert!(out.contains("add a [[modem]] section"), "{out}");
    assert!(out.contains("1 problem(s) to fix"), "{out}");
    count_matches_fixes(&out);

    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let modems = [
        modem_section("vodacom", &sim.device_path(), "operator = \"Vodacom\""),
        modem_section("airtel", &dir.path().join("usb-Nothing-if00"), ""),
    ]
    .concat();
    let (code, out) = doctor(dir.path(), &modems, port).await;
    assert_eq!(code, 69, "{out}");
    assert!(out.contains("== modem vodacom"), "{out}");
    assert!(out.contains("== modem airtel"), "{out}");
    assert!(!out.contains("NONE in the config"), "{out}");
    assert!(
        out.contains("1 of 2 ready: vodacom; not ready: airtel (1 to fix)"),
        "{out}"
    );
    assert!(out.contains("1 problem(s) to fix"), "{out}");
    count_matches_fixes(&out);
    let vodacom = &out[out.find("== modem vodacom").unwrap()..out.find("== modem airtel").unwrap()];
    assert!(vodacom.contains("-> all good"), "{out}");
    stub.shutdown().await;
}

/// A full disk and an SMS whose outcome was lost: the doctor names both, with what to do, and
/// exits 69; with room again and the SMS decided, its database screen is all good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_and_an_unconfirmed_sms_are_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gateway.db");
    let id = {
        let store = store::Store::open(&db).unwrap();
        let id = store
            .queue_outgoing(store::NewOutgoing {
                modem: "vodacom".into(),
                recipient: "+243812345678".into(),
                text: "Asante".into(),
                kind: store::ReplyKind::Ack,
            })
            .await
            .unwrap();
        assert!(store.claim_outgoing(id).await.unwrap());
        id
    };
    crate::fault_disk::fill_the_disk(&db, id);
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "gateway_id = \"test-01\"\ndatabase = \"gateway.db\"\n{}",
            platform_section(
                dir.path(),
                &format!("http://127.0.0.1:{}/", closed_port()),
                TOKEN,
                SECRET
            )
        ),
    )
    .unwrap();
    let run = |capped: bool| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"));
            cmd.args(["doctor", "--config"]).arg(&config);
            cmd.env_remove(store::TEST_MAX_PAGES);
            if capped {
                cmd.env(store::TEST_MAX_PAGES, "1");
            }
            let out = cmd.output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        })
    };
    let (code, text) = run(true).await.unwrap();
    assert!(text.contains("database   CANNOT be written"), "{text}");
    assert!(text.contains("df -h"), "{text}");
    assert!(text.contains("1 unconfirmed"), "{text}");
    assert!(text.contains("kufatilia-gateway unconfirmed"), "{text}");
    assert_eq!(code, 69, "{text}");

    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "DELETE FROM sent_parts WHERE part = 99; DROP TABLE test_filler;
             UPDATE outgoing SET state = 'failed' WHERE state = 'sending';",
        )
        .unwrap();
    }
    let (code, text) = run(false).await.unwrap();
    assert!(text.contains("database   writable"), "{text}");
    assert!(text.contains("none unconfirmed"), "{text}");
    let database = &text[text.find("== database").unwrap()..];
    assert!(database.contains("-> all good"), "{text}");
    // Still 69: this config has no modem, which the doctor names too.
    assert_eq!(code, 69, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_session_replays_to_the_same_screen() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let stub = platform(dir.path()).await;
    let port = stub.addr().port();
    let extra = "balance_ussd = \"*100#\"";
    let file = dir.path().join("field.transcript");
    let (code, live) = doctor_args(
        dir.path(),
        &modem_section("field", &sim.device_path(), extra),
        port,
        &["--record", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "{live}");
    assert!(live.contains("session written to"), "{live}");
    let text = std::fs::read_to_string(&file).unwrap();
    let transcript = at::transcript::Transcript::parse(&text).unwrap();
    // Both directions, in order, with the USSD answer the network gave.
    assert!(text.contains("> AT+CPIN?"), "{text}");
    assert!(text.contains("< +CPIN: READY"), "{text}");
    assert!(
        text.contains("< +CUSD: 0,\"Solde: 1250.00 FC\",15"),
        "{text}"
    );
    drop(sim);

    // The field modem is gone; its recording stands in for it.
    let replayed = SimModem::start(SimConfig::replaying(transcript))
        .await
        .unwrap();
    let (code, again) = doctor(
        dir.path(),
        &modem_section("field", &replayed.device_path(), extra),
        port,
    )
    .await;
    assert_eq!(code, 0, "{again}");
    let screen = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.contains("==") && !l.contains("record "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(screen(&again), screen(&live), "{live}\n----\n{again}");
}

/// Each way the platform can refuse or fail the doctor's signed heartbeat is named, with its
/// fix: a wrong token, a wrong secret, a 403, a wrong URL (404), nothing listening, no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_platform_failure_is_explained_with_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    let stub = platform(dir.path()).await;
    let url = stub.url();
    let forbidden = http_server("403 Forbidden").await;
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let cases: Vec<(&str, String, &str, &str, [&str; 2])> = vec![
        (
            "wrong token",
            url.clone(),
            "not-the-token",
            SECRET,
            ["refuses the bearer token", "`platform.token_file`"],
        ),
        (
            "wrong secret",
            url.clone(),
            TOKEN,
            "not-the-secret",
            [
                "refuses the request signature",
                "`platform.hmac_secret_file`",
            ],
        ),
        (
            "403",
            format!("http://127.0.0.1:{forbidden}/"),
            TOKEN,
            SECRET,
            ["refuses this gateway (HTTP 403)", "enable this gateway id"],
        ),
        (
            "wrong url",
            format!("{url}/api/nothing-here"),
            TOKEN,
            SECRET,
            [
                "no gateway API at the platform url (HTTP 404)",
                "check `platform.url`",
            ],
        ),
        (
            "dead port",
            format!("http://127.0.0.1:{}/", closed_port()),
            TOKEN,
            SECRET,
            ["connection refused", "host and port in `platform.url`"],
        ),
        (
            "no answer",
            format!("http://127.0.0.1:{silent_port}/"),
            TOKEN,
            SECRET,
            ["does not answer in time", "check the internet link"],
        ),
    ];
    for (what, url, token, secret, expected) in cases {
        let platform = format!(
            "{}timeout = \"2s\"\n",
            platform_section(dir.path(), &url, token, secret)
        );
        let (code, out) = doctor_with(dir.path(), "", &platform, &[]).await;
        assert_eq!(code, 69, "{what}: {out}");
        let screen = &out[out.find("== platform ==").unwrap()..];
        assert!(screen.contains("platform   NOT working"), "{what}: {out}");
        for e in expected {
            assert!(screen.contains(e), "{what}: {e:?} missing in:\n{out}");
        }
    }
    assert!(stub.heartbeats().is_empty(), "no refused heartbeat got in");
    stub.shutdown().await;
    drop(silent);
}
