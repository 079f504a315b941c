//! Keeps docs/openapi.yaml honest: it parses as OpenAPI 3.1, every example validates against its
//! schema (JSON Schema 2020-12, formats checked), every example deserialises into the gateway's
//! Rust type and serialises back to the same JSON, and the schemas list exactly the Rust fields.

use std::collections::{BTreeMap, BTreeSet};

use platform_api::{
    self as api, Batch, BatchAck, ErrorBody, Heartbeat, HeartbeatAck, OutboundPull,
    OutboundPullRequest, OutboundStatusAck, OutboundStatusReport, Recipient,
};
use serde_json::{Value, json};

fn openapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("docs/openapi.yaml is readable");
    serde_norway::from_str(&text).expect("docs/openapi.yaml is valid YAML")
}

/// Follows a local `$ref` ("#/a/b") inside the document.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are used: {reference}"));
        node = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"));
    }
    node
}

/// The component name a schema refers to directly, e.g. "Batch".
fn schema_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

struct Example {
    location: String,
    schema: Value,
    value: Value,
}

/// Every example in the document with the schema it illustrates.
fn examples(doc: &Value) -> Vec<Example> {
    let mut out = Vec::new();
    let mut media = Vec::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let here = format!("{method} {path}");
            if let Some(body) = op.get("requestBody") {
                media.push((format!("{here} request"), resolve(doc, body).clone()));
            }
            for (status, response) in op["responses"].as_object().expect("responses") {
                media.push((format!("{here} {status}"), resolve(doc, response).clone()));
            }
        }
    }
    for (location, holder) in media {
        let Some(content) = holder.get("content").and_then(Value::as_object) else {
            continue;
        };
        for (media_type, mt) in content {
            assert_eq!(media_type, "application/json", "{location}");
            let schema = mt["schema"].clone();
            if let Some(v) = mt.get("example") {
                out.push(Example {
                    location: location.clone(),
                    schema: schema.clone(),
                    value: v.clone(),
                });
            }
            if let Some(named) = mt.get("examples").and_then(Value::as_object) {
                for (name, ex) in named {
                    let ex = resolve(doc, ex);
                    out.push(Example {
                        location: format!("{location} example {name}"),
                        schema: schema.clone(),
                        value: ex["value"].clone(),
                    });
                }
            }
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        if let Some(list) = schema.get("examples").and_then(Value::as_array) {
            for (i, v) in list.iter().enumerate() {
                out.push(Example {
                    location: format!("components.schemas.{name}.examples[{i}]"),
                    schema: json!({ "$ref": format!("#/components/schemas/{name}") }),
                    value: v.clone(),
                });
            }
        }
    }
    out
}

/// A validator for `schema`, whose `#/components/...` references resolve inside the document.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let wrapper = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    jsonschema::options()
        .should_validate_formats(true)
        .build(&wrapper)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

fn errors(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    validator(doc, schema)
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Deserialises into the Rust type of `name` and serialises back.
fn through_rust(name: &str, value: &Value) -> Result<Value, String> {
    fn trip<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Result<Value, String> {
        let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        serde_json::to_value(typed).map_err(|e| e.to_string())
    }
    match name {
        "Batch" => trip::<Batch>(value),
        "BatchAck" => trip::<BatchAck>(value),
        "Heartbeat" => trip::<Heartbeat>(value),
        "HeartbeatAck" => trip::<HeartbeatAck>(value),
        "OutboundPullRequest" => trip::<OutboundPullRequest>(value),
        "OutboundPull" => trip::<OutboundPull>(value),
        "OutboundStatusReport" => trip::<OutboundStatusReport>(value),
        "OutboundStatusAck" => trip::<OutboundStatusAck>(value),
        "ErrorBody" => trip::<ErrorBody>(value),
        "Recipient" => trip::<Recipient>(value),
        other => Err(format!("no Rust type is mapped to schema {other}")),
    }
}

/// Where a schema lists `properties` and the value is an object, both must have the same keys.
fn check_keys(doc: &Value, schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        let declared: BTreeSet<&String> = props.keys().collect();
        let present: BTreeSet<&String> = obj.keys().collect();
        if declared != present {
            problems.push(format!(
                "{path}: schema properties {declared:?} but the Rust type has {present:?}"
            ));
        }
        for (key, sub) in props {
            if let Some(v) = obj.get(key) {
                check_keys(doc, sub, v, &format!("{path}.{key}"), problems);
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            check_keys(doc, items, v, &format!("{path}[{i}]"), problems);
        }
    }
}

#[test]
fn the_document_is_openapi_3_1_and_its_paths_match_the_code() {
    let doc = openapi();
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "{version}");
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let code: BTreeSet<String> = [
        api::BATCHES_PATH,
        api::HEARTBEAT_PATH,
        api::OUTBOUND_PULL_PATH,
        api::OUTBOUND_STATUS_PATH,
    ]
    .iter()
    .map(|p| format!("/{p}"))
    .collect();
    assert_eq!(paths, code.iter().map(String::as_str).collect());
    let limit = &doc["components"]["schemas"]["Batch"]["properties"]["incidents"]["maxItems"];
    assert_eq!(limit.as_u64(), Some(api::MAX_BATCH_INCIDENTS as u64));
}

#[test]
fn every_example_validates_against_its_schema() {
    let doc = openapi();
    let all = examples(&doc);
    assert!(
        all.len() >= 15,
        "expected the examples to be found, got {}",
        all.len()
    );
    let mut problems = Vec::new();
    for ex in &all {
        for e in errors(&doc, &ex.schema, &ex.value) {
            problems.push(format!("{}: {e}", ex.location));
        }
    }
    assert!(
        problems.is_empty(),
        "invalid examples:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_example_is_exactly_what_the_rust_types_write() {
    let doc = openapi();
    let mut covered = BTreeMap::new();
    let mut problems = Vec::new();
    for ex in examples(&doc) {
        let Some(name) = schema_name(&ex.schema) else {
            problems.push(format!(
                "{}: schema is not a component reference",
                ex.location
            ));
            continue;
        };
        *covered.entry(name.to_string()).or_insert(0) += 1;
        match through_rust(name, &ex.value) {
            Ok(back) if back == ex.value => {
                check_keys(&doc, &ex.schema, &back, &ex.location, &mut problems)
            }
            Ok(back) => problems.push(format!(
                "{}: the Rust type writes\n{}\nbut the example is\n{}",
                ex.location,
                serde_json::to_string_pretty(&back).unwrap_or_default(),
                serde_json::to_string_pretty(&ex.value).unwrap_or_default()
            )),
            Err(e) => problems.push(format!(
                "{}: does not deserialise as {name}: {e}",
                ex.location
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for name in [
        "Batch",
        "BatchAck",
        "Heartbeat",
        "HeartbeatAck",
        "OutboundPullRequest",
        "OutboundPull",
        "OutboundStatusReport",
        "OutboundStatusAck",
        "ErrorBody",
        "Recipient",
    ] {
        assert!(covered.contains_key(name), "no example for {name}");
    }
}

#[test]
fn the_validator_does_catch_broken_examples() {
    // Guards against a test that cannot fail: each of these breaks the Batch example.
    let doc = openapi();
    let good = doc["paths"]["/v1/batches"]["post"]["requestBody"]["content"]["application/json"]
        ["examples"]["two-reports"]["value"]
        .clone();
    let schema = json!({ "$ref": "#/components/schemas/Batch" });
    assert!(errors(&doc, &schema, &good).is_empty());

    // (what, JSON pointer, new value; None removes the field)
    let breakages = [
        ("missing reporter", "/incidents/0/reporter", None),
        (
            "bad time",
            "/incidents/0/received_at_gateway",
            Some(json!("14/03/2025")),
        ),
        (
            "bad status",
            "/incidents/0/decode_status",
            Some(json!("garbled")),
        ),
        ("odd hex", "/incidents/0/raw_pdus/0", Some(json!("079"))),
        ("space in id", "/incidents/0/id", Some(json!("goma 01"))),
        ("no incidents", "/incidents", Some(json!([]))),
        ("schema 2", "/schema_version", Some(json!(2))),
    ];
    for (what, pointer, replacement) in breakages {
        let mut bad = good.clone();
        match replacement {
            Some(v) => *bad.pointer_mut(pointer).expect(pointer) = v,
            None => {
                let (parent, key) = pointer.rsplit_once('/').expect(pointer);
                bad.pointer_mut(parent)
                    .and_then(Value::as_object_mut)
                    .and_then(|o| o.remove(key))
                    .expect(pointer);
            }
        }
        assert!(
            !errors(&doc, &schema, &bad).is_empty(),
            "{what} was not caught"
        );
        // The receiver's own checks refuse the same documents.
        let body = serde_json::to_vec(&bad).expect("json");
        assert!(
            api::parse_batch(&body).is_err(),
            "{what} passes parse_batch"
        );
    }
}
