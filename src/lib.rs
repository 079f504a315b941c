//! Kufatilia Gateway: receives incident reports by SMS from a GSM modem, keeps them in SQLite,
//! acknowledges the reporter and forwards signed batches to the follow-up platform.
//!
//! `docs/ARCHITECTURE.md` is the map of these modules and of the invariants between them.

pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod dialogue;
pub mod doctor;
pub mod forward;
pub mod heartbeat;
pub mod logging;
pub mod modem;
pub mod ops;
pub mod outbound;
pub mod pipeline;
pub mod platform;
pub mod reply;
