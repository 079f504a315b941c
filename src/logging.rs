//! Log set-up: readable lines on a terminal; under systemd, the journal (with syslog priorities
//! and no timestamps of our own, since the journal adds them), falling back to plain stdout.

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`): a level
/// (`debug`), or levels per module (`info,kufatilia_gateway::modem=trace`). Read with
/// tracing-subscriber's `Targets`, not its `EnvFilter`: the same syntax but for span and field
/// filters, and no regex engine in the binary (docs/benchmarks.md, "Binary size").
pub fn init(verbose: bool) {
    let default = if verbose {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(default));
    // systemd sets JOURNAL_STREAM when stdout/stderr are connected to the journal.
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    if under_journald {
        match tracing_journald::layer() {
            Ok(journald) => {
                let _ = tracing_subscriber::registry()
                    .with(filter)
                    .with(journald.with_syslog_identifier("kufatilia-gateway".into()))
                    .try_init();
                return;
            }
            Err(e) => eprintln!("journald is not reachable ({e}); logging to stdout"),
        }
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .without_time()
                    .with_ansi(false)
                    .with_target(false),
            )
            .try_init();
        return;
    }
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false),
        )
        .try_init();
}
