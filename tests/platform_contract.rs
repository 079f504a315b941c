//! The platform contract end to end: `PlatformClient` against the reference receiver
//! (`PlatformStub`) over real HTTP on 127.0.0.1, with the stub's real SQLite file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use kufatilia_gateway::{PlatformClient, PlatformClientConfig, PlatformError, PostError};
use platform_api::sign;
use platform_api::{
    Batch, DecodeStatus, ErrorBody, Heartbeat, IncidentRecord, ModemHealth, OutboundState,
    OutboundStatus, OutboundStatusReport, QueueDepths, Recipient, SCHEMA_VERSION, rfc3339,
};
use platform_stub::{MessageState, PlatformStub, StubConfig};
use tempfile::TempDir;

const TOKEN: &str = "test-token-7f3a";
const SECRET: &[u8] = b"shared signing secret for tests";
const GATEWAY: &str = "goma-01";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start_stub(dir: &TempDir, secret: Option<&[u8]>) -> PlatformStub {
    let mut cfg = StubConfig::single(dir.path().join("platform.sqlite"), TOKEN, secret);
    cfg.admin_token = Some(ADMIN_TOKEN.to_string());
    PlatformStub::start(loopback(), cfg)
        .await
        .expect("stub starts")
}

/// The stub's admin token: no gateway's token opens the admin endpoints.
const ADMIN_TOKEN: &str = "admin-token-2b9c";

fn client_for(url: &str, token: &str, secret: Option<&[u8]>) -> PlatformClient {
    PlatformClient::new(&PlatformClientConfig {
        url: url.to_string(),
        token: token.to_string(),
        hmac_secret: secret.map(<[u8]>::to_vec),
        gateway_id: GATEWAY.to_string(),
        key_id: platform_api::sign::DEFAULT_KEY_ID.to_string(),
        timeout: Duration::from_secs(10),
        low_speed_time: Duration::from_secs(10),
        extra_ca_file: None,
    })
    .expect("client builds")
}

fn incident(n: u32) -> IncidentRecord {
    let mut survey = BTreeMap::new();
    if n.is_multiple_of(2) {
        survey.insert("injured".to_string(), "3".to_string());
    }
    IncidentRecord {
        id: format!("{GATEWAY}-{n:06}"),
        reference: format!("K7-{:04}", 4000 + n),
        incident_type: "accident".to_string(),
        language: Some("sw".to_string()),
        description: format!("shimo limeanguka, ripoti {n}"),
        location: Some("Rubaya".to_string()),
        survey_answers: survey,
        reporter: sign::pseudonym(b"gateway secret", &format!("+24381234{n:04}")),
        received_at_smsc: Some("2025-03-14T09:26:51+02:00".to_string()),
        received_at_gateway: "2025-03-14T07:26:55Z".to_string(),
        modem: "modem0".to_string(),
        operator: Some("Vodacom CD".to_string()),
        raw_text: format!("AJALI shimo limeanguka, ripoti {n}"),
        parts: 1,
        decode_status: DecodeStatus::Ok,
        raw_pdus: vec!["07913358000000F0040B913348214365F700005230419062958008C13A".to_string()],
        flood: false,
        escalations: Vec::new(),
    }
}

fn batch(id: &str, numbers: std::ops::Range<u32>) -> Batch {
    Batch {
        schema_version: SCHEMA_VERSION,
        gateway_id: GATEWAY.to_string(),
        batch_id: id.to_string(),
        created_at: rfc3339(time::OffsetDateTime::now_utc()),
        incidents: numbers.map(incident).collect(),
    }
}

fn error_code(err: &PostError) -> String {
    match err {
        PostError::Rejected { body, .. } => serde_json::from_str::<ErrorBody>(body)
            .map(|e| e.code.to_string())
            .unwrap_or_else(|_| format!("unparseable: {body}")),
        PostError::Retry { reason, .. } => format!("retry: {reason}"),
    }
}

#[tokio::test]
async fn a_signed_batch_is_accepted_and_stored() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), TOKEN, Some(SECRET));
    let sent = batch("goma-01-b-000001", 1..4);

    let ack = client.post_batch(&sent).await.expect("accepted");
    assert_eq!(ack.batch_id, sent.batch_id);
    assert_eq!((ack.accepted, ack.duplicates), (3, 0));
    assert_eq!(stub.incidents(), sent.incidents);
    assert_eq!(stub.batches_received(), 1);
    assert_eq!(stub.duplicates_seen(), 0);
    // The stub answers with its clock in the Date header; the client keeps the skew.
    assert!(client.observed_clock_skew().is_some());
    stub.shutdown().await;
}

#[tokio::test]
async fn the_same_batch_again_is_counted_as_duplicates_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), TOKEN, Some(SECRET));
    let sent = batch("goma-01-b-000001", 1..6);

    client.post_batch(&sent).await.expect("first post");
    let again = client.post_batch(&sent).await.expect("second post");
    assert_eq!((again.accepted, again.duplicates), (0, 5));

    // A later batch overlapping the first: only the new incidents are stored.
    let overlap = batch("goma-01-b-000002", 4..9);
    let ack = client.post_batch(&overlap).await.expect("overlap");
    assert_eq!((ack.accepted, ack.duplicates), (3, 2));

    let ids: Vec<String> = stub.incidents().into_iter().map(|i| i.id).collect();
    let expected: Vec<String> = (1..9).map(|n| incident(n).id).collect();
    assert_eq!(ids, expected);
    assert_eq!(stub.batches_received(), 2);
    assert_eq!(stub.duplicates_seen(), 7);
    assert_eq!(stub.conflicts_seen(), 0);
    assert_eq!(stub.batch_posts(), 3);
    stub.shutdown().await;
}

#[tokio::test]
async fn stored_incidents_survive_a_restart_and_still_deduplicate() {
    let dir = tempfile::tempdir().unwrap();
    let sent = batch("goma-01-b-000001", 1..3);
    let stub = start_stub(&dir, None).await;
    client_for(&stub.url(), TOKEN, None)
        .post_batch(&sent)
        .await
        .expect("first run");
    stub.shutdown().await;

    let stub = start_stub(&dir, None).await;
    assert_eq!(stub.incidents().len(), 2);
    let ack = client_for(&stub.url(), TOKEN, None)
        .post_batch(&sent)
        .await
        .expect("second run");
    assert_eq!((ack.accepted, ack.duplicates), (0, 2));
    stub.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_is_401_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), "not-the-token", Some(SECRET));
    let err = client
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, PostError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(error_code(&err), "bad_token");
    assert!(stub.incidents().is_empty());
    stub.shutdown().await;
}

#[tokio::test]
async fn a_wrong_signature_is_401_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), TOKEN, Some(b"some other secret"));
    let err = client
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, PostError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(error_code(&err), "bad_signature");

    // Unsigned requests are refused too when the receiver has a secret.
    let unsigned = client_for(&stub.url(), TOKEN, None);
    let err = unsigned
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, PostError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(error_code(&err), "missing_signature");
    assert!(stub.incidents().is_empty());
    stub.shutdown().await;
}

#[tokio::test]
async fn an_old_timestamp_is_401_and_rejected_until_the_clock_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), TOKEN, Some(SECRET));
    // A gateway whose clock is an hour behind (no RTC, no time sync yet).
    client.set_clock_offset(-3600);
    let err = client
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, PostError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(error_code(&err), "timestamp_out_of_window");
    // The Date header told the client how far off it is.
    let skew = client.observed_clock_skew().expect("skew seen");
    assert!(skew > 3000, "skew {skew}");
    assert!(stub.incidents().is_empty());

    client.set_clock_offset(0);
    client
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect("accepted");
    stub.shutdown().await;
}

#[tokio::test]
async fn a_replayed_request_with_a_stale_timestamp_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let body = serde_json::to_vec(&batch("b-1", 1..2)).unwrap();
    let old = (sign::unix_now() - 3600).to_string();
    let nonce = sign::new_nonce();
    let parts = sign::SignedParts {
        method: "POST",
        path: "/v1/batches",
        gateway_id: GATEWAY,
        key_id: sign::DEFAULT_KEY_ID,
        nonce: &nonce,
        timestamp: &old,
        body: &body,
    };
    let mut request = crate::common::http_client()
        .post(format!("{}/v1/batches", stub.url()))
        .header("authorization", sign::bearer(TOKEN));
    for (name, value) in sign::v2_headers(SECRET, &parts) {
        request = request.header(name, value);
    }
    let response = request.body(body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.code.as_str(), "timestamp_out_of_window");
    assert!(error.server_time.is_some());
    stub.shutdown().await;
}

#[tokio::test]
async fn injected_503s_are_retried_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), TOKEN, Some(SECRET));
    let sent = batch("b-1", 1..4);
    stub.fail_next(503, 2);
    for _ in 0..2 {
        let err = client.post_batch(&sent).await.expect_err("503");
        assert!(err.is_retry(), "{err:?}");
        assert_eq!(err.retry_after(), None);
    }
    let ack = client.post_batch(&sent).await.expect("then accepted");
    assert_eq!((ack.accepted, ack.duplicates), (3, 0));
    assert_eq!(stub.incidents().len(), 3);
    assert_eq!(stub.batch_posts(), 3);
    stub.shutdown().await;
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_that_delay() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, None).await;
    let client = client_for(&stub.url(), TOKEN, None);
    stub.fail_next_with_retry_after(429, 1, "42");
    let err = client
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect_err("429");
    assert!(err.is_retry(), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(42)));

    // The HTTP-date form: two minutes from now.
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(2);
    let http_date = later
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    stub.fail_next_with_retry_after(503, 1, &http_date);
    let err = client
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect_err("503");
    let delay = err.retry_after().expect("date parsed");
    assert!(
        delay <= Duration::from_secs(120) && delay >= Duration::from_secs(60),
        "{delay:?}"
    );

    // A backoff honours it as a floor.
    let mut backoff =
        kufatilia_gateway::Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
    assert!(backoff.next_delay(err.retry_after()) >= Duration::from_secs(60));
    client
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect("then accepted");
    stub.shutdown().await;
}

#[tokio::test]
async fn an_invalid_batch_is_400_and_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), TOKEN, Some(SECRET));

    let mut bad = batch("b-1", 1..4);
    bad.incidents[2].received_at_gateway = "14/03/2025 07:26".to_string();
    let err = client.post_batch(&bad).await.expect_err("400");
    let PostError::Rejected { status, body } = &err else {
        panic!("expected Rejected, got {err:?}");
    };
    assert_eq!(*status, 400);
    assert!(body.contains("incidents[2].received_at_gateway"), "{body}");
    assert_eq!(error_code(&err), "invalid_batch");

    let mut future = batch("b-2", 1..2);
    future.schema_version = SCHEMA_VERSION + 1;
    let err = client.post_batch(&future).await.expect_err("400");
    assert!(
        matches!(err, PostError::Rejected { status: 400, ref body } if body.contains("schema_version"))
    );

    // An injected 400 is classified the same way.
    stub.fail_next(400, 1);
    let err = client
        .post_batch(&batch("b-3", 1..2))
        .await
        .expect_err("400");
    assert!(
        matches!(err, PostError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(stub.incidents().is_empty());
    stub.shutdown().await;
}

#[tokio::test]
async fn a_dead_platform_is_a_retry_with_the_cause() {
    // A port that was just free: nothing listens there now.
    let listener = std::net::TcpListener::bind(loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = client_for(&format!("http://{addr}"), TOKEN, None);
    let err = client
        .post_batch(&batch("b-1", 1..2))
        .await
        .expect_err("down");
    let PostError::Retry {
        reason,
        retry_after,
    } = &err
    else {
        panic!("expected Retry, got {err:?}");
    };
    assert!(reason.contains(&addr.to_string()), "{reason}");
    assert_eq!(*retry_after, None);
}

#[tokio::test]
async fn a_2xx_with_an_odd_body_still_counts_as_delivered() {
    // Some platform that answers 200 "OK" as plain text.
    let app = axum::Router::new().route("/v1/batches", axum::routing::post(|| async { "OK" }));
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = client_for(&format!("http://{addr}"), TOKEN, None);
    let sent = batch("b-1", 1..4);
    let ack = client.post_batch(&sent).await.expect("2xx is success");
    assert_eq!(ack.batch_id, "b-1");
    assert_eq!(ack.accepted, 3);
    server.abort();
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused() {
    for url in ["http://192.0.2.7:8080/", "http://platform.example.org/api"] {
        let err = PlatformClient::new(&PlatformClientConfig {
            url: url.to_string(),
            token: TOKEN.to_string(),
            hmac_secret: Some(SECRET.to_vec()),
            gateway_id: GATEWAY.to_string(),
            key_id: platform_api::sign::DEFAULT_KEY_ID.to_string(),
            timeout: Duration::from_secs(5),
            low_speed_time: Duration::from_secs(10),
            extra_ca_file: None,
        })
        .expect_err("refused");
        assert!(
            matches!(err, PlatformError::PlainHttpNotLoopback { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("https://"), "{err}");
    }
}

const TEST_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIURZK/TeDmgaJ0CJYdU4cFH3nq+JMwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRS3VmYXRpbGlhIHRlc3QgQ0EwIBcNMjYxMTI3MjE1MzM0WhgP
MjEyNjExMDMyMTUzMzRaMBwxGjAYBgNVBAMMEUt1ZmF0aWxpYSB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFFjhn/7cM2fpUrlJj/5oRxqAnocIUvUY
3/l6P/62T7enWu7L9aX2mdtfLBG3C0r048ywYSFY0TLG/hGTHLvosKNTMFEwHQYD
VR0OBBYEFDCDxiQxNgYBgfn/OMbqVA6dSlmbMB8GA1UdIwQYMBaAFDCDxiQxNgYB
gfn/OMbqVA6dSlmbMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh
AJmsCk9UXekc4E+Z8Icytr/N5OU+SwzX4Xn1nH0L1QvpAiBJoqVG8El64DBDFeKi
IdnqESeJNyIk7TH0P852OxWD6g==
-----END CERTIFICATE-----
";

#[test]
fn an_extra_ca_file_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("platform-ca.pem");
    std::fs::write(&pem, TEST_CA_PEM).unwrap();
    let client = PlatformClient::new(&PlatformClientConfig {
        url: "https://platform.example.org/".to_string(),
        token: TOKEN.to_string(),
        hmac_secret: None,
        gateway_id: GATEWAY.to_string(),
        key_id: platform_api::sign::DEFAULT_KEY_ID.to_string(),
        timeout: Duration::from_secs(5),
        low_speed_time: Duration::from_secs(10),
        extra_ca_file: Some(pem),
    });
    assert!(client.is_ok(), "{:?}", client.err());
}

#[tokio::test]
async fn outbound_messages_go_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), TOKEN, Some(SECRET));
    let sent = batch("b-1", 1..3);
    client.post_batch(&sent).await.expect("batch");

    // A partner queues one message through the admin endpoint and one through the method.
    let by_incident = stub
        .enqueue_outbound(
            Recipient::Incident(sent.incidents[0].id.clone()),
            "Kesi yako inafuatiliwa.",
        )
        .expect("queued");
    let response = crate::common::http_client()
        .post(format!("{}/admin/outbound", stub.url()))
        .header("authorization", sign::bearer(ADMIN_TOKEN))
        .json(&serde_json::json!({
            "to": { "reporter": sent.incidents[1].reporter },
            "text": "Votre cas est suivi."
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let by_reporter: platform_api::OutboundMessage = response.json().await.unwrap();
    // Nobody can be messaged who never reported.
    assert!(
        stub.enqueue_outbound(Recipient::Reporter("r-0000000000000000".into()), "hello")
            .is_err()
    );

    let pulled = client.pull_outbound(GATEWAY, 10).await.expect("pull");
    assert_eq!(pulled, vec![by_incident.clone(), by_reporter.clone()]);
    // Leased: not handed out twice, and never to another gateway.
    assert!(
        client
            .pull_outbound(GATEWAY, 10)
            .await
            .expect("pull")
            .is_empty()
    );
    // A gateway cannot pull in another's name: what it signs (goma-01) must be what it asks for.
    let err = client
        .pull_outbound("bukavu-02", 10)
        .await
        .expect_err("another gateway's name is refused");
    assert!(
        matches!(err, PostError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(error_code(&err), "gateway_mismatch");

    let now = rfc3339(time::OffsetDateTime::now_utc());
    let report = OutboundStatusReport {
        gateway_id: GATEWAY.to_string(),
        statuses: vec![
            OutboundStatus {
                id: by_incident.id.clone(),
                state: OutboundState::Sent,
                at: now.clone(),
                detail: None,
            },
            OutboundStatus {
                id: by_reporter.id.clone(),
                state: OutboundState::Failed,
                at: now.clone(),
                detail: Some("+CMS ERROR: 38".to_string()),
            },
            OutboundStatus {
                id: "o-nonexistent".to_string(),
                state: OutboundState::Sent,
                at: now,
                detail: None,
            },
        ],
    };
    let ack = client.post_outbound_status(&report).await.expect("status");
    assert_eq!(ack.updated, 2);
    assert_eq!(ack.unknown, vec!["o-nonexistent".to_string()]);

    let states: Vec<(String, MessageState, Option<String>)> = stub
        .outbound()
        .into_iter()
        .map(|r| (r.id, r.state, r.detail))
        .collect();
    assert_eq!(
        states,
        vec![
            (by_incident.id, MessageState::Sent, None),
            (
                by_reporter.id,
                MessageState::Failed,
                Some("+CMS ERROR: 38".to_string())
            ),
        ]
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn an_unanswered_pull_is_offered_again_after_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, None).await;
    let client = client_for(&stub.url(), TOKEN, None);
    client.post_batch(&batch("b-1", 1..2)).await.expect("batch");
    let queued = stub
        .enqueue_outbound(Recipient::Incident(incident(1).id), "Asante.")
        .expect("queued");
    stub.set_outbound_lease(Duration::ZERO);
    let first = client.pull_outbound(GATEWAY, 5).await.expect("pull");
    let second = client.pull_outbound(GATEWAY, 5).await.expect("pull again");
    assert_eq!(first, vec![queued.clone()]);
    assert_eq!(second, first, "same id, so the gateway can send it once");
    assert_eq!(stub.outbound()[0].pulls, 2);
    stub.shutdown().await;
}

#[tokio::test]
async fn heartbeats_are_stored_and_answered_with_the_server_clock() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, Some(SECRET)).await;
    let client = client_for(&stub.url(), TOKEN, Some(SECRET));
    let heartbeat = Heartbeat {
        schema_version: SCHEMA_VERSION,
        gateway_id: GATEWAY.to_string(),
        version: "0.1.0".to_string(),
        clock: rfc3339(time::OffsetDateTime::now_utc()),
        uptime_secs: 3600,
        modems: vec![ModemHealth {
            name: "modem0".to_string(),
            state: "ready".to_string(),
            signal_dbm: Some(-79),
            operator: Some("Vodacom CD".to_string()),
            balance: Some("1.25 USD".to_string()),
            last_message_at: Some("2025-03-14T07:26:55Z".to_string()),
            low_balance: true,
            clock_warning: None,
            sending_stopped: None,
        }],
        queues: QueueDepths {
            undelivered_incidents: 12,
            outgoing_sms: 1,
            quarantined_batches: 0,
            unconfirmed_sms: 0,
            escalations_pending: 0,
        },
        oldest_undelivered_age_secs: Some(95),
        quarantined: Vec::new(),
        messages_last_hour: 40,
        intake_alarm: false,
    };
    let ack = client.post_heartbeat(&heartbeat).await.expect("heartbeat");
    assert!(
        time::OffsetDateTime::parse(
            &ack.server_time,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok(),
        "{}",
        ack.server_time
    );
    assert_eq!(stub.heartbeats(), vec![heartbeat.clone()]);

    let mut bad = heartbeat;
    bad.clock = "now".to_string();
    let err = client.post_heartbeat(&bad).await.expect_err("400");
    assert!(
        matches!(err, PostError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    stub.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_unauthenticated_admin_calls_get_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let stub = start_stub(&dir, None).await;
    let http = crate::common::http_client();
    let response = http
        .get(format!("{}/v2/nothing", stub.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(
        response.json::<ErrorBody>().await.unwrap().code.as_str(),
        "not_found"
    );
    let response = http
        .get(format!("{}/admin/outbound", stub.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = http
        .get(format!("{}/health", stub.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    stub.shutdown().await;
}

/// The worked example of docs/platform-api.md, checked here so the document cannot drift.
#[test]
fn signing_known_answer_matches_the_documentation() {
    let body = br#"{"schema_version":1,"gateway_id":"goma-01"}"#;
    let sig = sign::signature(b"example-secret", 1741937215, body);
    assert_eq!(sig, DOC_SIGNATURE);
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/platform-api.md"))
        .expect("docs/platform-api.md");
    assert!(
        doc.contains(DOC_SIGNATURE),
        "the worked example in docs/platform-api.md is out of date"
    );
    assert_eq!(
        sign::verify(
            b"example-secret",
            Some("1741937215"),
            Some(&sig),
            body,
            1741937215,
            sign::DEFAULT_WINDOW
        ),
        Ok(())
    );
}

const DOC_SIGNATURE: &str = "v1=6ab3781722f4287166653bb289cd372332abb1050a38255b2be07f05a4c93e7e";

#[tokio::test]
async fn the_cli_server_serves_until_stopped_and_keeps_what_it_stored() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago (the CLI takes an address, not a listener).
    let addr = std::net::TcpListener::bind(loopback())
        .and_then(|l| l.local_addr())
        .unwrap();
    let cfg = StubConfig::single(dir.path().join("cli.sqlite"), TOKEN, Some(SECRET));
    let url = format!("http://{addr}");
    let client = client_for(&url, TOKEN, Some(SECRET));
    let sent = batch("b-cli", 1..3);
    let mut outcome = None;
    platform_stub::serve_until(addr, cfg, async {
        // The server starts before this future is polled; post through it, then stop it.
        outcome = Some(client.post_batch(&sent).await);
    })
    .await
    .expect("serves");
    let ack = outcome.expect("ran").expect("accepted");
    assert_eq!(ack.accepted, 2);

    let reopened = PlatformStub::start(
        loopback(),
        StubConfig::single(dir.path().join("cli.sqlite"), TOKEN, None),
    )
    .await
    .unwrap();
    assert_eq!(reopened.incidents(), sent.incidents);
    reopened.shutdown().await;
}

/// `platform.batch_max` is bounded by the contract's limit on a batch, not by a number of its own.
#[test]
fn the_config_bounds_batch_max_at_the_contracts_limit() {
    assert_eq!(config::MAX_BATCH, platform_api::MAX_BATCH_INCIDENTS);
}
