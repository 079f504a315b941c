//! The gateway's side of the platform contract: the HTTP client the forwarder, the heartbeat and
//! the outbound puller share, and its retry backoff. The wire types and signing are in
//! `platform-api`, shared with the reference receiver.

mod backoff;
mod client;

pub use backoff::Backoff;
pub(crate) use client::Diagnosis;
pub use client::{
    PlatformClient, PlatformClientConfig, PlatformError, PostError, install_tls_provider,
};
