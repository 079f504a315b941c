//! The contract's documents against the wire: every request a real gateway run sends, recorded
//! by a proxy on 127.0.0.1, is checked against docs/openapi.yaml (path, headers, body schema,
//! id formats, heartbeat states); the signature test vectors of docs/platform-api.md are
//! checked against the code; and the document's Python receiver is run against a real gateway.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform_api::Recipient;
use platform_api::sign;
use platform_stub::MessageState;
use serde_json::{Value, json};

use crate::common::daemon::{Gateway, Options, Rig, SECRET, TOKEN};
use crate::common::wire::recording_proxy;

const BOUND: Duration = Duration::from_secs(120);

fn doc_text(name: &str) -> String {
    std::fs::read_to_string(format!("{}/docs/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("docs/{name}: {e}"))
}

fn openapi() -> Value {
    serde_norway::from_str(&doc_text("openapi.yaml")).expect("docs/openapi.yaml is YAML")
}

/// Follows local `$ref`s.
fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(r) = node.get("$ref").and_then(Value::as_str) {
        node = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {r}"));
    }
    node
}

/// What `value` breaks in `schema` (whose `#/components/...` references resolve in `doc`).
fn violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let wrapper = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&wrapper)
        .expect("the schema compiles");
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The first fenced block of `lang` after the heading line `heading` in `text`.
fn fenced_after(text: &str, heading: &str, lang: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let rest = &text[start..];
    let open = format!("```{lang}\n");
    let from = rest.find(&open).expect("a fenced block") + open.len();
    let len = rest[from..].find("\n```").expect("a closed block");
    rest[from..from + len + 1].to_string()
}

/// A real gateway (the daemon, the simulated modem, the reference receiver) sends reports,
/// heartbeats, an outbound pull and status; each request as it crossed the wire must be what
/// docs/openapi.yaml describes: a documented path, every documented header with a value of the
/// documented form, and a body valid against the schema, ids and modem states included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_a_real_run_matches_the_openapi_document() {
    let rig = Rig::start(Options {
        platform: "flush_after = \"200ms\"\nbatch_max = 3\nretry_max = \"300ms\"\n\
                   heartbeat_interval = \"300ms\"\noutbound_poll_interval = \"200ms\""
            .into(),
        ..Options::slots(20)
    })
    .await;
    let (proxy, wire) = recording_proxy(rig.addr).await;
    rig.send_platform_requests_to(&proxy);
    let r = Gateway::on(rig).await;
    for i in 0..4 {
        r.sim.inject(
            &format!("+24381555{i:04}"),
            &format!("AJALI mgodi namba {i}"),
        );
    }
    crate::common::wait_until(BOUND, "4 reports on the platform", || {
        r.stub().incidents().len() >= 4
    })
    .await;
    let incident = r.stub().incidents()[0].clone();
    let message = r
        .stub()
        .enqueue_outbound(Recipient::Incident(incident.id), "Kesi yako inafuatiliwa")
        .unwrap();
    crate::common::wait_until(BOUND, "the platform's message sent and reported", || {
        r.stub()
            .outbound()
            .iter()
            .any(|o| o.id == message.id && o.state == MessageState::Sent)
    })
    .await;
    crate::common::wait_until(BOUND, "two heartbeats", || r.stub().heartbeats().len() >= 2).await;
    r.stop().await;

    let doc = openapi();
    let requests = wire.http_requests();
    let mut seen = std::collections::BTreeSet::new();
    for q in &requests {
        let op = doc["paths"]
            .get(&q.path)
            .and_then(|item| item.get(q.method.to_ascii_lowercase()))
            .unwrap_or_else(|| panic!("{} {} is not in docs/openapi.yaml", q.method, q.path));
        seen.insert(q.path.clone());
        assert!(
            q.header("authorization")
                .is_some_and(|a| a.starts_with("Bearer ")),
            "{}: no bearer token",
            q.path
        );
        let params = op["parameters"].as_array().expect("documented headers");
        for p in params.iter().map(|p| resolve(&doc, p)) {
            assert_eq!(p["in"], "header");
            let name = p["name"].as_str().unwrap();
            let value = q
                .header(name)
                .unwrap_or_else(|| panic!("{}: the documented header {name} is not sent", q.path));
            let problems = violations(&doc, &p["schema"], &Value::String(value.to_string()));
            assert!(
                problems.is_empty(),
                "{} {name}: {value:?}: {problems:?}",
                q.path
            );
        }
        // Every X-Kufatilia header sent is documented.
        for (name, _) in q
            .headers
            .iter()
            .filter(|(n, _)| n.starts_with("x-kufatilia"))
        {
            assert!(
                params.iter().any(|p| resolve(&doc, p)["name"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(name)),
                "{}: header {name} is sent but not documented",
                q.path
            );
        }
        let schema = &resolve(&doc, &op["requestBody"])["content"]["application/json"]["schema"];
        let body: Value = serde_json::from_slice(&q.body).expect("a JSON body");
        let problems = violations(&doc, schema, &body);
        assert!(problems.is_empty(), "{}: {problems:?}\n{body:#}", q.path);
    }
    let all: Vec<String> = [
        "/v1/batches",
        "/v1/heartbeat",
        "/v1/outbound/pull",
        "/v1/outbound/status",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), {
        let mut sorted = all;
        sorted.sort();
        sorted
    });
}

/// The id formats and states the schema holds are the ones the code writes: the schema would
/// refuse an old-format batch id and an undocumented modem state.
#[test]
fn the_openapi_id_and_state_rules_bite() {
    let doc = openapi();
    let batch = json!({"$ref": "#/components/schemas/Batch"});
    let mut sample = doc["paths"]["/v1/batches"]["post"]["requestBody"]["content"]
        ["application/json"]["examples"]["two-reports"]["value"]
        .clone();
    assert!(violations(&doc, &batch, &sample).is_empty());
    sample["batch_id"] = json!("goma-01-b-42");
    assert!(!violations(&doc, &batch, &sample).is_empty());
    let modem = json!({"$ref": "#/components/schemas/ModemHealth"});
    assert!(violations(&doc, &modem, &json!({"name": "m", "state": "recovering"})).is_empty());
    assert!(!violations(&doc, &modem, &json!({"name": "m", "state": "gone"})).is_empty());
}

/// docs/platform-api.md's v2 test vectors and worked example, checked against the code.
#[test]
fn the_documented_v2_vectors_are_what_the_code_signs() {
    let doc = doc_text("platform-api.md");
    let vectors: Vec<Value> =
        serde_json::from_str(&fenced_after(&doc, "### Test vectors", "json")).expect("JSON");
    assert!(vectors.len() >= 5);
    for v in &vectors {
        let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"));
        let parts = sign::SignedParts {
            method: s("method"),
            path: s("path"),
            gateway_id: s("gateway_id"),
            key_id: s("key_id"),
            nonce: s("nonce"),
            timestamp: s("timestamp"),
            body: s("body").as_bytes(),
        };
        let canonical = sign::canonical_v2(&parts);
        assert!(canonical.ends_with(s("body_sha256")), "{v}");
        assert_eq!(
            sign::signature_v2(s("secret").as_bytes(), &parts),
            s("signature")
        );
        let received = sign::ReceivedV2 {
            method: parts.method,
            path: parts.path,
            gateway_id: Some(parts.gateway_id),
            key_id: Some(parts.key_id),
            nonce: Some(parts.nonce),
            timestamp: Some(parts.timestamp),
            signature: Some(s("signature")),
            body: parts.body,
        };
        let now: i64 = parts.timestamp.parse().unwrap();
        let secret = s("secret").as_bytes();
        assert!(
            sign::verify_v2(&received, |_, _| Some(secret), now, sign::DEFAULT_WINDOW).is_ok(),
            "{v}"
        );
    }
    // The worked example: its canonical string is printed in the document as the code builds it.
    let first = &vectors[0];
    let s = |k: &str| first[k].as_str().unwrap();
    let canonical = sign::canonical_v2(&sign::SignedParts {
        method: s("method"),
        path: s("path"),
        gateway_id: s("gateway_id"),
        key_id: s("key_id"),
        nonce: s("nonce"),
        timestamp: s("timestamp"),
        body: s("body").as_bytes(),
    });
    assert!(
        doc.contains(&format!("```\n{canonical}\n```")),
        "worked example"
    );
    assert!(doc.contains(&format!("X-Kufatilia-Signature: {}", s("signature"))));
}

/// The receiver printed in docs/platform-api.md, run with python3: lines it prints.
struct PythonReceiver {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    port: u16,
}

impl Drop for PythonReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_python_receiver(dir: &std::path::Path, gateway: &str) -> PythonReceiver {
    let code = fenced_after(
        &doc_text("platform-api.md"),
        "### A receiver in Python",
        "python",
    );
    let script = dir.join("receiver.py");
    std::fs::write(&script, code).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg("0")
        .arg(gateway)
        .arg(dir.join("token"))
        .arg(format!("k1={}", dir.join("secret").display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs (the documented receiver needs Python 3)");
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix("listening ") {
                let _ = port_tx.send(port.trim().parse::<u16>().ok());
            }
            sink.lock().unwrap().push(line);
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(30))
        .ok()
        .flatten()
        .expect("the Python receiver says where it listens");
    PythonReceiver { child, lines, port }
}

/// A platform implementer following the document gets a receiver that takes a real gateway's
/// reports and heartbeats, and refuses a replayed or re-targeted request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_python_receiver_takes_a_real_gateway() {
    let rig = Rig::start(Options {
        platform: "flush_after = \"200ms\"\nbatch_max = 2\nretry_max = \"300ms\"\n\
                   heartbeat_interval = \"300ms\"\noutbound_poll_interval = \"300ms\""
            .into(),
        extra: "[replies]\nenabled = false".into(),
        ..Options::slots(20)
    })
    .await;
    let gateway_id = rig.config().gateway_id;
    let receiver = start_python_receiver(rig.dir.path(), &gateway_id);
    let url = format!("http://127.0.0.1:{}", receiver.port);
    rig.send_platform_requests_to(&url);
    let r = Gateway::on(rig).await;
    for i in 0..5 {
        r.sim.inject(
            &format!("+24381666{i:04}"),
            &format!("AJALI mgodi namba {i}"),
        );
    }
    crate::common::wait_until(BOUND, "5 reports in the Python receiver", || {
        receiver
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l == "incidents 5")
    })
    .await;
    crate::common::wait_until(BOUND, "every report marked delivered", || {
        r.depths().undelivered_incidents == 0
    })
    .await;
    r.stop().await;

    // The same signed request twice, then to another endpoint.
    let body = serde_json::to_vec(&platform_api::OutboundPullRequest {
        gateway_id: gateway_id.clone(),
        limit: 5,
    })
    .unwrap();
    let nonce = sign::new_nonce();
    let ts = sign::unix_now().to_string();
    let parts = sign::SignedParts {
        method: "POST",
        path: "/v1/outbound/pull",
        gateway_id: &gateway_id,
        key_id: sign::DEFAULT_KEY_ID,
        nonce: &nonce,
        timestamp: &ts,
        body: &body,
    };
    let headers = sign::v2_headers(SECRET.as_bytes(), &parts);
    let send = |path: &str| {
        let mut q = crate::common::http_client()
            .post(format!("{url}{path}"))
            .header("authorization", sign::bearer(TOKEN));
        for (name, value) in &headers {
            q = q.header(*name, value);
        }
        let body = body.clone();
        async move {
            let response = q.body(body).send().await.unwrap();
            let status = response.status().as_u16();
            let code = response
                .json::<Value>()
                .await
                .ok()
                .map(|v| v["code"].clone());
            (status, code.and_then(|c| c.as_str().map(String::from)))
        }
    };
    assert_eq!(send("/v1/outbound/pull").await.0, 200);
    assert_eq!(
        send("/v1/outbound/pull").await,
        (401, Some("replayed_nonce".into()))
    );
    assert_eq!(
        send("/v1/outbound/status").await,
        (401, Some("bad_signature".into()))
    );
}
