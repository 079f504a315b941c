//! The store's integration tests on a real SQLite file.
// Tests may unwrap and panic: a panic here is a failed test, not a crashed daemon.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod escalations;
mod sending;
mod stages;
