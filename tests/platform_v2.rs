//! Platform contract v2 against real servers on 127.0.0.1: a captured request cannot be played
//! again (same endpoint, another endpoint, another gateway), secrets rotate without downtime,
//! one batch the platform refuses for ever does not hold back the others, batches keep to their
//! byte limit, and a platform trickling its answer does not hold the forwarder.

use std::net::SocketAddr;
use std::time::Duration;

use kufatilia_gateway::{PlatformClient, PlatformClientConfig, PostError};
use platform_api::sign;
use platform_api::{
    Batch, DecodeStatus, ErrorBody, IncidentRecord, OutboundPullRequest, SCHEMA_VERSION, rfc3339,
};
use platform_stub::{GatewayAccess, PlatformStub, StubConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::daemon::{Gateway, Options, Rig};
use crate::common::wire::{HttpRequest, recording_proxy};

const GOMA: &str = "goma-01";
const GOMA_TOKEN: &str = "goma-token-41d2";
const GOMA_SECRET: &[u8] = b"goma signing secret";
const BUKAVU: &str = "bukavu-02";
const BUKAVU_TOKEN: &str = "bukavu-token-93aa";
const BUKAVU_SECRET: &[u8] = b"bukavu signing secret";
const BOUND: Duration = Duration::from_secs(120);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn access(id: &str, token: &str, keys: &[(&str, &[u8])]) -> GatewayAccess {
    GatewayAccess {
        gateway_id: Some(id.to_string()),
        token: token.to_string(),
        keys: keys
            .iter()
            .map(|(k, s)| (k.to_string(), s.to_vec()))
            .collect(),
    }
}

/// The reference platform serving goma-01 and bukavu-02, each with its own token and secret.
async fn two_gateway_stub(dir: &tempfile::TempDir) -> PlatformStub {
    PlatformStub::start(
        loopback(),
        StubConfig {
            db: dir.path().join("platform.sqlite"),
            gateways: vec![
                access(GOMA, GOMA_TOKEN, &[("k1", GOMA_SECRET)]),
                access(BUKAVU, BUKAVU_TOKEN, &[("k1", BUKAVU_SECRET)]),
            ],
            admin_token: None,
            accept_v1: false,
        },
    )
    .await
    .expect("stub starts")
}

fn client(url: &str, gateway: &str, token: &str, key_id: &str, secret: &[u8]) -> PlatformClient {
    PlatformClient::new(&PlatformClientConfig {
        url: url.to_string(),
        token: token.to_string(),
        hmac_secret: Some(secret.to_vec()),
        gateway_id: gateway.to_string(),
        key_id: key_id.to_string(),
        timeout: Duration::from_secs(30),
        low_speed_time: Duration::from_secs(10),
        extra_ca_file: None,
    })
    .expect("client builds")
}

fn batch(gateway: &str, id: &str, n: u32) -> Batch {
    Batch {
        schema_version: SCHEMA_VERSION,
        gateway_id: gateway.to_string(),
        batch_id: id.to_string(),
        created_at: rfc3339(time::OffsetDateTime::now_utc()),
        incidents: vec![IncidentRecord {
            id: format!("{gateway}-{n}"),
            reference: format!("K7-{n:04}"),
            incident_type: "accident".to_string(),
            language: Some("sw".to_string()),
            description: "shimo limeanguka".to_string(),
            location: Some("Rubaya".to_string()),
            survey_answers: Default::default(),
            reporter: "r-6a1690845a23495b".to_string(),
            received_at_smsc: None,
            received_at_gateway: "2025-03-14T07:26:55Z".to_string(),
            modem: "modem0".to_string(),
            operator: None,
            raw_text: "AJALI shimo limeanguka".to_string(),
            parts: 1,
            decode_status: DecodeStatus::Ok,
            raw_pdus: vec!["07913358000000F0040B913348214365F700005230419062958008C13A".into()],
            flood: false,
            escalations: Vec::new(),
        }],
    }
}

/// Sends `captured` again to `url` + `path`, with its headers (some replaced) and its body.
async fn replay(
    url: &str,
    path: &str,
    captured: &HttpRequest,
    replace: &[(&str, &str)],
) -> (u16, String) {
    let mut request = crate::common::http_client().post(format!("{url}{path}"));
    for (name, value) in &captured.headers {
        if matches!(name.as_str(), "host" | "content-length") {
            continue;
        }
        let value = replace
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(value.as_str(), |(_, v)| v);
        request = request.header(name.as_str(), value);
    }
    let response = request.body(captured.body.clone()).send().await.unwrap();
    let status = response.status().as_u16();
    let code = response
        .json::<ErrorBody>()
        .await
        .map(|e| e.code.as_str().to_string())
        .unwrap_or_default();
    (status, code)
}

/// The proof: a request captured on the wire is refused when played again to the same
/// endpoint, to another endpoint, and by another gateway (with its own token, in goma-01's name
/// or in its own).
#[tokio::test]
async fn a_captured_request_replayed_anywhere_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stub = two_gateway_stub(&dir).await;
    let (proxy, wire) = recording_proxy(stub.addr()).await;
    let goma = client(&proxy, GOMA, GOMA_TOKEN, "k1", GOMA_SECRET);
    goma.post_batch(&batch(GOMA, "goma-01-b000001", 1))
        .await
        .expect("the original request is accepted");
    let captured = wire
        .http_requests()
        .into_iter()
        .find(|r| r.path == "/v1/batches")
        .expect("the batch request crossed the proxy");
    assert!(sign::is_v2(captured.header(sign::SIGNATURE_HEADER)));
    let url = stub.url();

    // 1. The same bytes to the same endpoint: the nonce was used.
    assert_eq!(
        replay(&url, "/v1/batches", &captured, &[]).await,
        (401, "replayed_nonce".into())
    );
    // 2. To another endpoint: the path is signed.
    for other in ["/v1/heartbeat", "/v1/outbound/pull", "/v1/outbound/status"] {
        assert_eq!(
            replay(&url, other, &captured, &[]).await,
            (401, "bad_signature".into()),
            "{other}"
        );
    }
    // 3. By another gateway with its own token, still in goma-01's name: the token is not
    //    goma-01's.
    let bukavu_bearer = sign::bearer(BUKAVU_TOKEN);
    assert_eq!(
        replay(
            &url,
            "/v1/batches",
            &captured,
            &[("authorization", &bukavu_bearer)]
        )
        .await,
        (403, "gateway_mismatch".into())
    );
    // ...and relabelled as its own request: goma-01's signature is not bukavu-02's.
    assert_eq!(
        replay(
            &url,
            "/v1/batches",
            &captured,
            &[
                ("authorization", &bukavu_bearer),
                (sign::GATEWAY_HEADER, BUKAVU)
            ]
        )
        .await,
        (401, "bad_signature".into())
    );
    // A gateway signing its own request but posting goma-01's reports is refused too.
    let bukavu = client(&url, BUKAVU, BUKAVU_TOKEN, "k1", BUKAVU_SECRET);
    let err = bukavu
        .post_batch(&batch(GOMA, "goma-01-b000002", 2))
        .await
        .expect_err("posting as another gateway");
    assert!(
        matches!(&err, PostError::Rejected { status: 403, body } if body.contains("gateway_mismatch")),
        "{err:?}"
    );
    assert_eq!(stub.batches_received(), 1, "only the original got in");
    assert_eq!(stub.incidents().len(), 1);
    stub.shutdown().await;
}

/// A platform rotating goma-01's secret holds the old (k1) and the new (k2) one: gateways on
/// either are accepted, a wrong pairing or an unknown key id is not; v1 only when asked for.
#[tokio::test]
async fn secrets_rotate_by_key_id_and_v1_needs_an_explicit_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = StubConfig {
        db: dir.path().join("platform.sqlite"),
        gateways: vec![access(
            GOMA,
            GOMA_TOKEN,
            &[("k1", GOMA_SECRET), ("k2", b"the new secret")],
        )],
        admin_token: None,
        accept_v1: false,
    };
    let stub = PlatformStub::start(loopback(), cfg.clone()).await.unwrap();
    let url = stub.url();
    let old = client(&url, GOMA, GOMA_TOKEN, "k1", GOMA_SECRET);
    let new = client(&url, GOMA, GOMA_TOKEN, "k2", b"the new secret");
    old.post_batch(&batch(GOMA, "goma-01-b000001", 1))
        .await
        .expect("old key");
    new.post_batch(&batch(GOMA, "goma-01-b000002", 2))
        .await
        .expect("new key");
    for (key_id, secret, code) in [
        ("k2", GOMA_SECRET, "bad_signature"),
        ("k3", GOMA_SECRET, "unknown_key"),
    ] {
        let err = client(&url, GOMA, GOMA_TOKEN, key_id, secret)
            .post_batch(&batch(GOMA, "goma-01-b000003", 3))
            .await
            .expect_err(key_id);
        assert!(
            matches!(&err, PostError::Rejected { status: 401, body } if body.contains(code)),
            "{key_id}: {err:?}"
        );
    }

    // A v1-signed request (timestamp and body only): refused unless the receiver accepts v1.
    let v1_post = |url: String| async move {
        let body = serde_json::to_vec(&OutboundPullRequest {
            gateway_id: GOMA.into(),
            limit: 5,
        })
        .unwrap();
        let ts = sign::unix_now();
        crate::common::http_client()
            .post(format!("{url}/v1/outbound/pull"))
            .header("authorization", sign::bearer(GOMA_TOKEN))
            .header(sign::TIMESTAMP_HEADER, ts.to_string())
            .header(
                sign::SIGNATURE_HEADER,
                sign::signature(GOMA_SECRET, ts, &body),
            )
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(v1_post(url.clone()).await, 401);
    stub.shutdown().await;
    cfg.accept_v1 = true;
    let stub = PlatformStub::start(loopback(), cfg).await.unwrap();
    assert_eq!(v1_post(stub.url()).await, 200);
    stub.shutdown().await;
}

/// The proof: the platform answers 500 for ever to any batch holding one report (its
/// text has a word its database chokes on). Every other report is still delivered — those cut
/// into the same batch too — and the one report ends alone in quarantine, with its reason,
/// shown by `status`. A NUL in a text is replaced before it leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_for_ever_does_not_hold_back_the_other_reports() {
    let r = Gateway::start(Options {
        platform: "flush_after = \"300ms\"\nbatch_max = 4\nretry_max = \"300ms\"\n\
                   quarantine_after = 2\nheartbeat_interval = \"1h\""
            .into(),
        extra: "[replies]\nenabled = false".into(),
        ..Options::slots(30)
    })
    .await;
    r.stub().refuse_batches_containing(Some((500, "SUMU")));
    let mut texts = Vec::new();
    for i in 0..12 {
        let text = match i {
            2 => format!("AJALI SUMU mgodini {i}"),
            5 => format!("AJALI shimo\u{0}limeanguka {i}"),
            _ => format!("AJALI mgodi namba {i}"),
        };
        r.sim.inject(&format!("+24381{i:07}"), &text);
        texts.push(text);
    }
    crate::common::wait_until(BOUND, "the 11 other reports on the platform", || {
        r.stub().incidents().len() >= 11
    })
    .await;
    crate::common::wait_until(BOUND, "the refused report quarantined", || {
        r.depths().quarantined_batches == 1
    })
    .await;
    let delivered = r.stub().incidents();
    assert_eq!(delivered.len(), 11);
    assert!(delivered.iter().all(|i| !i.raw_text.contains("SUMU")));
    let nul = delivered
        .iter()
        .find(|i| i.raw_text.contains("limeanguka 5"))
        .expect("the report with a NUL arrived");
    assert!(
        !nul.raw_text.contains('\0') && nul.raw_text.contains('\u{FFFD}'),
        "{:?}",
        nul.raw_text
    );
    let q = r.daemon().store.quarantined_batches(10).await.unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].status, 500);
    assert!(
        q[0].error.contains("accepted other batches"),
        "{}",
        q[0].error
    );
    let db = rusqlite::Connection::open(r.db_path()).unwrap();
    let alone: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM incidents WHERE batch_id = ?1",
            [&q[0].id],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(alone, 1, "only the refused report is held back");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .args(["status", "--config"])
        .arg(&r.config_path)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains(&q[0].id) && status.contains("accepted other batches"),
        "{status}"
    );
    r.stop().await;
}

/// With `batch_max_bytes` at its least (16 KiB), long reports go in several batches, each body
/// within the limit as it crossed the wire, and all arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_keep_to_their_byte_limit() {
    let rig = Rig::start(Options {
        platform: "flush_after = \"1s\"\nbatch_max = 100\nbatch_max_bytes = 16384\n\
                   retry_max = \"300ms\"\nheartbeat_interval = \"1h\""
            .into(),
        extra: "[replies]\nenabled = false".into(),
        ..Options::slots(60)
    })
    .await;
    let (proxy, wire) = recording_proxy(rig.addr).await;
    rig.send_platform_requests_to(&proxy);
    let r = Gateway::on(rig).await;
    let long = "shimo limeanguka na watu wengi wamekwama ndani ".repeat(12);
    for i in 0..10 {
        r.sim
            .inject(&format!("+24382{i:07}"), &format!("AJALI {i} {long}"));
    }
    crate::common::wait_until(BOUND, "the 10 long reports on the platform", || {
        r.stub().incidents().len() >= 10
    })
    .await;
    let batches: Vec<HttpRequest> = wire
        .http_requests()
        .into_iter()
        .filter(|q| q.path == "/v1/batches")
        .collect();
    assert!(batches.len() >= 2, "{} batch requests", batches.len());
    for b in &batches {
        assert!(b.body.len() <= 16384, "a batch of {} bytes", b.body.len());
    }
    r.stop().await;
}

/// A platform that answers one byte at a time: the request ends as a retry naming the cause,
/// long before the whole-request timeout (an hour here), and the client is free again.
#[tokio::test]
async fn a_platform_trickling_its_answer_is_dropped() {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    if socket.write_all(b" ").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
    });
    let client = PlatformClient::new(&PlatformClientConfig {
        url,
        token: GOMA_TOKEN.into(),
        hmac_secret: Some(GOMA_SECRET.to_vec()),
        gateway_id: GOMA.into(),
        key_id: "k1".into(),
        timeout: Duration::from_secs(3600),
        low_speed_time: Duration::from_secs(1),
        extra_ca_file: None,
    })
    .unwrap();
    let err = client
        .post_batch(&batch(GOMA, "goma-01-b000001", 1))
        .await
        .expect_err("a trickle is not an answer");
    assert!(
        matches!(&err, PostError::Retry { reason, .. } if reason.contains("too slowly")),
        "{err:?}"
    );
    server.abort();
}

/// The stub's command refuses what would make it a poor reference: listening beyond loopback
/// without `--allow-remote`, and secret files others can read or that belong to another user.
#[test]
fn the_stub_command_refuses_open_secrets_and_remote_listening_without_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    config::secrets::write_secret(&token, GOMA_TOKEN.as_bytes()).unwrap();
    let stub = |listen: &str, token: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
            .args(["platform-stub", "--listen", listen, "--db"])
            .arg(dir.path().join("p.db"))
            .arg("--token-file")
            .arg(token)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = stub("0.0.0.0:0", &token);
    assert!(!ok && err.contains("--allow-remote"), "{err}");

    let open = dir.path().join("open.token");
    std::fs::write(&open, GOMA_TOKEN).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (ok, err) = stub("127.0.0.1:0", &open);
    assert!(!ok && err.contains("chmod 600"), "{err}");

    // Another user's file: only root can make one here.
    if nix::unistd::geteuid().is_root() {
        let foreign = dir.path().join("foreign.token");
        config::secrets::write_secret(&foreign, GOMA_TOKEN.as_bytes()).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), None).unwrap();
        let (ok, err) = stub("127.0.0.1:0", &foreign);
        assert!(!ok && err.contains("belongs to user id 65534"), "{err}");
    }
}
