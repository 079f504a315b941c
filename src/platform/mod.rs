//! The platform contract: the JSON documents a gateway sends to the follow-up platform, how
//! requests are signed, the HTTP client the forwarder uses, and the reference receiver
//! (`platform-stub`) that implements the platform side for the demo, the tests and platform teams.
//!
//! `docs/platform-api.md` is the human description; `docs/openapi.yaml` the machine one.

pub mod api;
pub mod backoff;
pub mod client;
pub mod sign;
pub mod stub;

pub use api::{
    Batch, BatchAck, DecodeStatus, Heartbeat, IncidentRecord, OutboundMessage, Recipient,
    SCHEMA_VERSION,
};
pub use backoff::Backoff;
pub use client::{PlatformClient, PlatformClientConfig, PlatformError, PostError};
pub use stub::{PlatformStub, StubConfig, run_cli, serve_until};
