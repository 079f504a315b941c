//! Kufatilia Gateway: receives incident reports by SMS from a GSM modem, keeps them in SQLite,
//! acknowledges the reporter and forwards signed batches to the follow-up platform.
//!
//! `docs/ARCHITECTURE.md` is the map of these modules and of the invariants between them.
//!
//! The commands `main.rs` runs are public modules, each named for its command. The stages and the
//! modem links are private: what the integration tests and the benchmarks drive of them is
//! re-exported here, and nothing else leaves the crate.

pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod logging;
pub mod ops;

mod dialogue;
mod escalate;
mod forward;
mod heartbeat;
mod modem;
mod outbound;
mod pipeline;
mod platform;
mod reply;
mod running;

pub use dialogue::{TemplateCost, check_templates};
pub use forward::{Forwarder, ReporterId};
pub use modem::port;
pub use modem::{
    BalanceRequest, LinkState, ModemLink, ModemOptions, ModemStatus, Quirks, StatusHandle,
};
pub use pipeline::{Pipeline, decode_part};
pub use platform::{
    Backoff, PlatformClient, PlatformClientConfig, PlatformError, PostError, install_tls_provider,
};
