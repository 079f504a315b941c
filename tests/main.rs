//! The daemon's integration tests: one binary with a module per area, because linking a test
//! binary is most of a test run's time. The modem is simulated on a real pseudo-terminal, the
//! platform runs on 127.0.0.1, the store is a real SQLite file.
// Tests may unwrap and panic: a panic here is a failed test, not a crashed daemon.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

mod architecture;
mod at_client_pty;
mod cli;
mod dialogue_conversations;
mod docs_commands;
mod doctor_cli;
mod end_to_end;
mod escalation;
mod fault_crash;
mod fault_disk;
mod fault_suite;
mod install_config;
mod intake_matching;
mod modem_daemon_fallback;
mod modem_faults;
mod modem_link;
mod ops_cli;
mod packaging;
mod pdu_cli;
mod pdu_modem_send;
mod platform_contract;
mod platform_e2e;
mod platform_v2;
mod platform_wire;
mod privacy_cli;
mod privacy_key;
mod privacy_retention;
mod privacy_scan;
mod real_modems;
mod sim_pty;
mod store_reassembly;
mod store_reports;
mod systemd;
