//! The platform contract, shared by the gateway's client and the reference receiver: the JSON
//! documents a gateway sends to the follow-up platform and the checks a receiver applies
//! ([`api`]), how requests are signed and reporters pseudonymised ([`sign`]).
//!
//! `docs/platform-api.md` is the human description; `docs/openapi.yaml` the machine one.

pub mod api;
#[cfg(any(test, feature = "samples"))]
pub mod samples;
pub mod sign;

pub use api::{
    Batch, BatchAck, DecodeStatus, Heartbeat, IncidentRecord, OutboundMessage, Recipient,
    SCHEMA_VERSION,
};
