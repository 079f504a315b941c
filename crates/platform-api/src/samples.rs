//! A well-formed incident and batch, for the tests of this crate and of the receiver.

use std::collections::BTreeMap;

use crate::api::{Batch, DecodeStatus, IncidentRecord, SCHEMA_VERSION};

/// A valid incident with this id.
pub fn sample_incident(id: &str) -> IncidentRecord {
    IncidentRecord {
        id: id.to_string(),
        reference: "K7-4821".to_string(),
        incident_type: "accident".to_string(),
        language: Some("sw".to_string()),
        description: "shimo limeanguka watu watatu".to_string(),
        location: Some("Rubaya".to_string()),
        survey_answers: BTreeMap::new(),
        reporter: "r-3f9a0c1d2e4b5a69".to_string(),
        received_at_smsc: Some("2025-03-14T09:26:51+02:00".to_string()),
        received_at_gateway: "2025-03-14T07:26:55Z".to_string(),
        modem: "modem0".to_string(),
        operator: Some("Vodacom CD".to_string()),
        raw_text: "AJALI shimo limeanguka watu watatu".to_string(),
        parts: 1,
        decode_status: DecodeStatus::Ok,
        raw_pdus: vec!["0791".to_string()],
        flood: false,
        escalations: Vec::new(),
    }
}

/// A valid batch holding these incidents.
pub fn sample_batch(incidents: Vec<IncidentRecord>) -> Batch {
    Batch {
        schema_version: SCHEMA_VERSION,
        gateway_id: "goma-01".to_string(),
        batch_id: "goma-01-b-000001".to_string(),
        created_at: "2025-03-14T07:27:00Z".to_string(),
        incidents,
    }
}
