//! The PDU codec's integration tests, one binary: published vectors and property tests.
// Tests may unwrap and panic: a panic here is a failed test, not a crashed daemon.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod props;
mod vectors;
