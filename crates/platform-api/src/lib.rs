//! The platform contract, shared by the gateway's client and the reference receiver: the JSON
//! documents a gateway sends to the follow-up platform and the checks a receiver applies
//! (re-exported here from `api`), how requests are signed and reporters pseudonymised
//! ([`sign`]).
//!
//! `docs/platform-api.md` is the human description; `docs/openapi.yaml` the machine one.

mod api;
#[cfg(any(test, feature = "samples"))]
mod samples;
// A namespace, not flattened: its functions read as `sign::verify`, `sign::bearer`.
pub mod sign;

pub use api::{
    BATCHES_PATH, Batch, BatchAck, ContractViolation, DecodeStatus, ErrorBody, ErrorCode,
    Escalation, EscalationState, HEARTBEAT_PATH, Heartbeat, HeartbeatAck, IncidentRecord,
    MAX_BATCH_INCIDENTS, MAX_BODY_BYTES, ModemHealth, OUTBOUND_PULL_PATH, OUTBOUND_STATUS_PATH,
    OutboundMessage, OutboundPull, OutboundPullRequest, OutboundState, OutboundStatus,
    OutboundStatusAck, OutboundStatusReport, QuarantinedBatch, QueueDepths, Recipient,
    SCHEMA_VERSION, UNKNOWN_REPORTER, UnknownWord, parse_batch, parse_heartbeat, rfc3339,
};
#[cfg(any(test, feature = "samples"))]
pub use samples::{sample_batch, sample_incident};
